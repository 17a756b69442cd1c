//! The victim's conversion of a vanilla model into a multi-exit one: the backbone frozen, new
//! exits after the early blocks trained on clean data only, the threshold chosen on clean
//! validation glyphs.

use anyhow::Result;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use edgewise_data::graded::{CLASSES, Graded, SIDE};

use super::Config;
use crate::emit::values;
use crate::layers::{Act, Dense};
use crate::systems::multiexit::{self, Data, MultiExit, image};
use crate::systems::{batches, cosine_lr, cross_entropy, to_tensor};

/// The exits the victim adds (one per early block).
#[derive(Module, Debug)]
struct Exits {
    heads: Vec<Dense>,
}

/// Each early exit's input (`[n, dₖ]`, row-major) for the samples of `set`, from the frozen
/// backbone.
fn early_features(model: &MultiExit, set: &Graded, device: &Device) -> Result<Vec<Vec<f32>>> {
    let early = model.exits.len() - 1;
    let mut out = vec![vec![]; early];
    for start in (0..set.n).step_by(256) {
        let end = (start + 256).min(set.n);
        let x = to_tensor((start..end).map(|i| image(set, i)), [1, SIDE, SIDE], device);
        for (k, f) in model.features(x).iter().take(early).enumerate() {
            out[k].extend(values(f)?);
        }
    }
    Ok(out)
}

/// Makes `vanilla` multi-exit as a victim would: its blocks and last classifier kept, new exits
/// after blocks 0 and 1 (drawn from `seed`, not the attacker's) trained on the clean training
/// glyphs with the blocks frozen, and the threshold chosen on clean validation glyphs. Returns
/// the multi-exit model and its threshold.
pub fn convert(
    vanilla: &MultiExit,
    config: &Config,
    data: &Data,
    seed: u64,
) -> Result<(MultiExit, f32)> {
    let flex = Device::flex();
    let backbone = vanilla.clone().to_device(&flex);
    let features = early_features(&backbone, &data.train, &flex)?;
    let dims: Vec<usize> = features.iter().map(|f| f.len() / data.train.n).collect();

    let device = Device::flex().autodiff();
    device.seed(seed ^ 0x7669_6374_696d);
    let mut exits = Exits {
        heads: dims
            .iter()
            .map(|&d| Dense::new(d, CLASSES, Act::Identity, &device))
            .collect(),
    };
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let steps = config.train.div_ceil(config.batch);
    for epoch in 0..config.exit_epochs {
        for (step, batch) in batches(config.train, config.batch, seed ^ 0x6578_6974, epoch)
            .into_iter()
            .enumerate()
        {
            let labels: Vec<u8> = batch.iter().map(|&i| data.train.labels[i]).collect();
            let loss = exits
                .heads
                .iter()
                .zip(&features)
                .zip(&dims)
                .map(|((head, f), &d)| {
                    let rows: Vec<f32> = batch
                        .iter()
                        .flat_map(|&i| f[i * d..(i + 1) * d].iter().copied())
                        .collect();
                    let x =
                        Tensor::<2>::from_data(TensorData::new(rows, [batch.len(), d]), &device);
                    cross_entropy(head.forward(x), &labels)
                })
                .reduce(|a, b| a + b)
                .expect("the net has early exits");
            let lr = cosine_lr(config.lr, epoch, step, steps, config.exit_epochs);
            let grads = GradientsParams::from_grads(loss.backward(), &exits);
            exits = optim.step(lr, exits, grads);
        }
    }
    let mut heads: Vec<Dense> = exits.valid().to_device(&flex).heads;
    heads.push(backbone.exits.last().expect("exits").clone());
    let model = MultiExit {
        blocks: backbone.blocks,
        exits: heads,
    };
    let net = config.net();
    let validation = multiexit::validation(&net, seed)?;
    let threshold = multiexit::choose_threshold(&model, &net, &validation, config.slack)?;
    Ok((model, threshold))
}
