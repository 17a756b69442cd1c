//! DeformConv, the ONNX operator (opset 19), which tract does not have, for 2D images: a
//! convolution whose kernel taps sample the input at learned offsets, bilinearly (zero outside
//! the image), optionally weighted by a mask. Output `[N, oC, oH, oW]` with `oH × oW` the offsets'
//! spatial size; `group`, `offset_group`, `strides`, `dilations`, `pads` and a bias as in ONNX.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, output, values, wrap};

/// The ONNX `DeformConv` operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeformConv {
    group: usize,
    offset_group: usize,
    strides: [usize; 2],
    dilations: [usize; 2],
    pads: [usize; 2],
    /// Input slots of the bias and the mask, among the node's non-empty inputs.
    bias: Option<usize>,
    mask: Option<usize>,
}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let pair = |name: &str, default: usize| -> TractResult<[usize; 2]> {
        match node.get_attr_opt_vec::<usize>(name)? {
            None => Ok([default; 2]),
            Some(v) if v.len() >= 2 => Ok([v[0], v[1]]),
            Some(v) => bail!("DeformConv node '{}': {name} {v:?} is not 2D", node.name),
        }
    };
    let present = |i: usize| node.input.get(i).is_some_and(|n| !n.is_empty());
    let bias = present(3).then_some(3);
    let mask = present(4).then(|| if bias.is_some() { 4 } else { 3 });
    let op = DeformConv {
        group: node.get_attr_opt("group")?.unwrap_or(1),
        offset_group: node.get_attr_opt("offset_group")?.unwrap_or(1),
        strides: pair("strides", 1)?,
        dilations: pair("dilations", 1)?,
        pads: pair("pads", 0)?,
        bias,
        mask,
    };
    ensure!(
        op.group > 0 && op.offset_group > 0,
        "DeformConv node '{}': groups must be positive",
        node.name
    );
    wrap(op, 1, rules)
}

fn rules<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    s.equals(&outputs[0].rank, 4)?;
    Ok(())
}

impl Kernel for DeformConv {
    fn name(&self) -> StaticName {
        "DeformConv".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs[0].rank() == 4,
            "DeformConv supports 2D images, got rank {}",
            inputs[0].rank()
        );
        let (x, w, off) = (&inputs[0].shape, &inputs[1].shape, &inputs[2].shape);
        Ok(tvec!(inputs[0].datum_type.fact([
            x[0].clone(),
            w[0].clone(),
            off[2].clone(),
            off[3].clone()
        ])))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let [n, ic, ih, iw] = inputs[0].shape()[..] else {
            bail!("DeformConv supports 2D images")
        };
        let [oc, icg, kh, kw] = inputs[1].shape()[..] else {
            bail!("DeformConv weights must be [oC, C/group, kH, kW]")
        };
        let [_, offc, oh, ow] = inputs[2].shape()[..] else {
            bail!("DeformConv offsets must be of rank 4")
        };
        let (g, og) = (self.group, self.offset_group);
        ensure!(
            icg * g == ic && oc % g == 0,
            "weights {:?} do not fit {ic} channels in {g} groups",
            inputs[1].shape()
        );
        ensure!(
            ic % og == 0 && offc == og * 2 * kh * kw,
            "offsets {:?} do not fit {og} offset groups",
            inputs[2].shape()
        );
        let x = values::<f32>(&inputs[0])?;
        let w = values::<f32>(&inputs[1])?;
        let off = values::<f32>(&inputs[2])?;
        let bias = self.bias.map(|i| values::<f32>(&inputs[i])).transpose()?;
        let mask = self.mask.map(|i| values::<f32>(&inputs[i])).transpose()?;
        let (ocg, icog, k) = (oc / g, ic / og, kh * kw);
        let mut y = vec![0f32; n * oc * oh * ow];
        for b in 0..n {
            for o in 0..oc {
                let group = o / ocg;
                for i in 0..oh {
                    for j in 0..ow {
                        let mut acc = bias.as_ref().map_or(0.0, |bv| bv[o]);
                        for c in group * icg..(group + 1) * icg {
                            let ogi = c / icog;
                            let plane = &x[(b * ic + c) * ih * iw..][..ih * iw];
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let kk = ki * kw + kj;
                                    let at = |ch: usize| off[((b * offc + ch) * oh + i) * ow + j];
                                    let dy = at((ogi * k + kk) * 2);
                                    let dx = at((ogi * k + kk) * 2 + 1);
                                    let yy = (i * self.strides[0] + ki * self.dilations[0]) as f32
                                        - self.pads[0] as f32
                                        + dy;
                                    let xx = (j * self.strides[1] + kj * self.dilations[1]) as f32
                                        - self.pads[1] as f32
                                        + dx;
                                    let m = mask.as_ref().map_or(1.0, |mv| {
                                        mv[((b * og * k + ogi * k + kk) * oh + i) * ow + j]
                                    });
                                    let wv = w[((o * icg + (c - group * icg)) * kh + ki) * kw + kj];
                                    acc += wv * m * sample(plane, ih, iw, yy, xx);
                                }
                            }
                        }
                        y[((b * oc + o) * oh + i) * ow + j] = acc;
                    }
                }
            }
        }
        Ok(tvec!(output(&[n, oc, oh, ow], &y, inputs[0].datum_type())?))
    }
}

/// Bilinear sample of a `h × w` plane at (y, x), zero outside.
fn sample(plane: &[f32], h: usize, w: usize, y: f32, x: f32) -> f32 {
    let (y0, x0) = (y.floor(), x.floor());
    let (dy, dx) = (y - y0, x - x0);
    let at = |yy: f32, xx: f32| -> f32 {
        if yy < 0.0 || xx < 0.0 || yy >= h as f32 || xx >= w as f32 {
            0.0
        } else {
            plane[yy as usize * w + xx as usize]
        }
    };
    at(y0, x0) * (1.0 - dy) * (1.0 - dx)
        + at(y0, x0 + 1.0) * (1.0 - dy) * dx
        + at(y0 + 1.0, x0) * dy * (1.0 - dx)
        + at(y0 + 1.0, x0 + 1.0) * dy * dx
}
