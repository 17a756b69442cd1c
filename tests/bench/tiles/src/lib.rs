//! GEMM tile shapes for wasm SIMD128, timed in V8 by `run.mjs` (see README.md).
//!
//! Every variant multiplies the same packed panels: A as `[m / MR][k][MR]`, B as
//! `[n / NR][k][NR]`, C row-major, with the same loop over tiles (columns outer). Only the
//! micro-kernel differs: its tile (MR rows × NR columns), how it broadcasts A (a
//! `load32_splat` per row, or one `v128` load and lane shuffles) and how it walks K.
use std::arch::wasm32::*;

/// MR × 4·NV tile, one `load32_splat` per row of A and step of K.
#[inline(always)]
unsafe fn tile<const MR: usize, const NV: usize>(
    k: usize,
    pa: *const f32,
    pb: *const v128,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[f32x4_splat(0.0); NV]; MR];
    let (mut a, mut b) = (pa, pb);
    for _ in 0..k {
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
    store(&acc, c, ldc);
}

#[inline(always)]
unsafe fn store<const MR: usize, const NV: usize>(acc: &[[v128; NV]; MR], c: *mut f32, ldc: usize) {
    for (r, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            v128_store(c.add(r * ldc + 4 * j) as *mut v128, *v);
        }
    }
}

/// Broadcasts of 4 rows of A from one `v128` load, by lane shuffles.
#[inline(always)]
unsafe fn splat4(a: v128) -> [v128; 4] {
    [
        i32x4_shuffle::<0, 0, 0, 0>(a, a),
        i32x4_shuffle::<1, 1, 1, 1>(a, a),
        i32x4_shuffle::<2, 2, 2, 2>(a, a),
        i32x4_shuffle::<3, 3, 3, 3>(a, a),
    ]
}

/// tract-linalg's `wasm_f32_8x8` scheme: 16 accumulators, A broadcast by shuffles.
#[inline(always)]
unsafe fn tile_8x8_shuffled(k: usize, pa: *const f32, pb: *const v128, c: *mut f32, ldc: usize) {
    let mut acc = [[f32x4_splat(0.0); 2]; 8];
    let a = pa as *const v128;
    for i in 0..k {
        let lo = splat4(v128_load(a.add(2 * i)));
        let hi = splat4(v128_load(a.add(2 * i + 1)));
        let (b0, b1) = (v128_load(pb.add(2 * i)), v128_load(pb.add(2 * i + 1)));
        for (r, s) in lo.iter().chain(hi.iter()).enumerate() {
            acc[r][0] = f32x4_add(acc[r][0], f32x4_mul(*s, b0));
            acc[r][1] = f32x4_add(acc[r][1], f32x4_mul(*s, b1));
        }
    }
    store(&acc, c, ldc);
}

/// 4×8 with A broadcast by shuffles from one load.
#[inline(always)]
unsafe fn tile_4x8_shuffled(k: usize, pa: *const f32, pb: *const v128, c: *mut f32, ldc: usize) {
    let mut acc = [[f32x4_splat(0.0); 2]; 4];
    let a = pa as *const v128;
    for i in 0..k {
        let s = splat4(v128_load(a.add(i)));
        let (b0, b1) = (v128_load(pb.add(2 * i)), v128_load(pb.add(2 * i + 1)));
        for r in 0..4 {
            acc[r][0] = f32x4_add(acc[r][0], f32x4_mul(s[r], b0));
            acc[r][1] = f32x4_add(acc[r][1], f32x4_mul(s[r], b1));
        }
    }
    store(&acc, c, ldc);
}

