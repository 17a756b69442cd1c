//! `cargo xtask train <system>`: native training and export through the `edgewise-train`
//! binary (burn on the CPU), writing `onnx/<system>.onnx` and its manifest entry.

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::{Cmd, NATIVE, cargo_artifact};
use crate::setup;

/// Where `cargo xtask test` writes the quick-trained models and their parity cases.
pub const PARITY: &str = "target/parity";

/// Builds the trainer and returns its path. It is built with the packages `cargo xtask test`
/// selects ([`NATIVE`]): selecting one package unifies other features and compiles burn, tract
/// and wgpu a second time.
pub fn trainer() -> Result<PathBuf> {
    cargo_artifact(&NATIVE, "edgewise-train", "bin", "trainer")
}

/// The ids of the trainer's registry (`edgewise-train list`), in the catalogue's order.
pub fn systems() -> Result<Vec<String>> {
    let out = Cmd::new(trainer()?.display().to_string())
        .arg("list")
        .output()?;
    let ids: Vec<String> = out
        .lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|id| !id.trim().is_empty())
        .map(|id| id.trim().to_string())
        .collect();
    if ids.is_empty() {
        anyhow::bail!("`edgewise-train list` listed no system");
    }
    Ok(ids)
}

/// `cargo xtask systems`: the trainer's list, as it prints it.
pub fn list(json: bool) -> Result<()> {
    let mut c = Cmd::new(trainer()?.display().to_string()).arg("list");
    if json {
        c = c.arg("--json");
    }
    c.run()
}

/// `cargo xtask quantize|prune <system> …`: the trainer's `command` with the same arguments.
pub fn forward(command: &str, args: &[String]) -> Result<()> {
    setup::ensure_font()?;
    Cmd::new(trainer()?.display().to_string())
        .arg(command)
        .args(args.iter().map(String::as_str))
        .run()
}

/// Options of `cargo xtask train`.
pub struct TrainArgs {
    pub system: String,
    pub quick: bool,
    pub epochs: Option<usize>,
    pub seed: u64,
    pub resume: bool,
    pub backend: String,
}

pub fn train(args: &TrainArgs) -> Result<()> {
    setup::ensure_font()?;
    if args.backend == "wgpu" {
        anyhow::bail!(
            "--backend wgpu: build the trainer with burn's wgpu backend first \
             (cargo build -p edgewise-train --features wgpu), then run \
             EDGEWISE_TRAIN_BACKEND=wgpu target/debug/edgewise-train train {}",
            args.system
        );
    }
    let mut c = Cmd::new(trainer()?.display().to_string())
        .args(["train", &args.system, "--seed", &args.seed.to_string()])
        .env("EDGEWISE_TRAIN_BACKEND", &args.backend);
    if args.quick {
        c = c.arg("--quick");
    }
    if args.resume {
        c = c.arg("--resume");
    }
    if let Some(e) = args.epochs {
        c = c.args(["--epochs", &e.to_string()]);
    }
    c.run()
}

/// `cargo xtask reproduce <system>`: the paper's comparison, written to results/<system>.md.
/// Comparisons that time the npm package (multiexit's, in wasm) need it built: it is built
/// first when `pkg/` has none.
pub fn reproduce(
    system: &str,
    quick: bool,
    epochs: Option<usize>,
    seed: u64,
    resume: bool,
) -> Result<()> {
    setup::ensure_font()?;
    if !crate::cmd::root().join("pkg/index.js").exists() {
        setup::setup(setup::Need::Package)?;
        crate::build::build(&Default::default())?;
    }
    let mut c = Cmd::new(trainer()?.display().to_string()).args([
        "reproduce",
        system,
        "--seed",
        &seed.to_string(),
    ]);
    if quick {
        c = c.args(["--quick", "--results", "target/reproduce/results"]);
    }
    if let Some(e) = epochs {
        c = c.args(["--epochs", &e.to_string()]);
    }
    if resume {
        c = c.arg("--resume");
    }
    c.run()
}
