//! Per-channel element-wise chains as one op.
//!
//! After tract's optimizer, the batch-norm, scale, shift and ReLU layers around convolutions
//! that it could not fold into a matmul remain as `OptBinChain` / `OptBinByScalar` /
//! `OptBinUnicast` (or plain `TypedBinOp`) nodes whose operands are constants broadcast along
//! one axis. tract runs
//! many of them through generic ndarray loops (16 % of densenet121's run in
//! `bench/profile.md`). [`fuse`] replaces each such node with a [`ChannelChain`]: the
//! constants are gathered per channel into stages `min(max(x · m + a, lo), hi)` that round
//! exactly as the ops one after the other do (a batch norm and a ReLU make one stage), and
//! the chain runs in place, one pass per stage over each channel's run, with the kernels of
//! `edgewise_kernels::channel`.

use edgewise_kernels::channel::{self, Stage};
use tract_onnx::tract_core::ops::binary::{OptBinByScalar, OptBinChain, OptBinUnicast, TypedBinOp};
use tract_onnx::tract_core::tract_linalg::BinOp;
use tract_onnx::tract_core::tract_linalg::multithread::par_chunks_mut;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// One stage of a chain, `min(max(x · mul + add, lo), hi)`, with one value per channel.
#[derive(Debug, Clone, PartialEq)]
struct StageSet {
    mul: Vec<f32>,
    add: Vec<f32>,
    lo: Vec<f32>,
    hi: Vec<f32>,
}

impl StageSet {
    fn identity(channels: usize) -> Self {
        let id = Stage::IDENTITY;
        StageSet {
            mul: vec![id.mul; channels],
            add: vec![id.add; channels],
            lo: vec![id.lo; channels],
            hi: vec![id.hi; channels],
        }
    }

    fn stage(&self, c: usize) -> Stage {
        Stage {
            mul: self.mul[c],
            add: self.add[c],
            lo: self.lo[c],
            hi: self.hi[c],
        }
    }
}

/// A chain of per-channel affine maps and clamps, applied in place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChannelChain {
    /// The channel axis; `None` when every constant is a scalar.
    axis: Option<usize>,
    /// Channels (1 when `axis` is `None`).
    channels: usize,
    /// The operations as found, one value per channel: what [`Self::stages`] were folded
    /// from, kept so that two chains in a row can be merged.
    ops: Vec<(BinOp, Vec<f32>)>,
    stages: Vec<StageSet>,
}

impl Eq for ChannelChain {}

impl ChannelChain {
    /// Folds `ops` (each `x = op(x, b)` with `b` holding one value per channel, or one for
    /// all) into stages, keeping every rounding of the ops one after the other: a stage
    /// multiplies, then adds, then clamps, and a step that does not fit that order (a second
    /// multiplication, an addition after a clamp) starts the next stage. Clamps compose
    /// exactly into one `[lo, hi]`. `None` if a constant is NaN.
    fn fold(axis: Option<usize>, channels: usize, ops: &[(BinOp, Vec<f32>)]) -> Option<Self> {
        let ops: Vec<(BinOp, Vec<f32>)> = ops
            .iter()
            .map(|(op, b)| {
                (
                    *op,
                    if b.len() == channels {
                        b.clone()
                    } else {
                        vec![b[0]; channels]
                    },
                )
            })
            .collect();
        if ops.iter().any(|(_, b)| b.iter().any(|v| v.is_nan())) {
            return None;
        }
        // What the last stage holds so far.
        #[derive(Default)]
        struct Used {
            mul: bool,
            add: bool,
            clamp: bool,
        }
        let mut stages = vec![StageSet::identity(channels)];
        let mut used = Used::default();
        for (op, b) in &ops {
            let fits = match op {
                BinOp::Mul => !used.mul && !used.add && !used.clamp,
                BinOp::Add | BinOp::Sub => !used.add && !used.clamp,
                BinOp::SubF => !used.mul && !used.add && !used.clamp,
                BinOp::Max | BinOp::Min => true,
            };
            if !fits {
                stages.push(StageSet::identity(channels));
                used = Used::default();
            }
            let s = stages.last_mut()?;
            for (c, &v) in b.iter().enumerate() {
                match op {
                    BinOp::Mul => s.mul[c] = v,
                    BinOp::Add => s.add[c] = v,
                    // x − v = x + (−v), and v − x = (−1 · x) + v, both exactly.
                    BinOp::Sub => s.add[c] = -v,
                    BinOp::SubF => {
                        s.mul[c] = -1.0;
                        s.add[c] = v;
                    }
                    // max(min(max(y, lo), hi), v) = min(max(y, max(lo, v)), max(hi, v))
                    BinOp::Max => {
                        s.lo[c] = s.lo[c].max(v);
                        s.hi[c] = s.hi[c].max(v);
                    }
                    // min(min(max(y, lo), hi), v) = min(max(y, lo), min(hi, v))
                    BinOp::Min => s.hi[c] = s.hi[c].min(v),
                }
            }
            match op {
                BinOp::Mul => used.mul = true,
                BinOp::Add | BinOp::Sub => used.add = true,
                BinOp::SubF => {
                    used.mul = true;
                    used.add = true;
                }
                BinOp::Max | BinOp::Min => used.clamp = true,
            }
        }
        Some(ChannelChain {
            axis,
            channels,
            ops,
            stages,
        })
    }

