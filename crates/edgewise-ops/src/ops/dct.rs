//! `BlockDct` and `BlockIdct`: orthonormal 2-D DCT of non-overlapping image blocks, as in
//! JPEG-style codecs and frequency-domain feature extractors.
//!
//! ## Schema
//! - **Input** `X`: `float32`, shape `[N, C, H, W]`.
//! - **Attribute** `block` (int, default 8): the tile side `B`, ≥ 1. `H` and `W` must be
//!   multiples of `B` (checked when they are known, and at evaluation otherwise).
//! - **Output** `Y`: `float32`, the shape of `X`.
//!
//! Each `B × B` tile `f` (rows `x`, columns `y`) is replaced by its transform. `BlockDct` is
//! the orthonormal DCT-II,
//! `Y[u, v] = α(u) α(v) Σ_x Σ_y f[x, y] cos((2x + 1)uπ / 2B) cos((2y + 1)vπ / 2B)`,
//! with `α(0) = √(1/B)` and `α(k) = √(2/B)` (`u` indexes rows); it equals
//! `scipy.fft.dctn(tile, type=2, norm='ortho')`. `BlockIdct` is its inverse, the orthonormal
//! DCT-III: `f[x, y] = Σ_u Σ_v α(u) α(v) Y[u, v] cos((2x + 1)uπ / 2B) cos((2y + 1)vπ / 2B)`.
//! With `M[u, x] = α(u) cos((2x + 1)uπ / 2B)`, a tile becomes `M·f·Mᵀ` (DCT) or `Mᵀ·Y·M`
//! (inverse).

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};
use crate::registry::OpDef;
use crate::testing::{BenchCase, Rng};

const SHADER: &str = include_str!("dct.wgsl");

/// Values one GPU workgroup holds in workgroup memory (`dct.wgsl`), which bounds `B` for
/// the single-pass kernel.
const WG_VALUES: usize = 1024;
/// Words before the matrix in the GPU parameters.
const HDR: usize = 8;

/// The `BlockDct` operator: orthonormal DCT-II of every `block × block` tile.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockDct {
    /// Tile side.
    pub block: usize,
}

/// The `BlockIdct` operator: orthonormal DCT-III (the inverse of [`BlockDct`]) of every
/// `block × block` tile.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockIdct {
    /// Tile side.
    pub block: usize,
}

fn read_block(name: &str, node: &NodeProto) -> TractResult<usize> {
    let block: i64 = node.get_attr_opt("block")?.unwrap_or(8);
    ensure!(block >= 1, "{name}: block must be at least 1, got {block}");
    Ok(block as usize)
}

impl FromNode for BlockDct {
    const NAME: &'static str = "BlockDct";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        Ok(BlockDct {
            block: read_block(Self::NAME, node)?,
        })
    }
}

impl FromNode for BlockIdct {
    const NAME: &'static str = "BlockIdct";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        Ok(BlockIdct {
            block: read_block(Self::NAME, node)?,
        })
    }
}

/// What both operators share: the tile side and the direction.
struct Transform {
    name: &'static str,
    block: usize,
    inverse: bool,
}

