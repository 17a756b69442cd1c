//! An f32 GEMM micro-kernel for wasm SIMD128, tiled for V8.
//!
//! tract-linalg's own wasm GEMM kernel computes an 8×8 tile in 16 `v128` accumulators. x86-64
//! has 16 vector registers, and V8's TurboFan needs some of them for the loaded panels and the
//! broadcasts, so each step of its inner loop spills and reloads about ten accumulators
//! (`bench/profile.md`). The kernel here computes the same 8×8 tile from the same packed
//! panels, but as two 4×8 halves one after the other: 8 accumulators, two `v128` loads of the
//! B panel and four `load32_splat` broadcasts of the A panel per step, which all stay in
//! registers; the second half reads the B panel again from L1. Measured in V8 it runs 1.3×
//! faster than the stock tile on a lone product and 1.3–1.6× on whole models
//! (`bench/levers.md`).
//!
//! Sharing tract's 8-row packing keeps the kernel in the same packing group as tract's
//! matrix-vector kernel `wasm_f32_8x1`: where the product's `n` is only known at run time,
//! tract plans both and picks per call, and among the 8×8 tiles of that group it takes the
//! last by name, which is this one.
//!
//! The kernel speaks tract-linalg's fused-op protocol ([`FusedKerSpec`]): besides the product
//! it applies the per-row and per-column bias, scale, clamp and residual operations tract
//! fuses into a matmul, so it replaces the stock kernel everywhere. Its loops over rows and
//! vectors have constant bounds; the crate is built at `opt-level = 3` inside the
//! size-optimized `wasm` profile so that they are fully unrolled into registers.

use std::arch::wasm32::*;
use tract_data::prelude::DatumType;
use tract_linalg::Scaler;
use tract_linalg::isa::{Arch, IsaSet};
use tract_linalg::mmm::{DynKernel, FusedKerSpec, Query, Suitable};
use tract_linalg::mmm_routines::MmmRoutine;
use tract_linalg::mmm_tiers::MmmTier;
use tract_linalg::pack::Packing;

/// Rows of the tile (output channels of a convolution), as tract packs them.
const MR: usize = 8;
/// Rows computed at once: the tile is run as `MR / HALF` bands of this many rows.
const HALF: usize = 4;
/// `v128` vectors per row: the tile has `4 * NV` columns (output pixels of a convolution).
const NV: usize = 2;
/// Columns of the tile.
const NR: usize = 4 * NV;

/// The name tract-linalg knows the kernel by. It sorts after tract's `wasm_f32_8x8`, which
/// decides ties in tract's choice for products whose `n` is symbolic.
pub const NAME: &str = "wasm_f32_8x8_halves";

type Acc = [[v128; NV]; HALF];

#[inline(always)]
fn each(acc: &mut Acc, f: impl Fn(v128) -> v128) {
    for row in acc.iter_mut() {
        for v in row.iter_mut() {
            *v = f(*v);
        }
    }
}

/// Applies `op(per_row[r], acc)` (or flipped) to every row.
#[inline(always)]
unsafe fn per_row(acc: &mut Acc, rows: *const f32, op: fn(v128, v128) -> v128, flip: bool) {
    for (r, row) in acc.iter_mut().enumerate() {
        let s = unsafe { f32x4_splat(*rows.add(r)) };
        for v in row.iter_mut() {
            *v = if flip { op(*v, s) } else { op(s, *v) };
        }
    }
}

/// Applies `op(per_col, acc)` (or flipped) to every row.
#[inline(always)]
unsafe fn per_col(acc: &mut Acc, cols: *const f32, op: fn(v128, v128) -> v128, flip: bool) {
    let mut c = [f32x4_splat(0.0); NV];
    for (j, v) in c.iter_mut().enumerate() {
        *v = unsafe { v128_load((cols as *const v128).add(j)) };
    }
    for row in acc.iter_mut() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = if flip { op(*v, c[j]) } else { op(c[j], *v) };
        }
    }
}

