//! AQuant: post-training quantization with learned activation rounding borders.
//!
//! Rounding to nearest puts the border between two integer levels at 0.5; AQuant learns where
//! each activation channel's border should be so that the quantized network's outputs stay
//! closest to the float network's, on a few unlabelled calibration images. The method here
//! ([`crate::quant`]) learns the weights' rounding as AdaRound does and the borders of every
//! weight layer's input, and exports them with `ai.edgewise::BorderRound` and int8 weights
//! behind `DequantizeLinear`.
//!
//! `cargo xtask quantize <system> --wbits W --abits A` quantizes any catalogue CNN
//! ([`targets::TARGETS`]); `train aquant` ships `multiexit` at W4A4 as `onnx/aquant.onnx`
//! (the same outputs `exit0`, `exit1`, `logits`, so it runs stage by stage like the float
//! one); `reproduce aquant` compares round-to-nearest, AdaRound and AQuant at W8A8, W4A4 and
//! W2A4 on every target.

mod reproduce;
pub mod targets;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::prelude::*;
use edgewise_data::graded::{self, CLASSES, SIDE};
use serde::Serialize;
use serde_json::json;

pub use reproduce::reproduce;
pub use targets::{TARGETS, Target};

use crate::export::{Entry, Signature};
use crate::quant::{self, Bits, Float, Graph, Method, Quantized, Schedule};
use crate::run::{History, TrainOptions};
use crate::systems::{Parity, Trained, multiexit, round4};

/// The system's name.
pub const NAME: &str = "aquant";
/// The model `train` quantizes.
pub const SOURCE: &str = "multiexit";
/// The bit widths of the shipped model.
pub const BITS: Bits = Bits {
    weights: 4,
    activations: 4,
};

/// The configuration of one quantization.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// The quantized system.
    pub source: &'static str,
    /// Bit widths.
    pub bits: Bits,
    /// The method.
    pub method: Method,
    /// Calibration batches (of the target's batch size).
    pub batches: usize,
    /// The learned methods' schedule.
    pub schedule: Schedule,
}

impl Config {
    /// The configuration for `target` at `bits` by `method`.
    pub fn new(options: &TrainOptions, target: &Target, bits: Bits, method: Method) -> Config {
        let mut schedule = Schedule::new(options.quick);
        if !options.quick {
            schedule.steps = options.epochs.unwrap_or(target.steps);
        }
        Config {
            source: target.id,
            bits,
            method,
            batches: if options.quick { 2 } else { 16 },
            schedule,
        }
    }
}

/// The configuration `train` uses.
pub fn config(options: &TrainOptions) -> Config {
    let target = targets::find(SOURCE).expect("the source is a target");
    Config::new(options, target, BITS, Method::AQuant)
}

/// A float model, its quantization by `config` and the metric of both (and of
/// round-to-nearest at the same bits, which `train` records beside it).
pub struct Outcome {
    /// The float model read back.
    pub graph: Graph,
    /// The quantized model.
    pub quantized: Quantized,
    /// The float model's metric.
    pub float: f64,
    /// The quantized model's metric.
    pub metric: f64,
    /// The relative squared error of its outputs against the float model's, on calibration
    /// images it did not see (another seed).
    pub error: f64,
}

/// Quantizes the float ONNX `bytes` of `target` by `config`.
pub fn run(
    bytes: &[u8],
    target: &Target,
    config: &Config,
    options: &TrainOptions,
) -> Result<Outcome> {
    let graph = Graph::read(bytes).with_context(|| format!("reading {}", target.id))?;
    let device = crate::systems::device(options)?;
    let calibration = target.calibration(config.batches, options.seed, &device)?;
    let quantized = quant::quantize(
        &graph,
        &calibration,
        target.outputs,
        config.bits,
        config.method,
        &config.schedule,
    )?;
    let float = target.evaluate(&graph, &Float(&graph), options.quick)?;
    let metric = target.evaluate(&graph, &(&graph, &quantized), options.quick)?;
    let held_out = target.calibration(4, options.seed + 1, &Device::flex())?;
    let error = quant::output_error(&graph, &quantized, &held_out, target.outputs)?;
    Ok(Outcome {
        graph,
        quantized,
        float,
        metric,
        error,
    })
}

/// The float model of `system` in `dir`, with a hint when it is missing.
pub fn source_model(dir: &Path, system: &str) -> Result<Vec<u8>> {
    let path = dir.join(format!("{system}.onnx"));
    std::fs::read(&path).with_context(|| {
        format!(
            "reading {}: quantization starts from a trained model (`cargo xtask train {system}`)",
            path.display()
        )
    })
}

