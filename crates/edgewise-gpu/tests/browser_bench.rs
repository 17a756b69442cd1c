//! The operator bench in the browser: every family's CPU kernel (compiled to wasm) against
//! its GPU program on WebGPU, three sizes each. Prints one JSON line per workload to the
//! console, which `cargo xtask bench --ops` collects. GPU time is dispatch until the queue
//! reports the work done (`onSubmittedWorkDone`), with inputs already on the device.
#![cfg(target_arch = "wasm32")]

use edgewise_gpu::Gpu;
use edgewise_gpu::testing::{BenchTiming, bench_error_json, bench_json, test_gpu};
use edgewise_ops::testing::{BenchCase, assert_close};
use tract_onnx::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn now_ms() -> f64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let now = js_sys::Reflect::get(&perf, &"now".into()).unwrap();
    let f: js_sys::Function = now.into();
    f.call0(&perf).unwrap().as_f64().unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

const BUDGET_MS: f64 = 1000.0;

async fn time_gpu(
    gpu: &Gpu,
    case: &BenchCase,
    inputs: &[&edgewise_gpu::GpuTensor],
) -> Result<f64, String> {
    let mut times = Vec::new();
    let start = now_ms();
    while times.len() < 3 || (now_ms() - start < BUDGET_MS && times.len() < 30) {
        let t = now_ms();
        gpu.run(&*case.op, inputs)
            .await
            .map_err(|e| e.to_string())?;
        gpu.finish().await.map_err(|e| e.to_string())?;
        times.push(now_ms() - t);
    }
    Ok(median(times))
}

async fn bench(gpu: &Gpu, case: &BenchCase) -> Result<String, String> {
    let refs: Vec<&Tensor> = case.inputs.iter().collect();
    let want = case.op.eval(&refs).map_err(|e| format!("{e:#}"))?;
    let mut times = Vec::new();
    let start = now_ms();
    while times.len() < 3 || (now_ms() - start < BUDGET_MS && times.len() < 30) {
        let t = now_ms();
        let _ = case.op.eval(&refs);
        times.push(now_ms() - t);
    }
    let cpu_ms = median(times);
    let on_gpu: Vec<_> = case
        .inputs
        .iter()
        .map(|x| gpu.upload(x))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let gpu_refs: Vec<_> = on_gpu.iter().collect();
    let outs = gpu
        .run(&*case.op, &gpu_refs)
        .await
        .map_err(|e| e.to_string())?;
    let t = now_ms();
    let got = gpu.read(&outs[0]).await.map_err(|e| e.to_string())?;
    let read_ms = now_ms() - t;
    assert_close(&got, &want[0], 1e-2, 1e-2).map_err(|e| format!("GPU result differs: {e}"))?;
    let gpu_ms = time_gpu(gpu, case, &gpu_refs).await?;
    Ok(bench_json(
        case,
        gpu,
        BenchTiming {
            cpu_ms,
            gpu_ms,
            upload_ms: 0.0,
            read_ms,
        },
    ))
}

#[wasm_bindgen_test]
async fn operator_bench() {
    let gpu = test_gpu().await;
    for case in edgewise_ops::ops::bench_cases() {
        let line = match bench(&gpu, &case).await {
            Ok(line) => line,
            Err(e) => bench_error_json(&case.name, &gpu, &e),
        };
        web_sys_log(&line);
    }
}

fn web_sys_log(line: &str) {
    let console = js_sys::Reflect::get(&js_sys::global(), &"console".into()).unwrap();
    let log: js_sys::Function = js_sys::Reflect::get(&console, &"log".into())
        .unwrap()
        .into();
    let _ = log.call1(&console, &JsValue::from_str(&format!("BENCH {line}")));
}
