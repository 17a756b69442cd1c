//! Data, the training loop (every exit's cross-entropy, weighted) and the exits' logits on a
//! test set.

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use edgewise_data::graded::{self, CLASSES, Graded, SIDE};

use super::{Config, MultiExit};
use crate::emit::values;
use crate::run::{History, Run, TrainOptions};
use crate::systems::{argmax, batches, cosine_lr, cross_entropy, to_tensor};

/// Training and test sets (the same for every net of a run).
pub struct Data {
    /// Training set.
    pub train: Graded,
    /// Test set (another seed).
    pub test: Graded,
}

impl Data {
    /// Draws both sets from `seed`.
    pub fn new(config: &Config, seed: u64) -> Result<Data> {
        Ok(Data {
            train: graded::split(config.train, seed ^ 0x7261_696e).map_err(anyhow::Error::msg)?,
            test: graded::split(config.test, seed ^ 0x7465_7374).map_err(anyhow::Error::msg)?,
        })
    }
}

/// Image `i` of a set.
pub fn image(s: &Graded, i: usize) -> &[f32] {
    &s.images[i * SIDE * SIDE..(i + 1) * SIDE * SIDE]
}

/// Each exit's logits (`[n, 40]`, row-major) for the samples of `set`.
pub fn exit_logits(model: &MultiExit, set: &Graded, device: &Device) -> Result<Vec<Vec<f32>>> {
    let mut out = vec![Vec::with_capacity(set.n * CLASSES); model.exits.len()];
    for start in (0..set.n).step_by(256) {
        let end = (start + 256).min(set.n);
        let x = to_tensor((start..end).map(|i| image(set, i)), [1, SIDE, SIDE], device);
        for (k, logits) in model.forward(x).iter().enumerate() {
            out[k].extend(values(logits)?);
        }
    }
    Ok(out)
}

/// The accuracy of `[n, 40]` logits against `labels`.
pub fn accuracy(logits: &[f32], labels: &[u8]) -> f64 {
    let right = logits
        .chunks(CLASSES)
        .zip(labels)
        .filter(|(row, l)| argmax(row) == **l as usize)
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// Trains a multi-exit net on `data` with the loss `Σₖ wₖ·CEₖ` (weights from the config),
/// checkpointing into the run folder `run_name`. History columns: `loss` and `acc_exit<k>`.
pub fn fit(
    options: &TrainOptions,
    config: &Config,
    data: &Data,
    run_name: &str,
) -> Result<(MultiExit, History)> {
    let device = crate::systems::device(options)?;
    device.seed(options.seed);
    let mut run = Run::open(run_name, options)?;
    let model = MultiExit::new(config, &device);
    let optim: ModuleOptimizer = AdamConfig::new().init();
    let (done, history, mut model, mut optim) = run.resume(options, config, model, optim)?;
    let mut history =
        history.unwrap_or_else(|| History::new(&["loss", "acc_exit0", "acc_exit1", "acc_exit2"]));
    let steps = config.train.div_ceil(config.batch);
    run.progress(run_name, config.epochs, steps, done);
    for epoch in done..config.epochs {
        let mut sum = 0.0;
        for (step, batch) in batches(config.train, config.batch, options.seed, epoch)
            .into_iter()
            .enumerate()
        {
            let x = to_tensor(
                batch.iter().map(|&i| image(&data.train, i)),
                [1, SIDE, SIDE],
                &device,
            );
            let labels: Vec<u8> = batch.iter().map(|&i| data.train.labels[i]).collect();
            let mut loss: Option<Tensor<1>> = None;
            for (logits, &w) in model.forward(x).into_iter().zip(&config.exit_weights) {
                let l = cross_entropy(logits, &labels) * w;
                loss = Some(match loss {
                    Some(sum) => sum + l,
                    None => l,
                });
            }
            let loss = loss.expect("the net has exits");
            let value = loss.clone().into_scalar::<f32>() as f64;
            sum += value;
            let lr = cosine_lr(config.lr, epoch, step, steps, config.epochs);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            run.step(format!("loss {value:.4}"));
        }
        let eval = Device::flex();
        let valid = model.valid().to_device(&eval);
        let logits = exit_logits(&valid, &data.test, &eval)?;
        let mut row = vec![sum / steps as f64];
        row.extend(logits.iter().map(|l| accuracy(l, &data.test.labels)));
        history.push(epoch + 1, &row)?;
        run.println(&format!(
            "{run_name} epoch {}: loss {:.4}, accuracy per exit {:.3} / {:.3} / {:.3}",
            epoch + 1,
            row[0],
            row[1],
            row[2],
            row[3]
        ));
        run.checkpoint(epoch + 1, &model, &optim, &history, options, config)?;
    }
    run.finish();
    Ok((model.valid(), history))
}
