use edgewise_gpu::testing::test_gpu;
use edgewise_ops::ops::border::BorderRound;
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

fn cases(seed: u64, n: usize) -> Vec<(BorderRound, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let rank = rng.range(1, 4);
            let shape: Vec<usize> = (0..rank).map(|_| rng.range(1, 24)).collect();
            let axis = rng.range(0, rank - 1);
            let c = if rng.range(0, 1) == 0 { 1 } else { shape[axis] };
            let op = BorderRound {
                axis: axis as i64 - if rng.range(0, 1) == 0 { 0 } else { rank as i64 },
                qmin: -(rng.range(1, 128) as i64),
                qmax: rng.range(1, 127) as i64,
            };
            let inputs = vec![
                rng.tensor_f32(&shape, -8.0, 8.0),
                rng.tensor_f32(&[c], 0.02, 0.4),
                rng.tensor_f32(&[c], 0.0, 1.0),
            ];
            (op, inputs)
        })
        .collect()
}

async fn border_round() {
    let gpu = test_gpu().await;
    // Exact up to a float ulp in x / s; a value landing on a border may round either way.
    check_cases!(gpu, cases(11, 24), 1e-6, 1e-6);
}

gpu_test!(border_round_matches_cpu, border_round());
