//! RBNN: a reconfigurable binary neural network. One set of 1-bit weights serves several tasks;
//! a task is selected by per-layer keys derived from a task key and a device root key
//! ([`edgewise_tasks::rbnn`]), which flip the signs of the keyed taps (the `key` input of the
//! `BinaryConv2d` / `BinaryGemm` operators, `W XOR key`).
//!
//! The net (see [`Rbnn`]): a float 3×3 convolution with batch norm (images are not ±1, so the
//! first layer binarizes nothing) → two binary 3×3 convolutions, each with batch norm (folded
//! into the operator's scale and bias) and a 2×2 max-pool, 16×16 → 8×8 → 4×4 → a binary fully
//! connected layer to 10 logits. Everything is shared by the four glyph tasks of
//! [`edgewise_data::glyphs`] except the keys: task `t` uses the effective binary weights
//! `sign(W)·s_t`, `s_t = signs(layer_key(task_key(t), ROOT_KEY, l, taps))`. Training batches mix
//! the tasks, each sample under its own task's masks ([`crate::binary::Group`]).
//!
//! Export: inputs `image` `[batch, 1, 16, 16]` (float32) and `key0`, `key1`, `key2` (uint32,
//! `[ceil(taps/32)]`, not batched); output `logits` `[batch, 10]`. The manifest's helper facts
//! give the tasks, the demo root key, each key input's taps and the class names.

mod fit;
mod model;
mod reproduce;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::prelude::*;
use edgewise_core::{DType, Dim};
use edgewise_data::glyphs::{self, CLASSES, Task};
use serde::Serialize;
use serde_json::json;

pub use fit::{Data, accuracies_with, accuracy, argmax, fit, fit_rbnn, other_task};
pub use model::{Classifier, Keying, Rbnn, group, task_keys};
pub use reproduce::{FloatNet, reproduce};

use crate::binary::Group;
use crate::emit::{Emitter, values};
use crate::export::{Entry, Signature};
use crate::parity::{Array, Case};
use crate::run::TrainOptions;
use crate::systems::{Parity, Trained, to_tensor};

/// The system's name.
pub const NAME: &str = "rbnn";
/// Image side.
pub const SIZE: usize = glyphs::SIZE;
/// The demo device's root key (a real device would keep its own secret).
pub const ROOT_KEY: u64 = 0x5eed_0b1a_c4e5_2024;
/// The key inputs of the exported model, one per binary layer.
pub const KEY_INPUTS: [&str; 3] = ["key0", "key1", "key2"];

/// Training configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Training images per task.
    pub train_per_task: usize,
    /// Test images per task.
    pub test_per_task: usize,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Adam's peak learning rate (cosine decay to 0 over the run).
    pub lr: f64,
    /// Channels of the float first layer.
    pub stem: usize,
    /// Channels of the two binary convolutions.
    pub channels: [usize; 2],
}

impl Config {
    /// The default configuration, or the seconds-long one for CI. The learning rate is high
    /// for Adam because the latent weights are small (`±√(3/taps)`) and only their signs count:
    /// at 10 epochs on 2000 images per task, peak rates 1e-3, 3e-3, 1e-2 and 3e-2 gave 81, 91,
    /// 94 and 93 % mean test accuracy.
    pub fn new(options: &TrainOptions) -> Config {
        let (train_per_task, test_per_task, epochs) = if options.quick {
            (48, 24, 1)
        } else {
            (3000, 500, 12)
        };
        Config {
            train_per_task,
            test_per_task,
            epochs: options.epochs.unwrap_or(epochs),
            batch: 64,
            lr: 1e-2,
            stem: 16,
            channels: [32, 64],
        }
    }

    /// Inputs of the fully connected layer (`channels[1]` maps of 4×4).
    pub fn features(&self) -> usize {
        self.channels[1] * (SIZE / 4) * (SIZE / 4)
    }

    /// Taps per output of each binary layer.
    pub fn taps(&self) -> [usize; 3] {
        [self.stem * 9, self.channels[0] * 9, self.features()]
    }
}

