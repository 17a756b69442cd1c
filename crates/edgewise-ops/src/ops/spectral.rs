//! `SpectralConv1d`, `SpectralConv2d`: the Fourier layers of Fourier and Koopman neural
//! operators (FNO, Koopman operator networks).
//!
//! The input is taken to frequency space, its lowest modes are mixed across channels by
//! learned complex weights (one complex matrix per mode), every other mode is dropped, and the
//! result is taken back to a real signal of the input's length.
//!
//! ## Schema
//! ### `SpectralConv1d`
//! - **Inputs**
//!   - `X`: `float32`, shape `[B, Cin, L]`.
//!   - `Wr`, `Wi`: `float32`, shape `[Cin, Cout, modes]` each: the real and imaginary parts of
//!     the complex weights `W = Wr + i·Wi`.
//! - **Attributes**: none. `modes = Wr.shape[2]`, with `1 ≤ modes ≤ L/2 + 1`.
//! - **Output** `Y`: `float32`, shape `[B, Cout, L]`.
//!
//! `X̂ = rfft(X)` along `L`; `Ŷ[b,o,k] = Σ_i X̂[b,i,k]·W[i,o,k]` for `k < modes`, 0 for the
//! other `L/2 + 1 − modes` bins; `Y = irfft(Ŷ, n = L)`. Conventions are numpy's: the forward
//! transform is unnormalized, the inverse divides by `L`, and the inverse reads only the real
//! part of the DC bin and (for even `L`) of the Nyquist bin `L/2`.
//!
//! ### `SpectralConv2d`
//! - **Inputs**
//!   - `X`: `float32`, shape `[B, Cin, H, W]`.
//!   - `Wr`, `Wi`: `float32`, shape `[2, Cin, Cout, m1, m2]` each. Block 0 weights the lowest
//!     `m1` frequency rows, block 1 the highest (negative) `m1` rows.
//! - **Attributes**: none. `m1 = Wr.shape[3]`, `m2 = Wr.shape[4]`, with `1 ≤ m1`, `2·m1 ≤ H`
//!   and `1 ≤ m2 ≤ W/2 + 1`.
//! - **Output** `Y`: `float32`, shape `[B, Cout, H, W]`.
//!
//! `X̂ = rfft2(X)` (shape `[B, Cin, H, W/2 + 1]`); `Ŷ[b,o,r,c] = Σ_i X̂[b,i,r,c]·W[0,i,o,r,c]`
//! for `r < m1`, `Σ_i X̂[b,i,r,c]·W[1,i,o,r−(H−m1),c]` for `H−m1 ≤ r < H`, both for
//! `c < m2`, and 0 elsewhere; `Y = irfft2(Ŷ, s = (H, W))` with numpy's conventions (inverse
//! divides by `H·W`; the last axis is inverted last, reading only the real part of its DC and
//! Nyquist columns). In torch terms: `out_ft[:, :, :m1, :m2] = einsum(x_ft[:, :, :m1, :m2], w1)`
//! and `out_ft[:, :, -m1:, :m2] = einsum(x_ft[:, :, -m1:, :m2], w2)`.
//!
//! `B` may be symbolic; the other dimensions must be known for the mode checks to run.
//!
//! ## Kernels
//! The CPU kernel uses FFTs (`rustfft`, planned once per call). The GPU program uses
//! truncated DFTs, since only a few modes are kept: a forward pass computes only the kept
//! bins (as a matrix product with twiddle tiles in workgroup memory), a pass mixes the
//! channels, and an inverse pass goes from the kept bins straight to the real output. Twiddles
//! `cos`/`sin(2π·j/n)` are computed in f64 on the host and read at index `(k·j) mod n`, so the
//! GPU result does not depend on the device's `sin`/`cos` accuracy. Index products must fit
//! in 32 bits, so the GPU program takes transform lengths up to 65 535.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};
use crate::registry::OpDef;
use crate::testing::{BenchCase, Rng};

mod fft;
#[cfg(test)]
mod tests;

const SHADER: &str = include_str!("spectral.wgsl");

/// Words of each pass's parameter block before its twiddle table.
const TWIDDLE_OFFSET: usize = 8;
/// The longest transform the GPU program takes: `k·j` must fit in a `u32`.
const MAX_GPU_LEN: usize = 65_535;

type C32 = Complex<f32>;

/// The `SpectralConv1d` operator: FNO layer on signals `[B, Cin, L]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpectralConv1d;

/// The `SpectralConv2d` operator: FNO layer on images `[B, Cin, H, W]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpectralConv2d;

