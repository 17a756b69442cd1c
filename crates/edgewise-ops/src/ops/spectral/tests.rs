//! The CPU kernels against direct O(n²) DFT sums in f64, hand-checked signals, and the
//! schema's errors.

use std::f64::consts::TAU;

use super::*;
use crate::testing::{Rng, assert_close};

/// irfft's weight of bin `k` for a length-`n` output: DC and Nyquist count once, the others
/// twice (for their conjugate mirror).
fn fold(k: usize, n: usize) -> f64 {
    if k == 0 || 2 * k == n { 1.0 } else { 2.0 }
}

/// Complex product in f64.
fn cmul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// `SpectralConv1d` from its definition: direct DFT of each row, channel mixing, and the real
/// inverse `y[j] = 1/L·Σ_k fold(k)·Re(Ŷ[k]·e^{2πi·k·j/L})`, which drops the imaginary part of
/// the DC and Nyquist bins.
fn naive1d(x: &[f32], wr: &[f32], wi: &[f32], dims: [usize; 5]) -> Vec<f32> {
    let [b, cin, cout, l, modes] = dims;
    let mut y = vec![0f32; b * cout * l];
    for bb in 0..b {
        let mut xh = vec![(0.0, 0.0); cin * modes];
        for i in 0..cin {
            for k in 0..modes {
                for j in 0..l {
                    let a = -TAU * (k * j) as f64 / l as f64;
                    let v = x[(bb * cin + i) * l + j] as f64;
                    xh[i * modes + k].0 += v * a.cos();
                    xh[i * modes + k].1 += v * a.sin();
                }
            }
        }
        for o in 0..cout {
            for k in 0..modes {
                let mut z = (0.0, 0.0);
                for i in 0..cin {
                    let w = (i * cout + o) * modes + k;
                    let p = cmul(xh[i * modes + k], (wr[w] as f64, wi[w] as f64));
                    z = (z.0 + p.0, z.1 + p.1);
                }
                for j in 0..l {
                    let a = TAU * (k * j) as f64 / l as f64;
                    let re = z.0 * a.cos() - z.1 * a.sin();
                    y[(bb * cout + o) * l + j] += (fold(k, l) * re / l as f64) as f32;
                }
            }
        }
    }
    y
}

/// `SpectralConv2d` from its definition: direct 2-D DFT at the kept (row, column) bins,
/// mixing with block 0 for rows below m1 and block 1 for the top m1 rows, then numpy's
/// irfft2: inverse DFT along H (÷H), then the real inverse along W (÷W) with `fold`.
fn naive2d(x: &[f32], wr: &[f32], wi: &[f32], dims: [usize; 7]) -> Vec<f32> {
    let [b, cin, cout, h, w, m1, m2] = dims;
    let rows: Vec<usize> = (0..m1).chain(h - m1..h).collect();
    let mut y = vec![0f32; b * cout * h * w];
    for bb in 0..b {
        let mut xh = vec![(0.0, 0.0); cin * rows.len() * m2];
        for i in 0..cin {
            for (ri, &r) in rows.iter().enumerate() {
                for c in 0..m2 {
                    let mut acc = (0.0, 0.0);
                    for yy in 0..h {
                        for xx in 0..w {
                            let a =
                                -TAU * ((r * yy) as f64 / h as f64 + (c * xx) as f64 / w as f64);
                            let v = x[((bb * cin + i) * h + yy) * w + xx] as f64;
                            acc = (acc.0 + v * a.cos(), acc.1 + v * a.sin());
                        }
                    }
                    xh[(i * rows.len() + ri) * m2 + c] = acc;
                }
            }
        }
        for o in 0..cout {
            let mut yh = vec![(0.0, 0.0); rows.len() * m2];
            for (ri, _) in rows.iter().enumerate() {
                let (block, r) = (ri / m1, ri % m1);
                for c in 0..m2 {
                    for i in 0..cin {
                        let wo = (((block * cin + i) * cout + o) * m1 + r) * m2 + c;
                        let p = cmul(
                            xh[(i * rows.len() + ri) * m2 + c],
                            (wr[wo] as f64, wi[wo] as f64),
                        );
                        yh[ri * m2 + c].0 += p.0;
                        yh[ri * m2 + c].1 += p.1;
                    }
                }
            }
            for yy in 0..h {
                for c in 0..m2 {
                    let mut z = (0.0, 0.0);
                    for (ri, &r) in rows.iter().enumerate() {
                        let a = TAU * (r * yy) as f64 / h as f64;
                        let p = cmul(yh[ri * m2 + c], (a.cos(), a.sin()));
                        z = (z.0 + p.0 / h as f64, z.1 + p.1 / h as f64);
                    }
                    for xx in 0..w {
                        let a = TAU * (c * xx) as f64 / w as f64;
                        let re = z.0 * a.cos() - z.1 * a.sin();
                        y[((bb * cout + o) * h + yy) * w + xx] +=
                            (fold(c, w) * re / w as f64) as f32;
                    }
                }
            }
        }
    }
    y
}

