//! The catalogue systems, one module each with the same shape: `NAME`, a `Config` made from the
//! [`TrainOptions`], the model (a burn module that also implements [`crate::emit::Emit`]),
//! `fit` (the training loop), `export`, `train` (fit + export + manifest entry), `parity`
//! (a quick model and its [`Parity`] cases) and `reproduce` (the paper's comparison, written to
//! `results/<system>.md`); and a unit struct `System` implementing [`CatalogueSystem`] with
//! them, listed once in [`REGISTRY`].
//!
//! Adding a system here is its module and one line in [`REGISTRY`]: `edgewise-train train`,
//! `reproduce`, `parity` and `list` (which `cargo xtask test` reads for its quick runs) find it
//! there.

/// Declares the calling module's unit struct `System` and implements [`CatalogueSystem`] for it
/// from the module's `NAME`, `train`, `parity` and `reproduce`, with `title` and the
/// configuration `config` makes from the options.
macro_rules! catalogue_system {
    ($title:expr, |$options:ident| $config:expr) => {
        /// The system as the registry lists it.
        pub struct System;

        impl $crate::systems::CatalogueSystem for System {
            fn id(&self) -> &'static str {
                NAME
            }

            fn title(&self) -> &'static str {
                $title
            }

            fn config(&self, $options: &TrainOptions) -> serde_json::Value {
                $crate::systems::config_json(&$config)
            }

            fn train(&self, options: &TrainOptions) -> anyhow::Result<$crate::systems::Trained> {
                train(options)
            }

            fn parity(&self, options: &TrainOptions) -> anyhow::Result<$crate::systems::Parity> {
                parity(options)
            }

            fn reproduce(
                &self,
                options: &TrainOptions,
                results: &std::path::Path,
            ) -> anyhow::Result<()> {
                reproduce(options, results)
            }
        }
    };
}

pub mod aquant;
pub mod defect;
pub mod exitdoor;
pub mod kno;
pub mod multiexit;
pub mod rbnn;
pub mod snf;

use std::path::Path;

use anyhow::{Result, bail};
use burn::prelude::*;
use edgewise_data::rng::Rng;

use crate::export::Entry;
use crate::run::{History, TrainOptions};

/// A catalogue system as the trainer drives it: its id, its configuration, and the three
/// things every entry of the catalogue does (train and export, parity, reproduce).
pub trait CatalogueSystem: Sync {
    /// The catalogue id: `onnx/<id>.onnx`, `results/<id>.md`, `www/<id>/`, `pipeline('<id>')`.
    fn id(&self) -> &'static str;
    /// The paper, in a few words.
    fn title(&self) -> &'static str;
    /// The configuration `train` uses under `options` (what `edgewise-train list --config`
    /// prints).
    fn config(&self, options: &TrainOptions) -> serde_json::Value;
    /// Trains the system and exports it: ONNX bytes, manifest entry and history. The caller
    /// writes the files.
    fn train(&self, options: &TrainOptions) -> Result<Trained>;
    /// A quick-trained model and the cases on which every runtime must agree with burn.
    fn parity(&self, options: &TrainOptions) -> Result<Parity>;
    /// The paper's comparison in one run, written to `<results>/<id>.md` with its figures and
    /// the catalogue's bar marked met or not met.
    fn reproduce(&self, options: &TrainOptions, results: &Path) -> Result<()>;
}

/// Every catalogue system the trainer knows, in the catalogue's order.
pub static REGISTRY: [&dyn CatalogueSystem; 7] = [
    &defect::System,
    &kno::System,
    &rbnn::System,
    &aquant::System,
    &snf::System,
    &multiexit::System,
    &exitdoor::System,
];

/// The ids of [`REGISTRY`].
pub fn ids() -> Vec<&'static str> {
    REGISTRY.iter().map(|s| s.id()).collect()
}

/// The system `id`, or an error listing the known ones.
pub fn find(id: &str) -> Result<&'static dyn CatalogueSystem> {
    match REGISTRY.iter().find(|s| s.id() == id) {
        Some(s) => Ok(*s),
        None => bail!(
            "unknown system '{id}': the systems are {}",
            ids().join(", ")
        ),
    }
}

