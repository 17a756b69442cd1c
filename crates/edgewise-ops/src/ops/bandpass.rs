//! `TemporalBandpass`: an ideal band-pass filter along time, for colour traces (rPPG and
//! similar pulse-from-video pipelines).
//!
//! Each trace is taken to the frequency domain, every frequency outside `[low_hz, high_hz]`
//! is removed, and the trace is brought back. The filter is "ideal" (a brick wall on the
//! DFT bins of the whole trace), which is what offline rPPG pipelines apply to a window.
//!
//! ## Schema
//! - **Input** `X`: `float32`, rank ≥ 1, time on the last axis (`[..., T]`).
//! - **Attributes** (all required)
//!   - `fps` (float, > 0): the sampling rate of the traces, in samples per second.
//!   - `low_hz`, `high_hz` (floats): the pass band, `0 ≤ low_hz < high_hz ≤ fps / 2`.
//! - **Output** `Y`: `float32`, the shape of `X`.
//!
//! For each trace `x` of length `T`: `X̂ = rfft(x)` (bins `k = 0 ..= T/2`), bin `k` has the
//! frequency `f_k = k · fps / T` and is kept when `low_hz ≤ f_k ≤ high_hz` (so DC is removed
//! unless `low_hz = 0`); every other bin is zeroed and `y = irfft(X̂, n = T)` with numpy's
//! conventions (only the real parts of the DC and Nyquist bins count).
//!
//! The kept bins always form one run `k_lo .. k_lo + count`. The CPU kernel uses an FFT
//! (two real traces per complex transform). The GPU kernel computes only the kept bins, as a
//! truncated DFT of every trace followed by the inverse straight to real samples: two tiled
//! matrix products over all traces, with the twiddles exact to f32 (angles
//! `2π·((k·n) mod T)/T` from a table computed in f64). It takes traces of at most
//! [`GPU_MAX_T`] samples and refuses longer ones (the caller then runs the CPU kernel).

use std::sync::Arc;

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};
use crate::registry::OpDef;
use crate::testing::{BenchCase, Rng};

const SHADER: &str = include_str!("bandpass.wgsl");

/// The longest trace the GPU kernel takes (its bin × sample products stay within 32 bits).
pub const GPU_MAX_T: usize = 65_536;

/// Words of the GPU parameter block before the twiddle table.
const HEADER: usize = 5;

/// Rows and columns of the output tile of one GPU workgroup (see `bandpass.wgsl`).
const GPU_TILE: usize = 64;

/// The `TemporalBandpass` operator.
#[derive(Debug, Clone, PartialEq)]
pub struct TemporalBandpass {
    /// Sampling rate, samples per second.
    pub fps: f32,
    /// Lowest frequency kept, Hz.
    pub low_hz: f32,
    /// Highest frequency kept, Hz.
    pub high_hz: f32,
}

impl FromNode for TemporalBandpass {
    const NAME: &'static str = "TemporalBandpass";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let required = |name: &str| -> TractResult<f32> {
            node.get_attr_opt::<f32>(name)?
                .with_context(|| format!("TemporalBandpass: attribute {name} (float) is required"))
        };
        let op = TemporalBandpass {
            fps: required("fps")?,
            low_hz: required("low_hz")?,
            high_hz: required("high_hz")?,
        };
        op.validate()?;
        Ok(op)
    }
}

impl TemporalBandpass {
    fn validate(&self) -> TractResult<()> {
        let (fps, low, high) = (self.fps, self.low_hz, self.high_hz);
        ensure!(
            fps.is_finite() && fps > 0.0,
            "TemporalBandpass: fps must be positive, got {fps}"
        );
        ensure!(
            low >= 0.0 && low < high && high <= fps / 2.0,
            "TemporalBandpass: the band must satisfy 0 <= low_hz < high_hz <= fps/2 ({}), got low_hz {low}, high_hz {high}",
            fps / 2.0
        );
        Ok(())
    }

