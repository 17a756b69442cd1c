//! What every training run shares: the run folder, the progress bar, per-epoch metrics (CSV and a
//! training-curve PNG) and checkpoints for resuming.
//!
//! A run of system `s` lives in `<dir>/<s>/`: `metrics.csv`, `curve.png`, and the checkpoint
//! (`model.bpk` and `optim.bpk` in burn's burnpack format, `state.json` with the epoch, the
//! history so far and the options that must match to resume).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// A progress bar over `steps` steps, labelled `prefix`.
pub fn step_bar(prefix: &str, steps: usize) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>8} [{bar:30}] {pos}/{len} steps {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// Options common to every system's training.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    /// Epochs to train (a system's default when `None`).
    pub epochs: Option<usize>,
    /// The seed of the weights' initialization and of the data.
    pub seed: u64,
    /// Train for seconds, on less data: for CI.
    pub quick: bool,
    /// Continue from the run folder's checkpoint.
    pub resume: bool,
    /// The folder holding every system's run folder.
    pub runs: PathBuf,
    /// Where `<system>.onnx` and the manifest entry go.
    pub onnx_dir: PathBuf,
    /// The command line that started the run, recorded in the model.
    pub command: String,
}

/// Per-epoch metrics, in column order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    /// Column names (`epoch` first).
    pub columns: Vec<String>,
    /// One row per epoch.
    pub rows: Vec<Vec<f64>>,
}

impl History {
    /// An empty history with these metric columns (after `epoch`).
    pub fn new(metrics: &[&str]) -> History {
        History {
            columns: std::iter::once("epoch")
                .chain(metrics.iter().copied())
                .map(String::from)
                .collect(),
            rows: vec![],
        }
    }

    /// Appends one epoch's values (in the columns' order, without the epoch).
    pub fn push(&mut self, epoch: usize, values: &[f64]) -> Result<()> {
        if values.len() + 1 != self.columns.len() {
            bail!(
                "{} metric values for columns {:?}",
                values.len(),
                self.columns
            );
        }
        self.rows.push(
            std::iter::once(epoch as f64)
                .chain(values.iter().copied())
                .collect(),
        );
        Ok(())
    }

    /// The last value of `column`.
    pub fn last(&self, column: &str) -> Option<f64> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.rows.last().map(|r| r[i])
    }

    /// The CSV text.
    pub fn csv(&self) -> String {
        let mut s = self.columns.join(",");
        s.push('\n');
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|v| format!("{v}")).collect();
            s.push_str(&cells.join(","));
            s.push('\n');
        }
        s
    }
}

/// The checkpoint's metadata.
#[derive(Serialize, Deserialize)]
struct State {
    epoch: usize,
    history: History,
    seed: u64,
    quick: bool,
    config: serde_json::Value,
}

/// The part of a config that must match to resume: all but `epochs`, so that a finished run
/// can be resumed to train for longer.
fn resumable(config: &impl Serialize) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(config)?;
    if let Some(map) = v.as_object_mut() {
        map.remove("epochs");
    }
    Ok(v)
}

/// One system's run folder.
pub struct Run {
    name: String,
    dir: PathBuf,
    bar: Option<ProgressBar>,
}

impl Run {
    /// The run folder of `system` under `options.runs`, created if missing.
    pub fn open(system: &str, options: &TrainOptions) -> Result<Run> {
        let dir = options.runs.join(system);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Run {
            name: system.into(),
            dir,
            bar: None,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts the progress bar over `epochs × steps` steps, at `done` epochs.
    pub fn progress(&mut self, system: &str, epochs: usize, steps: usize, done: usize) {
        let bar = step_bar(system, epochs * steps);
        bar.set_position((done * steps) as u64);
        self.bar = Some(bar);
    }

    /// Advances the bar by one step and shows `message` (the running loss).
    pub fn step(&self, message: impl Into<std::borrow::Cow<'static, str>>) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(message);
        }
    }

    /// Prints a line above the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            // A hidden bar (output not a terminal) drops its lines: print them plainly.
            Some(b) if !b.is_hidden() => b.println(line),
            _ => eprintln!("{line}"),
        }
    }

    /// Clears the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    /// Saves the checkpoint of `epoch` (done) and rewrites `metrics.csv` and `curve.png`.
    pub fn checkpoint<M: Module>(
        &self,
        epoch: usize,
        model: &M,
        optim: &ModuleOptimizer,
        history: &History,
        options: &TrainOptions,
        config: &impl Serialize,
    ) -> Result<()> {
        model
            .clone()
            .save_file(self.dir.join("model.bpk"))
            .map_err(|e| anyhow::anyhow!("saving the model: {e:?}"))?;
        optim
            .save(self.dir.join("optim.bpk"))
            .map_err(|e| anyhow::anyhow!("saving the optimizer: {e:?}"))?;
        let state = State {
            epoch,
            history: history.clone(),
            seed: options.seed,
            quick: options.quick,
            config: resumable(config)?,
        };
        std::fs::write(
            self.dir.join("state.json"),
            serde_json::to_string_pretty(&state)?,
        )?;
        std::fs::write(self.dir.join("metrics.csv"), history.csv())?;
        let title = format!("{}: training, seed {}", self.name, options.seed);
        crate::plot::curves(history, &title, &self.dir.join("curve.png"))?;
        Ok(())
    }

    /// The saved checkpoint, if `options.resume` and one exists that was made with the same
    /// seed, mode and config: `(epochs done, history, model, optimizer)`.
    pub fn resume<M: Module>(
        &self,
        options: &TrainOptions,
        config: &impl Serialize,
        model: M,
        optim: ModuleOptimizer,
    ) -> Result<(usize, Option<History>, M, ModuleOptimizer)> {
        let path = self.dir.join("state.json");
        if !options.resume {
            return Ok((0, None, model, optim));
        }
        if !path.exists() {
            bail!("--resume: no checkpoint in {}", self.dir.display());
        }
        let state: State = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| format!("reading {}", path.display()))?;
        if state.seed != options.seed
            || state.quick != options.quick
            || state.config != resumable(config)?
        {
            bail!(
                "--resume: the checkpoint in {} was made with other options (seed {}, quick {}, \
                 config {}); start again without --resume",
                self.dir.display(),
                state.seed,
                state.quick,
                state.config
            );
        }
        let model = model
            .try_load_file(self.dir.join("model.bpk"))
            .map_err(|e| anyhow::anyhow!("loading the model checkpoint: {e:?}"))?;
        let optim = optim
            .load(self.dir.join("optim.bpk"))
            .map_err(|e| anyhow::anyhow!("loading the optimizer checkpoint: {e:?}"))?;
        Ok((state.epoch, Some(state.history), model, optim))
    }
}
