//! Dynamic multi-exit inference: a classifier with exits after its early blocks, run by the
//! runtime stage by stage until an exit is confident enough (`run(feeds, { exitThreshold })`).
//! Easy inputs leave early and cost less; hard ones run the whole net.
//!
//! The net ([`MultiExit`]): three blocks of two 3×3 convolutions with batch norm and ReLU
//! (16×16 → 8×8 → 4×4), an exit (one fully connected layer on the block's 4×4 maps) after
//! each; the last exit is the full model. Trained on the sum of the exits' cross-entropies, on
//! the 40-class graded glyph task of [`edgewise_data::graded`] (samples from clean to very
//! noisy). The threshold shipped in the manifest is chosen on a validation set (not the test
//! set): the lowest whose accuracy stays within half a point of the full model's.
//!
//! Export: input `image` `[batch, 1, 16, 16]`; outputs `exit0`, `exit1`, `logits`
//! (`[batch, 40]` each), named as exits by the metadata `edgewise.exits`.

mod fit;
mod model;
mod reproduce;

use anyhow::Result;
use burn::prelude::*;
use edgewise_data::graded::{self, CLASSES, SIDE};
use edgewise_tasks::multiexit::point;
use serde::Serialize;
use serde_json::json;

pub use fit::{Data, accuracy, exit_logits, fit, image};
pub use model::MultiExit;
pub use reproduce::reproduce;

use crate::emit::{Emitter, values};
use crate::export::{Entry, Signature};
use crate::parity::{Array, Case};
use crate::quant::{Graph, Hook};
use crate::run::TrainOptions;
use crate::systems::{Parity, Trained, to_tensor};

/// The system's name.
pub const NAME: &str = "multiexit";
/// The exported exits, in the order the model computes them.
pub const EXITS: [&str; 3] = ["exit0", "exit1", "logits"];
/// Thresholds tried when choosing the shipped one and in the reproduction's curve.
pub const THRESHOLDS: [f32; 14] = [
    0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999,
];

/// Training configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Training samples.
    pub train: usize,
    /// Validation samples (threshold choice) and test samples (results), each.
    pub test: usize,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Adam's peak learning rate (cosine decay to 0 over the run).
    pub lr: f64,
    /// Channels of the three blocks.
    pub channels: [usize; 3],
    /// Weight of each exit's cross-entropy in the loss.
    pub exit_weights: [f32; 3],
}

impl Config {
    /// The default configuration, or the seconds-long one for CI.
    pub fn new(options: &TrainOptions) -> Config {
        let (train, test, epochs) = if options.quick {
            (400, 200, 1)
        } else {
            (24_000, 4_000, 10)
        };
        Config {
            train,
            test,
            epochs: options.epochs.unwrap_or(epochs),
            batch: 64,
            lr: 3e-3,
            channels: [16, 32, 64],
            exit_weights: [1.0, 1.0, 1.0],
        }
    }
}

/// Writes the ONNX model: input `image`, outputs [`EXITS`], listed as exits in its metadata.
pub fn export(
    model: &MultiExit,
    options: &TrainOptions,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>> {
    export_as(NAME, &command(options), model, metadata)
}

/// Writes a multi-exit glyph net as the model of system `system`, trained by `command`:
/// input `image`, outputs [`EXITS`], listed as exits in its metadata.
pub fn export_as(
    system: &str,
    command: &str,
    model: &MultiExit,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>> {
    let mut e = Emitter::new(system);
    let x = e.input("image", &[1, SIDE, SIDE]);
    let exits = model.emit(&mut e, &x)?;
    for (value, name) in exits.iter().zip(EXITS) {
        e.output(value, name, &[CLASSES])?;
    }
    e.metadata(edgewise_runtime::EXITS_METADATA_KEY, &EXITS.join(","));
    e.provenance(system, command, metadata);
    Ok(e.finish())
}

/// The canonical command that reproduces a run.
pub fn command(options: &TrainOptions) -> String {
    super::train_command(NAME, options, Config::new(options).epochs)
}

/// The validation set of a run: drawn from its own seed, used only to choose the threshold.
pub fn validation(config: &Config, seed: u64) -> Result<graded::Graded> {
    graded::split(config.test, seed ^ 0x7661_6c69).map_err(anyhow::Error::msg)
}

/// The lowest of [`THRESHOLDS`] whose accuracy on `set` is within `slack` of the full
/// model's (the last exit's), costs being multiply-adds.
pub fn choose_threshold(
    model: &MultiExit,
    config: &Config,
    set: &graded::Graded,
    slack: f64,
) -> Result<f32> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    let logits = exit_logits(&model, set, &device)?;
    let full = accuracy(logits.last().expect("exits"), &set.labels);
    let cost = MultiExit::macs(config).map(|m| m as f64);
    Ok(THRESHOLDS
        .iter()
        .copied()
        .find(|&t| point(&logits, &set.labels, &cost, t).accuracy >= full - slack)
        .unwrap_or(1.0))
}

/// Trains the multi-exit net and exports it.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let config = Config::new(options);
    let data = Data::new(&config, options.seed)?;
    let (model, history) = fit(options, &config, &data, NAME)?;
    let threshold = choose_threshold(&model, &config, &validation(&config, options.seed)?, 0.005)?;
    let device = Device::flex();
    let logits = exit_logits(&model.valid().to_device(&device), &data.test, &device)?;
    let macs = MultiExit::macs(&config);
    let cost = macs.map(|m| m as f64);
    let at = point(&logits, &data.test.labels, &cost, threshold);
    let full = accuracy(logits.last().expect("exits"), &data.test.labels);
    let metrics = json!({
        "accuracy_per_exit": EXITS.iter().map(|e| super::round4(history.last(&format!("acc_{}", exit_column(e))).unwrap_or(f64::NAN))).collect::<Vec<_>>(),
        "full_accuracy": super::round4(full),
        "threshold": super::round4(threshold as f64),
        "accuracy_at_threshold": super::round4(at.accuracy),
        "macs_saved_at_threshold": super::round4(1.0 - at.mean_cost / cost[2]),
        "exit_share_at_threshold": at.share.iter().map(|&s| super::round4(s)).collect::<Vec<_>>(),
        "test_images": config.test,
        "epochs": config.epochs,
    });
    let bytes = export(&model, options, &[("metrics", metrics.to_string())])?;
    let parameters = model.num_params();
    let entry = Entry {
        system: NAME,
        inputs: vec![Signature::batch("image", &[1, SIDE, SIDE])],
        outputs: EXITS
            .iter()
            .map(|e| Signature::batch(e, &[CLASSES]))
            .collect(),
        description: "Multi-exit classifier of 40 glyph classes (digits, letters, shapes, \
             symbols) at 16x16: three blocks of two 3x3 convs (batch norm folded, ReLU) with an \
             exit after each (a fully connected layer on 4x4 maps). Outputs exit0, exit1 and \
             logits are the exits' logits, listed in the metadata edgewise.exits: \
             run(feeds, { exitThreshold }) stops at the first exit whose largest softmax \
             probability reaches the threshold."
            .into(),
        provenance: format!(
            "trained by `{}` on {} generated graded glyph images (crates/edgewise-data \
             graded.rs), threshold chosen on {} validation images, tested on {} more",
            command(options),
            config.train,
            config.test,
            config.test
        ),
        parameters,
        flops: 2 * macs[2],
        metrics,
        extra: json!({
            "exits": EXITS,
            "threshold": super::round4(threshold as f64),
            "macs": macs,
            "classes": (0..CLASSES).map(graded::class_name).collect::<Vec<_>>(),
        }),
        command: command(options),
    };
    Ok(Trained {
        entry,
        bytes,
        history,
    })
}

