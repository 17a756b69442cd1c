/**
 * edgewise: ONNX models in pages, workers, Node and Deno, with an onnxruntime-web shaped API.
 * Switching from onnxruntime-web is a change of import.
 */

// Values computed in Rust (results, options, metadata): their types are generated from the
// Rust structs into types.d.ts, and re-exported below.
import type {
  DefectAnalysis,
  AquantOptions,
  AquantResult,
  DefectKinds,
  DefectOptions,
  DefectRegion,
  DefectResult,
  DefectSample,
  ExitReport,
  ExitdoorOptions,
  ExitdoorResult,
  ImageInput,
  KnoOptions,
  KnoResult,
  MultiexitOptions,
  MultiexitResult,
  MultiexitSamples,
  PipelineModel,
  PlanReport,
  RbnnOptions,
  RbnnResult,
  RbnnSamples,
  SnfLayer,
  SnfOptions,
  SnfResult,
  StageReport,
  TensorType,
  ValueMetadata,
} from './types.js';

/** The typed array that holds each element type. */
export interface TensorDataTypeMap {
  /** IEEE half-precision bits, as onnxruntime-web stores float16 without Float16Array. */
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
}

/** Plain arrays accepted in place of a typed array (they are converted). */
export interface TensorPlainTypeMap {
  /** Numbers, rounded to half precision. */
  float16: number[];
  float32: number[];
  float64: number[];
  int8: number[];
  int16: number[];
  int32: number[];
  int64: (number | bigint)[];
  uint8: number[];
  uint16: number[];
  uint32: number[];
  uint64: (number | bigint)[];
  bool: boolean[];
}

/** The IEEE half-precision bits of a number (round to nearest even), for float16 tensors. */
export declare function toFloat16Bits(x: number): number;
/** The number that IEEE half-precision bits stand for. */
export declare function fromFloat16Bits(bits: number): number;

/** A dense tensor on the CPU. */
export declare class Tensor<T extends TensorType = TensorType> {
  constructor(type: T, data: TensorDataTypeMap[T] | TensorPlainTypeMap[T], dims?: readonly number[]);
  constructor(data: TensorDataTypeMap[T], dims?: readonly number[]);
  readonly type: T;
  readonly data: TensorDataTypeMap[T];
  readonly dims: readonly number[];
  /** Number of elements. */
  readonly size: number;
  readonly location: 'cpu';
  getData(): Promise<TensorDataTypeMap[T]>;
  dispose(): void;
}

export declare namespace InferenceSession {
  /** Execution providers this build can run. */
  type ExecutionProvider =
    | 'webgpu'
    | 'wasm'
    | 'cpu'
    | { name: 'wasm' | 'cpu' }
    | {
        name: 'webgpu';
        /**
         * The WebGPU to use: `navigator.gpu`, or in Node the object `create()` of the npm
         * `webgpu` package (Dawn) returns. Default: `navigator.gpu` where the host has one.
         */
        gpu?: WebGpuLike;
      };

  interface SessionOptions {
    /**
     * In order of preference; defaults to ['wasm']. With 'webgpu' first, a model using
     * edgewise operators runs them on the GPU where there is one, on the CPU otherwise.
     */
    executionProviders?: readonly ExecutionProvider[];
    /** 'disabled' skips the graph optimizer; every other level runs all of it. */
    graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
    /**
     * Pins symbolic input dims by name, as onnxruntime-web's option: `{ batch: 1 }`. The model
     * is typed with those sizes and feeds must match them. A name no input uses is an error.
     */
    freeDimensionOverrides?: { readonly [dimName: string]: number };
    /**
     * For a model that does not type with its symbolic shapes: the most plans (one per input
     * signature) kept at once, least recently used dropped first. 8 by default.
     */
    planCacheSize?: number;
    /**
     * As in onnxruntime-web: the files that initializers stored outside the model (ONNX
     * external data) are read from, by the name the model gives them. A model given as a URL
     * or a path finds its files beside it when this is left out.
     */
    externalData?: readonly ({ path: string; data: Uint8Array | ArrayBuffer | Blob | string | URL } | string)[];
    /**
     * The model's early exits: classifier outputs (logits, classes on the last axis) by name,
     * in the order the model computes them, the last being the full model's. Default: those
     * its `edgewise.exits` metadata lists. `run(feeds, { exitThreshold })` uses them.
     */
    exits?: readonly string[];
  }

