// The `tasks` of the `edgewise` package: the pre- and post-processing of the catalogue's
// models (`tasks.defect`, `tasks.kno`, `tasks.rbnn`, `tasks.aquant`, `tasks.snf`, `tasks.multiexit`,
// `tasks.exitdoor`), computed in Rust inside the package's wasm module.

import { needWasm, raw } from './load.js';
import { Tensor } from './index.js';

// ---------------------------------------------------------------------------------------------
// Task helpers: the pre- and post-processing of the catalogue's models, computed in Rust
// (crates/edgewise-tasks, crates/edgewise-data) inside the same wasm module. This part only
// turns JS values into typed arrays and back. The functions are synchronous: load the module
// first with `await init()` (InferenceSession.create does it too).
const MAX_SAFE = Number.MAX_SAFE_INTEGER;


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

/** The 40-class graded glyph task of the multi-exit model (onnx/multiexit.onnx). */
const multiexitTasks = Object.freeze({
  /** The 40 class names, as 'task/name' ('digits/7', 'shapes/ring'), in label order. */
  classNames() {
    needWasm('tasks.multiexit.classNames');
    return raw.tasksMultiexitClassNames();
  },

  /**
   * `{ images: Float32Array [n·256], labels: Uint8Array [n], difficulty: Float32Array [n], n }`:
   * labelled 16×16 glyphs of the 40 classes, each degraded by its own difficulty (0 clean to 1
   * very noisy), as the model was trained and tested on.
   */
  samples(n, seed) {
    const fn = 'tasks.multiexit.samples';
    needWasm(fn);
    return raw.tasksMultiexitSamples(n, seedNumber(seed, fn));
  },
});

/** The trigger of the dormant-backdoor fixture (onnx/exitdoor.onnx). */
const exitdoorTasks = Object.freeze({
  /**
   * A copy of a 16×16 glyph (256 gray levels in [0, 1], row-major: a Float32Array or an array
   * of numbers) with the trigger blended in: a faint '#', min(1, pixel + 0.5 · glyph).
   */
  stamp(pixels) {
    const fn = 'tasks.exitdoor.stamp';
    needWasm(fn);
    if (!(pixels instanceof Float32Array) && !Array.isArray(pixels)) {
      throw new TypeError(`${fn}: pixels must be a Float32Array or an array of numbers`);
    }
    return raw.tasksExitdoorStamp(Float32Array.from(pixels));
  },
});

/** The rounding rule of the quantized models (onnx/aquant.onnx). */
const aquantTasks = Object.freeze({
  /**
   * Each value quantized at a rounding border and back, as BorderRound computes it:
   * clamp(floor(x/s) + (x/s - floor(x/s) >= border ? 1 : 0), qmin, qmax) * s. A border of
   * 0.5 is round-to-nearest. Options `{ scale, border = 0.5, qmin = 0, qmax = 15 }`.
   */
  round(values, { scale, border = 0.5, qmin = 0, qmax = 15 } = {}) {
    const fn = 'tasks.aquant.round';
    needWasm(fn);
    for (const [name, v] of [['scale', scale], ['border', border], ['qmin', qmin], ['qmax', qmax]]) {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new TypeError(`${fn}: ${name} must be a finite number`);
      }
    }
    if (!Number.isInteger(qmin) || !Number.isInteger(qmax)) {
      throw new TypeError(`${fn}: qmin and qmax must be integers`);
    }
    return raw.tasksAquantRound(floatArray(values, `${fn}: values`), scale, border, qmin, qmax);
  },
});

/** The cost of the pruned models (onnx/snf.onnx) at given filter counts. */
const snfTasks = Object.freeze({
  /**
   * Floating-point operations of one input through a CNN's weight layers (the manifest's
   * `helper.layers` of `snf`: `{ filters, inChannels, from, unit }` each) with `widths[i]`
   * filters kept in layer i (2 per multiply-accumulate).
   */
  flops(layers, widths) {
    const fn = 'tasks.snf.flops';
    needWasm(fn);
    if (!Array.isArray(layers)) throw new TypeError(`${fn}: layers must be an array of layers`);
    if (!Array.isArray(widths) && !(widths instanceof Uint32Array)) {
      throw new TypeError(`${fn}: widths must be an array of integers or a Uint32Array`);
    }
    if (!Array.from(widths).every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
      throw new TypeError(`${fn}: widths must be non-negative integers`);
    }
    return raw.tasksSnfFlops(layers, Uint32Array.from(widths));
  },
});

/**
 * Pre- and post-processing of the catalogue's models: `tasks.defect`, `tasks.kno`,
 * `tasks.rbnn`, `tasks.aquant`, `tasks.snf`, `tasks.multiexit`, `tasks.exitdoor`.
 */
export const tasks = Object.freeze({ defect: defectTasks, kno: knoTasks, rbnn: rbnnTasks, aquant: aquantTasks, snf: snfTasks, multiexit: multiexitTasks, exitdoor: exitdoorTasks });
