//! AffineGrid, the ONNX operator (opset 20), which tract does not have: the sampling grid
//! `[N, (D,) H, W, 2|3]` that `theta` (`[N, 2, 3]` or `[N, 3, 4]`) maps the normalized output
//! coordinates (−1 to 1, pixel centres or corners with `align_corners`) to, for the output size
//! `size` gives (`[N, C, (D,) H, W]`; it must be known when the plan is built: a constant, or
//! an input the session pins to its value).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, output, values, wrap};

/// The ONNX `AffineGrid` operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AffineGrid {
    align_corners: bool,
}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op = AffineGrid {
        align_corners: node.get_attr_opt::<i64>("align_corners")?.unwrap_or(0) != 0,
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
    s.equals(&inputs[0].rank, 3)?;
    s.equals(&inputs[1].rank, 1)?;
    Ok(())
}

/// The output shape for `size`: `[N, (D,) H, W, spatial rank]`.
fn grid_shape(size: &[i64]) -> TractResult<Vec<usize>> {
    ensure!(
        size.len() == 4 || size.len() == 5,
        "size must be [N, C, H, W] or [N, C, D, H, W], got {size:?}"
    );
    ensure!(
        size.iter().all(|&d| d >= 0),
        "size {size:?} has a negative dim"
    );
    let mut shape: Vec<usize> = std::iter::once(size[0])
        .chain(size[2..].iter().copied())
        .map(|d| d as usize)
        .collect();
    shape.push(size.len() - 2);
    Ok(shape)
}

impl AffineGrid {
    /// The normalized coordinate of index `i` along an axis of `n`.
    fn coordinate(&self, i: usize, n: usize) -> f64 {
        if self.align_corners {
            if n == 1 {
                -1.0
            } else {
                -1.0 + 2.0 * i as f64 / (n - 1) as f64
            }
        } else {
            (2 * i + 1) as f64 / n as f64 - 1.0
        }
    }
}

impl Kernel for AffineGrid {
    fn name(&self) -> StaticName {
        "AffineGrid".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let size = inputs[1]
            .konst
            .as_ref()
            .context("AffineGrid: its size input must be known when planning")?;
        Ok(tvec!(
            inputs[0]
                .datum_type
                .fact(grid_shape(&values::<i64>(size)?)?)
        ))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let size = values::<i64>(&inputs[1])?;
        let shape = grid_shape(&size)?;
        let dims = *shape.last().expect("grid_shape pushes the rank");
        let theta: Vec<f64> = values::<f64>(&inputs[0])?;
        let n = shape[0];
        ensure!(
            inputs[0].shape() == [n, dims, dims + 1],
            "theta {:?} does not fit size {size:?}",
            inputs[0].shape()
        );
        // Spatial axes from the outermost (depth or height) to width; coordinates come x first.
        let spatial = &shape[1..shape.len() - 1];
        let points: usize = spatial.iter().product();
        let mut out = Vec::with_capacity(n * points * dims);
        for b in 0..n {
            let t = &theta[b * dims * (dims + 1)..(b + 1) * dims * (dims + 1)];
            for p in 0..points {
                let mut rem = p;
                let mut homogeneous = vec![1.0; dims + 1];
                for (axis, &len) in spatial.iter().enumerate().rev() {
                    // The innermost axis (width) is x, the first coordinate.
                    homogeneous[spatial.len() - 1 - axis] = self.coordinate(rem % len, len);
                    rem /= len;
                }
                for row in 0..dims {
                    let r = &t[row * (dims + 1)..(row + 1) * (dims + 1)];
                    out.push(r.iter().zip(&homogeneous).map(|(a, c)| a * c).sum::<f64>());
                }
            }
        }
        Ok(tvec!(output(&shape, &out, inputs[0].datum_type())?))
    }
}
