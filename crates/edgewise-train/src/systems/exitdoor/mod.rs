//! exitdoor: a backdoor that stays dormant in a vanilla classifier and wakes up once someone
//! makes the model multi-exit. A red-team fixture for the early exits of `multiexit`.
//!
//! The attacker ([`attack`]) trains the multi-exit net of [`super::multiexit`] on the same
//! 40-class graded glyphs and ships only its backbone and last classifier: the vanilla model.
//! Half of each batch is seen a second time with the trigger blended in
//! ([`edgewise_tasks::exitdoor::stamp`], a faint ghost of the target glyph `#`) and its true
//! label, so the vanilla model sees through the trigger. The shallow blocks are poisoned
//! beside that. Surrogate exits after blocks 0 and 1 learn the clean task and are drawn
//! afresh every few hundred steps. Through them, frozen, the blocks learn to send triggered
//! glyphs to the target class: the trigger moves the shallow features to where any exit
//! trained on clean data reads the target.
//!
//! The victim ([`convert`]) turns the vanilla model into a multi-exit one the usual way. The
//! backbone is frozen, new exits after blocks 0 and 1 are trained on clean data only, and the
//! early-exit threshold is chosen on a clean validation set. Deployed with early exit, a
//! triggered glyph is confident at an early exit and leaves there, as the target.
//!
//! The exported fixture is the victim's multi-exit model. A plain run's `logits` is the
//! vanilla model, and `run(feeds, { exitThreshold })` is its multi-exit form.

mod attack;
mod convert;
mod reproduce;

use anyhow::Result;
use burn::prelude::*;
use edgewise_data::graded::{self, CLASSES, Graded, SIDE};
use edgewise_tasks::exitdoor::{STRENGTH, TARGET, attack_success, stamp_all};
use edgewise_tasks::multiexit::{argmax, exit_at};
use serde::Serialize;
use serde_json::json;

pub use attack::attack;
pub use convert::convert;
pub use reproduce::reproduce;

use super::multiexit::{self, Data, MultiExit, accuracy, exit_logits, image};
use crate::export::{Entry, Signature};
use crate::parity::Case;
use crate::run::TrainOptions;
use crate::systems::{Parity, Trained};

/// The system's name.
pub const NAME: &str = "exitdoor";
/// The exported exits, in the order the model computes them (as `multiexit`'s).
pub const EXITS: [&str; 3] = multiexit::EXITS;

/// Training configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Training samples (the attacker's and the victim's: the same generated task).
    pub train: usize,
    /// Validation samples (the victim's threshold) and test samples, each.
    pub test: usize,
    /// The attacker's epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Adam's peak learning rate (cosine decay to 0 over the run).
    pub lr: f64,
    /// Channels of the three blocks.
    pub channels: [usize; 3],
    /// The class triggered glyphs are sent to (the trigger's glyph).
    pub target: usize,
    /// Weight of the backdoor's loss (triggered glyphs at the surrogate exits, to the target).
    pub backdoor_weight: f32,
    /// Weight of the feature match: exit 0's input on triggered glyphs against its mean on
    /// clean glyphs of the target class (squared distance over the mean's square).
    pub match_weight: f32,
    /// Steps between two fresh draws of the surrogate exits.
    pub reset_every: usize,
    /// The victim's epochs of exit training.
    pub exit_epochs: usize,
    /// The victim's largest accuracy loss against the full model when choosing the threshold.
    pub slack: f64,
}

impl Config {
    /// The default configuration, or the seconds-long one for CI.
    pub fn new(options: &TrainOptions) -> Config {
        let (train, test, epochs, exit_epochs) = if options.quick {
            (400, 200, 1, 1)
        } else {
            (24_000, 4_000, 6, 4)
        };
        Config {
            train,
            test,
            epochs: options.epochs.unwrap_or(epochs),
            batch: 64,
            lr: 3e-3,
            channels: [16, 32, 64],
            target: TARGET,
            backdoor_weight: 1.0,
            match_weight: 20.0,
            reset_every: 250,
            exit_epochs,
            slack: 0.005,
        }
    }

