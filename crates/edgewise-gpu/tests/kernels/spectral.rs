//! `SpectralConv1d` and `SpectralConv2d`: the truncated-DFT GPU programs against the FFT CPU
//! kernels.

use edgewise_gpu::testing::test_gpu;
use edgewise_ops::CustomOp;
use edgewise_ops::ops::spectral::{SpectralConv1d, SpectralConv2d};
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

// Tolerance. Inputs are uniform in [-1, 1] and weights in [-1, 1]/Cin, so outputs are O(1).
// Both sides use the same f32 twiddles (the GPU reads a host-computed table, never its own
// sin/cos), so what differs is summation: the GPU sums the DFTs directly in f32 (forward over
// up to 1000 samples, inverse over up to 151 bins), the CPU runs f32 FFTs. Direct f32 sums of
// n terms of size ≤ 1 are off by about sqrt(n)·6e-8 per spectral bin, and the inverse spreads
// that error evenly over the output, so it is absolute rather than relative to each output
// (which may be near zero). The largest difference seen at these sizes is 6.3e-7 (lavapipe);
// atol 2e-5 (with rtol 1e-4) leaves a 30x margin for other devices' FMA and ordering.
const RTOL: f32 = 1e-4;
const ATOL: f32 = 2e-5;

fn weights(rng: &mut Rng, shape: &[usize], cin: usize) -> [Tensor; 2] {
    let s = 1.0 / cin as f32;
    [rng.tensor_f32(shape, -s, s), rng.tensor_f32(shape, -s, s)]
}

fn cases1d(seed: u64) -> Vec<(SpectralConv1d, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    let mut shapes: Vec<[usize; 5]> = (0..18)
        .map(|case| {
            let l = rng.range(1, 90);
            let modes = match case % 3 {
                0 => l / 2 + 1,
                _ => rng.range(1, (l / 2 + 1).min(24)),
            };
            [rng.range(1, 3), rng.range(1, 5), rng.range(1, 5), l, modes]
        })
        .collect();
    // Many rows and modes (several tiles of 64 rows and 16 modes); a long row split over
    // several slices of the sum; an odd length with every mode kept.
    shapes.extend([[3, 30, 7, 40, 21], [1, 2, 3, 1000, 16], [2, 3, 2, 301, 151]]);
    shapes
        .into_iter()
        .map(|[b, cin, cout, l, modes]| {
            let x = rng.tensor_f32(&[b, cin, l], -1.0, 1.0);
            let [wr, wi] = weights(&mut rng, &[cin, cout, modes], cin);
            (SpectralConv1d, vec![x, wr, wi])
        })
        .collect()
}

fn cases2d(seed: u64) -> Vec<(SpectralConv2d, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    let mut shapes: Vec<[usize; 7]> = (0..16)
        .map(|case| {
            let (h, w) = (rng.range(2, 24), rng.range(1, 24));
            let m1 = if case % 4 == 0 {
                h / 2
            } else {
                rng.range(1, h / 2)
            };
            let m2 = if case % 3 == 0 {
                w / 2 + 1
            } else {
                rng.range(1, w / 2 + 1)
            };
            [
                rng.range(1, 2),
                rng.range(1, 4),
                rng.range(1, 4),
                h,
                w,
                m1,
                m2,
            ]
        })
        .collect();
    // An FNO-like layer: more than 64 rows per channel and 16+ kept columns.
    shapes.extend([[2, 5, 6, 33, 40, 8, 17], [1, 3, 2, 64, 65, 12, 12]]);
    shapes
        .into_iter()
        .map(|[b, cin, cout, h, w, m1, m2]| {
            let x = rng.tensor_f32(&[b, cin, h, w], -1.0, 1.0);
            let [wr, wi] = weights(&mut rng, &[2, cin, cout, m1, m2], cin);
            (SpectralConv2d, vec![x, wr, wi])
        })
        .collect()
}

async fn spectral_conv1d() {
    let gpu = test_gpu().await;
    check_cases!(gpu, cases1d(21), RTOL, ATOL);
}

async fn spectral_conv2d() {
    let gpu = test_gpu().await;
    check_cases!(gpu, cases2d(22), RTOL, ATOL);
}

async fn bad_inputs() {
    let gpu = test_gpu().await;
    let mut rng = Rng::new(23);
    let x = gpu.upload(&rng.tensor_f32(&[1, 2, 8], -1.0, 1.0)).unwrap();
    let w = gpu.upload(&rng.tensor_f32(&[2, 2, 6], -1.0, 1.0)).unwrap();
    let err = gpu.run(&SpectralConv1d, &[&x, &w, &w]).await.unwrap_err();
    assert_eq!(err.kind(), "program", "{err}");
    assert!(err.to_string().contains(SpectralConv1d.name()), "{err}");
}

gpu_test!(spectral_conv1d_matches_cpu, spectral_conv1d());
gpu_test!(spectral_conv2d_matches_cpu, spectral_conv2d());
gpu_test!(spectral_conv_bad_inputs_are_program_errors, bad_inputs());
