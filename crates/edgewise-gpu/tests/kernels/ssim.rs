//! SsimMap on the GPU against the CPU kernel.

use edgewise_gpu::testing::test_gpu;
use edgewise_ops::ops::ssim::SsimMap;
use edgewise_ops::slice;
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

/// Random cases: windows from 3 to beyond one 32-row tile, output sizes off multiples of the
/// 32×32 tile, `Y` either `X` plus noise (SSIM near 1) or independent (SSIM near 0).
fn cases(seed: u64, n: usize) -> Vec<(SsimMap, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|case| {
            let window = [3, 5, 7, 11, 11, 15, 21, 41][case % 8];
            let op = SsimMap {
                window,
                sigma: rng.uniform(0.5, 4.0),
                data_range: if case % 3 == 0 { 255.0 } else { 1.0 },
                k1: 0.01,
                k2: 0.03,
            };
            let extra = if window > 21 { 20 } else { 70 };
            let shape = [
                rng.range(1, 2),
                rng.range(1, 3),
                window + rng.range(0, extra),
                window + rng.range(0, extra),
            ];
            let l = op.data_range;
            let x = rng.tensor_f32(&shape, 0.0, l);
            let y = if case % 2 == 0 {
                let noise = rng.tensor_f32(&shape, -0.1 * l, 0.1 * l);
                let sum: Vec<f32> = slice::<f32>(&x)
                    .unwrap()
                    .iter()
                    .zip(slice::<f32>(&noise).unwrap())
                    .map(|(a, b)| a + b)
                    .collect();
                Tensor::from_shape(&shape, &sum).unwrap()
            } else {
                rng.tensor_f32(&shape, 0.0, l)
            };
            (op, vec![x, y])
        })
        .collect()
}

async fn ssim_map() {
    let gpu = test_gpu().await;
    // Both sides filter in f32 in the same order (horizontal, then vertical), but the GPU
    // fuses multiply-adds; σ² = G*(x²) − μ² cancels, so allow a few 1e-5 on SSIM's unit scale.
    check_cases!(gpu, cases(41, 20), 1e-4, 1e-4);
}

gpu_test!(ssim_map_matches_cpu, ssim_map());
