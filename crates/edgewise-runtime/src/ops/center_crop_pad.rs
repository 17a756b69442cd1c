//! CenterCropPad, the ONNX operator (opset 18), which tract does not have: each listed axis
//! cropped or zero-padded to the size `shape` gives, centred (an odd difference leaves the
//! extra element at the end). The sizes must be known when the plan is built: a constant, or
//! an input the session pins to its value.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, same_type_and_rank, values, wrap};

/// The ONNX `CenterCropPad` operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CenterCropPad {
    axes: Option<Vec<i64>>,
}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op = CenterCropPad {
        axes: node.get_attr_opt_vec("axes")?,
    };
    wrap(op, 1, same_type_and_rank)
}

impl CenterCropPad {
    /// The output shape for an input shape and the sizes asked.
    fn target(&self, input: &[usize], sizes: &[i64]) -> TractResult<Vec<usize>> {
        let rank = input.len() as i64;
        let axes: Vec<i64> = self.axes.clone().unwrap_or_else(|| (0..rank).collect());
        ensure!(
            axes.len() == sizes.len(),
            "{} sizes for {} axes",
            sizes.len(),
            axes.len()
        );
        let mut out = input.to_vec();
        for (&a, &size) in axes.iter().zip(sizes) {
            ensure!((-rank..rank).contains(&a), "axis {a} for rank {rank}");
            ensure!(size >= 0, "size {size} is negative");
            out[if a < 0 { a + rank } else { a } as usize] = size as usize;
        }
        Ok(out)
    }
}

impl Kernel for CenterCropPad {
    fn name(&self) -> StaticName {
        "CenterCropPad".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let sizes = inputs[1]
            .konst
            .as_ref()
            .context("CenterCropPad: its shape input must be known when planning")?
            .cast_to::<i64>()?
            .to_plain_array_view::<i64>()?
            .iter()
            .copied()
            .collect::<Vec<_>>();
        let input = inputs[0]
            .shape
            .as_concrete()
            .context("CenterCropPad: the input's shape must be known when planning")?;
        let out = self.target(input, &sizes)?;
        Ok(tvec!(inputs[0].datum_type.fact(out)))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let sizes: Vec<i64> = values::<i64>(&inputs[1])?;
        let out_shape = self.target(x.shape(), &sizes)?;
        let mut out = Tensor::zero_dt(x.datum_type(), &out_shape)?;
        // Per axis: where the kept range starts in the input and in the output, and its length.
        let ranges: Vec<(usize, usize, usize)> = x
            .shape()
            .iter()
            .zip(&out_shape)
            .map(|(&dim, &size)| {
                if size <= dim {
                    ((dim - size) / 2, 0, size)
                } else {
                    (0, (size - dim) / 2, dim)
                }
            })
            .collect();
        copy_box(x, &mut out, &ranges);
        Ok(tvec!(out.into_tvalue()))
    }
}

/// Copies the box `ranges` gives (input start, output start, length per axis) from `x` to
/// `out`, byte by byte, whatever the element type.
fn copy_box(x: &Tensor, out: &mut Tensor, ranges: &[(usize, usize, usize)]) {
    let len: Vec<usize> = ranges.iter().map(|r| r.2).collect();
    let total: usize = len.iter().product();
    let size = x.datum_type().size_of();
    let (in_shape, out_shape) = (x.shape().to_vec(), out.shape().to_vec());
    let src = x.as_bytes();
    let dst = out.as_bytes_mut();
    for flat in 0..total {
        let (mut rem, mut from, mut to) = (flat, 0, 0);
        for axis in 0..len.len() {
            let inner: usize = len[axis + 1..].iter().product();
            let i = rem / inner;
            rem %= inner;
            from = from * in_shape[axis] + ranges[axis].0 + i;
            to = to * out_shape[axis] + ranges[axis].1 + i;
        }
        dst[to * size..(to + 1) * size].copy_from_slice(&src[from * size..(from + 1) * size]);
    }
}
