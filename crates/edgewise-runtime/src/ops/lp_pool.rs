//! LpPool, the ONNX operator, which tract does not have: `(Σ |x|^p)^(1/p)` over each window of
//! the spatial axes of `[N, C, d1 …]`, with `kernel_shape`, `strides`, `dilations`, `pads` or
//! `auto_pad`, and `ceil_mode`. Padding adds nothing to the sum.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, output, same_type_and_rank, values, wrap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// The ONNX `LpPool` operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LpPool {
    p: f32,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads: Vec<usize>,
    auto_pad: AutoPad,
    ceil: bool,
}

impl Eq for LpPool {}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let kernel: Vec<usize> = node.get_attr_vec("kernel_shape")?;
    let n = kernel.len();
    let auto_pad = match node.get_attr_opt::<String>("auto_pad")?.as_deref() {
        None | Some("NOTSET") => AutoPad::NotSet,
        Some("SAME_UPPER") => AutoPad::SameUpper,
        Some("SAME_LOWER") => AutoPad::SameLower,
        Some("VALID") => AutoPad::Valid,
        Some(other) => bail!("LpPool node '{}': auto_pad {other}", node.name),
    };
    let op = LpPool {
        p: node.get_attr_opt::<i64>("p")?.unwrap_or(2) as f32,
        strides: node
            .get_attr_opt_vec("strides")?
            .unwrap_or_else(|| vec![1; n]),
        dilations: node
            .get_attr_opt_vec("dilations")?
            .unwrap_or_else(|| vec![1; n]),
        pads: node
            .get_attr_opt_vec("pads")?
            .unwrap_or_else(|| vec![0; 2 * n]),
        auto_pad,
        ceil: node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) != 0,
        kernel,
    };
    ensure!(
        op.strides.len() == n && op.dilations.len() == n && op.pads.len() == 2 * n,
        "LpPool node '{}': attributes disagree on the number of spatial axes",
        node.name
    );
    wrap(op, 1, same_type_and_rank)
}

impl LpPool {
    /// Per spatial axis: the output size and the padding before it.
    fn geometry(&self, spatial: &[usize]) -> TractResult<Vec<(usize, usize)>> {
        ensure!(
            spatial.len() == self.kernel.len(),
            "{} spatial axes for a {}-d kernel",
            spatial.len(),
            self.kernel.len()
        );
        let n = spatial.len();
        spatial
            .iter()
            .enumerate()
            .map(|(a, &size)| {
                let (k, s, d) = (
                    self.kernel[a],
                    self.strides[a].max(1),
                    self.dilations[a].max(1),
                );
                let span = (k - 1) * d + 1;
                Ok(match self.auto_pad {
                    AutoPad::NotSet => {
                        let padded = size + self.pads[a] + self.pads[a + n];
                        ensure!(
                            padded >= span,
                            "the window {span} is wider than the padded input {padded}"
                        );
                        let steps = if self.ceil {
                            (padded - span).div_ceil(s)
                        } else {
                            (padded - span) / s
                        };
                        (steps + 1, self.pads[a])
                    }
                    AutoPad::Valid => {
                        ensure!(
                            size >= span,
                            "the window {span} is wider than the input {size}"
                        );
                        ((size - span) / s + 1, 0)
                    }
                    AutoPad::SameUpper | AutoPad::SameLower => {
                        let out = size.div_ceil(s);
                        let total = ((out - 1) * s + span).saturating_sub(size);
                        let before = if self.auto_pad == AutoPad::SameUpper {
                            total / 2
                        } else {
                            total - total / 2
                        };
                        (out, before)
                    }
                })
            })
            .collect()
    }
}

impl Kernel for LpPool {
    fn name(&self) -> StaticName {
        "LpPool".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0]
            .shape
            .as_concrete()
            .context("LpPool: the input's shape must be known when planning")?;
        ensure!(
            shape.len() >= 3,
            "LpPool needs [N, C, spatial…], got {shape:?}"
        );
        let mut out = shape[..2].to_vec();
        out.extend(self.geometry(&shape[2..])?.iter().map(|g| g.0));
        Ok(tvec!(inputs[0].datum_type.fact(out)))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let shape = x.shape().to_vec();
        let values: Vec<f32> = values::<f32>(x)?;
        let spatial = &shape[2..];
        let geometry = self.geometry(spatial)?;
        let out_spatial: Vec<usize> = geometry.iter().map(|g| g.0).collect();
        let (planes, in_plane, out_plane) = (
            shape[0] * shape[1],
            spatial.iter().product::<usize>(),
            out_spatial.iter().product::<usize>(),
        );
        let windows: usize = self.kernel.iter().product();
        let mut out = vec![0f32; planes * out_plane];
        for plane in 0..planes {
            let xs = &values[plane * in_plane..(plane + 1) * in_plane];
            for o in 0..out_plane {
                let mut sum = 0f32;
                'window: for w in 0..windows {
                    let (mut oi, mut wi, mut flat) = (o, w, 0usize);
                    for a in (0..spatial.len()).rev() {
                        let (pos, kpos) = (oi % out_spatial[a], wi % self.kernel[a]);
                        oi /= out_spatial[a];
                        wi /= self.kernel[a];
                        let at = (pos * self.strides[a].max(1) + kpos * self.dilations[a].max(1))
                            as isize
                            - geometry[a].1 as isize;
                        if at < 0 || at as usize >= spatial[a] {
                            continue 'window;
                        }
                        let inner: usize = spatial[a + 1..].iter().product();
                        flat += at as usize * inner;
                    }
                    sum += xs[flat].abs().powf(self.p);
                }
                out[plane * out_plane + o] = sum.powf(1.0 / self.p);
            }
        }
        let mut dims = shape[..2].to_vec();
        dims.extend(out_spatial);
        Ok(tvec!(output(&dims, &out, x.datum_type())?))
    }
}
