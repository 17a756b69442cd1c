//! Gathering rows of a constant table before its element-wise decoding.
//!
//! Quantized embedding tables are stored compactly (int8 plus a scale per row) and decoded by
//! element-wise ops (`Cast`, `Mul`, `DequantizeLinear`) in front of the `Gather` that picks a
//! few rows. tract folds constants only while the result stays within a memory budget, so a
//! table whose float form is larger (minilm's 30522 × 384 words: 47 MB in float32) is decoded
//! whole on every run, then 16 rows of it are kept: 40 of minilm's 50 ms per run.
//! [`gather_first`] moves each such `Gather` in front of the decoding: the rows are gathered
//! from the stored table, and only they are decoded. The constant operands of the decoding
//! follow: one with the gathered axis of length 1 is reshaped to the gathered layout, one that
//! runs along it (a scale per row) is gathered with the same indices. Each output element goes
//! through the same operations as before, so results are bit-identical.

use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::Gather;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::quant::DequantizeLinearF32;

/// Rewrites every `Gather` of an element-wise decoded constant table; see the module docs.
pub(crate) fn gather_first(model: &mut TypedModel) -> TractResult<()> {
    let gathers: Vec<usize> = model
        .nodes()
        .iter()
        .filter(|n| n.op_as::<Gather>().is_some_and(|g| g.output_type.is_none()))
        .map(|n| n.id)
        .collect();
    for id in gathers {
        if let Some(chain) = decoding_chain(model, id)? {
            rewrite(model, id, &chain)?;
        }
    }
    Ok(())
}

/// The element-wise nodes between a constant table and the gather at `id`, table first, each
/// with the position of its input on the chain; `None` when the gather's data is not such a
/// chain or the chain is empty.
fn decoding_chain(model: &TypedModel, id: usize) -> TractResult<Option<Vec<(usize, usize)>>> {
    let gather = model.node(id);
    let axis = gather.op_as::<Gather>().context("not a gather")?.axis;
    let rank = model.outlet_fact(gather.inputs[0])?.rank();
    let mut chain = vec![];
    let mut outlet = gather.inputs[0];
    loop {
        let fact = model.outlet_fact(outlet)?;
        if fact.konst.is_some() && !chain.is_empty() && model.node(outlet.node).inputs.is_empty() {
            chain.reverse();
            return Ok(Some(chain));
        }
        let node = model.node(outlet.node);
        let successors = node.outputs[outlet.slot].successors.len();
        if successors != 1 || node.outputs.len() != 1 {
            return Ok(None);
        }
        let Some(data) = decoded_input(model, node, rank, axis)? else {
            return Ok(None);
        };
        chain.push((node.id, data));
        outlet = node.inputs[data];
    }
}