fn run(op: &dyn CustomOp, inputs: &[&Tensor]) -> Tensor {
    op.eval(inputs).unwrap().remove(0)
}

#[test]
fn conv1d_matches_direct_dft() {
    let mut rng = Rng::new(5);
    for case in 0..24 {
        let l = rng.range(1, 40);
        let modes = if case % 4 == 0 {
            l / 2 + 1
        } else {
            rng.range(1, l / 2 + 1)
        };
        let (b, cin, cout) = (rng.range(1, 3), rng.range(1, 4), rng.range(1, 4));
        let x = rng.tensor_f32(&[b, cin, l], -1.0, 1.0);
        let wr = rng.tensor_f32(&[cin, cout, modes], -1.0, 1.0);
        let wi = rng.tensor_f32(&[cin, cout, modes], -1.0, 1.0);
        let got = run(&SpectralConv1d, &[&x, &wr, &wi]);
        let want = naive1d(
            slice(&x).unwrap(),
            slice(&wr).unwrap(),
            slice(&wi).unwrap(),
            [b, cin, cout, l, modes],
        );
        let want = Tensor::from_shape(&[b, cout, l], &want).unwrap();
        assert_close(&got, &want, 1e-4, 1e-5).unwrap_or_else(|e| {
            panic!("case {case} b{b} cin{cin} cout{cout} L{l} modes{modes}: {e}")
        });
    }
}

#[test]
fn conv2d_matches_direct_dft() {
    let mut rng = Rng::new(6);
    for case in 0..16 {
        let (h, w) = (rng.range(2, 11), rng.range(1, 11));
        let m1 = if case % 4 == 0 {
            h / 2
        } else {
            rng.range(1, h / 2)
        };
        let m2 = if case % 3 == 0 {
            w / 2 + 1
        } else {
            rng.range(1, w / 2 + 1)
        };
        let (b, cin, cout) = (rng.range(1, 2), rng.range(1, 3), rng.range(1, 3));
        let ws = [2, cin, cout, m1, m2];
        let x = rng.tensor_f32(&[b, cin, h, w], -1.0, 1.0);
        let wr = rng.tensor_f32(&ws, -1.0, 1.0);
        let wi = rng.tensor_f32(&ws, -1.0, 1.0);
        let got = run(&SpectralConv2d, &[&x, &wr, &wi]);
        let want = naive2d(
            slice(&x).unwrap(),
            slice(&wr).unwrap(),
            slice(&wi).unwrap(),
            [b, cin, cout, h, w, m1, m2],
        );
        let want = Tensor::from_shape(&[b, cout, h, w], &want).unwrap();
        assert_close(&got, &want, 1e-4, 1e-5)
            .unwrap_or_else(|e| panic!("case {case} {:?} m {m1}x{m2}: {e}", [b, cin, cout, h, w]));
    }
}

fn t1(l: usize, f: impl Fn(usize) -> f64) -> Tensor {
    let v: Vec<f32> = (0..l).map(|j| f(j) as f32).collect();
    Tensor::from_shape(&[1, 1, l], &v).unwrap()
}

