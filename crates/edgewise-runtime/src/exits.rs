//! Early exits: a model with several classifier outputs (exits) after successive blocks runs
//! stage by stage and stops at the first exit confident enough for every row of the batch.
//!
//! The exits are named by the model's metadata (`edgewise.exits`: output names, comma
//! separated, in the order the model computes them, the last being the full model's output)
//! or by [`crate::SessionOptions::exits`]. The session plans them once at create
//! ([`crate::plan::exit_stages`]): stage boundaries fall where each exit can be read.

use edgewise_core::{Error, Result};
use tract_onnx::prelude::*;

/// The metadata key that lists a model's exits.
pub const METADATA_KEY: &str = "edgewise.exits";

/// When a run stops early: after stage `after[j]`, exit `names[j]` is read, and the run stops
/// there if every row's confidence reaches `threshold`. The last exit always answers.
pub(crate) struct ExitRule<'a> {
    pub names: &'a [String],
    pub after: &'a [usize],
    pub threshold: f32,
}

/// Which exit answered a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Answered {
    /// Its index among the exits (the last is the full model).
    pub exit: usize,
    /// Per row of the batch, the largest softmax probability of its output.
    pub confidence: Vec<f32>,
    /// Stages run, of the exit plan's.
    pub stages_run: usize,
}

/// Per row (every axis but the last), the largest softmax probability of the logits `v`.
pub(crate) fn confidence(name: &str, v: &Tensor) -> Result<Vec<f32>> {
    let shape = v.shape();
    let classes = shape.last().copied().unwrap_or(0);
    if v.datum_type() != f32::datum_type() || classes == 0 {
        return Err(Error::Runtime(format!(
            "exit '{name}' must be float32 logits with classes on the last axis, got {:?} {:?}",
            v.datum_type(),
            shape
        )));
    }
    let plain = v
        .try_as_plain_ram()
        .map_err(|e| Error::Runtime(format!("exit '{name}': {e:#}")))?;
    let data = plain
        .as_slice::<f32>()
        .map_err(|e| Error::Runtime(format!("exit '{name}': {e:#}")))?;
    Ok(data
        .chunks(classes)
        .map(|row| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|&x| (x - max).exp()).sum();
            1.0 / sum
        })
        .collect())
}

/// The exits a model's metadata lists, if any.
pub(crate) fn from_metadata(proto: &tract_onnx::pb::ModelProto) -> Vec<String> {
    proto
        .metadata_props
        .iter()
        .find(|p| p.key == METADATA_KEY)
        .map(|p| {
            p.value
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_the_largest_softmax_probability_per_row() {
        let t = tensor2(&[[0.0f32, 0.0], [3.0, 1.0]]);
        let c = confidence("e", &t).unwrap();
        assert!((c[0] - 0.5).abs() < 1e-6);
        let want = 3f32.exp() / (3f32.exp() + 1f32.exp());
        assert!((c[1] - want).abs() < 1e-6, "{c:?}");
        let ints = tensor1(&[1i64, 2]);
        let e = confidence("e", &ints).unwrap_err().to_string();
        assert!(e.contains("exit 'e' must be float32"), "{e}");
    }
}
