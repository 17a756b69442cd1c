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

mod reproduce;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use edgewise_core::{DType, Dim};
use edgewise_data::glyphs::{self, CLASSES, Split, Task};
use edgewise_onnx::Attr;
use serde::Serialize;
use serde_json::json;

pub use reproduce::{FloatNet, reproduce};

use crate::binary::{BinaryConv2d, BinaryLinear, Group};
use crate::emit::{EmitResult, Emitter, values};
use crate::export::{Entry, Signature};
use crate::layers::{Act, ConvBlock, fold_norm};
use crate::parity::{Array, Case};
use crate::run::{History, Run, TrainOptions};
use crate::systems::{Parity, Trained, batches, to_tensor};

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

/// The reconfigurable binary net (see the module docs).
#[derive(Module, Debug)]
pub struct Rbnn {
    /// The float first layer.
    pub stem: ConvBlock,
    /// The binary convolutions.
    pub convs: Vec<BinaryConv2d>,
    /// The binary classifier.
    pub head: BinaryLinear,
}

/// A classifier of `[batch, 1, 16, 16]` images trained by [`fit`].
pub trait Classifier: Module {
    /// The `[batch, 10]` logits of a batch made of consecutive `groups`.
    fn logits(&self, x: Tensor<4>, groups: &[Group]) -> Tensor<2>;
}

impl Rbnn {
    /// A freshly initialized net.
    pub fn new(config: &Config, device: &Device) -> Rbnn {
        let [c1, c2] = config.channels;
        Rbnn {
            stem: ConvBlock::new(1, config.stem, 3, 1, true, Act::Identity, device),
            convs: vec![
                BinaryConv2d::new(config.stem, c1, 3, 1, 2, device),
                BinaryConv2d::new(c1, c2, 3, 1, 2, device),
            ],
            head: BinaryLinear::new(config.features(), CLASSES, device),
        }
    }

    /// Taps per output of each binary layer (the key lengths in bits).
    pub fn taps(&self) -> Vec<usize> {
        self.convs
            .iter()
            .map(BinaryConv2d::taps)
            .chain([self.head.shape()[1]])
            .collect()
    }

    /// The float first layer. In inference (a device without autodiff) it convolves with the
    /// batch-norm-folded weights and bias the export writes, so that burn and the exported
    /// model differ only by the order of a 9-term sum.
    pub fn stem_forward(&self, x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        if device.is_autodiff() {
            return self.stem.forward(x);
        }
        let conv = &self.stem.conv;
        let dims = conv.weight.val().dims();
        let bias = conv.bias.as_ref().and_then(|b| values(&b.val()).ok());
        let Ok((w, b)) = values(&conv.weight.val())
            .and_then(|w| fold_norm(&w, bias, dims[0], self.stem.norm.as_ref()))
        else {
            // Reading the weights back cannot fail on the CPU; the unfolded layer is the same
            // function anyway.
            return self.stem.forward(x);
        };
        let w = Tensor::<4>::from_data(TensorData::new(w, dims), &device);
        let b = Tensor::<1>::from_data(TensorData::new(b, [dims[0]]), &device);
        let p = dims[2] / 2;
        conv2d(
            x,
            w,
            Some(b),
            ConvOptions::new(conv.stride, [p, p], conv.dilation, conv.groups),
        )
    }

    /// The logits of `[batch, 1, 16, 16]` images made of consecutive `groups`.
    pub fn forward(&self, x: Tensor<4>, groups: &[Group]) -> Tensor<2> {
        let mut h = self.stem_forward(x);
        for (l, c) in self.convs.iter().enumerate() {
            h = c.forward(h, groups, l);
        }
        let [n, c, hh, ww] = h.dims();
        self.head
            .forward(h.reshape([n, c * hh * ww]), groups, self.convs.len())
    }

    /// Binary weights and float parameters at inference (folded batch norms), per net.
    pub fn weight_counts(config: &Config) -> (usize, usize) {
        let [c1, c2] = config.channels;
        let binary = c1 * config.taps()[0] + c2 * config.taps()[1] + CLASSES * config.features();
        let float = (config.stem * 9 + config.stem) + 2 * c1 + 2 * c2 + 2 * CLASSES;
        (binary, float)
    }

