//! CumProd, the ONNX operator (opset 26), which tract does not have: the running product of
//! `x` along `axis` (a scalar input), `exclusive` starting from 1, `reverse` from the end.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, wrap};

/// The ONNX `CumProd` operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CumProd {
    exclusive: bool,
    reverse: bool,
}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op = CumProd {
        exclusive: node.get_attr_opt::<i64>("exclusive")?.unwrap_or(0) != 0,
        reverse: node.get_attr_opt::<i64>("reverse")?.unwrap_or(0) != 0,
    };
    wrap(op, 1, rules)
}

fn rules<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_input_arity(inputs, 2)?;
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    s.equals(&outputs[0].shape, &inputs[0].shape)?;
    s.equals(&inputs[1].rank, 0)?;
    Ok(())
}

impl Kernel for CumProd {
    fn name(&self) -> StaticName {
        "CumProd".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, axis) = (&inputs[0], &inputs[1]);
        let rank = x.rank() as i64;
        let axis = axis.cast_to_scalar::<i64>()?;
        ensure!(
            (-rank..rank).contains(&axis),
            "axis {axis} for a tensor of rank {rank}"
        );
        let axis = if axis < 0 { axis + rank } else { axis } as usize;
        let out = match x.datum_type() {
            DatumType::F32 => self.run::<f32>(x, axis, 1.0)?,
            DatumType::F64 => self.run::<f64>(x, axis, 1.0)?,
            DatumType::I32 => self.run::<i32>(x, axis, 1)?,
            DatumType::I64 => self.run::<i64>(x, axis, 1)?,
            DatumType::U32 => self.run::<u32>(x, axis, 1)?,
            DatumType::U64 => self.run::<u64>(x, axis, 1)?,
            dt => bail!("CumProd of {dt:?} is not supported"),
        };
        Ok(tvec!(out.into_tvalue()))
    }
}

impl CumProd {
    /// The products along one lane of `n` elements `stride` apart, starting at `start`.
    fn lane<T: Copy + std::ops::Mul<Output = T>>(
        &self,
        v: &mut [T],
        one: T,
        start: usize,
        n: usize,
        stride: usize,
    ) {
        let order: Vec<usize> = if self.reverse {
            (0..n).rev().collect()
        } else {
            (0..n).collect()
        };
        let mut acc = one;
        for k in order {
            let at = start + k * stride;
            let x = v[at];
            if self.exclusive {
                v[at] = acc;
                acc = acc * x;
            } else {
                acc = acc * x;
                v[at] = acc;
            }
        }
    }

    fn run<T: Datum + Copy + std::ops::Mul<Output = T>>(
        &self,
        x: &Tensor,
        axis: usize,
        one: T,
    ) -> TractResult<Tensor> {
        let shape = x.shape().to_vec();
        let mut v: Vec<T> = x.to_plain_array_view::<T>()?.iter().copied().collect();
        let n = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        let outer: usize = shape[..axis].iter().product();
        for o in 0..outer {
            for i in 0..inner {
                self.lane(&mut v, one, o * n * inner + i, n, inner);
            }
        }
        Tensor::from_shape(&shape, &v)
    }
}
