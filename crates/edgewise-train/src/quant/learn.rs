//! Post-training quantization of a [`Graph`] on calibration images, by one of three methods:
//!
//! - [`Method::Nearest`]: weights and activations rounded to nearest.
//! - [`Method::AdaRound`]: each weight learns whether it rounds up or down (Nagel et al., the
//!   rectified sigmoid `h(V)` pushed to 0 or 1 by an annealed regularizer); activations
//!   rounded to nearest.
//! - [`Method::AQuant`]: the same learned weight rounding, then the activations' rounding
//!   borders learned, one per channel of each layer's input (`BorderRound`'s `border`), by
//!   [`super::borders`].
//!
//! The weight rounding minimizes the squared error of the quantized model's outputs against
//! the float model's, relative to the outputs' mean square, on the calibration images, with
//! the activations rounded to nearest (their gradient passing straight through). Ranges come
//! from [`super::scheme`] and are the same for all three methods.

use std::cell::RefCell;

use anyhow::Result;
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use serde::Serialize;

use super::graph::{Float, Graph, Hook, Value};
use super::scheme::{ActQuant, Bits, WeightQuant, round_at};

/// How weights and activations are rounded.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub enum Method {
    /// Round to nearest, weights and activations.
    Nearest,
    /// Learned weight rounding, activations to nearest.
    AdaRound,
    /// Learned weight rounding and learned activation rounding borders.
    AQuant,
}

impl Method {
    /// Every method, baselines first.
    pub const ALL: [Method; 3] = [Method::Nearest, Method::AdaRound, Method::AQuant];

    /// The name `--method` takes.
    pub fn id(self) -> &'static str {
        match self {
            Method::Nearest => "nearest",
            Method::AdaRound => "adaround",
            Method::AQuant => "aquant",
        }
    }

    /// The method named `id`.
    pub fn parse(id: &str) -> Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.id() == id)
            .ok_or_else(|| anyhow::anyhow!("unknown method '{id}': nearest, adaround or aquant"))
    }
}

/// The schedule of the learned methods.
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    /// Optimizer steps.
    pub steps: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Weight of the rounding regularizer.
    pub lambda: f64,
    /// Share of the steps before the regularizer starts.
    pub warmup: f64,
}

impl Schedule {
    /// The default schedule, or a seconds-long one.
    pub fn new(quick: bool) -> Schedule {
        Schedule {
            steps: if quick { 8 } else { 600 },
            lr: 1e-2,
            lambda: 0.02,
            warmup: 0.2,
        }
    }
}

/// A quantized model: per layer the integer weights and their scales, and the input's range
/// and rounding borders.
#[derive(Clone, Debug)]
pub struct Quantized {
    /// The method.
    pub method: Method,
    /// The bit widths.
    pub bits: Bits,
    /// Each layer's weight quantizer.
    pub weights: Vec<WeightQuant>,
    /// Each layer's integer weights, in the weight's row-major order.
    pub ints: Vec<Vec<i32>>,
    /// Each layer's input quantizer.
    pub acts: Vec<ActQuant>,
    /// Each layer's input rounding border per channel (0.5: round to nearest).
    pub borders: Vec<Vec<f32>>,
}

/// Quantizes `x` with a border per channel, as `BorderRound` does.
pub(crate) fn border_round(x: Value, a: ActQuant, borders: &[f32]) -> Value {
    let c = borders.len();
    x.map(|t| {
        let shape = t.dims();
        let b = Tensor::<1>::from_floats(borders, &t.device())
            .reshape([1, c, 1, 1])
            .expand(shape);
        let v = t.div_scalar(a.scale);
        let f = v.clone().floor();
        let up = (v - f.clone()).greater_equal(b).float();
        (f + up)
            .clamp(a.qmin as f64, a.qmax as f64)
            .mul_scalar(a.scale)
    })
}

impl Hook for (&Graph, &Quantized) {
    fn weight(&self, layer: usize, device: &Device) -> Tensor<1> {
        let (graph, q) = *self;
        let s = q.weights[layer].per_weight(&graph.layers[layer]);
        let w: Vec<f32> = q.ints[layer]
            .iter()
            .zip(s)
            .map(|(&i, s)| i as f32 * s)
            .collect();
        Tensor::from_floats(w.as_slice(), device)
    }

    fn input(&self, layer: usize, x: Value) -> Value {
        let q = self.1;
        border_round(x, q.acts[layer], &q.borders[layer])
    }
}

/// Records a sample of each layer's float input, and its channel count.
struct Recorder<'a> {
    graph: &'a Graph,
    samples: RefCell<Vec<Vec<f32>>>,
    widths: RefCell<Vec<usize>>,
}

/// Values kept per layer and batch for the range search.
const SAMPLE: usize = 20_000;