/// `config` as JSON (the configurations are plain structs of numbers and names).
pub(crate) fn config_json<T: serde::Serialize>(config: &T) -> serde_json::Value {
    serde_json::to_value(config).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

/// A trained, exported model.
pub struct Trained {
    /// Its manifest entry.
    pub entry: Entry,
    /// The ONNX bytes.
    pub bytes: Vec<u8>,
    /// Per-epoch metrics.
    pub history: History,
}

/// Trains `system` and writes its ONNX file and manifest entry into `options.onnx_dir`.
pub fn train(system: &str, options: &TrainOptions) -> Result<Trained> {
    let trained = find(system)?.train(options)?;
    crate::export::write(&options.onnx_dir, &trained.entry, &trained.bytes)?;
    Ok(trained)
}

/// A quick-trained model and the cases on which every runtime must agree with burn.
pub struct Parity {
    /// The ONNX bytes.
    pub bytes: Vec<u8>,
    /// Inputs and burn's outputs.
    pub cases: Vec<crate::parity::Case>,
    /// The tolerance of each output (argued where each system defines it).
    pub tolerances: &'static [(&'static str, f32)],
}

/// `v` to 4 decimals, for metrics in manifests.
pub fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// The canonical command that reruns a reproduction of `system`, for its results file.
pub fn reproduce_command(system: &str, options: &TrainOptions) -> String {
    let mut c = format!("cargo xtask reproduce {system}");
    if options.quick {
        c.push_str(" --quick");
    }
    if let Some(epochs) = options.epochs {
        c.push_str(&format!(" --epochs {epochs}"));
    }
    c.push_str(&format!(" --seed {}", options.seed));
    c
}

/// The canonical command that reproduces a training run of `system` for `epochs` epochs.
pub fn train_command(system: &str, options: &TrainOptions, epochs: usize) -> String {
    format!(
        "cargo xtask train {system}{} --epochs {epochs} --seed {}",
        if options.quick { " --quick" } else { "" },
        options.seed
    )
}

/// The options of a seconds-long CI run (seed 0) writing under `out`.
pub fn quick_options(out: &Path) -> TrainOptions {
    TrainOptions {
        epochs: None,
        seed: 0,
        quick: true,
        resume: false,
        runs: out.join("runs"),
        onnx_dir: out.join("onnx"),
        command: String::new(),
    }
}

/// Quick options (seed 0, writing under a temporary folder named after `tag`) that read the
/// shipped models of `onnx/`: for the tests of the tools that start from a trained model.
#[cfg(test)]
pub(crate) fn shipped_options(tag: &str) -> TrainOptions {
    let out = std::env::temp_dir().join(format!("edgewise-{tag}-{}", std::process::id()));
    TrainOptions {
        onnx_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../onnx"),
        ..quick_options(&out)
    }
}

/// Quick-trains `system` (seed 0) into `out`, writes `out/<system>.onnx` and the parity cases
/// `out/<system>.json`, and checks tract against burn on them.
pub fn parity(system: &str, out: &Path) -> Result<Vec<(String, f32)>> {
    let options = quick_options(out);
    let p = find(system)?.parity(&options)?;
    std::fs::create_dir_all(out)?;
    let model = out.join(format!("{system}.onnx"));
    std::fs::write(&model, &p.bytes)?;
    crate::parity::write_cases(out, system, &model, p.tolerances, &p.cases)?;
    crate::parity::check_tract(&p.bytes, &p.cases, p.tolerances)
}

/// Runs `system`'s comparison from its paper (ours against the baseline, same data and
/// budget, in one run) and writes `<results>/<system>.md` and its figures.
pub fn reproduce(system: &str, options: &TrainOptions, results: &Path) -> Result<()> {
    let system = find(system)?;
    std::fs::create_dir_all(results)?;
    system.reproduce(options, results)
}

