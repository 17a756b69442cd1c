//! `BinaryConv2d`: a 2-D convolution with ±1 activations and packed ±1 weights.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{
    Optional, SHADER, affine, check_affine, check_u32, compatible, effective_weights, facts,
    prep_pass, tile_grid,
};
use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};

/// The `BinaryConv2d` operator; see the [family docs](super) for the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryConv2d {
    /// `[kh, kw]`, each ≥ 1.
    pub kernel_shape: [usize; 2],
    /// `[sh, sw]`, each ≥ 1.
    pub strides: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    /// `[dh, dw]`, each ≥ 1.
    pub dilations: [usize; 2],
}

impl BinaryConv2d {
    /// A convolution with this kernel, unit strides and dilations, no padding.
    pub fn new(kernel_shape: [usize; 2]) -> BinaryConv2d {
        BinaryConv2d {
            kernel_shape,
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
        }
    }
}

/// Reads an ints attribute of `N` entries, each ≥ `min`.
fn ints<const N: usize>(
    node: &NodeProto,
    name: &str,
    default: Option<[usize; N]>,
    min: i64,
) -> TractResult<[usize; N]> {
    let op = BinaryConv2d::NAME;
    let Some(v) = node.get_attr_opt_vec::<i64>(name)? else {
        return default.with_context(|| format!("{op}: attribute {name} is required"));
    };
    ensure!(
        v.len() == N && v.iter().all(|&x| x >= min),
        "{op}: attribute {name} must be {N} integers ≥ {min}, got {v:?}"
    );
    let mut out = [0; N];
    for (o, x) in out.iter_mut().zip(v) {
        *o = x as usize;
    }
    Ok(out)
}

impl FromNode for BinaryConv2d {
    const NAME: &'static str = "BinaryConv2d";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        Ok(BinaryConv2d {
            kernel_shape: ints(node, "kernel_shape", None, 1)?,
            strides: ints(node, "strides", Some([1, 1]), 1)?,
            pads: ints(node, "pads", Some([0; 4]), 0)?,
            dilations: ints(node, "dilations", Some([1, 1]), 1)?,
        })
    }
}

/// Concrete sizes of one call.
struct Dims {
    batch: usize,
    c: usize,
    h: usize,
    w: usize,
    m: usize,
    oh: usize,
    ow: usize,
    taps: usize,
    words: usize,
}

impl BinaryConv2d {
    /// The output size along spatial axis `axis` (0: height, 1: width) of an input of `size`.
    fn out_dim(&self, size: &TDim, axis: usize) -> TractResult<TDim> {
        let (k, s, d) = (
            self.kernel_shape[axis],
            self.strides[axis],
            self.dilations[axis],
        );
        ensure!(
            k >= 1 && s >= 1 && d >= 1,
            "{}: kernel_shape, strides and dilations must be ≥ 1",
            Self::NAME
        );
        let window = d * (k - 1) + 1;
        let pad = self.pads[axis] + self.pads[axis + 2];
        match size.to_usize() {
            Ok(size) => {
                let name = ["height", "width"][axis];
                ensure!(
                    size + pad >= window,
                    "{}: the kernel window spans {window} pixels (with dilation), more than X's padded {name} {}",
                    Self::NAME,
                    size + pad
                );
                Ok(((size + pad - window) / s + 1).into())
            }
            Err(_) => Ok((size.clone() + (pad as i64 - window as i64)) / s as u64 + 1),
        }
    }

    /// Checks the inputs; returns the output shape and where the optional inputs are.
    fn check(&self, inputs: &[Fact]) -> TractResult<(TVec<TDim>, Optional)> {
        let op = Self::NAME;
        check_arity(op, inputs, 3, 5)?;
        check_type(op, inputs, 0, "X", DatumType::F32)?;
        check_type(op, inputs, 1, "W", DatumType::U32)?;
        let (x, w) = (&inputs[0], &inputs[1]);
        ensure!(
            x.rank() == 4,
            "{op}: input 0 (X) must have shape [N, C, H, W], got {:?}",
            x.shape
        );
        let [kh, kw] = self.kernel_shape;
        let words = (x.shape[1].clone() * (kh * kw) as i64).div_ceil(32);
        ensure!(
            w.rank() == 2 && compatible(&w.shape[1], &words),
            "{op}: input 1 (W) must have shape [M, ceil(C·kh·kw/32) = {words}], got {:?}",
            w.shape
        );
        let opt = check_affine(op, inputs, &w.shape[0], &words)?;
        let shape = tvec![
            x.shape[0].clone(),
            w.shape[0].clone(),
            self.out_dim(&x.shape[2], 0)?,
            self.out_dim(&x.shape[3], 1)?,
        ];
        Ok((shape, opt))
    }

