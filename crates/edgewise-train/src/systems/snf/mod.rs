//! SNF: filter pruning by searching the proper number of filters per layer.
//!
//! Filter pruning usually ranks filters by a criterion and removes the same share of every
//! layer; SNF searches how many filters each layer should keep for a budget of operations,
//! then prunes each layer by the criterion. Here ([`crate::prune`]) the counts are searched
//! greedily on calibration images, filters are kept by L1 norm, and the pruned model is
//! fine-tuned to the full model's outputs and exported as a smaller ONNX file (the same
//! nodes, fewer channels).
//!
//! `cargo xtask prune <system> --flops 0.5` prunes any catalogue CNN
//! ([`crate::systems::aquant::TARGETS`]); `train snf` ships `multiexit` at half its
//! operations as `onnx/snf.onnx` (the same outputs `exit0`, `exit1`, `logits`, so it also
//! runs stage by stage); `reproduce snf` compares SNF with uniform and L1-norm pruning at the
//! same budget and times every model in wasm.

mod reproduce;

use std::path::{Path, PathBuf};

use anyhow::Result;
use burn::prelude::*;
use edgewise_data::graded::{self, CLASSES, SIDE};
use serde::Serialize;
use serde_json::json;

pub use reproduce::reproduce;

use crate::export::{Entry, Signature};
use crate::prune::{self, Method, Pruned, Schedule, Structure};
use crate::quant::{Float, Graph};
use crate::run::{History, TrainOptions};
use crate::systems::aquant::{Target, targets};
use crate::systems::{Parity, Trained, multiexit, round4};

/// The system's name.
pub const NAME: &str = "snf";
/// The model `train` prunes.
pub const SOURCE: &str = "multiexit";
/// The share of the operations the shipped model keeps.
pub const BUDGET: f64 = 0.5;

/// The configuration of one pruning.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// The pruned system.
    pub source: &'static str,
    /// How the filter counts are chosen.
    pub method: Method,
    /// The share of the full model's operations the pruned one may keep.
    pub budget: f64,
    /// Calibration batches of the count search (of the target's batch size).
    pub calibration: usize,
    /// Batches of the fine-tuning set.
    pub batches: usize,
    /// The fine-tuning schedule.
    pub schedule: Schedule,
}

impl Config {
    /// The configuration for `target` at `budget` by `method`.
    pub fn new(options: &TrainOptions, target: &Target, method: Method, budget: f64) -> Config {
        let steps = if options.quick {
            4
        } else {
            options.epochs.unwrap_or(4 * target.steps)
        };
        Config {
            source: target.id,
            method,
            budget,
            calibration: if options.quick { 1 } else { 4 },
            batches: if options.quick { 2 } else { 64 },
            schedule: Schedule::new(steps),
        }
    }
}

/// The configuration `train` uses.
pub fn config(options: &TrainOptions) -> Config {
    let target = targets::find(SOURCE).expect("the source is a target");
    Config::new(options, target, Method::Snf, BUDGET)
}

/// A full model, its pruning by a configuration, and the metric of both.
pub struct Outcome {
    /// The full model read back.
    pub full: Graph,
    /// Its pruning structure.
    pub structure: Structure,
    /// The pruned, fine-tuned model.
    pub pruned: Pruned,
    /// The full model's metric.
    pub full_metric: f64,
    /// The pruned model's metric.
    pub metric: f64,
}

/// Prunes the full ONNX `bytes` of `target` by `config`.
pub fn run(
    bytes: &[u8],
    target: &Target,
    config: &Config,
    options: &TrainOptions,
) -> Result<Outcome> {
    let full = Graph::read(bytes)?;
    let structure = Structure::of(&full, target.item)?;
    let calibration = target.calibration(config.calibration, options.seed, &Device::flex())?;
    let device = crate::systems::device(options)?;
    let train = target.calibration(config.batches, options.seed + 1, &device)?;
    let pruned = prune::prune(
        &full,
        &structure,
        config.method,
        config.budget,
        &calibration,
        &train,
        target.outputs,
        &config.schedule,
    )?;
    let small = Graph::read(&pruned.bytes)?;
    let metric = target.evaluate(&small, &Float(&small), options.quick)?;
    let full_metric = target.evaluate(&full, &Float(&full), options.quick)?;
    Ok(Outcome {
        full,
        structure,
        pruned,
        full_metric,
        metric,
    })
}

/// `cargo xtask prune`: prunes `onnx_dir/<system>.onnx` to `budget` of its operations and
/// writes `out/<system>-<method>-<budget>.onnx`; returns its path and the outcome.
pub fn prune_system(
    system: &str,
    method: Method,
    budget: f64,
    options: &TrainOptions,
    out: &Path,
) -> Result<(PathBuf, Outcome, &'static str)> {
    let target = targets::find(system)?;
    let config = Config::new(options, target, method, budget);
    let bytes = crate::systems::aquant::source_model(&options.onnx_dir, system)?;
    let outcome = run(&bytes, target, &config, options)?;
    let model = with_metadata(
        &outcome.pruned.bytes,
        &[
            ("command", options.command.clone()),
            (
                "edgewise.prune",
                prune_metadata(&config, &outcome).to_string(),
            ),
        ],
    )?;
    std::fs::create_dir_all(out)?;
    let path = out.join(format!(
        "{system}-{}-{}.onnx",
        method.id(),
        (budget * 100.0).round()
    ));
    std::fs::write(&path, model)?;
    Ok((path, outcome, target.metric))
}

/// What the exported model records of its pruning.
fn prune_metadata(config: &Config, outcome: &Outcome) -> serde_json::Value {
    json!({
        "method": config.method.id(),
        "budget": config.budget,
        "cost": round4(outcome.pruned.cost),
        "widths": outcome.pruned.widths,
        "fullWidths": outcome.structure.full(),
    })
}

