//! Which filters of an exported CNN can be removed, and what removing them costs and touches.
//!
//! A `Conv` or `ConvTranspose` (one group) is prunable when everything computed from its output
//! through channel-wise ops (`Relu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `MaxPool`, `Identity`, and
//! `Flatten` in front of a `MatMul`) ends in weight layers that read it as their data input,
//! and none of it is a model output or feeds another kind of node. Removing filter `c` then
//! removes input channel `c` of each such consumer (the rows `c·hw..(c+1)·hw` of a dense layer
//! after `Flatten`), and the model computes exactly what it computed with that channel's
//! consumer weights set to zero.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use edgewise_tasks::snf;

use crate::quant::graph::LayerOp;
use crate::quant::{Float, Graph, Hook, Value};

/// Ops that act on each channel alone.
const CHANNELWISE: [&str; 7] = [
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "MaxPool",
    "Identity",
    "Flatten",
];

/// A weight layer reading a prunable layer's channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Consumer {
    /// The reading layer.
    pub layer: usize,
    /// Its weight's input entries per channel (1; `h·w` for a dense layer after `Flatten`).
    pub rows: usize,
}

/// The pruning structure of a [`Graph`]: each weight layer's cost in filters, whether its
/// filters can go, and who reads them.
#[derive(Clone, Debug)]
pub struct Structure {
    /// Each weight layer's cost, as [`snf::macs`] counts it.
    pub layers: Vec<snf::Layer>,
    /// Whether each layer's filters can be removed.
    pub prunable: Vec<bool>,
    /// The layers reading each prunable layer's channels.
    pub consumers: Vec<Vec<Consumer>>,
    /// The layers' names.
    pub names: Vec<String>,
}

/// Records each layer's input dims.
struct Dims<'a> {
    graph: &'a Graph,
    inputs: RefCell<Vec<Vec<usize>>>,
}

impl Hook for Dims<'_> {
    fn weight(&self, layer: usize, device: &Device) -> Tensor<1> {
        Float(self.graph).weight(layer, device)
    }

    fn input(&self, layer: usize, x: Value) -> Value {
        self.inputs.borrow_mut()[layer] = match &x {
            Value::D2(t) => t.dims().to_vec(),
            Value::D4(t) => t.dims().to_vec(),
        };
        x
    }
}

/// The dims of a value without the batch.
fn item_dims(v: &Value) -> Vec<usize> {
    match v {
        Value::D2(t) => t.dims()[1..].to_vec(),
        Value::D4(t) => t.dims()[1..].to_vec(),
    }
}

impl Structure {
    /// The structure of `graph`, whose input is one `[c, h, w]` image per batch row.
    pub fn of(graph: &Graph, item: [usize; 3]) -> Result<Structure> {
        let n = graph.layers.len();
        let dims = Dims {
            graph,
            inputs: RefCell::new(vec![vec![]; n]),
        };
        let names: Vec<String> = graph.layers.iter().map(|l| l.name.clone()).collect();
        let outs: Vec<&str> = names.iter().map(String::as_str).collect();
        let x = Tensor::<4>::zeros([1, item[0], item[1], item[2]], &Device::flex());
        let values = graph
            .forward(x, &outs, &dims)
            .context("running the model once to size its layers")?;
        let inputs = dims.inputs.into_inner();

        let nodes = graph.nodes();
        let model_outputs: HashSet<&str> = graph
            .model
            .graph
            .as_ref()
            .map(|g| g.output.iter().map(|o| o.name.as_str()).collect())
            .unwrap_or_default();
        let producer: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .flat_map(|(i, nd)| nd.output.iter().map(move |o| (o.as_str(), i)))
            .collect();
        let mut readers: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
        for (i, nd) in nodes.iter().enumerate() {
            for (slot, name) in nd.input.iter().enumerate() {
                readers.entry(name.as_str()).or_default().push((i, slot));
            }
        }
        let layer_at: HashMap<usize, usize> = graph
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| (l.node, k))
            .collect();

        // Which layer's filters each layer's input channels are, through channel-wise ops.
        let mut source: Vec<Option<(usize, bool)>> = vec![None; n];
        for (k, layer) in graph.layers.iter().enumerate() {
            let mut value = nodes[layer.node].input[0].as_str();
            let mut flattened = false;
            while let Some(&p) = producer.get(value) {
                let nd = &nodes[p];
                if let Some(&j) = layer_at.get(&p) {
                    source[k] = Some((j, flattened));
                    break;
                }
                if !CHANNELWISE.contains(&nd.op_type.as_str()) {
                    break;
                }
                flattened |= nd.op_type == "Flatten";
                value = nd.input[0].as_str();
            }
        }