    /// Operations per image, multiply and add counted apart: the float convolution's
    /// multiply-adds and, counted the same way, the binary ones (an XNOR and a popcount step
    /// each).
    pub fn flops(config: &Config) -> u64 {
        let s = SIZE as u64;
        let [c1, c2] = config.channels.map(|c| c as u64);
        let [k0, k1, k2] = config.taps().map(|k| k as u64);
        let macs = 9 * config.stem as u64 * s * s
            + c1 * k0 * s * s
            + c2 * k1 * (s / 2) * (s / 2)
            + CLASSES as u64 * k2;
        2 * macs
    }

    /// Writes the net reading `x`; `keys[l]` names the key value of binary layer `l`.
    pub fn emit(&self, e: &mut Emitter, x: &str, keys: &[String]) -> EmitResult<String> {
        use crate::emit::Emit;
        let key = |l: usize| keys.get(l).map(String::as_str);
        let mut h = self.stem.emit(e, "stem", x)?;
        for (l, c) in self.convs.iter().enumerate() {
            h = c.emit(e, &format!("binary.{l}"), &h, key(l))?;
        }
        let flat = e.op("Flatten", &[&h], "flatten", vec![("axis", Attr::Int(1))]);
        self.head.emit(e, "head", &flat, key(self.convs.len()))
    }
}

impl Classifier for Rbnn {
    fn logits(&self, x: Tensor<4>, groups: &[Group]) -> Tensor<2> {
        self.forward(x, groups)
    }
}

/// The keys of `task` on the device with root key `root`, one per binary layer.
pub fn task_keys(task: Task, root: u64, taps: &[usize]) -> Vec<Vec<u32>> {
    edgewise_tasks::rbnn::keys(task.name(), root, taps)
}

/// Training and test images of each task (the same for every net of a run: a task's split
/// depends only on the seed and the task).
pub struct Data {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// Training set of each task.
    pub train: Vec<Split>,
    /// Test set of each task.
    pub test: Vec<Split>,
}

impl Data {
    /// Draws the splits of `tasks`.
    pub fn new(tasks: &[Task], config: &Config, seed: u64) -> Result<Data> {
        let draw = |n, s| {
            tasks
                .iter()
                .map(|&t| glyphs::split(t, n, s).map_err(anyhow::Error::msg))
                .collect::<Result<Vec<_>>>()
        };
        Ok(Data {
            tasks: tasks.to_vec(),
            train: draw(config.train_per_task, seed ^ 0x7261_696e)?,
            test: draw(config.test_per_task, seed ^ 0x7465_7374)?,
        })
    }
}

/// Image `i` of a split.
fn image(s: &Split, i: usize) -> &[f32] {
    &s.images[i * SIZE * SIZE..(i + 1) * SIZE * SIZE]
}

/// How a net reads the tasks: under each task's keys from `root` (RBNN), or without keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Keying {
    /// Keys of the task from this root key.
    Root(u64),
    /// No keys.
    None,
}

/// A group of `len` samples of `task` under `keying`.
pub fn group(task: Task, len: usize, keying: Keying, taps: &[usize], device: &Device) -> Group {
    match keying {
        Keying::Root(root) => Group::keyed(len, &task_keys(task, root, taps), taps, device),
        Keying::None => Group::plain(len),
    }
}

/// The accuracy of `model` on `test`, reading every sample as one group made by `group_of`.
pub fn accuracy<M: Classifier>(
    model: &M,
    test: &Split,
    device: &Device,
    group_of: impl Fn(usize) -> Group,
) -> Result<f64> {
    let mut right = 0;
    for start in (0..test.n).step_by(128) {
        let end = (start + 128).min(test.n);
        let x = to_tensor(
            (start..end).map(|i| image(test, i)),
            [1, SIZE, SIZE],
            device,
        );
        let logits = values(&model.logits(x, &[group_of(end - start)]))?;
        for (row, &label) in logits.chunks(CLASSES).zip(&test.labels[start..end]) {
            right += (argmax(row) == label as usize) as usize;
        }
    }
    Ok(right as f64 / test.n as f64)
}

/// The index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
        )
        .0
}

