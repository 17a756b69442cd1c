//! Each GPU fault is reported as an error of its own kind, never a panic.

use edgewise_gpu::testing::test_gpu;
use edgewise_gpu::{Gpu, GpuError, GpuOptions};
use edgewise_ops::ops::border::BorderRound;
use edgewise_ops::program::{GpuOutput, GpuProgram, Pass, Slot};
use edgewise_ops::testing::Rng;
use tract_onnx::prelude::*;

const OP: BorderRound = BorderRound {
    axis: 0,
    qmin: -8,
    qmax: 7,
};

async fn broken_shader_is_a_compile_error() {
    let gpu = test_gpu().await;
    let program = GpuProgram {
        outputs: vec![GpuOutput {
            dt: DatumType::F32,
            shape: vec![4],
        }],
        scratch: vec![],
        passes: vec![Pass {
            label: "broken",
            shader: "@compute @workgroup_size(1) fn main() { let x: f32 = undefined_name; }",
            entry: "main",
            workgroups: [1, 1, 1],
            params: vec![],
            bindings: vec![Slot::Output(0)],
        }],
    };
    let err = gpu.execute(&program, &[]).await.unwrap_err();
    assert_eq!(err.kind(), "compile", "{err}");
    assert!(err.to_string().contains("broken"), "{err}");
}

async fn buffer_over_the_limit_is_too_large() {
    let gpu = Gpu::new(&GpuOptions {
        max_buffer_bytes: 1024,
        ..Default::default()
    })
    .await
    .expect("an adapter");
    let mut rng = Rng::new(1);
    let err = gpu.upload(&rng.tensor_f32(&[1000], 0.0, 1.0)).unwrap_err();
    assert!(
        matches!(
            err,
            GpuError::TooLarge {
                bytes: 4000,
                limit: 1024,
                ..
            }
        ),
        "{err}"
    );
    let small = gpu.upload(&rng.tensor_f32(&[100], 0.0, 1.0)).unwrap();
    assert_eq!(gpu.read(&small).await.unwrap().shape(), &[100]);
}

async fn lost_device_is_reported() {
    let gpu = test_gpu().await;
    let mut rng = Rng::new(2);
    let x = gpu.upload(&rng.tensor_f32(&[16], -1.0, 1.0)).unwrap();
    let s = gpu.upload(&rng.tensor_f32(&[1], 0.1, 0.2)).unwrap();
    let b = gpu.upload(&rng.tensor_f32(&[1], 0.4, 0.6)).unwrap();
    gpu.run(&OP, &[&x, &s, &b])
        .await
        .expect("runs before the loss");
    gpu.lose_device();
    let err = gpu.run(&OP, &[&x, &s, &b]).await.unwrap_err();
    assert_eq!(err.kind(), "device-lost", "{err}");
    assert_eq!(gpu.read(&x).await.unwrap_err().kind(), "device-lost");
}

async fn wrong_inputs_are_a_program_error() {
    let gpu = test_gpu().await;
    let x = gpu
        .upload(&Tensor::from_shape(&[2, 3], &[0i64; 6]).unwrap())
        .unwrap();
    let err = gpu.run(&OP, &[&x]).await.unwrap_err();
    assert_eq!(err.kind(), "program", "{err}");
    assert!(err.to_string().contains("BorderRound"), "{err}");
}

gpu_test!(
    a_broken_shader_is_a_compile_error,
    broken_shader_is_a_compile_error()
);
gpu_test!(
    a_buffer_over_the_limit_is_refused,
    buffer_over_the_limit_is_too_large()
);
gpu_test!(a_lost_device_is_reported, lost_device_is_reported());
gpu_test!(
    wrong_inputs_are_a_program_error_not_a_panic,
    wrong_inputs_are_a_program_error()
);