/// Writes the ONNX model: inputs `image` and `key0…`, output `logits`. Returns the bytes.
pub fn export(
    model: &Rbnn,
    options: &TrainOptions,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>> {
    let mut e = Emitter::new(NAME);
    let x = e.input("image", &[1, SIZE, SIZE]);
    let taps = model.taps();
    let keys: Vec<String> = taps
        .iter()
        .zip(KEY_INPUTS)
        .map(|(&t, name)| e.input_typed(name, DType::U32, &[Dim::Fixed(t.div_ceil(32))]))
        .collect();
    let logits = model.emit(&mut e, &x, &keys)?;
    e.output(&logits, "logits", &[CLASSES])?;
    e.provenance(NAME, &command(options), metadata);
    Ok(e.finish())
}

/// The canonical command that reproduces a run.
pub fn command(options: &TrainOptions) -> String {
    super::train_command(NAME, options, Config::new(options).epochs)
}

/// A root key that is not the device's.
pub const WRONG_ROOT: u64 = ROOT_KEY ^ 0x0000_0001_0000_0000;

/// Trains the RBNN and exports it.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let (model, history, config, data) = fit_rbnn(options, NAME)?;
    let taps = model.taps();
    let wrong_task = accuracies_with(&model, &data, |t| task_keys(other_task(t), ROOT_KEY, &taps))?;
    let wrong_root = accuracies_with(&model, &data, |t| task_keys(t, WRONG_ROOT, &taps))?;
    let mean = |v: &[f64]| super::round4(v.iter().sum::<f64>() / v.len() as f64);
    let mut per_task = serde_json::Map::new();
    for t in Task::ALL {
        let a = history
            .last(&format!("acc_{}", t.name()))
            .unwrap_or(f64::NAN);
        per_task.insert(t.name().into(), json!(super::round4(a)));
    }
    let metrics = json!({
        "accuracy": per_task,
        "mean_accuracy": super::round4(history.last("mean_acc").unwrap_or(f64::NAN)),
        "wrong_task_key_accuracy": mean(&wrong_task),
        "wrong_root_key_accuracy": mean(&wrong_root),
        "test_images_per_task": config.test_per_task,
        "epochs": config.epochs,
    });
    let bytes = export(&model, options, &[("metrics", metrics.to_string())])?;
    let (binary, float) = Rbnn::weight_counts(&config);
    let mut inputs = vec![Signature::batch("image", &[1, SIZE, SIZE])];
    for (&t, name) in taps.iter().zip(KEY_INPUTS) {
        inputs.push(Signature {
            dtype: "uint32",
            batched: false,
            ..Signature::batch(name, &[t.div_ceil(32)])
        });
    }
    let classes: serde_json::Map<String, serde_json::Value> = Task::ALL
        .iter()
        .map(|t| (t.name().to_string(), json!(t.class_names())))
        .collect();
    let layers: Vec<_> = taps
        .iter()
        .zip(KEY_INPUTS)
        .map(|(&t, name)| json!({ "input": name, "taps": t }))
        .collect();
    let entry = Entry {
        system: NAME,
        inputs,
        outputs: vec![Signature::batch("logits", &[CLASSES])],
        description: format!(
            "Reconfigurable binary neural network: one set of {binary} 1-bit weights serves four \
             10-class 16x16 glyph tasks (digits, letters, shapes, symbols). A float 3x3 conv with \
             folded batch norm, two BinaryConv2d layers (3x3, folded batch norm as scale/bias, \
             2x2 max-pool) and a BinaryGemm to 10 logits; each binary layer takes a uint32 key \
             input (key0..key2) that flips the signs of its keyed taps. The keys of a task come \
             from the task key (FNV-1a of its name) and the device root key \
             (edgewise-tasks rbnn::keys); wrong keys give chance accuracy."
        ),
        provenance: format!(
            "trained by `{}` on {} generated 16x16 glyph images per task (crates/edgewise-data \
             glyphs.rs), tested on {} more per task",
            command(options),
            config.train_per_task,
            config.test_per_task
        ),
        parameters: binary + float,
        flops: Rbnn::flops(&config),
        metrics,
        extra: json!({
            "tasks": Task::ALL.iter().map(|t| t.name()).collect::<Vec<_>>(),
            "root_key": format!("{ROOT_KEY:016x}"),
            "layers": layers,
            "classes": classes,
        }),
        command: command(options),
    };
    Ok(Trained {
        entry,
        bytes,
        history,
    })
}

