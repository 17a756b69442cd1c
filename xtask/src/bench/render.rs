//! `bench/RESULTS.md` from the bench's results, the machine and the hand-written notes.

use std::fmt::Write as _;

use super::results::*;
use super::{LATENCY_GOAL, Machine};

/// Hand-written sections kept across regenerations.
#[derive(Default)]
pub struct Notes {
    pub ops: Option<String>,
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

/// The third-party collection: create, first run and warm median per model, with ratios and
/// their geometric means.
fn render_third_party(w: &mut String, models: &[super::results::ThirdParty]) {
    if models.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "### Third-party models\n\nThe collection of `tests/models/manifest.json` (models that PyPI \
         and npm packages ship), each on its first case's inputs (the sizes its package feeds), \
         in the same process. Create and first run are one sample each; the median and p95 are \
         over the warm runs shown.\n"
    );
    let _ = writeln!(
        w,
        "| model | package | precision | input | runs | edgewise create | edgewise first | edgewise median (p95) | onnxruntime-web create | onnxruntime-web first | onnxruntime-web median (p95) | ratio (median) | ratio (create) | outputs |"
    );
    let _ = writeln!(
        w,
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for m in models {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} | {} ({}) | {} | {} | {} |",
            m.name,
            m.package,
            m.precision,
            m.case,
            m.runs,
            fmt_ms(m.edgewise.cold.create),
            fmt_ms(m.edgewise.cold.first_run),
            fmt_ms(m.edgewise.median),
            fmt_ms(m.edgewise.p95),
            fmt_ms(m.ort.cold.create),
            fmt_ms(m.ort.cold.first_run),
            fmt_ms(m.ort.median),
            fmt_ms(m.ort.p95),
            fmt_ratio(m.edgewise.median / m.ort.median),
            fmt_ratio(m.edgewise.cold.create / m.ort.cold.create),
            agreement_cell(&m.agreement)
        );
    }
    let ratios: Vec<f64> = models
        .iter()
        .map(|m| m.edgewise.median / m.ort.median)
        .collect();
    let creates: Vec<f64> = models
        .iter()
        .map(|m| m.edgewise.cold.create / m.ort.cold.create)
        .collect();
    if let (Some(g), Some(c)) = (geometric_mean(&ratios), geometric_mean(&creates)) {
        let _ = writeln!(
            w,
            "| **geometric mean** | | | | | | | | | | | **{}** | **{}** | |",
            fmt_ratio(g),
            fmt_ratio(c)
        );
    }
    let _ = writeln!(w);
}

/// `threads`: the runs at more than one thread; `browser`: the headless Chromium run. Each is
/// rendered in a section of its own.
pub fn render(
    r: &Results,
    threads: &[Results],
    browser: Option<&BrowserResults>,
    m: &Machine,
    notes: &Notes,
) -> String {
    let mut s = String::new();
    let ratios: Vec<f64> = r.models.iter().map(ModelResult::ratio).collect();
    let geo = geometric_mean(&ratios);
    let size_ratio = r.sizes.edgewise.total.gzip as f64 / r.sizes.ort.total.gzip as f64;
    let w = &mut s;

    let _ = writeln!(w, "# edgewise against onnxruntime-web\n");
    let _ = writeln!(
        w,
        "Generated by `cargo xtask bench` ({} UTC). Do not edit by hand: the sections *Speed \
         and size levers* and *Profile* come from `bench/levers.md` and `bench/profile.md`.\n",
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
    render_third_party(w, &r.third_party);
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
    super::render_threads::render_threads(w, threads);
    super::render_browser::render_browser(w, browser);

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
        (
            "Custom operators: CPU kernel against GPU program",
            &notes.ops,
            "bench/ops.md",
        ),
        ("Speed and size levers", &notes.levers, "bench/levers.md"),
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
#[path = "render_tests.rs"]
mod tests;
