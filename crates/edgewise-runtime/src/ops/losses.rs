//! NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, the ONNX operators, which tract does
//! not have.
//!
//! Input `[N, C, d1 … dk]` (log-probabilities, or scores that SoftmaxCrossEntropyLoss turns
//! into log-probabilities along axis 1), integer targets `[N, d1 … dk]`, optional class weights
//! `[C]`. Each position loses `−input[n, target, d] · weight[target]`; a target equal to
//! `ignore_index` loses nothing and weighs nothing. `reduction`: `none` keeps the per-position
//! losses, `sum` adds them, `mean` divides the sum by the total weight. SoftmaxCrossEntropyLoss
//! also returns the log-probabilities when asked for a second output. Computed in f64, returned
//! in the input's type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, wrap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduction {
    None,
    Sum,
    Mean,
}

/// Either loss; `softmax` makes it SoftmaxCrossEntropyLoss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loss {
    softmax: bool,
    reduction: Reduction,
    ignore_index: Option<i64>,
    weighted: bool,
    log_prob: bool,
}

fn parse(node: &NodeProto, softmax: bool) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let reduction = match node.get_attr_opt::<String>("reduction")?.as_deref() {
        None | Some("mean") => Reduction::Mean,
        Some("sum") => Reduction::Sum,
        Some("none") => Reduction::None,
        Some(other) => bail!("{} node '{}': reduction '{other}'", node.op_type, node.name),
    };
    let inputs = node.input.iter().filter(|n| !n.is_empty()).count();
    let outputs = node.output.iter().filter(|n| !n.is_empty()).count();
    ensure!(
        node.output.len() < 2 || !node.output[1].is_empty() || outputs == 1,
        "{} node '{}': unexpected outputs",
        node.op_type,
        node.name
    );
    let op = Loss {
        softmax,
        reduction,
        ignore_index: node.get_attr_opt("ignore_index")?,
        weighted: inputs == 3,
        log_prob: softmax && outputs == 2,
    };
    wrap(op, outputs, rules)
}

pub(crate) fn parse_nll(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    parse(node, false)
}

pub(crate) fn parse_sce(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    parse(node, true)
}

fn rules<'p>(
    op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    let op = op
        .downcast_ref::<super::Own<Loss>>()
        .map(|o| &o.0)
        .context("a loss op")?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    if op.reduction == Reduction::None {
        s.equals(&outputs[0].shape, &inputs[1].shape)?;
    } else {
        s.equals(&outputs[0].rank, 0)?;
    }
    if op.log_prob {
        s.equals(&outputs[1].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[1].shape, &inputs[0].shape)?;
    }
    Ok(())
}

impl Kernel for Loss {
    fn name(&self) -> StaticName {
        if self.softmax {
            "SoftmaxCrossEntropyLoss".into()
        } else {
            "NegativeLogLikelihoodLoss".into()
        }
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let dt = inputs[0].datum_type;
        let loss = if self.reduction == Reduction::None {
            dt.fact(inputs[1].shape.clone())
        } else {
            dt.scalar_fact()
        };
        let mut facts = tvec![loss];
        if self.log_prob {
            facts.push(dt.fact(inputs[0].shape.clone()));
        }
        Ok(facts)
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let dt = inputs[0].datum_type();
        let shape = inputs[0].shape().to_vec();
        ensure!(
            shape.len() >= 2,
            "the input must be [N, C, …], got {shape:?}"
        );
        let (n, c) = (shape[0], shape[1]);
        let d: usize = shape[2..].iter().product();
        let x = inputs[0].cast_to::<f64>()?;
        let mut x: Vec<f64> = x.to_plain_array_view::<f64>()?.iter().copied().collect();
        let targets = inputs[1].cast_to::<i64>()?;
        let targets: Vec<i64> = targets
            .to_plain_array_view::<i64>()?
            .iter()
            .copied()
            .collect();
        ensure!(
            targets.len() == n * d,
            "{} targets for an input of shape {shape:?}",
            targets.len()
        );
        let weights: Option<Vec<f64>> = if self.weighted {
            let w = inputs[2].cast_to::<f64>()?;
            Some(w.to_plain_array_view::<f64>()?.iter().copied().collect())
        } else {
            None
        };
        if self.softmax {
            log_softmax(&mut x, n, c, d);
        }
        let mut losses = vec![0f64; n * d];
        let (mut total, mut total_weight) = (0f64, 0f64);
        for i in 0..n {
            for p in 0..d {
                let t = targets[i * d + p];
                if Some(t) == self.ignore_index {
                    continue;
                }
                ensure!(
                    (0..c as i64).contains(&t),
                    "target {t} at [{i}, {p}] is not a class of 0..{c}"
                );
                let w = weights.as_ref().map_or(1.0, |w| w[t as usize]);
                let loss = -x[(i * c + t as usize) * d + p] * w;
                losses[i * d + p] = loss;
                total += loss;
                total_weight += w;
            }
        }
        let loss = match self.reduction {
            Reduction::None => Tensor::from_shape(inputs[1].shape(), &losses)?,
            Reduction::Sum => tensor0(total),
            Reduction::Mean => tensor0(total / total_weight),
        };
        let mut out = tvec![loss.cast_to_dt(dt)?.into_owned().into_tvalue()];
        if self.log_prob {
            let lp = Tensor::from_shape(&shape, &x)?;
            out.push(lp.cast_to_dt(dt)?.into_owned().into_tvalue());
        }
        Ok(out)
    }
}

/// Log-softmax along axis 1 of `[n, c, d]`.
fn log_softmax(x: &mut [f64], n: usize, c: usize, d: usize) {
    for i in 0..n {
        for p in 0..d {
            let at = |k: usize| (i * c + k) * d + p;
            let max = (0..c).map(|k| x[at(k)]).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..c).map(|k| (x[at(k)] - max).exp()).sum();
            let log_sum = sum.ln() + max;
            for k in 0..c {
                x[at(k)] -= log_sum;
            }
        }
    }
}
