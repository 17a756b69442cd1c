//! The paper's comparison: SNF against uniform and L1-norm pruning at the same share of the
//! operations, on the same full models, calibration images and fine-tuning budget, in one run;
//! each pruned `multiexit` timed against the full one natively (the runtime, on tract) and in
//! wasm (the npm package in Node, by `tests/bench/latency.mjs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use edgewise_data::graded::SIDE;
use edgewise_runtime::{Session, SessionOptions, Tensor as HostTensor};

use super::{BUDGET, Config, NAME, SOURCE, run};
use crate::prune::Method;
use crate::run::TrainOptions;
use crate::systems::aquant::TARGETS;
use crate::systems::{reproduce_command, write_bar};

/// One method on one target: its metric over the seeds (their mean), and the share of the
/// operations, FLOPs and widths of the first seed's model.
struct Pruning {
    method: Method,
    metric: f64,
    seeds: Vec<f64>,
    /// Each seed's widths.
    seed_widths: Vec<Vec<usize>>,
    cost: f64,
    flops: u64,
    widths: Vec<usize>,
}

impl Pruning {
    /// The metric's mean over the seeds with its range, `0.1234 (0.1200–0.1250)`.
    fn spread(&self) -> String {
        let lo = self.seeds.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = self.seeds.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if self.seeds.len() > 1 {
            format!("{:.4} ({lo:.4}–{hi:.4})", self.metric)
        } else {
            format!("{:.4}", self.metric)
        }
    }
}

/// Seeds of the calibration and fine-tuning images per method (the gaps are a point or so).
const SEEDS: u64 = 3;

/// One target: the full model and its prunings.
struct Row {
    target: &'static str,
    metric: &'static str,
    full: f64,
    full_flops: u64,
    full_widths: Vec<usize>,
    names: Vec<String>,
    prunable: Vec<bool>,
    prunings: Vec<Pruning>,
}

impl Row {
    fn of(&self, method: Method) -> Option<&Pruning> {
        self.prunings.iter().find(|p| p.method == method)
    }
}

/// Milliseconds per call of each model, natively and in wasm.
struct Latency {
    labels: Vec<&'static str>,
    native: Vec<f64>,
    wasm: Vec<f64>,
}

/// The input every model is timed on: the ramp `tests/bench/timing.mjs` feeds (`inputData`).
fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 255) as f32 / 255.0 - 0.5).collect()
}

/// Each model's fastest round's mean time per call on the runtime (tract), rounds interleaved.
fn time_native(models: &[(&str, Vec<u8>)], runs: usize, rounds: usize) -> Result<Vec<f64>> {
    let mut sessions = models
        .iter()
        .map(|(_, b)| Session::new(b, &SessionOptions::default()))
        .collect::<Result<Vec<_>, _>>()?;
    let feeds = vec![(
        "image".to_string(),
        HostTensor::f32(ramp(SIDE * SIDE), vec![1, 1, SIDE, SIDE])?,
    )];
    let mut best = vec![f64::INFINITY; models.len()];
    for _ in 0..rounds {
        for (s, b) in sessions.iter_mut().zip(&mut best) {
            let start = Instant::now();
            for _ in 0..runs {
                s.run(feeds.clone())?;
            }
            *b = b.min(start.elapsed().as_secs_f64() * 1e3 / runs as f64);
        }
    }
    Ok(best)
}

