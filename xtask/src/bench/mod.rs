//! `cargo xtask bench`: edgewise against onnxruntime-web in one Node process.
//!
//! Builds the package, runs `tests/bench/bench.mjs` (which writes its measurements to
//! `target/bench/results.json`) and renders them into `bench/RESULTS.md`. The sections
//! `## Speed and size levers` and `## Profile` of that file are taken from `bench/levers.md` and
//! `bench/profile.md`, so that regenerating the results keeps them.

mod ops;
mod render;
mod render_browser;
mod render_threads;
mod results;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, root};
use crate::{build, serve, setup, test::CHROMIUM_ARGS};
use render::{Notes, render};
use results::{BrowserResults, Results};

/// The standing goal: edgewise's latency at most this fraction of onnxruntime-web's.
pub const LATENCY_GOAL: f64 = 0.8;

const RESULTS_JSON: &str = "target/bench/results.json";
const RESULTS_MD: &str = "bench/RESULTS.md";
const BROWSER_JSON: &str = "target/bench/browser.json";

pub fn bench(runs: usize, only_ops: bool, op_budget_ms: u64) -> Result<()> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    setup::setup(setup::Need::Everything)?;
    ops::run_native("native", op_budget_ms)?;
    ops::run_browser()?;
    ops::render_all()?;
    if only_ops {
        return rerender();
    }
    build::build(&Default::default())?;
    // The third-party collection's inputs (the bench times its first case of each model).
    Cmd::new(setup::python().display().to_string())
        .args(["tests/models/collection.py", "cases"])
        .run()?;
    let json = root().join(RESULTS_JSON);
    let _ = fs::remove_file(&json);
    let ran = Cmd::new("node")
        .args(["tests/bench/bench.mjs", "--runs", &runs.to_string()])
        .args(["--out", RESULTS_JSON])
        .run();
    // A disagreement between the runtimes still leaves results worth rendering.
    if !json.exists() {
        return ran;
    }
    // Then each thread count above one in a process of its own (both runtimes fix their
    // thread count at their first session): 2, and all cores where there are more.
    let mut ran_threads = Ok(());
    for n in thread_counts() {
        let out = threads_json(n);
        let _ = fs::remove_file(root().join(&out));
        let r = Cmd::new("node")
            .args(["tests/bench/bench.mjs", "--runs", &runs.to_string()])
            .args([
                "--threads",
                &n.to_string(),
                "--no-memory",
                "--no-check",
                "--no-batch",
            ])
            .args(["--out", &out])
            .run();
        if ran_threads.is_ok() {
            ran_threads = r;
        }
    }
    // The same runtimes in headless Chromium, on the test server.
    let _ = fs::remove_file(root().join(BROWSER_JSON));
    let (base, _server) = serve::start(0)?;
    let ran_browser = Cmd::new("node")
        .args([
            "tests/bench/browser.mjs",
            "--runs",
            &runs.min(10).to_string(),
        ])
        .args(["--out", BROWSER_JSON])
        .env("EDGEWISE_BASE_URL", &base)
        .env("EDGEWISE_CHROMIUM_ARGS", CHROMIUM_ARGS.join(" "))
        .run();
    write_results()?;
    ran.and(ran_threads).and(ran_browser)
}

/// The thread counts benched besides one: 2, and every core where there are more than two.
fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![2];
    if cores > 2 {
        counts.push(cores);
    }
    counts
}

fn threads_json(n: usize) -> String {
    format!("target/bench/results-t{n}.json")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_str(
        &fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))
}

/// Renders `bench/ops.md` and `bench/RESULTS.md` from the saved results, measuring nothing.
pub fn render_saved() -> Result<()> {
    ops::render_all()?;
    rerender()
}

/// Renders `bench/RESULTS.md` again from the last model results and the operator tables.
fn rerender() -> Result<()> {
    if root().join(RESULTS_JSON).exists() {
        write_results()
    } else {
        println!("  no model results in {RESULTS_JSON} yet: bench/ops.md updated only");
        Ok(())
    }
}

fn write_results() -> Result<()> {
    let results = read_json(&root().join(RESULTS_JSON))?;
    // The multi-threaded runs that exist (a run that failed before writing leaves none).
    let mut threads = Vec::new();
    for n in thread_counts() {
        let path = root().join(threads_json(n));
        if path.exists() {
            threads.push(read_json(&path)?);
        }
    }
    let browser_json = root().join(BROWSER_JSON);
    let browser: Option<BrowserResults> = if browser_json.exists() {
        Some(read_json(&browser_json)?)
    } else {
        None
    };
    let machine = Machine::probe(&results);
    let dir = root().join("bench");
    fs::create_dir_all(&dir)?;
    let notes = Notes {
        ops: read_optional(&dir.join("ops.md"))?,
        levers: read_optional(&dir.join("levers.md"))?,
        profile: read_optional(&dir.join("profile.md"))?,
    };
    let md = render(&results, &threads, browser.as_ref(), &machine, &notes);
    fs::write(root().join(RESULTS_MD), md)?;
    println!("  wrote {RESULTS_MD}");
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

// -------------------------------------------------------------------------------------------
// The machine.

pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub node: String,
    pub edgewise: String,
    pub ort: String,
}

impl Machine {
    fn probe(results: &Results) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu, cores) = parse_cpuinfo(&cpuinfo);
        Machine {
            cpu: cpu.unwrap_or_else(|| results.meta.cpu.clone()),
            cores: if cores > 0 { cores } else { results.meta.cores },
            // The Node that ran the bench (its process.version).
            node: results.meta.node.clone(),
            edgewise: results
                .meta
                .edgewise
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
            ort: results.meta.ort.clone(),
        }
    }
}

/// The CPU model and the number of logical processors listed in `/proc/cpuinfo`.
pub fn parse_cpuinfo(text: &str) -> (Option<String>, usize) {
    let field = |line: &str, name: &str| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_string())
    };
    let model = text.lines().find_map(|l| field(l, "model name"));
    let cores = text
        .lines()
        .filter(|l| field(l, "processor").is_some())
        .count();
    (model, cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: sse\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(parse_cpuinfo(text), (Some("AMD EPYC 7B13".to_string()), 2));
        assert_eq!(parse_cpuinfo(""), (None, 0));
    }
}
