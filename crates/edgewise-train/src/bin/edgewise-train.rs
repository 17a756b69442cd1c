//! `edgewise-train`: trains a catalogue system and exports it (`cargo xtask train` runs it).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};
use edgewise_train::run::TrainOptions;
use edgewise_train::systems;

#[derive(Parser)]
#[command(
    name = "edgewise-train",
    about = "Train and export edgewise's catalogue systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a system and write onnx/<system>.onnx and its manifest entry.
    Train {
        /// The system (`edgewise-train list` lists them).
        system: String,
        /// Train for seconds on little data (CI).
        #[arg(long)]
        quick: bool,
        /// Epochs (the system's default otherwise).
        #[arg(long)]
        epochs: Option<usize>,
        /// Seed of the initialization and the data.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Continue from the last checkpoint.
        #[arg(long)]
        resume: bool,
        /// Folder of the run folders.
        #[arg(long, default_value = "target/train")]
        runs: PathBuf,
        /// Folder of the ONNX files and manifest.json.
        #[arg(long, default_value = "onnx")]
        onnx_dir: PathBuf,
    },
    /// Run a system's comparison from its paper (ours against the baseline, same data and
    /// budget) and write <results>/<system>.md with its figures.
    Reproduce {
        /// The system (`edgewise-train list` lists them).
        system: String,
        /// Seconds-long runs on little data (the table is then not meaningful).
        #[arg(long)]
        quick: bool,
        /// Epochs (the system's default otherwise).
        #[arg(long)]
        epochs: Option<usize>,
        /// Seed of the initialization and the data.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Folder of the run folders.
        #[arg(long, default_value = "target/reproduce")]
        runs: PathBuf,
        /// Folder of the results.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Continue each trained model from its last checkpoint in the run folders (a finished
        /// one is not trained again; the results are those of an uninterrupted run).
        #[arg(long)]
        resume: bool,
    },
    /// Quantize a trained catalogue CNN (onnx/<system>.onnx) after training and write
    /// <out>/<system>-w<W>a<A>.onnx: int8 weights, activations through BorderRound.
    Quantize {
        /// The system (`defect`, `multiexit`, `exitdoor`).
        system: String,
        /// Bits per weight (2 to 8).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(2..=8))]
        wbits: u32,
        /// Bits per activation (2 to 16).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(2..=16))]
        abits: u32,
        /// `aquant` (learned weight rounding and activation borders), `adaround` (weights
        /// only) or `nearest`.
        #[arg(long, default_value = "aquant")]
        method: String,
        /// Learning steps (the model's default otherwise).
        #[arg(long)]
        steps: Option<usize>,
        /// Seed of the calibration images.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Folder of the float models.
        #[arg(long, default_value = "onnx")]
        onnx_dir: PathBuf,
        /// Folder of the quantized model.
        #[arg(long, default_value = "target/quantize")]
        out: PathBuf,
    },
    /// Prune a trained catalogue CNN (onnx/<system>.onnx) to a share of its operations and
    /// write <out>/<system>-<method>-<percent>.onnx: whole filters removed, fine-tuned.
    Prune {
        /// The system (`defect`, `multiexit`, `exitdoor`).
        system: String,
        /// The share of the full model's floating-point operations to keep (0 to 1).
        #[arg(long, default_value_t = 0.5)]
        flops: f64,
        /// `snf` (searched filter counts), `uniform` (the same share of every layer) or `l1`
        /// (filters ranked network-wide by L1 norm).
        #[arg(long, default_value = "snf")]
        method: String,
        /// Fine-tuning steps (the model's default otherwise; 0: none).
        #[arg(long)]
        steps: Option<usize>,
        /// Seed of the calibration and fine-tuning images.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Folder of the full models.
        #[arg(long, default_value = "onnx")]
        onnx_dir: PathBuf,
        /// Folder of the pruned model.
        #[arg(long, default_value = "target/prune")]
        out: PathBuf,
    },
    /// List the systems, one id per line with its title; `--json` prints each with its
    /// default and quick configurations as JSON.
    List {
        /// Print JSON: `[{ id, title, config, quick }]`.
        #[arg(long)]
        json: bool,
    },
    /// Quick-train every system and write its ONNX file and parity cases (inputs and burn's
    /// outputs) for the Node and Python checks.
    Parity {
        /// Output folder.
        #[arg(long, default_value = "target/parity")]
        out: PathBuf,
    },
}

