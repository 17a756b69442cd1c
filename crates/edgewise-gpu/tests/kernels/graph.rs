use edgewise_gpu::testing::test_gpu;
use edgewise_ops::ops::graph::{GraphAggregate, Reduce};
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

fn cases(seed: u64, n: usize) -> Vec<(GraphAggregate, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|case| {
            let reduce = [Reduce::Sum, Reduce::Mean, Reduce::Max][case % 3];
            let nn = rng.range(1, 300);
            let f = [1, 3, 7, 32, 33, rng.range(1, 40)][rng.range(0, 5)];
            let e = if case % 7 == 0 { 0 } else { rng.range(1, 3000) };
            // Targets drawn from the first `reach` nodes leave the others isolated; a few
            // edges are self loops and repeats of earlier edges.
            let reach = rng.range(1, nn);
            let mut src: Vec<i64> = Vec::with_capacity(e);
            let mut dst: Vec<i64> = Vec::with_capacity(e);
            for i in 0..e {
                let (s, t) = match rng.range(0, 9) {
                    0 => {
                        let s = rng.range(0, reach - 1) as i64;
                        (s, s)
                    }
                    1 if i > 0 => {
                        let j = rng.range(0, i - 1);
                        (src[j], dst[j])
                    }
                    _ => (rng.range(0, nn - 1) as i64, rng.range(0, reach - 1) as i64),
                };
                src.push(s);
                dst.push(t);
            }
            src.extend(dst);
            let mut inputs = vec![
                rng.tensor_f32(&[nn, f], -2.0, 2.0),
                Tensor::from_shape(&[2, e], &src).unwrap(),
            ];
            if case % 2 == 1 {
                inputs.push(rng.tensor_f32(&[e], -1.0, 1.5));
            }
            (GraphAggregate { reduce }, inputs)
        })
        .collect()
}

async fn graph_aggregate() {
    let gpu = test_gpu().await;
    // Max is exact (the same products, compared). Sums and means add the same messages in
    // another order: up to ~40 terms of |w·x| ≤ 3 per node, so a few ulps of 100.
    check_cases!(gpu, cases(41, 24), 1e-5, 2e-5);
}

gpu_test!(graph_aggregate_matches_cpu, graph_aggregate());