/// The same in wasm: `tests/bench/latency.mjs` on the files `paths` (the package must be
/// built: `cargo xtask build`).
fn time_wasm(paths: &[PathBuf], runs: usize, rounds: usize, dir: &Path) -> Result<Vec<f64>> {
    let out = dir.join("wasm-latency.json");
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let args = vec![
        "--models".to_string(),
        list.join(","),
        "--input".into(),
        "image".into(),
        "--shape".into(),
        format!("1,1,{SIDE},{SIDE}"),
        "--runs".into(),
        runs.to_string(),
        "--rounds".into(),
        rounds.to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    let doc = crate::systems::node_json("tests/bench/latency.mjs", &args, &out)?;
    let rows = doc["rows"]
        .as_array()
        .with_context(|| format!("{}: no rows", out.display()))?;
    if rows.len() != paths.len() {
        bail!(
            "{}: {} rows for {} models",
            out.display(),
            rows.len(),
            paths.len()
        );
    }
    rows.iter()
        .map(|r| {
            r["ms"]
                .as_f64()
                .with_context(|| format!("{}: a row without ms", out.display()))
        })
        .collect()
}

/// Runs the comparison and writes `<results>/snf.md` and its figure.
pub fn reproduce(options: &TrainOptions, results: &Path) -> Result<()> {
    let start = Instant::now();
    let dir = options.runs.join(NAME);
    std::fs::create_dir_all(&dir)?;
    let mut rows = vec![];
    let mut timed: Vec<(&'static str, Vec<u8>)> = vec![];
    for target in &TARGETS {
        let bytes = target.model(options)?;
        let mut row: Option<Row> = None;
        for method in Method::ALL {
            let config = Config::new(options, target, method, BUDGET);
            let mut first = None;
            let mut seeds = vec![];
            let mut seed_widths = vec![];
            for k in 0..if options.quick { 1 } else { SEEDS } {
                let seeded = TrainOptions {
                    seed: options.seed + k,
                    ..options.clone()
                };
                let outcome = run(&bytes, target, &config, &seeded)?;
                eprintln!(
                    "{} {} seed {}: {} {:.4} (full {:.4}) at {:.1} % of the operations, widths {:?}",
                    target.id,
                    method.id(),
                    seeded.seed,
                    target.metric,
                    outcome.metric,
                    outcome.full_metric,
                    100.0 * outcome.pruned.cost,
                    outcome.pruned.widths
                );
                seeds.push(outcome.metric);
                seed_widths.push(outcome.pruned.widths.clone());
                first.get_or_insert(outcome);
            }
            let outcome = first.context("no seed ran")?;
            let s = &outcome.structure;
            let r = match &mut row {
                Some(r) => r,
                None => row.insert(Row {
                    target: target.id,
                    metric: target.metric,
                    full: outcome.full_metric,
                    full_flops: s.flops(&s.full())?,
                    full_widths: s.full(),
                    names: s.names.clone(),
                    prunable: s.prunable.clone(),
                    prunings: vec![],
                }),
            };
            r.prunings.push(Pruning {
                method,
                metric: seeds.iter().sum::<f64>() / seeds.len() as f64,
                seeds,
                seed_widths,
                cost: outcome.pruned.cost,
                flops: outcome.pruned.flops,
                widths: outcome.pruned.widths.clone(),
            });
            if target.id == SOURCE {
                if timed.is_empty() {
                    timed.push(("full", bytes.clone()));
                }
                timed.push((method.id(), outcome.pruned.bytes));
            }
        }
        rows.extend(row);
    }
    let (runs, rounds) = if options.quick { (5, 1) } else { (300, 5) };
    let mut paths = vec![];
    for (label, bytes) in &timed {
        let path = dir.join(format!("{SOURCE}-{label}.onnx"));
        std::fs::write(&path, bytes)?;
        paths.push(path);
    }
    let latency = Latency {
        labels: timed.iter().map(|(l, _)| *l).collect(),
        native: time_native(&timed, runs, rounds)?,
        wasm: time_wasm(&paths, runs, rounds, &dir)?,
    };
    let figure = results.join(format!("{NAME}-widths.png"));
    widths_figure(&rows, &figure)?;
    let md = markdown(&rows, &latency, options, start.elapsed().as_secs_f64())?;
    std::fs::write(results.join(format!("{NAME}.md")), md)?;
    Ok(())
}

/// Filters kept per prunable layer of `multiexit`: the full model and each method.
fn widths_figure(rows: &[Row], path: &Path) -> Result<()> {
    let row = rows
        .iter()
        .find(|r| r.target == SOURCE)
        .context("no multiexit row")?;
    let layers: Vec<usize> = (0..row.prunable.len())
        .filter(|&k| row.prunable[k])
        .collect();
    let line = |widths: &[usize]| -> Vec<(f64, f64)> {
        layers
            .iter()
            .enumerate()
            .map(|(i, &k)| (i as f64, widths[k] as f64))
            .collect()
    };
    let mut lines = vec![("full", line(&row.full_widths))];
    for p in &row.prunings {
        lines.push((p.method.id(), line(&p.widths)));
    }
    crate::plot::xy(
        &lines,
        &format!(
            "multiexit: filters per layer at {:.0} % of the operations",
            100.0 * BUDGET
        ),
        ("prunable layer", "filters"),
        true,
        path,
    )
}

/// For a missed part: the worst seed's narrowest layer, which the count search judges before
/// fine-tuning.
fn narrowest(r: &Row, p: &Pruning) -> String {
    let Some((worst, widths)) = p
        .seeds
        .iter()
        .zip(&p.seed_widths)
        .min_by(|a, b| a.0.total_cmp(b.0))
    else {
        return String::new();
    };
    let Some(k) = (0..widths.len())
        .filter(|&i| r.prunable[i])
        .min_by(|&a, &b| {
            let share = |i: usize| widths[i] as f64 / r.full_widths[i] as f64;
            share(a).total_cmp(&share(b))
        })
    else {
        return String::new();
    };
    format!(
        ". Its worst seed ({worst:.4}) kept {} of {}'s {} filters: the search ranks each \
         layer's counts by the output error before fine-tuning, which does not show what \
         fine-tuning recovers, and cut that layer furthest",
        widths[k],
        r.names[k].trim_end_matches(".conv"),
        r.full_widths[k]
    )
}

fn markdown(
    rows: &[Row],
    latency: &Latency,
    options: &TrainOptions,
    seconds: f64,
) -> Result<String> {
    let mut w = String::new();
    writeln!(w, "# SNF: searching the number of filters per layer\n")?;
    writeln!(
        w,
        "Command: `{}` ({:.0} s). Each catalogue CNN's trained model is pruned to at most {:.0} % \
         of its floating-point operations three ways, each keeping within a layer the filters \
         of largest L1 norm: **uniform** (the same share of every prunable layer), **L1** \
         (filters ranked network-wide by their L1 norm relative to their layer's mean, the \
         weakest removed first) and **SNF** (each layer's count searched: every prunable layer \
         alone pruned to each sixteenth of its filters on calibration images, the error of the \
         final output against the full model's measured, and the counts chosen to minimize the \
         summed errors under the budget). Every pruned model is then fine-tuned the same way, \
         with the same steps and images: its outputs trained towards the full model's on \
         unlabelled images of the model's own generator. Metrics are on each system's own test \
         set; FLOPs count 2 per multiply-accumulate of the convolutions and dense layers.\n",
        reproduce_command(NAME, options),
        seconds,
        100.0 * BUDGET
    )?;
    writeln!(
        w,
        "Each method runs with {} seeds of the calibration and fine-tuning images; the metric is \
         their mean with its range, and the filters, FLOPs and share are those of the first \
         seed's model (SNF's counts can differ by seed; every model stays within the budget).\n",
        if options.quick { 1 } else { SEEDS }
    )?;
    let multiexit = rows.iter().find(|r| r.target == SOURCE);
    writeln!(
        w,
        "![filters per layer]({NAME}-widths.png)\n\nThe figure's layers, in order: {}.\n",
        multiexit.map_or(String::new(), |r| (0..r.prunable.len())
            .filter(|&k| r.prunable[k])
            .map(|k| r.names[k].trim_end_matches(".conv").to_string())
            .collect::<Vec<_>>()
            .join(", "))
    )?;
    writeln!(
        w,
        "| model | metric | full | method | filters kept per layer | FLOPs | share | metric | \
         change |"
    )?;
    writeln!(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")?;
    for r in rows {
        let layers: Vec<usize> = (0..r.prunable.len()).filter(|&k| r.prunable[k]).collect();
        writeln!(
            w,
            "| {} | {} | {:.4} | full | {} | {} | 100 % | {:.4} | |",
            r.target,
            r.metric,
            r.full,
            layers
                .iter()
                .map(|&k| r.full_widths[k].to_string())
                .collect::<Vec<_>>()
                .join("·"),
            r.full_flops,
            r.full
        )?;
        for p in &r.prunings {
            let bold = if p.method == Method::Snf { "**" } else { "" };
            writeln!(
                w,
                "| | | | {bold}{}{bold} | {} | {} | {:.1} % | {bold}{}{bold} | {:+.2} pts |",
                p.method.id(),
                layers
                    .iter()
                    .map(|&k| p.widths[k].to_string())
                    .collect::<Vec<_>>()
                    .join("·"),
                p.flops,
                100.0 * p.cost,
                p.spread(),
                100.0 * (p.metric - r.full)
            )?;
        }
    }
    writeln!(
        w,
        "\nSNF's counts per seed (prunable layers in order) and the metric of each:\n"
    )?;
    for r in rows {
        let Some(p) = r.of(Method::Snf) else { continue };
        let seeds: Vec<String> = p
            .seed_widths
            .iter()
            .zip(&p.seeds)
            .enumerate()
            .map(|(k, (widths, m))| {
                let kept: Vec<String> = (0..widths.len())
                    .filter(|&i| r.prunable[i])
                    .map(|i| widths[i].to_string())
                    .collect();
                format!(
                    "seed {}: {} → {m:.4}",
                    options.seed + k as u64,
                    kept.join("·")
                )
            })
            .collect();
        writeln!(w, "- {}: {}", r.target, seeds.join("; "))?;
    }
    writeln!(
        w,
        "\n## Latency of multiexit and its prunings\n\nOne 16×16 glyph per call, each model's \
         fastest of {} interleaved rounds; natively on the runtime (tract) and in wasm (the npm \
         package in Node, `tests/bench/latency.mjs`), on this machine.\n",
        if options.quick { 1 } else { 5 }
    )?;
    writeln!(w, "| model | native ms | wasm ms | wasm change |")?;
    writeln!(w, "| --- | --- | --- | --- |")?;
    let full_wasm = latency.wasm[0];
    for ((label, n), m) in latency
        .labels
        .iter()
        .zip(&latency.native)
        .zip(&latency.wasm)
    {
        writeln!(
            w,
            "| {label} | {n:.4} | {m:.4} | {:+.1} % |",
            100.0 * (m / full_wasm - 1.0)
        )?;
    }
    let snf_wasm = latency
        .labels
        .iter()
        .position(|l| *l == Method::Snf.id())
        .map(|i| latency.wasm[i])
        .unwrap_or(f64::NAN);
    writeln!(w)?;
    let mut parts = vec![];
    let mut misses = vec![];
    for r in rows {
        let Some(p) = r.of(Method::Snf) else { continue };
        let drop = 100.0 * (r.full - p.metric);
        let met = drop <= 1.0 && p.cost <= BUDGET + 1e-9;
        parts.push((
            format!(
                "{}: SNF within 1 pt of the full model at ≤ {:.0} % of the operations",
                r.target,
                100.0 * BUDGET
            ),
            met,
            format!("{:+.2} pts at {:.1} %", -drop, 100.0 * p.cost),
        ));
        if !met {
            let others: Vec<String> = r
                .prunings
                .iter()
                .filter(|q| q.method != Method::Snf)
                .map(|q| format!("{} {:+.2}", q.method.id(), 100.0 * (q.metric - r.full)))
                .collect();
            misses.push(format!(
                "{} lost {drop:.2} pts with SNF, the mean of {} seeds ({} pts with the \
                 baselines){}",
                r.target,
                p.seeds.len(),
                others.join(", "),
                narrowest(r, p)
            ));
        }
    }
    parts.push((
        "the pruned model's wasm latency measured below the full model's".into(),
        snf_wasm < full_wasm,
        format!(
            "{snf_wasm:.4} ms against {full_wasm:.4} ms ({:+.1} %)",
            100.0 * (snf_wasm / full_wasm - 1.0)
        ),
    ));
    if snf_wasm >= full_wasm {
        misses.push("the pruned model was not faster in wasm".into());
    }
    write_bar(&mut w, &parts, &misses.join("; "))?;
    writeln!(
        w,
        "What differs from the paper: SNF's search and fine-tuning ran on ResNets over \
         CIFAR-10 and ImageNet for many epochs with labels; here the models are the catalogue's \
         small CNNs, the counts come from one-layer-at-a-time sensitivities on calibration \
         images, and fine-tuning matches the full model's outputs (no labels) for the same \
         number of steps for every method."
    )?;
    Ok(w)
}