    /// The kept rfft bins of a trace of `t` samples: `(k_lo, count)`.
    pub fn band(&self, t: usize) -> (usize, usize) {
        if t == 0 {
            return (0, 0);
        }
        let (fps, low, high) = (self.fps as f64, self.low_hz as f64, self.high_hz as f64);
        let freq = |k: usize| k as f64 * fps / t as f64;
        let lo = (0..=t / 2).find(|&k| freq(k) >= low);
        match lo {
            Some(lo) => (lo, (lo..=t / 2).take_while(|&k| freq(k) <= high).count()),
            None => (0, 0),
        }
    }

    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        check_arity(Self::NAME, inputs, 1, 1)?;
        check_type(Self::NAME, inputs, 0, "X", DatumType::F32)?;
        ensure!(
            inputs[0].rank() >= 1,
            "TemporalBandpass: X must have rank >= 1 (time last), got shape {:?}",
            inputs[0].shape
        );
        self.validate()
    }
}

impl CustomOp for TemporalBandpass {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        self.check(inputs)?;
        Ok(tvec!(inputs[0].clone()))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        ensure!(
            inputs.len() == 1,
            "TemporalBandpass: expected 1 input, got {}",
            inputs.len()
        );
        let x = inputs[0];
        self.check(&[Fact::concrete(x.datum_type(), x.shape())])?;
        let t = *x.shape().last().unwrap_or(&0);
        let data = slice::<f32>(x)?;
        let mut y = vec![0f32; data.len()];
        let (lo, count) = self.band(t);
        if t > 0 && count > 0 {
            filter(data, &mut y, t, lo, count);
        }
        Ok(tvec!(Tensor::from_shape(x.shape(), &y)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        self.check(inputs)?;
        let x = inputs[0]
            .dims()
            .context("TemporalBandpass: shapes must be concrete")?;
        let t = *x.last().unwrap_or(&0);
        ensure!(
            t <= GPU_MAX_T,
            "TemporalBandpass: traces of {t} samples are longer than the GPU kernel takes (at most {GPU_MAX_T})"
        );
        let len: usize = x.iter().product();
        let outputs = vec![GpuOutput {
            dt: DatumType::F32,
            shape: x,
        }];
        if len == 0 {
            return Ok(GpuProgram {
                outputs,
                scratch: vec![],
                passes: vec![],
            });
        }
        let traces = len / t;
        let (lo, count) = self.band(t);
        let cols = 2 * count;
        ensure!(
            (traces as u64) * (cols as u64) < u32::MAX as u64,
            "TemporalBandpass: {traces} traces × {cols} coefficients are too many for the GPU"
        );
        // Twiddles cos/sin(2πi/T) from f64, so every angle the kernel uses is exact to f32.
        let mut table = Params::new();
        for i in 0..t {
            let a = std::f64::consts::TAU * i as f64 / t as f64;
            table = table.f(a.cos() as f32).f(a.sin() as f32);
        }
        let row_tiles = traces.div_ceil(GPU_TILE);
        let params = |col_tiles: usize| {
            let mut p = Params::new()
                .u(t)
                .u(traces)
                .u(lo)
                .u(count)
                .u(col_tiles)
                .build();
            debug_assert_eq!(p.len(), HEADER);
            p.extend(&table.0);
            p
        };
        let mut passes = Vec::with_capacity(2);
        if count > 0 {
            let col_tiles = cols.div_ceil(GPU_TILE);
            passes.push(Pass {
                label: "TemporalBandpass forward",
                shader: SHADER,
                entry: "forward",
                workgroups: grid(row_tiles * col_tiles, 1),
                params: params(col_tiles),
                bindings: vec![Slot::Input(0), Slot::Scratch(0)],
            });
        }
        let col_tiles = t.div_ceil(GPU_TILE);
        passes.push(Pass {
            label: "TemporalBandpass inverse",
            shader: SHADER,
            entry: "inverse",
            workgroups: grid(row_tiles * col_tiles, 1),
            params: params(col_tiles),
            bindings: vec![Slot::Scratch(0), Slot::Output(0)],
        });
        Ok(GpuProgram {
            outputs,
            scratch: vec![(traces * cols) as u64],
            passes,
        })
    }
}

/// Traces per FFT batch (pairs of real traces ride in one complex transform).
const BATCH_PAIRS: usize = 64;

/// Band-passes every trace of `data` (traces of `t` samples) into `y`, keeping rfft bins
/// `lo .. lo + count`. Two real traces go through one complex FFT as `a + i·b`: the mask is
/// symmetric (bin `k` is kept with bin `T − k`), so the filter is real and the real and
/// imaginary parts of the result are the two filtered traces.
fn filter(data: &[f32], y: &mut [f32], t: usize, lo: usize, count: usize) {
    let mask: Vec<bool> = (0..t)
        .map(|k| {
            let m = k.min(t - k);
            m >= lo && m < lo + count
        })
        .collect();
    let mut planner = FftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(t);
    let inv = planner.plan_fft_inverse(t);
    let mut scratch = vec![
        Complex::default();
        fwd.get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len())
    ];
    let mut buf = vec![Complex::<f32>::default(); BATCH_PAIRS * t];
    let scale = 1.0 / t as f32;
    for (src, dst) in data
        .chunks(2 * BATCH_PAIRS * t)
        .zip(y.chunks_mut(2 * BATCH_PAIRS * t))
    {
        let pairs = src.len().div_ceil(2 * t);
        let buf = &mut buf[..pairs * t];
        for (p, chunk) in buf.chunks_exact_mut(t).enumerate() {
            let a = &src[2 * p * t..][..t];
            let b = src.get((2 * p + 1) * t..(2 * p + 2) * t);
            for (n, c) in chunk.iter_mut().enumerate() {
                *c = Complex::new(a[n], b.map_or(0.0, |b| b[n]));
            }
        }
        fwd.process_with_scratch(buf, &mut scratch);
        for chunk in buf.chunks_exact_mut(t) {
            for (c, &keep) in chunk.iter_mut().zip(&mask) {
                if !keep {
                    *c = Complex::default();
                }
            }
        }
        inv.process_with_scratch(buf, &mut scratch);
        for (p, chunk) in buf.chunks_exact(t).enumerate() {
            for (n, c) in chunk.iter().enumerate() {
                dst[2 * p * t + n] = c.re * scale;
            }
            if let Some(b) = dst.get_mut((2 * p + 1) * t..(2 * p + 2) * t) {
                for (o, c) in b.iter_mut().zip(chunk) {
                    *o = c.im * scale;
                }
            }
        }
    }
}