    fn dims(&self, inputs: &[Fact], out: &[TDim]) -> TractResult<Dims> {
        let concrete = || format!("{}: shapes must be concrete", Self::NAME);
        let x = inputs[0].dims().with_context(concrete)?;
        let m = inputs[1].dim(0).with_context(concrete)?;
        let [oh, ow] = [&out[2], &out[3]].map(|d| d.to_usize().ok());
        let taps = x[1] * self.kernel_shape[0] * self.kernel_shape[1];
        Ok(Dims {
            batch: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            m,
            oh: oh.with_context(concrete)?,
            ow: ow.with_context(concrete)?,
            taps,
            words: taps.div_ceil(32),
        })
    }

    fn pads_anything(&self) -> bool {
        self.pads.iter().any(|&p| p > 0)
    }
}

impl CustomOp for BinaryConv2d {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        let (shape, _) = self.check(inputs)?;
        Ok(tvec!(Fact {
            dt: DatumType::F32,
            shape
        }))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let facts = facts(inputs);
        let (shape, opt) = self.check(&facts)?;
        let d = self.dims(&facts, &shape)?;
        let x = slice::<f32>(inputs[0])?;
        let key = opt.key.map(|i| slice::<u32>(inputs[i])).transpose()?;
        let wk = effective_weights(Self::NAME, slice::<u32>(inputs[1])?, key, d.words, d.taps)?;
        let scale = slice::<f32>(inputs[2])?;
        let bias = opt.bias.map(|i| slice::<f32>(inputs[i])).transpose()?;
        let ([kh, kw], [sh, sw], [dh, dw]) = (self.kernel_shape, self.strides, self.dilations);
        let (pt, pl) = (self.pads[0] as isize, self.pads[1] as isize);
        let ohw = d.oh * d.ow;
        let mut y = vec![0f32; d.batch * d.m * ohw];
        let (mut bits, mut mask) = (vec![0u32; d.words], vec![0u32; d.words]);
        for b in 0..d.batch {
            let image = &x[b * d.c * d.h * d.w..(b + 1) * d.c * d.h * d.w];
            for q in 0..ohw {
                let (oy, ox) = (q / d.ow, q % d.ow);
                bits.fill(0);
                mask.fill(0);
                let mut valid = 0i64;
                for c in 0..d.c {
                    for ky in 0..kh {
                        let iy = (oy * sh + ky * dh) as isize - pt;
                        if iy < 0 || iy >= d.h as isize {
                            continue;
                        }
                        for kx in 0..kw {
                            let ix = (ox * sw + kx * dw) as isize - pl;
                            if ix < 0 || ix >= d.w as isize {
                                continue;
                            }
                            let k = (c * kh + ky) * kw + kx;
                            let v = image[(c * d.h + iy as usize) * d.w + ix as usize];
                            mask[k / 32] |= 1 << (k % 32);
                            bits[k / 32] |= ((v >= 0.0) as u32) << (k % 32);
                            valid += 1;
                        }
                    }
                }
                for m in 0..d.m {
                    let row = &wk[m * d.words..(m + 1) * d.words];
                    let differ: u32 = (0..d.words)
                        .map(|i| ((bits[i] ^ row[i]) & mask[i]).count_ones())
                        .sum();
                    y[(b * d.m + m) * ohw + q] = affine(scale, bias, m, valid - 2 * differ as i64);
                }
            }
        }
        Ok(tvec!(Tensor::from_shape(&[d.batch, d.m, d.oh, d.ow], &y)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        let op = Self::NAME;
        let (shape, opt) = self.check(inputs)?;
        let d = self.dims(inputs, &shape)?;
        let outputs = vec![GpuOutput {
            dt: DatumType::F32,
            shape: vec![d.batch, d.m, d.oh, d.ow],
        }];
        let rows = d.batch * d.oh * d.ow;
        if rows == 0 || d.m == 0 {
            return Ok(GpuProgram {
                outputs,
                scratch: vec![],
                passes: vec![],
            });
        }
        check_u32(op, "X", d.batch * d.c * d.h * d.w)?;
        check_u32(op, "Y", rows * d.m)?;
        check_u32(op, "the packed activations", rows * d.words)?;
        let ([kh, kw], [sh, sw], [dh, dw]) = (self.kernel_shape, self.strides, self.dilations);
        let params = Params::new()
            .u(rows)
            .u(d.taps)
            .u(d.words)
            .u(d.m)
            .u(d.c)
            .u(d.h)
            .u(d.w)
            .u(d.oh)
            .u(d.ow)
            .u(kh)
            .u(kw)
            .u(sh)
            .u(sw)
            .u(dh)
            .u(dw)
            .u(self.pads[0])
            .u(self.pads[1])
            .build();
        let masked = self.pads_anything();
        let (mut im2col, mut gemm) = (
            vec![Slot::Input(0), Slot::Scratch(0), Slot::Scratch(1)],
            vec![
                Slot::Scratch(1),
                Slot::Input(1),
                Slot::Scratch(0),
                Slot::Output(0),
            ],
        );
        let mut scratch = vec![(2 * d.m + d.words) as u64, (rows * d.words) as u64];
        if masked {
            im2col.push(Slot::Scratch(2));
            gemm.push(Slot::Scratch(2));
            scratch.push((rows * d.words) as u64);
        }
        Ok(GpuProgram {
            outputs,
            scratch,
            passes: vec![
                prep_pass("BinaryConv2d prep", d.m, d.words, opt),
                Pass {
                    label: "BinaryConv2d im2col",
                    shader: SHADER,
                    entry: if masked { "im2col_masked" } else { "im2col" },
                    workgroups: grid(rows * d.words, 256),
                    params: params.clone(),
                    bindings: im2col,
                },
                Pass {
                    label: "BinaryConv2d gemm",
                    shader: SHADER,
                    entry: if masked { "conv_masked" } else { "conv" },
                    workgroups: tile_grid(op, rows, d.m)?,
                    params,
                    bindings: gemm,
                },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::binary::packed_weights;
    use crate::testing::{Rng, assert_close};

    fn t_f32(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_shape(shape, v).unwrap()
    }

    fn t_u32(shape: &[usize], v: &[u32]) -> Tensor {
        Tensor::from_shape(shape, v).unwrap()
    }

    /// Direct convolution of ±1 values over unpacked weights, zero padding, in f64.
    fn naive(
        op: &BinaryConv2d,
        x: &Tensor,
        w: &Tensor,
        scale: &[f32],
        bias: Option<&[f32]>,
        key: Option<&[u32]>,
    ) -> Tensor {
        let [n, c, h, wd] = x.shape().try_into().unwrap();
        let (m, words) = (w.shape()[0], w.shape()[1]);
        let (xs, ws) = (slice::<f32>(x).unwrap(), slice::<u32>(w).unwrap());
        let [kh, kw] = op.kernel_shape;
        // Unpack: weights[m][c][ky][kx] = ±1.
        let weight = |mo: usize, ci: usize, ky: usize, kx: usize| {
            let t = ci * kh * kw + ky * kw + kx;
            let mut bit = ws[mo * words + t / 32] >> (t % 32) & 1;
            if let Some(key) = key {
                bit ^= key[t / 32] >> (t % 32) & 1;
            }
            if bit == 1 { 1.0 } else { -1.0 }
        };
        let pixel = |b: usize, ci: usize, iy: i64, ix: i64| -> f64 {
            if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                return 0.0; // zero padding of sign(x)
            }
            let v = xs[((b * c + ci) * h + iy as usize) * wd + ix as usize];
            if v >= 0.0 { 1.0 } else { -1.0 }
        };
        let padded = |size: usize, a: usize| size + op.pads[a] + op.pads[a + 2];
        let oh = (padded(h, 0) - op.dilations[0] * (kh - 1) - 1) / op.strides[0] + 1;
        let ow = (padded(wd, 1) - op.dilations[1] * (kw - 1) - 1) / op.strides[1] + 1;
        let mut y = Vec::new();
        for b in 0..n {
            for mo in 0..m {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut sum = 0f64;
                        for ci in 0..c {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * op.strides[0] + ky * op.dilations[0]) as i64
                                        - op.pads[0] as i64;
                                    let ix = (ox * op.strides[1] + kx * op.dilations[1]) as i64
                                        - op.pads[1] as i64;
                                    sum += pixel(b, ci, iy, ix) * weight(mo, ci, ky, kx);
                                }
                            }
                        }
                        let v = scale[mo] as f64 * sum + bias.map_or(0.0, |b| b[mo] as f64);
                        y.push(v as f32);
                    }
                }
            }
        }
        Tensor::from_shape(&[n, m, oh, ow], &y).unwrap()
    }

    #[test]
    fn matches_a_direct_convolution_of_signs() {
        let mut rng = Rng::new(21);
        for case in 0..40 {
            let op = BinaryConv2d {
                kernel_shape: [rng.range(1, 4), rng.range(1, 4)],
                strides: [rng.range(1, 3), rng.range(1, 3)],
                pads: [
                    rng.range(0, 2),
                    rng.range(0, 2),
                    rng.range(0, 2),
                    rng.range(0, 2),
                ],
                dilations: [rng.range(1, 2), rng.range(1, 2)],
            };
            let (n, c, m) = (rng.range(1, 2), rng.range(1, 7), rng.range(1, 6));
            let min = |a: usize| op.dilations[a] * (op.kernel_shape[a] - 1) + 1;
            let (h, w) = (rng.range(min(0), 10), rng.range(min(1), 10));
            let taps = c * op.kernel_shape[0] * op.kernel_shape[1];
            let x = rng.tensor_f32(&[n, c, h, w], -1.0, 1.0);
            let wt = packed_weights(&mut rng, m, taps);
            let scale = rng.tensor_f32(&[m], 0.1, 2.0);
            let bias = rng.tensor_f32(&[m], -3.0, 3.0);
            let key = packed_weights(&mut rng, 1, taps)
                .into_shape(&[taps.div_ceil(32)])
                .unwrap();
            let (with_bias, with_key) = (case % 2 == 0, case % 3 != 0);
            let mut inputs = vec![&x, &wt, &scale];
            if with_bias {
                inputs.push(&bias);
            }
            if with_key {
                inputs.push(&key);
            }
            let got = op.eval(&inputs).unwrap().remove(0);
            let want = naive(
                &op,
                &x,
                &wt,
                slice(&scale).unwrap(),
                with_bias.then(|| slice(&bias).unwrap()),
                with_key.then(|| slice(&key).unwrap()),
            );
            assert_close(&got, &want, 1e-6, 1e-5)
                .unwrap_or_else(|e| panic!("case {case} {op:?} {:?}: {e}", x.shape()));
        }
    }

    #[test]
    fn hand_checked_window_sums_and_padding() {
        // Signs of X: [[+, −, +], [+, +, −], [−, +, +]]; a 2×2 kernel of +1 sums each window.
        let x = t_f32(&[1, 1, 3, 3], &[1., -1., 0., 2., 3., -4., -5., 6., 7.]);
        let w = t_u32(&[1, 1], &[0b1111]);
        let one = t_f32(&[1], &[1.0]);
        let y = BinaryConv2d::new([2, 2])
            .eval(&[&x, &w, &one])
            .unwrap()
            .remove(0);
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        // Windows: {+, −, +, +}, {−, +, +, −}, {+, +, −, +}, {+, −, +, +}.
        assert_eq!(slice::<f32>(&y).unwrap(), &[2.0, 0.0, 2.0, 2.0]);
        // Padding 1 everywhere, stride 2: windows at the corners see one pixel only.
        let op = BinaryConv2d {
            strides: [2, 2],
            pads: [1; 4],
            ..BinaryConv2d::new([2, 2])
        };
        let y = op.eval(&[&x, &w, &one]).unwrap().remove(0);
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        // Windows: {x00}, {x01, x02}, {x10, x20}, {x11, x12, x21, x22}.
        assert_eq!(slice::<f32>(&y).unwrap(), &[1.0, 0.0, 0.0, 2.0]);
        // A key flipping tap (0, 0) and a bias.
        let key = t_u32(&[1], &[0b0001]);
        let bias = t_f32(&[1], &[0.5]);
        let y = op.eval(&[&x, &w, &one, &bias, &key]).unwrap().remove(0);
        // Tap (0, 0) sees padding everywhere but the last window (x11 = +1, now −1).
        assert_eq!(slice::<f32>(&y).unwrap(), &[1.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn symbolic_batch_and_size() {
        let scope = SymbolScope::default();
        let (n, h) = (scope.sym("N"), scope.sym("H"));
        let op = BinaryConv2d {
            strides: [2, 1],
            pads: [1, 0, 1, 0],
            ..BinaryConv2d::new([3, 3])
        };
        let x = Fact {
            dt: DatumType::F32,
            shape: tvec![n.clone().into(), 5.into(), h.clone().into(), 9.into()],
        };
        let out = op
            .output_facts(&[
                x,
                Fact::concrete(DatumType::U32, &[8, 2]),
                Fact::concrete(DatumType::F32, &[8]),
            ])
            .unwrap();
        assert_eq!(out[0].shape[0], TDim::from(n));
        assert_eq!(out[0].shape[1], 8.into());
        assert_eq!(out[0].shape[3], 7.into());
        for size in [3i64, 4, 10, 11] {
            let values = SymbolValues::default().with(&h, size);
            let got = out[0].shape[2].eval_to_i64(&values).unwrap();
            assert_eq!(got, (size + 2 - 3) / 2 + 1, "H = {size}");
        }
    }

    #[test]
    fn bad_inputs_and_attributes_are_named() {
        let f = |dt, shape: &[usize]| Fact::concrete(dt, shape);
        let op = BinaryConv2d::new([3, 3]);
        let (x, w, s) = (
            f(DatumType::F32, &[1, 4, 8, 8]),
            f(DatumType::U32, &[6, 2]),
            f(DatumType::F32, &[6]),
        );
        let err = |inputs: &[Fact]| op.output_facts(inputs).unwrap_err().to_string();
        assert!(op.output_facts(&[x.clone(), w.clone(), s.clone()]).is_ok());
        let e = err(&[f(DatumType::F32, &[4, 8, 8]), w.clone(), s.clone()]);
        assert!(
            e.contains("input 0 (X) must have shape [N, C, H, W]"),
            "{e}"
        );
        let e = err(&[x.clone(), f(DatumType::U32, &[6, 1]), s.clone()]);
        assert!(e.contains("ceil(C·kh·kw/32) = 2"), "{e}");
        let e = err(&[x.clone(), f(DatumType::F32, &[6, 2]), s.clone()]);
        assert!(e.contains("input 1 (W) must be U32"), "{e}");
        let e = err(&[f(DatumType::F32, &[1, 4, 2, 8]), w.clone(), s.clone()]);
        assert!(e.contains("padded height 2"), "{e}");
        let e = err(&[x, w, s, f(DatumType::U32, &[3])]);
        assert!(e.contains("input 3 (key) must have shape [2]"), "{e}");
        let bad = t_u32(&[1, 1], &[1 << 9]);
        let e = BinaryConv2d::new([3, 3])
            .eval(&[
                &Tensor::zero::<f32>(&[1, 1, 3, 3]).unwrap(),
                &bad,
                &t_f32(&[1], &[1.0]),
            ])
            .unwrap_err()
            .to_string();
        assert!(e.contains("padding bits"), "{e}");

        let node = |attrs: Vec<(&str, Vec<i64>)>| NodeProto {
            op_type: "BinaryConv2d".into(),
            attribute: attrs
                .into_iter()
                .map(|(name, ints)| tract_onnx::pb::AttributeProto {
                    name: name.into(),
                    r#type: tract_onnx::pb::attribute_proto::AttributeType::Ints as i32,
                    ints,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let e = BinaryConv2d::from_node(&node(vec![]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kernel_shape is required"), "{e}");
        let e = BinaryConv2d::from_node(&node(vec![
            ("kernel_shape", vec![3, 3]),
            ("pads", vec![1, 1]),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("pads must be 4 integers"), "{e}");
        let e = BinaryConv2d::from_node(&node(vec![("kernel_shape", vec![3, 0])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kernel_shape must be 2 integers ≥ 1"), "{e}");
        let op = BinaryConv2d::from_node(&node(vec![
            ("kernel_shape", vec![3, 2]),
            ("strides", vec![2, 1]),
            ("pads", vec![1, 0, 1, 0]),
        ]))
        .unwrap();
        assert_eq!(
            op,
            BinaryConv2d {
                kernel_shape: [3, 2],
                strides: [2, 1],
                pads: [1, 0, 1, 0],
                dilations: [1, 1],
            }
        );
    }

    #[test]
    fn gpu_program_masks_only_when_padding() {
        let f = |dt, shape: &[usize]| Fact::concrete(dt, shape);
        let inputs = [
            f(DatumType::F32, &[2, 3, 10, 10]),
            f(DatumType::U32, &[5, 1]),
            f(DatumType::F32, &[5]),
        ];
        let p = BinaryConv2d::new([3, 3]).gpu_program(&inputs).unwrap();
        assert_eq!(p.passes[1].entry, "im2col");
        assert_eq!(p.passes[2].entry, "conv");
        assert_eq!(p.scratch, vec![11, 128]);
        let padded = BinaryConv2d {
            pads: [0, 1, 0, 0],
            ..BinaryConv2d::new([3, 3])
        };
        let p = padded.gpu_program(&inputs).unwrap();
        assert_eq!(p.passes[2].entry, "conv_masked");
        assert_eq!(p.passes[2].bindings.len(), 5);
        assert_eq!(p.outputs[0].shape, vec![2, 5, 8, 9]);
    }
}