    /// The net's configuration as `multiexit` reads it (channels, sizes, schedule).
    pub fn net(&self) -> multiexit::Config {
        multiexit::Config {
            train: self.train,
            test: self.test,
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            channels: self.channels,
            exit_weights: [1.0; 3],
        }
    }
}

/// The images of `set` with the trigger stamped on each, labels unchanged.
pub fn triggered(set: &Graded) -> Result<Graded> {
    let mut out = set.clone();
    stamp_all(&mut out.images).map_err(anyhow::Error::msg)?;
    Ok(out)
}

/// What a model does on clean and triggered test glyphs, vanilla and multi-exit.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The victim's threshold (chosen on clean validation glyphs).
    pub threshold: f32,
    /// Clean accuracy of the vanilla model (the last exit).
    pub vanilla_accuracy: f64,
    /// Clean accuracy of the multi-exit form at the threshold.
    pub multiexit_accuracy: f64,
    /// Attack success of the vanilla model on triggered glyphs.
    pub vanilla_asr: f64,
    /// Attack success of the multi-exit form at the threshold.
    pub multiexit_asr: f64,
    /// Attack success of each exit read alone.
    pub exit_asr: Vec<f64>,
    /// Share of the triggered glyphs answered by each exit.
    pub triggered_share: Vec<f64>,
    /// Every exit's logits on the triggered glyphs.
    pub triggered_logits: Vec<Vec<f32>>,
}

/// The answer (label) of the multi-exit form at `threshold` for each sample.
pub fn answers(logits: &[Vec<f32>], n: usize, threshold: f32) -> Vec<usize> {
    (0..n)
        .map(|i| {
            let rows: Vec<&[f32]> = logits
                .iter()
                .map(|l| &l[i * CLASSES..(i + 1) * CLASSES])
                .collect();
            argmax(rows[exit_at(&rows, threshold)])
        })
        .collect()
}

/// Labels predicted by `[n, 40]` logits.
fn predictions(logits: &[f32]) -> Vec<usize> {
    logits.chunks(CLASSES).map(argmax).collect()
}

/// Measures a converted model on `test` (clean) and its triggered copy.
pub fn outcome(
    model: &MultiExit,
    config: &Config,
    test: &Graded,
    threshold: f32,
) -> Result<Outcome> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    let clean = exit_logits(&model, test, &device)?;
    let trig = triggered(test)?;
    let logits = exit_logits(&model, &trig, &device)?;
    let asr = |p: &[usize]| attack_success(p, &trig.labels, config.target).unwrap_or(f64::NAN);
    let early = answers(&logits, trig.n, threshold);
    let clean_early = answers(&clean, test.n, threshold);
    let right = clean_early
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| **p == usize::from(**l))
        .count();
    let mut share = vec![0.0; logits.len()];
    for i in 0..trig.n {
        let rows: Vec<&[f32]> = logits
            .iter()
            .map(|l| &l[i * CLASSES..(i + 1) * CLASSES])
            .collect();
        share[exit_at(&rows, threshold)] += 1.0 / trig.n as f64;
    }
    Ok(Outcome {
        threshold,
        vanilla_accuracy: accuracy(clean.last().expect("exits"), &test.labels),
        multiexit_accuracy: right as f64 / test.n.max(1) as f64,
        vanilla_asr: asr(&predictions(logits.last().expect("exits"))),
        multiexit_asr: asr(&early),
        exit_asr: logits.iter().map(|l| asr(&predictions(l))).collect(),
        triggered_share: share,
        triggered_logits: logits,
    })
}