/// Benchmark workloads: RGB traces at 30 fps, heart-rate band 0.7–4 Hz; 10 s of one face,
/// 30 s of 64 regions, 60 s of 1024 regions. Flops are those of the FFT route (a real FFT
/// and its inverse, 2.5·T·log2 T each, per trace).
pub fn bench_cases() -> Vec<BenchCase> {
    let mut rng = Rng::new(17);
    [
        ("small", [1, 3, 300]),
        ("medium", [64, 3, 900]),
        ("large", [1024, 3, 1800]),
    ]
    .into_iter()
    .map(|(size, shape)| {
        let len: usize = shape.iter().product();
        let t = shape[2] as f64;
        let traces = (len / shape[2]) as f64;
        BenchCase {
            name: format!("TemporalBandpass {size} {shape:?}"),
            op: Arc::new(TemporalBandpass {
                fps: 30.0,
                low_hz: 0.7,
                high_hz: 4.0,
            }),
            inputs: vec![rng.tensor_f32(&shape, 0.0, 1.0)],
            flops: traces * 5.0 * t * t.log2(),
            bytes: 8.0 * len as f64,
        }
    })
    .collect()
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<TemporalBandpass>()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;
    use std::f64::consts::TAU;

    /// Direct O(T²) rfft → mask → irfft of one trace in f64, with numpy's irfft formula:
    /// `y[n] = (X0.re + 2 Σ_{0<k<T/2} Re(X_k e^{2πikn/T}) + [T even] X_{T/2}.re (−1)^n) / T`.
    fn naive(x: &[f32], fps: f64, low: f64, high: f64) -> Vec<f32> {
        let t = x.len();
        let bins: Vec<(f64, f64)> = (0..=t / 2)
            .map(|k| {
                x.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &v)| {
                    let a = TAU * (k * n) as f64 / t as f64;
                    (re + v as f64 * a.cos(), im - v as f64 * a.sin())
                })
            })
            .collect();
        (0..t)
            .map(|n| {
                let mut s = 0.0;
                for (k, &(re, im)) in bins.iter().enumerate() {
                    let f = k as f64 * fps / t as f64;
                    if f < low || f > high {
                        continue;
                    }
                    let a = TAU * (k * n) as f64 / t as f64;
                    if k == 0 || 2 * k == t {
                        s += re * a.cos();
                    } else {
                        s += 2.0 * (re * a.cos() - im * a.sin());
                    }
                }
                (s / t as f64) as f32
            })
            .collect()
    }

    fn run(op: &TemporalBandpass, x: &Tensor) -> Tensor {
        op.eval(&[x]).unwrap().remove(0)
    }

    #[test]
    fn matches_a_direct_dft_on_random_traces() {
        let mut rng = Rng::new(5);
        for case in 0..24 {
            let rank = rng.range(1, 3);
            let mut shape: Vec<usize> = (0..rank - 1).map(|_| rng.range(1, 3)).collect();
            let t = rng.range(1, 97);
            shape.push(t);
            let fps = rng.uniform(5.0, 60.0);
            let (a, b) = (rng.uniform(0.0, fps / 2.0), rng.uniform(0.0, fps / 2.0));
            let op = TemporalBandpass {
                fps,
                low_hz: if case % 5 == 0 { 0.0 } else { a.min(b) },
                high_hz: if case % 7 == 0 {
                    fps / 2.0
                } else {
                    a.max(b) + 1e-3
                },
            };
            let op = TemporalBandpass {
                high_hz: op.high_hz.min(fps / 2.0),
                ..op
            };
            let x = rng.tensor_f32(&shape, -1.0, 1.0);
            let got = run(&op, &x);
            let want: Vec<f32> = slice::<f32>(&x)
                .unwrap()
                .chunks(t)
                .flat_map(|tr| naive(tr, fps as f64, op.low_hz as f64, op.high_hz as f64))
                .collect();
            let want = Tensor::from_shape(&shape, &want).unwrap();
            assert_close(&got, &want, 1e-5, 1e-5)
                .unwrap_or_else(|e| panic!("case {case} {op:?} {shape:?}: {e}"));
        }
    }

    #[test]
    fn keeps_the_in_band_sinusoid_and_drops_the_rest() {
        // 64 samples at 64 fps: bin k is k Hz. In band: 5 Hz; out of band: DC, 1 Hz, 20 Hz, 32 Hz.
        let t = 64;
        let wave = |k: f64, n: usize| (TAU * k * n as f64 / t as f64).sin() as f32;
        let inband: Vec<f32> = (0..t).map(|n| 0.8 * wave(5.0, n)).collect();
        let x: Vec<f32> = (0..t)
            .map(|n| {
                let nyq = if n % 2 == 0 { 0.25 } else { -0.25 };
                inband[n] + 0.5 * wave(20.0, n) + 0.3 * wave(1.0, n) + 0.7 + nyq
            })
            .collect();
        let op = TemporalBandpass {
            fps: 64.0,
            low_hz: 3.0,
            high_hz: 8.0,
        };
        let got = run(&op, &Tensor::from_shape(&[1, t], &x).unwrap());
        let want = Tensor::from_shape(&[1, t], &inband).unwrap();
        assert_close(&got, &want, 0.0, 1e-5).unwrap();
        // The band edges are inclusive: [5, 20] keeps both.
        let op = TemporalBandpass {
            fps: 64.0,
            low_hz: 5.0,
            high_hz: 20.0,
        };
        let got = run(&op, &Tensor::from_shape(&[t], &x).unwrap());
        let both: Vec<f32> = (0..t).map(|n| inband[n] + 0.5 * wave(20.0, n)).collect();
        assert_close(&got, &Tensor::from_shape(&[t], &both).unwrap(), 0.0, 1e-5).unwrap();
        // The whole band [0, fps/2] is the identity, DC and Nyquist included.
        let op = TemporalBandpass {
            fps: 64.0,
            low_hz: 0.0,
            high_hz: 32.0,
        };
        let all = Tensor::from_shape(&[t], &x).unwrap();
        assert_close(&run(&op, &all), &all, 0.0, 1e-5).unwrap();
    }

    #[test]
    fn band_edges_follow_bin_frequencies() {
        let op = TemporalBandpass {
            fps: 30.0,
            low_hz: 0.7,
            high_hz: 4.0,
        };
        // f_k = k/10 Hz: bins 7..=40.
        assert_eq!(op.band(300), (7, 34));
        // A band between two bins keeps nothing, and the output is zero.
        let op = TemporalBandpass {
            fps: 10.0,
            low_hz: 1.1,
            high_hz: 1.9,
        };
        assert_eq!(op.band(10).1, 0);
        let x = Rng::new(1).tensor_f32(&[2, 10], -1.0, 1.0);
        assert!(
            slice::<f32>(&run(&op, &x))
                .unwrap()
                .iter()
                .all(|&v| v == 0.0)
        );
    }

    #[test]
    fn bad_inputs_and_attributes_are_named() {
        let op = TemporalBandpass {
            fps: 30.0,
            low_hz: 1.0,
            high_hz: 3.0,
        };
        let e = op
            .output_facts(&[Fact::concrete(DatumType::I64, &[2, 8])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("input 0 (X)"), "{e}");
        let e = op
            .output_facts(&[Fact::concrete(DatumType::F32, &[])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("rank"), "{e}");
        let sym = Fact {
            dt: DatumType::F32,
            shape: tvec!(TDim::from(3), TDim::Sym(SymbolScope::default().sym("T"))),
        };
        assert_eq!(op.output_facts(std::slice::from_ref(&sym)).unwrap()[0], sym);
        for (low, high) in [(3.0, 1.0), (-1.0, 2.0), (1.0, 16.0)] {
            let bad = TemporalBandpass {
                low_hz: low,
                high_hz: high,
                ..op.clone()
            };
            let x = Tensor::zero::<f32>(&[4]).unwrap();
            let e = bad.eval(&[&x]).unwrap_err().to_string();
            assert!(e.contains("low_hz") && e.contains("fps/2"), "{e}");
        }
        let e = op
            .gpu_program(&[Fact::concrete(DatumType::F32, &[2, GPU_MAX_T + 1])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than the GPU kernel takes"), "{e}");
    }

    #[test]
    fn attributes_are_read_and_required() {
        use tract_onnx::pb::{AttributeProto, attribute_proto::AttributeType};
        let node = |attrs: &[(&str, f32)]| NodeProto {
            op_type: "TemporalBandpass".into(),
            attribute: attrs
                .iter()
                .map(|&(name, f)| AttributeProto {
                    name: name.into(),
                    r#type: AttributeType::Float as i32,
                    f,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let op =
            TemporalBandpass::from_node(&node(&[("fps", 30.0), ("low_hz", 0.7), ("high_hz", 4.0)]))
                .unwrap();
        assert_eq!((op.fps, op.low_hz, op.high_hz), (30.0, 0.7, 4.0));
        let e = TemporalBandpass::from_node(&node(&[("fps", 30.0), ("low_hz", 0.7)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("attribute high_hz"), "{e}");
        let e =
            TemporalBandpass::from_node(&node(&[("fps", 0.0), ("low_hz", 0.0), ("high_hz", 1.0)]))
                .unwrap_err()
                .to_string();
        assert!(e.contains("fps must be positive"), "{e}");
    }
}