/// The mean cross-entropy of `logits` for `labels`.
fn cross_entropy(logits: Tensor<2>, labels: &[u8]) -> Tensor<1> {
    let n = labels.len();
    let mut onehot = vec![0f32; n * CLASSES];
    for (i, &l) in labels.iter().enumerate() {
        onehot[i * CLASSES + l as usize] = 1.0;
    }
    let device = logits.device();
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [n, CLASSES]), &device);
    let logp = burn::tensor::activation::log_softmax(logits, 1);
    (logp * onehot).sum().neg() / n as f64
}

/// Trains `model` on `data` (batches mixing its tasks, each sample under its own task's
/// masks from `keying`), checkpointing into the run folder `run_name`. History columns:
/// `loss`, `acc_<task>` per task and `mean_acc`.
pub fn fit<M: Classifier>(
    options: &TrainOptions,
    config: &Config,
    data: &Data,
    keying: Keying,
    taps: &[usize],
    model: M,
    run_name: &str,
) -> Result<(M, History)> {
    let device = crate::systems::device(options)?;
    let mut run = Run::open(run_name, options)?;
    let optim: ModuleOptimizer = AdamConfig::new().init();
    // What must match to resume: the config (epochs aside), the tasks and the keying.
    let mut run_config = serde_json::to_value(config)?;
    run_config["tasks"] = json!(data.tasks.iter().map(|t| t.name()).collect::<Vec<_>>());
    run_config["keying"] = json!(format!("{keying:?}"));
    let (done, history, mut model, mut optim) = run.resume(options, &run_config, model, optim)?;
    let columns: Vec<String> = std::iter::once("loss".to_string())
        .chain(data.tasks.iter().map(|t| format!("acc_{}", t.name())))
        .chain(["mean_acc".to_string()])
        .collect();
    let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut history = history.unwrap_or_else(|| History::new(&refs));
    let per = config.train_per_task;
    let total = per * data.tasks.len();
    let steps = total.div_ceil(config.batch);
    let groups: Vec<Group> = data
        .tasks
        .iter()
        .map(|&t| group(t, 0, keying, taps, &device))
        .collect();
    run.progress(run_name, config.epochs, steps, done);
    for epoch in done..config.epochs {
        let mut sum = 0.0;
        for (step, mut batch) in batches(total, config.batch, options.seed, epoch)
            .into_iter()
            .enumerate()
        {
            // Group the batch by task (stable: the shuffled order within a task stays).
            batch.sort_by_key(|&i| i / per);
            let batch_groups: Vec<Group> = groups
                .iter()
                .enumerate()
                .map(|(t, g)| Group {
                    len: batch.iter().filter(|&&i| i / per == t).count(),
                    masks: g.masks.clone(),
                })
                .filter(|g| g.len > 0)
                .collect();
            let sample = |i: usize| (&data.train[i / per], i % per);
            let x = to_tensor(
                batch.iter().map(|&i| {
                    let (s, j) = sample(i);
                    image(s, j)
                }),
                [1, SIZE, SIZE],
                &device,
            );
            let labels: Vec<u8> = batch
                .iter()
                .map(|&i| {
                    let (s, j) = sample(i);
                    s.labels[j]
                })
                .collect();
            let loss = cross_entropy(model.logits(x, &batch_groups), &labels);
            let value = loss.clone().into_scalar::<f32>() as f64;
            sum += value;
            let t = (epoch * steps + step) as f64 / (config.epochs * steps).max(1) as f64;
            let lr = config.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            run.step(format!("loss {value:.4}"));
        }
        let valid = model.valid();
        let eval = Device::flex();
        let valid = valid.to_device(&eval);
        let mut row = vec![sum / steps as f64];
        for (&t, test) in data.tasks.iter().zip(&data.test) {
            row.push(accuracy(&valid, test, &eval, |n| {
                group(t, n, keying, taps, &eval)
            })?);
        }
        let mean = row[1..].iter().sum::<f64>() / data.tasks.len() as f64;
        row.push(mean);
        history.push(epoch + 1, &row)?;
        let accs: Vec<String> = data
            .tasks
            .iter()
            .zip(&row[1..])
            .map(|(t, a)| format!("{} {:.3}", t.name(), a))
            .collect();
        run.println(&format!(
            "{run_name} epoch {}: loss {:.4}, accuracy {} (mean {mean:.3})",
            epoch + 1,
            row[0],
            accs.join(", ")
        ));
        run.checkpoint(epoch + 1, &model, &optim, &history, options, &run_config)?;
    }
    run.finish();
    Ok((model.valid(), history))
}

