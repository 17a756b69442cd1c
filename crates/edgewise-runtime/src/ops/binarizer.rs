//! Binarizer, the ONNX-ML operator (`ai.onnx.ml`), which tract does not have: 1 where the input
//! exceeds `threshold`, else 0, in the input's type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, output, same_type_and_shape, wrap};

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
    wrap(Binarizer { threshold }, 1, same_type_and_shape)
}

impl Kernel for Binarizer {
    fn name(&self) -> StaticName {
        "Binarizer".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let v: Vec<f64> = x
            .cast_to::<f64>()?
            .to_plain_array_view::<f64>()?
            .iter()
            .map(|&v| if v > self.threshold { 1.0 } else { 0.0 })
            .collect();
        Ok(tvec!(output(x.shape(), &v, x.datum_type())?))
    }
}