/// The history column of an exported exit's accuracy.
fn exit_column(exit: &str) -> &'static str {
    match exit {
        "exit0" => "exit0",
        "exit1" => "exit1",
        _ => "exit2",
    }
}

/// Tolerances of the parity checks: logits of three convolutions and a fully connected layer
/// with batch norm folded (burn normalizes apart), values of a few units.
pub const TOLERANCES: [(&str, f32); 3] = [("exit0", 1e-3), ("exit1", 1e-3), ("logits", 1e-3)];

/// `n` parity cases: test images through the net in burn.
pub fn parity_cases(model: &MultiExit, set: &graded::Graded, n: usize) -> Result<Vec<Case>> {
    parity_cases_of(model, (0..n.min(set.n)).map(|i| image(set, i)))
}

/// One parity case per glyph of `glyphs`: the glyph through the net in burn.
pub fn parity_cases_of<'a>(
    model: &MultiExit,
    glyphs: impl Iterator<Item = &'a [f32]>,
) -> Result<Vec<Case>> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    glyphs
        .map(|pixels| {
            let x = to_tensor(std::iter::once(pixels), [1, SIDE, SIDE], &device);
            let outs = model.forward(x);
            Ok(Case {
                inputs: vec![Array::new("image", &[1, 1, SIDE, SIDE], pixels.to_vec())],
                outputs: outs
                    .iter()
                    .zip(EXITS)
                    .map(|(t, name)| Ok(Array::new(name, &[1, CLASSES], values(t)?)))
                    .collect::<Result<Vec<_>>>()?,
            })
        })
        .collect()
}

/// The parity cases of a model with the net's inputs and outputs read back as a [`Graph`]
/// (quantized or pruned): the inputs of `cases` through `graph` with `hook`, in burn.
pub fn graph_cases(graph: &Graph, hook: &dyn Hook, cases: &[Case]) -> Result<Vec<Case>> {
    let device = Device::flex();
    cases
        .iter()
        .map(|case| {
            let x = to_tensor(
                case.inputs.iter().map(|a| a.data.as_slice()),
                [1, SIDE, SIDE],
                &device,
            );
            let outs = graph.forward(x, &EXITS, hook)?;
            Ok(Case {
                inputs: case.inputs.clone(),
                outputs: outs
                    .iter()
                    .zip(EXITS)
                    .map(|(v, name)| Ok(Array::new(name, &[1, CLASSES], v.to_vec()?)))
                    .collect::<Result<Vec<_>>>()?,
            })
        })
        .collect()
}

/// A quick-trained net and 8 parity cases.
pub fn parity(options: &TrainOptions) -> Result<Parity> {
    let config = Config::new(options);
    let data = Data::new(&config, options.seed)?;
    let (model, _) = fit(options, &config, &data, NAME)?;
    let bytes = export(&model, options, &[])?;
    Ok(Parity {
        bytes,
        cases: parity_cases(&model, &data.test, 8)?,
        tolerances: &TOLERANCES,
    })
}

catalogue_system!("Dynamic multi-exit inference", |options| Config::new(
    options
));
