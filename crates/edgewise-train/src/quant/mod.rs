//! Post-training quantization of an exported CNN.
//!
//! - [`graph`]: the ONNX model read back and evaluated in burn, with a hook at each weight
//!   layer.
//! - [`scheme`]: the uniform quantizers and their ranges.
//! - [`learn`]: round-to-nearest, AdaRound and AQuant on calibration images; [`borders`]:
//!   AQuant's rounding borders, learned layer by layer.
//! - [`write`]: the quantized model as ONNX (int8 weights behind `DequantizeLinear`, each
//!   layer's input through `ai.edgewise::BorderRound`).

pub mod borders;
pub mod graph;
pub mod learn;
pub mod scheme;
pub mod write;

pub use graph::{Float, Graph, Hook, Value};
pub use learn::{Method, Quantized, Schedule, flipped, output_error, quantize};
pub use scheme::Bits;
pub use write::write;
