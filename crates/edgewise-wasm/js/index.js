// The `edgewise` npm package: an onnxruntime-web shaped API over the edgewise wasm module.
//
//   import { InferenceSession, Tensor } from 'edgewise';
//   const session = await InferenceSession.create(modelBytesOrUrl);
//   const { y } = await session.run({ x: new Tensor('float32', data, [1, 4]) });
//
// Works unchanged in pages (bundled or not), module workers, Node >= 20 and Deno.
//
// `pipeline(id)` runs a catalogue system in one call, its model shipped in the package:
//   const detect = await pipeline('defect');
//   const { flagged, boxes } = await detect(imageData);
//
// `tasks` holds the catalogue models' pre- and post-processing, computed in the same wasm:
//   await init();
//   const found = tasks.defect.analyze(outputs.ssim, { threshold });

import { init, initialized, loadedThreads, raw, requestThreads, requestedThreads } from './load.js';
import { loadBytes, providerList, sourceUrl } from './source.js';

export { init };
export { pipeline, pipelines } from './pipeline.js';

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
  // IEEE half floats travel as their bits, as onnxruntime-web stores them without Float16Array.
  // Listed after uint16, so that a bare Uint16Array still means uint16.
  float16: Uint16Array,
};

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The IEEE half-precision bits of a number, rounded to nearest even (NaN and ±Inf kept). */
export function toFloat16Bits(x) {
  F32[0] = x;
  const f = U32[0];
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  let mant = f & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** The number IEEE half-precision bits stand for. */
export function fromFloat16Bits(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function typeOfArray(data) {
  for (const [type, ctor] of Object.entries(TYPED_ARRAYS)) {
    if (data instanceof ctor) return type;
  }
  if (data instanceof Uint8ClampedArray) return 'uint8';
  return undefined;
}

/** The package version, written in by the build. */
const VERSION = '__EDGEWISE_VERSION__';

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
      else if (type === 'float16') data = ctor.from(data, toFloat16Bits);
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

/**
 * The external data files as `[path, bytes]` pairs: those `externalData` gives (onnxruntime-web's
 * option: `{ path, data }` or a path), or, when it is absent and the model came from a URL or a
 * path, the files the model names, read from beside it.
 */
async function externalFiles(options, model, bytes) {
  const given = options?.externalData;
  if (given !== undefined) {
    if (!Array.isArray(given)) throw new TypeError('externalData must be an array of { path, data } or paths');
    return Promise.all(
      given.map(async (entry) => {
        const { path, data } = typeof entry === 'string' ? { path: entry, data: entry } : entry ?? {};
        if (typeof path !== 'string') throw new TypeError('externalData: each entry needs a path (the name the model gives the file)');
        return [path, await loadBytes(data, `external data '${path}'`)];
      }),
    );
  }
  const url = sourceUrl(model);
  if (url === undefined) return [];
  const names = raw.externalFiles(bytes);
  return Promise.all(names.map(async (name) => [name, await loadBytes(new URL(name, url), `external data '${name}'`)]));
}

function optimizeFlag(options) {
  const level = options?.graphOptimizationLevel ?? 'all';
  if (!['disabled', 'basic', 'extended', 'all'].includes(level)) {
    throw new TypeError(`unknown graphOptimizationLevel '${level}'`);
  }
  return level !== 'disabled';
}

/**
 * `freeDimensionOverrides` (onnxruntime-web's option): `{ dimName: size }`, each size a
 * non-negative integer. Returns `[names, sizes]`.
 */
function freeDimensions(options) {
  const given = options?.freeDimensionOverrides;
  if (given === undefined) return [[], []];
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError('freeDimensionOverrides must be an object mapping dimension names to sizes');
  }
  const entries = Object.entries(given);
  for (const [name, size] of entries) {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
      throw new TypeError(`freeDimensionOverrides: '${name}' must be a non-negative integer, got ${String(size)}`);
    }
  }
  return [entries.map(([n]) => n), Uint32Array.from(entries.map(([, s]) => s))];
}

