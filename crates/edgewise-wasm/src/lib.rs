//! The WebAssembly face of edgewise.
//!
//! These are the raw wasm-bindgen exports; the `edgewise` npm package wraps them in an
//! onnxruntime-web shaped API (`InferenceSession`, `Tensor`) written in `js/index.js`.
//! Tensors cross the boundary as `[name, type, data, dims]` arrays whose `data` is the typed
//! array onnxruntime-web uses for that type. Every failure is returned as a JS `Error`; no code
//! path reachable from JS panics on bad input (a panic in wasm would kill the instance).

mod cell;
mod marshal;
mod pipeline;
mod tasks;
mod threads;

use edgewise_runtime::{Provider, Session, SessionOptions};
use wasm_bindgen::prelude::*;

use cell::SessionCell;

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// The module's static constructors, gathered by wasm-ld: tract's and edgewise's operator
    /// and kernel registrations (`inventory`).
    fn __wasm_call_ctors();
}

/// Runs the static constructors, once per instance, and installs a panic hook that prints
/// Rust panics to `console.error`. Called by the glue when the module is instantiated.
///
/// The explicit call matters: a module that never calls `__wasm_call_ctors` is linked by
/// wasm-ld as a "command", and then every export runs all the constructors again before its
/// own code, which cost every `run` of a small model most of its time.
#[wasm_bindgen(start)]
pub fn start() {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the linker-made function only runs the constructors; this is the one place it
    // is called, at instantiation, before any other export.
    unsafe {
        __wasm_call_ctors()
    };
    console_error_panic_hook::set_once();
}

/// The version of the edgewise crates inside this wasm module.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Bytes of linear memory the wasm instance holds now (it only grows).
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) * 65536) as f64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

/// Which f32 GEMM kernel sessions created from now on use: `"edgewise"` (the default, a 4×8
/// SIMD128 tile) or `"tract"` (tract-linalg's 8×8 tile).
#[wasm_bindgen(js_name = setGemmKernel)]
pub fn set_gemm_kernel(name: &str) -> Result<(), JsError> {
    match name {
        "edgewise" => edgewise_kernels::use_own_gemm(true),
        "tract" => edgewise_kernels::use_own_gemm(false),
        other => {
            return Err(JsError::new(&format!(
                "env.gemmKernel: expected \"edgewise\" or \"tract\", got {other:?}"
            )));
        }
    }
    Ok(())
}

/// The f32 GEMM kernel sessions created now get: `"edgewise"` or `"tract"`.
#[wasm_bindgen(js_name = gemmKernel)]
pub fn gemm_kernel() -> String {
    if edgewise_kernels::own_gemm() {
        "edgewise"
    } else {
        "tract"
    }
    .to_string()
}

/// The external data files a model's initializers are stored in, by the names it gives them.
#[wasm_bindgen(js_name = externalFiles)]
pub fn external_files(bytes: &[u8]) -> Result<Vec<String>, JsError> {
    Ok(Session::external_files(bytes)?)
}

/// Execution provider names from JS ("webgpu", "cpu" or its alias "wasm"), in order of
/// preference.
pub(crate) fn providers_from_js(names: &[String]) -> Result<Vec<Provider>, JsError> {
    names
        .iter()
        .map(|p| match p.as_str() {
            "webgpu" => Ok(Provider::WebGpu),
            "cpu" | "wasm" => Ok(Provider::Cpu),
            other => Err(JsError::new(&format!(
                "unknown execution provider '{other}' (edgewise has 'webgpu' and 'wasm')"
            ))),
        })
        .collect()
}

/// What `WasmSession.create` reads from its options object (the package checks the values
/// first and says what is wrong in onnxruntime-web's terms).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOptions {
    /// Run tract's optimizer.
    pub optimize: bool,
    /// "webgpu" and/or "cpu", in order of preference.
    pub providers: Vec<String>,
    /// Symbolic dims pinned to sizes (onnxruntime's `freeDimensionOverrides`).
    #[serde(default)]
    pub free_dimensions: Vec<(String, u32)>,
    /// The most plans kept for a model planned per input shape.
    pub plan_cache_size: u32,
    /// The model's early exits by output name (empty: its metadata's).
    #[serde(default)]
    pub exits: Vec<String>,
}

/// A loaded model. Created by [`WasmSession::create`]; freed by `free()` from JS.
#[wasm_bindgen]
pub struct WasmSession {
    inner: SessionCell,
}