impl FromNode for SpectralConv1d {
    const NAME: &'static str = "SpectralConv1d";

    fn from_node(_node: &NodeProto) -> TractResult<Self> {
        Ok(SpectralConv1d)
    }
}

impl FromNode for SpectralConv2d {
    const NAME: &'static str = "SpectralConv2d";

    fn from_node(_node: &NodeProto) -> TractResult<Self> {
        Ok(SpectralConv2d)
    }
}

/// Concrete sizes of one call. For 1-D, `h = 1`, `m1 = 1` and `w = L`, `m2 = modes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dims {
    b: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    m1: usize,
    m2: usize,
}

fn show(shape: &[TDim]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// Checks arity, types, ranks, `Wr`/`Wi` agreement and `Cin`; the mode bounds are the caller's.
fn check_common(op: &str, inputs: &[Fact], layout: &str, w_layout: &str) -> TractResult<()> {
    check_arity(op, inputs, 3, 3)?;
    for (i, name) in ["X", "Wr", "Wi"].iter().enumerate() {
        check_type(op, inputs, i, name, DatumType::F32)?;
    }
    let x_rank = layout.split(',').count();
    let w_rank = w_layout.split(',').count();
    ensure!(
        inputs[0].rank() == x_rank,
        "{op}: input 0 (X) must have rank {x_rank} ({layout}), got shape {}",
        show(&inputs[0].shape)
    );
    ensure!(
        inputs[1].rank() == w_rank,
        "{op}: input 1 (Wr) must have rank {w_rank} ({w_layout}), got shape {}",
        show(&inputs[1].shape)
    );
    ensure!(
        inputs[1].shape == inputs[2].shape,
        "{op}: input 2 (Wi) must have the shape of Wr {}, got {}",
        show(&inputs[1].shape),
        show(&inputs[2].shape)
    );
    // Cin is the first axis of the weights, after the block axis in 2-D.
    let cin_axis = if w_rank == 5 { 1 } else { 0 };
    let (x_cin, w_cin) = (&inputs[0].shape[1], &inputs[1].shape[cin_axis]);
    if let (Ok(a), Ok(b)) = (x_cin.to_usize(), w_cin.to_usize()) {
        ensure!(
            a == b,
            "{op}: X has {a} input channels (shape[1]) but Wr has {b} (shape[{cin_axis}])"
        );
    }
    Ok(())
}

impl SpectralConv1d {
    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        let op = Self::NAME;
        check_common(op, inputs, "B, Cin, L", "Cin, Cout, modes")?;
        if let Some(modes) = inputs[1].dim(2) {
            ensure!(
                modes >= 1,
                "{op}: Wr must keep at least one mode, got shape[2] = 0"
            );
            if let Some(l) = inputs[0].dim(2) {
                ensure!(l >= 1, "{op}: X must have a length L ≥ 1, got shape[2] = 0");
                ensure!(
                    modes <= l / 2 + 1,
                    "{op}: {modes} modes (Wr.shape[2]) exceed L/2 + 1 = {} for L = {l}",
                    l / 2 + 1
                );
            }
        }
        Ok(())
    }

    fn dims(&self, inputs: &[Fact]) -> TractResult<Dims> {
        self.check(inputs)?;
        let x = inputs[0]
            .dims()
            .context("SpectralConv1d: X must have a concrete shape")?;
        let w = inputs[1]
            .dims()
            .context("SpectralConv1d: Wr must have a concrete shape")?;
        Ok(Dims {
            b: x[0],
            cin: x[1],
            cout: w[1],
            h: 1,
            w: x[2],
            m1: 1,
            m2: w[2],
        })
    }
}