/// The options of a tool that starts from a trained model (`quantize`, `prune`): `steps` of
/// learning, images of `seed`, the trained models in `onnx_dir`, its output in `out`.
fn tool_options(steps: Option<usize>, seed: u64, out: &Path, onnx_dir: PathBuf) -> TrainOptions {
    TrainOptions {
        epochs: steps,
        seed,
        quick: false,
        resume: false,
        runs: out.to_path_buf(),
        onnx_dir,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train {
            system,
            quick,
            epochs,
            seed,
            resume,
            runs,
            onnx_dir,
        } => {
            let options = TrainOptions {
                epochs,
                seed,
                quick,
                resume,
                runs,
                onnx_dir,
                command: std::env::args().collect::<Vec<_>>().join(" "),
            };
            let start = Instant::now();
            let trained = systems::train(&system, &options)?;
            println!(
                "{system}: trained in {:.1} s; wrote {}/{}.onnx ({} bytes, {} parameters); metrics {}",
                start.elapsed().as_secs_f64(),
                options.onnx_dir.display(),
                system,
                trained.bytes.len(),
                trained.entry.parameters,
                trained.entry.metrics
            );
            Ok(())
        }
        Command::Reproduce {
            system,
            quick,
            epochs,
            seed,
            runs,
            results,
            resume,
        } => {
            let options = TrainOptions {
                epochs,
                seed,
                quick,
                resume,
                onnx_dir: runs.join("onnx"),
                runs,
                command: std::env::args().collect::<Vec<_>>().join(" "),
            };
            let start = Instant::now();
            systems::reproduce(&system, &options, &results)?;
            println!(
                "{system}: reproduced in {:.1} s; wrote {}/{system}.md",
                start.elapsed().as_secs_f64(),
                results.display()
            );
            Ok(())
        }
        Command::Quantize {
            system,
            wbits,
            abits,
            method,
            steps,
            seed,
            onnx_dir,
            out,
        } => {
            let options = tool_options(steps, seed, &out, onnx_dir);
            let bits = edgewise_train::quant::Bits {
                weights: wbits,
                activations: abits,
            };
            let method = edgewise_train::quant::Method::parse(&method)?;
            let start = Instant::now();
            let (path, float, quantized, metric) =
                systems::aquant::quantize_system(&system, bits, method, &options, &out)?;
            println!(
                "{system}: {} by {} in {:.1} s; {metric} {quantized:.4} (float {float:.4}); wrote {}",
                bits.label(),
                method.id(),
                start.elapsed().as_secs_f64(),
                path.display()
            );
            Ok(())
        }
        Command::Prune {
            system,
            flops,
            method,
            steps,
            seed,
            onnx_dir,
            out,
        } => {
            let options = tool_options(steps, seed, &out, onnx_dir);
            let method = edgewise_train::prune::Method::parse(&method)?;
            let start = Instant::now();
            let (path, outcome, metric) =
                systems::snf::prune_system(&system, method, flops, &options, &out)?;
            println!(
                "{system}: pruned by {} to {:.1} % of its operations ({} FLOPs, widths {:?}) in \
                 {:.1} s; {metric} {:.4} (full {:.4}); wrote {}",
                method.id(),
                100.0 * outcome.pruned.cost,
                outcome.pruned.flops,
                outcome.pruned.widths,
                start.elapsed().as_secs_f64(),
                outcome.metric,
                outcome.full_metric,
                path.display()
            );
            Ok(())
        }
        Command::List { json } => {
            if json {
                let quick = systems::quick_options(std::path::Path::new("target/quick"));
                let full = TrainOptions {
                    quick: false,
                    ..quick.clone()
                };
                let list: Vec<_> = systems::REGISTRY
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.id(),
                            "title": s.title(),
                            "config": s.config(&full),
                            "quick": s.config(&quick),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for s in systems::REGISTRY {
                    println!("{}\t{}", s.id(), s.title());
                }
            }
            Ok(())
        }
        Command::Parity { out } => {
            for system in systems::ids() {
                let worst = systems::parity(system, &out)?;
                println!("{system}: burn vs tract, largest |diff| per output: {worst:?}");
            }
            Ok(())
        }
    }
}