    /// This chain followed by `next`, when both run along the same axis.
    fn then(&self, next: &ChannelChain) -> Option<ChannelChain> {
        let (axis, channels) = match (self.axis, next.axis) {
            (Some(a), Some(b)) if a == b => (Some(a), self.channels),
            (Some(a), None) => (Some(a), self.channels),
            (None, Some(b)) => (Some(b), next.channels),
            (None, None) => (None, 1),
            _ => return None,
        };
        let mut ops = self.ops.clone();
        ops.extend(next.ops.iter().cloned());
        Self::fold(axis, channels, &ops)
    }

    /// Runs the chain over `x`, laid out as `shape`.
    fn run(&self, x: &mut [f32], shape: &[usize]) -> TractResult<()> {
        let (outer, inner) = match self.axis {
            Some(axis) => (
                shape[..axis].iter().product::<usize>(),
                shape[axis + 1..].iter().product::<usize>(),
            ),
            None => (1, x.len()),
        };
        let channels = self.channels;
        // Rows of whole runs go to the pool's threads in the multi-threaded build (inline
        // below tract's element threshold, and always in the single-threaded build).
        let work = x.len() * self.stages.len();
        if inner == 1 && channels > 1 {
            // Channel-last: one set of constants per lane of each row.
            return par_chunks_mut(x, channels, work, |_, rows| {
                for row in rows.chunks_exact_mut(channels) {
                    for s in &self.stages {
                        channel::stage_lanes(row, &s.mul, &s.add, &s.lo, &s.hi);
                    }
                }
                Ok(())
            });
        }
        let inner = inner.max(1);
        let len = (outer * channels * inner).min(x.len());
        par_chunks_mut(&mut x[..len], inner, work, |first, runs| {
            for (ix, run) in runs.chunks_exact_mut(inner).enumerate() {
                let c = (first + ix) % channels;
                for s in &self.stages {
                    channel::stage_plane(run, s.stage(c));
                }
            }
            Ok(())
        })
    }
}

impl Op for ChannelChain {
    fn name(&self) -> StaticName {
        "ChannelChain".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "axis {:?}, {} channels, {} stages",
            self.axis,
            self.channels,
            self.stages.len()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for ChannelChain {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1, "ChannelChain takes one input");
        let mut tensor = inputs.remove(0).into_tensor();
        ensure!(
            tensor.datum_type() == f32::datum_type(),
            "ChannelChain runs on float32"
        );
        let shape = tensor.shape().to_vec();
        if let Some(axis) = self.axis {
            ensure!(
                shape.get(axis) == Some(&self.channels),
                "ChannelChain: {} channels expected on axis {axis}, got shape {shape:?}",
                self.channels
            );
        }
        {
            let mut view = tensor.try_as_plain_ram_mut()?;
            let x = view.as_slice_mut::<f32>()?;
            self.run(x, &shape)?;
        }
        Ok(tvec!(tensor.into_tvalue()))
    }
}

impl TypedOp for ChannelChain {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }
}