/// One channel in and out, the same complex weight `(re, im)` at every mode.
fn w1(modes: usize, re: f32, im: f32) -> (Tensor, Tensor) {
    (
        Tensor::from_shape(&[1, 1, modes], &vec![re; modes]).unwrap(),
        Tensor::from_shape(&[1, 1, modes], &vec![im; modes]).unwrap(),
    )
}

#[test]
fn a_cosine_is_kept_above_its_frequency_and_dropped_below() {
    let l = 16;
    let cosine = t1(l, |j| (TAU * 3.0 * j as f64 / l as f64).cos());
    let (wr, wi) = w1(4, 1.0, 0.0);
    let kept = run(&SpectralConv1d, &[&cosine, &wr, &wi]);
    assert_close(&kept, &cosine, 0.0, 1e-5).unwrap();
    let (wr, wi) = w1(3, 1.0, 0.0);
    let dropped = run(&SpectralConv1d, &[&cosine, &wr, &wi]);
    assert_close(
        &dropped,
        &Tensor::zero::<f32>(&[1, 1, l]).unwrap(),
        0.0,
        1e-5,
    )
    .unwrap();
    // Multiplying by i advances the phase a quarter turn: cos becomes −sin.
    let (wr, wi) = w1(4, 0.0, 1.0);
    let turned = run(&SpectralConv1d, &[&cosine, &wr, &wi]);
    let minus_sine = t1(l, |j| -(TAU * 3.0 * j as f64 / l as f64).sin());
    assert_close(&turned, &minus_sine, 0.0, 1e-5).unwrap();
}

#[test]
fn all_modes_with_identity_weights_reconstruct_even_and_odd_lengths() {
    let mut rng = Rng::new(9);
    for l in [1, 2, 7, 8, 9, 16] {
        let x = rng.tensor_f32(&[2, 1, l], -1.0, 1.0);
        let (wr, wi) = w1(l / 2 + 1, 1.0, 0.0);
        let y = run(&SpectralConv1d, &[&x, &wr, &wi]);
        assert_close(&y, &x, 0.0, 1e-5).unwrap_or_else(|e| panic!("L {l}: {e}"));
    }
}

#[test]
fn imaginary_parts_at_dc_and_nyquist_are_dropped() {
    let l = 8;
    // A constant and an alternating signal live in the DC and Nyquist bins only; a purely
    // imaginary weight makes those bins imaginary, which irfft reads as zero.
    for signal in [
        t1(l, |_| 0.75),
        t1(l, |j| if j % 2 == 0 { 1.0 } else { -1.0 }),
    ] {
        let (wr, wi) = w1(l / 2 + 1, 0.0, 1.0);
        let y = run(&SpectralConv1d, &[&signal, &wr, &wi]);
        assert_close(&y, &Tensor::zero::<f32>(&[1, 1, l]).unwrap(), 0.0, 1e-6).unwrap();
        let (wr, wi) = w1(l / 2 + 1, 2.0, 5.0);
        let y = run(&SpectralConv1d, &[&signal, &wr, &wi]);
        let twice: Vec<f32> = slice::<f32>(&signal)
            .unwrap()
            .iter()
            .map(|v| 2.0 * v)
            .collect();
        assert_close(
            &y,
            &Tensor::from_shape(&[1, 1, l], &twice).unwrap(),
            0.0,
            1e-5,
        )
        .unwrap();
    }
}

