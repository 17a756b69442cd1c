//! The GPU-against-CPU check shared by the native and browser test suites.

use edgewise_ops::CustomOp;
use edgewise_ops::testing::assert_close;
use tract_onnx::prelude::*;

use crate::context::{Gpu, GpuOptions};

/// Runs `op` with its CPU kernel and on `gpu` with the same inputs and compares every output
/// within `rtol`/`atol` (exactly for integer outputs). The error names the operator, the
/// input shapes and the first element that differs.
pub async fn check_against_cpu(
    gpu: &Gpu,
    op: &dyn CustomOp,
    inputs: &[Tensor],
    rtol: f32,
    atol: f32,
) -> Result<(), String> {
    let shapes: Vec<_> = inputs.iter().map(|t| t.shape().to_vec()).collect();
    let context = |e: String| format!("{} on {shapes:?}: {e}", op.name());
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let want = op
        .eval(&refs)
        .map_err(|e| context(format!("CPU kernel: {e:#}")))?;
    let on_gpu: Vec<_> = inputs
        .iter()
        .map(|t| gpu.upload(t))
        .collect::<Result<_, _>>()
        .map_err(|e| context(e.to_string()))?;
    let gpu_refs: Vec<_> = on_gpu.iter().collect();
    let outs = gpu
        .run(op, &gpu_refs)
        .await
        .map_err(|e| context(e.to_string()))?;
    if outs.len() != want.len() {
        return Err(context(format!(
            "{} GPU outputs, {} CPU outputs",
            outs.len(),
            want.len()
        )));
    }
    for (i, (g, w)) in outs.iter().zip(&want).enumerate() {
        let got = gpu.read(g).await.map_err(|e| context(e.to_string()))?;
        assert_close(&got, w, rtol, atol).map_err(|e| context(format!("output {i}: {e}")))?;
    }
    Ok(())
}

/// A device for tests; the error says why none could be had.
pub async fn test_gpu() -> Gpu {
    match Gpu::new(&GpuOptions::default()).await {
        Ok(gpu) => gpu,
        Err(e) => panic!(
            "GPU tests need an adapter (lavapipe natively: apt-get install mesa-vulkan-drivers; \
             Chromium: --enable-unsafe-webgpu): {e}"
        ),
    }
}