/// The product loop for one band: `acc += A_panel · B_panel` over `k`, A packed as `[k][MR]`
/// (`pa` already offset to the band's first row), B as `[k][NR]`.
#[inline(always)]
unsafe fn add_mat_mul(acc: &mut Acc, k: usize, pa: *const f32, pb: *const v128) {
    let mut a = pa;
    let mut b = pb;
    for _ in 0..k {
        unsafe {
            let mut bv = [f32x4_splat(0.0); NV];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = v128_load(b.add(j));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let s = v128_load32_splat(a.add(r) as *const u32);
                for (j, v) in row.iter_mut().enumerate() {
                    *v = f32x4_add(*v, f32x4_mul(s, bv[j]));
                }
            }
            a = a.add(MR);
            b = b.add(NV);
        }
    }
}

/// Runs one tile's list of fused operations, as tract-linalg's kernels do, one band of rows
/// at a time: every operation is separable by rows.
unsafe fn kernel(ops: &[FusedKerSpec<f32>]) -> isize {
    for band in 0..MR / HALF {
        unsafe { run_band(ops, band * HALF) };
    }
    0
}

/// Runs the operations for rows `first..first + HALF` of the tile.
#[inline(always)]
unsafe fn run_band(ops: &[FusedKerSpec<f32>], first: usize) {
    let mut acc: Acc = [[f32x4_splat(0.0); NV]; HALF];
    for op in ops {
        unsafe {
            match *op {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => each(&mut acc, |_| f32x4_splat(0.0)),
                FusedKerSpec::LoadTile(_cols, rows) => {
                    let p = (rows as *const v128).add(first * NV);
                    for (r, row) in acc.iter_mut().enumerate() {
                        for (j, v) in row.iter_mut().enumerate() {
                            *v = v128_load(p.add(r * NV + j));
                        }
                    }
                }
                FusedKerSpec::ScalarMin(a) => each(&mut acc, |v| f32x4_min(f32x4_splat(a), v)),
                FusedKerSpec::ScalarMax(a) => each(&mut acc, |v| f32x4_max(f32x4_splat(a), v)),
                FusedKerSpec::ScalarAdd(a) => each(&mut acc, |v| f32x4_add(f32x4_splat(a), v)),
                FusedKerSpec::ScalarMul(a) => each(&mut acc, |v| f32x4_mul(f32x4_splat(a), v)),
                FusedKerSpec::ScalarSub(a) => each(&mut acc, |v| f32x4_sub(f32x4_splat(a), v)),
                FusedKerSpec::ScalarSubF(a) => each(&mut acc, |v| f32x4_sub(v, f32x4_splat(a))),
                FusedKerSpec::LeakyRelu(a) => each(&mut acc, |v| {
                    let positive = f32x4_gt(v, f32x4_splat(0.0));
                    v128_bitselect(v, f32x4_mul(f32x4_splat(a), v), positive)
                }),
                FusedKerSpec::PerRowMin(p) => per_row(&mut acc, p.add(first), f32x4_min, false),
                FusedKerSpec::PerRowMax(p) => per_row(&mut acc, p.add(first), f32x4_max, false),
                FusedKerSpec::PerRowAdd(p) => per_row(&mut acc, p.add(first), f32x4_add, false),
                FusedKerSpec::PerRowMul(p) => per_row(&mut acc, p.add(first), f32x4_mul, false),
                FusedKerSpec::PerRowSub(p) => per_row(&mut acc, p.add(first), f32x4_sub, false),
                FusedKerSpec::PerRowSubF(p) => per_row(&mut acc, p.add(first), f32x4_sub, true),
                FusedKerSpec::PerColMin(p) => per_col(&mut acc, p, f32x4_min, false),
                FusedKerSpec::PerColMax(p) => per_col(&mut acc, p, f32x4_max, false),
                FusedKerSpec::PerColAdd(p) => per_col(&mut acc, p, f32x4_add, false),
                FusedKerSpec::PerColMul(p) => per_col(&mut acc, p, f32x4_mul, false),
                FusedKerSpec::PerColSub(p) => per_col(&mut acc, p, f32x4_sub, false),
                FusedKerSpec::PerColSubF(p) => per_col(&mut acc, p, f32x4_sub, true),
                FusedKerSpec::QScale(shift, policy, mult) => {
                    let s = Scaler::from_fuse_params(shift, policy, mult).scale;
                    each(&mut acc, |v| f32x4_mul(f32x4_splat(s), v))
                }
                FusedKerSpec::RoundingShiftRight(shift, _) => {
                    let s = 2f32.powi(-(shift as i32));
                    each(&mut acc, |v| f32x4_mul(f32x4_splat(s), v))
                }
                FusedKerSpec::ShiftLeft(shift) => {
                    let s = 2f32.powi(shift as i32);
                    each(&mut acc, |v| f32x4_mul(f32x4_splat(s), v))
                }
                FusedKerSpec::AddUnicast(tile) => {
                    for (r, row) in acc.iter_mut().enumerate() {
                        let base = tile.ptr.offset((first + r) as isize * tile.row_byte_stride);
                        for (j, v) in row.iter_mut().enumerate() {
                            let lane = |c: usize| {
                                *(base.offset((4 * j + c) as isize * tile.col_byte_stride)
                                    as *const f32)
                            };
                            *v = f32x4_add(*v, f32x4(lane(0), lane(1), lane(2), lane(3)));
                        }
                    }
                }
                FusedKerSpec::AddRowColProducts(rows, cols) => {
                    for (r, row) in acc.iter_mut().enumerate() {
                        let s = f32x4_splat(*rows.add(first + r));
                        for (j, v) in row.iter_mut().enumerate() {
                            let c = v128_load((cols as *const v128).add(j));
                            *v = f32x4_add(*v, f32x4_mul(s, c));
                        }
                    }
                }
                FusedKerSpec::Store(tile) => {
                    for (r, row) in acc.iter().enumerate() {
                        let base = tile.ptr.offset((first + r) as isize * tile.row_byte_stride);
                        if tile.col_byte_stride == 4 {
                            for (j, v) in row.iter().enumerate() {
                                v128_store(base.add(16 * j) as *mut v128, *v);
                            }
                        } else {
                            for (j, v) in row.iter().enumerate() {
                                let at = |c: usize| {
                                    base.offset((4 * j + c) as isize * tile.col_byte_stride)
                                        as *mut f32
                                };
                                *at(0) = f32x4_extract_lane::<0>(*v);
                                *at(1) = f32x4_extract_lane::<1>(*v);
                                *at(2) = f32x4_extract_lane::<2>(*v);
                                *at(3) = f32x4_extract_lane::<3>(*v);
                            }
                        }
                    }
                }
                FusedKerSpec::AddMatMul {
                    k,
                    pa,
                    pb,
                    packing: _,
                } => add_mat_mul(
                    &mut acc,
                    k,
                    (pa as *const f32).add(first),
                    pb as *const v128,
                ),
            }
        }
    }
}