impl SpectralConv2d {
    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        let op = Self::NAME;
        check_common(op, inputs, "B, Cin, H, W", "2, Cin, Cout, m1, m2")?;
        let blocks = inputs[1].dim(0);
        ensure!(
            blocks == Some(2),
            "{op}: Wr.shape[0] must be 2 (low and high frequency rows), got {}",
            inputs[1].shape[0]
        );
        if let Some(m1) = inputs[1].dim(3) {
            ensure!(m1 >= 1, "{op}: m1 (Wr.shape[3]) must be at least 1");
            if let Some(h) = inputs[0].dim(2) {
                ensure!(
                    2 * m1 <= h,
                    "{op}: 2·m1 = {} (Wr.shape[3] = {m1}) exceeds H = {h}",
                    2 * m1
                );
            }
        }
        if let Some(m2) = inputs[1].dim(4) {
            ensure!(m2 >= 1, "{op}: m2 (Wr.shape[4]) must be at least 1");
            if let Some(w) = inputs[0].dim(3) {
                ensure!(w >= 1, "{op}: X must have a width W ≥ 1, got shape[3] = 0");
                ensure!(
                    m2 <= w / 2 + 1,
                    "{op}: m2 = {m2} (Wr.shape[4]) exceeds W/2 + 1 = {} for W = {w}",
                    w / 2 + 1
                );
            }
        }
        Ok(())
    }

    fn dims(&self, inputs: &[Fact]) -> TractResult<Dims> {
        self.check(inputs)?;
        let x = inputs[0]
            .dims()
            .context("SpectralConv2d: X must have a concrete shape")?;
        let w = inputs[1]
            .dims()
            .context("SpectralConv2d: Wr must have a concrete shape")?;
        Ok(Dims {
            b: x[0],
            cin: x[1],
            cout: w[2],
            h: x[2],
            w: x[3],
            m1: w[3],
            m2: w[4],
        })
    }
}

fn facts(inputs: &[&Tensor]) -> Vec<Fact> {
    inputs
        .iter()
        .map(|t| Fact::concrete(t.datum_type(), t.shape()))
        .collect()
}

fn weights(inputs: &[&Tensor]) -> TractResult<Vec<C32>> {
    let (wr, wi) = (slice::<f32>(inputs[1])?, slice::<f32>(inputs[2])?);
    Ok(wr.iter().zip(wi).map(|(&r, &i)| C32::new(r, i)).collect())
}

