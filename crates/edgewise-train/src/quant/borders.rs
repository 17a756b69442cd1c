//! AQuant's activation rounding borders, learned layer by layer on calibration images.
//!
//! For each weight layer in graph order, with the layers before it already quantized: the
//! layer's input as the quantized model computes it (`x̂`), and its output as the float model
//! computes it (`y`). The border of each input channel in turn is the one of [`CANDIDATES`]
//! that makes the quantized layer's output `W_q · round_b(x̂)` closest to `y` in squared error,
//! the other channels' borders held. A channel's border only changes that channel's rounded
//! values, so each try costs one single-channel layer applied to the change. Round-to-nearest
//! (0.5) is among the candidates and is kept unless another border does strictly better, so
//! the layer's error never grows.

use std::cell::RefCell;

use anyhow::{Context, Result};
use burn::prelude::*;

use super::graph::{Float, Graph, Hook, LayerOp, Value};
use super::learn::{Quantized, border_round};

/// The borders tried for each channel, 0.5 (round to nearest) first.
pub const CANDIDATES: [f32; 9] = [0.5, 0.3, 0.35, 0.4, 0.45, 0.55, 0.6, 0.65, 0.7];

/// Wraps a hook and keeps layer `layer`'s input as the graph computed it (before the hook).
struct Capture<'a> {
    inner: &'a dyn Hook,
    layer: usize,
    seen: RefCell<Option<Value>>,
}

impl Hook for Capture<'_> {
    fn weight(&self, layer: usize, device: &Device) -> Tensor<1> {
        self.inner.weight(layer, device)
    }

    fn input(&self, layer: usize, x: Value) -> Value {
        if layer == self.layer {
            *self.seen.borrow_mut() = Some(x.clone());
        }
        self.inner.input(layer, x)
    }
}

/// Layer `layer`'s input on `x` through `hook`.
fn input_of(
    graph: &Graph,
    x: &Tensor<4>,
    outputs: &[&str],
    hook: &dyn Hook,
    layer: usize,
) -> Result<Value> {
    let capture = Capture {
        inner: hook,
        layer,
        seen: RefCell::new(None),
    };
    graph.forward(x.clone(), outputs, &capture)?;
    capture
        .seen
        .into_inner()
        .with_context(|| format!("layer {layer} was not reached"))
}

fn square_sum(v: &Value) -> f64 {
    let t = match v {
        Value::D2(t) => t.clone().powi_scalar(2).sum(),
        Value::D4(t) => t.clone().powi_scalar(2).sum(),
    };
    t.into_scalar::<f32>() as f64
}

/// Input channel `c` of `x`.
fn channel(x: &Value, c: usize) -> Value {
    match x {
        Value::D4(t) => {
            let [n, _, h, w] = t.dims();
            Value::D4(t.clone().slice([0..n, c..c + 1, 0..h, 0..w]))
        }
        Value::D2(t) => {
            let [n, _] = t.dims();
            Value::D2(t.clone().slice([0..n, c..c + 1]))
        }
    }
}

/// The slice of weight `w` that reads input channel `c`.
fn weight_of(op: LayerOp, w: &Value, c: usize) -> Value {
    match (op, w) {
        (LayerOp::Conv, Value::D4(t)) => {
            let [o, _, h, w] = t.dims();
            Value::D4(t.clone().slice([0..o, c..c + 1, 0..h, 0..w]))
        }
        (_, Value::D4(t)) => {
            let [_, o, h, w] = t.dims();
            Value::D4(t.clone().slice([c..c + 1, 0..o, 0..h, 0..w]))
        }
        (_, Value::D2(t)) => {
            let [_, o] = t.dims();
            Value::D2(t.clone().slice([c..c + 1, 0..o]))
        }
    }
}

/// Sets `q.borders` of every layer (see the module docs), on the calibration batches `batches`.
pub fn search(
    graph: &Graph,
    batches: &[Tensor<4>],
    outputs: &[&str],
    q: &mut Quantized,
) -> Result<()> {
    let x = Tensor::cat(batches.to_vec(), 0);
    let device = x.device();
    for k in 0..graph.layers.len() {
        if graph.group(k) != 1 {
            continue;
        }
        let layer = &graph.layers[k];
        let float = Float(graph);
        let xf = input_of(graph, &x, outputs, &float, k)?;
        let y = graph.apply(k, xf, layer.tensor(float.weight(k, &device)), false)?;
        let hook = (graph, &*q);
        let xq = input_of(graph, &x, outputs, &hook, k)?;
        let wq = layer.tensor(hook.weight(k, &device));
        let a = q.acts[k];
        let out = graph.apply(
            k,
            border_round(xq.clone(), a, &q.borders[k]),
            wq.clone(),
            false,
        )?;
        let mut residual = out.zip(&y, |o, y| o - y);
        let mut borders = q.borders[k].clone();
        for (c, border) in borders.iter_mut().enumerate() {
            let xc = channel(&xq, c);
            let current = border_round(xc.clone(), a, &[*border]);
            let wc = weight_of(layer.op, &wq, c);
            let mut best = (square_sum(&residual), None);
            for b in CANDIDATES {
                if b == *border {
                    continue;
                }
                let change = border_round(xc.clone(), a, &[b]).zip(&current, |n, o| n - o);
                if square_sum(&change) == 0.0 {
                    continue;
                }
                let delta = graph.apply(k, change, wc.clone(), false)?;
                let moved = residual.zip(&delta, |r, d| r + d);
                let e = square_sum(&moved);
                if e < best.0 {
                    best = (e, Some((b, moved)));
                }
            }
            if let (_, Some((b, moved))) = best {
                *border = b;
                residual = moved;
            }
        }
        q.borders[k] = borders;
    }
    Ok(())
}
