//! `BorderRound`: fake quantization with learned rounding borders (AQuant).
//!
//! Round-to-nearest puts the border between two quantization levels at 0.5. AQuant learns
//! where it should be, per channel. This operator applies the learned borders and dequantizes,
//! so a float model carries the quantization error exactly as the integer deployment would.
//!
//! ## Schema
//! - **Inputs**
//!   - `X`: `float32`, rank ≥ 1 (channels on `axis`).
//!   - `scale`: `float32`, shape `[1]` or `[C]` with `C = X.shape[axis]`; every value > 0.
//!   - `border`: `float32`, shape `[1]` or `[C]`; values in `[0, 1]` (0.5 is round-to-nearest).
//! - **Attributes**
//!   - `axis` (int, default 1): the channel axis; negative counts from the end.
//!   - `qmin`, `qmax` (int, default −128 and 127): the integer range, `qmin < qmax`.
//! - **Output** `Y`: `float32`, the shape of `X`.
//!
//! With `v = x / s` for the element's channel: `q = ⌊v⌋ + [v − ⌊v⌋ ≥ b]`, then
//! `y = clamp(q, qmin, qmax) · s`.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};
use crate::registry::OpDef;

const SHADER: &str = include_str!("border.wgsl");

/// The `BorderRound` operator.
#[derive(Debug, Clone, PartialEq)]
pub struct BorderRound {
    /// Channel axis (may be negative).
    pub axis: i64,
    /// Smallest integer level.
    pub qmin: i64,
    /// Largest integer level.
    pub qmax: i64,
}

impl FromNode for BorderRound {
    const NAME: &'static str = "BorderRound";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let op = BorderRound {
            axis: node.get_attr_opt("axis")?.unwrap_or(1),
            qmin: node.get_attr_opt("qmin")?.unwrap_or(-128),
            qmax: node.get_attr_opt("qmax")?.unwrap_or(127),
        };
        ensure!(
            op.qmin < op.qmax,
            "BorderRound: qmin ({}) must be below qmax ({})",
            op.qmin,
            op.qmax
        );
        Ok(op)
    }
}

/// The layout of `X` around the channel axis: `outer × channels × inner`.
struct Layout {
    channels: usize,
    inner: usize,
    len: usize,
}

impl BorderRound {
    fn axis(&self, rank: usize) -> TractResult<usize> {
        let axis = if self.axis < 0 {
            self.axis + rank as i64
        } else {
            self.axis
        };
        ensure!(
            (0..rank as i64).contains(&axis),
            "BorderRound: axis {} is out of range for X of rank {rank}",
            self.axis
        );
        Ok(axis as usize)
    }

    fn layout(&self, x: &[usize], scale: usize, border: usize) -> TractResult<Layout> {
        let axis = self.axis(x.len())?;
        let channels = x[axis];
        for (name, len) in [("scale", scale), ("border", border)] {
            ensure!(
                len == 1 || len == channels,
                "BorderRound: {name} has {len} values; expected 1 or {channels} (X.shape[{axis}])"
            );
        }
        Ok(Layout {
            channels,
            inner: x[axis + 1..].iter().product(),
            len: x.iter().product(),
        })
    }

    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        check_arity(Self::NAME, inputs, 3, 3)?;
        for (i, name) in ["X", "scale", "border"].iter().enumerate() {
            check_type(Self::NAME, inputs, i, name, DatumType::F32)?;
        }
        for (i, name) in [(1, "scale"), (2, "border")] {
            ensure!(
                inputs[i].rank() == 1,
                "BorderRound: {name} must have rank 1, got shape {:?}",
                inputs[i].shape
            );
        }
        self.axis(inputs[0].rank())?;
        Ok(())
    }
}

impl CustomOp for BorderRound {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        self.check(inputs)?;
        Ok(tvec!(inputs[0].clone()))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let (x, scale, border) = (inputs[0], inputs[1], inputs[2]);
        let l = self.layout(x.shape(), scale.len(), border.len())?;
        let (s, b) = (slice::<f32>(scale)?, slice::<f32>(border)?);
        ensure!(
            s.iter().all(|&v| v > 0.0),
            "BorderRound: every scale must be positive"
        );
        let (lo, hi) = (self.qmin as f32, self.qmax as f32);
        let y: Vec<f32> = slice::<f32>(x)?
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = (i / l.inner.max(1)) % l.channels.max(1);
                let (s, b) = (s[c.min(s.len() - 1)], b[c.min(b.len() - 1)]);
                let v = v / s;
                let floor = v.floor();
                let q = floor + if v - floor >= b { 1.0 } else { 0.0 };
                q.clamp(lo, hi) * s
            })
            .collect();
        Ok(tvec!(Tensor::from_shape(x.shape(), &y)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        self.check(inputs)?;
        let dims = |i: usize| {
            inputs[i]
                .dims()
                .context("BorderRound: shapes must be concrete")
        };
        let x = dims(0)?;
        let l = self.layout(&x, dims(1)?[0], dims(2)?[0])?;
        let params = Params::new()
            .u(l.len)
            .u(l.inner)
            .u(l.channels)
            .u(dims(1)?[0])
            .u(dims(2)?[0])
            .i(self.qmin)
            .i(self.qmax);
        Ok(GpuProgram {
            outputs: vec![GpuOutput {
                dt: DatumType::F32,
                shape: x,
            }],
            scratch: vec![],
            passes: vec![Pass {
                label: "BorderRound",
                shader: SHADER,
                entry: "main",
                workgroups: grid(l.len, 256),
                params: params.build(),
                bindings: vec![
                    Slot::Input(0),
                    Slot::Input(1),
                    Slot::Input(2),
                    Slot::Output(0),
                ],
            }],
        })
    }
}

