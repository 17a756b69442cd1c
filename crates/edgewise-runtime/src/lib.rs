//! ONNX inference sessions on tract, with edgewise operators on the GPU.
//!
//! A [`Session`] is made once from the bytes of an ONNX model: the bytes are decoded, every
//! operator is checked to be one edgewise can run, the graph is typed and optimized by tract
//! and turned into a plan. [`Session::run_async`] then validates each feed against the
//! model's declared inputs (names, element types, ranks, fixed and shared symbolic dims)
//! before any data reaches tract, so a bad call returns an [`Error`] naming the input instead
//! of failing deep inside a kernel. The same code runs natively and on
//! `wasm32-unknown-unknown`.
//!
//! With [`Provider::WebGpu`] first in [`SessionOptions::providers`], a model that uses
//! edgewise operators (domain `ai.edgewise`) is split into stages: CPU stages are tract plans
//! over sub-graphs, GPU stages are chains of edgewise operators run by wgpu, tensors stay on
//! the device between GPU stages, and [`Session::stages`] reports where each ran and why a
//! GPU stage fell back to the CPU.

mod channel_chain;
mod convert;
mod exits;
mod external;
mod feeds;
mod gather_early;
mod load;
mod max_pool;
mod ops;
mod orphans;
mod plan;
mod quant;
mod report;
mod round_trip;
mod session;
mod specialize;
mod staged;
mod submodel;
mod tract_plan;

pub use edgewise_core::{DType, Dim, Error, Result, Tensor, TensorData, ValueInfo, f16};
pub use edgewise_gpu::GpuOptions;
pub use exits::METADATA_KEY as EXITS_METADATA_KEY;
pub use report::{Placement, StageKind, StageReport};
pub use session::{DEFAULT_PLAN_CACHE_SIZE, ExitRun, Provider, Session, SessionOptions};
pub use specialize::PlanStats;
