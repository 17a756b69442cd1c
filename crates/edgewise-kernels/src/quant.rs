//! Quantize–dequantize round trips on float32 data, the pair that QDQ-quantized models put
//! around every activation: `x → clamp(round(x · inv_scale) + zero_point, lo, hi)`, then
//! `(q − dq_zero_point) · dq_scale`, in one in-place pass with no integer tensor between.
//!
//! Rounding is to nearest, ties to even (ONNX `QuantizeLinear`'s rule), and every step is the
//! one tract's `QuantizeLinearU8`/`QuantizeLinearI8` and `DequantizeLinearF32` take, so the
//! results are bit-identical to running the two ops wherever `x · inv_scale` fits an `i32`
//! (beyond, tract's integer sum overflows; here the value saturates, as ONNX specifies). A plain loop that LLVM vectorizes into
//! SIMD128 in the wasm build (`f32x4.nearest`, `i32x4.trunc_sat_f32x4_s`, integer clamps).

/// The constants of one round trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundTrip {
    /// The reciprocal of the quantization scale (what the value is multiplied by).
    pub inv_scale: f32,
    /// The quantization zero point.
    pub zero_point: i32,
    /// The smallest integer (0 for u8, −128 for i8).
    pub lo: i32,
    /// The largest integer (255 for u8, 127 for i8).
    pub hi: i32,
    /// The dequantization zero point.
    pub dq_zero_point: i32,
    /// The dequantization scale.
    pub dq_scale: f32,
}

impl RoundTrip {
    /// One value through the round trip.
    #[inline(always)]
    pub fn apply(&self, x: f32) -> f32 {
        // Clamped before the zero point is added, in float (exact: the bounds are small
        // integers), so the integer sum cannot overflow; a NaN fails both comparisons and
        // becomes 0 in the saturating cast, as in tract's op.
        let v = (x * self.inv_scale).round_ties_even();
        let (lo, hi) = (
            (self.lo - self.zero_point) as f32,
            (self.hi - self.zero_point) as f32,
        );
        let v = if v < lo { lo } else { v };
        let v = if v > hi { hi } else { v };
        (v as i32 + self.zero_point - self.dq_zero_point) as f32 * self.dq_scale
    }
}

/// The round trip over a slice, in place.
pub fn round_trip(x: &mut [f32], r: RoundTrip) {
    for v in x {
        *v = r.apply(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two steps as tract writes them, one value at a time.
    fn reference(x: f32, r: &RoundTrip) -> f32 {
        let q = tract_data::prelude::round_ties_to_even(x * r.inv_scale) as i32;
        let q = q.saturating_add(r.zero_point).clamp(r.lo, r.hi);
        (q - r.dq_zero_point) as f32 * r.dq_scale
    }

    #[test]
    fn matches_quantize_then_dequantize_bit_for_bit() {
        let u8_trip = RoundTrip {
            inv_scale: 10.374218,
            zero_point: 140,
            lo: 0,
            hi: 255,
            dq_zero_point: 140,
            dq_scale: 1.0 / 10.374218,
        };
        let i8_trip = RoundTrip {
            inv_scale: 4.0,
            zero_point: -3,
            lo: -128,
            hi: 127,
            dq_zero_point: -3,
            dq_scale: 0.25,
        };
        // Ties (0.125 · 4 = 0.5, 0.375 · 4 = 1.5), both clamps, signed zeros, infinities.
        let mut xs: Vec<f32> = (0..4001).map(|i| (i as f32 - 2000.0) * 0.0173).collect();
        xs.extend([0.125, 0.375, -0.125, -0.375, 0.0, -0.0, 1e9, -1e9]);
        xs.extend([f32::INFINITY, f32::NEG_INFINITY, 1e-30, 13.49]);
        for r in [u8_trip, i8_trip] {
            let mut ys = xs.clone();
            round_trip(&mut ys, r);
            for (x, y) in xs.iter().zip(&ys) {
                assert_eq!(y.to_bits(), reference(*x, &r).to_bits(), "x = {x}, {r:?}");
            }
        }
        // A tie rounds to the even integer: 0.5 → 0 and 1.5 → 2 steps of 0.25.
        let mut ties = [0.125f32, 0.375];
        round_trip(&mut ties, i8_trip);
        assert_eq!(ties, [0.0, 0.5]);
        // Clamped at the integer range: 255 − 140 steps at most.
        let mut big = [1e9f32];
        round_trip(&mut big, u8_trip);
        assert_eq!(big[0], 115.0 * u8_trip.dq_scale);
        // NaN quantizes to the zero point, as a saturating cast makes it.
        let mut nan = [f32::NAN];
        round_trip(&mut nan, u8_trip);
        assert_eq!(nan[0], 0.0);
    }
}
