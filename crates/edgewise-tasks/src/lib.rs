//! The task helpers of the catalogue's systems: what turns a model's raw outputs into what a
//! user wants, and the inputs into what the model takes. Pure Rust, no runtime: the trainer,
//! the native tests and the wasm package call the same code.
//!
//! - [`aquant`]: the rounding rule of the quantized models (`BorderRound`'s learned borders).
//! - [`defect`]: the anomaly heatmap, mask and boxes from the defect model's `SsimMap`.
//! - [`exitdoor`]: the trigger of the dormant-backdoor fixture and its attack success rate.
//! - [`kno`]: initial conditions and the reference solver of the Koopman operator's demo.
//! - [`multiexit`]: the early-exit rule of a multi-exit classifier and its latency–accuracy
//!   trade-off.
//! - [`rbnn`]: the key schedule that reconfigures RBNN's shared binary weights per task.
//! - [`snf`]: the cost of a pruned CNN at given filter counts.

pub mod aquant;
pub mod defect;
pub mod exitdoor;
pub mod kno;
pub mod multiexit;
pub mod rbnn;
pub mod snf;