/// `cargo xtask quantize`: quantizes `onnx_dir/<system>.onnx` and writes
/// `out/<system>-w<W>a<A>.onnx`; returns its path and the float and quantized metrics.
pub fn quantize_system(
    system: &str,
    bits: Bits,
    method: Method,
    options: &TrainOptions,
    out: &Path,
) -> Result<(PathBuf, f64, f64, &'static str)> {
    let target = targets::find(system)?;
    let config = Config::new(options, target, bits, method);
    let outcome = run(
        &source_model(&options.onnx_dir, system)?,
        target,
        &config,
        options,
    )?;
    let bytes = quant::write(
        &outcome.graph,
        &outcome.quantized,
        &[("command", options.command.clone())],
    )?;
    std::fs::create_dir_all(out)?;
    let path = out.join(format!(
        "{system}-w{}a{}.onnx",
        bits.weights, bits.activations
    ));
    std::fs::write(&path, bytes)?;
    Ok((path, outcome.float, outcome.metric, target.metric))
}

/// The exported model run by the runtime (tract natively, `BorderRound` on its CPU kernel)
/// against burn's evaluation of the same quantized graph, on the glyph test set: the share
/// of glyphs with the same class and the largest logit difference.
pub fn runtime_agreement(bytes: &[u8], outcome: &Outcome, quick: bool) -> Result<(f64, f32)> {
    use edgewise_runtime::{Session, SessionOptions, Tensor as HostTensor};
    let n = if quick { 200 } else { 4_000 };
    let test = graded::split(n, 0x7465_7374).map_err(anyhow::Error::msg)?;
    let mut session = Session::new(bytes, &SessionOptions::default())?;
    let device = Device::flex();
    let hook = (&outcome.graph, &outcome.quantized);
    let (mut same, mut worst) = (0usize, 0f32);
    for start in (0..n).step_by(500) {
        let end = (start + 500).min(n);
        let pixels: Vec<f32> = (start..end)
            .flat_map(|i| multiexit::image(&test, i).to_vec())
            .collect();
        let m = end - start;
        let x =
            Tensor::<4>::from_data(TensorData::new(pixels.clone(), [m, 1, SIDE, SIDE]), &device);
        let want = outcome.graph.forward(x, &["logits"], &hook)?[0].to_vec()?;
        let feeds = vec![(
            "image".to_string(),
            HostTensor::f32(pixels, vec![m, 1, SIDE, SIDE])?,
        )];
        let out = session.run(feeds)?;
        let got = out
            .iter()
            .find(|(name, _)| name == "logits")
            .and_then(|(_, t)| t.as_f32())
            .context("the exported model gave no float32 logits")?;
        for (a, b) in got.chunks(CLASSES).zip(want.chunks(CLASSES)) {
            same += usize::from(crate::systems::argmax(a) == crate::systems::argmax(b));
            for (x, y) in a.iter().zip(b) {
                worst = worst.max((x - y).abs());
            }
        }
    }
    Ok((same as f64 / n as f64, worst))
}

/// The canonical command that reproduces `train aquant`.
pub fn command(options: &TrainOptions) -> String {
    format!(
        "cargo xtask train {NAME}{} --seed {}",
        if options.quick { " --quick" } else { "" },
        options.seed
    )
}

fn signatures() -> Vec<Signature> {
    multiexit::EXITS
        .iter()
        .map(|name| Signature::batch(name, &[CLASSES]))
        .collect()
}

