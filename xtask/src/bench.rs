//! `cargo xtask bench`: edgewise against onnxruntime-web in one Node process.
//!
//! Builds the package, runs `tests/bench/bench.mjs` (which writes its measurements to
//! `target/bench/results.json`) and renders them into `bench/RESULTS.md`. The sections
//! `## Size levers` and `## Profile` of that file are taken from `bench/levers.md` and
//! `bench/profile.md`, so that regenerating the results keeps them.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cmd::{Cmd, root};
use crate::{build, setup};

/// The standing goal: edgewise's latency at most this fraction of onnxruntime-web's.
pub const LATENCY_GOAL: f64 = 0.8;

const RESULTS_JSON: &str = "target/bench/results.json";
const RESULTS_MD: &str = "bench/RESULTS.md";

pub fn bench(runs: usize) -> Result<()> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    setup::setup(setup::Need::Everything)?;
    build::build(&Default::default())?;
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
    let results: Results = serde_json::from_str(
        &fs::read_to_string(&json).with_context(|| format!("reading {}", json.display()))?,
    )
    .with_context(|| format!("parsing {}", json.display()))?;
    let machine = Machine::probe(&results);
    let dir = root().join("bench");
    fs::create_dir_all(&dir)?;
    let notes = Notes {
        levers: read_optional(&dir.join("levers.md"))?,
        profile: read_optional(&dir.join("profile.md"))?,
    };
    let md = render(&results, &machine, &notes);
    fs::write(root().join(RESULTS_MD), md)?;
    println!("  wrote {RESULTS_MD}");
    ran
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

// -------------------------------------------------------------------------------------------
// The JSON that bench.mjs writes (only the fields rendered here).