/// The training device: burn's flex CPU backend with autodiff (or wgpu when
/// `EDGEWISE_TRAIN_BACKEND=wgpu` and the crate was built with the `wgpu` feature).
pub fn device(_options: &TrainOptions) -> Result<Device> {
    let backend = std::env::var("EDGEWISE_TRAIN_BACKEND").unwrap_or_else(|_| "flex".into());
    match backend.as_str() {
        "flex" | "ndarray" | "cpu" => Ok(Device::flex().autodiff()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default()).autodiff()),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => bail!("the wgpu backend needs edgewise-train built with `--features wgpu`"),
        other => bail!("unknown backend '{other}': flex (alias ndarray) or wgpu"),
    }
}

/// The sample indices of each batch of `epoch`, shuffled from `(seed, epoch)` so that a resumed
/// run sees the same batches as an uninterrupted one.
pub fn batches(n: usize, batch: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::new(seed)
        .fork(0xba7c_0000 + epoch as u64)
        .shuffle(&mut idx);
    idx.chunks(batch).map(<[usize]>::to_vec).collect()
}

/// The index of the largest value (the first on ties).
pub use edgewise_tasks::multiexit::argmax;

/// The learning rate at step `step` (of `steps` per epoch) of epoch `epoch` (of `epochs`):
/// `peak` decayed to 0 along a half cosine over the whole run.
pub fn cosine_lr(peak: f64, epoch: usize, step: usize, steps: usize, epochs: usize) -> f64 {
    let t = (epoch * steps + step) as f64 / (epochs * steps).max(1) as f64;
    peak * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// The mean cross-entropy of `[n, classes]` `logits` for `labels`.
pub fn cross_entropy(logits: Tensor<2>, labels: &[u8]) -> Tensor<1> {
    let [n, classes] = logits.dims();
    let mut onehot = vec![0f32; n * classes];
    for (i, &l) in labels.iter().enumerate() {
        onehot[i * classes + l as usize] = 1.0;
    }
    let device = logits.device();
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [n, classes]), &device);
    let logp = burn::tensor::activation::log_softmax(logits, 1);
    (logp * onehot).sum().neg() / n as f64
}

/// Stacks `[c, h, w]` samples into a `[n, c, h, w]` tensor.
pub fn to_tensor<'a>(
    samples: impl Iterator<Item = &'a [f32]>,
    item: [usize; 3],
    device: &Device,
) -> Tensor<4> {
    let mut data = vec![];
    let mut n = 0;
    for s in samples {
        data.extend_from_slice(s);
        n += 1;
    }
    Tensor::from_data(
        TensorData::new(data, [n, item[0], item[1], item[2]]),
        device,
    )
}

/// Runs the Node script `script` (a timing through the npm package) with `args`, which tell it
/// to write its JSON to `out`, and returns that JSON. The package must be built
/// (`cargo xtask build`).
pub fn node_json(script: &str, args: &[String], out: &Path) -> Result<serde_json::Value> {
    let status = std::process::Command::new("node")
        .arg(script)
        .args(args)
        .status()
        .map_err(|e| anyhow::anyhow!("could not start node for {script}: {e}"))?;
    if !status.success() {
        bail!(
            "{script} failed ({status}): the wasm timing needs the built package (cargo xtask build)"
        );
    }
    Ok(serde_json::from_slice(&std::fs::read(out)?)?)
}

/// Writes the catalogue's bar for a system: each part with whether it is met and the number
/// behind it, then the verdict ("met" only when every part is), and for a bar not met `why`
/// (the reason found).
pub(crate) fn write_bar(
    w: &mut String,
    parts: &[(String, bool, String)],
    why: &str,
) -> std::fmt::Result {
    use std::fmt::Write;
    writeln!(w, "## The catalogue's bar\n")?;
    writeln!(w, "| part | here | met |")?;
    writeln!(w, "| --- | --- | --- |")?;
    for (part, met, here) in parts {
        writeln!(
            w,
            "| {part} | {here} | {} |",
            if *met { "yes" } else { "no" }
        )?;
    }
    if parts.iter().all(|(_, met, _)| *met) {
        writeln!(w, "\n**Bar: met.**\n")
    } else {
        writeln!(w, "\n**Bar: not met**: {why}.\n")
    }
}
