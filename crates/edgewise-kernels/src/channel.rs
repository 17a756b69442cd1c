//! Per-channel element-wise kernels: the batch-norm, scale, shift and clamp chains that sit
//! between convolutions, applied to one contiguous run of a tensor with one constant per run
//! (`*_plane`, channel-first layouts) or one constant per lane (`*_lanes`, channel-last
//! layouts). Plain loops that LLVM vectorizes (SIMD128 in the wasm build, which builds this
//! crate at `opt-level = 3`).

/// `x = x · mul + add` over a run that shares one channel.
pub fn affine_plane(x: &mut [f32], mul: f32, add: f32) {
    for v in x {
        *v = *v * mul + add;
    }
}

/// `x = max(x, bound)` over a run that shares one channel.
pub fn max_plane(x: &mut [f32], bound: f32) {
    for v in x {
        *v = v.max(bound);
    }
}

/// `x = min(x, bound)` over a run that shares one channel.
pub fn min_plane(x: &mut [f32], bound: f32) {
    for v in x {
        *v = v.min(bound);
    }
}

/// `x[i] = x[i] · mul[i] + add[i]` over one row of channels; the three have one length.
pub fn affine_lanes(x: &mut [f32], mul: &[f32], add: &[f32]) {
    for ((v, m), a) in x.iter_mut().zip(mul).zip(add) {
        *v = *v * m + a;
    }
}

/// `x[i] = max(x[i], bound[i])` over one row of channels.
pub fn max_lanes(x: &mut [f32], bound: &[f32]) {
    for (v, b) in x.iter_mut().zip(bound) {
        *v = v.max(*b);
    }
}

/// `x[i] = min(x[i], bound[i])` over one row of channels.
pub fn min_lanes(x: &mut [f32], bound: &[f32]) {
    for (v, b) in x.iter_mut().zip(bound) {
        *v = v.min(*b);
    }
}