/// The element-wise steps of a binary node: the input that flows through the chain and each
/// step's operand outlet.
fn steps_of(model: &TypedModel, node: &TypedNode) -> Option<(OutletId, Vec<(BinOp, OutletId)>)> {
    if let Some(chain) = node.op_as::<OptBinChain>() {
        let steps = chain
            .steps
            .iter()
            .zip(&node.inputs[1..])
            .map(|(s, i)| (s.linalg_op, *i));
        return Some((node.inputs[0], steps.collect()));
    }
    if let Some(op) = node.op_as::<OptBinByScalar>() {
        return Some((node.inputs[0], vec![(op.linalg_op, *node.inputs.get(1)?)]));
    }
    let (binop, generic) = if let Some(op) = node.op_as::<OptBinUnicast>() {
        (&op.binop, false)
    } else if let Some(op) = node.op_as::<TypedBinOp>() {
        (&op.0, true)
    } else {
        return None;
    };
    let linalg = match binop.name() {
        "Add" => BinOp::Add,
        "Mul" => BinOp::Mul,
        "Sub" => BinOp::Sub,
        "Max" => BinOp::Max,
        "Min" => BinOp::Min,
        _ => return None,
    };
    let (x, b) = (*node.inputs.first()?, *node.inputs.get(1)?);
    let is_const = |o: OutletId| model.outlet_fact(o).is_ok_and(|f| f.konst.is_some());
    if generic && !is_const(b) && is_const(x) {
        // `constant op x`: the constant comes first.
        let flipped = if linalg == BinOp::Sub {
            BinOp::SubF
        } else {
            linalg
        };
        return Some((b, vec![(flipped, x)]));
    }
    Some((x, vec![(linalg, b)]))
}

/// The chain a node computes, when it is one: float32 in and out of the same shape, every
/// operand a constant that is a scalar or varies along one axis only, the same for all.
fn chain_for(
    model: &TypedModel,
    node: &TypedNode,
) -> TractResult<Option<(OutletId, ChannelChain)>> {
    let Some((input, steps)) = steps_of(model, node) else {
        return Ok(None);
    };
    let a = model.outlet_fact(input)?;
    let out = model.outlet_fact(OutletId::new(node.id, 0))?;
    if a.datum_type != f32::datum_type() || out.shape != a.shape || !a.is_plain() {
        return Ok(None);
    }
    let rank = a.rank();
    let mut axis: Option<usize> = None;
    let mut ops = vec![];
    for (op, operand) in steps {
        let fact = model.outlet_fact(operand)?;
        let Some(konst) = fact.konst.as_ref() else {
            return Ok(None);
        };
        if konst.datum_type() != f32::datum_type() || konst.rank() > rank || !konst.is_plain() {
            return Ok(None);
        }
        let offset = rank - konst.rank();
        let varying: Vec<usize> = konst
            .shape()
            .iter()
            .enumerate()
            .filter(|(_, d)| **d != 1)
            .map(|(i, _)| i + offset)
            .collect();
        match varying.as_slice() {
            [] => {}
            [ax] => {
                if a.shape[*ax].to_usize().ok() != Some(konst.len())
                    || axis.is_some_and(|x| x != *ax)
                {
                    return Ok(None);
                }
                axis = Some(*ax);
            }
            _ => return Ok(None),
        }
        let values = konst.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        ops.push((op, values));
    }
    let channels = match axis {
        Some(ax) => a.shape[ax].to_usize()?,
        None => 1,
    };
    Ok(ChannelChain::fold(axis, channels, &ops).map(|chain| (input, chain)))
}

