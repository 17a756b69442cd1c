//! Binary neural networks: `BinaryGemm` and `BinaryConv2d`, ±1 products by XOR and popcount.
//!
//! Activations and weights are binarized to ±1. Weights arrive packed 32 per `uint32` word;
//! activations stay `float32` and are binarized by sign on the fly. A ±1 dot product over `K`
//! taps is then `K − 2·popcount(bits(a) XOR bits(w))`, scaled per output channel. An optional
//! reconfiguration key (RBNN) flips the signs of the keyed weights.
//!
//! ## Schema
//!
//! Conventions shared by both operators:
//! - sign: `a ≥ 0 → +1` (so `0` and `−0` are `+1`), otherwise `−1` (NaN included);
//! - packing: bit `k % 32` of word `k / 32` of a row is set ⇔ the weight of tap `k` is `+1`;
//!   a row of `K` taps has `ceil(K/32)` words and its padding bits (past `K`) must be 0;
//! - optional inputs: `bias` (`float32`) and `key` (`uint32`) may be absent. They are read by
//!   position and element type: with 4 inputs the fourth is `bias` if `float32` and `key` if
//!   `uint32` (an ONNX node whose bias name is empty arrives that way); with 5 inputs the
//!   fourth is `bias` and the fifth `key`. A zero-element `bias` or `key` counts as absent.
//!
//! ### `BinaryGemm`
//! - **Inputs**
//!   - `A`: `float32`, shape `[..., K]` (rank ≥ 1), binarized by sign.
//!   - `W`: `uint32`, shape `[N, ceil(K/32)]`, packed sign bits of the weights.
//!   - `scale`: `float32`, shape `[N]`.
//!   - `bias` (optional): `float32`, shape `[N]`.
//!   - `key` (optional): `uint32`, shape `[ceil(K/32)]`; padding bits must be 0. The weights
//!     used are `W XOR key` (row by row).
//! - **Attributes**: none.
//! - **Output** `Y`: `float32`, shape `[..., N]`:
//!   `y[.., n] = scale[n] · Σ_k sign(a_k)·sign(w_nk) + bias[n]
//!             = scale[n] · (K − 2·popcount(bits(a) XOR w_n)) + bias[n]`.
//!
//! ### `BinaryConv2d`
//! - **Inputs**
//!   - `X`: `float32`, shape `[N, C, H, W]`, binarized by sign.
//!   - `W`: `uint32`, shape `[M, ceil(C·kh·kw/32)]`, each row packed over the flattened tap index
//!     `(c·kh + ky)·kw + kx`.
//!   - `scale`: `float32`, shape `[M]`; `bias` (optional): `float32`, shape `[M]`;
//!     `key` (optional): `uint32`, shape `[ceil(C·kh·kw/32)]`, as for `BinaryGemm`.
//! - **Attributes**
//!   - `kernel_shape` (ints, required): `[kh, kw]`, each ≥ 1.
//!   - `strides` (ints, default `[1, 1]`): `[sh, sw]`, each ≥ 1.
//!   - `pads` (ints, default `[0, 0, 0, 0]`): `[top, left, bottom, right]`, each ≥ 0.
//!   - `dilations` (ints, default `[1, 1]`): `[dh, dw]`, each ≥ 1.
//! - **Output** `Y`: `float32`, shape `[N, M, OH, OW]` with
//!   `OH = (H + top + bottom − dh·(kh−1) − 1) / sh + 1` (floor; likewise `OW`). The padded
//!   input must hold at least one window. `N` may be symbolic; so may `H` and `W` (the output
//!   dimension is then the same expression in `TDim`).
//!   `y[n, m, oy, ox] = scale[m] · Σ_{valid taps} sign(x)·sign(w) + bias[m]`, where a tap is
//!   valid when it falls inside the image: padding contributes 0, not ±1.
//!
//! ## GPU program
//! Three passes: `prep` gathers `[scale | bias or 0 | key or 0]` into one scratch buffer;
//! `pack` (GEMM) or `im2col` (conv) packs the activations' sign bits, XORed with the key, into
//! words (word-major: word `w` of row `r` at `w·rows + r`), the conv also writing a validity
//! mask when it pads; then a popcount GEMM. Rows of 64 by channels of 64 per workgroup of 256
//! invocations, 4×4 outputs each, 16 words of both operands staged in workgroup memory per
//! step; a GEMM of at most 8 rows uses a GEMV kernel instead (32 lanes per channel, coalesced
//! weight reads, a workgroup reduction).

