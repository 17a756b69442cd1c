//! The custom-operator benchmark: every family's CPU kernel against its GPU program, three
//! sizes each, natively through wgpu. Results go to `bench/ops-<host>.jsonl` (one file per
//! host the bench ran on) and are rendered into `bench/ops.md`, which `bench/RESULTS.md`
//! embeds.

use std::fmt::Write as _;
use std::fs;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::cmd::{Cmd, NATIVE, cargo_artifact, root};

/// One workload's measurement, as `bench_ops` prints it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct OpResult {
    pub name: String,
    #[serde(default)]
    pub op: String,
    pub adapter: String,
    #[serde(default)]
    pub software: bool,
    #[serde(default)]
    pub cpu_ms: f64,
    #[serde(default)]
    pub gpu_ms: f64,
    #[serde(default)]
    pub upload_ms: f64,
    #[serde(default)]
    pub read_ms: f64,
    #[serde(default)]
    pub flops: f64,
    #[serde(default)]
    pub bytes: f64,
    #[serde(default)]
    pub cpu_gflops: f64,
    #[serde(default)]
    pub gpu_gflops: f64,
    #[serde(default)]
    pub cpu_gbps: f64,
    #[serde(default)]
    pub gpu_gbps: f64,
    #[serde(default)]
    pub error: Option<String>,
}

/// Peak FP32 rate (GFLOP/s) and memory bandwidth (GB/s) of GPUs we can name, from their
/// vendors' data sheets, to report the fraction of peak reached.
fn peak(adapter: &str) -> Option<(f64, f64)> {
    let a = adapter.to_lowercase();
    [
        ("h200", (67_000.0, 4_800.0)),
        ("h100", (67_000.0, 3_350.0)),
        ("a100", (19_500.0, 2_039.0)),
        ("l4", (30_300.0, 300.0)),
    ]
    .into_iter()
    .find(|(k, _)| a.contains(k))
    .map(|(_, p)| p)
}

/// Runs the native operator bench and writes `bench/ops-<label>.jsonl`.
pub fn run_native(label: &str, budget_ms: u64) -> Result<()> {
    // Release: the CPU kernels are part of the comparison and must be optimized.
    let exe = cargo_artifact(
        &[&NATIVE[..], &["--release"]].concat(),
        "bench_ops",
        "example",
        "operator bench",
    )?;
    let lines = Cmd::new(exe.display().to_string())
        .args(["--budget-ms", &budget_ms.to_string()])
        .run_quiet("timing CPU kernels and GPU programs")?;
    let json: Vec<&String> = lines.iter().filter(|l| l.starts_with('{')).collect();
    let path = root().join(format!("bench/ops-{label}.jsonl"));
    let body: String = json.iter().map(|l| format!("{l}\n")).collect();
    fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
    println!("  wrote {} ({} workloads)", path.display(), json.len());
    Ok(())
}

/// Runs the operator bench in headless Chromium (CPU kernels in wasm, GPU programs on its
/// WebGPU) and writes `bench/ops-chromium.jsonl`.
pub fn run_browser() -> Result<()> {
    let lines = crate::test::wasm_test_cmd(
        &["browser_bench"],
        true,
        &[
            "--features",
            "edgewise-gpu/browser-bench",
            "--",
            "--nocapture",
        ],
    )?
    // SwiftShader runs the large workloads slowly: give the page time.
    .env("WASM_BINDGEN_TEST_TIMEOUT", "1800")
    .run_quiet("timing in headless Chromium")?;
    let json: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("BENCH "))
        .collect();
    anyhow::ensure!(!json.is_empty(), "the browser bench printed no results");
    let path = root().join("bench/ops-chromium.jsonl");
    let body: String = json.iter().map(|l| format!("{l}\n")).collect();
    fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
    println!("  wrote {} ({} workloads)", path.display(), json.len());
    Ok(())
}

/// Reads every `bench/ops-*.jsonl` and writes `bench/ops.md`.
pub fn render_all() -> Result<String> {
    let mut files: Vec<_> = fs::read_dir(root().join("bench"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ops-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    let mut sets = Vec::new();
    for f in files {
        let host = f
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("ops-")
            .trim_start_matches("ops-")
            .to_string();
        let results =
            parse(&fs::read_to_string(&f)?).with_context(|| format!("parsing {}", f.display()))?;
        sets.push((host, results));
    }
    let md = render(&sets);
    fs::write(root().join("bench/ops.md"), &md)?;
    Ok(md)
}

/// Parses JSON lines, skipping blank ones.
pub fn parse(text: &str) -> Result<Vec<OpResult>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("bad line: {l}")))
        .collect()
}

fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// Markdown tables, one per host, with speedups and (on known GPUs) the fraction of peak.
pub fn render(sets: &[(String, Vec<OpResult>)]) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "Each row: the operator's CPU reference kernel and its GPU program on the same inputs \
         (medians; GPU time is dispatch to completion with inputs already on the device, as \
         inside a GPU stage). GFLOP/s and GB/s use the work each workload declares \
         (`bench_cases()` in each operator module). Generated by `cargo xtask bench --ops`.\n"
    );
    for (host, results) in sets {
        let adapter = results.first().map(|r| r.adapter.as_str()).unwrap_or("?");
        let software = results.iter().any(|r| r.software);
        let _ = writeln!(w, "### {host}: {adapter}\n");
        if software {
            let _ = writeln!(
                w,
                "This adapter is a CPU emulation of a GPU: its times prove the path works, not \
                 how fast a GPU is.\n"
            );
        }
        if host == "chromium" {
            let _ = writeln!(
                w,
                "In the browser the CPU kernels run as wasm (simd128), and GPU ms is dispatch \
                 until the queue reports the work done (`onSubmittedWorkDone`).\n"
            );
        }
        let pk = peak(adapter);
        let _ = write!(
            w,
            "| workload | CPU ms | GPU ms | GPU speedup | CPU GFLOP/s | GPU GFLOP/s | GPU GB/s | upload ms | read-back ms |"
        );
        if pk.is_some() {
            let _ = write!(w, " % FP32 peak | % bandwidth |");
        }
        let _ = writeln!(w);
        let cols = if pk.is_some() { 11 } else { 9 };
        let _ = writeln!(w, "|{}", " --- |".repeat(cols));
        for r in results {
            if let Some(e) = &r.error {
                let _ = writeln!(w, "| {} | failed: {} |{}", r.name, e, " |".repeat(cols - 2));
                continue;
            }
            let _ = write!(
                w,
                "| {} | {:.3} | {:.3} | {:.2}× | {} | {} | {} | {:.2} | {:.2} |",
                r.name,
                r.cpu_ms,
                r.gpu_ms,
                r.cpu_ms / r.gpu_ms,
                rate(r.cpu_gflops),
                rate(r.gpu_gflops),
                rate(r.gpu_gbps),
                r.upload_ms,
                r.read_ms
            );
            if let Some((flops, bw)) = pk {
                let _ = write!(
                    w,
                    " {:.1}% | {:.1}% |",
                    100.0 * r.gpu_gflops / flops,
                    100.0 * r.gpu_gbps / bw
                );
            }
            let _ = writeln!(w);
        }
        let _ = writeln!(w);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"name":"BorderRound small [1, 16, 32, 32]","op":"BorderRound","adapter":"llvmpipe (Vulkan, Cpu)","software":true,"cpu_ms":0.5,"gpu_ms":0.25,"upload_ms":0.1,"read_ms":0.2,"cpu_runs":9,"gpu_runs":9,"flops":1000,"bytes":2000,"cpu_gflops":0.002,"gpu_gflops":0.004,"cpu_gbps":0.004,"gpu_gbps":0.008}"#;

    #[test]
    fn parses_and_renders_speedups_and_errors() {
        let mut rs = parse(&format!("{LINE}\n\n")).unwrap();
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].gpu_ms, 0.25);
        rs.push(OpResult {
            error: Some("no program".into()),
            ..rs[0].clone()
        });
        let md = render(&[("native".into(), rs)]);
        assert!(md.contains("### native: llvmpipe (Vulkan, Cpu)"), "{md}");
        assert!(md.contains("CPU emulation"));
        assert!(md.contains("| 2.00× |"), "{md}");
        assert!(md.contains("failed: no program"));
        assert!(!md.contains("FP32 peak"), "no peak for an unknown adapter");
    }

    #[test]
    fn known_gpus_get_a_fraction_of_peak() {
        let mut r = parse(LINE).unwrap();
        r[0].adapter = "NVIDIA H100 80GB HBM3 (Vulkan, DiscreteGpu)".into();
        r[0].software = false;
        r[0].gpu_gflops = 6700.0;
        let md = render(&[("h100".into(), r)]);
        assert!(md.contains("10.0% |"), "{md}");
    }
}
