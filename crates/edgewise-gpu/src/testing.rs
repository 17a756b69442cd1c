//! Shared by the native and browser test suites and benches: the GPU-against-CPU check, a
//! test device, and the bench result format.

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

/// Medians of one operator-bench workload, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct BenchTiming {
    /// The CPU kernel.
    pub cpu_ms: f64,
    /// The GPU program (what "done" means depends on the host; see the bench harnesses).
    pub gpu_ms: f64,
    /// Putting the inputs on the device.
    pub upload_ms: f64,
    /// Reading the first output back.
    pub read_ms: f64,
}

/// One bench result as a JSON line (read by `cargo xtask bench --ops`), with the rates the
/// workload's declared work implies.
pub fn bench_json(case: &edgewise_ops::testing::BenchCase, gpu: &Gpu, t: BenchTiming) -> String {
    let rate = |ms: f64, amount: f64| amount / (ms * 1e-3) / 1e9;
    format!(
        concat!(
            "{{\"name\":{:?},\"op\":{:?},\"adapter\":{:?},\"software\":{},",
            "\"cpu_ms\":{:.4},\"gpu_ms\":{:.4},\"upload_ms\":{:.3},\"read_ms\":{:.3},",
            "\"flops\":{},\"bytes\":{},\"cpu_gflops\":{:.3},\"gpu_gflops\":{:.3},",
            "\"cpu_gbps\":{:.3},\"gpu_gbps\":{:.3}}}"
        ),
        case.name,
        case.op.name(),
        gpu.describe(),
        gpu.is_software(),
        t.cpu_ms,
        t.gpu_ms,
        t.upload_ms,
        t.read_ms,
        case.flops,
        case.bytes,
        rate(t.cpu_ms, case.flops),
        rate(t.gpu_ms, case.flops),
        rate(t.cpu_ms, case.bytes),
        rate(t.gpu_ms, case.bytes),
    )
}

/// A failed bench workload as a JSON line.
pub fn bench_error_json(name: &str, gpu: &Gpu, error: &str) -> String {
    format!(
        "{{\"name\":{name:?},\"adapter\":{:?},\"error\":{error:?}}}",
        gpu.describe()
    )
}
