//! Binary networks: `BinaryGemm` and `BinaryConv2d` on the GPU against the CPU kernels.
//!
//! Tolerance: the ±1 dot product is an exact integer on both sides; only the final
//! `scale · dot + bias` may round differently (a fused multiply-add on the GPU), so outputs
//! agree to an ulp of the larger term: rtol 1e-6, atol 1e-4 (|scale · dot| stays below ~500).

use edgewise_gpu::testing::test_gpu;
use edgewise_ops::ops::binary::{BinaryConv2d, BinaryGemm};
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

/// Random packed weights for `rows` rows of `bits` taps, padding bits cleared.
fn packed(rng: &mut Rng, rows: usize, bits: usize) -> Tensor {
    let words = bits.div_ceil(32);
    let keep = if bits.is_multiple_of(32) {
        u32::MAX
    } else {
        (1 << (bits % 32)) - 1
    };
    let data: Vec<u32> = (0..rows * words)
        .map(|i| {
            let v = rng.next_u64() as u32;
            if i % words == words - 1 { v & keep } else { v }
        })
        .collect();
    Tensor::from_shape(&[rows, words], &data).unwrap()
}

/// `scale`, then the optional inputs in one of the layouts the schema allows: none, bias,
/// key alone as the fourth input, both, or zero-element placeholders.
fn affine(rng: &mut Rng, n: usize, bits: usize, layout: usize) -> Vec<Tensor> {
    let scale = rng.tensor_f32(&[n], 0.05, 1.0);
    let bias = rng.tensor_f32(&[n], -2.0, 2.0);
    let key = packed(rng, 1, bits)
        .into_shape(&[bits.div_ceil(32)])
        .unwrap();
    let empty_f = Tensor::from_shape::<f32>(&[0], &[]).unwrap();
    let empty_u = Tensor::from_shape::<u32>(&[0], &[]).unwrap();
    match layout % 6 {
        0 => vec![scale],
        1 => vec![scale, bias],
        2 => vec![scale, key],
        3 => vec![scale, bias, key],
        4 => vec![scale, empty_f, key],
        _ => vec![scale, bias, empty_u],
    }
}

fn gemm_cases(seed: u64, n: usize) -> Vec<(BinaryGemm, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|case| {
            // Alternate the GEMV path (≤ 8 rows) and the tiled one, with ragged tiles.
            let lead: Vec<usize> = match case % 4 {
                0 => vec![rng.range(1, 8)],
                1 => vec![],
                2 => vec![rng.range(9, 150)],
                _ => vec![rng.range(1, 4), rng.range(3, 40)],
            };
            let k = [1, 31, 32, 33, 100, 500, 513, 1024][rng.range(0, 7)];
            let out = rng.range(1, 140);
            let mut shape = lead;
            shape.push(k);
            let mut inputs = vec![rng.tensor_f32(&shape, -1.0, 1.0), packed(&mut rng, out, k)];
            inputs.extend(affine(&mut rng, out, k, case));
            (BinaryGemm, inputs)
        })
        .collect()
}

fn conv_cases(seed: u64, n: usize) -> Vec<(BinaryConv2d, Vec<Tensor>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|case| {
            let padded = case % 3 != 0;
            let pad = |rng: &mut Rng| if padded { rng.range(0, 2) } else { 0 };
            let op = BinaryConv2d {
                kernel_shape: [rng.range(1, 4), rng.range(1, 4)],
                strides: [rng.range(1, 3), rng.range(1, 3)],
                pads: [pad(&mut rng), pad(&mut rng), pad(&mut rng), pad(&mut rng)],
                dilations: [rng.range(1, 2), rng.range(1, 2)],
            };
            let min = |a: usize| op.dilations[a] * (op.kernel_shape[a] - 1) + 1;
            let (h, w) = (rng.range(min(0), 24), rng.range(min(1), 24));
            let (batch, c, m) = (rng.range(1, 2), rng.range(1, 20), rng.range(1, 80));
            let taps = c * op.kernel_shape[0] * op.kernel_shape[1];
            let mut inputs = vec![
                rng.tensor_f32(&[batch, c, h, w], -1.0, 1.0),
                packed(&mut rng, m, taps),
            ];
            inputs.extend(affine(&mut rng, m, taps, case));
            (op, inputs)
        })
        .collect()
}

async fn binary_gemm() {
    let gpu = test_gpu().await;
    // See the module docs: exact integer dot products, one rounding in the affine step.
    check_cases!(gpu, gemm_cases(31, 24), 1e-6, 1e-4);
}

async fn binary_conv2d() {
    let gpu = test_gpu().await;
    // See the module docs: exact integer dot products, one rounding in the affine step.
    check_cases!(gpu, conv_cases(37, 20), 1e-6, 1e-4);
}

gpu_test!(binary_gemm_matches_cpu, binary_gemm());
gpu_test!(binary_conv2d_matches_cpu, binary_conv2d());
