// The `edgewise` npm package: an onnxruntime-web shaped API over the edgewise wasm module.
//
//   import { InferenceSession, Tensor } from 'edgewise';
//   const session = await InferenceSession.create(modelBytesOrUrl);
//   const { y } = await session.run({ x: new Tensor('float32', data, [1, 4]) });
//
// Works unchanged in pages (bundled or not), module workers, Node >= 20 and Deno.

import initWasm, { WasmSession, version as wasmVersion, memoryBytes } from './wasm/edgewise.js';

const TYPED_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

function typeOfArray(data) {
  for (const [type, ctor] of Object.entries(TYPED_ARRAYS)) {
    if (data instanceof ctor) return type;
  }
  if (data instanceof Uint8ClampedArray) return 'uint8';
  return undefined;
}

/** True where the module was loaded from the file system (Node, Deno): read the wasm with fs. */
function fromFileSystem(url) {
  return url.protocol === 'file:';
}

async function readFile(pathOrUrl, what) {
  // A computed specifier keeps bundlers from trying to pack a Node built-in into a page.
  const fsName = 'node:fs/promises';
  const fs = await import(/* @vite-ignore */ /* webpackIgnore: true */ fsName);
  try {
    return new Uint8Array(await fs.readFile(pathOrUrl));
  } catch (e) {
    throw new Error(`could not read ${what} '${pathOrUrl}': ${e.message}`, { cause: e });
  }
}

/** The package version, written in by the build. */
const VERSION = '__EDGEWISE_VERSION__';

let ready;
let initialized = false;

/**
 * Loads the wasm module once. Called by `InferenceSession.create`; call it yourself to start
 * the download early, or pass the module (bytes, `Response`, `WebAssembly.Module` or URL) when
 * the default location does not work for your bundler.
 */
