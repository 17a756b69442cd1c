//! Runs the GPU programs of edgewise operators with wgpu.
//!
//! In a browser (and in Deno) wgpu drives WebGPU; natively it drives Vulkan, Metal or DX12.
//! [`Gpu`] owns one device. [`Gpu::upload`] puts a tensor on it, [`Gpu::run`] executes one
//! operator's [`edgewise_ops::program::GpuProgram`] on device tensors and leaves the outputs
//! there, and [`Gpu::read`] brings a tensor back. Reading is the only step that waits on the
//! device, and it is `async`: in a browser the mapping resolves on the event loop, natively the
//! device is polled until it does, so the same futures serve both.
//!
//! Every fault comes back as a [`GpuError`] that says what went wrong, so a caller can run the
//! CPU kernel instead: no adapter, a lost device, a shader that fails to compile, a buffer over
//! the device's limits, or a validation error in a dispatch.

mod context;
mod error;
mod exec;
mod tensor;
pub mod testing;

pub use context::{Gpu, GpuOptions};
pub use error::GpuError;
pub use tensor::GpuTensor;

/// Blocks on a future natively, where the device is polled inside the futures themselves.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}