#[test]
fn conv2d_blocks_weight_positive_and_negative_row_frequencies() {
    let (h, w) = (8, 10);
    let wave = |fy: f64| {
        move |yy: usize, xx: usize| {
            (TAU * (fy * yy as f64 / h as f64 + 3.0 * xx as f64 / w as f64)).cos()
        }
    };
    let (up, down) = (wave(2.0), wave(-2.0));
    let image = |f: &dyn Fn(usize, usize) -> f64| {
        let v: Vec<f32> = (0..h * w).map(|i| f(i / w, i % w) as f32).collect();
        Tensor::from_shape(&[1, 1, h, w], &v).unwrap()
    };
    let both = image(&|yy, xx| up(yy, xx) + down(yy, xx));
    // Block 0 (rows 0..3) passes, block 1 (rows 5..8) blocks: only the +2 row frequency stays.
    let (m1, m2) = (3, 4);
    let mut re = vec![1f32; 2 * m1 * m2];
    re[m1 * m2..].fill(0.0);
    let wr = Tensor::from_shape(&[2, 1, 1, m1, m2], &re).unwrap();
    let wi = Tensor::zero::<f32>(&[2, 1, 1, m1, m2]).unwrap();
    let y = run(&SpectralConv2d, &[&both, &wr, &wi]);
    assert_close(&y, &image(&up), 0.0, 1e-5).unwrap();
    // Two columns of modes are too few for the third column frequency.
    let wr = Tensor::from_shape(&[2, 1, 1, m1, 3], &vec![1f32; 2 * m1 * 3]).unwrap();
    let wi = Tensor::zero::<f32>(&[2, 1, 1, m1, 3]).unwrap();
    let y = run(&SpectralConv2d, &[&both, &wr, &wi]);
    assert_close(&y, &Tensor::zero::<f32>(&[1, 1, h, w]).unwrap(), 0.0, 1e-5).unwrap();
}

#[test]
fn conv2d_with_every_mode_reconstructs() {
    let mut rng = Rng::new(10);
    for (h, w) in [(2, 1), (4, 6), (6, 7), (8, 8)] {
        let x = rng.tensor_f32(&[1, 2, h, w], -1.0, 1.0);
        let (m1, m2) = (h / 2, w / 2 + 1);
        // Identity channel mixing: W[block, i, o] = [i == o].
        let mut re = vec![0f32; 2 * 2 * 2 * m1 * m2];
        for block in 0..2 {
            for i in 0..2 {
                let at = ((block * 2 + i) * 2 + i) * m1 * m2;
                re[at..at + m1 * m2].fill(1.0);
            }
        }
        let wr = Tensor::from_shape(&[2, 2, 2, m1, m2], &re).unwrap();
        let wi = Tensor::zero::<f32>(&[2, 2, 2, m1, m2]).unwrap();
        let y = run(&SpectralConv2d, &[&x, &wr, &wi]);
        assert_close(&y, &x, 0.0, 1e-5).unwrap_or_else(|e| panic!("{h}x{w}: {e}"));
    }
}

fn f(shape: &[usize]) -> Fact {
    Fact::concrete(DatumType::F32, shape)
}

#[test]
fn output_shapes_keep_a_symbolic_batch() {
    let scope = SymbolScope::default();
    let batch: TDim = scope.sym("B").into();
    let x = Fact {
        dt: DatumType::F32,
        shape: tvec!(batch.clone(), 3.into(), 20.into()),
    };
    let out = SpectralConv1d
        .output_facts(&[x, f(&[3, 5, 11]), f(&[3, 5, 11])])
        .unwrap();
    assert_eq!(out[0].shape, tvec!(batch.clone(), 5.into(), 20.into()));
    let x = Fact {
        dt: DatumType::F32,
        shape: tvec!(batch.clone(), 3.into(), 8.into(), 6.into()),
    };
    let ws = [2, 3, 4, 4, 4];
    let out = SpectralConv2d.output_facts(&[x, f(&ws), f(&ws)]).unwrap();
    assert_eq!(out[0].shape, tvec!(batch, 4.into(), 8.into(), 6.into()));
}

fn err(op: &dyn CustomOp, inputs: &[Fact]) -> String {
    op.output_facts(inputs).unwrap_err().to_string()
}

