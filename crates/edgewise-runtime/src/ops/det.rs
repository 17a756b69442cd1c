//! Det, the ONNX operator, which tract does not have: the determinant of each `[M, M]`
//! matrix of `[…, M, M]`, by LU decomposition with partial pivoting in f64.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, output, values, wrap};

/// The ONNX `Det` operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Det;

pub(crate) fn parse(
    _ctx: &ParsingContext,
    _node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    wrap(Det, 1, rules)
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
    s.equals(&outputs[0].rank, inputs[0].rank.bex() - 2)?;
    Ok(())
}

impl Kernel for Det {
    fn name(&self) -> StaticName {
        "Det".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rank = inputs[0].rank();
        ensure!(rank >= 2, "Det needs matrices, got rank {rank}");
        let shape: TVec<TDim> = inputs[0].shape.iter().take(rank - 2).cloned().collect();
        Ok(tvec!(inputs[0].datum_type.fact(shape)))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let shape = x.shape();
        let rank = shape.len();
        ensure!(
            rank >= 2 && shape[rank - 1] == shape[rank - 2],
            "Det needs square matrices, got {shape:?}"
        );
        let m = shape[rank - 1];
        let values: Vec<f64> = values::<f64>(x)?;
        let dets: Vec<f64> = if m == 0 {
            vec![1.0; shape[..rank - 2].iter().product()]
        } else {
            values
                .chunks(m * m)
                .map(|c| determinant(c.to_vec(), m))
                .collect()
        };
        Ok(tvec!(output(&shape[..rank - 2], &dets, x.datum_type())?))
    }
}

/// The determinant of a row-major `m × m` matrix.
fn determinant(mut a: Vec<f64>, m: usize) -> f64 {
    let mut det = 1.0;
    for col in 0..m {
        let pivot = (col..m)
            .max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))
            .unwrap_or(col);
        if a[pivot * m + col] == 0.0 {
            return 0.0;
        }
        if pivot != col {
            for k in 0..m {
                a.swap(col * m + k, pivot * m + k);
            }
            det = -det;
        }
        let p = a[col * m + col];
        det *= p;
        for row in col + 1..m {
            let f = a[row * m + col] / p;
            for k in col..m {
                a[row * m + k] -= f * a[col * m + k];
            }
        }
    }
    det
}