mod conv;
mod gemm;

pub use conv::BinaryConv2d;
pub use gemm::BinaryGemm;

use std::sync::Arc;

use tract_onnx::tract_hir::internal::*;

use crate::custom::{Fact, check_arity, check_type};
use crate::program::{MAX_GROUPS_PER_DIM, Params, Pass, Slot, grid};
use crate::registry::OpDef;
use crate::testing::{BenchCase, Rng};

const SHADER: &str = include_str!("binary.wgsl");

/// Rows and output channels per workgroup of the tiled popcount GEMM (`TILE` in the shader).
const TILE: usize = 64;

/// The most rows the GEMV kernel takes (its per-invocation accumulators).
const GEMV_ROWS: usize = 8;

/// Which inputs hold the optional `bias` and `key`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Optional {
    bias: Option<usize>,
    key: Option<usize>,
}

/// Whether a dimension list is known to hold no element.
fn has_no_element(f: &Fact) -> bool {
    f.shape.iter().any(|d| d.to_i64().is_ok_and(|v| v == 0))
}

/// Whether two dimensions may be equal: different only when both are concrete and differ.
fn compatible(a: &TDim, b: &TDim) -> bool {
    match (a.to_i64(), b.to_i64()) {
        (Ok(x), Ok(y)) => x == y,
        _ => true,
    }
}

/// Fails unless input `index` (`name`) is a vector of `len` elements.
fn check_vector(op: &str, f: &Fact, index: usize, name: &str, len: &TDim) -> TractResult<()> {
    ensure!(
        f.rank() == 1 && compatible(&f.shape[0], len),
        "{op}: input {index} ({name}) must have shape [{len}], got {:?}",
        f.shape
    );
    Ok(())
}

/// Checks `scale`, `bias` and `key` (inputs 2…) against `n` output channels and `words` words
/// per packed row, and says where the optional inputs are.
fn check_affine(op: &str, inputs: &[Fact], n: &TDim, words: &TDim) -> TractResult<Optional> {
    check_arity(op, inputs, 3, 5)?;
    check_type(op, inputs, 2, "scale", DatumType::F32)?;
    check_vector(op, &inputs[2], 2, "scale", n)?;
    let mut opt = Optional::default();
    match inputs.len() {
        4 => match inputs[3].dt {
            DatumType::F32 => opt.bias = Some(3),
            DatumType::U32 => opt.key = Some(3),
            dt => bail!("{op}: input 3 must be bias (F32) or key (U32), got {dt:?}"),
        },
        5 => {
            check_type(op, inputs, 3, "bias", DatumType::F32)?;
            check_type(op, inputs, 4, "key", DatumType::U32)?;
            opt = Optional {
                bias: Some(3),
                key: Some(4),
            };
        }
        _ => {}
    }
    opt.bias = opt.bias.filter(|&i| !has_no_element(&inputs[i]));
    opt.key = opt.key.filter(|&i| !has_no_element(&inputs[i]));
    if let Some(i) = opt.bias {
        check_vector(op, &inputs[i], i, "bias", n)?;
    }
    if let Some(i) = opt.key {
        check_vector(op, &inputs[i], i, "key", words)?;
    }
    Ok(opt)
}

/// The facts of concrete tensors.
fn facts(inputs: &[&Tensor]) -> Vec<Fact> {
    inputs
        .iter()
        .map(|t| Fact::concrete(t.datum_type(), t.shape()))
        .collect()
}

/// Fails if a row of `words` words packing `bits` bits has a bit set past `bits`.
fn check_padding(op: &str, name: &str, data: &[u32], words: usize, bits: usize) -> TractResult<()> {
    if bits.is_multiple_of(32) || words == 0 {
        return Ok(());
    }
    let pad = !0u32 << (bits % 32);
    if let Some(row) = data.chunks(words).position(|r| r[words - 1] & pad != 0) {
        bail!(
            "{op}: {name} row {row} has bits set past the {bits} used ones (padding bits must be 0)"
        );
    }
    Ok(())
}

