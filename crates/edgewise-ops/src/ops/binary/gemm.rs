//! `BinaryGemm`: a fully connected layer with ±1 activations and packed ±1 weights.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{
    GEMV_ROWS, Optional, SHADER, affine, check_affine, check_u32, compatible, effective_weights,
    facts, prep_pass, tile_grid,
};
use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};

/// The `BinaryGemm` operator (no attributes); see the [family docs](super) for the schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinaryGemm;

impl FromNode for BinaryGemm {
    const NAME: &'static str = "BinaryGemm";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        if let Some(a) = node.attribute.first() {
            bail!("BinaryGemm: takes no attributes, got '{}'", a.name);
        }
        Ok(BinaryGemm)
    }
}

/// Concrete sizes: `rows × K` activations, `N` output channels, `words` per packed row.
struct Dims {
    rows: usize,
    k: usize,
    words: usize,
    n: usize,
}

impl BinaryGemm {
    /// Checks the inputs; returns the output shape and where the optional inputs are.
    fn check(&self, inputs: &[Fact]) -> TractResult<(TVec<TDim>, Optional)> {
        let op = Self::NAME;
        check_arity(op, inputs, 3, 5)?;
        check_type(op, inputs, 0, "A", DatumType::F32)?;
        check_type(op, inputs, 1, "W", DatumType::U32)?;
        let (a, w) = (&inputs[0], &inputs[1]);
        ensure!(
            a.rank() >= 1,
            "{op}: input 0 (A) must have rank ≥ 1, got a scalar"
        );
        let k = a.shape[a.rank() - 1].clone();
        let words = k.clone().div_ceil(32);
        ensure!(
            w.rank() == 2 && compatible(&w.shape[1], &words),
            "{op}: input 1 (W) must have shape [N, ceil(K/32) = {words}] for A's K = {k}, got {:?}",
            w.shape
        );
        let opt = check_affine(op, inputs, &w.shape[0], &words)?;
        let mut out: TVec<TDim> = a.shape[..a.rank() - 1].iter().cloned().collect();
        out.push(w.shape[0].clone());
        Ok((out, opt))
    }

    fn dims(inputs: &[Fact]) -> TractResult<Dims> {
        let a = inputs[0]
            .dims()
            .context("BinaryGemm: shapes must be concrete")?;
        let n = inputs[1]
            .dim(0)
            .context("BinaryGemm: shapes must be concrete")?;
        let k = a[a.len() - 1];
        Ok(Dims {
            rows: a[..a.len() - 1].iter().product(),
            k,
            words: k.div_ceil(32),
            n,
        })
    }
}

/// The output shape as numbers.
fn concrete(shape: &[TDim]) -> TractResult<Vec<usize>> {
    shape
        .iter()
        .map(|d| d.to_usize().ok())
        .collect::<Option<_>>()
        .context("BinaryGemm: shapes must be concrete")
}

