//! The headless Chromium section of `bench/RESULTS.md`.

use std::fmt::Write as _;

use super::render::{fmt_diff, fmt_ms, fmt_ratio, geometric_mean};
use super::results::BrowserResults;

/// Writes `## In headless Chromium` (nothing when the browser bench did not run).
pub fn render_browser(w: &mut String, b: Option<&BrowserResults>) {
    let Some(b) = b else {
        return;
    };
    let _ = writeln!(w, "## In headless Chromium\n");
    let _ = writeln!(
        w,
        "`tests/bench/browser.mjs`: both runtimes in one page of Debian's Chromium ({}), on the \
         main thread with one thread each, on third-party models with their first case's \
         inputs. Create and first run are one sample each (the first model's create includes \
         loading each runtime's wasm); the median and p95 are over {} alternating warm runs.\n",
        b.meta
            .user_agent
            .as_deref()
            .unwrap_or("user agent not recorded"),
        b.meta.runs
    );
    let _ = writeln!(
        w,
        "| model | edgewise create | edgewise first | edgewise median (p95) | ORT create | ORT first | ORT median (p95) | edgewise/ORT | max abs diff |"
    );
    let _ = writeln!(
        w,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for m in &b.models {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} ({}) | {} | {} | {} ({}) | {} | {} |",
            m.name,
            fmt_ms(m.edgewise.cold.create),
            fmt_ms(m.edgewise.cold.first_run),
            fmt_ms(m.edgewise.median),
            fmt_ms(m.edgewise.p95),
            fmt_ms(m.ort.cold.create),
            fmt_ms(m.ort.cold.first_run),
            fmt_ms(m.ort.median),
            fmt_ms(m.ort.p95),
            fmt_ratio(m.edgewise.median / m.ort.median),
            fmt_diff(m.agreement.max_abs)
        );
    }
    let ratios: Vec<f64> = b
        .models
        .iter()
        .map(|m| m.edgewise.median / m.ort.median)
        .collect();
    if let Some(g) = geometric_mean(&ratios) {
        let _ = writeln!(
            w,
            "| **geometric mean** | | | | | | | **{}** | |",
            fmt_ratio(g)
        );
    }
    let _ = writeln!(w);
}
