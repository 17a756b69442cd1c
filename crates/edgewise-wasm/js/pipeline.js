// `pipeline(id, options)`: a catalogue system in one call.
//
//   import { pipeline } from 'edgewise';
//   const detect = await pipeline('defect');
//   const { flagged, boxes, heatmap } = await detect(imageData);
//
// The model ships in the package (`edgewise/models/<file>`) and is checked against the sha256
// compiled into the wasm module before use. The work between the input and the typed result
// (preparing the input, running the model, the task's post-processing) is Rust, in the same
// module; this file finds the model's bytes and wraps the Rust pipeline as a function.

import { init, raw } from './load.js';
import { loadBytes, provideGpu } from './source.js';

const OPTIONS = ['provider', 'gpu', 'model', 'sha256', 'progress', 'cache'];
const CACHE_NAME = 'edgewise-models';

function checkOptions(id, options) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`pipeline('${id}'): options must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) throw new TypeError(`pipeline('${id}'): unknown option '${key}' (it takes ${OPTIONS.join(', ')})`);
  }
  const { provider = 'wasm', progress, sha256, cache = false } = options;
  if (provider !== 'wasm' && provider !== 'webgpu') {
    throw new TypeError(`pipeline('${id}'): provider must be 'webgpu' or 'wasm', got ${JSON.stringify(provider)}`);
  }
  if (progress !== undefined && typeof progress !== 'function') throw new TypeError(`pipeline('${id}'): progress must be a function`);
  if (sha256 !== undefined && !(typeof sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(sha256))) {
    throw new TypeError(`pipeline('${id}'): sha256 must be 64 hex digits`);
  }
  if (typeof cache !== 'boolean') throw new TypeError(`pipeline('${id}'): cache must be true or false`);
  if (options.gpu !== undefined) {
    if (provider !== 'webgpu') throw new TypeError(`pipeline('${id}'): gpu is for provider 'webgpu'`);
    provideGpu(options.gpu, `pipeline('${id}')`);
  }
  return { ...options, provider, cache };
}

/** The Cache API's cache of models, or undefined (and a warning) where there is none. */
async function openCache(id) {
  if (typeof caches === 'undefined') {
    console.warn(`edgewise: pipeline('${id}'): cache: true needs the Cache API (a page or worker in a secure context); not caching`);
    return undefined;
  }
  return caches.open(CACHE_NAME);
}

/** The cache key of a model: its sha256 (a synthetic URL, as the Cache API keys on URLs). */
const cacheKey = (sha256) => `https://models.edgewise.invalid/sha256/${sha256}`;

/** The shipped model's bytes, from the cache where allowed, else read or fetched. */
async function modelBytes(id, info, options, report) {
  const what = `the model of pipeline('${id}')`;
  const onChunk = report ? (loaded, total) => report('progress', loaded, total) : undefined;
  if (options.model !== undefined) {
    return { bytes: await loadBytes(options.model, what, { fn: `pipeline('${id}')`, onChunk }), sha256: options.sha256 };
  }
  const cache = options.cache ? await openCache(id) : undefined;
  const hit = cache && (await cache.match(cacheKey(info.sha256)));
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    report?.('progress', bytes.length, bytes.length);
    return { bytes, sha256: info.sha256, cached: true };
  }
  const url = new URL(`./models/${info.file}`, import.meta.url);
  const bytes = await loadBytes(url, what, { fn: `pipeline('${id}')`, onChunk, expected: info.bytes });
  return { bytes, sha256: info.sha256, cache };
}

/**
 * Loads the pipeline `id` ('defect', 'kno', 'rbnn'; `pipelines()` lists them). `options`:
 * `provider` ('wasm', the default, or 'webgpu': custom operators on the GPU where there is
 * one, the CPU otherwise), `gpu` (the `GPU` object to use: in Node, `create()` of the npm
 * `webgpu` package), `model` (a URL, path or bytes of a model of your own with the same
 * inputs and outputs; `sha256` then checks it), `progress` (called with `{ status, file,
 * loaded, total, progress }` while the model loads, then with status 'ready'), `cache`
 * (browsers: keep the model in the Cache API, keyed by its sha256).
 *
 * Resolves to an async function: `await p(input, options)` gives the result of one input,
 * `await p([input, …], options)` one result per input, computed in one batch. Calls made
 * while one runs wait for it, in order.
 */
export async function pipeline(id, options) {
  if (typeof id !== 'string') throw new TypeError('pipeline: id must be a string');
  const opts = checkOptions(id, options);
  await init();
  const info = raw.pipelineModel(id);
  const file = opts.model === undefined ? info.file : String(opts.model instanceof URL || typeof opts.model === 'string' ? opts.model : 'bytes');
  const report = opts.progress
    ? (status, loaded, total) => opts.progress({ status, file, loaded, total, progress: total > 0 ? (100 * loaded) / total : 100 })
    : undefined;
  const { bytes, sha256, cache } = await modelBytes(id, info, opts, report);
  const providers = opts.provider === 'webgpu' ? ['webgpu', 'cpu'] : ['cpu'];
  const inner = await raw.Pipeline.create(id, bytes, sha256, providers);
  if (cache) {
    await cache.put(cacheKey(info.sha256), new Response(bytes)).catch((e) => {
      console.warn(`edgewise: pipeline('${id}'): could not keep the model in the Cache API: ${e?.message ?? e}`);
    });
  }
  report?.('ready', bytes.length, bytes.length);

  // Calls run one after another, in the order they were made: the model's session runs one
  // call at a time, and `Promise.all(images.map(p))` should just work.
  let previous = Promise.resolve();
  const run = (input, callOptions) => {
    // An array of numbers is one input (a state of `kno`); any other array is a batch.
    const batched = Array.isArray(input) && !(input.length > 0 && typeof input[0] === 'number');
    const result = previous.then(() => inner.call(input, batched, callOptions));
    previous = result.catch(() => {});
    return result;
  };
  Object.defineProperties(run, {
    id: { value: id, enumerable: true },
    model: { value: Object.freeze(opts.model === undefined ? info : { ...info, file, sha256: sha256 ?? null }), enumerable: true },
    stages: { value: () => Object.freeze(inner.stages()) },
    dispose: { value: () => inner.release() },
  });
  return Object.freeze(run);
}

/** The ids `pipeline()` takes, with the model behind each: `[{ id, file, sha256, bytes, description }]`. */
export async function pipelines() {
  await init();
  return raw.pipelineIds().map((id) => Object.freeze(raw.pipelineModel(id)));
}