fn make() -> DynKernel<MR, NR, f32> {
    let mut kernel =
        DynKernel::<MR, NR, f32>::new(NAME, kernel, f32::packing(MR), f32::packing(NR));
    kernel.arch = Some(Arch::Wasm32Simd128);
    // Where tract ranks kernels by preference (products with a symbolic `n`), a kernel that is
    // switched off ranks below the stock ones and drops out.
    kernel.with_boost(|| if crate::own_gemm() { 0 } else { -1 })
}

inventory::submit! {
    MmmRoutine { make: || make().mmm() }
}

/// The tier's answer: this kernel for every f32 matrix-matrix product; matrix-vector products
/// (`n = 1`) and other accumulators are left to tract-linalg's wasm tier, and so is everything
/// while [`crate::use_own_gemm`] is off.
fn preferred(
    _isa: &IsaSet,
    accumulator: DatumType,
    query: &Query,
    _suitable: &[Suitable],
) -> Option<&'static str> {
    if !crate::own_gemm() {
        return None;
    }
    match (accumulator, query.n) {
        (DatumType::F32, Some(1)) => None,
        (DatumType::F32, _) => Some(NAME),
        _ => None,
    }
}

inventory::submit! {
    MmmTier {
        arch: Some(Arch::Wasm32Simd128),
        precedence: 2,
        name: "edgewise-wasm-simd128",
        applies: |_| true,
        preferred,
    }
}

/// Referenced by [`crate::register`] so that the linker keeps this module's registry entries.
#[inline(never)]
pub fn keep() {
    std::hint::black_box(kernel as unsafe fn(&[FusedKerSpec<f32>]) -> isize);
    std::hint::black_box(
        preferred as fn(&IsaSet, DatumType, &Query, &[Suitable]) -> Option<&'static str>,
    );
}
