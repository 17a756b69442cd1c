// Loading the edgewise wasm module: the single-threaded build, or the multi-threaded one with
// its worker threads, chosen by `env.numThreads` when `init()` first runs. index.js holds the
// API; this file the module in use (`raw`) and the state of loading it.

// The wasm-bindgen glue of the module in use: the single-threaded build (`wasm/`) or, where
// shared memory works and more than one thread is asked for, the multi-threaded one
// (`wasm-mt/`). Both export the same functions; `init()` loads one of them.
export let raw;

/** True where the module was loaded from the file system (Node, Deno): read the wasm with fs. */
function fromFileSystem(url) {
  return url.protocol === 'file:';
}

/** The bytes of a file (Node, Deno), or an Error naming `what` and the path. */
export async function readFile(pathOrUrl, what) {
  // A computed specifier keeps bundlers from trying to pack a Node built-in into a page.
  const fsName = 'node:fs/promises';
  const fs = await import(/* @vite-ignore */ /* webpackIgnore: true */ fsName);
  try {
    return new Uint8Array(await fs.readFile(pathOrUrl));
  } catch (e) {
    throw new Error(`could not read ${what} '${pathOrUrl}': ${e.message}`, { cause: e });
  }
}

let ready;
/** True once `init()` has loaded a module. */
export let initialized = false;
/** The thread count of the loaded module (1 for the single-threaded build). */
export let loadedThreads = 1;
/** `env.numThreads` as set by the user (0: one thread for now). */
export let requestedThreads = 0;

/**
 * Sets `env.numThreads`: an integer from 0 to 64, fixed once a module is loaded (setting the
 * loaded count again is accepted).
 */
export function requestThreads(n) {
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError(`env.numThreads must be an integer from 0 to 64, got ${n}`);
  if (ready && Math.max(n, 1) !== loadedThreads) {
    throw new Error(`env.numThreads: the module is already loaded with ${loadedThreads} thread(s); set it before the first init() or InferenceSession.create`);
  }
  requestedThreads = n;
}

/**
 * Where the multi-threaded module can run: shared memory exists, the page (if any) is
 * cross-origin isolated, and this thread may block in `Atomics.wait`, which a browser's main
 * thread may not (pages use threads from a worker, as onnxruntime-web's proxy does).
 */
function threadsUsable() {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  if (typeof globalThis.crossOriginIsolated === 'boolean' && !globalThis.crossOriginIsolated) return false;
  const browserMainThread = typeof window !== 'undefined' && typeof document !== 'undefined' && typeof Deno === 'undefined';
  return !browserMainThread;
}

/**
 * The thread count `init()` loads: `env.numThreads` where threads can run, else 1 (with a
 * warning saying why). 0 means one thread for now: on two threads the multi-threaded build
 * is slower than the single-threaded one on small models (bench/RESULTS.md).
 */
function threadsToLoad() {
  if (requestedThreads <= 1) return 1;
  if (!threadsUsable()) {
    console.warn(
      `edgewise: env.numThreads = ${requestedThreads} needs shared memory and a thread that may block ` +
        '(Node, Deno, or a web worker of a cross-origin isolated page); running on one thread',
    );
    return 1;
  }
  return requestedThreads;
}

/** Fetches (or reads, from a file system) the module next to this file. */
async function loadModule(glue, dir, moduleOrPath) {
  if (moduleOrPath !== undefined) return glue.default({ module_or_path: moduleOrPath });
  const url = new URL(`./${dir}/edgewise_bg.wasm`, import.meta.url);
  if (fromFileSystem(url)) return glue.default({ module_or_path: await readFile(url, `the edgewise wasm module (${dir})`) });
  return glue.default({ module_or_path: url });
}

/**
 * Starts `threads - 1` workers on the multi-threaded module's memory, waits until each one
 * waits for a pool thread, then builds the pool (which returns once every worker runs its
 * thread). The calling thread is the pool's first thread.
 */
async function startWorkers(glue, threads) {
  const message = { module: glue.threadModule(), memory: glue.threadMemory() };
  const url = new URL('./thread.js', import.meta.url);
  const isNode = typeof process !== 'undefined' && process.versions?.node && typeof Deno === 'undefined';
  const started = [];
  const wtName = 'node:worker_threads';
  const NodeWorker = isNode ? (await import(/* @vite-ignore */ /* webpackIgnore: true */ wtName)).Worker : undefined;
  for (let i = 1; i < threads; i++) {
    if (isNode) {
      const worker = new NodeWorker(url);
      worker.unref();
      started.push(
        new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
      );
      worker.postMessage(message);
    } else {
      const worker = new Worker(url, { type: 'module', name: `edgewise-${i}` });
      started.push(
        new Promise((resolve, reject) => {
          worker.addEventListener('message', resolve, { once: true });
          worker.addEventListener('error', (e) => reject(new Error(`edgewise thread ${i}: ${e.message ?? e}`)), { once: true });
        }),
      );
      worker.postMessage(message);
    }
  }
  await Promise.all(started);
  glue.startThreadPool(threads);
}

/**
 * Loads the wasm module once. Called by `InferenceSession.create`; call it yourself to start
 * the download early, or pass the module (bytes, `Response`, `WebAssembly.Module` or URL) when
 * the default location does not work for your bundler. `env.numThreads` is read here: more
 * than one thread loads the multi-threaded build (a module passed in must then be that build's
 * `wasm-mt/edgewise_bg.wasm`).
 */
export function init(moduleOrPath) {
  if (!ready) {
    ready = (async () => {
      const threads = threadsToLoad();
      if (threads > 1) {
        const glue = await import('./wasm-mt/edgewise.js');
        await loadModule(glue, 'wasm-mt', moduleOrPath);
        await startWorkers(glue, threads);
        raw = glue;
      } else {
        const glue = await import('./wasm/edgewise.js');
        await loadModule(glue, 'wasm', moduleOrPath);
        raw = glue;
      }
      loadedThreads = threads;
    })();
    ready.then(
      () => {
        initialized = true;
      },
      () => {
        ready = undefined;
      },
    );
  }
  return ready;
}

/** Throws naming `fn` when the wasm module is not loaded yet (the task helpers are synchronous). */
export function needWasm(fn) {
  if (!initialized) {
    throw new Error(`${fn}: the edgewise wasm module is not loaded yet; await init() (or InferenceSession.create) first`);
  }
}