/// Benchmark workloads: activations of a small CNN, per-channel borders.
pub fn bench_cases() -> Vec<crate::testing::BenchCase> {
    let mut rng = crate::testing::Rng::new(7);
    [
        ("small", [1, 16, 32, 32]),
        ("medium", [1, 64, 64, 64]),
        ("large", [8, 64, 128, 128]),
    ]
    .into_iter()
    .map(|(size, shape)| {
        let len: usize = shape.iter().product();
        crate::testing::BenchCase {
            name: format!("BorderRound {size} {shape:?}"),
            op: std::sync::Arc::new(BorderRound {
                axis: 1,
                qmin: -128,
                qmax: 127,
            }),
            inputs: vec![
                rng.tensor_f32(&shape, -4.0, 4.0),
                rng.tensor_f32(&[shape[1]], 0.01, 0.1),
                rng.tensor_f32(&[shape[1]], 0.3, 0.7),
            ],
            flops: 6.0 * len as f64,
            bytes: 8.0 * len as f64,
        }
    })
    .collect()
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<BorderRound>()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close};

    /// Rounds with an explicit border search over integer levels: the level `q` whose interval
    /// `[q - 1 + b, q + b)` (in units of the scale) holds `x / s`.
    fn naive(x: f32, s: f32, b: f32, qmin: i64, qmax: i64) -> f32 {
        let v = x as f64 / s as f64;
        let mut q = (v - 2.0).floor() as i64;
        while v >= q as f64 + b as f64 {
            q += 1;
        }
        q.clamp(qmin, qmax) as f32 * s
    }

    #[test]
    fn matches_the_interval_definition_per_channel() {
        let mut rng = Rng::new(3);
        for case in 0..20 {
            let shape = [rng.range(1, 3), rng.range(1, 6), rng.range(1, 9)];
            let per_channel = case % 2 == 0;
            let c = if per_channel { shape[1] } else { 1 };
            let x = rng.tensor_f32(&shape, -6.0, 6.0);
            let s = rng.tensor_f32(&[c], 0.05, 0.5);
            let b = rng.tensor_f32(&[c], 0.0, 1.0);
            let op = BorderRound {
                axis: 1,
                qmin: -20,
                qmax: 15,
            };
            let got = op.eval(&[&x, &s, &b]).unwrap().remove(0);
            let (xs, ss, bs) = (
                slice::<f32>(&x).unwrap(),
                slice::<f32>(&s).unwrap(),
                slice::<f32>(&b).unwrap(),
            );
            let want: Vec<f32> = xs
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let ch = if per_channel {
                        (i / shape[2]) % shape[1]
                    } else {
                        0
                    };
                    naive(v, ss[ch], bs[ch], -20, 15)
                })
                .collect();
            let want = Tensor::from_shape(&shape, &want).unwrap();
            assert_close(&got, &want, 1e-6, 1e-6).unwrap_or_else(|e| panic!("case {case}: {e}"));
        }
    }

    fn tensor1(v: &[f32]) -> Tensor {
        Tensor::from_shape(&[v.len()], v).unwrap()
    }

    #[test]
    fn half_border_is_round_half_up_and_clamps() {
        let op = BorderRound {
            axis: 0,
            qmin: -2,
            qmax: 2,
        };
        let x = tensor1(&[0.49f32, 0.5, 1.2, -0.5, -0.51, 7.0, -7.0]);
        let out = op
            .eval(&[&x, &tensor1(&[1.0f32]), &tensor1(&[0.5f32])])
            .unwrap();
        let y = slice::<f32>(&out[0]).unwrap();
        assert_eq!(y, &[0.0, 1.0, 1.0, 0.0, -1.0, 2.0, -2.0]);
    }

    #[test]
    fn bad_inputs_are_named() {
        let op = BorderRound {
            axis: 1,
            qmin: 0,
            qmax: 255,
        };
        let f = |shape: &[usize]| Fact::concrete(DatumType::F32, shape);
        let err = op.output_facts(&[f(&[2, 3]), f(&[4]), f(&[1])]).unwrap();
        assert_eq!(err[0], f(&[2, 3]));
        let x = Tensor::zero::<f32>(&[2, 3]).unwrap();
        let e = op
            .eval(&[&x, &tensor1(&[1f32; 4]), &tensor1(&[0.5f32])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("scale has 4 values"), "{e}");
        let e = op
            .output_facts(&[f(&[2, 3]), Fact::concrete(DatumType::I64, &[1]), f(&[1])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("input 1 (scale)"), "{e}");
    }
}