/** Plans kept per session for a model planned per input shape (`planCacheSize`, default 8). */
function planCacheSize(options) {
  const size = options?.planCacheSize ?? 8;
  if (!Number.isInteger(size) || size < 1 || size > 1024) {
    throw new TypeError(`planCacheSize must be an integer from 1 to 1024, got ${String(size)}`);
  }
  return size;
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
  #plans;
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
   * operators on the GPU where there is one), `graphOptimizationLevel` ('all' | 'disabled'),
   * `freeDimensionOverrides` (`{ batch: 1 }`: pins symbolic input dims by name, as in
   * onnxruntime-web), `planCacheSize` (plans kept for a model that is planned per input
   * shape; 8 by default), `externalData` (`[{ path, data }]`, as in onnxruntime-web: the files
   * that initializers stored outside the model are read from; a model given as a URL or a path
   * finds its files beside it without it).
   */
  static async create(model, options = {}) {
    const providers = providerList(options);
    const optimize = optimizeFlag(options);
    const [dims, sizes] = freeDimensions(options);
    const cacheSize = planCacheSize(options);
    const [bytes] = await Promise.all([loadBytes(model, 'model'), init()]);
    const external = await externalFiles(options, model, bytes);
    const inner = await raw.WasmSession.create(bytes, optimize, providers, dims, sizes, cacheSize, external);
    const session = new InferenceSession(inner);
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

  /**
   * How the model is planned and what the plan cache has done, as of the last settled call:
   * `{ perShape, reason, built, reused, cached, capacity, pinned }`. `perShape` is false when
   * one plan typed with the model's symbolic shapes serves every call; otherwise each distinct
   * input signature gets a plan (`reason` says why), and `pinned` lists inputs whose values
   * the plans are specialized to (small integer inputs that control flow branches on).
   */
  plans() {
    if (this.#inner === undefined) throw new Error('the session was released');
    return structuredClone(this.#plans);
  }

  /** The GPU adapter the session uses, or undefined. */
  get adapter() {
    return this.#adapter;
  }

  /** Reads the stage report once a call has settled (never while a run holds the session). */
  #report() {
    this.#stages = this.#inner.stages();
    this.#plans = this.#inner.plans();
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
    let produced;
    try {
      produced = await this.#inner.run(entries);
    } finally {
      this.#report();
    }
    const outputs = {};
    for (const [name, type, data, dims] of produced) {
      if (wanted.includes(name)) outputs[name] = new Tensor(type, data, dims);
    }
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
    return { edgewise: VERSION, wasm: initialized ? raw.version() : undefined };
  },
  /** Bytes of wasm linear memory in use by the instance (0 before init). */
  get wasmMemoryBytes() {
    return initialized ? raw.memoryBytes() : 0;
  },
  /**
   * The f32 matrix-multiply kernel of sessions created from now on: `'edgewise'` (default) or
   * `'tract'`. Sessions already created keep theirs. Needs the module loaded (`await init()`).
   */
  get gemmKernel() {
    return initialized ? raw.gemmKernel() : 'edgewise';
  },
  set gemmKernel(name) {
    needWasm('env.gemmKernel');
    if (typeof name !== 'string') throw new TypeError(`env.gemmKernel must be 'edgewise' or 'tract', got ${typeof name}`);
    raw.setGemmKernel(name);
  },
  /**
   * Threads the module runs on, as onnxruntime-web's `env.wasm.numThreads`. More than 1 loads
   * the multi-threaded build where threads can run (Node, Deno, web workers of a cross-origin
   * isolated page) and falls back to 1 with a warning elsewhere. 0 (the default) is one thread
   * for now. Read once, by the first `init()`: set it before creating a session.
   */
  get numThreads() {
    return initialized ? loadedThreads : requestedThreads;
  },
  set numThreads(n) {
    requestThreads(n);
  },
  /** onnxruntime-web's spelling: `env.wasm.numThreads` is `env.numThreads`. */
  wasm: {
    get numThreads() {
      return env.numThreads;
    },
    set numThreads(n) {
      env.numThreads = n;
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Task helpers: the pre- and post-processing of the catalogue's models, computed in Rust
// (crates/edgewise-tasks, crates/edgewise-data) inside the same wasm module. This part only
// turns JS values into typed arrays and back. The functions are synchronous: load the module
// first with `await init()` (InferenceSession.create does it too).

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function needWasm(fn) {
  if (!initialized) {
    throw new Error(`${fn}: the edgewise wasm module is not loaded yet; await init() (or InferenceSession.create) first`);
  }
}

/** Tensor data (or the array itself) as a Float32Array, or a TypeError naming `what`. */
function floatArray(x, what) {
  if (x && typeof x === 'object' && !ArrayBuffer.isView(x) && !Array.isArray(x) && 'data' in x && 'dims' in x) x = x.data;
  if (x instanceof Float32Array) return x;
  if (Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array))) {
    return Float32Array.from(x);
  }
  throw new TypeError(`${what} must be a Float32Array, an array of numbers or a float32 Tensor, got ${x?.constructor?.name ?? typeof x}`);
}

/** A seed as a number: a non-negative safe integer, or a bigint that fits one. */
function seedNumber(seed, fn) {
  if (typeof seed === 'bigint' && seed >= 0n && seed <= BigInt(MAX_SAFE)) return Number(seed);
  if (typeof seed === 'number') return seed; // range and integrality are checked in wasm
  throw new TypeError(`${fn}: seed must be a non-negative integer (number or bigint up to 2^53 - 1), got ${typeof seed}`);
}

/** A root key as hex: a hex string ('0x…' optional), a bigint or a safe integer. */
function rootHex(root, fn) {
  if (typeof root === 'string') return root;
  if (typeof root === 'bigint' && root >= 0n && root < 1n << 64n) return root.toString(16);
  if (typeof root === 'number' && Number.isSafeInteger(root) && root >= 0) return root.toString(16);
  throw new TypeError(`${fn}: rootKey must be a hex string, a bigint or a non-negative safe integer, got ${typeof root === 'string' ? root : String(root)}`);
}

function options(opts, fn) {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: options must be an object`);
  return opts;
}

/** Defect detection by reconstruction (onnx/defect.onnx). */
const defectTasks = Object.freeze({
  /** The model's input side. */
  SIZE: 64,
  /** The SSIM window of the model's `ssim` output (its side is SIZE - WINDOW + 1 = 58). */
  WINDOW: 7,

  /** The texture families and defect kinds `sample` draws. */
  kinds() {
    needWasm('tasks.defect.kinds');
    return raw.tasksDefectKinds();
  },

  /**
   * The model's input, 64×64 gray levels in [0, 1], from an image of any size: an `ImageData`
   * (or `{ data, width, height }`), RGBA or gray bytes, or gray floats. The centred square is
   * area-averaged to 64×64; colours become Rec. 709 luminance.
   */
  prepare(image, width, height) {
    const fn = 'tasks.defect.prepare';
    needWasm(fn);
    let data = image;
    if (image && typeof image === 'object' && !ArrayBuffer.isView(image) && !Array.isArray(image) && 'data' in image) {
      data = image.data;
      width ??= image.width;
      height ??= image.height;
    }
    if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) {
      const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
      const channels = data.length === width * height ? 1 : 4;
      return raw.tasksDefectPrepareBytes(bytes, width, height, channels);
    }
    return raw.tasksDefectPrepareGray(floatArray(data, `${fn}: image`), width, height);
  },

  /**
   * The anomaly heatmap (`1 − ssim`, edges replicated to size×size), the mask
   * (`heatmap > threshold`), the boxes of the mask's 8-connected regions of at least
   * `minArea` pixels (highest score first), the image score (heatmap maximum) and `flagged`
   * (some region is left). `ssim` is the model's output (a Tensor [batch, 1, 58, 58]: image
   * `index`) or one map's values.
   */
  analyze(ssim, opts) {
    const fn = 'tasks.defect.analyze';
    needWasm(fn);
    const { threshold, minArea = 1, size = 64, index = 0 } = options(opts, fn);
    if (typeof threshold !== 'number') {
      throw new TypeError(`${fn}: options.threshold must be a number (the manifest's helper.threshold), got ${typeof threshold}`);
    }
    let values = floatArray(ssim, `${fn}: ssim`);
    let inner;
    if (ssim?.dims) {
      inner = ssim.dims[ssim.dims.length - 1];
      const per = inner * inner;
      const count = per > 0 ? values.length / per : 0;
      if (!Number.isInteger(index) || index < 0 || index >= count) {
        throw new RangeError(`${fn}: index ${index} is not an image of the batch of ${count}`);
      }
      values = values.subarray(index * per, (index + 1) * per);
    } else {
      inner = Math.round(Math.sqrt(values.length));
    }
    return raw.tasksDefectAnalyze(values, inner, size, threshold, minArea);
  },

  /**
   * A generated texture `{ image, mask, family, defect, size }` (`image` gray in [0, 1],
   * `mask` 1 on defective pixels) of `family` with `defect` (or null), from `seed`.
   */
  sample(family, defect, seed, size = 64) {
    const fn = 'tasks.defect.sample';
    needWasm(fn);
    if (typeof family !== 'string') throw new TypeError(`${fn}: family must be a string`);
    if (defect !== null && defect !== undefined && typeof defect !== 'string') throw new TypeError(`${fn}: defect must be a string or null`);
    return raw.tasksDefectSample(family, defect ?? 'none', size, seedNumber(seed, fn));
  },
});

