//! Binarizer, the ONNX-ML operator (`ai.onnx.ml`), which tract does not have: 1 where the input
//! exceeds `threshold`, else 0, in the input's type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// The ONNX-ML `Binarizer` operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Binarizer {
    threshold: f64,
}

impl Eq for Binarizer {}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let threshold = node.get_attr_opt::<f32>("threshold")?.unwrap_or(0.0) as f64;
    Ok((inference_wrap(Binarizer { threshold }, 1, rules), vec![]))
}

fn rules<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    s.equals(&outputs[0].shape, &inputs[0].shape)?;
    Ok(())
}

impl Op for Binarizer {
    fn name(&self) -> StaticName {
        "Binarizer".into()
    }

    op_as_typed_op!();
}

impl TypedOp for Binarizer {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }
}

impl EvalOp for Binarizer {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let v: Vec<f64> = x
            .cast_to::<f64>()?
            .to_plain_array_view::<f64>()?
            .iter()
            .map(|&v| if v > self.threshold { 1.0 } else { 0.0 })
            .collect();
        let out = Tensor::from_shape(x.shape(), &v)?;
        Ok(tvec!(
            out.cast_to_dt(x.datum_type())?.into_owned().into_tvalue()
        ))
    }
}