/// 4×8 with K unrolled by two.
#[inline(always)]
unsafe fn tile_4x8_k2(k: usize, pa: *const f32, pb: *const v128, c: *mut f32, ldc: usize) {
    let mut acc = [[f32x4_splat(0.0); 2]; 4];
    let step = |acc: &mut [[v128; 2]; 4], i: usize| {
        let (b0, b1) = (v128_load(pb.add(2 * i)), v128_load(pb.add(2 * i + 1)));
        for (r, row) in acc.iter_mut().enumerate() {
            let s = v128_load32_splat(pa.add(4 * i + r) as *const u32);
            row[0] = f32x4_add(row[0], f32x4_mul(s, b0));
            row[1] = f32x4_add(row[1], f32x4_mul(s, b1));
        }
    };
    let mut i = 0;
    while i + 2 <= k {
        step(&mut acc, i);
        step(&mut acc, i + 1);
        i += 2;
    }
    if i < k {
        step(&mut acc, i);
    }
    store(&acc, c, ldc);
}

/// An 8×8 tile on tract's 8-row packing, computed as two 4×8 bands (edgewise's kernel).
#[inline(always)]
unsafe fn tile_8x8_bands(k: usize, pa: *const f32, pb: *const v128, c: *mut f32, ldc: usize) {
    for band in 0..2 {
        let mut acc = [[f32x4_splat(0.0); 2]; 4];
        let (mut a, mut b) = (pa.add(4 * band), pb);
        for _ in 0..k {
            let (b0, b1) = (v128_load(b), v128_load(b.add(1)));
            for (r, row) in acc.iter_mut().enumerate() {
                let s = v128_load32_splat(a.add(r) as *const u32);
                row[0] = f32x4_add(row[0], f32x4_mul(s, b0));
                row[1] = f32x4_add(row[1], f32x4_mul(s, b1));
            }
            a = a.add(8);
            b = b.add(2);
        }
        store(&acc, c.add(4 * band * ldc), ldc);
    }
}

type Tile = unsafe fn(usize, *const f32, *const v128, *mut f32, usize);

unsafe fn gemm<const MR: usize, const NV: usize>(
    m: usize,
    k: usize,
    n: usize,
    pa: *const f32,
    pb: *const f32,
    c: *mut f32,
    tile: Tile,
) {
    let nr = NV * 4;
    for tj in 0..n / nr {
        for ti in 0..m / MR {
            let a = pa.add(ti * MR * k);
            let b = pb.add(tj * nr * k) as *const v128;
            tile(k, a, b, c.add(ti * MR * n + tj * nr), n);
        }
    }
}

/// `n` floats set to 0.5, for the panels and the result.
#[no_mangle]
pub extern "C" fn alloc(n: usize) -> *mut f32 {
    Box::leak(vec![0.5f32; n].into_boxed_slice()).as_mut_ptr()
}

macro_rules! variants {
    ($($name:ident = $mr:literal x $nv:literal, $tile:expr;)*) => {$(
        /// `C = A · B` over packed panels with one tile variant (see the module docs).
        #[no_mangle]
        pub unsafe extern "C" fn $name(m: usize, k: usize, n: usize, a: *const f32, b: *const f32, c: *mut f32) {
            gemm::<$mr, $nv>(m, k, n, a, b, c, $tile)
        }
    )*};
}

variants! {
    g8x8s = 8 x 2, tile_8x8_shuffled;
    g8x8 = 8 x 2, tile::<8, 2>;
    g8x8bands = 8 x 2, tile_8x8_bands;
    g8x4 = 8 x 1, tile::<8, 1>;
    g6x8 = 6 x 2, tile::<6, 2>;
    g5x8 = 5 x 2, tile::<5, 2>;
    g4x8 = 4 x 2, tile::<4, 2>;
    g4x8s = 4 x 2, tile_4x8_shuffled;
    g4x8k2 = 4 x 2, tile_4x8_k2;
    g4x12 = 4 x 3, tile::<4, 3>;
    g4x16 = 4 x 4, tile::<4, 4>;
    g3x16 = 3 x 4, tile::<3, 4>;
    g2x16 = 2 x 4, tile::<2, 4>;
    g2x12 = 2 x 3, tile::<2, 3>;
    g1x16 = 1 x 4, tile::<1, 4>;
}