impl Transform {
    /// The `B × B` matrix `A` applied as `A·f·Aᵀ`, row-major: `M` or `Mᵀ`.
    fn matrix(&self) -> Vec<f32> {
        let b = self.block;
        let mut a = vec![0f32; b * b];
        for u in 0..b {
            let alpha = if u == 0 {
                (1.0 / b as f64).sqrt()
            } else {
                (2.0 / b as f64).sqrt()
            };
            for x in 0..b {
                let m = alpha
                    * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / (2 * b) as f64).cos();
                let at = if self.inverse { x * b + u } else { u * b + x };
                a[at] = m as f32;
            }
        }
        a
    }

    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        let name = self.name;
        ensure!(self.block >= 1, "{name}: block must be at least 1, got 0");
        check_arity(name, inputs, 1, 1)?;
        check_type(name, inputs, 0, "X", DatumType::F32)?;
        let x = &inputs[0];
        ensure!(
            x.rank() == 4,
            "{name}: X must have rank 4 [N, C, H, W], got shape {:?}",
            x.shape
        );
        if let (Some(h), Some(w)) = (x.dim(2), x.dim(3)) {
            ensure!(
                h % self.block == 0 && w % self.block == 0,
                "{name}: X's H ({h}) and W ({w}) must both be multiples of block ({})",
                self.block
            );
        } else {
            for (axis, dim) in [(2, "H"), (3, "W")] {
                if let Some(d) = x.dim(axis) {
                    ensure!(
                        d % self.block == 0,
                        "{name}: X's {dim} ({d}) must be a multiple of block ({})",
                        self.block
                    );
                }
            }
        }
        Ok(())
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let facts: Vec<Fact> = inputs
            .iter()
            .map(|t| Fact::concrete(t.datum_type(), t.shape()))
            .collect();
        self.check(&facts)?;
        let x = inputs[0];
        let (b, w) = (self.block, x.shape()[3]);
        let a = self.matrix();
        let src = slice::<f32>(x)?;
        let mut out = vec![0f32; src.len()];
        if out.is_empty() {
            return Ok(tvec!(Tensor::from_shape(x.shape(), &out)?));
        }
        let mut mid = vec![0f32; b * w];
        // Tile rows of all planes are stacked: one strip of B full image rows at a time.
        for (strip, dst) in src.chunks_exact(b * w).zip(out.chunks_exact_mut(b * w)) {
            // mid = A · strip (down the columns of every tile at once)
            for u in 0..b {
                let m = &mut mid[u * w..][..w];
                m.fill(0.0);
                for (xr, &coef) in a[u * b..][..b].iter().enumerate() {
                    for (d, &s) in m.iter_mut().zip(&strip[xr * w..][..w]) {
                        *d += coef * s;
                    }
                }
            }
            // out[u, tile v] = mid[u, tile ·] · Aᵀ
            for u in 0..b {
                let (m, d) = (&mid[u * w..][..w], &mut dst[u * w..][..w]);
                for (mt, dt) in m.chunks_exact(b).zip(d.chunks_exact_mut(b)) {
                    for (v, o) in dt.iter_mut().enumerate() {
                        let row = &a[v * b..][..b];
                        *o = mt.iter().zip(row).map(|(p, q)| p * q).sum();
                    }
                }
            }
        }
        Ok(tvec!(Tensor::from_shape(x.shape(), &out)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        self.check(inputs)?;
        let shape = inputs[0]
            .dims()
            .with_context(|| format!("{}: shapes must be concrete", self.name))?;
        let (b, w) = (self.block, shape[3]);
        let len: usize = shape.iter().product();
        let a = self.matrix();
        // Aᵀ, row-major: at[x * B + u] = A[u, x].
        let transposed = (0..b * b).map(|i| a[(i % b) * b + i / b]);
        let with_matrix = |mut p: Params| {
            while p.0.len() < HDR {
                p = p.u(0);
            }
            transposed.clone().fold(p, |p, v| p.f(v))
        };
        let output = vec![GpuOutput {
            dt: DatumType::F32,
            shape: shape.clone(),
        }];
        if b * b <= WG_VALUES {
            let per_row = w / b;
            let fit = (WG_VALUES / (b * b)).min(per_row).max(1);
            let segs = per_row.div_ceil(fit).max(1);
            let t = per_row.div_ceil(segs).max(1);
            let strips = len / (b * w).max(1);
            let groups = strips * segs;
            let params = Params::new().u(b).u(w).u(t * b).u(segs).u(groups);
            return Ok(GpuProgram {
                outputs: output,
                scratch: vec![],
                passes: vec![Pass {
                    label: self.name,
                    shader: SHADER,
                    entry: "tiles",
                    workgroups: grid(groups, 1),
                    params: with_matrix(params).build(),
                    bindings: vec![Slot::Input(0), Slot::Output(0)],
                }],
            });
        }
        let params = with_matrix(Params::new().u(b).u(w).u(len)).build();
        let pass = |entry, bindings| Pass {
            label: self.name,
            shader: SHADER,
            entry,
            workgroups: grid(len, 256),
            params: params.clone(),
            bindings,
        };
        Ok(GpuProgram {
            outputs: output,
            scratch: vec![len as u64],
            passes: vec![
                pass("rows", vec![Slot::Input(0), Slot::Scratch(0)]),
                pass("cols", vec![Slot::Scratch(0), Slot::Output(0)]),
            ],
        })
    }
}