impl Hook for Recorder<'_> {
    fn weight(&self, layer: usize, device: &Device) -> Tensor<1> {
        Float(self.graph).weight(layer, device)
    }

    fn input(&self, layer: usize, x: Value) -> Value {
        self.widths.borrow_mut()[layer] = x.channels();
        if let Ok(v) = x.to_vec() {
            let step = (v.len() / SAMPLE).max(1);
            self.samples.borrow_mut()[layer].extend(v.iter().step_by(step));
        }
        x
    }
}

/// What the learned methods train: each weight's rounding variable `V`.
#[derive(Module, Debug)]
struct Rounding {
    v: Vec<Param<Tensor<1>>>,
}

/// The rectified sigmoid of AdaRound: `clamp(1.2·σ(V) − 0.1, 0, 1)`.
fn rectified(v: Tensor<1>) -> Tensor<1> {
    (sigmoid(v) * 1.2 - 0.1).clamp(0.0, 1.0)
}

/// The quantized model while learning, on the autodiff device.
struct Soft<'a> {
    weights: &'a [WeightQuant],
    acts: &'a [ActQuant],
    floors: Vec<Tensor<1>>,
    scales: Vec<Tensor<1>>,
    rounding: &'a Rounding,
}

impl Hook for Soft<'_> {
    fn weight(&self, layer: usize, _device: &Device) -> Tensor<1> {
        let q = &self.weights[layer];
        let h = rectified(self.rounding.v[layer].val());
        (self.floors[layer].clone() + h).clamp(q.qmin as f64, q.qmax as f64)
            * self.scales[layer].clone()
    }

    fn input(&self, layer: usize, x: Value) -> Value {
        let a = self.acts[layer];
        x.map(|t| {
            let v = t.div_scalar(a.scale);
            let fixed = v.clone().detach();
            let f = fixed.clone().floor();
            let up = (fixed - f.clone()).greater_equal_elem(0.5).float();
            let q = (f + up).clamp(a.qmin as f64, a.qmax as f64);
            (q + (v.clone() - v.detach())).mul_scalar(a.scale)
        })
    }
}

/// The float outputs `outputs` of `graph` on each batch.
pub fn float_outputs(
    graph: &Graph,
    batches: &[Tensor<4>],
    outputs: &[&str],
) -> Result<Vec<Vec<Value>>> {
    batches
        .iter()
        .map(|x| graph.forward(x.clone(), outputs, &Float(graph)))
        .collect()
}

/// The squared error of `q`'s values against `target`'s, relative to the targets' mean
/// square, summed over the outputs.
pub fn relative_error(q: &[Value], target: &[Value]) -> Tensor<1> {
    q.iter()
        .zip(target)
        .map(|(a, b)| {
            let square = |v: Value| match v {
                Value::D4(t) => t.powi_scalar(2).mean(),
                Value::D2(t) => t.powi_scalar(2).mean(),
            };
            let fixed = b.clone().map(|t| t.detach());
            square(a.zip(&fixed, |a, b| a - b)) / (square(fixed) + 1e-8)
        })
        .reduce(|x, y| x + y)
        .expect("at least one output")
}

/// The mean [`relative_error`] of `q`'s outputs against the float model's on `batches`.
pub fn output_error(
    graph: &Graph,
    q: &Quantized,
    batches: &[Tensor<4>],
    outputs: &[&str],
) -> Result<f64> {
    let mut total = 0.0;
    for x in batches {
        let want = graph.forward(x.clone(), outputs, &Float(graph))?;
        let got = graph.forward(x.clone(), outputs, &(graph, q))?;
        total += relative_error(&got, &want).into_scalar::<f32>() as f64;
    }
    Ok(total / batches.len().max(1) as f64)
}

/// Quantizes `graph` at `bits` by `method` on calibration `batches` (on an autodiff device
/// for the learned methods), fitting `outputs`.
pub fn quantize(
    graph: &Graph,
    batches: &[Tensor<4>],
    outputs: &[&str],
    bits: Bits,
    method: Method,
    schedule: &Schedule,
) -> Result<Quantized> {
    if batches.is_empty() {
        anyhow::bail!("quantization needs at least one batch of calibration images");
    }
    let recorder = Recorder {
        graph,
        samples: RefCell::new(vec![vec![]; graph.layers.len()]),
        widths: RefCell::new(vec![0; graph.layers.len()]),
    };
    let inner = Device::flex();
    let plain: Vec<Tensor<4>> = batches
        .iter()
        .map(|b| b.clone().to_device(&inner))
        .collect();
    for x in &plain {
        graph.forward(x.clone(), outputs, &recorder)?;
    }
    let samples = recorder.samples.into_inner();
    let widths = recorder.widths.into_inner();
    let acts: Vec<ActQuant> = samples
        .iter()
        .map(|s| ActQuant::fit(s, bits.activations))
        .collect();
    let weights: Vec<WeightQuant> = graph
        .layers
        .iter()
        .map(|l| WeightQuant::fit(l, bits.weights))
        .collect();
    let mut q = Quantized {
        method,
        bits,
        ints: graph
            .layers
            .iter()
            .zip(&weights)
            .map(|(l, w)| w.nearest(l))
            .collect(),
        borders: vec![],
        weights,
        acts,
    };
    q.borders = widths.iter().map(|&c| vec![0.5; c]).collect();
    if method == Method::Nearest {
        return Ok(q);
    }
    learn(graph, batches, outputs, &mut q, schedule)?;
    if method == Method::AQuant {
        super::borders::search(graph, &plain, outputs, &mut q)?;
    }
    Ok(q)
}

