//! CPU micro-kernels for the wasm build of edgewise.
//!
//! tract-linalg picks a matrix-multiply kernel per product from a registry that any crate in
//! the build can add to. This crate adds a wasm SIMD128 f32 GEMM kernel sized for V8's
//! register file ([`gemm`]) and a dispatch tier that prefers it for every f32 matrix-matrix
//! product, so convolutions and matmuls planned by tract run on it without any change to the
//! graph. Native builds register nothing: tract's own x86-64 and arm64 kernels stay in charge.
//!
//! [`channel`] holds the per-channel element-wise kernels the runtime runs its fused
//! batch-norm / scale / shift / clamp chains with, [`pool`] its 2-D max pooling and [`quant`]
//! its quantize–dequantize round trips, on every target.

pub mod channel;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod gemm;
pub mod pool;
pub mod quant;

use std::sync::atomic::{AtomicBool, Ordering};

static OWN_GEMM: AtomicBool = AtomicBool::new(true);

/// Chooses between this crate's GEMM kernel (`true`, the default) and tract-linalg's own for
/// the models optimized from now on; plans made before keep the kernel they were made with.
/// For side-by-side measurements: the bench runs both in one process.
pub fn use_own_gemm(on: bool) {
    OWN_GEMM.store(on, Ordering::Relaxed);
}

/// Whether models optimized now get this crate's GEMM kernel (where the build has one).
pub fn own_gemm() -> bool {
    OWN_GEMM.load(Ordering::Relaxed)
}

/// Keeps this crate's registry entries in the final module and reports whether they are
/// active in this build. wasm-ld drops an object that nothing references, registry entries
/// included, so the runtime calls this once before it plans a model.
pub fn register() -> bool {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        gemm::keep();
        true
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        false
    }
}

/// The name of the kernel tract-linalg would run for an f32 product of `m`×`k` by `k`×`n`
/// on this build, for tests and reports.
pub fn selected_f32_kernel(m: usize, k: usize, n: usize) -> Option<String> {
    register();
    tract_linalg::MmmDispatch::native()
        .preferred_kernel(
            tract_data::prelude::DatumType::F32,
            Some(m),
            Some(k),
            Some(n),
        )
        .map(|kernel| kernel.name().to_string())
}