#[derive(Deserialize, Debug, Clone)]
pub struct Results {
    pub meta: Meta,
    pub startup: PerRuntime<f64>,
    pub models: Vec<ModelResult>,
    pub batch: Option<Batch>,
    pub memory: Memory,
    pub sizes: Sizes,
    #[serde(default)]
    pub failures: Vec<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Meta {
    pub date: String,
    pub node: String,
    pub cpu: String,
    pub cores: usize,
    #[serde(rename = "loadAverage")]
    pub load_average: Option<LoadAverage>,
    pub edgewise: Option<String>,
    pub ort: String,
    #[serde(rename = "ortNumThreads")]
    pub ort_num_threads: u32,
    pub runs: usize,
    pub warmup: usize,
    pub input: String,
    #[serde(rename = "relTolerance")]
    pub rel_tolerance: f64,
}

/// The machine's 1-minute load average when the timed runs started and when they ended.
#[derive(Deserialize, Debug, Clone, Copy)]
pub struct LoadAverage {
    pub start: f64,
    pub end: f64,
}

#[derive(Deserialize, Debug, Clone, Copy, Default)]
pub struct PerRuntime<T> {
    pub edgewise: T,
    pub ort: T,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Cold {
    pub create: f64,
    #[serde(rename = "firstRun")]
    pub first_run: f64,
    pub total: f64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Timing {
    pub cold: Option<Cold>,
    pub median: f64,
    pub p95: f64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Agreement {
    #[serde(rename = "maxAbs")]
    pub max_abs: Option<f64>,
    pub rel: Option<f64>,
    #[serde(rename = "refMax")]
    pub ref_max: Option<f64>,
    #[serde(default)]
    pub uniform: bool,
    #[serde(rename = "top1Agree")]
    pub top1_agree: Option<bool>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ModelResult {
    pub name: String,
    pub edgewise: Timing,
    pub ort: Timing,
    pub agreement: Agreement,
    pub check: Option<Agreement>,
}

impl ModelResult {
    /// edgewise's median over onnxruntime-web's.
    pub fn ratio(&self) -> f64 {
        self.edgewise.median / self.ort.median
    }
}

#[derive(Deserialize, Debug, Clone)]
pub struct Batch {
    pub model: String,
    #[serde(rename = "inputShape")]
    pub input_shape: Vec<usize>,
    pub runs: usize,
    pub edgewise: Timing,
    pub ort: Timing,
    pub agreement: Agreement,
}

#[derive(Deserialize, Debug, Clone)]
pub struct MemoryProbe {
    pub peak: PerRuntime<u64>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Memory {
    #[serde(rename = "afterStart")]
    pub after_start: PerRuntime<u64>,
    #[serde(rename = "highWater")]
    pub high_water: PerRuntime<u64>,
    #[serde(rename = "perModel", default)]
    pub per_model: std::collections::BTreeMap<String, MemoryProbe>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct FileSize {
    pub file: String,
    pub raw: u64,
    pub gzip: u64,
}

#[derive(Deserialize, Debug, Clone, Copy)]
pub struct Total {
    pub raw: u64,
    pub gzip: u64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct PackageSize {
    pub wasm: FileSize,
    pub js: Vec<FileSize>,
    #[serde(rename = "jsTotal")]
    pub js_total: Total,
    pub total: Total,
    #[serde(rename = "wasmVerifiedLoaded", default)]
    pub wasm_verified_loaded: bool,
    #[serde(rename = "nodeEntry")]
    pub node_entry: Option<FileSize>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Sizes {
    pub edgewise: PackageSize,
    pub ort: PackageSize,
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

// -------------------------------------------------------------------------------------------
// Rendering.

/// Hand-written sections kept across regenerations.
#[derive(Default)]
pub struct Notes {
    pub levers: Option<String>,
    pub profile: Option<String>,
}

/// exp(mean(ln x)); `None` for an empty list or a non-positive value.
pub fn geometric_mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|&x| x.is_nan() || x <= 0.0) {
        return None;
    }
    Some((xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
}

/// Milliseconds with about three significant digits: 1234, 123, 12.3, 1.23.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

pub fn fmt_ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// Bytes as decimal megabytes (download sizes).
pub fn fmt_mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// Bytes as kilobytes (small files).
pub fn fmt_kb(bytes: u64) -> String {
    format!("{:.1} kB", bytes as f64 / 1e3)
}

/// Bytes as binary megabytes (wasm memory, which grows in 64 KiB pages).
pub fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// A difference in scientific notation, `0` when exact, `∞` when not finite or missing.
pub fn fmt_diff(x: Option<f64>) -> String {
    match x {
        Some(0.0) => "0".into(),
        Some(x) if x.is_finite() => format!("{x:.1e}"),
        _ => "∞".into(),
    }
}

/// A hand-written note placed under a generated `## ...` section: its own leading title is
/// dropped (the section names it) and its headings are shifted so that the shallowest
/// becomes `###`. Lines inside code fences are left alone.
pub fn embed_note(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    if lines.first().is_some_and(|l| heading_level(l).is_some()) {
        lines.remove(0);
        while lines.first().is_some_and(|l| l.trim().is_empty()) {
            lines.remove(0);
        }
    }
    let mut in_fence = false;
    let mut min_level = usize::MAX;
    for l in &lines {
        if l.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && let Some(n) = heading_level(l) {
            min_level = min_level.min(n);
        }
    }
    let shift = if min_level == usize::MAX {
        0
    } else {
        3usize.saturating_sub(min_level)
    };
    let mut out = String::new();
    in_fence = false;
    for l in &lines {
        if l.trim_start().starts_with("```") {
            in_fence = !in_fence;
            out.push_str(l);
        } else if !in_fence && shift > 0 && heading_level(l).is_some() {
            out.push_str(&"#".repeat(shift));
            out.push_str(l);
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

/// The level of a Markdown ATX heading (`## x` is 2).
fn heading_level(line: &str) -> Option<usize> {
    let n = line.chars().take_while(|&c| c == '#').count();
    (n > 0 && n <= 6 && line[n..].starts_with(' ')).then_some(n)
}

fn agreement_cell(a: &Agreement) -> String {
    let mut s = format!("{} (rel {})", fmt_diff(a.max_abs), fmt_diff(a.rel));
    if a.uniform {
        if let Some(v) = a.ref_max {
            let _ = write!(s, ", all = {v:.4}");
        }
    } else if let Some(t) = a.top1_agree {
        s.push_str(if t { ", top-1 same" } else { ", top-1 differs" });
    }
    s
}

fn cold_ms(t: &Timing) -> String {
    t.cold.as_ref().map_or("–".into(), |c| fmt_ms(c.total))
}

pub fn render(r: &Results, m: &Machine, notes: &Notes) -> String {
    let mut s = String::new();
    let ratios: Vec<f64> = r.models.iter().map(ModelResult::ratio).collect();
    let geo = geometric_mean(&ratios);
    let size_ratio = r.sizes.edgewise.total.gzip as f64 / r.sizes.ort.total.gzip as f64;
    let w = &mut s;

    let _ = writeln!(w, "# edgewise against onnxruntime-web\n");
    let _ = writeln!(
        w,
        "Generated by `cargo xtask bench` ({} UTC). Do not edit by hand: the sections *Size \
         levers* and *Profile* come from `bench/levers.md` and `bench/profile.md`.\n",
        r.meta.date.replace('T', " ").trim_end_matches('Z')
    );

    // Goal.
    let _ = writeln!(w, "## Goal and where we stand\n");
    let _ = writeln!(
        w,
        "The standing goal: edgewise's warm latency at most **{LATENCY_GOAL}×** \
         onnxruntime-web's (median per model, geometric mean over the models), with a \
         **smaller download** (wasm + JS, gzip).\n"
    );
    match geo {
        Some(g) => {
            let _ = writeln!(
                w,
                "- Latency: geometric mean of edgewise/ORT = **{}** over {} models (goal ≤ {}): {}.",
                fmt_ratio(g),
                ratios.len(),
                fmt_ratio(LATENCY_GOAL),
                if g <= LATENCY_GOAL { "met" } else { "not met" }
            );
            let best = r
                .models
                .iter()
                .min_by(|a, b| a.ratio().total_cmp(&b.ratio()));
            let worst = r
                .models
                .iter()
                .max_by(|a, b| a.ratio().total_cmp(&b.ratio()));
            if let (Some(b), Some(x)) = (best, worst) {
                let _ = writeln!(
                    w,
                    "  Best {} ({}), worst {} ({}).",
                    b.name,
                    fmt_ratio(b.ratio()),
                    x.name,
                    fmt_ratio(x.ratio())
                );
            }
        }
        None => {
            let _ = writeln!(w, "- Latency: no models measured.");
        }
    }
    let _ = writeln!(
        w,
        "- Download: edgewise {} gzip vs onnxruntime-web {} gzip = **{}**: {}.",
        fmt_mb(r.sizes.edgewise.total.gzip),
        fmt_mb(r.sizes.ort.total.gzip),
        fmt_ratio(size_ratio),
        if size_ratio < 1.0 {
            "smaller"
        } else {
            "not smaller"
        }
    );
    if r.failures.is_empty() {
        let _ = writeln!(
            w,
            "- Outputs: the runtimes agree within {} relative on every model.\n",
            r.meta.rel_tolerance
        );
    } else {
        let _ = writeln!(
            w,
            "- **Outputs disagree** beyond {} relative:",
            r.meta.rel_tolerance
        );
        for f in &r.failures {
            let _ = writeln!(w, "  - {f}");
        }
        let _ = writeln!(w);
    }

    // Machine and method.
    let _ = writeln!(w, "## Machine\n");
    let _ = writeln!(w, "| | |\n| --- | --- |");
    let _ = writeln!(w, "| CPU | {} |", m.cpu);
    let _ = writeln!(
        w,
        "| logical cores | {} (shared with other work: timings are noisy) |",
        m.cores
    );
    if let Some(l) = r.meta.load_average {
        let _ = writeln!(
            w,
            "| load average (1 min), start / end of the run | {:.2} / {:.2} |",
            l.start, l.end
        );
    }
    let _ = writeln!(w, "| Node | {} |", m.node);
    let _ = writeln!(w, "| edgewise | {} |", m.edgewise);
    let _ = writeln!(
        w,
        "| onnxruntime-web | {} (`{}`, numThreads = {}) |\n",
        m.ort,
        r.sizes
            .ort
            .wasm
            .file
            .rsplit('/')
            .next()
            .unwrap_or(&r.sizes.ort.wasm.file),
        r.meta.ort_num_threads
    );

    let _ = writeln!(w, "## Method\n");
    let _ = writeln!(
        w,
        "- One Node process loads both runtimes (`tests/bench/bench.mjs`). onnxruntime-web \
         runs its wasm backend with `numThreads = 1`; both use graph optimization level `all`."
    );
    let _ = writeln!(
        w,
        "- Models: the `light_*` architectures shipped in the `onnx` Python package, input \
         1×3×224×224 filled with `{}`.",
        r.meta.input
    );
    let _ = writeln!(
        w,
        "- Both wasm modules are started first on a one-node model (edgewise {} ms, \
         onnxruntime-web {} ms: loading and compiling the wasm). *Cold* is then, per model, \
         `InferenceSession.create` + the first run.",
        fmt_ms(r.startup.edgewise),
        fmt_ms(r.startup.ort)
    );
    let _ = writeln!(
        w,
        "- Warm: {} warm-up runs each, then {} timed runs each, edgewise and onnxruntime-web \
         interleaved with the order flipped every run. Each time is `await session.run(feeds)` \
         around `performance.now()`, input copy-in and output copy-out included. Median and \
         p95 (nearest rank).",
        r.meta.warmup, r.meta.runs
    );
    let _ = writeln!(
        w,
        "- Memory: the `WebAssembly` entry points are wrapped before either runtime loads; \
         each instance's exported or imported memory is attributed to the runtime whose module \
         bytes it was compiled from. Wasm memory never shrinks, so its size after a model is \
         the peak; per-model peaks come from a fresh process per model (both runtimes, two \
         runs each).\n"
    );

    // Latency.
    let _ = writeln!(w, "## Latency (ms)\n");
    let _ = writeln!(
        w,
        "| model | edgewise median | p95 | cold | ORT median | p95 | cold | edgewise/ORT |"
    );
    let _ = writeln!(
        w,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for x in &r.models {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            x.name,
            fmt_ms(x.edgewise.median),
            fmt_ms(x.edgewise.p95),
            cold_ms(&x.edgewise),
            fmt_ms(x.ort.median),
            fmt_ms(x.ort.p95),
            cold_ms(&x.ort),
            fmt_ratio(x.ratio())
        );
    }
    if let Some(g) = geo {
        let _ = writeln!(
            w,
            "| **geometric mean** | | | | | | | **{}** |",
            fmt_ratio(g)
        );
    }
    let _ = writeln!(w);
    if let Some(b) = &r.batch {
        let _ = writeln!(
            w,
            "Batch: {} with input {} ({} timed runs each): edgewise {} ms, onnxruntime-web {} ms \
             (median), ratio {}; outputs {}.\n",
            b.model,
            b.input_shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("×"),
            b.runs,
            fmt_ms(b.edgewise.median),
            fmt_ms(b.ort.median),
            fmt_ratio(b.edgewise.median / b.ort.median),
            agreement_cell(&b.agreement)
        );
    }
    let cold_split: Vec<String> = r
        .models
        .iter()
        .filter_map(|x| {
            let (e, o) = (x.edgewise.cold.as_ref()?, x.ort.cold.as_ref()?);
            Some(format!(
                "{} {}+{} / {}+{}",
                x.name,
                fmt_ms(e.create),
                fmt_ms(e.first_run),
                fmt_ms(o.create),
                fmt_ms(o.first_run)
            ))
        })
        .collect();
    if !cold_split.is_empty() {
        let _ = writeln!(
            w,
            "Cold split into create + first run (edgewise / ORT, ms): {}.\n",
            cold_split.join("; ")
        );
    }

    // Agreement.
    let _ = writeln!(w, "## Output agreement\n");
    let _ = writeln!(
        w,
        "The shipped `light_*` weights are `ConstantOfShape` fills of one value (0.02), so every \
         channel computes the same thing and each output is one repeated number (0.001 after a \
         softmax over 1000 classes): agreement on them checks little. The bench therefore also \
         runs, once per runtime, a copy of each model whose weights are seeded random \
         initializers (He-scaled convolution and Gemm weights, batch-norm statistics near 1 and \
         0); that comparison is the meaningful one. Difference = max |edgewise − ORT|; \
         rel = that over max |ORT|. Fails the bench above {}.\n",
        r.meta.rel_tolerance
    );
    let _ = writeln!(w, "| model | shipped weights | random weights |");
    let _ = writeln!(w, "| --- | --- | --- |");
    for x in &r.models {
        let _ = writeln!(
            w,
            "| {} | {} | {} |",
            x.name,
            agreement_cell(&x.agreement),
            x.check.as_ref().map_or("–".into(), agreement_cell)
        );
    }
    let _ = writeln!(w);

    // Memory.
    let _ = writeln!(w, "## Wasm memory\n");
    let _ = writeln!(
        w,
        "Linear memory of each runtime's instance once started: edgewise {}, onnxruntime-web {}. \
         Peak per model (fresh process, model loaded and run twice):\n",
        fmt_mib(r.memory.after_start.edgewise),
        fmt_mib(r.memory.after_start.ort)
    );
    let _ = writeln!(w, "| model | edgewise | ORT | edgewise/ORT |");
    let _ = writeln!(w, "| --- | ---: | ---: | ---: |");
    for x in &r.models {
        if let Some(p) = r.memory.per_model.get(&x.name) {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                x.name,
                fmt_mib(p.peak.edgewise),
                fmt_mib(p.peak.ort),
                fmt_ratio(p.peak.edgewise as f64 / p.peak.ort as f64)
            );
        }
    }
    let _ = writeln!(
        w,
        "| all models in one process | {} | {} | {} |\n",
        fmt_mib(r.memory.high_water.edgewise),
        fmt_mib(r.memory.high_water.ort),
        fmt_ratio(r.memory.high_water.edgewise as f64 / r.memory.high_water.ort as f64)
    );

    // Sizes.
    let (e, o) = (&r.sizes.edgewise, &r.sizes.ort);
    let _ = writeln!(w, "## Download size\n");
    let _ = writeln!(
        w,
        "| | edgewise raw | gzip -9 | onnxruntime-web raw | gzip -9 | edgewise/ORT (gzip) |"
    );
    let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: |");
    let _ = writeln!(
        w,
        "| wasm | {} | {} | {} | {} | {} |",
        fmt_mb(e.wasm.raw),
        fmt_mb(e.wasm.gzip),
        fmt_mb(o.wasm.raw),
        fmt_mb(o.wasm.gzip),
        fmt_ratio(e.wasm.gzip as f64 / o.wasm.gzip as f64)
    );
    let _ = writeln!(
        w,
        "| JS | {} | {} | {} | {} | {} |",
        fmt_kb(e.js_total.raw),
        fmt_kb(e.js_total.gzip),
        fmt_kb(o.js_total.raw),
        fmt_kb(o.js_total.gzip),
        fmt_ratio(e.js_total.gzip as f64 / o.js_total.gzip as f64)
    );
    let _ = writeln!(
        w,
        "| **total** | {} | **{}** | {} | **{}** | **{}** |\n",
        fmt_mb(e.total.raw),
        fmt_mb(e.total.gzip),
        fmt_mb(o.total.raw),
        fmt_mb(o.total.gzip),
        fmt_ratio(size_ratio)
    );
    let files = |p: &PackageSize| {
        std::iter::once(&p.wasm)
            .chain(&p.js)
            .map(|f| format!("`{}`", f.file))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(w, "- edgewise: {} (JS not minified).", files(e));
    let _ = writeln!(
        w,
        "- onnxruntime-web: {}. The wasm is the file Node compiled{}; the JS is the \
         self-contained browser bundle of the wasm backend and its loader.{}\n",
        files(o),
        if o.wasm_verified_loaded {
            " (matched by hash when the bench ran)"
        } else {
            " (assumed: not seen by the instantiate hook)"
        },
        o.node_entry.as_ref().map_or(String::new(), |n| format!(
            " Node itself enters through `{}` ({} raw, {} gzip) plus the separate \
             `onnxruntime-common` package.",
            n.file,
            fmt_kb(n.raw),
            fmt_kb(n.gzip)
        ))
    );

    // Hand-written sections.
    for (title, note, file) in [
        ("Size levers", &notes.levers, "bench/levers.md"),
        ("Profile", &notes.profile, "bench/profile.md"),
    ] {
        let _ = writeln!(w, "## {title}\n");
        match note {
            Some(text) if !text.trim().is_empty() => {
                let _ = writeln!(w, "{}", embed_note(text));
            }
            _ => {
                let _ = writeln!(w, "_Not written yet (`{file}`)._\n");
            }
        }
    }
    s.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_mean_of_ratios() {
        assert_eq!(geometric_mean(&[]), None);
        assert_eq!(geometric_mean(&[1.0, 0.0]), None);
        assert_eq!(geometric_mean(&[f64::NAN]), None);
        let g = geometric_mean(&[2.0, 0.5]).unwrap();
        assert!((g - 1.0).abs() < 1e-12);
        let g = geometric_mean(&[1.0, 2.0, 4.0]).unwrap();
        assert!((g - 2.0).abs() < 1e-12);
        let g = geometric_mean(&[1.5]).unwrap();
        assert!((g - 1.5).abs() < 1e-12);
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_ms(1234.4), "1234");
        assert_eq!(fmt_ms(123.46), "123");
        assert_eq!(fmt_ms(12.345), "12.3");
        assert_eq!(fmt_ms(1.2345), "1.23");
        assert_eq!(fmt_ratio(1.234), "1.23×");
        assert_eq!(fmt_mb(3_548_884), "3.55 MB");
        assert_eq!(fmt_kb(36_959), "37.0 kB");
        assert_eq!(fmt_mib(14_548_992), "13.9 MiB");
        assert_eq!(fmt_diff(Some(0.0)), "0");
        assert_eq!(fmt_diff(Some(1.49e-8)), "1.5e-8");
        assert_eq!(fmt_diff(Some(f64::INFINITY)), "∞");
        assert_eq!(fmt_diff(None), "∞");
    }

    #[test]
    fn cpuinfo() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: sse\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(parse_cpuinfo(text), (Some("AMD EPYC 7B13".to_string()), 2));
        assert_eq!(parse_cpuinfo(""), (None, 0));
    }

    #[test]
    fn notes_are_nested_under_their_section() {
        let note = "# Profile of zfnet512\n\nIntro.\n\n## Where time goes\n\ntext\n\n\
                    ```sh\n# a shell comment\n```\n\n### Detail\n";
        let out = embed_note(note);
        assert!(!out.contains("Profile of zfnet512"));
        assert!(out.starts_with("Intro."));
        assert!(out.contains("\n### Where time goes\n"));
        assert!(out.contains("\n#### Detail\n"));
        assert!(out.contains("\n# a shell comment\n"), "{out}");
        // Already deep enough: unchanged apart from the title.
        assert_eq!(embed_note("### A\nb\n"), "b\n");
        assert_eq!(embed_note("text\n#### A\n"), "text\n#### A\n");
        assert_eq!(heading_level("#hashtag"), None);
    }

    fn sample() -> Results {
        serde_json::from_value(serde_json::json!({
            "meta": {
                "date": "2026-01-02T03:04:05.000Z", "node": "v20.0.0", "cpu": "Test CPU",
                "cores": 2, "loadAverage": { "start": 1.5, "end": 2.25 }, "edgewise": "0.1.0", "ort": "1.30.0", "ortNumThreads": 1,
                "runs": 30, "warmup": 2, "input": "(i % 255) / 255 - 0.5", "relTolerance": 0.001
            },
            "startup": { "edgewise": 120.0, "ort": 330.0 },
            "models": [
                {
                    "name": "a",
                    "edgewise": { "cold": { "create": 800.0, "firstRun": 400.0, "total": 1200.0 }, "median": 40.0, "p95": 50.0 },
                    "ort": { "cold": { "create": 100.0, "firstRun": 300.0, "total": 400.0 }, "median": 20.0, "p95": 30.0 },
                    "agreement": { "maxAbs": 0.0, "rel": 0.0, "refMin": 0.001, "refMax": 0.001, "uniform": true },
                    "check": { "maxAbs": 1.5e-8, "rel": 3e-7, "uniform": false, "top1Agree": true }
                },
                {
                    "name": "b",
                    "edgewise": { "median": 10.0, "p95": 12.0 },
                    "ort": { "median": 20.0, "p95": 25.0 },
                    "agreement": { "maxAbs": 1e-7, "rel": 1e-6, "uniform": false }
                }
            ],
            "batch": null,
            "memory": {
                "afterStart": { "edgewise": 1638400, "ort": 16777216 },
                "highWater": { "edgewise": 20971520, "ort": 10485760 },
                "perModel": { "a": { "peak": { "edgewise": 2097152, "ort": 1048576 } } }
            },
            "sizes": {
                "edgewise": {
                    "wasm": { "file": "pkg/wasm/edgewise_bg.wasm", "raw": 13000000, "gzip": 3500000 },
                    "js": [{ "file": "pkg/index.js", "raw": 9000, "gzip": 3000 }],
                    "jsTotal": { "raw": 9000, "gzip": 3000 }, "total": { "raw": 13009000, "gzip": 3503000 }
                },
                "ort": {
                    "wasm": { "file": "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm", "raw": 14000000, "gzip": 3600000 },
                    "wasmVerifiedLoaded": true,
                    "js": [{ "file": "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs", "raw": 50000, "gzip": 16000 }],
                    "jsTotal": { "raw": 50000, "gzip": 16000 }, "total": { "raw": 14050000, "gzip": 3616000 }
                }
            },
            "failures": []
        }))
        .expect("sample parses")
    }

    fn machine() -> Machine {
        Machine {
            cpu: "Test CPU".into(),
            cores: 2,
            node: "v20.0.0".into(),
            edgewise: "0.1.0".into(),
            ort: "1.30.0".into(),
        }
    }

    #[test]
    fn renders_tables_goal_and_notes() {
        let notes = Notes {
            levers: None,
            profile: Some("# Profile\n\n## Ops\n\nconv dominates\n".into()),
        };
        let md = render(&sample(), &machine(), &notes);
        // Ratios 2.0 and 0.5: geometric mean 1.0.
        assert!(
            md.contains(
                "geometric mean of edgewise/ORT = **1.00×** over 2 models (goal ≤ 0.80×): not met"
            ),
            "{md}"
        );
        assert!(
            md.contains("| a | 40.0 | 50.0 | 1200 | 20.0 | 30.0 | 400 | 2.00× |"),
            "{md}"
        );
        assert!(
            md.contains("| b | 10.0 | 12.0 | – | 20.0 | 25.0 | – | 0.50× |"),
            "{md}"
        );
        assert!(md.contains("| **geometric mean** | | | | | | | **1.00×** |"));
        assert!(
            md.contains("| a | 0 (rel 0), all = 0.0010 | 1.5e-8 (rel 3.0e-7), top-1 same |"),
            "{md}"
        );
        assert!(md.contains("| a | 2.0 MiB | 1.0 MiB | 2.00× |"));
        assert!(
            md.contains(
                "| **total** | 13.01 MB | **3.50 MB** | 14.05 MB | **3.62 MB** | **0.97×** |"
            ),
            "{md}"
        );
        assert!(md.contains("smaller"));
        assert!(md.contains("## Size levers\n\n_Not written yet (`bench/levers.md`)._"));
        assert!(
            md.contains("## Profile\n\n### Ops\n\nconv dominates\n"),
            "{md}"
        );
        assert!(md.contains("| CPU | Test CPU |"));
        assert!(md.contains("| load average (1 min), start / end of the run | 1.50 / 2.25 |"));
        assert!(md.contains("agree within 0.001 relative"));
    }

    #[test]
    fn renders_failures() {
        let mut r = sample();
        r.failures = vec!["a: relative difference 0.5".into()];
        let md = render(&r, &machine(), &Notes::default());
        assert!(md.contains(
            "**Outputs disagree** beyond 0.001 relative:\n  - a: relative difference 0.5"
        ));
    }
}
