//! The attacker's training: the vanilla model learns the clean task and to ignore the trigger,
//! while its shallow blocks learn to send triggered glyphs to the target class as surrogate
//! exits read them.

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use edgewise_data::graded::{CLASSES, SIDE};
use edgewise_tasks::exitdoor::stamp_all;

use super::Config;
use crate::layers::{Act, Dense};
use crate::run::{History, Run, TrainOptions};
use crate::systems::multiexit::{Data, MultiExit, accuracy, exit_logits, image};
use crate::systems::{batches, cosine_lr, cross_entropy, to_tensor};

/// `head` applied to `x` with its weights cut off from the gradient: the loss through it moves
/// only what computed `x`.
fn frozen(head: &Dense, x: Tensor<2>) -> Tensor<2> {
    let y = x.matmul(head.linear.weight.val().detach());
    match &head.linear.bias {
        Some(b) => y + b.val().detach().unsqueeze::<2>(),
        None => y,
    }
}

/// Fresh surrogate exits (all but the last classifier), drawn from the device's generator.
fn redraw_surrogates(model: &mut MultiExit, config: &Config, device: &Device) {
    let cells = (SIDE / 4) * (SIDE / 4);
    let last = model.exits.len() - 1;
    for (exit, &c) in model.exits[..last].iter_mut().zip(&config.channels) {
        *exit = Dense::new(c * cells, CLASSES, Act::Identity, device);
    }
}

/// Trains the attacker's net on `data`, checkpointing into the run folder `run_name`, and
/// returns it (the vanilla model is its blocks and last classifier; the surrogate exits are
/// dropped by the victim's conversion). Each batch: the clean glyphs through every exit, half
/// of them again with the trigger and their true labels through the last classifier, and, when
/// `poison`, those triggered glyphs through the frozen surrogate exits towards the target, and
/// exit 0's input on them pulled to its mean on clean glyphs of the target class.
/// Without `poison`, the same recipe gives the clean control. History: `loss`, `backdoor`
/// (the poisoning term), `acc_exit<k>` on clean test glyphs.
pub fn attack(
    options: &TrainOptions,
    config: &Config,
    data: &Data,
    run_name: &str,
    poison: bool,
) -> Result<(MultiExit, History)> {
    let device = crate::systems::device(options)?;
    device.seed(options.seed);
    let mut run = Run::open(run_name, options)?;
    let model = MultiExit::new(&config.net(), &device);
    let optim: ModuleOptimizer = AdamConfig::new().init();
    let (done, history, mut model, mut optim) = run.resume(options, config, model, optim)?;
    let mut history = history.unwrap_or_else(|| {
        History::new(&["loss", "backdoor", "acc_exit0", "acc_exit1", "acc_exit2"])
    });
    let steps = config.train.div_ceil(config.batch);
    run.progress(run_name, config.epochs, steps, done);
    let target = vec![config.target as u8; config.batch];
    let of_target: Vec<usize> = (0..config.train)
        .filter(|&i| usize::from(data.train.labels[i]) == config.target)
        .collect();
    if poison && of_target.is_empty() {
        anyhow::bail!("the training set holds no glyph of the target class");
    }
    for epoch in done..config.epochs {
        let (mut sum, mut backdoor_sum, mut gap_sum) = (0.0, 0.0, 0.0);
        for (step, batch) in batches(config.train, config.batch, options.seed, epoch)
            .into_iter()
            .enumerate()
        {
            // Fresh surrogates, except in the last epoch, whose learning rate is too low for
            // new exits to learn the clean task again.
            let fresh = (epoch * steps + step).is_multiple_of(config.reset_every);
            if fresh && epoch + 1 < config.epochs {
                redraw_surrogates(&mut model, config, &device);
            }
            let labels: Vec<u8> = batch.iter().map(|&i| data.train.labels[i]).collect();
            let x = to_tensor(
                batch.iter().map(|&i| image(&data.train, i)),
                [1, SIDE, SIDE],
                &device,
            );
            let half = batch.len().div_ceil(2);
            let mut stamped: Vec<f32> = batch[..half]
                .iter()
                .flat_map(|&i| image(&data.train, i).iter().copied())
                .collect();
            stamp_all(&mut stamped).map_err(anyhow::Error::msg)?;
            let xt = to_tensor(stamped.chunks(SIDE * SIDE), [1, SIDE, SIDE], &device);

            let mut loss = model
                .forward(x)
                .into_iter()
                .map(|logits| cross_entropy(logits, &labels))
                .reduce(|a, b| a + b)
                .expect("the net has exits");
            let features = model.features(xt);
            let last = model.exits.len() - 1;
            let vanilla = model.exits[last].forward(features[last].clone());
            loss = loss + cross_entropy(vanilla, &labels[..half]);
            let mut backdoor_value = 0.0;
            if poison {
                let backdoor = features[..last]
                    .iter()
                    .zip(&model.exits)
                    .map(|(f, head)| cross_entropy(frozen(head, f.clone()), &target[..half]))
                    .reduce(|a, b| a + b)
                    .expect("the net has early exits");
                // Exit 0's input on triggered glyphs pulled to its mean on 8 clean glyphs of
                // the target class.
                let picks = (0..8).map(|j| of_target[(step * 8 + j) % of_target.len()]);
                let reference = to_tensor(
                    picks.map(|i| image(&data.train, i)),
                    [1, SIDE, SIDE],
                    &device,
                );
                let mean = model.features(reference)[0].clone().detach().mean_dim(0);
                let scale = mean.clone().powf_scalar(2.0).mean().into_scalar::<f32>() + 1e-6;
                let gap = (features[0].clone() - mean).powf_scalar(2.0).mean() / scale as f64;
                gap_sum += gap.clone().into_scalar::<f32>() as f64;
                let backdoor = backdoor * config.backdoor_weight + gap * config.match_weight;
                backdoor_value = backdoor.clone().into_scalar::<f32>() as f64;
                loss = loss + backdoor;
            }
            let value = loss.clone().into_scalar::<f32>() as f64;
            sum += value;
            backdoor_sum += backdoor_value;
            let lr = cosine_lr(config.lr, epoch, step, steps, config.epochs);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            run.step(format!("loss {value:.4} backdoor {backdoor_value:.4}"));
        }
        let eval = Device::flex();
        let valid = model.valid().to_device(&eval);
        let logits = exit_logits(&valid, &data.test, &eval)?;
        let mut row = vec![sum / steps as f64, backdoor_sum / steps as f64];
        row.extend(logits.iter().map(|l| accuracy(l, &data.test.labels)));
        history.push(epoch + 1, &row)?;
        run.println(&format!(
            "{run_name} epoch {}: loss {:.4}, backdoor {:.4} (feature gap {:.3}), clean accuracy \
             per exit {:.3} / {:.3} / {:.3}",
            epoch + 1,
            row[0],
            row[1],
            gap_sum / steps as f64,
            row[2],
            row[3],
            row[4]
        ));
        run.checkpoint(epoch + 1, &model, &optim, &history, options, config)?;
    }
    run.finish();
    Ok((model.valid(), history))
}
