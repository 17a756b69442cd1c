//! ONNX inference sessions on tract.
//!
//! A [`Session`] is made once from the bytes of an ONNX model: the bytes are decoded, every
//! operator is checked to be one edgewise can run, the graph is typed and optimized by tract
//! and turned into a plan. [`Session::run`] then validates each feed against the model's
//! declared inputs (names, element types, ranks, fixed and shared symbolic dims) before any
//! data reaches tract, so a bad call returns an [`Error`] naming the input instead of failing
//! deep inside a kernel. The same code runs natively and on `wasm32-unknown-unknown`.

mod convert;
mod feeds;
mod kernels;
mod load;
mod session;

pub use edgewise_core::{DType, Dim, Error, Result, Tensor, TensorData, ValueInfo};
pub use session::{Session, SessionOptions};
