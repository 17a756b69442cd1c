//! BitCast, the ONNX operator (opset 26), which tract does not have: the same bits read as
//! another element type of the same width (`to`), shape unchanged.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, wrap};

/// The ONNX `BitCast` operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BitCast {
    to: DatumType,
}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let to: DatumType = node.get_attr("to")?;
    ensure!(
        to.is_number() || to == bool::datum_type(),
        "BitCast node '{}': to {to:?} is not a numeric type",
        node.name
    );
    wrap(BitCast { to }, 1, rules)
}

fn rules<'p>(
    op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    let op = op
        .downcast_ref::<super::Own<BitCast>>()
        .map(|o| &o.0)
        .context("a BitCast op")?;
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, op.to)?;
    s.equals(&outputs[0].shape, &inputs[0].shape)?;
    Ok(())
}

impl Kernel for BitCast {
    fn name(&self) -> StaticName {
        "BitCast".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let from = inputs[0].datum_type;
        ensure!(
            from.size_of() == self.to.size_of() && from != String::datum_type(),
            "BitCast from {from:?} to {:?}: the widths differ",
            self.to
        );
        Ok(tvec!(self.to.fact(inputs[0].shape.clone())))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        ensure!(
            x.datum_type().size_of() == self.to.size_of(),
            "BitCast: the widths differ"
        );
        // SAFETY: both types are plain numbers (or bool) of the same width, so every byte
        // pattern of the input is a value of `to`, except bytes other than 0 and 1 as bool,
        // which are normalized below.
        let mut out = unsafe { Tensor::from_raw_dt(self.to, x.shape(), x.as_bytes())? };
        if self.to == bool::datum_type() {
            out.as_bytes_mut()
                .iter_mut()
                .for_each(|b| *b = u8::from(*b != 0));
        }
        Ok(tvec!(out.into_tvalue()))
    }
}
