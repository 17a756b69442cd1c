//! BlockDct and BlockIdct on the GPU against the CPU kernel.

use edgewise_gpu::testing::test_gpu;
use edgewise_ops::ops::dct::{BlockDct, BlockIdct};
use edgewise_ops::testing::Rng;

/// Random shapes for block sizes of the workgroup-tiled kernel (B ≤ 32, several tiles per
/// workgroup, ragged last segments of a tile row) and of the two-pass kernel (B > 32).
fn shapes(seed: u64, n: usize) -> Vec<(usize, Vec<usize>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|case| {
            let b = [1, 2, 3, 4, 5, 7, 8, 8, 8, 12, 16, 32, 33, 40][case % 14];
            let max_tiles = match b {
                1 => 1500,
                2..=8 => 40,
                _ => 5,
            };
            let shape = vec![
                rng.range(1, 2),
                rng.range(1, 3),
                b * rng.range(1, 4),
                b * rng.range(1, max_tiles),
            ];
            (b, shape)
        })
        .collect()
}

async fn block_dct() {
    let gpu = test_gpu().await;
    let mut rng = Rng::new(3);
    let cases = shapes(51, 20)
        .into_iter()
        .map(|(block, shape)| (BlockDct { block }, vec![rng.tensor_f32(&shape, -1.0, 1.0)]));
    // Dot products of length B in a different order (fused on the GPU): a few ulps.
    check_cases!(gpu, cases, 1e-5, 1e-5);
}

async fn block_idct() {
    let gpu = test_gpu().await;
    let mut rng = Rng::new(4);
    let cases = shapes(52, 20)
        .into_iter()
        .map(|(block, shape)| (BlockIdct { block }, vec![rng.tensor_f32(&shape, -4.0, 4.0)]));
    // As for BlockDct, on coefficients four times larger.
    check_cases!(gpu, cases, 1e-5, 4e-5);
}

gpu_test!(block_dct_matches_cpu, block_dct());
gpu_test!(block_idct_matches_cpu, block_idct());
