//! Per-channel element-wise kernels: the batch-norm, scale, shift and clamp chains that sit
//! between convolutions, as one pass `x = min(max(x · mul + add, lo), hi)` over one
//! contiguous run of a tensor, with one set of constants per run ([`stage_plane`],
//! channel-first layouts) or one per lane ([`stage_lanes`], channel-last layouts).
//!
//! Plain loops that LLVM vectorizes (SIMD128 in the wasm build, which builds this crate at
//! `opt-level = 3`). The clamps are written as comparisons, not `f32::max`/`f32::min`, whose
//! NaN rule has no SIMD128 instruction and becomes a scalar library call in wasm; as written,
//! a NaN input stays NaN, as in onnxruntime.

/// The constants of one stage for one channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Multiplier.
    pub mul: f32,
    /// Added after the multiplication.
    pub add: f32,
    /// Lower clamp (`-∞` for none).
    pub lo: f32,
    /// Upper clamp (`+∞` for none).
    pub hi: f32,
}

impl Stage {
    /// The identity.
    pub const IDENTITY: Stage = Stage {
        mul: 1.0,
        add: 0.0,
        lo: f32::NEG_INFINITY,
        hi: f32::INFINITY,
    };

    /// One value through the stage.
    #[inline(always)]
    pub fn apply(&self, v: f32) -> f32 {
        let v = v * self.mul + self.add;
        let v = if v < self.lo { self.lo } else { v };
        if v > self.hi { self.hi } else { v }
    }
}

/// One stage over a run that shares one channel.
pub fn stage_plane(x: &mut [f32], stage: Stage) {
    for v in x {
        *v = stage.apply(*v);
    }
}

/// One stage over one row of channels: lane `i` uses `mul[i]`, `add[i]`, `lo[i]`, `hi[i]`.
pub fn stage_lanes(x: &mut [f32], mul: &[f32], add: &[f32], lo: &[f32], hi: &[f32]) {
    let n = x
        .len()
        .min(mul.len())
        .min(add.len())
        .min(lo.len())
        .min(hi.len());
    let (x, mul, add, lo, hi) = (&mut x[..n], &mul[..n], &add[..n], &lo[..n], &hi[..n]);
    for i in 0..n {
        x[i] = Stage {
            mul: mul[i],
            add: add[i],
            lo: lo[i],
            hi: hi[i],
        }
        .apply(x[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_is_an_affine_map_then_a_clamp_and_keeps_nan() {
        let s = Stage {
            mul: 2.0,
            add: -1.0,
            lo: 0.0,
            hi: 3.0,
        };
        let mut x = [-1.0, 0.25, 1.0, 1.5, 9.0, f32::NAN, 0.75];
        stage_plane(&mut x, s);
        assert_eq!(&x[..5], &[0.0, 0.0, 1.0, 2.0, 3.0]);
        assert!(x[5].is_nan());
        assert_eq!(x[6], 0.5);
        let mut row = [1.0, 1.0, 1.0, f32::NAN];
        stage_lanes(
            &mut row,
            &[1.0, 2.0, -1.0, 1.0],
            &[0.0, 1.0, 0.0, 0.0],
            &[f32::NEG_INFINITY, 0.0, 0.0, 0.0],
            &[f32::INFINITY, 2.5, 6.0, 6.0],
        );
        assert_eq!(&row[..3], &[1.0, 2.5, 0.0]);
        assert!(row[3].is_nan());
        assert_eq!(Stage::IDENTITY.apply(-7.5), -7.5);
    }
}
