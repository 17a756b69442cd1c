//! The Koopman neural operator (Xiong et al., "Koopman neural operator as a mesh-free solver of
//! non-linear PDEs"; the KoopmanLab library) on the 1-D viscous Burgers' equation.
//!
//! The model advances a field `u(t)` sampled on `n` periodic points by one step of
//! [`DEFAULT_DT`]: a pointwise encoder lifts `u` to `width` channels (tanh); one Fourier layer
//! `h ↦ tanh(K h + W h)` — `K` the [`SpectralConv1d`](crate::spectral::SpectralConv1d) on the
//! lowest `modes` frequencies, `W` a 1×1 skip — is applied `order` times with the same weights
//! (the time-invariant Koopman operator in the latent space); a pointwise decoder maps back to
//! one channel, added to `u`. Every operation works on any `n`, so the model trained at
//! `n = 128` runs at `n = 256` (mesh independence). Trained on a one-step loss plus a loss on
//! its own unrolled rollout, it is rolled out for 50 steps (`t = 1`) against the
//! pseudo-spectral solver of [`edgewise_data::burgers`]. The baseline ([`reproduce`]) is an
//! FNO with `order` distinct Fourier layers and a similar parameter count.
//!
//! Export: input `u` `[batch, 1, n]`, output `u_next` `[batch, 1, n]`, with `n` symbolic.

mod figures;
mod fit;
mod model;
mod reproduce;

use anyhow::Result;
use burn::prelude::*;
use edgewise_core::{DType, Dim};
use edgewise_data::burgers::{self, Burgers, DEFAULT_DT, DEFAULT_NU};
use serde::Serialize;
use serde_json::json;

pub use fit::{Data, fit, learning_rate, rollout_errors, stack, test_seed};
pub use model::{FourierLayer, Kind, NeuralOperator};
pub use reproduce::reproduce;

use crate::emit::{BATCH, Emit, Emitter};
use crate::export::{ANY_LENGTH, Entry, LENGTH, Signature};
use crate::parity::{Array, Case};
use crate::run::TrainOptions;
use crate::systems::{Parity, Trained};

/// The system's name.
pub const NAME: &str = "kno";
/// The training resolution.
pub const TRAIN_N: usize = 128;
/// The finer resolution of the mesh-independence test.
pub const FINE_N: usize = 256;
/// Model steps per test rollout (`t = 1` at [`DEFAULT_DT`]).
pub const STEPS: usize = 50;

/// Training configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// KNO or the FNO baseline.
    pub kind: Kind,
    /// Latent channels.
    pub width: usize,
    /// Kept Fourier modes.
    pub modes: usize,
    /// Layer applications per step (KNO: powers of the one operator; FNO: distinct layers).
    pub order: usize,
    /// Training resolution.
    pub n: usize,
    /// Steps per trajectory.
    pub steps: usize,
    /// Training trajectories.
    pub train_trajectories: usize,
    /// Test trajectories (other seeds).
    pub test_trajectories: usize,
    /// Rollout windows drawn per training trajectory per epoch.
    pub windows: usize,
    /// Unrolled steps in the loss.
    pub rollout: usize,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Adam's initial learning rate (halved every quarter of the epochs).
    pub lr: f64,
}

impl Config {
    /// The default configuration of `kind`, or the seconds-long one for CI. The data and the
    /// budget do not depend on `kind`; the FNO's width is chosen for a similar parameter count.
    pub fn new(options: &TrainOptions, kind: Kind) -> Config {
        let (train_trajectories, test_trajectories, windows, epochs) = if options.quick {
            (8, 2, 16, 1)
        } else {
            (128, 32, 16, 12)
        };
        let (width, modes, order) = match kind {
            Kind::Koopman => (32, 16, 4),
            Kind::Fourier => (16, 16, 4),
        };
        Config {
            kind,
            width,
            modes,
            order,
            n: TRAIN_N,
            steps: STEPS,
            train_trajectories,
            test_trajectories,
            windows,
            rollout: if options.quick { 2 } else { 4 },
            epochs: options.epochs.unwrap_or(epochs),
            batch: 16,
            lr: 2e-3,
        }
    }
}

/// The signature of the exported input and output: `[batch, 1, n]`.
fn signal_dims() -> [Dim; 3] {
    [
        Dim::Symbolic(BATCH.into()),
        Dim::Fixed(1),
        Dim::Symbolic(LENGTH.into()),
    ]
}

/// Writes the ONNX model of a trained operator: input `u`, output `u_next`, both
/// `[batch, 1, n]` with `n` symbolic.
pub fn export(
    model: &NeuralOperator,
    options: &TrainOptions,
    metadata: &[(&str, String)],
) -> Result<(Vec<u8>, usize)> {
    let mut e = Emitter::new(NAME);
    let u = e.input_typed("u", DType::F32, &signal_dims());
    let next = model.emit(&mut e, "", &u)?;
    e.output_typed(&next, "u_next", DType::F32, &signal_dims())?;
    e.provenance(NAME, &command(options), metadata);
    let params = e.parameters();
    Ok((e.finish(), params))
}

/// The canonical command that reproduces a run.
pub fn command(options: &TrainOptions) -> String {
    super::train_command(NAME, options, Config::new(options, Kind::Koopman).epochs)
}

