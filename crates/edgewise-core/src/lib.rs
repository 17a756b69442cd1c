//! Shared vocabulary of edgewise: element types, host-side tensors, value metadata and errors.
//!
//! This crate knows nothing of tract, wgpu or JavaScript. The runtime converts its tensors to
//! tract's, the wasm crate converts them to and from JS typed arrays, so every layer speaks
//! the same types and reports problems through the same [`Error`].

mod dtype;
mod error;
mod info;
mod tensor;

pub use dtype::DType;
pub use error::{Error, Result};
pub use half::f16;
pub use info::{Dim, ValueInfo};
pub use tensor::{Tensor, TensorData};