impl BlockDct {
    fn transform(&self) -> Transform {
        Transform {
            name: Self::NAME,
            block: self.block,
            inverse: false,
        }
    }
}

impl BlockIdct {
    fn transform(&self) -> Transform {
        Transform {
            name: Self::NAME,
            block: self.block,
            inverse: true,
        }
    }
}

macro_rules! block_op {
    ($ty:ident) => {
        impl CustomOp for $ty {
            fn name(&self) -> &'static str {
                Self::NAME
            }

            fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
                self.transform().check(inputs)?;
                Ok(tvec!(inputs[0].clone()))
            }

            fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
                self.transform().eval(inputs)
            }

            fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
                self.transform().gpu_program(inputs)
            }
        }
    };
}

block_op!(BlockDct);
block_op!(BlockIdct);

/// Benchmark workloads: 8×8 blocks of an RGB image, a larger one, a batch of them. Flops:
/// two separable passes of `B` multiply-adds per output element.
pub fn bench_cases() -> Vec<BenchCase> {
    let mut rng = Rng::new(23);
    [
        ("small", [1, 3, 256, 256]),
        ("medium", [1, 3, 1024, 1024]),
        ("large", [8, 3, 1024, 1024]),
    ]
    .into_iter()
    .flat_map(|(size, shape)| {
        let len: usize = shape.iter().product();
        let x = rng.tensor_f32(&shape, 0.0, 1.0);
        let ops: [(&str, std::sync::Arc<dyn CustomOp>); 2] = [
            ("BlockDct", std::sync::Arc::new(BlockDct { block: 8 })),
            ("BlockIdct", std::sync::Arc::new(BlockIdct { block: 8 })),
        ];
        ops.into_iter().map(move |(name, op)| BenchCase {
            name: format!("{name} {size} {shape:?}"),
            op,
            inputs: vec![x.clone()],
            flops: (4 * 8 * len) as f64,
            bytes: (8 * len) as f64,
        })
    })
    .collect()
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<BlockDct>(), OpDef::of::<BlockIdct>()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    /// The tile transform by its definition: a direct quadruple sum in f64 per tile.
    fn naive(x: &Tensor, b: usize, inverse: bool) -> Tensor {
        let s = x.shape();
        let (h, w) = (s[2], s[3]);
        let xs = slice::<f32>(x).unwrap();
        let alpha = |k: usize| (if k == 0 { 1.0 } else { 2.0 } / b as f64).sqrt();
        let cos = |p: usize, k: usize| {
            ((2 * p + 1) as f64 * k as f64 * std::f64::consts::PI / (2.0 * b as f64)).cos()
        };
        let mut out = vec![0f32; xs.len()];
        for p in 0..s[0] * s[1] {
            for ti in (0..h).step_by(b) {
                for tj in (0..w).step_by(b) {
                    let at = |i: usize, j: usize| p * h * w + (ti + i) * w + tj + j;
                    for i in 0..b {
                        for j in 0..b {
                            let mut acc = 0f64;
                            for k in 0..b {
                                for l in 0..b {
                                    let v = xs[at(k, l)] as f64;
                                    acc += if inverse {
                                        // f[i, j] = Σ_u Σ_v α(u)α(v) Y[u, v] cos(i, u) cos(j, v)
                                        alpha(k) * alpha(l) * v * cos(i, k) * cos(j, l)
                                    } else {
                                        // Y[i, j] = α(i)α(j) Σ_x Σ_y f[x, y] cos(x, i) cos(y, j)
                                        alpha(i) * alpha(j) * v * cos(k, i) * cos(l, j)
                                    };
                                }
                            }
                            out[at(i, j)] = acc as f32;
                        }
                    }
                }
            }
        }
        Tensor::from_shape(s, &out).unwrap()
    }

    fn random_case(rng: &mut Rng) -> (usize, Tensor) {
        let b = [1, 2, 3, 4, 5, 8, 8, 16][rng.range(0, 7)];
        let shape = [
            rng.range(1, 2),
            rng.range(1, 3),
            b * rng.range(1, 3),
            b * rng.range(1, 4),
        ];
        (b, rng.tensor_f32(&shape, -1.0, 1.0))
    }

    #[test]
    fn matches_the_direct_sums() {
        let mut rng = Rng::new(31);
        for case in 0..20 {
            let (b, x) = random_case(&mut rng);
            let dct = BlockDct { block: b }.eval(&[&x]).unwrap().remove(0);
            let idct = BlockIdct { block: b }.eval(&[&x]).unwrap().remove(0);
            // f32 dot products of length B twice: a few ulps of the sums.
            let ctx = |e: String| format!("case {case} {:?} block {b}: {e}", x.shape());
            assert_close(&dct, &naive(&x, b, false), 1e-5, 1e-5)
                .unwrap_or_else(|e| panic!("BlockDct {}", ctx(e)));
            assert_close(&idct, &naive(&x, b, true), 1e-5, 1e-5)
                .unwrap_or_else(|e| panic!("BlockIdct {}", ctx(e)));
        }
    }

    #[test]
    fn inverse_undoes_the_transform() {
        let mut rng = Rng::new(37);
        for case in 0..12 {
            let (b, x) = random_case(&mut rng);
            let y = BlockDct { block: b }.eval(&[&x]).unwrap().remove(0);
            let back = BlockIdct { block: b }.eval(&[&y]).unwrap().remove(0);
            assert_close(&back, &x, 1e-5, 1e-5)
                .unwrap_or_else(|e| panic!("case {case} block {b}: {e}"));
        }
    }

    #[test]
    fn constant_tiles_keep_only_the_dc_coefficient() {
        for b in [1, 3, 8] {
            // Two tiles side by side with values 0.5 and −2.
            let data: Vec<f32> = (0..b * 2 * b)
                .map(|i| if i % (2 * b) < b { 0.5 } else { -2.0 })
                .collect();
            let x = Tensor::from_shape(&[1, 1, b, 2 * b], &data).unwrap();
            let y = BlockDct { block: b }.eval(&[&x]).unwrap().remove(0);
            let ys = slice::<f32>(&y).unwrap();
            for (i, &v) in ys.iter().enumerate() {
                let (row, col) = (i / (2 * b), i % (2 * b));
                let want = match (row, col) {
                    (0, 0) => b as f32 * 0.5,
                    (0, c) if c == b => b as f32 * -2.0,
                    _ => 0.0,
                };
                assert!(
                    (v - want).abs() < 1e-5,
                    "block {b}: Y[{row}, {col}] = {v}, want {want}"
                );
            }
        }
    }

    #[test]
    fn two_by_two_by_hand() {
        // M = [[1, 1], [1, −1]] / √2, so Y = M·f·Mᵀ; u (rows) sees the vertical change.
        let (a, b, c, d) = (1f32, 2.0, 4.0, 8.0);
        let x = Tensor::from_shape(&[1, 1, 2, 2], &[a, b, c, d]).unwrap();
        let y = BlockDct { block: 2 }.eval(&[&x]).unwrap().remove(0);
        let want = [
            (a + b + c + d) / 2.0,
            (a - b + c - d) / 2.0,
            (a + b - c - d) / 2.0,
            (a - b - c + d) / 2.0,
        ];
        let got = slice::<f32>(&y).unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn shapes_and_bad_inputs() {
        let f = |shape: &[usize]| Fact::concrete(DatumType::F32, shape);
        let op = BlockDct { block: 8 };
        assert_eq!(
            op.output_facts(&[f(&[2, 3, 16, 24])]).unwrap()[0],
            f(&[2, 3, 16, 24])
        );
        let e = op
            .output_facts(&[f(&[1, 1, 12, 24])])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("H (12)") && e.contains("W (24)") && e.contains("block (8)"),
            "{e}"
        );
        let e = BlockIdct { block: 4 }
            .output_facts(&[f(&[1, 1, 8, 6])])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("BlockIdct") && e.contains("W (6)"), "{e}");
        let e = op.output_facts(&[f(&[16, 16])]).unwrap_err().to_string();
        assert!(e.contains("rank 4"), "{e}");
        let i = Fact::concrete(DatumType::I64, &[1, 1, 8, 8]);
        let e = op.output_facts(&[i]).unwrap_err().to_string();
        assert!(e.contains("input 0 (X)"), "{e}");
        let e = op.output_facts(&[]).unwrap_err().to_string();
        assert!(e.contains("expected 1 inputs"), "{e}");
        // Symbolic H is accepted, checked at evaluation.
        let h = TDim::Sym(SymbolScope::default().sym("H"));
        let sym = Fact {
            dt: DatumType::F32,
            shape: tvec![1.into(), 1.into(), h, 16.into()],
        };
        assert_eq!(op.output_facts(std::slice::from_ref(&sym)).unwrap()[0], sym);
        let empty = Tensor::zero::<f32>(&[0, 3, 16, 16]).unwrap();
        assert_eq!(op.eval(&[&empty]).unwrap()[0].shape(), &[0, 3, 16, 16]);
        let x = Tensor::zero::<f32>(&[1, 1, 9, 16]).unwrap();
        let e = op.eval(&[&x]).unwrap_err().to_string();
        assert!(e.contains("H (9)"), "{e}");

        let node = |block: Option<i64>| NodeProto {
            op_type: "BlockDct".into(),
            attribute: block
                .map(|i| tract_onnx::pb::AttributeProto {
                    name: "block".into(),
                    i,
                    r#type: tract_onnx::pb::attribute_proto::AttributeType::Int as i32,
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            ..Default::default()
        };
        assert_eq!(BlockDct::from_node(&node(None)).unwrap().block, 8);
        assert_eq!(BlockIdct::from_node(&node(Some(4))).unwrap().block, 4);
        let e = BlockDct::from_node(&node(Some(0))).unwrap_err().to_string();
        assert!(e.contains("block must be at least 1"), "{e}");
    }

    #[test]
    fn gpu_programs_pick_the_tiled_or_the_two_pass_kernel() {
        let f = |shape: &[usize]| Fact::concrete(DatumType::F32, shape);
        let p = BlockDct { block: 8 }
            .gpu_program(&[f(&[8, 3, 1024, 1024])])
            .unwrap();
        // 16 tiles of 8×8 per workgroup: 128 tiles per tile row in 8 segments.
        assert_eq!(p.passes.len(), 1);
        assert_eq!(
            &p.passes[0].params[..5],
            &[8, 1024, 128, 8, 8 * 3 * 128 * 8]
        );
        assert_eq!(p.passes[0].params.len(), HDR + 64);
        let p = BlockIdct { block: 40 }
            .gpu_program(&[f(&[1, 2, 40, 80])])
            .unwrap();
        assert_eq!(p.passes.len(), 2);
        assert_eq!(p.scratch, vec![2 * 40 * 80]);
        let cases = bench_cases();
        assert_eq!(cases.len(), 6);
        assert!(cases[0].name.starts_with("BlockDct small"));
        assert!(cases[5].name.starts_with("BlockIdct large"));
    }
}
