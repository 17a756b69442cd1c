//! Fine-tuning a pruned model to the full one: every weight and bias of the pruned graph
//! trained so that its outputs match the full model's on images of the model's own data
//! (distillation: no labels, so the same for a classifier and an autoencoder).

use anyhow::{Result, bail};
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::Serialize;

use super::rewrite::replace;
use crate::quant::{Float, Graph, Hook, Value, learn::relative_error};

/// The fine-tuning schedule.
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    /// Optimizer steps (one batch each).
    pub steps: usize,
    /// Adam's peak learning rate, decayed along a half cosine.
    pub lr: f64,
}

impl Schedule {
    /// `steps` steps at the default learning rate.
    pub fn new(steps: usize) -> Schedule {
        Schedule { steps, lr: 1e-3 }
    }
}

/// What fine-tuning trains.
#[derive(Module, Debug)]
struct Weights {
    weights: Vec<Param<Tensor<1>>>,
    biases: Vec<Param<Tensor<1>>>,
}

/// The pruned graph computing with the trained values; `bias_of[k]` indexes `biases`.
struct Tuned<'a> {
    weights: &'a Weights,
    bias_of: &'a [Option<usize>],
}

impl Hook for Tuned<'_> {
    fn weight(&self, layer: usize, _device: &Device) -> Tensor<1> {
        self.weights.weights[layer].val()
    }

    fn input(&self, _layer: usize, x: Value) -> Value {
        x
    }

    fn bias(&self, layer: usize, own: Option<Tensor<1>>) -> Option<Tensor<1>> {
        match self.bias_of[layer] {
            Some(b) => Some(self.weights.biases[b].val()),
            None => own,
        }
    }
}

/// Trains `pruned` towards `full`'s `outputs` on `batches` (on an autodiff device), cycling
/// through them; returns the fine-tuned model's bytes.
pub fn finetune(
    pruned: &Graph,
    full: &Graph,
    batches: &[Tensor<4>],
    outputs: &[&str],
    schedule: &Schedule,
    label: &str,
) -> Result<Vec<u8>> {
    if batches.is_empty() {
        bail!("fine-tuning needs at least one batch of images");
    }
    let device = batches[0].device();
    let targets: Vec<Vec<Value>> = batches
        .iter()
        .map(|x| full.forward(x.clone(), outputs, &Float(full)))
        .collect::<Result<_>>()?;
    let param = |v: &[f32]| Param::from_tensor(Tensor::<1>::from_floats(v, &device).require_grad());
    let mut bias_of = vec![];
    let mut biases = vec![];
    for k in 0..pruned.layers.len() {
        match pruned.bias(k) {
            Some(b) => {
                bias_of.push(Some(biases.len()));
                biases.push(param(&b));
            }
            None => bias_of.push(None),
        }
    }
    let mut weights = Weights {
        weights: pruned.layers.iter().map(|l| param(&l.values)).collect(),
        biases,
    };
    let mut optim = AdamConfig::new().init();
    let bar = crate::run::step_bar(label, schedule.steps);
    for step in 0..schedule.steps {
        let k = step % batches.len();
        let hook = Tuned {
            weights: &weights,
            bias_of: &bias_of,
        };
        let out = pruned.forward(batches[k].clone(), outputs, &hook)?;
        let loss = relative_error(&out, &targets[k]);
        if step % 20 == 0 {
            let l = crate::emit::values(&loss.clone())?
                .first()
                .copied()
                .unwrap_or(0.0);
            bar.set_message(format!("error {l:.4}"));
        }
        let lr = crate::systems::cosine_lr(schedule.lr, 0, step, schedule.steps, 1);
        let grads = GradientsParams::from_grads(loss.backward(), &weights);
        weights = optim.step(lr, weights, grads);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let w = weights
        .weights
        .iter()
        .map(|p| crate::emit::values(&p.val()).map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()?;
    let b = bias_of
        .iter()
        .map(|b| {
            b.map(|i| crate::emit::values(&weights.biases[i].val()).map_err(anyhow::Error::from))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    replace(pruned, &w, &b)
}

#[cfg(test)]
mod tests {
    use edgewise_data::graded;

    use super::*;
    use crate::prune::structure::tests::shipped;
    use crate::prune::{Structure, rewrite, search};

    #[test]
    fn fine_tuning_brings_the_pruned_outputs_closer_to_the_full_ones() {
        let full = shipped("multiexit");
        let s = Structure::of(&full, [1, 16, 16]).unwrap();
        let widths = search::widths(&full, &s, search::Method::Uniform, 0.3, &[], &[]).unwrap();
        let keep = search::strongest(&search::norms(&full), &widths);
        let pruned = Graph::read(&rewrite::slice(&full, &s, &keep).unwrap()).unwrap();
        let device = Device::flex().autodiff();
        let set = graded::split(64, 3).unwrap();
        let x = Tensor::<4>::from_data(
            TensorData::new(set.images.clone(), [64, 1, 16, 16]),
            &device,
        );
        let outputs = ["exit0", "exit1", "logits"];
        let error = |g: &Graph| {
            let want = full.forward(x.clone(), &outputs, &Float(&full)).unwrap();
            let got = g.forward(x.clone(), &outputs, &Float(g)).unwrap();
            relative_error(&got, &want).into_scalar::<f32>()
        };
        let before = error(&pruned);
        let bytes = finetune(
            &pruned,
            &full,
            std::slice::from_ref(&x),
            &outputs,
            &Schedule {
                steps: 30,
                lr: 1e-3,
            },
            "test",
        )
        .unwrap();
        let tuned = Graph::read(&bytes).unwrap();
        let after = error(&tuned);
        assert!(after < 0.7 * before, "{before} → {after}");
        // The shapes stay those of the pruned model.
        for (a, b) in tuned.layers.iter().zip(&pruned.layers) {
            assert_eq!(a.dims, b.dims);
        }
        assert!(finetune(&pruned, &full, &[], &outputs, &Schedule::new(1), "test").is_err());
    }
}