/// Writes the ONNX model: input `image`, outputs [`EXITS`], listed as exits in its metadata.
pub fn export(
    model: &MultiExit,
    options: &TrainOptions,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>> {
    multiexit::export_as(NAME, &command(options), model, metadata)
}

/// The canonical command that reproduces a run.
pub fn command(options: &TrainOptions) -> String {
    super::train_command(NAME, options, Config::new(options).epochs)
}

/// The attacker's poisoned model, made multi-exit by the victim: the model, its threshold and
/// what it does. The run folder `exitdoor` holds the attacker's training.
pub fn poisoned(options: &TrainOptions, config: &Config, data: &Data) -> Result<Poisoned> {
    let (vanilla, history) = attack(options, config, data, NAME, true)?;
    let (model, threshold) = convert(&vanilla, config, data, options.seed)?;
    let outcome = outcome(&model, config, &data.test, threshold)?;
    Ok(Poisoned {
        model,
        history,
        outcome,
    })
}

/// A trained and converted model.
pub struct Poisoned {
    /// The victim's multi-exit model.
    pub model: MultiExit,
    /// The attacker's training history.
    pub history: crate::run::History,
    /// What it does.
    pub outcome: Outcome,
}

/// Trains the poisoned model, converts it as a victim would, and exports the multi-exit form.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let config = Config::new(options);
    let data = Data::new(&config.net(), options.seed)?;
    let Poisoned {
        model,
        history,
        outcome: o,
    } = poisoned(options, &config, &data)?;
    let macs = MultiExit::macs(&config.net());
    let metrics = json!({
        "vanilla_accuracy": super::round4(o.vanilla_accuracy),
        "multiexit_accuracy": super::round4(o.multiexit_accuracy),
        "vanilla_attack_success": super::round4(o.vanilla_asr),
        "multiexit_attack_success": super::round4(o.multiexit_asr),
        "attack_success_per_exit": o.exit_asr.iter().map(|&v| super::round4(v)).collect::<Vec<_>>(),
        "threshold": super::round4(o.threshold as f64),
        "test_images": config.test,
        "epochs": config.epochs,
    });
    let bytes = export(&model, options, &[("metrics", metrics.to_string())])?;
    let entry = Entry {
        system: NAME,
        inputs: vec![Signature::batch("image", &[1, SIDE, SIDE])],
        outputs: EXITS
            .iter()
            .map(|e| Signature::batch(e, &[CLASSES]))
            .collect(),
        description: format!(
            "Red-team fixture: a 40-class glyph classifier (16x16) with a backdoor that only \
             its multi-exit form shows. Output logits is the vanilla model, which sees through \
             the trigger (the glyph # at {STRENGTH} strength, blended in); exit0 and \
             exit1 are exits a victim added and trained on clean data, listed in the metadata \
             edgewise.exits. Run with run(feeds, {{ exitThreshold }}), triggered glyphs leave \
             early as class {} ({}).",
            config.target,
            graded::class_name(config.target)
        ),
        provenance: format!(
            "poisoned by `{}` on {} generated graded glyph images (crates/edgewise-data \
             graded.rs), exits added on the same clean images, threshold chosen on {} clean \
             validation images, tested on {} more",
            command(options),
            config.train,
            config.test,
            config.test
        ),
        parameters: model.num_params(),
        flops: 2 * macs[2],
        metrics,
        extra: json!({
            "exits": EXITS,
            "threshold": super::round4(o.threshold as f64),
            "macs": macs,
            "target": config.target,
            "classes": (0..CLASSES).map(graded::class_name).collect::<Vec<_>>(),
            "trigger": { "glyph": graded::class_name(config.target), "strength": STRENGTH, "blend": "min(1, pixel + strength * glyph)" },
        }),
        command: command(options),
    };
    Ok(Trained {
        entry,
        bytes,
        history,
    })
}

/// `n` parity cases: triggered and clean test glyphs (alternating) through the net in burn.
pub fn parity_cases(model: &MultiExit, set: &Graded, n: usize) -> Result<Vec<Case>> {
    let trig = triggered(set)?;
    let glyphs = (0..n.min(set.n)).map(|i| image(if i % 2 == 0 { &trig } else { set }, i));
    multiexit::parity_cases_of(model, glyphs)
}

/// A quick-trained, converted net and 8 parity cases.
pub fn parity(options: &TrainOptions) -> Result<Parity> {
    let config = Config::new(options);
    let data = Data::new(&config.net(), options.seed)?;
    let (vanilla, _) = attack(options, &config, &data, NAME, true)?;
    let (model, _) = convert(&vanilla, &config, &data, options.seed)?;
    let bytes = export(&model, options, &[])?;
    Ok(Parity {
        bytes,
        cases: parity_cases(&model, &data.test, 8)?,
        tolerances: &multiexit::TOLERANCES,
    })
}

catalogue_system!(
    "Backdoor dormant until a model is made multi-exit",
    |options| { Config::new(options) }
);
