//! The WebAssembly face of edgewise.
//!
//! These are the raw wasm-bindgen exports; the `edgewise` npm package wraps them in an
//! onnxruntime-web shaped API (`InferenceSession`, `Tensor`) written in `js/index.js`.
//! Tensors cross the boundary as `[name, type, data, dims]` arrays whose `data` is the typed
//! array onnxruntime-web uses for that type. Every failure is returned as a JS `Error`; no code
//! path reachable from JS panics on bad input (a panic in wasm would kill the instance).

mod marshal;

use edgewise_runtime::{Session, SessionOptions};
use wasm_bindgen::prelude::*;

/// Installs a panic hook that prints Rust panics to `console.error` (called once at start).
#[wasm_bindgen(start)]
pub fn start() {
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

/// A loaded model. Created by [`WasmSession::create`]; freed by `free()` from JS.
#[wasm_bindgen]
pub struct WasmSession {
    inner: Option<Session>,
}

#[wasm_bindgen]
impl WasmSession {
    /// Loads an ONNX model from its bytes. `optimize = false` skips tract's optimizer.
    pub fn create(bytes: &[u8], optimize: bool) -> Result<WasmSession, JsError> {
        let session = Session::new(bytes, &SessionOptions { optimize })?;
        Ok(WasmSession {
            inner: Some(session),
        })
    }

    fn session(&mut self) -> Result<&mut Session, JsError> {
        self.inner
            .as_mut()
            .ok_or_else(|| edgewise_runtime::Error::Released.into())
    }

    /// `[{ name, isTensor, type, shape }]` for each input, shapes using strings for symbolic
    /// dims, as onnxruntime-web's `inputMetadata`.
    #[wasm_bindgen(js_name = inputMetadata)]
    pub fn input_metadata(&mut self) -> Result<js_sys::Array, JsError> {
        Ok(marshal::metadata(self.session()?.inputs()))
    }

    /// Same as [`WasmSession::input_metadata`] for the outputs.
    #[wasm_bindgen(js_name = outputMetadata)]
    pub fn output_metadata(&mut self) -> Result<js_sys::Array, JsError> {
        Ok(marshal::metadata(self.session()?.outputs()))
    }

    /// Runs the model on `[[name, type, data, dims], …]`; returns outputs in the same form.
    pub fn run(&mut self, feeds: js_sys::Array) -> Result<js_sys::Array, JsError> {
        let feeds = marshal::feeds_from_js(&feeds)?;
        let outputs = self.session()?.run(feeds)?;
        Ok(outputs
            .into_iter()
            .map(|(name, t)| marshal::tensor_to_js(&name, t))
            .collect())
    }

    /// Drops the model and its plan now; later calls fail with "the session was released".
    pub fn release(&mut self) {
        self.inner = None;
    }
}