#[test]
fn bad_inputs_are_named() {
    let op = SpectralConv1d;
    let e = err(
        &op,
        &[
            Fact::concrete(DatumType::I64, &[1, 2, 8]),
            f(&[2, 2, 3]),
            f(&[2, 2, 3]),
        ],
    );
    assert!(e.contains("input 0 (X)"), "{e}");
    let e = err(&op, &[f(&[2, 8]), f(&[2, 2, 3]), f(&[2, 2, 3])]);
    assert!(e.contains("input 0 (X) must have rank 3"), "{e}");
    let e = err(&op, &[f(&[1, 2, 8]), f(&[2, 2, 3]), f(&[2, 2, 4])]);
    assert!(e.contains("input 2 (Wi)"), "{e}");
    let e = err(&op, &[f(&[1, 3, 8]), f(&[2, 2, 3]), f(&[2, 2, 3])]);
    assert!(
        e.contains("3 input channels") && e.contains("Wr has 2"),
        "{e}"
    );
    let e = err(&op, &[f(&[1, 2, 8]), f(&[2, 2, 6]), f(&[2, 2, 6])]);
    assert!(e.contains("6 modes") && e.contains("L/2 + 1 = 5"), "{e}");
    let e = err(&op, &[f(&[1, 2, 8]), f(&[2, 2, 0]), f(&[2, 2, 0])]);
    assert!(e.contains("at least one mode"), "{e}");
    let e = err(&op, &[f(&[1, 2, 8]), f(&[2, 2, 3])]);
    assert!(e.contains("expected 3 inputs"), "{e}");

    let op = SpectralConv2d;
    let x = f(&[1, 2, 8, 8]);
    let e = err(&op, &[x.clone(), f(&[1, 2, 2, 3, 3]), f(&[1, 2, 2, 3, 3])]);
    assert!(e.contains("Wr.shape[0] must be 2"), "{e}");
    let e = err(&op, &[x.clone(), f(&[2, 2, 2, 5, 3]), f(&[2, 2, 2, 5, 3])]);
    assert!(e.contains("2·m1 = 10") && e.contains("H = 8"), "{e}");
    let e = err(&op, &[x.clone(), f(&[2, 2, 2, 3, 6]), f(&[2, 2, 2, 3, 6])]);
    assert!(e.contains("m2 = 6") && e.contains("W/2 + 1 = 5"), "{e}");
    let e = err(&op, &[x.clone(), f(&[2, 2, 3, 3]), f(&[2, 2, 3, 3])]);
    assert!(e.contains("input 1 (Wr) must have rank 5"), "{e}");
    let e = err(&op, &[x, f(&[2, 4, 2, 3, 3]), f(&[2, 4, 2, 3, 3])]);
    assert!(e.contains("2 input channels"), "{e}");

    // The CPU kernel checks the same rules on concrete tensors.
    let x = Tensor::zero::<f32>(&[1, 2, 8]).unwrap();
    let w = Tensor::zero::<f32>(&[2, 2, 6]).unwrap();
    let e = SpectralConv1d.eval(&[&x, &w, &w]).unwrap_err().to_string();
    assert!(e.contains("6 modes"), "{e}");
}

#[test]
fn gpu_programs_refuse_lengths_past_the_index_range() {
    let e = SpectralConv1d
        .gpu_program(&[f(&[1, 1, 70_000]), f(&[1, 1, 4]), f(&[1, 1, 4])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("L = 70000"), "{e}");
    let p =
        SpectralConv2d.gpu_program(&[f(&[2, 3, 8, 9]), f(&[2, 3, 4, 2, 5]), f(&[2, 3, 4, 2, 5])]);
    assert_eq!(p.unwrap().outputs[0].shape, vec![2, 4, 8, 9]);
}

#[test]
fn bench_cases_are_valid_and_named_by_size() {
    let cases = bench_cases();
    assert_eq!(cases.len(), 6);
    for (case, size) in cases
        .iter()
        .zip(["small", "medium", "large"].iter().cycle())
    {
        assert!(
            case.name
                .starts_with(&format!("{} {size} ", case.op.name())),
            "{}",
            case.name
        );
        let facts: Vec<Fact> = case
            .inputs
            .iter()
            .map(|t| Fact::concrete(t.datum_type(), t.shape()))
            .collect();
        case.op.output_facts(&facts).unwrap();
        case.op.gpu_program(&facts).unwrap();
        assert!(case.flops > 0.0 && case.bytes > 0.0);
    }
    let names: Vec<_> = defs().iter().map(|d| d.name).collect();
    assert_eq!(names, ["SpectralConv1d", "SpectralConv2d"]);
}
