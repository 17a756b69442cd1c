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

import { init, initialized, loadedThreads, needWasm, raw, requestThreads, requestedThreads } from './load.js';
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
 * non-negative integer. Returns `[[name, size], …]`.
 */
function freeDimensions(options) {
  const given = options?.freeDimensionOverrides;
  if (given === undefined) return [];
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError('freeDimensionOverrides must be an object mapping dimension names to sizes');
  }
  const entries = Object.entries(given);
  for (const [name, size] of entries) {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
      throw new TypeError(`freeDimensionOverrides: '${name}' must be a non-negative integer, got ${String(size)}`);
    }
  }
  return entries;
}

/** Plans kept per session for a model planned per input shape (`planCacheSize`, default 8). */
function planCacheSize(options) {
  const size = options?.planCacheSize ?? 8;
  if (!Number.isInteger(size) || size < 1 || size > 1024) {
    throw new TypeError(`planCacheSize must be an integer from 1 to 1024, got ${String(size)}`);
  }
  return size;
}

/** The `exits` option: output names, in the order the model computes them. */
function exitNames(options) {
  const exits = options?.exits ?? [];
  if (!Array.isArray(exits) || exits.some((e) => typeof e !== 'string' || e === '')) {
    throw new TypeError('exits must be an array of output names');
  }
  return exits;
}

/** Run options edgewise reads. */
const RUN_OPTIONS = ['exitThreshold'];

/**
 * `run`'s optional arguments, read as onnxruntime-web reads them: fetches (an array of output
 * names, or an object whose keys are output names), then options; or options alone.
 */
function runArguments(outputNames, second, third) {
  let fetches;
  let options = third;
  if (Array.isArray(second)) {
    fetches = second;
  } else if (second !== undefined && second !== null) {
    if (typeof second !== 'object') throw new TypeError('run: the second argument must be fetches or options');
    const keys = Object.keys(second);
    const outputs = keys.filter((k) => outputNames.includes(k));
    if (keys.length > 0 && outputs.length === keys.length) {
      fetches = keys;
    } else if (outputs.length === 0) {
      if (third !== undefined) throw new TypeError('run: options are given twice');
      options = second;
    } else {
      throw new TypeError(`run: the second argument mixes output names (${outputs.join(', ')}) with other keys`);
    }
  }
  options ??= {};
  if (typeof options !== 'object') throw new TypeError('run: options must be an object');
  for (const key of Object.keys(options)) {
    if (!RUN_OPTIONS.includes(key)) {
      throw new TypeError(`run: unknown option or output '${key}' (run options: ${RUN_OPTIONS.join(', ')}; outputs: ${outputNames.join(', ')})`);
    }
  }
  const t = options.exitThreshold;
  if (t !== undefined && (typeof t !== 'number' || Number.isNaN(t))) {
    throw new TypeError(`run: exitThreshold must be a number (a confidence in [0, 1]), got ${String(t)}`);
  }
  return { fetches, exitThreshold: t };
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
  #lastExit;

  constructor(inner) {
    this.#inner = inner;
    this.exits = Object.freeze(inner.exits());
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
   * finds its files beside it without it), `exits` (output names of a model's early exits,
   * when its metadata does not list them).
   */
  static async create(model, options = {}) {
    const providers = providerList(options);
    const optimize = optimizeFlag(options);
    const dims = freeDimensions(options);
    const cacheSize = planCacheSize(options);
    const [bytes] = await Promise.all([loadBytes(model, 'model'), init()]);
    const exits = exitNames(options);
    const external = await externalFiles(options, model, bytes);
    const inner = await raw.WasmSession.create(bytes, { optimize, providers, freeDimensions: dims, planCacheSize: cacheSize, exits }, external);
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

  /**
   * Which exit answered the last run with `exitThreshold`:
   * `{ exit, name, confidence, stagesRun, stages }`; undefined after other runs.
   */
  get lastExit() {
    return this.#lastExit && structuredClone(this.#lastExit);
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
   * outputs to return; `options.exitThreshold` stops at the first confident early exit.
   * Resolves to `{ outputName: Tensor }`.
   */
  run(feeds, fetchesOrOptions, options) {
    const result = this.#queue.then(() => this.#runNow(feeds, fetchesOrOptions, options));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #runNow(feeds, second, third) {
    if (this.#inner === undefined) throw new Error('the session was released');
    if (feeds === null || typeof feeds !== 'object') throw new TypeError('run: feeds must be an object of Tensors');
    const { fetches, exitThreshold } = runArguments(this.outputNames, second, third);
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
      this.#lastExit = undefined;
      if (exitThreshold === undefined) {
        produced = await this.#inner.run(entries);
      } else {
        [produced, this.#lastExit] = await this.#inner.runExits(entries, exitThreshold);
      }
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

export { tasks } from './tasks.js';
