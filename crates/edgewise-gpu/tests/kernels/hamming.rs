use edgewise_gpu::testing::test_gpu;
use edgewise_ops::ops::hamming::{GPU_MAX_K, GPU_MAX_WORDS, HammingTopK};
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

/// A database whose rows come from a pool of `pool` codes, so many distances tie.
fn pooled(rng: &mut Rng, d: usize, wd: usize, pool: usize) -> Tensor {
    let codes: Vec<u32> = (0..pool * wd).map(|_| rng.next_u64() as u32).collect();
    let rows: Vec<u32> = (0..d)
        .flat_map(|_| {
            let r = rng.range(0, pool - 1);
            codes[r * wd..][..wd].to_vec()
        })
        .collect();
    Tensor::from_shape(&[d, wd], &rows).unwrap()
}

fn cases(seed: u64, n: usize) -> Vec<(HammingTopK, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|case| {
            let q = rng.range(1, 6);
            let d = rng.range(1, 3000);
            let wd = match case % 6 {
                0 => GPU_MAX_WORDS,
                1 => 0,
                _ => rng.range(1, 5),
            };
            let k = match case % 5 {
                0 => d.min(GPU_MAX_K),
                _ => rng.range(1, d.min(64)),
            };
            let queries = rng.tensor_u32(&[q, wd]);
            // Random codes (ties only by chance), a few codes (ties across the database,
            // resolved by index), or one code repeated (every row ties).
            let database = match case % 3 {
                0 => rng.tensor_u32(&[d, wd]),
                1 => {
                    let pool = rng.range(2, 6);
                    pooled(&mut rng, d, wd, pool)
                }
                _ => pooled(&mut rng, d, wd, 1),
            };
            (HammingTopK { k }, vec![queries, database])
        })
        .collect()
}

async fn hamming_top_k() {
    let gpu = test_gpu().await;
    // Integer outputs: indices and distances must be identical.
    check_cases!(gpu, cases(53, 24), 0.0, 0.0);
}

async fn oversized_codes_and_k_are_left_to_the_cpu() {
    let gpu = test_gpu().await;
    let mut rng = Rng::new(3);
    for (op, wd, d) in [
        (HammingTopK { k: 4 }, GPU_MAX_WORDS + 1, 10),
        (HammingTopK { k: GPU_MAX_K + 1 }, 2, GPU_MAX_K + 10),
    ] {
        let q = gpu.upload(&rng.tensor_u32(&[2, wd])).unwrap();
        let db = gpu.upload(&rng.tensor_u32(&[d, wd])).unwrap();
        let err = gpu.run(&op, &[&q, &db]).await.unwrap_err();
        assert_eq!(err.kind(), "program", "{err}");
        assert!(err.to_string().contains("HammingTopK"), "{err}");
    }
}

gpu_test!(hamming_top_k_matches_cpu, hamming_top_k());
gpu_test!(
    hamming_top_k_refuses_oversized_inputs,
    oversized_codes_and_k_are_left_to_the_cpu()
);
