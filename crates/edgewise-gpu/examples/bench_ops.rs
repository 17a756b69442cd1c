//! Times every operator family's CPU kernel against its GPU program, at three sizes each,
//! and prints one JSON object per workload (read by `cargo xtask bench`).
//!
//! GPU times cover dispatch and completion with inputs already on the device (the steady
//! state of a GPU stage); upload and read-back are timed separately. Each GPU result is
//! checked against the CPU kernel before it is timed.
//!
//! Usage: `bench_ops [--filter NAME] [--budget-ms N]`

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main()
}

/// The browser has its own harness; this example is native only.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::{Duration, Instant};

    use edgewise_gpu::testing::{BenchTiming, bench_error_json, bench_json};
    use edgewise_gpu::{Gpu, GpuOptions, block_on};
    use edgewise_ops::testing::{BenchCase, assert_close};
    use tract_onnx::prelude::*;

    /// Median of timed runs of `f`, running until `budget` is spent (at least 3, at most 50 runs).
    fn median_ms(budget: Duration, mut f: impl FnMut()) -> (f64, usize) {
        f();
        let start = Instant::now();
        let mut times = Vec::new();
        while times.len() < 3 || (start.elapsed() < budget && times.len() < 50) {
            let t = Instant::now();
            f();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        (times[times.len() / 2], times.len())
    }

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let arg = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1).cloned())
        };
        let filter = arg("--filter").unwrap_or_default();
        let budget = Duration::from_millis(
            arg("--budget-ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1500),
        );
        let gpu = match block_on(Gpu::new(&GpuOptions {
            high_performance: true,
            ..Default::default()
        })) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("bench_ops: {e}");
                std::process::exit(2);
            }
        };
        eprintln!("adapter: {}", gpu.describe());
        for case in edgewise_ops::ops::bench_cases() {
            if !case.name.contains(&filter) {
                continue;
            }
            match bench(&gpu, &case, budget) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("{}: {e}", case.name);
                    println!("{}", bench_error_json(&case.name, &gpu, &e));
                }
            }
        }
    }

    fn bench(gpu: &Gpu, case: &BenchCase, budget: Duration) -> Result<String, String> {
        let refs: Vec<&Tensor> = case.inputs.iter().collect();
        let want = case.op.eval(&refs).map_err(|e| format!("CPU: {e:#}"))?;
        let (cpu_ms, _) = median_ms(budget, || {
            let _ = case.op.eval(&refs);
        });
        let t = Instant::now();
        let on_gpu: Vec<_> = case
            .inputs
            .iter()
            .map(|x| gpu.upload(x))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        gpu.wait_idle();
        let upload_ms = t.elapsed().as_secs_f64() * 1e3;
        let gpu_refs: Vec<_> = on_gpu.iter().collect();
        let outs = block_on(gpu.run(&*case.op, &gpu_refs)).map_err(|e| e.to_string())?;
        let t = Instant::now();
        let got = block_on(gpu.read(&outs[0])).map_err(|e| e.to_string())?;
        let read_ms = t.elapsed().as_secs_f64() * 1e3;
        // Loose: these are large workloads; the kernel tests hold the tight tolerances.
        assert_close(&got, &want[0], 1e-2, 1e-2).map_err(|e| format!("GPU result differs: {e}"))?;
        let mut failed = None;
        let (gpu_ms, _) = median_ms(budget, || match block_on(gpu.run(&*case.op, &gpu_refs)) {
            Ok(_) => gpu.wait_idle(),
            Err(e) => failed = Some(e.to_string()),
        });
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(bench_json(
            case,
            gpu,
            BenchTiming {
                cpu_ms,
                gpu_ms,
                upload_ms,
                read_ms,
            },
        ))
    }
}
