//! ONNX backend conformance: the test cases shipped in the `onnx` wheel, run natively and in
//! wasm, compared with their stored outputs, and summed up in a Markdown report.
//!
//! Stages (one step each):
//! 1. `tests/conformance/export_cases.py` writes every case to `target/conformance/cases/`
//!    as `case.json` plus raw tensors;
//! 2. `edgewise-runtime`'s `conformance` example runs them natively → `native.json`;
//! 3. `tests/conformance/run-wasm.mjs` runs them in Node through the npm package → `wasm.json`;
//! 4. `tests/conformance/run_onnxruntime.py` runs them through onnxruntime, the reference
//!    → `onnxruntime.json`;
//! 5. the report merges the three into `target/conformance/RESULTS.md` and checks it: native
//!    and wasm must pass the same cases, and no fewer than the committed
//!    `tests/conformance/RESULTS.md` records (`--write` replaces that file).

mod report;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cmd::{Cmd, NATIVE, Steps, cargo_artifact, root};
use crate::setup;
use report::{
    Outcome, PASSING, Side, against_reference, check, merge, passing_both, render, totals,
};

/// The committed report, relative to the repository root.
pub const COMMITTED: &str = "tests/conformance/RESULTS.md";
/// Where the cases, results and the fresh report go.
const WORK: &str = "target/conformance";

pub fn conformance(steps: &mut Steps, write: bool) -> Result<()> {
    let root = root();
    let work = root.join(WORK);
    let cases = work.join("cases");
    let (native, wasm) = (work.join("native.json"), work.join("wasm.json"));
    let ort = work.join("onnxruntime.json");
    steps.step("conformance: export the ONNX backend test cases", || {
        Cmd::new(setup::python().display().to_string())
            .args(["tests/conformance/export_cases.py", "--out"])
            .arg(cases.display().to_string())
            .run()
    })?;
    steps.step("conformance: run natively (edgewise-runtime)", || {
        let _ = std::fs::remove_file(&native);
        let runner = cargo_artifact(&NATIVE, "conformance", "example", "native runner")?;
        let lines = Cmd::new(runner.display().to_string())
            .arg(cases.display().to_string())
            .arg(native.display().to_string())
            .run_quiet("native cases")?;
        print_last(&lines);
        Ok(())
    })?;
    steps.step("conformance: run in wasm (Node, npm package)", || {
        let _ = std::fs::remove_file(&wasm);
        let lines = Cmd::new("node")
            .arg("tests/conformance/run-wasm.mjs")
            .arg(cases.display().to_string())
            .arg(wasm.display().to_string())
            .run_quiet("wasm cases")?;
        print_last(&lines);
        Ok(())
    })?;
    steps.step(
        "conformance: run in onnxruntime (Python), the reference",
        || {
            let _ = std::fs::remove_file(&ort);
            let lines = Cmd::new(setup::python().display().to_string())
                .arg("tests/conformance/run_onnxruntime.py")
                .arg(cases.display().to_string())
                .arg(ort.display().to_string())
                .run_quiet("onnxruntime cases")?;
            print_last(&lines);
            Ok(())
        },
    )?;
    steps.step("conformance: report", || report(&root, write))
}

fn print_last(lines: &[String]) {
    if let Some(last) = lines.iter().rev().find(|l| !l.trim().is_empty()) {
        println!("  {last}");
    }
}

/// What `index.json` of the exported cases says about their source.
#[derive(Debug, Default, Deserialize)]
struct Source {
    onnx_version: String,
}

/// The part of a case's `case.json` the report reads.
#[derive(Debug, Deserialize)]
struct Case {
    op: String,
}

/// Case id → the operator it tests, from the exported cases.
fn operators(cases: &Path) -> Result<BTreeMap<String, String>> {
    let mut ops = BTreeMap::new();
    for entry in std::fs::read_dir(cases).with_context(|| format!("reading {}", cases.display()))? {
        let dir = entry?.path();
        let Ok(text) = std::fs::read_to_string(dir.join("case.json")) else {
            continue;
        };
        let case: Case = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", dir.join("case.json").display()))?;
        if let Some(id) = dir.file_name() {
            ops.insert(id.to_string_lossy().into_owned(), case.op);
        }
    }
    Ok(ops)
}

/// The onnxruntime version the reference runner used, from the venv.
fn ort_version() -> String {
    Cmd::new(setup::python().display().to_string())
        .args(["-c", "import onnxruntime; print(onnxruntime.__version__)"])
        .output()
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "(unknown version)".into())
}

fn read_outcomes(path: &Path) -> Result<Vec<Outcome>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn report(root: &Path, write: bool) -> Result<()> {
    let work = root.join(WORK);
    let native = read_outcomes(&work.join("native.json"))?;
    let wasm = read_outcomes(&work.join("wasm.json"))?;
    let source: Source = std::fs::read_to_string(work.join("cases/index.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let version = if source.onnx_version.is_empty() {
        "(unknown version)".to_string()
    } else {
        source.onnx_version
    };
    let ort = read_outcomes(&work.join("onnxruntime.json"))?;
    let ops = operators(&work.join("cases"))?;
    let rows = merge(
        vec![(Side::Native, native), (Side::Wasm, wasm), (Side::Ort, ort)],
        &ops,
    );
    let text = render(&rows, &version, &ort_version());
    let fresh = work.join("RESULTS.md");
    std::fs::write(&fresh, &text)?;
    println!(
        "  {:<20} {:>6} {:>12} {:>10} {:>12}",
        "suite", "cases", "native pass", "wasm pass", "onnxruntime"
    );
    for (suite, c) in totals(&rows) {
        println!(
            "  {suite:<20} {:>6} {:>12} {:>10} {:>12}",
            c.cases, c.native, c.wasm, c.ort
        );
    }
    let (reference, matched) = against_reference(&rows);
    println!("  of the {reference} cases onnxruntime passes, wasm passes {matched}");
    println!(
        "  {}{} of {} (native and wasm); report: {}",
        PASSING,
        passing_both(&rows).len(),
        rows.len(),
        fresh.display()
    );
    let committed_path = root.join(COMMITTED);
    let committed = std::fs::read_to_string(&committed_path).ok();
    let verdict = check(&rows, committed.as_deref(), write);
    if write {
        if let Some(dir) = committed_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&committed_path, &text)?;
        println!("  wrote {COMMITTED}");
    }
    for note in &verdict.notes {
        println!("  note: {note}");
    }
    if !verdict.errors.is_empty() {
        bail!("{}", verdict.errors.join("\n"));
    }
    Ok(())
}