#[wasm_bindgen]
impl WasmSession {
    /// Loads an ONNX model from its bytes (and `external`, `[[path, Uint8Array], …]`, the files
    /// its external initializers are read from) with `options`:
    /// `{ optimize, providers, freeDimensions, planCacheSize, exits }` ([`CreateOptions`]).
    pub async fn create(
        bytes: Vec<u8>,
        options: JsValue,
        external: js_sys::Array,
    ) -> Result<WasmSession, JsError> {
        let given: CreateOptions = serde_wasm_bindgen::from_value(options)
            .map_err(|e| JsError::new(&format!("session options: {e}")))?;
        let options = SessionOptions {
            optimize: given.optimize,
            providers: providers_from_js(&given.providers)?,
            free_dimension_overrides: given
                .free_dimensions
                .into_iter()
                .map(|(name, n)| (name, n as usize))
                .collect(),
            plan_cache_size: given.plan_cache_size as usize,
            external_data: marshal::external_from_js(&external)?,
            exits: given.exits,
            ..Default::default()
        };
        let session = Session::create(&bytes, &options).await?;
        Ok(WasmSession {
            inner: SessionCell::new(session),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Session) -> T) -> Result<T, JsError> {
        self.inner.with(f)
    }

    /// `[{ name, isTensor, type, shape }]` for each input, shapes using strings for symbolic
    /// dims, as onnxruntime-web's `inputMetadata`.
    #[wasm_bindgen(js_name = inputMetadata)]
    pub fn input_metadata(&self) -> Result<JsValue, JsError> {
        self.with(|s| marshal::metadata(s.inputs()))?
    }

    /// Same as [`WasmSession::input_metadata`] for the outputs.
    #[wasm_bindgen(js_name = outputMetadata)]
    pub fn output_metadata(&self) -> Result<JsValue, JsError> {
        self.with(|s| marshal::metadata(s.outputs()))?
    }

    /// `[{ index, kind, nodes, placement, fallback }]`: where each stage ran on the last call
    /// ("cpu" or "webgpu") and, for a GPU stage that ran on the CPU, why.
    pub fn stages(&self) -> Result<JsValue, JsError> {
        self.with(|s| marshal::stages(s.stages()))?
    }

    /// `{ perShape, reason, built, reused, cached, capacity, pinned }`: how the model is
    /// planned (one symbolic plan, or one per input signature and why) and what the plan
    /// cache has done.
    pub fn plans(&self) -> Result<JsValue, JsError> {
        self.with(|s| marshal::plan_stats(&s.plan_stats()))?
    }

    /// The GPU adapter in use, or `undefined`.
    pub fn adapter(&self) -> Result<Option<String>, JsError> {
        self.with(|s| s.adapter())
    }

    /// Runs the model on `[[name, type, data, dims], …]`; resolves to outputs in the same form.
    pub fn run(&self, feeds: js_sys::Array) -> js_sys::Promise {
        let inner = self.inner.clone();
        let feeds = marshal::feeds_from_js(&feeds);
        wasm_bindgen_futures::future_to_promise(async move {
            let feeds = feeds.map_err(JsError::from)?;
            let mut lease = inner.lease()?;
            let result = lease.session()?.run_async(feeds).await;
            drop(lease);
            let outputs = result.map_err(JsError::from)?;
            Ok(outputs
                .into_iter()
                .map(|(name, t)| marshal::tensor_to_js(&name, t))
                .collect::<js_sys::Array>()
                .into())
        })
    }

    /// The model's early exits by output name (empty when it has none).
    pub fn exits(&self) -> Result<Vec<String>, JsError> {
        self.with(|s| s.exits().to_vec())
    }

    /// Runs the model stage by stage until an exit's confidence reaches `threshold` for every
    /// row; resolves to `[outputs, report]`: the outputs computed (as [`WasmSession::run`])
    /// and which exit answered.
    #[wasm_bindgen(js_name = runExits)]
    pub fn run_exits(&self, feeds: js_sys::Array, threshold: f32) -> js_sys::Promise {
        let inner = self.inner.clone();
        let feeds = marshal::feeds_from_js(&feeds);
        wasm_bindgen_futures::future_to_promise(async move {
            let feeds = feeds.map_err(JsError::from)?;
            let mut lease = inner.lease()?;
            let result = lease.session()?.run_with_exits(feeds, threshold).await;
            drop(lease);
            let run = result.map_err(JsError::from)?;
            let report = pipeline::to_js(&marshal::ExitReport::from(&run))?;
            let outputs: js_sys::Array = run
                .outputs
                .into_iter()
                .map(|(name, t)| marshal::tensor_to_js(&name, t))
                .collect();
            Ok(js_sys::Array::of2(&outputs, &report).into())
        })
    }

    /// Drops the model and its plan now; later calls fail with "the session was released".
    pub fn release(&self) {
        self.inner.release();
    }
}