/// Quantizes the shipped `multiexit` at W4A4 with AQuant and exports it; the metrics record
/// the float model and round-to-nearest beside it.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let config = config(options);
    let target = targets::find(SOURCE)?;
    let bytes = match source_model(&options.onnx_dir, SOURCE) {
        Ok(bytes) => bytes,
        // A quick run (CI, the pages' stand-ins) quantizes a quick-trained float model.
        Err(_) if options.quick => multiexit::parity(options)?.bytes,
        Err(e) => return Err(e),
    };
    let outcome = run(&bytes, target, &config, options)?;
    let nearest = Config {
        method: Method::Nearest,
        ..config.clone()
    };
    let baseline = run(&bytes, target, &nearest, options)?;
    let probe = quant::write(&outcome.graph, &outcome.quantized, &[])?;
    let (agreement, max_diff) = runtime_agreement(&probe, &outcome, options.quick)?;
    let metrics = json!({
        "accuracy": round4(outcome.metric),
        "float_accuracy": round4(outcome.float),
        "nearest_accuracy": round4(baseline.metric),
        "flipped_weights": round4(quant::flipped(&outcome.graph, &outcome.quantized)),
        "runtime_agreement": round4(agreement),
        "runtime_max_logit_diff": max_diff,
    });
    let model = quant::write(
        &outcome.graph,
        &outcome.quantized,
        &[
            ("system", NAME.to_string()),
            ("command", command(options)),
            ("metrics", metrics.to_string()),
        ],
    )?;
    let mut history = History::new(&["float", "nearest", "aquant"]);
    history.push(0, &[outcome.float, baseline.metric, outcome.metric])?;
    let parameters = outcome.graph.layers.iter().map(|l| l.values.len()).sum();
    let entry = Entry {
        system: NAME,
        inputs: vec![Signature::batch("image", &[1, SIDE, SIDE])],
        outputs: signatures(),
        description: format!(
            "The multiexit glyph classifier quantized to {} by AQuant: int8-stored {}-bit \
             weights (per output channel, DequantizeLinear) with learned rounding, and every \
             weight layer's input rounded to {} bits at learned per-channel borders \
             (BorderRound, edgewise op). Same outputs as multiexit (exit0, exit1, logits).",
            BITS.label(),
            BITS.weights,
            BITS.activations
        ),
        provenance: format!(
            "quantized by `{}` from onnx/{SOURCE}.onnx on {} unlabelled calibration glyphs \
             generated by crates/edgewise-data (graded.rs); tested on multiexit's 4000 test \
             glyphs",
            command(options),
            config.batches * target.batch
        ),
        parameters,
        flops: 2 * multiexit::MultiExit::macs(&multiexit::Config::new(options))[2],
        metrics,
        extra: json!({
            "source": SOURCE,
            "method": config.method.id(),
            "weightBits": BITS.weights,
            "activationBits": BITS.activations,
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

/// Tolerance of the quantized logits: the float chain's 1e-3 of `multiexit` (burn and tract
/// sum convolutions in other orders), since both runtimes quantize the same float values at
/// the same borders: a value that lands within rounding noise of a border could still round
/// the other way and move a logit by one step, which would fail the check and show.
pub const TOLERANCES: [(&str, f32); 3] = [("exit0", 1e-3), ("exit1", 1e-3), ("logits", 1e-3)];

/// A quick-trained multiexit quantized quickly, and 8 parity cases computed by burn on the
/// quantized graph.
pub fn parity(options: &TrainOptions) -> Result<Parity> {
    let float = multiexit::parity(options)?;
    let target = targets::find(SOURCE)?;
    let outcome = run(&float.bytes, target, &config(options), options)?;
    let bytes = quant::write(
        &outcome.graph,
        &outcome.quantized,
        &[("system", NAME.to_string())],
    )?;
    let hook = (&outcome.graph, &outcome.quantized);
    let cases = multiexit::graph_cases(&outcome.graph, &hook, &float.cases)?;
    Ok(Parity {
        bytes,
        cases,
        tolerances: &TOLERANCES,
    })
}

catalogue_system!(
    "AQuant: learned activation rounding borders for PTQ",
    |options| config(options)
);

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TrainOptions {
        crate::systems::shipped_options(NAME)
    }

    #[test]
    fn the_written_model_runs_in_the_runtime_as_burn_evaluates_it() {
        let options = options();
        let target = targets::find(SOURCE).unwrap();
        let bytes = source_model(&options.onnx_dir, SOURCE).unwrap();
        let config = Config::new(&options, target, BITS, Method::Nearest);
        let outcome = run(&bytes, target, &config, &options).unwrap();
        // Round-to-nearest at W4A4 changes the shipped float model's answers on few glyphs.
        assert!(
            outcome.metric > outcome.float - 0.1,
            "{} against {}",
            outcome.metric,
            outcome.float
        );
        assert!(
            outcome.error > 0.0 && outcome.error < 0.2,
            "{}",
            outcome.error
        );
        let written = quant::write(&outcome.graph, &outcome.quantized, &[]).unwrap();
        let (agreement, max_diff) = runtime_agreement(&written, &outcome, true).unwrap();
        assert_eq!(agreement, 1.0);
        assert!(max_diff < 1e-3, "{max_diff}");
    }

    #[test]
    fn systems_that_are_not_cnns_are_refused_by_name() {
        let err = quantize_system(
            "kno",
            BITS,
            Method::AQuant,
            &options(),
            Path::new("target/unused"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("'kno' is not a CNN"), "{err}");
        assert!(err.contains("defect, multiexit, exitdoor"), "{err}");
    }
}