/// Tolerance of the parity checks: `logits` to 1e-4, on inputs chosen away from sign ties.
///
/// A binary net amplifies ties: an input to a sign within rounding of 0 may flip, and one
/// flipped sign moves a logit by about `2·scale` (the exported scales are 0.02–0.17), far more
/// than any float tolerance. Here every binary layer is computed by burn's inference pass as
/// the operators compute it: integer ±1 products (exact in f32 in any order), then
/// `scale·dot + bias` with the very f32 `scale` and `bias` the export writes, then max-pools —
/// the same arithmetic, bit for bit, as long as the signs agree. Only the float first layer
/// can differ: burn convolves with the same folded weights and bias as the exported `Conv`,
/// summed in another order (~1e-7 on values of order 1). So the cases keep every first-layer
/// output at least 1e-5 from 0 ([`parity_cases`]); then no sign can flip, and the logits
/// agree to 1e-4 (measured: identical).
pub const TOLERANCES: [(&str, f32); 1] = [("logits", 1e-4)];

/// The distance from 0 that every first-layer output of a parity case keeps.
const MARGIN: f32 = 1e-5;

/// The smallest `|v|` over the first layer's outputs of each image (the margin of its signs).
fn stem_margins(model: &Rbnn, x: Tensor<4>) -> Result<Vec<f32>> {
    let [n, ..] = x.dims();
    let h = values(&model.stem_forward(x))?;
    let per = h.len() / n.max(1);
    Ok(h.chunks(per.max(1))
        .map(|c| c.iter().fold(f32::MAX, |m, v| m.min(v.abs())))
        .collect())
}

/// `n` parity cases of two test images each (cycling through the tasks, each with its own
/// keys), skipping images with a first-layer output within 1e-5 of 0 (see [`TOLERANCES`]).
pub fn parity_cases(model: &Rbnn, n: usize, seed: u64) -> Result<Vec<Case>> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    let taps = model.taps();
    let pool = 64;
    let mut cases = vec![];
    let mut used = [0usize; 4];
    let mut splits = vec![];
    for t in Task::ALL {
        splits.push(glyphs::split(t, pool, seed ^ 0x7061_7269).map_err(anyhow::Error::msg)?);
    }
    for c in 0..n {
        let t = Task::ALL[c % 4];
        let s = &splits[t.index()];
        let mut chosen = vec![];
        while chosen.len() < 2 {
            let i = used[t.index()];
            let img = s
                .images
                .get(i * SIZE * SIZE..(i + 1) * SIZE * SIZE)
                .with_context(|| {
                    format!(
                        "parity: fewer than 2 of {pool} {} images keep their signs {MARGIN} from 0",
                        t.name()
                    )
                })?;
            used[t.index()] += 1;
            let x = to_tensor(std::iter::once(img), [1, SIZE, SIZE], &device);
            if stem_margins(&model, x)?[0] >= MARGIN {
                chosen.push(img.to_vec());
            }
        }
        let keys = task_keys(t, ROOT_KEY, &taps);
        let x = to_tensor(chosen.iter().map(Vec::as_slice), [1, SIZE, SIZE], &device);
        let logits = model.forward(x, &[Group::keyed(2, &keys, &taps, &device)]);
        let mut inputs = vec![Array::new("image", &[2, 1, SIZE, SIZE], chosen.concat())];
        for (k, name) in keys.iter().zip(KEY_INPUTS) {
            inputs.push(Array::u32(name, &[k.len()], k.clone()));
        }
        cases.push(Case {
            inputs,
            outputs: vec![Array::new("logits", &[2, CLASSES], values(&logits)?)],
        });
    }
    Ok(cases)
}

/// A quick-trained RBNN and 8 parity cases.
pub fn parity(options: &TrainOptions) -> Result<Parity> {
    let (model, ..) = fit_rbnn(options, NAME)?;
    Ok(Parity {
        bytes: export(&model, options, &[])?,
        cases: parity_cases(&model, 8, 1)?,
        tolerances: &TOLERANCES,
    })
}

catalogue_system!(
    "Reconfigurable binary network: one set of weights, several tasks",
    |options| Config::new(options)
);