/// Replaces every per-channel constant chain of an optimized model with a [`ChannelChain`].
/// Returns how many nodes it replaced.
pub(crate) fn fuse(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some((input, chain)) = chain_for(model, node)? else {
            continue;
        };
        let patch = TypedModelPatch::replace_single_op(model, node, &[input], chain)?;
        patch.apply(model)?;
        replaced += 1;
    }
    // Chains of single steps (tract leaves channel-last ones as separate nodes) become one.
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(next) = node.op_as::<ChannelChain>() else {
            continue;
        };
        let prev_outlet = node.inputs[0];
        let prev = model.node(prev_outlet.node);
        let Some(first) = prev.op_as::<ChannelChain>() else {
            continue;
        };
        if prev.outputs[0].successors.len() != 1 || model.output_outlets()?.contains(&prev_outlet) {
            continue;
        }
        let Some(merged) = first.then(next) else {
            continue;
        };
        let input = prev.inputs[0];
        let patch = TypedModelPatch::replace_single_op(model, node, &[input], merged)?;
        patch.apply(model)?;
    }
    if replaced > 0 {
        model.compact()?;
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgewise_onnx::fixtures::pseudo_random;
    use tract_onnx::tract_core::ops::change_axes::wire_with_rank_broadcast;
    use tract_onnx::tract_core::ops::math;

    /// `x` through each `(op, constant)` in turn; `"subf"` is `constant - x`.
    fn chain_model(shape: &[usize], ops: &[(&str, Tensor)]) -> TypedModel {
        let mut model = TypedModel::default();
        let mut x = model.add_source("x", f32::fact(shape)).unwrap();
        for (ix, (kind, konst)) in ops.iter().enumerate() {
            let c = model.add_const(format!("c{ix}"), konst.clone()).unwrap();
            let (op, inputs) = match *kind {
                "mul" => (math::mul(), [x, c]),
                "add" => (math::add(), [x, c]),
                "sub" => (math::sub(), [x, c]),
                "subf" => (math::sub(), [c, x]),
                "max" => (math::max(), [x, c]),
                "min" => (math::min(), [x, c]),
                other => panic!("{other}"),
            };
            x = wire_with_rank_broadcast(format!("op{ix}"), &mut model, op, &inputs).unwrap()[0];
        }
        model.select_output_outlets(&[x]).unwrap();
        model
    }

    fn run(model: TypedModel, input: &Tensor) -> Tensor {
        let plan = model.into_runnable().unwrap();
        plan.run(tvec!(input.clone().into_tvalue()))
            .unwrap()
            .remove(0)
            .into_tensor()
    }

    fn per_channel(shape: &[usize], seed: u32) -> Tensor {
        let len = shape.iter().product();
        Tensor::from_shape(shape, &pseudo_random(len, seed, 2.0)).unwrap()
    }

    /// Optimizes `model` with tract, then checks that `fuse` leaves one chain and that the
    /// fused plan computes exactly what tract's own plan computes.
    fn check(shape: &[usize], ops: &[(&str, Tensor)]) {
        let optimized = chain_model(shape, ops).into_optimized().unwrap();
        let input = per_channel(shape, 99);
        let expected = run(optimized.clone(), &input);
        let mut fused = optimized;
        let replaced = fuse(&mut fused).unwrap();
        assert!(
            replaced >= 1,
            "nothing fused for {shape:?} {ops:?}:\n{fused}"
        );
        let chains = fused
            .nodes()
            .iter()
            .filter(|n| n.op_is::<ChannelChain>())
            .count();
        assert_eq!(chains, 1, "one chain expected:\n{fused}");
        let got = run(fused, &input);
        let (e, g) = (
            expected.try_as_plain_ram().unwrap(),
            got.try_as_plain_ram().unwrap(),
        );
        let (e, g) = (e.as_slice::<f32>().unwrap(), g.as_slice::<f32>().unwrap());
        // The same roundings in the same order: the same numbers (a zero may change sign).
        for (i, (e, g)) in e.iter().zip(g).enumerate() {
            assert!(
                e == g || (e.is_nan() && g.is_nan()),
                "{shape:?} at {i}: {g} vs {e}"
            );
        }
    }

    #[test]
    fn batch_norm_scale_shift_relu_channel_first() {
        let c = [1, 8, 1, 1];
        check(
            &[2, 8, 5, 7],
            &[
                ("mul", per_channel(&c, 1)),
                ("add", per_channel(&c, 2)),
                ("mul", per_channel(&c, 3)),
                ("add", per_channel(&c, 4)),
                ("max", tensor0(0f32)),
            ],
        );
    }

    #[test]
    fn subtraction_both_ways_and_a_clamp() {
        let c = [3, 1, 1];
        check(
            &[1, 3, 4, 4],
            &[
                ("sub", per_channel(&c, 5)),
                ("subf", per_channel(&c, 6)),
                ("max", tensor0(-0.5f32)),
                ("min", per_channel(&c, 7)),
                ("mul", tensor0(2f32)),
            ],
        );
    }

    #[test]
    fn clamps_that_cross_compose_in_order() {
        check(
            &[1, 2, 3, 5],
            &[
                ("min", tensor0(-1f32)),
                ("max", tensor0(1f32)),
                ("add", per_channel(&[1, 2, 1, 1], 12)),
            ],
        );
        check(
            &[1, 2, 3, 5],
            &[("max", tensor0(0.5f32)), ("min", tensor0(0.2f32))],
        );
    }

    #[test]
    fn channel_last_constants() {
        let c = [1, 1, 16];
        check(
            &[1, 6, 16],
            &[("mul", per_channel(&c, 8)), ("add", per_channel(&c, 9))],
        );
    }

    #[test]
    fn a_single_per_channel_step() {
        check(&[1, 4, 9, 9], &[("add", per_channel(&[1, 4, 1, 1], 10))]);
    }

    #[test]
    fn operands_that_vary_along_two_axes_are_left_alone() {
        let shape = [1, 4, 3, 3];
        let optimized = chain_model(&shape, &[("mul", per_channel(&[1, 4, 3, 1], 11))])
            .into_optimized()
            .unwrap();
        let mut fused = optimized.clone();
        assert_eq!(fuse(&mut fused).unwrap(), 0);
    }
}