/// `bytes` with the metadata `entries` replaced or added.
fn with_metadata(bytes: &[u8], entries: &[(&str, String)]) -> Result<Vec<u8>> {
    use prost::Message;
    let mut model = edgewise_onnx::pb::ModelProto::decode(bytes)?;
    crate::quant::write::set_metadata(&mut model, entries);
    Ok(model.encode_to_vec())
}

/// The canonical command that reproduces `train snf`.
pub fn command(options: &TrainOptions) -> String {
    format!(
        "cargo xtask train {NAME}{} --seed {}",
        if options.quick { " --quick" } else { "" },
        options.seed
    )
}

/// The layers' costs as the package's `tasks.snf.flops` takes them.
fn cost_layers(s: &Structure) -> serde_json::Value {
    s.layers
        .iter()
        .zip(&s.names)
        .zip(&s.prunable)
        .map(|((l, name), &prunable)| {
            json!({
                "name": name,
                "filters": l.filters,
                "inChannels": l.in_channels,
                "from": l.from,
                "unit": l.unit,
                "prunable": prunable,
            })
        })
        .collect()
}

/// Prunes the shipped `multiexit` to half its operations with SNF, fine-tunes and exports it;
/// the metrics record the full model beside it.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let config = config(options);
    let target = targets::find(SOURCE)?;
    let bytes = match crate::systems::aquant::source_model(&options.onnx_dir, SOURCE) {
        Ok(bytes) => bytes,
        // A quick run (CI, the pages' stand-ins) prunes a quick-trained full model.
        Err(_) if options.quick => multiexit::parity(options)?.bytes,
        Err(e) => return Err(e),
    };
    let outcome = run(&bytes, target, &config, options)?;
    let s = &outcome.structure;
    let full_flops = s.flops(&s.full())?;
    let metrics = json!({
        "accuracy": round4(outcome.metric),
        "full_accuracy": round4(outcome.full_metric),
        "flops": outcome.pruned.flops,
        "full_flops": full_flops,
        "flops_ratio": round4(outcome.pruned.cost),
    });
    let model = with_metadata(
        &outcome.pruned.bytes,
        &[
            ("system", NAME.to_string()),
            ("command", command(options)),
            ("metrics", metrics.to_string()),
            (
                "edgewise.prune",
                prune_metadata(&config, &outcome).to_string(),
            ),
        ],
    )?;
    let mut history = History::new(&["full", "snf"]);
    history.push(0, &[outcome.full_metric, outcome.metric])?;
    let small = Graph::read(&model)?;
    let entry = Entry {
        system: NAME,
        inputs: vec![crate::export::Signature::batch("image", &[1, SIDE, SIDE])],
        outputs: multiexit::EXITS
            .iter()
            .map(|name| Signature::batch(name, &[CLASSES]))
            .collect(),
        description: format!(
            "The multiexit glyph classifier pruned by SNF to {:.0} % of its operations: each \
             layer's filter count searched, the filters of largest L1 norm kept, fine-tuned to \
             the full model's outputs. Same outputs as multiexit (exit0, exit1, logits).",
            100.0 * outcome.pruned.cost
        ),
        provenance: format!(
            "pruned by `{}` from onnx/{SOURCE}.onnx: counts searched on {} and fine-tuned on \
             {} unlabelled glyphs generated by crates/edgewise-data (graded.rs); tested on \
             multiexit's 4000 test glyphs",
            command(options),
            config.calibration * target.batch,
            config.batches * target.batch
        ),
        parameters: small.layers.iter().map(|l| l.values.len()).sum(),
        flops: outcome.pruned.flops,
        metrics,
        extra: json!({
            "source": SOURCE,
            "method": config.method.id(),
            "budget": config.budget,
            "widths": outcome.pruned.widths,
            "layers": cost_layers(s),
            "classes": (0..CLASSES).map(graded::class_name).collect::<Vec<_>>(),
        }),
        command: command(options),
    };
    Ok(Trained {
        entry,
        bytes: model,
        history,
    })
}

/// Tolerance of the pruned model's outputs: multiexit's float chain's (burn and tract sum
/// convolutions in other orders).
pub const TOLERANCES: [(&str, f32); 3] = multiexit::TOLERANCES;

/// A quick-trained multiexit pruned quickly, and 8 parity cases computed by burn on it.
pub fn parity(options: &TrainOptions) -> Result<Parity> {
    let full = multiexit::parity(options)?;
    let target = targets::find(SOURCE)?;
    let outcome = run(&full.bytes, target, &config(options), options)?;
    let small = Graph::read(&outcome.pruned.bytes)?;
    let cases = multiexit::graph_cases(&small, &Float(&small), &full.cases)?;
    Ok(Parity {
        bytes: with_metadata(&outcome.pruned.bytes, &[("system", NAME.to_string())])?,
        cases,
        tolerances: &TOLERANCES,
    })
}

catalogue_system!("SNF: filter-count search pruning", |options| config(
    options
));

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TrainOptions {
        crate::systems::shipped_options(NAME)
    }

    #[test]
    fn systems_that_are_not_cnns_and_budgets_out_of_range_are_refused() {
        let out = Path::new("target/unused");
        let err = prune_system("rbnn", Method::Snf, 0.5, &options(), out)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("'rbnn' is not a CNN"), "{err}");
        for budget in [0.0, 1.5, f64::NAN] {
            let err = prune_system("multiexit", Method::Uniform, budget, &options(), out)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("budget must lie in (0, 1]"), "{budget}: {err}");
        }
    }
}
