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
         pool of N worker threads (the calling thread waits); onnxruntime-web runs its intra-op \
         pool of N threads. Warm medians in ms.\n"
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
        for m in &r.models {
            let _ = writeln!(
                w,
                "| {} | {} ({}) | {} ({}) | {} |",
                m.name,
                fmt_ms(m.edgewise.median),
                fmt_ms(m.edgewise.p95),
                fmt_ms(m.ort.median),
                fmt_ms(m.ort.p95),
                fmt_ratio(m.ratio())
            );
        }
        for m in &r.third_party {
            let _ = writeln!(
                w,
                "| {} (third-party) | {} ({}) | {} ({}) | {} |",
                m.name,
                fmt_ms(m.edgewise.median),
                fmt_ms(m.edgewise.p95),
                fmt_ms(m.ort.median),
                fmt_ms(m.ort.p95),
                fmt_ratio(m.edgewise.median / m.ort.median)
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
