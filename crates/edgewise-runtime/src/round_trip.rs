//! Quantize → dequantize pairs of an optimized model as one float-to-float pass.
//!
//! QDQ-quantized models (smart-turn: 78 `QuantizeLinear`, 114 `DequantizeLinear`) round every
//! activation through int8 in float code: tract runs `QuantizeLinear` as an element-wise op
//! writing a u8 tensor one scalar at a time, then `DequantizeLinearF32` reading it back, about
//! a third of such a model's run. [`fuse`] replaces each `DequantizeLinearF32` fed by a
//! float32 quantization, directly or through shape-only ops (`Reshape`, `Move`), with a
//! [`RoundTrip`] op running `edgewise_kernels::quant` in place (the shape ops then reshape
//! float32 data): one vectorized pass, no integer tensor. The steps are tract's own, so
//! outputs are bit-identical (wherever `x · inv_scale` fits an `i32`; see the kernel). A quantization read by several dequantizations is rounded once
//! per reader; one read by anything else stays in the graph for it.

use edgewise_kernels::quant::{self, RoundTrip as Constants};
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearI8, QuantizeLinearU8};
use tract_onnx::tract_core::tract_linalg::multithread::par_chunks_mut;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// A quantize → dequantize round trip on a float32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoundTrip(Constants);

impl Eq for RoundTrip {}