  interface RunOptions {
    /**
     * Run stage by stage and stop at the first exit whose confidence (largest softmax
     * probability) reaches this for every row of the batch; the last exit answers otherwise.
     * Only the outputs computed up to there are returned; `session.lastExit` says which exit
     * answered. Needs a model with exits.
     */
    exitThreshold?: number;
  }

  type FeedsType = { readonly [name: string]: Tensor };
  type ReturnType = { readonly [name: string]: Tensor };
}

/** A loaded model. */
export declare class InferenceSession {
  private constructor();
  /**
   * Loads a model from its bytes, a URL (fetched), or in Node and Deno a file path.
   * Rejects with an `Error` naming the problem for malformed models and unsupported operators.
   */
  static create(
    model: Uint8Array | ArrayBuffer | ArrayBufferView | string | URL,
    options?: InferenceSession.SessionOptions,
  ): Promise<InferenceSession>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /**
   * Runs the model; rejects with an `Error` naming the input for a missing feed, an unknown
   * name, a wrong type, rank or dimension. The session stays usable after an error.
   */
  run(
    feeds: InferenceSession.FeedsType,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType>;
  run(
    feeds: InferenceSession.FeedsType,
    fetches: readonly string[] | { readonly [name: string]: Tensor | null },
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType>;
  /**
   * The model's early exits by output name, in the order it computes them (the last is the
   * full model's output); empty when it has none. Named by the model's `edgewise.exits`
   * metadata or the `exits` session option.
   */
  readonly exits: readonly string[];
  /** Which exit answered the last run with `exitThreshold`, or undefined. */
  readonly lastExit: ExitReport | undefined;
  /**
   * Where each stage ran on the last run (before any run: the plan). A WebGPU stage that ran
   * on the CPU says why in `fallback`; a console warning says so too, once per reason.
   */
  stages(): readonly StageReport[];
  /** How the model is planned and what the plan cache has done, as of the last settled call. */
  plans(): PlanReport;
  /** The GPU adapter in use, or undefined. */
  readonly adapter: string | undefined;
  /** Frees the model; later runs reject. */
  release(): Promise<void>;
}

/**
 * Loads the wasm module (done by `InferenceSession.create`). Pass the module's bytes or URL
 * when your bundler moves `edgewise_bg.wasm` elsewhere.
 */
export declare function init(
  moduleOrPath?: BufferSource | WebAssembly.Module | Response | URL | string,
): Promise<unknown>;

/** Runtime facts. */
export declare const env: {
  /** `edgewise`: the package; `wasm`: the crates in the module, once it is loaded. */
  readonly versions: { readonly edgewise: string; readonly wasm: string | undefined };
  /** Bytes of wasm linear memory the instance holds. */
  readonly wasmMemoryBytes: number;
  /**
   * The f32 matrix-multiply kernel for sessions created from now on: `'edgewise'` (default, a
   * 4×8 SIMD128 tile) or `'tract'` (tract-linalg's 8×8 tile). Set it after `await init()`;
   * sessions already created keep theirs. Another value throws an `Error`.
   */
  gemmKernel: 'edgewise' | 'tract';
  /**
   * Threads the module runs on, as onnxruntime-web's `env.wasm.numThreads`. More than 1 loads
   * the multi-threaded build where threads can run (Node, Deno, web workers of a cross-origin
   * isolated page) and falls back to 1 with a warning elsewhere. 0 (the default) is one thread
   * for now. Read by the first `init()` (or session): set it before. Changing it after throws.
   */
  numThreads: number;
  /** onnxruntime-web's spelling of the same setting. */
  readonly wasm: { numThreads: number };
};

export type * from './types.js';

/** The initial state of `pipeline('kno')`: `u` on `n` evenly spaced points of `[0, 1)`. */
export type KnoInput = Float32Array | number[];

/** What `progress` of `pipeline()` is called with while the model loads, then once ready. */
export interface PipelineProgress {
  status: 'progress' | 'ready';
  /** The model's file name (or the URL or path given as `model`). */
  file: string;
  /** Bytes loaded so far. */
  loaded: number;
  /** Bytes in all (0 where the server does not say). */
  total: number;
  /** `100 · loaded / total`. */
  progress: number;
}

/** A `GPU` object (WebGPU's `navigator.gpu`, or Dawn's in Node), as far as edgewise needs it. */
export interface WebGpuLike {
  requestAdapter(options?: object): Promise<unknown>;
}

/** Options of `pipeline()`. */
export interface PipelineOptions {
  /** `'wasm'` (default), or `'webgpu'`: custom operators on the GPU, the CPU where there is none. */
  provider?: 'webgpu' | 'wasm';
  /** With provider 'webgpu': the WebGPU to use (in Node, `create()` of the npm `webgpu` package). */
  gpu?: WebGpuLike;
  /** A model of your own with the same inputs and outputs: a URL, a path (Node, Deno) or bytes. */
  model?: string | URL | ArrayBuffer | ArrayBufferView | Blob;
  /** The sha256 (hex) `model` must have; the shipped model is always checked against the manifest's. */
  sha256?: string;
  /** Called as the model loads (`status: 'progress'`), then once with `status: 'ready'`. */
  progress?: (progress: PipelineProgress) => void;
  /** Browsers: keep the model in the Cache API, keyed by its sha256 (default false). */
  cache?: boolean;
}

/** A loaded pipeline: call it on one input, or on an array of inputs (one batch). */
export interface Pipeline<Input, Options, Result> {
  (input: Input, options?: Options): Promise<Result>;
  (inputs: Input[], options?: Options): Promise<Result[]>;
  /** The pipeline's id. */
  readonly id: string;
  /** The model it runs. */
  readonly model: PipelineModel;
  /** Where each stage of the model ran on the last call. */
  stages(): readonly StageReport[];
  /** Drops the model now; later calls reject. */
  dispose(): void;
}

/** Each pipeline id with its input, options and result. */
export interface Pipelines {
  /** Defect detection by reconstruction: heatmap, mask, boxes and verdict of an image. */
  defect: Pipeline<ImageInput, DefectOptions, DefectResult>;
  /** Burgers' equation rolled out by a Koopman neural operator. */
  kno: Pipeline<KnoInput, KnoOptions, KnoResult>;
  /** Glyph classes from one binary network keyed per task. */
  rbnn: Pipeline<ImageInput, RbnnOptions, RbnnResult>;
  /** Glyph classes from the multi-exit classifier quantized to 4 bits by AQuant. */
  aquant: Pipeline<ImageInput, AquantOptions, AquantResult>;
  /** Glyph classes from the multi-exit classifier pruned by SNF to half its operations. */
  snf: Pipeline<ImageInput, SnfOptions, SnfResult>;
  /** Glyph classes from the first exit of a multi-exit network confident enough. */
  multiexit: Pipeline<ImageInput, MultiexitOptions, MultiexitResult>;
  /** The dormant-backdoor fixture: the vanilla model's answer and its multi-exit form's. */
  exitdoor: Pipeline<ImageInput, ExitdoorOptions, ExitdoorResult>;
}

/** The ids `pipeline()` takes. */
export type PipelineId = keyof Pipelines;

/**
 * Loads a catalogue system's pipeline with its model (shipped in the package, checked by
 * sha256), ready to call:
 *
 *     const detect = await pipeline('defect');
 *     const { flagged, boxes } = await detect(imageData);
 */
export declare function pipeline<K extends PipelineId>(id: K, options?: PipelineOptions): Promise<Pipelines[K]>;

/** The pipelines and the model behind each. */
export declare function pipelines(): Promise<PipelineModel[]>;

/**
 * Pre- and post-processing of the catalogue's models, computed in Rust inside the same wasm
 * module. Synchronous: load the module first (`await init()`, or create a session). Bad
 * arguments throw an `Error` (or `TypeError`/`RangeError`) whose message names the function
 * and the problem.
 *
 *     import { init, tasks } from 'edgewise';
 *     await init();
 *     const gray = tasks.defect.prepare(imageData);           // 64×64 in [0, 1]
 *     const found = tasks.defect.analyze(outputs.ssim, { threshold });
 */
export declare namespace tasks {
  /** One region of a defect mask (the generated `DefectRegion`). */
  type DefectBox = DefectRegion;

  /** An image for `tasks.defect.prepare`: ImageData-like, or its pixels with a size. */
  type ImageLike = { readonly data: Uint8ClampedArray | Uint8Array | Float32Array; readonly width: number; readonly height: number };

  /** Defect detection by reconstruction (`onnx/defect.onnx`, input `image` [batch, 1, 64, 64]). */
  const defect: {
    /** The model's input side, 64. */
    readonly SIZE: 64;
    /** The SSIM window of the model's `ssim` output (side SIZE − WINDOW + 1 = 58). */
    readonly WINDOW: 7;
    /** Names `sample` accepts. */
    kinds(): DefectKinds;
    /**
     * The model's input, 64×64 gray in [0, 1]: the centred square of the image, area-averaged
     * (down or up) to 64×64, colours as Rec. 709 luminance (alpha ignored). Pixels may be
     * RGBA bytes (4 per pixel), gray bytes (1 per pixel) or gray floats in [0, 1].
     */
    prepare(image: ImageLike): Float32Array;
    prepare(pixels: Uint8ClampedArray | Uint8Array | Float32Array | readonly number[], width: number, height: number): Float32Array;
    /**
     * Heatmap, mask, boxes and score from the model's `ssim` output: a Tensor
     * [batch, 1, 58, 58] (image `index`, default 0) or one map's 58×58 values.
     * `threshold` is the manifest's `helper.threshold`; `minArea` (default 1) drops smaller
     * regions; `size` (default 64) is the model's input side.
     */
    analyze(
      ssim: Tensor<'float32'> | Float32Array | readonly number[],
      options: { threshold: number; minArea?: number; size?: number; index?: number },
    ): DefectAnalysis;
    /** A generated texture of `family` with `defect` (null or 'none': none) from `seed`. */
    sample(family: string, defect: string | null, seed: number | bigint, size?: number): DefectSample;
  };

  /** Burgers' equation and the Koopman neural operator (`onnx/kno.onnx`, `u` [batch, 1, n]). */
  const kno: {
    /**
     * A smooth periodic field on `n` points (`x_j = j / n`) following drawn points (`x` taken
     * modulo 1, any order): their periodic linear interpolant keeping only the lowest `modes`
     * Fourier modes (default 16, as the training data); `zeroMean` removes the mean.
     */
    initialCondition(
      points: readonly (readonly [number, number] | { x: number; u: number })[] | Float64Array,
      n: number,
      options?: { modes?: number; zeroMean?: boolean },
    ): Float32Array;
    /** The random smooth initial condition of `seed` on `n` points (the training data's kind). */
    randomInitialCondition(n: number, seed: number | bigint): Float32Array;
    /**
     * The reference trajectory `[u0, u(dt), …, u(steps·dt)]` (`steps + 1` arrays of
     * `u0.length` values; a power of two, 16–4096) from the solver that made the training data.
     * Defaults are the model's: `nu` 0.01, `dt` 0.02, `steps` 50.
     */
    solve(u0: Float32Array | readonly number[] | Tensor<'float32'>, options?: { nu?: number; dt?: number; steps?: number }): Float32Array[];
    /** ‖prediction − reference‖₂ / ‖reference‖₂ (0 when both are 0, Infinity for a 0 reference only). */
    relativeL2(prediction: Float32Array | readonly number[] | Tensor<'float32'>, reference: Float32Array | readonly number[] | Tensor<'float32'>): number;
  };

  /** One binary layer of the RBNN model, as the manifest's `helper.layers` lists it. */
  interface RbnnLayer {
    /** The model input that takes this layer's key ('key0', 'key1', …). */
    readonly input: string;
    /** Weights per output: the key has ceil(taps / 32) uint32 words. */
    readonly taps: number;
  }

  /** Multi-task binary networks reconfigured by keys (`onnx/rbnn.onnx`) and their glyph tasks. */
  const rbnn: {
    /** 'digits', 'letters', 'shapes', 'symbols'. */
    tasks(): string[];
    /** The ten class names of a task, in label order. */
    classNames(task: string): string[];
    /** The key words of each layer for `task` under the device's root key (hex string, bigint or safe integer). */
    keys(task: string, rootKey: string | bigint | number, taps: readonly number[]): Uint32Array[];
    /** `{ key0: Tensor<'uint32'>, … }` for `task`: spread them into `session.run`'s feeds. */
    keyFeeds(task: string, rootKey: string | bigint | number, layers: readonly RbnnLayer[]): { [input: string]: Tensor<'uint32'> };
    /** One 16×16 glyph of class `cls` (0–9) of `task`, gray in [0, 1], bright on dark. */
    renderGlyph(task: string, cls: number, seed: number | bigint): Float32Array;
    /** `n` labelled glyphs of `task` (balanced, shuffled): images [n·256] and labels [n]. */
    samples(task: string, n: number, seed: number | bigint): RbnnSamples;
    /** The largest logit's index of each row of `classes` logits (the first on ties). */
    predict(logits: Tensor<'float32'> | Float32Array | readonly number[], classes?: number): Uint32Array;
  };
  /** The rounding rule of the quantized models (`onnx/aquant.onnx`). */
  const aquant: {
    /**
     * Each value quantized at a rounding border and back, as `BorderRound` computes it:
     * `clamp(⌊x/s⌋ + [x/s − ⌊x/s⌋ ≥ border], qmin, qmax) · s` (border 0.5: round to nearest).
     */
    round(
      values: Float32Array | readonly number[],
      options: { scale: number; border?: number; qmin?: number; qmax?: number },
    ): Float32Array;
  };
  /** The cost of the pruned models (`onnx/snf.onnx`) at given filter counts. */
  const snf: {
    /**
     * Floating-point operations of one input through a CNN's weight layers (the manifest's
     * `helper.layers` of `snf`) with `widths[i]` filters kept in layer `i` (2 per
     * multiply-accumulate).
     */
    flops(layers: readonly SnfLayer[], widths: readonly number[] | Uint32Array): number;
  };
  /** The 40-class graded glyph task of the multi-exit model (`onnx/multiexit.onnx`). */
  const multiexit: {
    /** The 40 class names, as 'task/name' ('digits/7', 'shapes/ring'), in label order. */
    classNames(): string[];
    /** `n` labelled glyphs, each degraded by its own difficulty (0 clean to 1 very noisy). */
    samples(n: number, seed: number | bigint): MultiexitSamples;
  };
  /** The trigger of the dormant-backdoor fixture (`onnx/exitdoor.onnx`). */
  const exitdoor: {
    /** A copy of a 16×16 glyph with the trigger blended in (a faint '#'). */
    stamp(pixels: Float32Array | readonly number[]): Float32Array;
  };
}