/// For an element-wise decoding node, the position of its one non-constant input.
fn decoded_input(
    model: &TypedModel,
    node: &TypedNode,
    rank: usize,
    axis: usize,
) -> TractResult<Option<usize>> {
    let unary = node.op_is::<Cast>()
        || node.op_is::<ElementWiseOp>()
        || node.op_is::<DequantizeLinearF32>();
    if unary {
        return Ok((node.inputs.len() == 1).then_some(0));
    }
    if !node.op_is::<TypedBinOp>() || node.inputs.len() != 2 {
        return Ok(None);
    }
    let facts = [
        model.outlet_fact(node.inputs[0])?,
        model.outlet_fact(node.inputs[1])?,
    ];
    let output = &node.outputs[0].fact;
    for (data, operand) in [(0, 1), (1, 0)] {
        let (d, c) = (facts[data], facts[operand]);
        let Some(c) = &c.konst else { continue };
        // The data keeps the output's shape (the operand only broadcasts into it), and the
        // operand lines up axis for axis.
        if d.shape != output.shape || c.rank() != rank {
            continue;
        }
        let Some(table) = d.shape.as_concrete() else {
            continue;
        };
        let along = c.shape()[axis];
        if along == 1 || along == table[axis] {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// Wires gather → decoding chain in place of decoding chain → gather.
fn rewrite(model: &mut TypedModel, id: usize, chain: &[(usize, usize)]) -> TractResult<()> {
    let gather_node = model.node(id);
    let gather = gather_node
        .op_as::<Gather>()
        .context("not a gather")?
        .clone();
    let axis = gather.axis;
    let indices_outlet = gather_node.inputs[1];
    let indices_rank = model.outlet_fact(indices_outlet)?.rank();
    let name = gather_node.name.clone();
    let mut patch = TypedModelPatch::default();
    let indices = patch.tap_model(model, indices_outlet)?;
    let (first, first_data) = chain[0];
    let table = model.node(first).inputs[first_data];
    let table = patch.tap_model(model, table)?;
    let mut wire = patch.wire_node(format!("{name}.rows"), gather.clone(), &[table, indices])?[0];
    for &(link, data) in chain {
        let node = model.node(link);
        let mut inputs = tvec![];
        for (ix, input) in node.inputs.iter().enumerate() {
            if ix == data {
                inputs.push(wire);
                continue;
            }
            let konst = model
                .outlet_fact(*input)?
                .konst
                .clone()
                .context("decoding operand is not constant")?;
            let operand_name = format!("{}.operand{ix}", node.name);
            let operand = if konst.shape()[axis] == 1 {
                let mut shape: TVec<usize> = konst.shape()[..axis].into();
                shape.extend(std::iter::repeat_n(1, indices_rank));
                shape.extend(konst.shape()[axis + 1..].iter().copied());
                let reshaped = konst.into_tensor().into_shape(&shape)?;
                patch.add_const(operand_name, reshaped)?
            } else {
                let c = patch.add_const(operand_name.clone(), konst)?;
                patch.wire_node(
                    format!("{operand_name}.rows"),
                    gather.clone(),
                    &[c, indices],
                )?[0]
            };
            inputs.push(operand);
        }
        wire = patch.wire_node(format!("{}.rows", node.name), node.op.clone(), &inputs)?[0];
    }
    patch.shunt_outside(model, id.into(), wire)?;
    patch.apply(model)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::math::mul;

    /// `Gather(Cast(table) · scale, indices)` on a 10 × 4 int8 table, with the scale per row
    /// (10 × 1) or per column (1 × 4), rewritten or not.
    fn gathered(per_row: bool, rewrite: bool) -> (Tensor, TypedModel) {
        let mut model = TypedModel::default();
        let table: Vec<i8> = (0..40).map(|i| (i * 37 % 255 - 127) as i8).collect();
        let table = model
            .add_const("table", Tensor::from_shape(&[10, 4], &table).unwrap())
            .unwrap();
        let scale = if per_row {
            let s: Vec<f32> = (0..10).map(|i| 0.01 + i as f32 * 0.003).collect();
            Tensor::from_shape(&[10, 1], &s).unwrap()
        } else {
            Tensor::from_shape(&[1, 4], &[0.5f32, 0.25, 0.125, 0.1]).unwrap()
        };
        let scale = model.add_const("scale", scale).unwrap();
        let indices = model.add_source("ids", i64::fact([2, 3])).unwrap();
        let f = model
            .wire_node("cast", Cast::new(f32::datum_type()), &[table])
            .unwrap();
        let f = model.wire_node("mul", mul(), &[f[0], scale]).unwrap();
        let y = model
            .wire_node("gather", Gather::new(0), &[f[0], indices])
            .unwrap();
        model.select_output_outlets(&y).unwrap();
        if rewrite {
            gather_first(&mut model).unwrap();
        }
        let optimized = model.clone().into_optimized().unwrap();
        let ids = Tensor::from_shape(&[2, 3], &[9i64, 0, 3, 3, -1, 5]).unwrap();
        let out = optimized
            .into_runnable()
            .unwrap()
            .run(tvec!(ids.into_tvalue()))
            .unwrap()
            .remove(0)
            .into_tensor();
        (out, model)
    }

    #[test]
    fn gathers_before_decoding_with_identical_results() {
        for per_row in [true, false] {
            let (reference, _) = gathered(per_row, false);
            let (rewritten, model) = gathered(per_row, true);
            assert_eq!(reference.shape(), &[2, 3, 4]);
            assert_eq!(rewritten, reference, "per_row {per_row}");
            // The cast now reads the gathered rows (2 × 3 × 4), not the 10 × 4 table.
            let model = model.into_compact().unwrap();
            let casts: Vec<_> = model.nodes().iter().filter(|n| n.op_is::<Cast>()).collect();
            assert_eq!(casts.len(), 1, "{model}");
            let cast = casts[0];
            let input = model.outlet_fact(cast.inputs[0]).unwrap();
            assert_eq!(
                input.shape.as_concrete().unwrap(),
                &[2, 3, 4],
                "per_row {per_row}:\n{model}"
            );
        }
    }

    #[test]
    fn leaves_a_gather_of_runtime_data_alone() {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([10, 4])).unwrap();
        let ids = model.add_source("ids", i64::fact([3])).unwrap();
        let f = model
            .wire_node("cast", Cast::new(f32::datum_type()), &[x])
            .unwrap();
        let y = model
            .wire_node("gather", Gather::new(0), &[f[0], ids])
            .unwrap();
        model.select_output_outlets(&y).unwrap();
        let before = format!("{model}");
        gather_first(&mut model).unwrap();
        assert_eq!(format!("{model}"), before);
    }
}