/// The weights actually used, `W XOR key` row by row, after checking both paddings.
fn effective_weights(
    op: &str,
    w: &[u32],
    key: Option<&[u32]>,
    words: usize,
    bits: usize,
) -> TractResult<Vec<u32>> {
    check_padding(op, "W", w, words, bits)?;
    let Some(key) = key else {
        return Ok(w.to_vec());
    };
    check_padding(op, "key", key, words, bits)?;
    Ok(w.chunks(words.max(1))
        .flat_map(|row| row.iter().zip(key).map(|(w, k)| w ^ k))
        .collect())
}

/// `scale · dot + bias` for output channel `n`.
fn affine(scale: &[f32], bias: Option<&[f32]>, n: usize, dot: i64) -> f32 {
    scale[n] * dot as f32 + bias.map_or(0.0, |b| b[n])
}

/// The `prep` pass: scratch 0 = `[scale (n) | bias or 0 (n) | key or 0 (words)]`.
fn prep_pass(label: &'static str, n: usize, words: usize, opt: Optional) -> Pass {
    Pass {
        label,
        shader: SHADER,
        entry: "prep",
        workgroups: grid(n.max(words), 64),
        params: Params::new()
            .u(n)
            .u(words)
            .u(opt.bias.is_some() as usize)
            .u(opt.key.is_some() as usize)
            .build(),
        // An absent input is replaced by `scale`, bound but never read.
        bindings: vec![
            Slot::Scratch(0),
            Slot::Input(2),
            Slot::Input(opt.bias.unwrap_or(2)),
            Slot::Input(opt.key.unwrap_or(2)),
        ],
    }
}

/// Workgroups of the tiled GEMM: channel tiles in x, row tiles folded into y and z.
fn tile_grid(op: &str, rows: usize, channels: usize) -> TractResult<[u32; 3]> {
    let (x, t) = (channels.div_ceil(TILE), rows.div_ceil(TILE));
    let max = MAX_GROUPS_PER_DIM as usize;
    ensure!(
        x <= max,
        "{op}: {channels} output channels are more than the GPU kernel tiles ({})",
        max * TILE
    );
    let (y, z) = (t.min(max), t.div_ceil(max));
    Ok([x as u32, y.max(1) as u32, z.max(1) as u32])
}

/// Fails unless `count` words can be indexed with 32-bit integers in a shader.
fn check_u32(op: &str, what: &str, count: usize) -> TractResult<()> {
    ensure!(
        count <= u32::MAX as usize,
        "{op}: {what} has {count} words, more than the GPU kernels index"
    );
    Ok(())
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<BinaryGemm>(), OpDef::of::<BinaryConv2d>()]
}

/// Random packed weights for `rows` rows of `bits` taps, padding bits cleared.
fn packed_weights(rng: &mut Rng, rows: usize, bits: usize) -> Tensor {
    let words = bits.div_ceil(32);
    let keep = if bits.is_multiple_of(32) {
        u32::MAX
    } else {
        (1u32 << (bits % 32)) - 1
    };
    let data: Vec<u32> = (0..rows * words)
        .map(|i| {
            let v = rng.next_u64() as u32;
            if i % words == words - 1 { v & keep } else { v }
        })
        .collect();
    Tensor::from_shape(&[rows, words], &data).expect("shape matches data")
}

