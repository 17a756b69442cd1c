//! `SsimMap`: the structural similarity (SSIM) of two images, pixel by pixel.
//!
//! SSIM compares local means, variances and the covariance of two images under a Gaussian
//! window. The map is the per-pixel score of the valid region (no padding); its mean is the
//! usual SSIM index. The values match `pytorch_msssim` and scikit-image
//! (`gaussian_weights=True`, `use_sample_covariance=False`) on the valid region.
//!
//! ## Schema
//! - **Inputs**
//!   - `X`: `float32`, shape `[N, C, H, W]`.
//!   - `Y`: `float32`, the shape of `X`.
//! - **Attributes**
//!   - `window` (int, default 11): the window side; odd and ≥ 3.
//!   - `sigma` (float, default 1.5): the Gaussian's standard deviation, > 0.
//!   - `data_range` (float, default 1.0): the dynamic range `L` of the values, > 0.
//!   - `k1`, `k2` (float, default 0.01 and 0.03): the stabilizing constants, > 0.
//! - **Output** `S`: `float32`, shape `[N, C, H − window + 1, W − window + 1]`. `H` and `W`
//!   must be at least `window` (checked when they are known; symbolic sizes give symbolic
//!   output sizes `H − (window − 1)`).
//!
//! With the normalized window `g[i] ∝ exp(−(i − r)² / 2σ²)`, `r = window / 2`, `Σ g = 1`, and
//! `G * v` the valid 2-D filtering of `v` by `g ⊗ g`:
//! `μx = G*x`, `μy = G*y`, `σx² = G*(x²) − μx²`, `σy² = G*(y²) − μy²`, `σxy = G*(xy) − μxμy`,
//! `S = ((2μxμy + C1)(2σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2))`, `C1 = (k1·L)²`,
//! `C2 = (k2·L)²`.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};
use crate::registry::OpDef;
use crate::testing::{BenchCase, Rng};

const SHADER: &str = include_str!("ssim.wgsl");

/// Output tile of one GPU workgroup (rows and columns), as in `ssim.wgsl`.
const TILE: usize = 32;

/// The `SsimMap` operator.
#[derive(Debug, Clone, PartialEq)]
pub struct SsimMap {
    /// Window side (odd, ≥ 3).
    pub window: usize,
    /// Standard deviation of the Gaussian window.
    pub sigma: f32,
    /// Dynamic range `L` of the values.
    pub data_range: f32,
    /// `C1 = (k1·L)²`.
    pub k1: f32,
    /// `C2 = (k2·L)²`.
    pub k2: f32,
}

impl Default for SsimMap {
    fn default() -> Self {
        SsimMap {
            window: 11,
            sigma: 1.5,
            data_range: 1.0,
            k1: 0.01,
            k2: 0.03,
        }
    }
}

impl FromNode for SsimMap {
    const NAME: &'static str = "SsimMap";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let d = SsimMap::default();
        let window: i64 = node.get_attr_opt("window")?.unwrap_or(d.window as i64);
        ensure!(
            window >= 3 && window % 2 == 1,
            "SsimMap: window must be odd and at least 3, got {window}"
        );
        let op = SsimMap {
            window: window as usize,
            sigma: node.get_attr_opt("sigma")?.unwrap_or(d.sigma),
            data_range: node.get_attr_opt("data_range")?.unwrap_or(d.data_range),
            k1: node.get_attr_opt("k1")?.unwrap_or(d.k1),
            k2: node.get_attr_opt("k2")?.unwrap_or(d.k2),
        };
        op.validate()?;
        Ok(op)
    }
}

impl SsimMap {
    fn validate(&self) -> TractResult<()> {
        ensure!(
            self.window >= 3 && self.window % 2 == 1,
            "SsimMap: window must be odd and at least 3, got {}",
            self.window
        );
        for (name, v) in [
            ("sigma", self.sigma),
            ("data_range", self.data_range),
            ("k1", self.k1),
            ("k2", self.k2),
        ] {
            ensure!(
                v.is_finite() && v > 0.0,
                "SsimMap: {name} must be positive and finite, got {v}"
            );
        }
        Ok(())
    }

