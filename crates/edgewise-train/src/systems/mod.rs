//! The catalogue systems, one module each with the same shape: `NAME`, a `Config` made from the
//! [`TrainOptions`], the model (a burn module that also implements [`crate::emit::Emit`]),
//! `fit` (the training loop), `export`, `train` (fit + export + manifest entry), `parity`
//! (a quick model and its [`Parity`] cases) and `reproduce` (the paper's comparison, written to
//! `results/<system>.md`).

pub mod defect;
pub mod kno;
pub mod rbnn;

use std::path::Path;

use anyhow::{Result, bail};
use burn::prelude::*;
use edgewise_data::rng::Rng;

use crate::export::Entry;
use crate::run::{History, TrainOptions};

/// The systems `cargo xtask train` knows.
pub const SYSTEMS: [&str; 3] = [defect::NAME, kno::NAME, rbnn::NAME];

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
    let trained = match system {
        defect::NAME => defect::train(options)?,
        kno::NAME => kno::train(options)?,
        rbnn::NAME => rbnn::train(options)?,
        other => bail!("unknown system '{other}': the systems are {SYSTEMS:?}"),
    };
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

/// Quick-trains `system` (seed 0) into `out`, writes `out/<system>.onnx` and the parity cases
/// `out/<system>.json`, and checks tract against burn on them.
pub fn parity(system: &str, out: &Path) -> Result<Vec<(String, f32)>> {
    let options = quick_options(out);
    let p = match system {
        defect::NAME => defect::parity(&options)?,
        kno::NAME => kno::parity(&options)?,
        rbnn::NAME => rbnn::parity(&options)?,
        other => bail!("unknown system '{other}': the systems are {SYSTEMS:?}"),
    };
    std::fs::create_dir_all(out)?;
    let model = out.join(format!("{system}.onnx"));
    std::fs::write(&model, &p.bytes)?;
    crate::parity::write_cases(out, system, &model, p.tolerances, &p.cases)?;
    crate::parity::check_tract(&p.bytes, &p.cases, p.tolerances)
}

/// Runs `system`'s comparison from its paper (ours against the baseline, same data and
/// budget, in one run) and writes `<results>/<system>.md` and its figures.
pub fn reproduce(system: &str, options: &TrainOptions, results: &Path) -> Result<()> {
    std::fs::create_dir_all(results)?;
    match system {
        defect::NAME => defect::reproduce(options, results),
        kno::NAME => kno::reproduce(options, results),
        rbnn::NAME => rbnn::reproduce(options, results),
        other => bail!("unknown system '{other}': the systems are {SYSTEMS:?}"),
    }
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