impl CustomOp for BinaryGemm {
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
        let Dims { rows, k, words, n } = Self::dims(&facts)?;
        let a = slice::<f32>(inputs[0])?;
        let key = opt.key.map(|i| slice::<u32>(inputs[i])).transpose()?;
        let w = effective_weights(Self::NAME, slice::<u32>(inputs[1])?, key, words, k)?;
        let scale = slice::<f32>(inputs[2])?;
        let bias = opt.bias.map(|i| slice::<f32>(inputs[i])).transpose()?;
        let mut y = vec![0f32; rows * n];
        let mut bits = vec![0u32; words];
        for (r, out) in y.chunks_mut(n.max(1)).enumerate().take(rows) {
            for (word, chunk) in bits.iter_mut().zip(a[r * k..(r + 1) * k].chunks(32)) {
                *word = chunk
                    .iter()
                    .enumerate()
                    .fold(0, |acc, (j, &v)| acc | (((v >= 0.0) as u32) << j));
            }
            for (c, out) in out.iter_mut().enumerate() {
                let row = &w[c * words..(c + 1) * words];
                let differ: u32 = bits
                    .iter()
                    .zip(row)
                    .map(|(a, w)| (a ^ w).count_ones())
                    .sum();
                *out = affine(scale, bias, c, k as i64 - 2 * differ as i64);
            }
        }
        let shape = concrete(&shape)?;
        Ok(tvec!(Tensor::from_shape(&shape, &y)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        let op = Self::NAME;
        let (shape, opt) = self.check(inputs)?;
        let Dims { rows, k, words, n } = Self::dims(inputs)?;
        let shape = concrete(&shape)?;
        let outputs = vec![GpuOutput {
            dt: DatumType::F32,
            shape,
        }];
        if rows == 0 || n == 0 {
            return Ok(GpuProgram {
                outputs,
                scratch: vec![],
                passes: vec![],
            });
        }
        check_u32(op, "A", rows * k)?;
        check_u32(op, "Y", rows * n)?;
        check_u32(op, "W", n * words)?;
        let params = Params::new().u(rows).u(k).u(words).u(n).build();
        let gemm = if rows <= GEMV_ROWS {
            Pass {
                label: "BinaryGemm gemv",
                shader: SHADER,
                entry: "gemv",
                workgroups: grid(n * 32, 256),
                params: params.clone(),
                bindings: vec![
                    Slot::Scratch(1),
                    Slot::Input(1),
                    Slot::Scratch(0),
                    Slot::Output(0),
                ],
            }
        } else {
            Pass {
                label: "BinaryGemm gemm",
                shader: SHADER,
                entry: "gemm",
                workgroups: tile_grid(op, rows, n)?,
                params: params.clone(),
                bindings: vec![
                    Slot::Scratch(1),
                    Slot::Input(1),
                    Slot::Scratch(0),
                    Slot::Output(0),
                ],
            }
        };
        Ok(GpuProgram {
            outputs,
            scratch: vec![(2 * n + words) as u64, (rows * words) as u64],
            passes: vec![
                prep_pass("BinaryGemm prep", n, words, opt),
                Pass {
                    label: "BinaryGemm pack",
                    shader: SHADER,
                    entry: "pack",
                    workgroups: grid(rows * words, 256),
                    params,
                    bindings: vec![Slot::Input(0), Slot::Scratch(0), Slot::Scratch(1)],
                },
                gemm,
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close};

    fn t_f32(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_shape(shape, v).unwrap()
    }

    fn t_u32(shape: &[usize], v: &[u32]) -> Tensor {
        Tensor::from_shape(shape, v).unwrap()
    }

    /// Unpacks weight `(n, k)` to ±1 from the raw bits, XORing the key bit by hand.
    fn weight(w: &[u32], key: Option<&[u32]>, words: usize, n: usize, k: usize) -> f64 {
        let mut bit = (w[n * words + k / 32] >> (k % 32)) & 1;
        if let Some(key) = key {
            bit ^= (key[k / 32] >> (k % 32)) & 1;
        }
        if bit == 1 { 1.0 } else { -1.0 }
    }

    /// A float matmul over ±1 values, in f64.
    fn naive(
        a: &Tensor,
        w: &Tensor,
        scale: &[f32],
        bias: Option<&[f32]>,
        key: Option<&[u32]>,
    ) -> Tensor {
        let k = *a.shape().last().unwrap();
        let (n, words) = (w.shape()[0], w.shape()[1]);
        let (a, w) = (slice::<f32>(a).unwrap(), slice::<u32>(w).unwrap());
        let rows = a.len().checked_div(k).unwrap_or(0);
        let mut y = Vec::new();
        for r in 0..rows {
            for c in 0..n {
                let mut sum = 0f64;
                for t in 0..k {
                    let s = if a[r * k + t] >= 0.0 { 1.0 } else { -1.0 };
                    sum += s * weight(w, key, words, c, t);
                }
                y.push((scale[c] as f64 * sum + bias.map_or(0.0, |b| b[c] as f64)) as f32);
            }
        }
        Tensor::from_shape(&[rows, n], &y).unwrap()
    }

    #[test]
    fn matches_a_float_matmul_of_signs() {
        let mut rng = Rng::new(5);
        for case in 0..30 {
            let rows = rng.range(1, 9);
            let k = [1, 7, 31, 32, 33, 64, 95, 100, 200][case % 9];
            let n = rng.range(1, 12);
            let a = rng.tensor_f32(&[rows, k], -1.0, 1.0);
            let w = super::super::packed_weights(&mut rng, n, k);
            let scale = rng.tensor_f32(&[n], 0.1, 2.0);
            let bias = rng.tensor_f32(&[n], -3.0, 3.0);
            let key = super::super::packed_weights(&mut rng, 1, k)
                .into_shape(&[k.div_ceil(32)])
                .unwrap();
            let (with_bias, with_key) = (case % 2 == 0, case % 3 == 0);
            let mut inputs = vec![&a, &w, &scale];
            if with_bias {
                inputs.push(&bias);
            }
            if with_key {
                inputs.push(&key);
            }
            let got = BinaryGemm.eval(&inputs).unwrap().remove(0);
            let want = naive(
                &a,
                &w,
                slice(&scale).unwrap(),
                with_bias.then(|| slice(&bias).unwrap()),
                with_key.then(|| slice(&key).unwrap()),
            );
            assert_close(&got, &want, 1e-6, 1e-5).unwrap_or_else(|e| panic!("case {case}: {e}"));
        }
    }

    #[test]
    fn keeps_leading_dimensions_and_accepts_empty_optionals() {
        let mut rng = Rng::new(9);
        let a = rng.tensor_f32(&[2, 3, 40], -1.0, 1.0);
        let w = super::super::packed_weights(&mut rng, 5, 40);
        let scale = rng.tensor_f32(&[5], 0.5, 1.0);
        let (no_bias, no_key) = (t_f32(&[0], &[]), t_u32(&[0], &[]));
        let got = BinaryGemm
            .eval(&[&a, &w, &scale, &no_bias, &no_key])
            .unwrap()
            .remove(0);
        assert_eq!(got.shape(), &[2, 3, 5]);
        let flat = a.clone().into_shape(&[6, 40]).unwrap();
        let want = naive(&flat, &w, slice(&scale).unwrap(), None, None)
            .into_shape(&[2, 3, 5])
            .unwrap();
        assert_close(&got, &want, 1e-6, 1e-5).unwrap();
        let one = BinaryGemm
            .eval(&[&t_f32(&[40], &slice::<f32>(&a).unwrap()[..40]), &w, &scale])
            .unwrap()
            .remove(0);
        assert_eq!(one.shape(), &[5]);
        assert_eq!(
            slice::<f32>(&one).unwrap(),
            &slice::<f32>(&got).unwrap()[..5]
        );
    }

    #[test]
    fn zero_taps_give_the_bias_and_attributes_are_refused() {
        let a = Tensor::zero::<f32>(&[2, 0]).unwrap();
        let w = Tensor::zero::<u32>(&[3, 0]).unwrap();
        let scale = t_f32(&[3], &[1.0, 2.0, 3.0]);
        let bias = t_f32(&[3], &[0.5, -1.0, 2.0]);
        let y = BinaryGemm.eval(&[&a, &w, &scale, &bias]).unwrap().remove(0);
        assert_eq!(slice::<f32>(&y).unwrap(), &[0.5, -1.0, 2.0, 0.5, -1.0, 2.0]);
        let node = NodeProto {
            op_type: "BinaryGemm".into(),
            attribute: vec![tract_onnx::pb::AttributeProto {
                name: "alpha".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = BinaryGemm::from_node(&node).unwrap_err().to_string();
        assert!(e.contains("no attributes") && e.contains("alpha"), "{e}");
        assert_eq!(
            BinaryGemm::from_node(&NodeProto::default()).unwrap(),
            BinaryGemm
        );
    }

    #[test]
    fn hand_checked_signs_key_and_zero() {
        // Signs of A: [+, −, +] (0 counts as +1). Row 0 = [+, −, +] agrees on all 3 taps;
        // row 1 = [−, +, −] on none.
        let a = t_f32(&[1, 3], &[0.0, -2.0, 0.5]);
        let w = t_u32(&[2, 1], &[0b101, 0b010]);
        let scale = t_f32(&[2], &[2.0, 0.5]);
        let bias = t_f32(&[2], &[1.0, 0.0]);
        let y = BinaryGemm.eval(&[&a, &w, &scale, &bias]).unwrap().remove(0);
        assert_eq!(slice::<f32>(&y).unwrap(), &[2.0 * 3.0 + 1.0, 0.5 * -3.0]);
        // Key 0b001 flips tap 0: row 0 = [−, −, +] → −1 + 1 + 1 = 1; row 1 = [+, +, −] → −1.
        let key = t_u32(&[1], &[0b001]);
        let y = BinaryGemm
            .eval(&[&a, &w, &scale, &bias, &key])
            .unwrap()
            .remove(0);
        assert_eq!(slice::<f32>(&y).unwrap(), &[3.0, -0.5]);
        // Key alone as the fourth input; −0 is +1 too.
        let a = t_f32(&[1, 3], &[-0.0, -2.0, 0.5]);
        let y = BinaryGemm.eval(&[&a, &w, &scale, &key]).unwrap().remove(0);
        assert_eq!(slice::<f32>(&y).unwrap(), &[2.0, -0.5]);
    }

    #[test]
    fn symbolic_leading_dimensions_pass_through() {
        let scope = SymbolScope::default();
        let b = TDim::from(scope.sym("B"));
        let a = Fact {
            dt: DatumType::F32,
            shape: tvec![b.clone(), 7.into(), 70.into()],
        };
        let out = BinaryGemm
            .output_facts(&[
                a,
                Fact::concrete(DatumType::U32, &[9, 3]),
                Fact::concrete(DatumType::F32, &[9]),
            ])
            .unwrap();
        assert_eq!(out[0].shape, tvec![b, 7.into(), 9.into()]);
    }

    #[test]
    fn bad_inputs_are_named() {
        let f = |dt, shape: &[usize]| Fact::concrete(dt, shape);
        let (a, w, s) = (
            f(DatumType::F32, &[4, 33]),
            f(DatumType::U32, &[3, 2]),
            f(DatumType::F32, &[3]),
        );
        let err = |inputs: &[Fact]| BinaryGemm.output_facts(inputs).unwrap_err().to_string();
        let e = err(&[f(DatumType::I64, &[4, 33]), w.clone(), s.clone()]);
        assert!(e.contains("input 0 (A)"), "{e}");
        let e = err(&[a.clone(), f(DatumType::U32, &[3, 1]), s.clone()]);
        assert!(
            e.contains("input 1 (W) must have shape [N, ceil(K/32) = 2]"),
            "{e}"
        );
        let e = err(&[a.clone(), w.clone(), f(DatumType::F32, &[4])]);
        assert!(e.contains("input 2 (scale) must have shape [3]"), "{e}");
        let e = err(&[a.clone(), w.clone()]);
        assert!(e.contains("expected 3 to 5 inputs"), "{e}");
        let e = err(&[a.clone(), w.clone(), s.clone(), f(DatumType::F32, &[2])]);
        assert!(e.contains("input 3 (bias) must have shape [3]"), "{e}");
        assert!(BinaryGemm.output_facts(&[a, w, s]).is_ok());

        // Padding bits past K = 33 are refused, in W and in the key.
        let x = Tensor::zero::<f32>(&[1, 33]).unwrap();
        let scale = t_f32(&[1], &[1.0]);
        let e = BinaryGemm
            .eval(&[&x, &t_u32(&[1, 2], &[0, 2]), &scale])
            .unwrap_err()
            .to_string();
        assert!(e.contains("W row 0") && e.contains("padding"), "{e}");
        let e = BinaryGemm
            .eval(&[&x, &t_u32(&[1, 2], &[0, 1]), &scale, &t_u32(&[2], &[0, 4])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("key row 0"), "{e}");
    }

    #[test]
    fn gpu_program_picks_gemv_for_few_rows_and_tiles_otherwise() {
        let f = |dt, shape: &[usize]| Fact::concrete(dt, shape);
        let program = |rows: usize| {
            BinaryGemm
                .gpu_program(&[
                    f(DatumType::F32, &[rows, 100]),
                    f(DatumType::U32, &[70, 4]),
                    f(DatumType::F32, &[70]),
                ])
                .unwrap()
        };
        let p = program(8);
        assert_eq!(
            p.passes.iter().map(|p| p.entry).collect::<Vec<_>>(),
            ["prep", "pack", "gemv"]
        );
        assert_eq!(p.scratch, vec![144, 32]);
        let p = program(130);
        assert_eq!(p.passes[2].entry, "gemm");
        assert_eq!(p.passes[2].workgroups, [2, 3, 1]);
        assert_eq!(p.outputs[0].shape, vec![130, 70]);
    }
}
