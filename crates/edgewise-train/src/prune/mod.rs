//! Structured pruning of an exported CNN: whole filters removed, the smaller model exported.
//!
//! - [`structure`]: which filters can go, what they cost and which layers read them.
//! - [`search`]: how many filters each layer keeps for a budget of operations (uniform share,
//!   network-wide L1 ranking, or SNF's count search), and which (the largest L1 norms).
//! - [`rewrite`]: the pruned model as ONNX (smaller initializers, same nodes).
//! - [`finetune`]: the pruned model trained to the full model's outputs.

pub mod finetune;
pub mod rewrite;
pub mod search;
pub mod structure;

use anyhow::Result;
use burn::prelude::*;

pub use finetune::Schedule;
pub use search::Method;
pub use structure::Structure;

use crate::quant::Graph;

/// A pruned model.
pub struct Pruned {
    /// Its ONNX bytes (fine-tuned when a schedule was given).
    pub bytes: Vec<u8>,
    /// Filters kept per weight layer.
    pub widths: Vec<usize>,
    /// The share of the full model's operations it computes.
    pub cost: f64,
    /// Its operations per input (2 per multiply-accumulate of the weight layers).
    pub flops: u64,
}

/// Prunes `graph`, whose structure is `s`, by `method` to at most `budget` of its
/// operations, choosing counts on `calibration` (SNF) and fine-tuning on `train` (none when
/// `schedule.steps` is 0), to reproduce `outputs`.
#[allow(clippy::too_many_arguments)]
pub fn prune(
    graph: &Graph,
    s: &Structure,
    method: Method,
    budget: f64,
    calibration: &[Tensor<4>],
    train: &[Tensor<4>],
    outputs: &[&str],
    schedule: &Schedule,
) -> Result<Pruned> {
    let widths = search::widths(graph, s, method, budget, calibration, outputs)?;
    let keep = search::strongest(&search::norms(graph), &widths);
    let mut bytes = rewrite::slice(graph, s, &keep)?;
    if schedule.steps > 0 {
        let pruned = Graph::read(&bytes)?;
        bytes = finetune::finetune(&pruned, graph, train, outputs, schedule, method.id())?;
    }
    Ok(Pruned {
        bytes,
        cost: s.cost(&widths)?,
        flops: s.flops(&widths)?,
        widths,
    })
}
