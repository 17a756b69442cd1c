//! Native, CUDA-free training of the catalogue's models, and their export to ONNX.
//!
//! Models are burn modules trained on burn's `flex` CPU backend with autodiff (or its wgpu
//! backend, with the `wgpu` feature). Each layer also writes itself to ONNX ([`emit`]), so the
//! exported graph is the trained one, custom operators (domain `ai.edgewise`) included.
//! `cargo xtask train <system>` drives the `edgewise-train` binary of this crate.
//!
//! - [`emit`]: the ONNX emitter; [`layers`], [`spectral`], [`ssim`]: trainable layers that
//!   export themselves.
//! - [`sequence`]: layer norm, GRU and self-attention over `[batch, seq, features]`, exported
//!   to standard ONNX operators.
//! - [`run`]: progress, metrics CSV, curves ([`plot`]), checkpoints and resume.
//! - [`systems`]: the catalogue systems, one module each with the same shape.
//! - [`export`]: `onnx/<system>.onnx` and its manifest entry; [`metrics`]: AUROC and errors.
//! - [`quant`]: post-training quantization of an exported CNN (round-to-nearest, AdaRound,
//!   AQuant's learned rounding borders) and its export with int8 weights and `BorderRound`.
//! - [`prune`]: structured pruning of an exported CNN to a budget of operations (SNF's
//!   filter-count search, uniform and L1 baselines), fine-tuning, and the smaller ONNX.

pub mod binary;
pub mod emit;
pub mod export;
pub mod layers;
pub mod metrics;
pub mod parity;
pub mod plot;
pub mod prune;
pub mod quant;
pub mod run;
pub mod sequence;
pub mod spectral;
pub mod ssim;
pub mod systems;