export function init(moduleOrPath) {
  if (!ready) {
    ready = (async () => {
      if (moduleOrPath !== undefined) return initWasm({ module_or_path: moduleOrPath });
      const url = new URL('./wasm/edgewise_bg.wasm', import.meta.url);
      if (fromFileSystem(url)) return initWasm({ module_or_path: await readFile(url, 'the edgewise wasm module') });
      return initWasm({ module_or_path: url });
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

/** A dense tensor on the CPU, shaped like onnxruntime-web's `Tensor`. */
export class Tensor {
  /**
   * new Tensor(type, data, dims?) or new Tensor(typedArray, dims?).
   * `data` may be a typed array of the type's kind or a plain array (converted).
   */
  constructor(typeOrData, dataOrDims, maybeDims) {
    let type;
    let data;
    let dims;
    if (typeof typeOrData === 'string') {
      type = typeOrData;
      data = dataOrDims;
      dims = maybeDims;
    } else {
      data = typeOrData;
      dims = dataOrDims;
      type = typeOfArray(data);
      if (type === undefined) {
        throw new TypeError('Tensor: pass a type string, or data as a typed array');
      }
    }
    const ctor = TYPED_ARRAYS[type];
    if (ctor === undefined) {
      throw new TypeError(`Tensor: unsupported type '${type}'; expected one of ${Object.keys(TYPED_ARRAYS).join(', ')}`);
    }
    if (Array.isArray(data)) {
      if (type === 'int64' || type === 'uint64') data = ctor.from(data, (v) => BigInt(v));
      else if (type === 'bool') data = ctor.from(data, (v) => (v ? 1 : 0));
      else data = ctor.from(data);
    } else if (type === 'uint8' && data instanceof Uint8ClampedArray) {
      data = new Uint8Array(data.buffer, data.byteOffset, data.length);
    } else if (!(data instanceof ctor)) {
      const got = data?.constructor?.name ?? typeof data;
      throw new TypeError(`Tensor: data of a ${type} tensor must be a ${ctor.name}, got ${got}`);
    }
    if (dims === undefined) dims = [data.length];
    if (!Array.isArray(dims) || dims.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new TypeError('Tensor: dims must be an array of non-negative integers');
    }
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new RangeError(`Tensor: size ${size} of dims [${dims}] does not match data length ${data.length}`);
    }
    this.type = type;
    this.data = data;
    this.dims = Object.freeze([...dims]);
    this.size = size;
    this.location = 'cpu';
  }

  /** The data (kept for onnxruntime-web compatibility; it already lives on the CPU). */
  async getData() {
    return this.data;
  }

  /** Nothing to free for a CPU tensor; present for onnxruntime-web compatibility. */
  dispose() {}
}

async function loadModelBytes(model) {
  if (model instanceof Uint8Array) return model;
  if (model instanceof ArrayBuffer) return new Uint8Array(model);
  if (ArrayBuffer.isView(model)) return new Uint8Array(model.buffer, model.byteOffset, model.byteLength);
  if (typeof model === 'string' || model instanceof URL) {
    const base = typeof location !== 'undefined' ? location.href : undefined;
    let url;
    try {
      url = new URL(model, base);
    } catch {
      url = undefined;
    }
    if (url === undefined || url.protocol === 'file:') return readFile(url ?? model, 'model');
    const response = await fetch(url);
    if (!response.ok) throw new Error(`could not fetch model ${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  throw new TypeError('InferenceSession.create: model must be bytes (Uint8Array, ArrayBuffer), a URL or a path');
}

function optimizeFlag(options) {
  const level = options?.graphOptimizationLevel ?? 'all';
  if (!['disabled', 'basic', 'extended', 'all'].includes(level)) {
    throw new TypeError(`unknown graphOptimizationLevel '${level}'`);
  }
  return level !== 'disabled';
}

/** Provider names in order of preference, checked: 'webgpu', and 'wasm' (alias 'cpu'). */
function providerList(options) {
  const names = (options?.executionProviders ?? ['wasm']).map((ep) => (typeof ep === 'string' ? ep : ep?.name));
  for (const name of names) {
    if (name !== 'wasm' && name !== 'cpu' && name !== 'webgpu') {
      throw new Error(`execution provider '${name}' is not available; edgewise runs 'webgpu' and 'wasm' (alias 'cpu')`);
    }
  }
  return names.map((n) => (n === 'wasm' ? 'cpu' : n));
}

/** Says once per session and reason when a GPU stage ran on the CPU. */
function warnFallbacks(stages, warned) {
  for (const s of stages) {
    if (s.fallback && !warned.has(s.fallback)) {
      warned.add(s.fallback);
      console.warn(`edgewise: stage ${s.index} (${s.nodes.join(', ')}) ran on the CPU: ${s.fallback}`);
    }
  }
}

function freezeMetadata(list) {
  for (const m of list) {
    if (m.shape) Object.freeze(m.shape);
    Object.freeze(m);
  }
  return Object.freeze(list);
}

/** A loaded model, shaped like onnxruntime-web's `InferenceSession`. */
export class InferenceSession {
  #inner;
  #queue = Promise.resolve();
  #warned = new Set();
  #stages = [];
  #adapter;

  constructor(inner) {
    this.#inner = inner;
    this.inputMetadata = freezeMetadata(inner.inputMetadata());
    this.outputMetadata = freezeMetadata(inner.outputMetadata());
    this.inputNames = Object.freeze(this.inputMetadata.map((m) => m.name));
    this.outputNames = Object.freeze(this.outputMetadata.map((m) => m.name));
  }

  /**
   * Loads a model from bytes, a URL (fetched) or, in Node and Deno, a file path.
   * Options: `executionProviders` (['wasm'] by default; ['webgpu', 'wasm'] runs edgewise
   * operators on the GPU where there is one), `graphOptimizationLevel` ('all' | 'disabled').
   */
  static async create(model, options = {}) {
    const providers = providerList(options);
    const optimize = optimizeFlag(options);
    const [bytes] = await Promise.all([loadModelBytes(model), init()]);
    const session = new InferenceSession(await WasmSession.create(bytes, optimize, providers));
    session.#report();
    return session;
  }

  /**
   * Where each stage of the model ran on the last run (before any run: the plan):
   * `[{ index, kind: 'cpu' | 'webgpu', nodes, placement: 'cpu' | 'webgpu', fallback }]`.
   * `fallback` says why a WebGPU stage ran on the CPU, or is null.
   */
  stages() {
    if (this.#inner === undefined) throw new Error('the session was released');
    return structuredClone(this.#stages);
  }

  /** The GPU adapter the session uses, or undefined. */
  get adapter() {
    return this.#adapter;
  }

  /** Reads the stage report once a call has settled (never while a run holds the session). */
  #report() {
    this.#stages = this.#inner.stages();
    this.#adapter = this.#inner.adapter() ?? undefined;
    warnFallbacks(this.#stages, this.#warned);
  }

  /**
   * Runs the model. `feeds` maps every input name to a Tensor; `fetches` (optional) lists the
   * outputs to return. Resolves to `{ outputName: Tensor }`.
   */
  run(feeds, fetches) {
    const result = this.#queue.then(() => this.#runNow(feeds, fetches));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #runNow(feeds, fetches) {
    if (this.#inner === undefined) throw new Error('the session was released');
    if (feeds === null || typeof feeds !== 'object') throw new TypeError('run: feeds must be an object of Tensors');
    const wanted = fetches === undefined ? this.outputNames : Array.isArray(fetches) ? fetches : Object.keys(fetches);
    for (const name of wanted) {
      if (!this.outputNames.includes(name)) {
        throw new Error(`unknown output '${name}'; the model's outputs are: ${this.outputNames.map((n) => `'${n}'`).join(', ')}`);
      }
    }
    const entries = Object.entries(feeds).map(([name, t]) => {
      if (!(t instanceof Tensor) && !(t && typeof t.type === 'string' && t.data && t.dims)) {
        throw new TypeError(`input '${name}': feed must be a Tensor`);
      }
      return [name, t.type, t.data, Array.from(t.dims)];
    });
    const outputs = {};
    for (const [name, type, data, dims] of await this.#inner.run(entries)) {
      if (wanted.includes(name)) outputs[name] = new Tensor(type, data, dims);
    }
    this.#report();
    return outputs;
  }

  /** Frees the model's memory; the session cannot run afterwards. */
  async release() {
    await this.#queue;
    if (this.#inner !== undefined) {
      this.#inner.free();
      this.#inner = undefined;
    }
  }
}

/** Runtime facts: versions and the wasm instance's memory. */
export const env = {
  /** Versions of the package and, once loaded, of the crates inside the wasm module. */
  get versions() {
    return { edgewise: VERSION, wasm: initialized ? wasmVersion() : undefined };
  },
  /** Bytes of wasm linear memory in use by the instance (0 before init). */
  get wasmMemoryBytes() {
    return initialized ? memoryBytes() : 0;
  },
};
