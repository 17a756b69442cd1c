//! Data, training and evaluation of the neural operators on Burgers' trajectories.

use anyhow::Result;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use edgewise_data::burgers::{self, DEFAULT_DT, DEFAULT_NU, Dataset};
use edgewise_data::rng::Rng;

use super::model::{Kind, NeuralOperator};
use super::{Config, FINE_N};
use crate::metrics::relative_l2;
use crate::run::{History, Run, TrainOptions};
use crate::systems::batches;

/// The seed of the test trajectories drawn for training seed `seed`.
pub fn test_seed(seed: u64) -> u64 {
    seed ^ 0x7e57
}

/// Training trajectories at the training resolution, and the test trajectories (other seeds)
/// at the training resolution and at [`FINE_N`] (the same functions on the finer mesh).
pub struct Data {
    /// Training trajectories, `config.n` points.
    pub train: Dataset,
    /// Test trajectories, `config.n` points.
    pub test: Dataset,
    /// The same test trajectories on [`FINE_N`] points.
    pub test_fine: Dataset,
}

impl Data {
    /// Solves the trajectories of `config` (seeded by `seed`).
    pub fn new(config: &Config, seed: u64) -> Result<Data> {
        let make = |n, count, seed| {
            burgers::dataset(n, DEFAULT_NU, DEFAULT_DT, config.steps, count, seed)
                .map_err(anyhow::Error::msg)
        };
        Ok(Data {
            train: make(config.n, config.train_trajectories, seed)?,
            test: make(config.n, config.test_trajectories, test_seed(seed))?,
            test_fine: make(FINE_N, config.test_trajectories, test_seed(seed))?,
        })
    }
}

/// `[count, 1, n]` from `count` fields of `n` values.
pub fn stack<'a>(fields: impl Iterator<Item = &'a [f32]>, device: &Device) -> Tensor<3> {
    let mut data = vec![];
    let (mut count, mut n) = (0, 0);
    for f in fields {
        n = f.len();
        data.extend_from_slice(f);
        count += 1;
    }
    Tensor::from_data(TensorData::new(data, [count, 1, n]), device)
}

/// The mean relative L2 error `‖û_k − u_k‖ / ‖u_k‖` over `data`'s trajectories after each of
/// `k = 1..=steps` model steps from `u_0` (a model-only rollout), on the flex backend.
pub fn rollout_errors(model: &NeuralOperator, data: &Dataset) -> Result<Vec<f64>> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    let steps = data.trajectories.first().map_or(0, |t| t.len() - 1);
    let mut sums = vec![0f64; steps];
    let count = data.trajectories.len();
    for chunk in data.trajectories.chunks(64) {
        let mut u = stack(chunk.iter().map(|t| t[0].as_slice()), &device);
        for (k, sum) in sums.iter_mut().enumerate() {
            u = model.forward(u);
            let pred = crate::emit::values(&u)?;
            for (p, t) in pred.chunks(data.n).zip(chunk) {
                *sum += relative_l2(p, &t[k + 1]);
            }
        }
    }
    Ok(sums.into_iter().map(|s| s / count.max(1) as f64).collect())
}

/// The rollout windows `(trajectory, start)` of `epoch`: `config.windows` starts per
/// trajectory, drawn from `(seed, epoch)`.
fn windows(config: &Config, seed: u64, epoch: usize) -> Vec<(usize, usize)> {
    let mut rng = Rng::new(seed).fork(0x3140_0000 + epoch as u64);
    let starts = config.steps + 1 - config.rollout;
    (0..config.train_trajectories)
        .flat_map(|i| (0..config.windows).map(move |_| i))
        .map(|i| (i, rng.below(starts)))
        .collect()
}

/// The learning rate of `epoch`: `config.lr` halved every quarter of the epochs.
pub fn learning_rate(config: &Config, epoch: usize) -> f64 {
    let quarter = config.epochs.div_ceil(4).max(1);
    config.lr * 0.5f64.powi((epoch / quarter) as i32)
}