/** Burgers' equation and the Koopman neural operator (onnx/kno.onnx). */
const knoTasks = Object.freeze({
  /**
   * A smooth periodic field on `n` points (`x_j = j / n`) following drawn points (`[x, u]`
   * pairs or `{ x, u }` objects, `x` taken modulo 1): their periodic linear interpolant cut to
   * the lowest `modes` Fourier modes (16, as the training data); `zeroMean` removes the mean.
   */
  initialCondition(points, n, opts) {
    const fn = 'tasks.kno.initialCondition';
    needWasm(fn);
    const { modes = 16, zeroMean = false } = options(opts, fn);
    let xy;
    if (points instanceof Float64Array) xy = points;
    else if (Array.isArray(points)) {
      xy = new Float64Array(2 * points.length);
      points.forEach((p, i) => {
        const [x, u] = Array.isArray(p) ? p : [p?.x, p?.u ?? p?.y];
        if (typeof x !== 'number' || typeof u !== 'number') throw new TypeError(`${fn}: point ${i} must be [x, u] or { x, u } numbers`);
        xy[2 * i] = x;
        xy[2 * i + 1] = u;
      });
    } else throw new TypeError(`${fn}: points must be an array of [x, u] pairs (or an interleaved Float64Array)`);
    return raw.tasksKnoInitialCondition(xy, n, modes, Boolean(zeroMean));
  },

  /** The random smooth initial condition of `seed` on `n` points (the training data's kind). */
  randomInitialCondition(n, seed) {
    const fn = 'tasks.kno.randomInitialCondition';
    needWasm(fn);
    return raw.tasksKnoRandomInitialCondition(n, seedNumber(seed, fn));
  },

  /**
   * The reference solution from `u0` (a power of two of points, 16..4096): `steps + 1` states
   * `[u0, u(dt), …]` from the pseudo-spectral solver that made the training data.
   */
  solve(u0, opts) {
    const fn = 'tasks.kno.solve';
    needWasm(fn);
    const { nu = 0.01, dt = 0.02, steps = 50 } = options(opts, fn);
    const u = floatArray(u0, `${fn}: u0`);
    const flat = raw.tasksKnoSolve(u, nu, dt, steps);
    const n = u.length;
    return Array.from({ length: flat.length / n }, (_, k) => flat.subarray(k * n, (k + 1) * n));
  },

  /** ‖prediction − reference‖₂ / ‖reference‖₂. */
  relativeL2(prediction, reference) {
    const fn = 'tasks.kno.relativeL2';
    needWasm(fn);
    return raw.tasksKnoRelativeL2(floatArray(prediction, `${fn}: prediction`), floatArray(reference, `${fn}: reference`));
  },
});