impl CustomOp for SpectralConv1d {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        self.check(inputs)?;
        let (x, w) = (&inputs[0].shape, &inputs[1].shape);
        Ok(tvec!(Fact {
            dt: DatumType::F32,
            shape: tvec!(x[0].clone(), w[1].clone(), x[2].clone())
        }))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let d = self.dims(&facts(inputs))?;
        let y = fft::conv1d(slice::<f32>(inputs[0])?, &weights(inputs)?, &d);
        Ok(tvec!(Tensor::from_shape(&[d.b, d.cout, d.w], &y)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        let d = self.dims(inputs)?;
        gpu_length(Self::NAME, "L", d.w)?;
        let (rows, modes) = (d.b * d.cin, d.m2);
        let (splits, chunk) = split_k(rows, modes, d.w);
        let twiddles = twiddles(d.w);
        let spectrum = 2 * rows * modes;
        let mut passes = vec![rdft_pass(rows, d.w, modes, splits, chunk, &twiddles)];
        // With the sum split, its partials (scratch 0) are added into scratch 2 first.
        let mixed_from = if splits > 1 {
            passes.push(Pass {
                label: "spectral forward DFT partial sums",
                shader: SHADER,
                entry: "sum_splits",
                workgroups: grid(spectrum, 256),
                params: Params::new().u(spectrum).u(splits).build(),
                bindings: vec![Slot::Scratch(0), Slot::Scratch(2)],
            });
            2
        } else {
            0
        };
        passes.push(mix_pass(&d, modes, modes, mixed_from, 1));
        passes.push(irdft_pass(
            d.b * d.cout,
            d.w,
            modes,
            1.0 / d.w as f32,
            Slot::Scratch(1),
            &twiddles,
        ));
        Ok(GpuProgram {
            outputs: vec![GpuOutput {
                dt: DatumType::F32,
                shape: vec![d.b, d.cout, d.w],
            }],
            scratch: vec![
                (splits * spectrum).max(1) as u64,
                (2 * d.b * d.cout * modes).max(1) as u64,
                if splits > 1 { spectrum.max(1) } else { 1 } as u64,
            ],
            passes,
        })
    }
}

impl CustomOp for SpectralConv2d {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        self.check(inputs)?;
        let (x, w) = (&inputs[0].shape, &inputs[1].shape);
        let shape = tvec!(x[0].clone(), w[2].clone(), x[2].clone(), x[3].clone());
        Ok(tvec!(Fact {
            dt: DatumType::F32,
            shape
        }))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let d = self.dims(&facts(inputs))?;
        let y = fft::conv2d(slice::<f32>(inputs[0])?, &weights(inputs)?, &d);
        Ok(tvec!(Tensor::from_shape(&[d.b, d.cout, d.h, d.w], &y)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        let d = self.dims(inputs)?;
        gpu_length(Self::NAME, "H", d.h)?;
        gpu_length(Self::NAME, "W", d.w)?;
        let (tw_w, tw_h) = (twiddles(d.w), twiddles(d.h));
        let kept = 2 * d.m1 * d.m2;
        let spectra = 2 * d.b * d.cin.max(d.cout) * d.h * d.m2;
        let (bin, bout) = (d.b * d.cin, d.b * d.cout);
        let rows = |bc: usize, entry: &'static str, label: &'static str, src: usize, dst: usize| {
            let threads = bc * if entry == "rowdft" { 2 * d.m1 } else { d.h } * d.m2;
            Pass {
                label,
                shader: SHADER,
                entry,
                workgroups: grid(threads, 256),
                params: with_twiddles(Params::new().u(bc).u(d.h).u(d.m1).u(d.m2), &tw_h),
                bindings: vec![Slot::Scratch(src), Slot::Scratch(dst)],
            }
        };
        Ok(GpuProgram {
            outputs: vec![GpuOutput {
                dt: DatumType::F32,
                shape: vec![d.b, d.cout, d.h, d.w],
            }],
            scratch: vec![
                spectra.max(1) as u64,
                (2 * bin * kept).max(1) as u64,
                (2 * bout * kept).max(1) as u64,
            ],
            passes: vec![
                rdft_pass(bin * d.h, d.w, d.m2, 1, d.w.next_multiple_of(32), &tw_w),
                rows(bin, "rowdft", "SpectralConv2d forward rows", 0, 1),
                mix_pass(&d, kept, d.m1 * d.m2, 1, 2),
                rows(bout, "irowdft", "SpectralConv2d inverse rows", 2, 0),
                irdft_pass(
                    bout * d.h,
                    d.w,
                    d.m2,
                    1.0 / (d.h * d.w) as f32,
                    Slot::Scratch(0),
                    &tw_w,
                ),
            ],
        })
    }
}

fn gpu_length(op: &str, name: &str, n: usize) -> TractResult<()> {
    ensure!(
        n <= MAX_GPU_LEN,
        "{op}: {name} = {n} is too long for the GPU program (at most {MAX_GPU_LEN})"
    );
    Ok(())
}

/// `cos`, `sin` of `2π·j/n` for `j < n`, interleaved, as words.
fn twiddles(n: usize) -> Vec<u32> {
    (0..n)
        .flat_map(|j| {
            let a = std::f64::consts::TAU * j as f64 / n as f64;
            [(a.cos() as f32).to_bits(), (a.sin() as f32).to_bits()]
        })
        .collect()
}

/// Pads a parameter block to [`TWIDDLE_OFFSET`] words and appends the twiddle table.
fn with_twiddles(p: Params, table: &[u32]) -> Vec<u32> {
    let mut words = p.build();
    words.resize(TWIDDLE_OFFSET, 0);
    words.extend_from_slice(table);
    words
}

/// How many slices of the transform length the forward pass splits over, and their length
/// (a multiple of its 32-sample tile), so that few long rows still fill the device.
fn split_k(rows: usize, modes: usize, n: usize) -> (usize, usize) {
    let groups = rows.div_ceil(64) * modes.div_ceil(16);
    let splits = 512usize.div_ceil(groups).min(n.div_ceil(128)).max(1);
    let chunk = n.div_ceil(splits).next_multiple_of(32);
    (n.div_ceil(chunk).max(1), chunk)
}

/// Forward truncated real DFT: rows of `n` samples from input 0 to `modes` complex bins in
/// scratch 0, as `splits` partial sums `[splits, rows, modes, 2]`.
fn rdft_pass(
    rows: usize,
    n: usize,
    modes: usize,
    splits: usize,
    chunk: usize,
    table: &[u32],
) -> Pass {
    let (mb, kb) = (rows.div_ceil(64), modes.div_ceil(16));
    let params = Params::new()
        .u(rows)
        .u(n)
        .u(modes)
        .u(splits)
        .u(chunk)
        .u(kb)
        .u(mb);
    Pass {
        label: "spectral forward DFT",
        shader: SHADER,
        entry: "rdft",
        workgroups: grid(mb * kb * splits * 256, 256),
        params: with_twiddles(params, table),
        bindings: vec![Slot::Input(0), Slot::Scratch(0)],
    }
}

/// Channel mixing: scratch `src` (`[B·Cin, positions]` complex) by the weights into scratch
/// `dst` (`[B·Cout, positions]`); weight blocks hold `per_block` positions each.
fn mix_pass(d: &Dims, positions: usize, per_block: usize, src: usize, dst: usize) -> Pass {
    let params = Params::new()
        .u(d.b)
        .u(d.cin)
        .u(d.cout)
        .u(positions)
        .u(per_block);
    Pass {
        label: "spectral channel mixing",
        shader: SHADER,
        entry: "mix",
        workgroups: grid(d.b * d.cout * positions, 256),
        params: params.build(),
        bindings: vec![
            Slot::Scratch(src),
            Slot::Scratch(dst),
            Slot::Input(1),
            Slot::Input(2),
        ],
    }
}

/// Inverse truncated real DFT: `rows` spectra of `modes` bins to rows of `n` real samples in
/// output 0, times `scale`, with irfft's Hermitian weights.
fn irdft_pass(rows: usize, n: usize, modes: usize, scale: f32, src: Slot, table: &[u32]) -> Pass {
    let (nb, mb) = (n.div_ceil(64), rows.div_ceil(32));
    let params = Params::new().u(rows).u(n).u(modes).f(scale).u(nb).u(mb);
    Pass {
        label: "spectral inverse DFT",
        shader: SHADER,
        entry: "irdft",
        workgroups: grid(nb * mb * 256, 256),
        params: with_twiddles(params, table),
        bindings: vec![src, Slot::Output(0)],
    }
}

/// Benchmark workloads: FNO layers on 1-D signals and 2-D fields.
///
/// `flops` counts the arithmetic of the GPU program's truncated DFTs, not an FFT's
/// `5·n·log2(n)`: a real-by-complex multiply-add is 4, a complex one 8. 1-D:
/// `4·B·Cin·modes·L` forward, `8·B·Cin·Cout·modes` mixing, `4·B·Cout·modes·L` inverse. 2-D:
/// `4·B·Cin·H·W·m2` (columns) + `8·B·Cin·2m1·m2·H` (rows) forward, `8·B·Cin·Cout·2m1·m2`
/// mixing, `8·B·Cout·H·2m1·m2` + `4·B·Cout·H·W·m2` inverse. `bytes` counts `X`, `Wr`, `Wi`
/// and `Y` once.
pub fn bench_cases() -> Vec<BenchCase> {
    let mut rng = Rng::new(17);
    let mut cases = Vec::new();
    for (size, [b, c, l], modes) in [
        ("small", [1, 32, 256], 16),
        ("medium", [4, 64, 1024], 16),
        ("large", [8, 64, 4096], 16),
    ] {
        let scale = 1.0 / (c * c) as f32;
        let inputs = vec![
            rng.tensor_f32(&[b, c, l], -1.0, 1.0),
            rng.tensor_f32(&[c, c, modes], -scale, scale),
            rng.tensor_f32(&[c, c, modes], -scale, scale),
        ];
        let name = format!("SpectralConv1d {size} [{b}, {c}, {l}] modes {modes}");
        let (b, c, l, m) = (b as f64, c as f64, l as f64, modes as f64);
        cases.push(BenchCase {
            name,
            op: Arc::new(SpectralConv1d),
            inputs,
            flops: 4.0 * b * c * m * l * 2.0 + 8.0 * b * c * c * m,
            bytes: 4.0 * (2.0 * b * c * l + 2.0 * c * c * m),
        });
    }
    for (size, [b, c, h, w], m) in [
        ("small", [1, 32, 64, 64], 12),
        ("medium", [4, 32, 128, 128], 16),
        ("large", [8, 64, 128, 128], 16),
    ] {
        let scale = 1.0 / (c * c) as f32;
        let wshape = [2, c, c, m, m];
        let inputs = vec![
            rng.tensor_f32(&[b, c, h, w], -1.0, 1.0),
            rng.tensor_f32(&wshape, -scale, scale),
            rng.tensor_f32(&wshape, -scale, scale),
        ];
        let name = format!("SpectralConv2d {size} [{b}, {c}, {h}, {w}] modes {m}x{m}");
        let (b, c, h, w, m) = (b as f64, c as f64, h as f64, w as f64, m as f64);
        let kept = 2.0 * m * m;
        cases.push(BenchCase {
            name,
            op: Arc::new(SpectralConv2d),
            inputs,
            flops: 2.0 * (4.0 * b * c * h * w * m + 8.0 * b * c * kept * h)
                + 8.0 * b * c * c * kept,
            bytes: 4.0 * (2.0 * b * c * h * w + 2.0 * 2.0 * c * c * m * m),
        });
    }
    cases
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<SpectralConv1d>(), OpDef::of::<SpectralConv2d>()]
}
