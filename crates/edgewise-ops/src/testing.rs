//! Deterministic random inputs and comparisons shared by the kernel tests (CPU against the
//! naive formulas here, GPU against CPU in `edgewise-gpu`, natively and in the browser).

use tract_onnx::tract_hir::internal::*;

use crate::custom::slice;

/// A small xorshift generator: the same seed gives the same cases on every target, so a
/// failure report (seed and shape) reproduces anywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// A uniform float in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * unit
    }

    /// An f32 tensor of uniform values in `[lo, hi)`.
    pub fn tensor_f32(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| self.uniform(lo, hi)).collect();
        Tensor::from_shape(shape, &data).expect("shape matches data")
    }

    /// A u32 tensor of random bits.
    pub fn tensor_u32(&mut self, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        let data: Vec<u32> = (0..n).map(|_| self.next_u64() as u32).collect();
        Tensor::from_shape(shape, &data).expect("shape matches data")
    }

    /// An i64 tensor of uniform values in `lo..=hi`.
    pub fn tensor_i64(&mut self, shape: &[usize], lo: i64, hi: i64) -> Tensor {
        let n = shape.iter().product();
        let data: Vec<i64> = (0..n)
            .map(|_| lo + (self.next_u64() % (hi - lo + 1) as u64) as i64)
            .collect();
        Tensor::from_shape(shape, &data).expect("shape matches data")
    }
}

/// Checks that `got` and `want` have the same type and shape and agree element-wise within
/// `|g - w| <= atol + rtol * |w|` (exactly, for integer types). The error names the first
/// element that differs and the largest error seen.
pub fn assert_close(got: &Tensor, want: &Tensor, rtol: f32, atol: f32) -> Result<(), String> {
    if got.datum_type() != want.datum_type() || got.shape() != want.shape() {
        return Err(format!(
            "got {:?} {:?}, want {:?} {:?}",
            got.datum_type(),
            got.shape(),
            want.datum_type(),
            want.shape()
        ));
    }
    if got.datum_type() != f32::datum_type() {
        return if got == want {
            Ok(())
        } else {
            let (g, w) = (format!("{got:?}"), format!("{want:?}"));
            Err(format!("integer outputs differ: got {g}, want {w}"))
        };
    }
    let g = slice::<f32>(got).map_err(|e| e.to_string())?;
    let w = slice::<f32>(want).map_err(|e| e.to_string())?;
    let mut worst = (0usize, 0f32);
    let mut first_bad = None;
    for (i, (&g, &w)) in g.iter().zip(w).enumerate() {
        let err = (g - w).abs();
        let ok = err <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan());
        if !ok && first_bad.is_none() {
            first_bad = Some((i, g, w));
        }
        if err > worst.1 || err.is_nan() {
            worst = (i, err);
        }
    }
    match first_bad {
        None => Ok(()),
        Some((i, g, w)) => Err(format!(
            "element {i} of {:?}: got {g}, want {w} (rtol {rtol}, atol {atol}); largest error {} at {}",
            got.shape(),
            worst.1,
            worst.0
        )),
    }
}

/// One benchmark workload: an operator, its inputs and the work it does, so a benchmark can
/// report GFLOP/s or GB/s. Each family offers three sizes (small, medium, large).
#[derive(Debug, Clone)]
pub struct BenchCase {
    /// "Op small", "Op medium" or "Op large", with the shape in words.
    pub name: String,
    /// The operator.
    pub op: std::sync::Arc<dyn crate::CustomOp>,
    /// Its inputs.
    pub inputs: Vec<Tensor>,
    /// Arithmetic operations per call (a multiply-add counts 2; a popcount of a 32-bit word
    /// with its XOR counts 2 per bit, 64).
    pub flops: f64,
    /// Bytes read and written per call, counting each input and output once.
    pub bytes: f64,
}