        // A layer is prunable when everything its output reaches is channel-wise or a layer's
        // data input of the right kind.
        let mut prunable = vec![false; n];
        let mut consumers = vec![vec![]; n];
        for (k, layer) in graph.layers.iter().enumerate() {
            if layer.op == LayerOp::MatMul || graph.group(k) != 1 {
                continue;
            }
            let mut ok = true;
            let mut found = vec![];
            let mut stack = vec![(layer.name.as_str(), false)];
            while let Some((value, flattened)) = stack.pop() {
                if model_outputs.contains(value) {
                    ok = false;
                    break;
                }
                for &(i, slot) in readers.get(value).map(Vec::as_slice).unwrap_or(&[]) {
                    let nd = &nodes[i];
                    if let Some(&j) = layer_at.get(&i) {
                        let fits = match graph.layers[j].op {
                            LayerOp::MatMul => flattened,
                            _ => !flattened && graph.group(j) == 1,
                        };
                        ok &= slot == 0 && fits;
                        found.push(j);
                    } else if CHANNELWISE.contains(&nd.op_type.as_str()) {
                        let out = nd.output.first().context("a node without output")?;
                        stack.push((out.as_str(), flattened || nd.op_type == "Flatten"));
                    } else {
                        ok = false;
                    }
                }
            }
            if ok && !found.is_empty() {
                prunable[k] = true;
                let c = layer.out_channels();
                consumers[k] = found
                    .into_iter()
                    .map(|j| {
                        let rows = match graph.layers[j].op {
                            LayerOp::MatMul => graph.layers[j].dims[0] / c,
                            _ => 1,
                        };
                        Consumer { layer: j, rows }
                    })
                    .collect();
            }
        }

        let mut layers = vec![];
        for (k, layer) in graph.layers.iter().enumerate() {
            let out = item_dims(&values[k]);
            let input = &inputs[k];
            let w = &layer.dims;
            let from = source[k].filter(|(j, _)| prunable[*j]).map(|(j, _)| j);
            let (in_channels, unit) = match layer.op {
                LayerOp::Conv => {
                    let [_, h, wd] = out[..] else {
                        bail!(
                            "{}: a convolution with a {}-d output",
                            layer.name,
                            out.len() + 1
                        )
                    };
                    (w[1], (w[2] * w[3] * h * wd) as u64)
                }
                LayerOp::ConvTranspose => {
                    let [_, _, h, wd] = input[..] else {
                        bail!(
                            "{}: a transposed convolution with a {}-d input",
                            layer.name,
                            input.len()
                        )
                    };
                    (w[0], (w[2] * w[3] * h * wd) as u64)
                }
                LayerOp::MatMul => match from {
                    Some(j) => {
                        let c = graph.layers[j].out_channels();
                        (c, (w[0] / c) as u64)
                    }
                    None => (w[0], 1),
                },
            };
            layers.push(snf::Layer {
                filters: layer.out_channels(),
                in_channels,
                from,
                unit,
            });
        }
        if !prunable.iter().any(|&p| p) {
            bail!(
                "no layer of the model can lose filters: a Conv or ConvTranspose can when its \
                 output reaches only other weight layers, through channel-wise ops"
            );
        }
        Ok(Structure {
            layers,
            prunable,
            consumers,
            names,
        })
    }

    /// The full model's widths.
    pub fn full(&self) -> Vec<usize> {
        snf::full_widths(&self.layers)
    }

    /// The share of the full model's multiply-accumulates that `widths` leave.
    pub fn cost(&self, widths: &[usize]) -> Result<f64> {
        snf::cost_ratio(&self.layers, widths).map_err(anyhow::Error::msg)
    }

    /// The floating-point operations (2 per multiply-accumulate) of one input at `widths`.
    pub fn flops(&self, widths: &[usize]) -> Result<u64> {
        Ok(2 * snf::macs(&self.layers, widths).map_err(anyhow::Error::msg)?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::run::TrainOptions;
    use crate::systems::multiexit::{self, MultiExit};

    /// The shipped model `system`, read back.
    pub(crate) fn shipped(system: &str) -> Graph {
        let path = format!("{}/../../onnx/{system}.onnx", env!("CARGO_MANIFEST_DIR"));
        Graph::read(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn multiexit_costs_what_its_own_count_says_and_every_conv_can_lose_filters() {
        let g = shipped("multiexit");
        let s = Structure::of(&g, [1, 16, 16]).unwrap();
        let options = crate::systems::quick_options(std::path::Path::new("target/unused"));
        let macs = MultiExit::macs(&multiexit::Config::new(&TrainOptions {
            quick: false,
            ..options
        }))[2];
        assert_eq!(s.flops(&s.full()).unwrap(), 2 * macs);
        let kinds: Vec<(bool, LayerOp)> = g
            .layers
            .iter()
            .zip(&s.prunable)
            .map(|(l, &p)| (p, l.op))
            .collect();
        for (p, op) in kinds {
            assert_eq!(p, op == LayerOp::Conv);
        }
        // block0.1 feeds block1.0 and, pooled twice and flattened (4×4), the first exit.
        let k = s.names.iter().position(|n| n == "block0.1.conv").unwrap();
        let mut readers: Vec<(String, usize)> = s.consumers[k]
            .iter()
            .map(|c| (s.names[c.layer].clone(), c.rows))
            .collect();
        readers.sort();
        assert_eq!(
            readers,
            vec![("block1.0.conv".into(), 1), ("exit0.matmul".into(), 16)]
        );
    }

    #[test]
    fn the_reconstruction_head_of_defect_keeps_its_filter() {
        let g = shipped("defect");
        let s = Structure::of(&g, [1, 64, 64]).unwrap();
        let head = s.names.iter().position(|n| n == "head.conv").unwrap();
        assert!(!s.prunable[head], "the head feeds the output and SsimMap");
        let deconv = s
            .names
            .iter()
            .position(|n| n == "decoder.0.deconv")
            .unwrap();
        assert!(s.prunable[deconv]);
        assert_eq!(
            s.layers[deconv].from,
            s.names.iter().position(|n| n == "expand.conv")
        );
    }
}
