/**
 * edgewise: ONNX models in pages, workers, Node and Deno, with an onnxruntime-web shaped API.
 * Switching from onnxruntime-web is a change of import.
 */

/** Element types, named as onnxruntime-web names them. */
export type TensorType =
  | 'float32'
  | 'float64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool';

/** The typed array that holds each element type. */
export interface TensorDataTypeMap {
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

/** Name, type and shape of a model input or output; symbolic dims are strings. */
export interface ValueMetadata {
  readonly name: string;
  readonly isTensor: true;
  readonly type: TensorType | undefined;
  readonly shape: readonly (number | string)[] | undefined;
}

/** One stage of a session's plan. */
export interface StageReport {
  readonly index: number;
  /** What the planner made of it: standard operators ('cpu') or edgewise operators ('webgpu'). */
  readonly kind: 'cpu' | 'webgpu';
  /** Its nodes, as `name (OpType)`. */
  readonly nodes: readonly string[];
  /** Where it ran on the last call. */
  readonly placement: 'cpu' | 'webgpu';
  /** Why a 'webgpu' stage ran on the CPU (no adapter, device lost, compile error, limits), or null. */
  readonly fallback: string | null;
}

export declare namespace InferenceSession {
  /** Execution providers this build can run. */
  type ExecutionProvider = 'webgpu' | 'wasm' | 'cpu' | { name: 'webgpu' | 'wasm' | 'cpu' };

  interface SessionOptions {
    /**
     * In order of preference; defaults to ['wasm']. With 'webgpu' first, a model using
     * edgewise operators runs them on the GPU where there is one, on the CPU otherwise.
     */
    executionProviders?: readonly ExecutionProvider[];
    /** 'disabled' skips the graph optimizer; every other level runs all of it. */
    graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
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
    fetches?: readonly string[],
  ): Promise<InferenceSession.ReturnType>;
  /**
   * Where each stage ran on the last run (before any run: the plan). A WebGPU stage that ran
   * on the CPU says why in `fallback`; a console warning says so too, once per reason.
   */
  stages(): readonly StageReport[];
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
};