impl Op for RoundTrip {
    fn name(&self) -> StaticName {
        "RoundTrip".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let c = &self.0;
        Ok(vec![format!(
            "quantize ×{} + {} in [{}, {}], dequantize (q − {}) × {}",
            c.inv_scale, c.zero_point, c.lo, c.hi, c.dq_zero_point, c.dq_scale
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for RoundTrip {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1, "RoundTrip takes one input");
        let mut tensor = inputs.remove(0).into_tensor();
        ensure!(
            tensor.datum_type() == f32::datum_type(),
            "RoundTrip runs on float32, got {:?}",
            tensor.datum_type()
        );
        // Rows (the last axis) go to the pool's threads in the multi-threaded build.
        let row = tensor.shape().last().copied().unwrap_or(1).max(1);
        {
            let mut view = tensor.try_as_plain_ram_mut()?;
            let x = view.as_slice_mut::<f32>()?;
            let work = x.len() * 2;
            par_chunks_mut(x, row, work, |_, rows| {
                quant::round_trip(rows, self.0);
                Ok(())
            })?;
        }
        Ok(tvec!(tensor.into_tvalue()))
    }
}

impl TypedOp for RoundTrip {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }
}

/// The constants of a quantization op: inverse scale, zero point, integer range.
fn quantization(node: &TypedNode) -> Option<(f32, i32, i32, i32)> {
    let op = node.op_as::<ElementWiseOp>()?;
    if let Some(q) = op.0.downcast_ref::<QuantizeLinearU8>() {
        return Some((q.scale, q.zero_point as i32, 0, 255));
    }
    let q = op.0.downcast_ref::<QuantizeLinearI8>()?;
    Some((q.scale, q.zero_point as i32, -128, 127))
}

/// A quantization's node, its constants, and the shape ops after it, first to last.
type Found = (usize, (f32, i32, i32, i32), Vec<usize>);

/// The quantization a dequantization reads, through shape-only ops (`Reshape`, `Move`, …)
/// that nothing else reads.
fn quantization_before(model: &TypedModel, dq: &TypedNode) -> Option<Found> {
    let mut between = vec![];
    let mut outlet = dq.inputs[0];
    loop {
        let node = model.node(outlet.node);
        if let Some(constants) = quantization(node) {
            between.reverse();
            return Some((node.id, constants, between));
        }
        if !node.op_is::<AxisOp>() || node.outputs[0].successors.len() != 1 {
            return None;
        }
        between.push(node.id);
        outlet = node.inputs[0];
    }
}

/// Replaces each dequantization of a float32 quantization; returns how many. Shape ops
/// between the two move in front of the dequantization (they then reshape float32 data).
pub(crate) fn fuse(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(dq) = node.op_as::<DequantizeLinearF32>() else {
            continue;
        };
        let Some((q, (inv_scale, zero_point, lo, hi), between)) = quantization_before(model, node)
        else {
            continue;
        };
        let input = model.node(q).inputs[0];
        if model.outlet_fact(input)?.datum_type != f32::datum_type() {
            continue;
        }
        let op = RoundTrip(Constants {
            inv_scale,
            zero_point,
            lo,
            hi,
            dq_zero_point: dq.zero_point,
            dq_scale: dq.scale,
        });
        let mut patch = TypedModelPatch::default();
        let mut wire = patch.tap_model(model, input)?;
        wire = patch.wire_node(&node.name, op, &[wire])?[0];
        for shape_op in between {
            let shape_node = model.node(shape_op);
            let name = format!("{}.float", shape_node.name);
            wire = patch.wire_node(name, shape_node.op.clone(), &[wire])?[0];
        }
        patch.shunt_outside(model, id.into(), wire)?;
        patch.apply(model)?;
        replaced += 1;
    }
    if replaced > 0 {
        model.compact()?;
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::quant::{quantize_linear_i8, quantize_linear_u8};

    /// `x → QuantizeLinear → DequantizeLinear` (u8 or i8) on a 3 × 333 input, with a
    /// transposition between the two or not, optimized, fused or not; the output, and the
    /// model's ops.
    fn run(signed: bool, moved: bool, fused: bool, xs: &[f32]) -> (Tensor, Vec<String>) {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([3, 333])).unwrap();
        let q = if signed {
            model.wire_node("q", quantize_linear_i8(1.0 / 0.05, -7), &[x])
        } else {
            model.wire_node("q", quantize_linear_u8(1.0 / 0.05, 131), &[x])
        }
        .unwrap();
        let q = if moved {
            model.wire_node("move", AxisOp::Move(0, 1), &q).unwrap()
        } else {
            q
        };
        let zero_point = if signed { -7 } else { 131 };
        let y = model
            .wire_node("dq", DequantizeLinearF32::new(0.05, zero_point), &q)
            .unwrap();
        model.select_output_outlets(&y).unwrap();
        let mut model = model.into_optimized().unwrap();
        if fused {
            assert_eq!(fuse(&mut model).unwrap(), 1, "{model}");
        }
        let ops = model
            .nodes()
            .iter()
            .map(|n| n.op.name().to_string())
            .collect();
        let input = Tensor::from_shape(&[3, 333], xs).unwrap();
        let out = model
            .into_runnable()
            .unwrap()
            .run(tvec!(input.into_tvalue()))
            .unwrap()
            .remove(0)
            .into_tensor();
        (out, ops)
    }

    #[test]
    fn fused_round_trips_match_the_two_ops_bit_for_bit() {
        let xs: Vec<f32> = (0..999).map(|i| (i as f32 - 499.0) * 0.0213).collect();
        for (signed, moved) in [(false, false), (true, false), (false, true), (true, true)] {
            let (reference, before) = run(signed, moved, false, &xs);
            let (fused, after) = run(signed, moved, true, &xs);
            assert!(
                before.iter().any(|o| o == "DequantizeLinearF32"),
                "{before:?}"
            );
            let expected: &[&str] = if moved {
                &["Source", "RoundTrip", "MoveAxis"]
            } else {
                &["Source", "RoundTrip"]
            };
            assert_eq!(after, expected, "signed {signed}, moved {moved}");
            assert_eq!(fused, reference, "signed {signed}, moved {moved}");
            // The round trip does something: the inputs (steps of 0.0213) snap to multiples
            // of the scale.
            let plain = fused.to_plain_array_view::<f32>().unwrap();
            assert!(
                plain
                    .iter()
                    .all(|v| (v / 0.05 - (v / 0.05).round()).abs() < 1e-3)
            );
        }
    }
}