    /// The normalized 1-D Gaussian window.
    fn weights(&self) -> Vec<f32> {
        let r = (self.window / 2) as f64;
        let s = self.sigma as f64;
        let g: Vec<f64> = (0..self.window)
            .map(|i| (-(i as f64 - r).powi(2) / (2.0 * s * s)).exp())
            .collect();
        let sum: f64 = g.iter().sum();
        g.iter().map(|v| (v / sum) as f32).collect()
    }

    fn constants(&self) -> (f32, f32) {
        let l = self.data_range as f64;
        (
            (self.k1 as f64 * l).powi(2) as f32,
            (self.k2 as f64 * l).powi(2) as f32,
        )
    }

    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        self.validate()?;
        check_arity(Self::NAME, inputs, 2, 2)?;
        for (i, name) in ["X", "Y"].iter().enumerate() {
            check_type(Self::NAME, inputs, i, name, DatumType::F32)?;
            ensure!(
                inputs[i].rank() == 4,
                "SsimMap: {name} must have rank 4 [N, C, H, W], got shape {:?}",
                inputs[i].shape
            );
        }
        for axis in 0..4 {
            if let (Some(a), Some(b)) = (inputs[0].dim(axis), inputs[1].dim(axis)) {
                ensure!(
                    a == b,
                    "SsimMap: X and Y must have the same shape, got {:?} and {:?}",
                    inputs[0].shape,
                    inputs[1].shape
                );
            }
        }
        for (axis, name) in [(2, "H"), (3, "W")] {
            if let Some(d) = inputs[0].dim(axis) {
                ensure!(
                    d >= self.window,
                    "SsimMap: X's {name} ({d}) is smaller than the window ({})",
                    self.window
                );
            }
        }
        Ok(())
    }

    /// The concrete shape of `X` after checking the inputs.
    fn shape(&self, facts: &[Fact]) -> TractResult<[usize; 4]> {
        self.check(facts)?;
        let concrete = |i: usize| facts[i].dims().context("SsimMap: shapes must be concrete");
        let (x, _) = (concrete(0)?, concrete(1)?);
        Ok([x[0], x[1], x[2], x[3]])
    }
}

/// SSIM of one plane: separable filtering of the five moments (horizontal into `hm`, then
/// vertical per output row into `acc`), then the per-pixel formula.
struct Plane<'a> {
    g: &'a [f32],
    c1: f32,
    c2: f32,
    h: usize,
    w: usize,
}

impl Plane<'_> {
    fn run(&self, x: &[f32], y: &[f32], out: &mut [f32], hm: &mut [f32], rows: &mut [f32]) {
        let (h, w, win) = (self.h, self.w, self.g.len());
        let (ho, wo) = (h - win + 1, w - win + 1);
        // hm: moment m of input row r at (m * h + r) * wo.
        for r in 0..h {
            let (xr, yr) = (&x[r * w..][..w], &y[r * w..][..w]);
            let (xx, rest) = rows.split_at_mut(w);
            let (yy, xy) = rest.split_at_mut(w);
            for i in 0..w {
                xx[i] = xr[i] * xr[i];
                yy[i] = yr[i] * yr[i];
                xy[i] = xr[i] * yr[i];
            }
            for (m, src) in [xr, yr, &*xx, &*yy, &*xy].into_iter().enumerate() {
                let dst = &mut hm[(m * h + r) * wo..][..wo];
                dst.fill(0.0);
                for (k, &gk) in self.g.iter().enumerate() {
                    for (d, &s) in dst.iter_mut().zip(&src[k..k + wo]) {
                        *d += gk * s;
                    }
                }
            }
        }
        let mut acc = vec![0f32; 5 * wo];
        for oy in 0..ho {
            acc.fill(0.0);
            for m in 0..5 {
                let a = &mut acc[m * wo..][..wo];
                for (k, &gk) in self.g.iter().enumerate() {
                    let src = &hm[(m * h + oy + k) * wo..][..wo];
                    for (d, &s) in a.iter_mut().zip(src) {
                        *d += gk * s;
                    }
                }
            }
            let row = &mut out[oy * wo..][..wo];
            for (ox, o) in row.iter_mut().enumerate() {
                let at = |m: usize| acc[m * wo + ox];
                *o = ssim(at(0), at(1), at(2), at(3), at(4), self.c1, self.c2);
            }
        }
    }
}