/// Trains the KNO and exports it.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let config = Config::new(options, Kind::Koopman);
    let data = Data::new(&config, options.seed)?;
    let (model, history, config) = fit(options, Kind::Koopman, NAME, &data)?;
    let last = |c: &str| super::round4(history.last(c).unwrap_or(f64::NAN));
    let metrics = json!({
        "rel_l2_1": last("rel_l2_1"),
        "rel_l2_10": last("rel_l2_10"),
        "rel_l2_50": last("rel_l2_50"),
        "rel_l2_50_n256": last("rel_l2_50_n256"),
        "test_trajectories": config.test_trajectories,
        "epochs": config.epochs,
    });
    let (bytes, parameters) = export(&model, options, &[("metrics", metrics.to_string())])?;
    let entry = Entry {
        system: NAME,
        inputs: vec![Signature::batch("u", &[1, ANY_LENGTH])],
        outputs: vec![Signature::batch("u_next", &[1, ANY_LENGTH])],
        description: format!(
            "Koopman neural operator for the 1-D viscous Burgers' equation u_t + u u_x = nu u_xx \
             (nu = {DEFAULT_NU}, periodic on [0, 1)): u_next = u + decoder(L^{order}(tanh(\
             encoder(u)))) advances a field sampled on n periodic points (any n; trained at \
             {TRAIN_N}) by dt = {DEFAULT_DT}, where L(h) = tanh(SpectralConv1d(h) + W h) is one \
             Fourier layer ({modes} modes, width {width}, edgewise op SpectralConv1d) applied \
             {order} times with the same weights. Roll it out by feeding u_next back as u ({STEPS} \
             steps reach t = 1). FLOPs are per sample and step at n = {TRAIN_N}.",
            order = config.order,
            modes = config.modes,
            width = config.width,
        ),
        provenance: format!(
            "trained by `{}` on {} trajectories of {} steps (dt = {DEFAULT_DT}, nu = \
             {DEFAULT_NU}) from random smooth initial conditions, solved pseudo-spectrally on 256 \
             points and truncated to {TRAIN_N} by crates/edgewise-data (burgers.rs, seed {}); \
             tested on {} trajectories of other seeds at {TRAIN_N} and {FINE_N} points",
            command(options),
            config.train_trajectories,
            config.steps,
            options.seed,
            config.test_trajectories
        ),
        parameters,
        flops: model.flops(TRAIN_N),
        metrics,
        extra: json!({ "dt": DEFAULT_DT, "nu": DEFAULT_NU, "train_n": TRAIN_N, "steps": STEPS }),
        command: command(options),
    };
    Ok(Trained {
        entry,
        bytes,
        history,
    })
}

/// Tolerance of the parity checks. `u_next`: 1e-4. burn computes each spectral layer as f32
/// products with truncated DFT matrices (sums of `n` terms), the runtime's kernel with FFTs
/// (sums in another order, `log n` levels): both round at about `√n·2⁻²⁴` of the spectra,
/// `~1e-6` relative, through `order` layers whose `tanh` does not amplify, and the output is
/// `u` plus that (|u| ≤ ~1.2, one f32 ulp ~1e-7). Measured worst on the quick model, on
/// initial conditions and states with fronts: 6e-8 at n = 128, 1.2e-7 at n = 256.
pub const TOLERANCES: [(&str, f32); 1] = [("u_next", 1e-4)];

/// `count` parity inputs at `n` points: random initial conditions (even cases) and states
/// with fronts, 15 solver steps (`t = 0.3`) later (odd cases).
pub fn parity_inputs(n: usize, count: usize, seed: u64) -> Result<Vec<Vec<f32>>> {
    let mut solver = Burgers::new(n, DEFAULT_NU).map_err(anyhow::Error::msg)?;
    (0..count)
        .map(|i| {
            let u0 = burgers::random_initial_condition(n, burgers::sample_seed(seed, i))
                .map_err(anyhow::Error::msg)?;
            if i % 2 == 0 {
                return Ok(u0);
            }
            let traj = solver
                .trajectory(&u0, DEFAULT_DT, 15)
                .map_err(anyhow::Error::msg)?;
            Ok(traj[15].clone())
        })
        .collect()
}

/// Parity cases: each input through the model in burn (flex backend).
pub fn parity_cases(model: &NeuralOperator, inputs: &[Vec<f32>]) -> Result<Vec<Case>> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    inputs
        .iter()
        .map(|u| {
            let x = stack(std::iter::once(u.as_slice()), &device);
            let y = crate::emit::values(&model.forward(x))?;
            let dims = [1, 1, u.len()];
            Ok(Case {
                inputs: vec![Array::new("u", &dims, u.clone())],
                outputs: vec![Array::new("u_next", &dims, y)],
            })
        })
        .collect()
}

/// A quick-trained KNO and 8 parity cases: 5 at the training resolution, 3 at [`FINE_N`].
pub fn parity(options: &TrainOptions) -> Result<Parity> {
    let config = Config::new(options, Kind::Koopman);
    let data = Data::new(&config, options.seed)?;
    let (model, ..) = fit(options, Kind::Koopman, NAME, &data)?;
    let (bytes, _) = export(&model, options, &[])?;
    let mut inputs = parity_inputs(TRAIN_N, 5, 1)?;
    inputs.extend(parity_inputs(FINE_N, 3, 2)?);
    Ok(Parity {
        bytes,
        cases: parity_cases(&model, &inputs)?,
        tolerances: &TOLERANCES,
    })
}

catalogue_system!("Koopman neural operator for Burgers' equation", |options| {
    Config::new(options, Kind::Koopman)
});