/// Benchmark workloads: fully connected layers and ResNet-like 3×3 convolutions. A weight
/// bit's XOR and popcount count 2 operations, so a call does `2·rows·N·K` of them.
pub fn bench_cases() -> Vec<BenchCase> {
    let mut rng = Rng::new(17);
    let mut cases = Vec::new();
    for (size, rows, k, n) in [
        ("small", 1usize, 1024usize, 1024usize),
        ("medium", 64, 1024, 1024),
        ("large", 256, 4096, 4096),
    ] {
        let words = k.div_ceil(32);
        cases.push(BenchCase {
            name: format!("BinaryGemm {size} [{rows}, {k}] x [{k} -> {n}]"),
            op: Arc::new(BinaryGemm),
            inputs: vec![
                rng.tensor_f32(&[rows, k], -1.0, 1.0),
                packed_weights(&mut rng, n, k),
                rng.tensor_f32(&[n], 0.001, 0.01),
                rng.tensor_f32(&[n], -0.1, 0.1),
            ],
            flops: 2.0 * rows as f64 * n as f64 * k as f64,
            bytes: 4.0 * (rows * k + n * words + 2 * n + rows * n) as f64,
        });
    }
    for (size, [b, c, h, m]) in [
        ("small", [1, 16, 32, 32]),
        ("medium", [1, 64, 56, 64]),
        ("large", [8, 128, 28, 128]),
    ] {
        let taps = c * 9;
        let op = BinaryConv2d {
            pads: [1; 4],
            ..BinaryConv2d::new([3, 3])
        };
        cases.push(BenchCase {
            name: format!("BinaryConv2d {size} [{b}, {c}, {h}, {h}] 3x3 {c} -> {m}"),
            op: Arc::new(op),
            inputs: vec![
                rng.tensor_f32(&[b, c, h, h], -1.0, 1.0),
                packed_weights(&mut rng, m, taps),
                rng.tensor_f32(&[m], 0.001, 0.01),
                rng.tensor_f32(&[m], -0.1, 0.1),
            ],
            flops: 2.0 * (b * h * h) as f64 * (m * taps) as f64,
            bytes: 4.0 * (b * c * h * h + m * taps.div_ceil(32) + 2 * m + b * m * h * h) as f64,
        });
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_cases_are_three_sizes_per_operator_and_run() {
        let cases = bench_cases();
        assert_eq!(cases.len(), 6);
        for (case, want) in cases
            .iter()
            .zip(["small", "medium", "large"].iter().cycle())
        {
            assert!(case.name.contains(want), "{}", case.name);
            let facts = facts(&case.inputs.iter().collect::<Vec<_>>());
            case.op.output_facts(&facts).unwrap();
            case.op.gpu_program(&facts).unwrap();
        }
        // The small ones also evaluate (padding bits are clear).
        for case in [&cases[0], &cases[3]] {
            let refs: Vec<&Tensor> = case.inputs.iter().collect();
            case.op.eval(&refs).unwrap();
        }
    }

    #[test]
    fn optional_inputs_are_found_by_position_and_type() {
        let f = |dt, shape: &[usize]| Fact::concrete(dt, shape);
        let (n, w): (TDim, TDim) = (4.into(), 2.into());
        let inputs = |extra: Vec<Fact>| {
            let mut v = vec![f(DatumType::F32, &[3, 40]), f(DatumType::U32, &[4, 2])];
            v.push(f(DatumType::F32, &[4]));
            v.extend(extra);
            v
        };
        let key = f(DatumType::U32, &[2]);
        let bias = f(DatumType::F32, &[4]);
        let empty_f = f(DatumType::F32, &[0]);
        let empty_u = f(DatumType::U32, &[0]);
        for (extra, want) in [
            (vec![], (None, None)),
            (vec![bias.clone()], (Some(3), None)),
            (vec![key.clone()], (None, Some(3))),
            (vec![bias.clone(), key.clone()], (Some(3), Some(4))),
            (vec![empty_f.clone(), key.clone()], (None, Some(4))),
            (vec![bias.clone(), empty_u.clone()], (Some(3), None)),
            (vec![empty_f], (None, None)),
            (vec![empty_u], (None, None)),
        ] {
            let opt = check_affine("Op", &inputs(extra), &n, &w).unwrap();
            assert_eq!((opt.bias, opt.key), want);
        }
        let e = check_affine("Op", &inputs(vec![key.clone(), bias]), &n, &w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("input 3 (bias)"), "{e}");
        let e = check_affine("Op", &inputs(vec![f(DatumType::I64, &[4])]), &n, &w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("input 3 must be bias"), "{e}");
        let e = check_affine("Op", &inputs(vec![f(DatumType::U32, &[3])]), &n, &w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("input 3 (key) must have shape [2]"), "{e}");
    }

    #[test]
    fn padding_bits_are_checked_per_row() {
        assert!(check_padding("Op", "W", &[0b111, 0b011], 1, 2).is_err());
        assert!(check_padding("Op", "W", &[0b011, 0b011], 1, 2).is_ok());
        assert!(check_padding("Op", "W", &[u32::MAX, 1, u32::MAX, 2], 2, 34).is_ok());
        let e = check_padding("Op", "key", &[u32::MAX, 1, u32::MAX, 4], 2, 34)
            .unwrap_err()
            .to_string();
        assert!(e.contains("key row 1") && e.contains("34"), "{e}");
        assert!(check_padding("Op", "W", &[u32::MAX], 1, 32).is_ok());
    }
}