/// Trains the RBNN on the four tasks under [`ROOT_KEY`] into the run folder `run_name`.
pub fn fit_rbnn(options: &TrainOptions, run_name: &str) -> Result<(Rbnn, History, Config, Data)> {
    let config = Config::new(options);
    let device = crate::systems::device(options)?;
    device.seed(options.seed);
    let data = Data::new(&Task::ALL, &config, options.seed)?;
    let model = Rbnn::new(&config, &device);
    let taps = model.taps();
    let (model, history) = fit(
        options,
        &config,
        &data,
        Keying::Root(ROOT_KEY),
        &taps,
        model,
        run_name,
    )?;
    Ok((model, history, config, data))
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
    e.metadata("system", NAME);
    e.metadata("version", env!("CARGO_PKG_VERSION"));
    e.metadata("command", &command(options));
    for (k, v) in metadata {
        e.metadata(k, v);
    }
    Ok(e.finish())
}

/// The canonical command that reproduces a run.
pub fn command(options: &TrainOptions) -> String {
    let config = Config::new(options);
    format!(
        "cargo xtask train {NAME}{} --epochs {} --seed {}",
        if options.quick { " --quick" } else { "" },
        config.epochs,
        options.seed
    )
}

/// Accuracy of `model` on each task's test set when every task is read with the keys of
/// `keys_of(task)`.
pub fn accuracies_with(
    model: &Rbnn,
    data: &Data,
    keys_of: impl Fn(Task) -> Vec<Vec<u32>>,
) -> Result<Vec<f64>> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    let taps = model.taps();
    data.tasks
        .iter()
        .zip(&data.test)
        .map(|(&t, test)| {
            let keys = keys_of(t);
            accuracy(&model, test, &device, |n| {
                Group::keyed(n, &keys, &taps, &device)
            })
        })
        .collect()
}

/// The task read with the keys of another: the next task in [`Task::ALL`].
pub fn other_task(t: Task) -> Task {
    Task::ALL[(t.index() + 1) % Task::ALL.len()]
}

/// A root key that is not the device's.
pub const WRONG_ROOT: u64 = ROOT_KEY ^ 0x0000_0001_0000_0000;

/// Trains the RBNN and exports it.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let (model, history, config, data) = fit_rbnn(options, NAME)?;
    let taps = model.taps();
    let wrong_task = accuracies_with(&model, &data, |t| task_keys(other_task(t), ROOT_KEY, &taps))?;
    let wrong_root = accuracies_with(&model, &data, |t| task_keys(t, WRONG_ROOT, &taps))?;
    let mean = |v: &[f64]| round(v.iter().sum::<f64>() / v.len() as f64);
    let mut per_task = serde_json::Map::new();
    for t in Task::ALL {
        let a = history
            .last(&format!("acc_{}", t.name()))
            .unwrap_or(f64::NAN);
        per_task.insert(t.name().into(), json!(round(a)));
    }
    let metrics = json!({
        "accuracy": per_task,
        "mean_accuracy": round(history.last("mean_acc").unwrap_or(f64::NAN)),
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

fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Tolerance of the parity checks. burn's inference pass computes every binary layer as the
/// operators do: integer ±1 products (exact in f32 in any order), then `scale·dot + bias` with
/// the same f32 `scale` and `bias` values the export writes, then max-pools — bit for bit the
/// operators' arithmetic, provided every sign is the same. Only the float first layer differs
/// (a convolution summed in another order, batch norm folded: ~1e-6), and a sign flips only
/// where its output is within that of 0. A flipped sign would move a logit by `2·scale`, at
/// least ~1e-2 here. burn's inference pass uses the folded first layer too, so the two differ by
/// the rounding of a 9-term sum (~1e-7 on values of order 1): the cases are chosen with every
/// first-layer output at least 1e-5 from 0 ([`parity_cases`]), and the logits must then agree to
/// 1e-4 (in practice they are identical).
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
