//! `cargo xtask <command>`: the project's only entry point.
//!
//! - `setup`: installs what is missing (wasm target, wasm-bindgen CLI, npm packages, Chromium,
//!   chromedriver, lavapipe, the Python venv). Idempotent.
//! - `build`: the npm package into `pkg/`.
//! - `test`: every check, from formatting to headless-browser tests. CI runs exactly this.
//! - `demo`: builds the package and serves the demo gallery on 127.0.0.1.
//! - `train <system>`: trains a catalogue system natively (burn, CPU) and exports it to
//!   `onnx/<system>.onnx` with its manifest entry.
//! - `reproduce <system>`: the paper's comparison, written to `results/<system>.md`.
//! - `systems`: the catalogue systems the trainer knows.
//! - `bench`: edgewise against onnxruntime-web in one Node process; writes `bench/RESULTS.md`.
//! - `conformance`: the ONNX backend test suite natively and in wasm; `--write` updates
//!   `tests/conformance/RESULTS.md`.

mod bench;
mod build;
mod cmd;
mod conformance;
mod serve;
mod setup;
mod test;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "edgewise's build, test, demo and bench tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what the other commands need (idempotent).
    Setup,
    /// Build the npm package into pkg/.
    Build {
        /// wasm-opt level: O3, O4, Os, Oz, or none.
        #[arg(long, default_value = "Os")]
        wasm_opt: String,
    },
    /// Run every test: Rust, wasm in Node and Chromium, hosts, browser, conformance.
    Test,
    /// Build the package and serve the demo gallery on 127.0.0.1.
    Demo {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Benchmark against onnxruntime-web, and the custom operators' CPU kernels against their
    /// GPU programs; writes bench/RESULTS.md.
    Bench {
        /// Timed runs per model (after warm-up).
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// Only the custom-operator bench (CPU kernel against GPU program).
        #[arg(long)]
        ops: bool,
        /// Time budget per operator workload and side, in milliseconds.
        #[arg(long, default_value_t = 1500)]
        op_budget_ms: u64,
        /// Measure nothing: render bench/RESULTS.md again from the saved results.
        #[arg(long)]
        render_only: bool,
    },
    /// Train a catalogue system natively and export it to onnx/<system>.onnx.
    Train {
        /// The system (`cargo xtask systems` lists them).
        system: String,
        /// Train for seconds on little data (what CI runs).
        #[arg(long)]
        quick: bool,
        /// Epochs (the system's default otherwise).
        #[arg(long)]
        epochs: Option<usize>,
        /// Seed of the initialization and the data.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Continue from the last checkpoint in target/train/<system>.
        #[arg(long)]
        resume: bool,
        /// flex (burn's CPU backend; `ndarray` is accepted as its old name) or wgpu.
        #[arg(long, default_value = "flex")]
        backend: String,
    },
    /// Run a system's comparison from its paper (ours against the baseline, same data and
    /// budget, in one run) and write results/<system>.md with its figures.
    Reproduce {
        /// The system (`cargo xtask systems` lists them).
        system: String,
        /// Seconds-long runs (checks the pipeline; the numbers mean nothing).
        #[arg(long)]
        quick: bool,
        /// Epochs of every trained model (the system's default otherwise).
        #[arg(long)]
        epochs: Option<usize>,
        /// Seed of the initialization and the data.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Continue each trained model from its checkpoint in target/reproduce (a finished one
        /// is not trained again).
        #[arg(long)]
        resume: bool,
    },
    /// Quantize a trained catalogue CNN: `cargo xtask quantize <system> --wbits W --abits A
    /// [--method aquant|adaround|nearest]` writes target/quantize/<system>-w<W>a<A>.onnx (the
    /// trainer's `quantize --help` lists every option).
    Quantize {
        /// The system and the trainer's options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Prune a trained catalogue CNN: `cargo xtask prune <system> --flops 0.5
    /// [--method snf|uniform|l1]` writes target/prune/<system>-<method>-<percent>.onnx (the
    /// trainer's `prune --help` lists every option).
    Prune {
        /// The system and the trainer's options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// List the catalogue systems the trainer knows (`--json`: with their configurations).
    Systems {
        /// Each system with its default and quick configurations, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the ONNX backend conformance cases natively and in wasm.
    Conformance {
        /// Update the committed tests/conformance/RESULTS.md.
        #[arg(long)]
        write: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Setup => setup::setup(setup::Need::Everything),
        Command::Build { wasm_opt } => {
            setup::setup(setup::Need::Package)?;
            build::build(&build::BuildOptions {
                wasm_opt,
                ..Default::default()
            })
        }
        Command::Test => test::test(),
        Command::Demo { port } => demo(port),
        Command::Bench {
            runs,
            ops,
            op_budget_ms,
            render_only,
        } => {
            if render_only {
                bench::render_saved()
            } else {
                bench::bench(runs, ops, op_budget_ms)
            }
        }
        Command::Quantize { args } => train::forward("quantize", &args),
        Command::Prune { args } => train::forward("prune", &args),
        Command::Train {
            system,
            quick,
            epochs,
            seed,
            resume,
            backend,
        } => train::train(&train::TrainArgs {
            system,
            quick,
            epochs,
            seed,
            resume,
            backend,
        }),
        Command::Reproduce {
            system,
            quick,
            epochs,
            seed,
            resume,
        } => train::reproduce(&system, quick, epochs, seed, resume),
        Command::Systems { json } => train::list(json),
        Command::Conformance { write } => {
            setup::setup(setup::Need::Everything)?;
            build::build(&Default::default())?;
            let mut steps = cmd::Steps::new();
            let r = conformance::conformance(&mut steps, write);
            steps.summary();
            r
        }
    }
}

fn demo(port: u16) -> Result<()> {
    setup::setup(setup::Need::Package)?;
    build::build(&Default::default())?;
    let (url, handle) = serve::start(port)?;
    println!("\nedgewise demo gallery: {url}/www/\n(Ctrl-C to stop)");
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("server thread panicked"))
}