/// The SSIM formula from filtered moments `μx, μy, G*(x²), G*(y²), G*(xy)`.
fn ssim(mx: f32, my: f32, exx: f32, eyy: f32, exy: f32, c1: f32, c2: f32) -> f32 {
    let vx = exx - mx * mx;
    let vy = eyy - my * my;
    let cxy = exy - mx * my;
    ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
}

impl CustomOp for SsimMap {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        self.check(inputs)?;
        let s = &inputs[0].shape;
        let shrink = (self.window - 1) as i64;
        Ok(tvec!(Fact {
            dt: DatumType::F32,
            shape: tvec![
                s[0].clone(),
                s[1].clone(),
                s[2].clone() - shrink,
                s[3].clone() - shrink
            ],
        }))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let facts: Vec<Fact> = inputs
            .iter()
            .map(|t| Fact::concrete(t.datum_type(), t.shape()))
            .collect();
        let [n, c, h, w] = self.shape(&facts)?;
        let (x, y) = (slice::<f32>(inputs[0])?, slice::<f32>(inputs[1])?);
        let g = self.weights();
        let (c1, c2) = self.constants();
        let (ho, wo) = (h - self.window + 1, w - self.window + 1);
        let plane = Plane {
            g: &g,
            c1,
            c2,
            h,
            w,
        };
        let mut out = vec![0f32; n * c * ho * wo];
        let mut hm = vec![0f32; 5 * h * wo];
        let mut rows = vec![0f32; 3 * w];
        for p in 0..n * c {
            plane.run(
                &x[p * h * w..][..h * w],
                &y[p * h * w..][..h * w],
                &mut out[p * ho * wo..][..ho * wo],
                &mut hm,
                &mut rows,
            );
        }
        Ok(tvec!(Tensor::from_shape(&[n, c, ho, wo], &out)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        let [n, c, h, w] = self.shape(inputs)?;
        let (ho, wo) = (h - self.window + 1, w - self.window + 1);
        let (tiles_y, tiles_x) = (ho.div_ceil(TILE), wo.div_ceil(TILE));
        let tiles = n * c * tiles_y * tiles_x;
        let (c1, c2) = self.constants();
        let mut params = Params::new()
            .u(tiles)
            .u(tiles_x)
            .u(tiles_x * tiles_y)
            .u(h)
            .u(w)
            .u(ho)
            .u(wo)
            .u(self.window)
            .f(c1)
            .f(c2);
        let padded = [0.0; 3].into_iter().chain(self.weights()).chain([0.0; 3]);
        for g in padded {
            params = params.f(g);
        }
        Ok(GpuProgram {
            outputs: vec![GpuOutput {
                dt: DatumType::F32,
                shape: vec![n, c, ho, wo],
            }],
            scratch: vec![],
            passes: vec![Pass {
                label: "SsimMap",
                shader: SHADER,
                entry: "main",
                workgroups: grid(tiles, 1),
                params: params.build(),
                bindings: vec![Slot::Input(0), Slot::Input(1), Slot::Output(0)],
            }],
        })
    }
}

/// Benchmark workloads: a small grey image, an RGB image, a batch of RGB images; `Y` is `X`
/// with noise. Flops: five moments, each filtered by a window-long multiply-add in two passes.
pub fn bench_cases() -> Vec<BenchCase> {
    let mut rng = Rng::new(17);
    [
        ("small", [1, 1, 128, 128]),
        ("medium", [1, 3, 512, 512]),
        ("large", [4, 3, 512, 512]),
    ]
    .into_iter()
    .map(|(size, shape)| {
        let op = SsimMap::default();
        let x = rng.tensor_f32(&shape, 0.0, 1.0);
        let noise = rng.tensor_f32(&shape, -0.1, 0.1);
        let y: Vec<f32> = slice::<f32>(&x)
            .expect("f32")
            .iter()
            .zip(slice::<f32>(&noise).expect("f32"))
            .map(|(a, b)| a + b)
            .collect();
        let y = Tensor::from_shape(&shape, &y).expect("shape matches data");
        let len: usize = shape.iter().product();
        let out = shape[0] * shape[1] * (shape[2] - op.window + 1) * (shape[3] - op.window + 1);
        BenchCase {
            name: format!("SsimMap {size} {shape:?}"),
            flops: (5 * op.window * 2 * 2 * out) as f64,
            bytes: 4.0 * (2 * len + out) as f64,
            op: std::sync::Arc::new(op),
            inputs: vec![x, y],
        }
    })
    .collect()
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<SsimMap>()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    /// SSIM by direct 2-D window sums in f64, with the window built here from its definition.
    fn naive(op: &SsimMap, x: &Tensor, y: &Tensor) -> Tensor {
        let s = x.shape().to_vec();
        let (h, w, win) = (s[2], s[3], op.window);
        let (ho, wo) = (h - win + 1, w - win + 1);
        let sig = op.sigma as f64;
        let r = (win / 2) as f64;
        let g1: Vec<f64> = (0..win)
            .map(|i| (-((i as f64 - r) * (i as f64 - r)) / (2.0 * sig * sig)).exp())
            .collect();
        let total: f64 = g1.iter().sum();
        let l = op.data_range as f64;
        let c1 = (op.k1 as f64 * l) * (op.k1 as f64 * l);
        let c2 = (op.k2 as f64 * l) * (op.k2 as f64 * l);
        let (xs, ys) = (slice::<f32>(x).unwrap(), slice::<f32>(y).unwrap());
        let mut out = Vec::new();
        for p in 0..s[0] * s[1] {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut m = [0f64; 5];
                    for i in 0..win {
                        for j in 0..win {
                            let wgt = g1[i] * g1[j] / (total * total);
                            let at = p * h * w + (oy + i) * w + ox + j;
                            let (a, b) = (xs[at] as f64, ys[at] as f64);
                            m[0] += wgt * a;
                            m[1] += wgt * b;
                            m[2] += wgt * a * a;
                            m[3] += wgt * b * b;
                            m[4] += wgt * a * b;
                        }
                    }
                    let (mx, my) = (m[0], m[1]);
                    let (vx, vy, cxy) = (m[2] - mx * mx, m[3] - my * my, m[4] - mx * my);
                    let v = (2.0 * mx * my + c1) * (2.0 * cxy + c2)
                        / ((mx * mx + my * my + c1) * (vx + vy + c2));
                    out.push(v as f32);
                }
            }
        }
        Tensor::from_shape(&[s[0], s[1], ho, wo], &out).unwrap()
    }

    fn add_noise(rng: &mut Rng, x: &Tensor, amp: f32) -> Tensor {
        let y: Vec<f32> = slice::<f32>(x)
            .unwrap()
            .iter()
            .map(|&v| v + rng.uniform(-amp, amp))
            .collect();
        Tensor::from_shape(x.shape(), &y).unwrap()
    }

    #[test]
    fn matches_direct_window_sums() {
        let mut rng = Rng::new(5);
        for case in 0..16 {
            let window = [3, 5, 7, 11][case % 4];
            let op = SsimMap {
                window,
                sigma: rng.uniform(0.5, 3.0),
                data_range: if case % 3 == 0 { 255.0 } else { 1.0 },
                ..SsimMap::default()
            };
            let shape = [
                rng.range(1, 2),
                rng.range(1, 3),
                rng.range(window, window + 12),
                rng.range(window, window + 12),
            ];
            let l = op.data_range;
            let x = rng.tensor_f32(&shape, 0.0, l);
            let y = if case % 2 == 0 {
                add_noise(&mut rng, &x, 0.1 * l)
            } else {
                rng.tensor_f32(&shape, 0.0, l)
            };
            let got = op.eval(&[&x, &y]).unwrap().remove(0);
            // f32 moments, with E[x²] − μ² cancellation: a few 1e-6 of SSIM's unit scale.
            assert_close(&got, &naive(&op, &x, &y), 1e-4, 1e-4)
                .unwrap_or_else(|e| panic!("case {case} {shape:?} window {window}: {e}"));
        }
    }

    #[test]
    fn identical_images_score_one_and_constants_follow_the_means() {
        let mut rng = Rng::new(9);
        let op = SsimMap::default();
        let x = rng.tensor_f32(&[1, 2, 13, 15], 0.0, 1.0);
        let s = op.eval(&[&x, &x]).unwrap().remove(0);
        assert_eq!(s.shape(), &[1, 2, 3, 5]);
        assert!(
            slice::<f32>(&s)
                .unwrap()
                .iter()
                .all(|v| (v - 1.0).abs() < 1e-5)
        );
        // Two flat images: no variance, so S = (2ab + C1) / (a² + b² + C1).
        let a = Tensor::from_shape(&[1, 1, 3, 3], &[0.5f32; 9]).unwrap();
        let b = Tensor::from_shape(&[1, 1, 3, 3], &[0.25f32; 9]).unwrap();
        let op = SsimMap {
            window: 3,
            ..SsimMap::default()
        };
        let s = op.eval(&[&a, &b]).unwrap().remove(0);
        let c1 = 1e-4f32;
        let want = (2.0 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1);
        assert_eq!(s.shape(), &[1, 1, 1, 1]);
        assert!((slice::<f32>(&s).unwrap()[0] - want).abs() < 1e-6);
        // A ramp and its negation, both of mean zero under the symmetric window:
        // S = (−2σ² + C2) / (2σ² + C2) with σ² = 2·g[0] (the outer columns' weight).
        let v = [-1f32, 0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 0.0, 1.0];
        let neg: Vec<f32> = v.iter().map(|a| -a).collect();
        let a = Tensor::from_shape(&[1, 1, 3, 3], &v).unwrap();
        let b = Tensor::from_shape(&[1, 1, 3, 3], &neg).unwrap();
        let s = slice::<f32>(&op.eval(&[&a, &b]).unwrap()[0]).unwrap()[0];
        let e = (-1.0f64 / 4.5).exp();
        let var = 2.0 * e / (1.0 + 2.0 * e);
        let want = (-2.0 * var + 9e-4) / (2.0 * var + 9e-4);
        assert!((s as f64 - want).abs() < 1e-5, "{s} vs {want}");
    }

    #[test]
    fn symbolic_sizes_shrink_by_the_window() {
        let op = SsimMap {
            window: 7,
            ..SsimMap::default()
        };
        let n = TDim::Sym(SymbolScope::default().sym("N"));
        let h = TDim::Sym(SymbolScope::default().sym("H"));
        let f = Fact {
            dt: DatumType::F32,
            shape: tvec![n.clone(), 3.into(), h.clone(), 20.into()],
        };
        let out = op.output_facts(&[f.clone(), f]).unwrap().remove(0);
        assert_eq!(out.shape[0], n);
        assert_eq!(out.shape[2], h - 6);
        assert_eq!(out.shape[3], 14.into());
    }

    #[test]
    fn bad_inputs_and_attributes_are_named() {
        let op = SsimMap::default();
        let f = |shape: &[usize]| Fact::concrete(DatumType::F32, shape);
        let err = |r: TractResult<TVec<Fact>>| r.unwrap_err().to_string();
        let e = err(op.output_facts(&[f(&[1, 1, 16, 16]), f(&[1, 1, 16, 17])]));
        assert!(e.contains("same shape"), "{e}");
        let e = err(op.output_facts(&[f(&[1, 1, 10, 16]), f(&[1, 1, 10, 16])]));
        assert!(e.contains("H (10)") && e.contains("window (11)"), "{e}");
        let e = err(op.output_facts(&[f(&[16, 16]), f(&[16, 16])]));
        assert!(e.contains("rank 4"), "{e}");
        let i = Fact::concrete(DatumType::I64, &[1, 1, 16, 16]);
        let e = err(op.output_facts(&[f(&[1, 1, 16, 16]), i]));
        assert!(e.contains("input 1 (Y)"), "{e}");
        let e = err(op.output_facts(&[f(&[1, 1, 16, 16])]));
        assert!(e.contains("expected 2 inputs"), "{e}");
        let x = Tensor::zero::<f32>(&[1, 1, 8, 20]).unwrap();
        let e = op.eval(&[&x, &x]).unwrap_err().to_string();
        assert!(e.contains("H (8)"), "{e}");
        let i = Tensor::zero::<i64>(&[1, 1, 8, 20]).unwrap();
        let e = op.eval(&[&x, &i]).unwrap_err().to_string();
        assert!(e.contains("input 1 (Y) must be F32"), "{e}");

        let node = |attrs: Vec<(&str, Result<i64, f32>)>| NodeProto {
            op_type: "SsimMap".into(),
            attribute: attrs
                .into_iter()
                .map(|(name, v)| {
                    use tract_onnx::pb::attribute_proto::AttributeType;
                    let mut a = tract_onnx::pb::AttributeProto {
                        name: name.into(),
                        ..Default::default()
                    };
                    match v {
                        Ok(i) => {
                            a.i = i;
                            a.r#type = AttributeType::Int as i32;
                        }
                        Err(f) => {
                            a.f = f;
                            a.r#type = AttributeType::Float as i32;
                        }
                    }
                    a
                })
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            SsimMap::from_node(&node(vec![])).unwrap(),
            SsimMap::default()
        );
        let op = SsimMap::from_node(&node(vec![("window", Ok(7)), ("sigma", Err(2.0))])).unwrap();
        assert_eq!((op.window, op.sigma), (7, 2.0));
        let e = SsimMap::from_node(&node(vec![("window", Ok(8))])).unwrap_err();
        assert!(e.to_string().contains("odd"), "{e}");
        let e = SsimMap::from_node(&node(vec![("window", Ok(1))])).unwrap_err();
        assert!(e.to_string().contains("at least 3"), "{e}");
        let e = SsimMap::from_node(&node(vec![("sigma", Err(0.0))])).unwrap_err();
        assert!(e.to_string().contains("sigma"), "{e}");
        let e = SsimMap::from_node(&node(vec![("data_range", Err(-1.0))])).unwrap_err();
        assert!(e.to_string().contains("data_range"), "{e}");
    }

    #[test]
    fn bench_cases_are_three_sizes() {
        let cases = bench_cases();
        assert_eq!(cases.len(), 3);
        assert!(cases[0].name.starts_with("SsimMap small"));
        let facts: Vec<Fact> = cases[2]
            .inputs
            .iter()
            .map(|t| Fact::concrete(t.datum_type(), t.shape()))
            .collect();
        let p = cases[2].op.gpu_program(&facts).unwrap();
        assert_eq!(p.outputs[0].shape, vec![4, 3, 502, 502]);
        assert_eq!(p.passes[0].workgroups, [4 * 3 * 16 * 16, 1, 1]);
    }
}
