//! edgewise's own ONNX operators, in the domain [`DOMAIN`] (`ai.edgewise`).
//!
//! Every operator is one type implementing [`CustomOp`]. It carries:
//! - its **schema**, written in the module docs of its family (attributes, inputs, outputs,
//!   shape rules, element types) and enforced by [`CustomOp::output_facts`];
//! - a **CPU reference kernel**, [`CustomOp::eval`], which is the source of truth;
//! - a **GPU program**, [`CustomOp::gpu_program`]: WGSL passes described as data
//!   ([`program::GpuProgram`]), executed by the `edgewise-gpu` crate and tested against the
//!   CPU kernel.
//!
//! [`Registry`] hooks the operators into tract-onnx's op register, so a model that uses them
//! loads, types and optimizes like any other; [`TractCustomOp`] is the tract node that wraps
//! one operator and evaluates it with the CPU kernel.
//!
//! | family | operators | module |
//! | --- | --- | --- |
//! | binary networks | `BinaryGemm`, `BinaryConv2d` | [`ops::binary`] |
//! | spectral | `SpectralConv1d`, `SpectralConv2d` | [`ops::spectral`] |
//! | image similarity | `SsimMap` | [`ops::ssim`] |
//! | block transforms | `BlockDct`, `BlockIdct` | [`ops::dct`] |
//! | signals | `TemporalBandpass` | [`ops::bandpass`] |
//! | graphs | `GraphAggregate` | [`ops::graph`] |
//! | retrieval | `HammingTopK` | [`ops::hamming`] |
//! | quantization | `BorderRound` | [`ops::border`] |

mod custom;
pub mod ops;
pub mod program;
mod registry;
pub mod testing;
mod tract_op;

pub use custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
pub use registry::{OpDef, Registry, RegistryError};
pub use tract_op::TractCustomOp;

/// The ONNX domain of every edgewise operator.
pub const DOMAIN: &str = "ai.edgewise";