fn learn(
    graph: &Graph,
    batches: &[Tensor<4>],
    outputs: &[&str],
    q: &mut Quantized,
    schedule: &Schedule,
) -> Result<()> {
    let device = batches[0].device();
    let targets = float_outputs(graph, batches, outputs)?;
    let mut floors = vec![];
    let mut scales = vec![];
    let mut v = vec![];
    for (layer, wq) in graph.layers.iter().zip(&q.weights) {
        let s = wq.per_weight(layer);
        let (fl, init): (Vec<f32>, Vec<f32>) = layer
            .values
            .iter()
            .zip(&s)
            .map(|(&w, &s)| {
                let x = w / s;
                let f = x.floor();
                // h(V) = x − ⌊x⌋ at the start: σ(V) = (rest + 0.1) / 1.2.
                let p = ((x - f + 0.1) / 1.2).clamp(1e-4, 1.0 - 1e-4);
                (f, (p / (1.0 - p)).ln())
            })
            .unzip();
        floors.push(Tensor::<1>::from_floats(fl.as_slice(), &device));
        scales.push(Tensor::<1>::from_floats(s.as_slice(), &device));
        v.push(Param::from_tensor(
            Tensor::<1>::from_floats(init.as_slice(), &device).require_grad(),
        ));
    }
    let mut rounding = Rounding { v };
    let mut optim = AdamConfig::new().init();
    let bar = crate::run::step_bar(
        &format!("{} {}", q.method.id(), q.bits.label()),
        schedule.steps,
    );
    let warm = (schedule.steps as f64 * schedule.warmup) as usize;
    for step in 0..schedule.steps {
        let k = step % batches.len();
        let soft = Soft {
            weights: &q.weights,
            acts: &q.acts,
            floors: floors.clone(),
            scales: scales.clone(),
            rounding: &rounding,
        };
        let out = graph.forward(batches[k].clone(), outputs, &soft)?;
        let mut loss = relative_error(&out, &targets[k]);
        if step >= warm {
            // β anneals from 20 to 2 after the warm-up: first only far-off values are pushed
            // to 0 or 1, then all of them.
            let r = (step - warm) as f64 / (schedule.steps - warm).max(1) as f64;
            let b = 20.0 + (2.0 - 20.0) * r;
            let mut reg: Option<Tensor<1>> = None;
            for p in &rounding.v {
                let h = rectified(p.val());
                let term = (h * 2.0 - 1.0)
                    .abs()
                    .powf_scalar(b)
                    .neg()
                    .add_scalar(1.0)
                    .mean();
                reg = Some(match reg {
                    Some(r) => r + term,
                    None => term,
                });
            }
            if let Some(reg) = reg {
                loss = loss + reg * schedule.lambda;
            }
        }
        if step % 20 == 0 {
            let l = crate::emit::values(&loss.clone())?
                .first()
                .copied()
                .unwrap_or(0.0);
            bar.set_message(format!("loss {l:.4}"));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &rounding);
        rounding = optim.step(schedule.lr, rounding, grads);
        bar.inc(1);
    }
    bar.finish_and_clear();
    for (k, layer) in graph.layers.iter().enumerate() {
        let wq = &q.weights[k];
        let v = crate::emit::values(&rounding.v[k].val())?;
        let s = wq.per_weight(layer);
        q.ints[k] = layer
            .values
            .iter()
            .zip(&s)
            .zip(&v)
            .map(|((&w, &s), &v)| {
                ((w / s).floor() as i32 + i32::from(v >= 0.0)).clamp(wq.qmin, wq.qmax)
            })
            .collect();
    }
    Ok(())
}

/// The share of `q`'s integer weights that differ from round-to-nearest.
pub fn flipped(graph: &Graph, q: &Quantized) -> f64 {
    let mut n = 0usize;
    let mut d = 0usize;
    for (k, layer) in graph.layers.iter().enumerate() {
        let wq = &q.weights[k];
        for ((&w, s), &i) in layer
            .values
            .iter()
            .zip(wq.per_weight(layer))
            .zip(&q.ints[k])
        {
            n += 1;
            d += usize::from(round_at(w, s, 0.5, wq.qmin, wq.qmax) != i);
        }
    }
    d as f64 / n.max(1) as f64
}
