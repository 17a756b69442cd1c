//! A guard on tract's folding of quantize–dequantize chains.
//!
//! tract folds `DequantizeLinear → op → … → QuantizeLinear` into a 256-entry lookup table
//! when every op between looks element-wise, judging by its axes mapping. Softmax (and other
//! ops that normalize along an axis) map their axes one to one although each output depends on
//! a whole row: the table then computes the softmax of the 256 table entries, not of the row,
//! and the model's result is wrong (seen on a QDQ-quantized Whisper encoder: 0.28 instead of
//! 0.97). Before tract's optimizer runs, each dequantization whose chain reaches such an op is
//! written out as `(x − zero_point) · scale` in plain float ops, which tract does not fold.

use edgewise_core::{Error, Result};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cast::{Cast, cast};
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math::{mul, sub};
use tract_onnx::tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearI8, QuantizeLinearU8};

/// Rewrites the dequantizations whose folding would be wrong; see the module docs.
pub(crate) fn guard_dequantize_chains(model: &mut TypedModel) -> Result<()> {
    let err = |e: TractError| Error::InvalidModel(format!("quantized chains: {e:#}"));
    let unsafe_ones: Vec<usize> = model
        .nodes()
        .iter()
        .filter(|n| n.op_is::<DequantizeLinearF32>())
        .map(|n| Ok((n.id, folds_wrongly(model, n.id)?)))
        .collect::<TractResult<Vec<_>>>()
        .map_err(err)?
        .into_iter()
        .filter_map(|(id, wrong)| wrong.then_some(id))
        .collect();
    for id in unsafe_ones {
        write_out(model, id).map_err(err)?;
    }
    Ok(())
}

/// Whether tract's walk from this dequantization would pass an op that only looks
/// element-wise before reaching a quantization.
fn folds_wrongly(model: &TypedModel, dequant: usize) -> TractResult<bool> {
    let mut current = dequant;
    let mut suspect = false;
    while let Some(next) = model.single_succ(current)? {
        if let Some(op) = next.op_as::<ElementWiseOp>() {
            if op.0.is::<QuantizeLinearU8>() || op.0.is::<QuantizeLinearI8>() {
                return Ok(suspect);
            }
        } else if !next.op_is::<Cast>() {
            let (inputs, outputs) = model.node_facts(next.id)?;
            if !next
                .op
                .axes_mapping(&inputs, &outputs)?
                .is_element_wise_unary()
            {
                return Ok(false);
            }
            suspect = true;
        }
        current = next.id;
    }
    Ok(false)
}

/// Replaces the dequantization by `(cast(x) − zero_point) · scale`.
fn write_out(model: &mut TypedModel, id: usize) -> TractResult<()> {
    let node = model.node(id);
    let op = node
        .op_as::<DequantizeLinearF32>()
        .context("not a dequantization")?
        .clone();
    let rank = model.outlet_fact(node.inputs[0])?.rank();
    let name = node.name.clone();
    let mut patch = TypedModelPatch::default();
    let x = patch.tap_model(model, node.inputs[0])?;
    let zero_point = tensor0(op.zero_point as f32).broadcast_into_rank(rank)?;
    let scale = tensor0(op.scale).broadcast_into_rank(rank)?;
    let zero_point = patch.add_const(format!("{name}.zero_point"), zero_point)?;
    let scale = patch.add_const(format!("{name}.scale"), scale)?;
    let x = patch.wire_node(format!("{name}.cast"), cast(f32::datum_type()), &[x])?;
    let x = patch.wire_node(format!("{name}.sub"), sub(), &[x[0], zero_point])?;
    let y = patch.wire_node(format!("{name}.mul"), mul(), &[x[0], scale])?;
    patch.shunt_outside(model, OutletId::new(id, 0), y[0])?;
    patch.apply(model)
}