/// The loss of a batch: the one-step relative squared error plus its mean over the
/// `rollout` unrolled steps (the model's own predictions fed back, no teacher forcing).
fn loss_of(model: &NeuralOperator, targets: &[Tensor<3>]) -> Tensor<1> {
    let rel = |pred: Tensor<3>, y: Tensor<3>| {
        let num = (pred - y.clone()).powi_scalar(2).sum_dim(2);
        let den = y.powi_scalar(2).sum_dim(2) + 1e-12;
        (num / den).mean()
    };
    let mut u = targets[0].clone();
    let mut first = None;
    let mut total = None;
    for y in &targets[1..] {
        u = model.forward(u);
        let l = rel(u.clone(), y.clone());
        first.get_or_insert_with(|| l.clone());
        total = Some(match total {
            None => l,
            Some(t) => t + l,
        });
    }
    let steps = (targets.len() - 1) as f64;
    match (first, total) {
        (Some(f), Some(t)) => f + t / steps,
        _ => Tensor::zeros([1], &targets[0].device()),
    }
}

/// Trains one operator of `kind` on `data`, checkpointing into the run folder `run_name`.
/// History columns: `loss`, `rel_l2_1`, `rel_l2_10`, `rel_l2_50` (test set at the training
/// resolution) and `rel_l2_50_n256` (the same trajectories at 256 points).
pub fn fit(
    options: &TrainOptions,
    kind: Kind,
    run_name: &str,
    data: &Data,
) -> Result<(NeuralOperator, History, Config)> {
    let config = Config::new(options, kind);
    if config.rollout == 0 || config.rollout > config.steps {
        anyhow::bail!(
            "{run_name}: the loss unrolls {} steps of trajectories of {}",
            config.rollout,
            config.steps
        );
    }
    let device = crate::systems::device(options)?;
    device.seed(options.seed);
    let mut run = Run::open(run_name, options)?;
    let model = NeuralOperator::new(kind, config.width, config.modes, config.order, &device);
    let optim: ModuleOptimizer = AdamConfig::new().init();
    let (done, history, mut model, mut optim) = run.resume(options, &config, model, optim)?;
    let mut history = history.unwrap_or_else(|| {
        History::new(&[
            "loss",
            "rel_l2_1",
            "rel_l2_10",
            "rel_l2_50",
            "rel_l2_50_n256",
        ])
    });
    let count = config.train_trajectories * config.windows;
    let steps = count.div_ceil(config.batch);
    run.progress(run_name, config.epochs, steps, done);
    let at = |curve: &[f64], k: usize| curve.get(k - 1).copied().unwrap_or(f64::NAN);
    for epoch in done..config.epochs {
        let lr = learning_rate(&config, epoch);
        let win = windows(&config, options.seed, epoch);
        let mut total = 0.0;
        for batch in batches(win.len(), config.batch, options.seed, epoch) {
            let targets: Vec<Tensor<3>> = (0..=config.rollout)
                .map(|k| {
                    let fields = batch.iter().map(|&w| {
                        let (i, s) = win[w];
                        data.train.trajectories[i][s + k].as_slice()
                    });
                    stack(fields, &device)
                })
                .collect();
            let l = loss_of(&model, &targets);
            let value = l.clone().into_scalar::<f32>() as f64;
            total += value;
            let grads = GradientsParams::from_grads(l.backward(), &model);
            model = optim.step(lr, model, grads);
            run.step(format!("loss {value:.4}"));
        }
        let valid = model.valid();
        let coarse = rollout_errors(&valid, &data.test)?;
        let fine = rollout_errors(&valid, &data.test_fine)?;
        let last = config.steps;
        let row = [
            total / steps as f64,
            at(&coarse, 1),
            at(&coarse, 10.min(last)),
            at(&coarse, last),
            at(&fine, last),
        ];
        history.push(epoch + 1, &row)?;
        run.println(&format!(
            "{run_name} epoch {}: loss {:.4}, rel L2 at 1/10/{last} steps {:.4}/{:.4}/{:.4}, at {last} steps on 256 points {:.4}",
            epoch + 1,
            row[0],
            row[1],
            row[2],
            row[3],
            row[4]
        ));
        run.checkpoint(epoch + 1, &model, &optim, &history, options, &config)?;
    }
    run.finish();
    Ok((model.valid(), history, config))
}