/** Multi-task binary networks reconfigured by keys (onnx/rbnn.onnx) and their glyph tasks. */
const rbnnTasks = Object.freeze({
  /** The glyph tasks: 'digits', 'letters', 'shapes', 'symbols'. */
  tasks() {
    needWasm('tasks.rbnn.tasks');
    return raw.tasksRbnnTasks();
  },

  /** The ten class names of a glyph task, in label order. */
  classNames(task) {
    needWasm('tasks.rbnn.classNames');
    return raw.tasksRbnnClassNames(String(task));
  },

  /**
   * The key words of each binary layer (`taps[l]` weights per output: ceil(taps/32) words)
   * for `task` on the device with root key `rootKey` (hex string or bigint).
   */
  keys(task, rootKey, taps) {
    const fn = 'tasks.rbnn.keys';
    needWasm(fn);
    if (typeof task !== 'string') throw new TypeError(`${fn}: task must be a string`);
    if (!Array.isArray(taps) && !ArrayBuffer.isView(taps)) throw new TypeError(`${fn}: taps must be an array of integers`);
    return raw.tasksRbnnKeys(task, rootHex(rootKey, fn), Float64Array.from(taps, Number));
  },

  /**
   * The key inputs of the model for `task`, ready to spread into `session.run`'s feeds:
   * `{ key0: Tensor<'uint32'>, … }` from the manifest's `helper.layers` (`[{ input, taps }]`).
   */
  keyFeeds(task, rootKey, layers) {
    const fn = 'tasks.rbnn.keyFeeds';
    if (!Array.isArray(layers) || layers.some((l) => typeof l?.input !== 'string')) {
      throw new TypeError(`${fn}: layers must be the manifest's helper.layers, [{ input, taps }]`);
    }
    const keys = rbnnTasks.keys(task, rootKey, layers.map((l) => l.taps));
    return Object.fromEntries(layers.map((l, i) => [l.input, new Tensor('uint32', keys[i], [keys[i].length])]));
  },

  /** One 16×16 glyph of `class` (0–9) of `task`, gray in [0, 1], bright on dark. */
  renderGlyph(task, cls, seed) {
    const fn = 'tasks.rbnn.renderGlyph';
    needWasm(fn);
    return raw.tasksRbnnRenderGlyph(String(task), cls, seedNumber(seed, fn));
  },

  /** `{ images: Float32Array [n·256], labels: Uint8Array [n], n }`: labelled glyphs of `task`. */
  samples(task, n, seed) {
    const fn = 'tasks.rbnn.samples';
    needWasm(fn);
    return raw.tasksRbnnSamples(String(task), n, seedNumber(seed, fn));
  },

  /** The predicted class (largest logit, the first on ties) of each row of `logits`. */
  predict(logits, classes = 10) {
    const fn = 'tasks.rbnn.predict';
    needWasm(fn);
    return raw.tasksRbnnPredict(floatArray(logits, `${fn}: logits`), classes);
  },
});

/** Pre- and post-processing of the catalogue's models: `tasks.defect`, `tasks.kno`, `tasks.rbnn`. */
export const tasks = Object.freeze({ defect: defectTasks, kno: knoTasks, rbnn: rbnnTasks });
