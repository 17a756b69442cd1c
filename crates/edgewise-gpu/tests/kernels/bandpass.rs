use edgewise_gpu::testing::test_gpu;
use edgewise_ops::ops::bandpass::{GPU_MAX_T, TemporalBandpass};
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

fn cases(seed: u64, n: usize) -> Vec<(TemporalBandpass, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|case| {
            let rank = rng.range(1, 3);
            let mut shape: Vec<usize> = (0..rank - 1).map(|_| rng.range(1, 3)).collect();
            // Mostly short odd lengths (partial 64-wide tiles); a few long traces whose kept
            // band spans several tiles (narrower ones for the longest, to keep the test fast
            // on a software rasterizer).
            let t = match case % 8 {
                0 => rng.range(700, 1500),
                1 => 4096,
                _ => rng.range(1, 400),
            };
            shape.push(t);
            let fps = rng.uniform(5.0, 60.0);
            let (a, b) = (rng.uniform(0.0, fps / 2.0), rng.uniform(0.0, fps / 2.0));
            let low = if case % 5 == 0 { 0.0 } else { a.min(b) };
            let high = match case % 8 {
                1 => low + fps / 16.0,
                _ if case % 3 == 0 => fps / 2.0,
                _ => a.max(b) + 0.01,
            };
            let op = TemporalBandpass {
                fps,
                low_hz: low,
                high_hz: high.min(fps / 2.0),
            };
            (op, vec![rng.tensor_f32(&shape, -1.0, 1.0)])
        })
        .collect()
}

async fn temporal_bandpass() {
    let gpu = test_gpu().await;
    // The GPU sums a direct DFT of T terms per kept bin in f32 (exact f64 twiddles), the CPU
    // runs an f32 FFT: with inputs in [-1, 1] the largest difference seen is ~4e-6 (T up to
    // 4096, up to the whole spectrum kept); outputs cross zero, so the bound is absolute.
    check_cases!(gpu, cases(31, 20), 1e-5, 2e-5);
}

async fn long_traces_are_left_to_the_cpu() {
    let gpu = test_gpu().await;
    let op = TemporalBandpass {
        fps: 30.0,
        low_hz: 0.7,
        high_hz: 4.0,
    };
    let x = gpu
        .upload(&Rng::new(1).tensor_f32(&[2, GPU_MAX_T + 1], -1.0, 1.0))
        .unwrap();
    let err = gpu.run(&op, &[&x]).await.unwrap_err();
    assert_eq!(err.kind(), "program", "{err}");
    assert!(err.to_string().contains("TemporalBandpass"), "{err}");
}

gpu_test!(temporal_bandpass_matches_cpu, temporal_bandpass());
gpu_test!(
    temporal_bandpass_refuses_long_traces,
    long_traces_are_left_to_the_cpu()
);
