//! The multi-threaded section of `bench/RESULTS.md`: one run of the bench per thread count,
//! both runtimes on that many threads in one Node process.

use std::fmt::Write as _;

use super::render::{fmt_ms, fmt_ratio, geometric_mean};
use super::results::{ModelResult, Results};

/// Writes `## Multi-threaded` from the runs at more than one thread (nothing if there are none).
pub fn render_threads(w: &mut String, runs: &[Results]) {
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Multi-threaded\n");
    let _ = writeln!(
        w,
        "Each thread count is a run of its own (`tests/bench/bench.mjs --threads N`): both \
         runtimes load their multi-threaded wasm on N threads, which stays fixed for the process. \
         edgewise splits tract's matrix products, packing and element-wise passes over a rayon \
         pool of N threads, the calling thread and N − 1 workers; onnxruntime-web runs its \
         intra-op pool of N threads. Warm medians in ms.\n"
    );
    let _ = writeln!(
        w,
        "| threads | models | geometric mean edgewise/ORT | third-party geometric mean |"
    );
    let _ = writeln!(w, "| ---: | ---: | ---: | ---: |");
    for r in runs {
        let light: Vec<f64> = r.models.iter().map(ModelResult::ratio).collect();
        let third: Vec<f64> = r
            .third_party
            .iter()
            .map(|m| m.edgewise.median / m.ort.median)
            .collect();
        let cell = |xs: &[f64]| {
            geometric_mean(xs).map_or("—".to_string(), |g| format!("**{}**", fmt_ratio(g)))
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} |",
            r.meta.threads,
            r.models.len() + r.third_party.len(),
            cell(&light),
            cell(&third)
        );
    }
    let _ = writeln!(w);
    for r in runs {
        let _ = writeln!(w, "### {} threads\n", r.meta.threads);
        let _ = writeln!(
            w,
            "| model | edgewise median (p95) | ORT median (p95) | edgewise/ORT |"
        );
        let _ = writeln!(w, "| --- | ---: | ---: | ---: |");
        let rows = r
            .models
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    [m.edgewise.median, m.edgewise.p95, m.ort.median, m.ort.p95],
                )
            })
            .chain(r.third_party.iter().map(|m| {
                let t = [m.edgewise.median, m.edgewise.p95, m.ort.median, m.ort.p95];
                (format!("{} (third-party)", m.name), t)
            }));
        for (name, [ew, ew95, ort, ort95]) in rows {
            let _ = writeln!(
                w,
                "| {name} | {} ({}) | {} ({}) | {} |",
                fmt_ms(ew),
                fmt_ms(ew95),
                fmt_ms(ort),
                fmt_ms(ort95),
                fmt_ratio(ew / ort)
            );
        }
        if !r.failures.is_empty() {
            let _ = writeln!(w, "\n**Outputs disagree** at {} threads:", r.meta.threads);
            for f in &r.failures {
                let _ = writeln!(w, "- {f}");
            }
        }
        let _ = writeln!(w);
    }
}
