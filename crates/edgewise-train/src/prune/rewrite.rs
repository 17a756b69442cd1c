//! A pruned model written as ONNX: the same graph with smaller initializers.
//!
//! [`slice`] keeps the chosen filters of each prunable layer (its weight's output channels and
//! its bias) and the matching input channels of the layers reading them; [`replace`] writes
//! new values into a model's weights and biases (after fine-tuning). Nodes, inputs and outputs
//! stay as they are; the intermediate shapes recorded in `value_info` are dropped, since the
//! channel counts changed.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use edgewise_onnx::pb::ModelProto;
use edgewise_onnx::tensor_f32;
use prost::Message;

use super::structure::Structure;
use crate::quant::Graph;
use crate::quant::graph::LayerOp;

/// A row-major tensor.
#[derive(Clone, Debug)]
struct Array {
    dims: Vec<usize>,
    values: Vec<f32>,
}

impl Array {
    /// The entries whose index along `axis`, in blocks of `block`, is in `keep`.
    fn take(&self, axis: usize, block: usize, keep: &[usize]) -> Array {
        let outer: usize = self.dims[..axis].iter().product();
        let inner: usize = self.dims[axis + 1..].iter().product();
        let len = self.dims[axis];
        let rows: Vec<usize> = keep
            .iter()
            .flat_map(|&c| c * block..(c + 1) * block)
            .collect();
        let mut values = Vec::with_capacity(outer * rows.len() * inner);
        for o in 0..outer {
            for &r in &rows {
                let start = (o * len + r) * inner;
                values.extend_from_slice(&self.values[start..start + inner]);
            }
        }
        let mut dims = self.dims.clone();
        dims[axis] = rows.len();
        Array { dims, values }
    }
}

/// The axis of a layer's weight that holds its input channels.
fn in_axis(op: LayerOp) -> usize {
    match op {
        LayerOp::Conv => 1,
        LayerOp::ConvTranspose | LayerOp::MatMul => 0,
    }
}

/// The name of layer `k`'s bias initializer, if it has one.
pub fn bias_name(graph: &Graph, k: usize) -> Option<&str> {
    let node = &graph.nodes()[graph.layers[k].node];
    node.input.get(2).map(String::as_str)
}

/// The model's bytes with the initializers of `arrays` replaced (same names) and
/// `value_info` dropped.
fn with_initializers(model: &ModelProto, arrays: &HashMap<String, Array>) -> Result<Vec<u8>> {
    let mut model = model.clone();
    let g = model.graph.as_mut().context("the model has no graph")?;
    for t in &mut g.initializer {
        if let Some(a) = arrays.get(&t.name) {
            *t = tensor_f32(&t.name, &a.dims, &a.values);
        }
    }
    g.value_info.clear();
    Ok(model.encode_to_vec())
}

/// The model with only the filters `keep[k]` (ascending indices) of each layer: a prunable
/// layer's weight and bias lose the others, the layers reading it the matching input
/// channels. A layer that is not prunable keeps all its filters.
pub fn slice(graph: &Graph, structure: &Structure, keep: &[Vec<usize>]) -> Result<Vec<u8>> {
    if keep.len() != graph.layers.len() {
        bail!(
            "{} filter lists for {} layers",
            keep.len(),
            graph.layers.len()
        );
    }
    let mut arrays: Vec<Array> = graph
        .layers
        .iter()
        .map(|l| Array {
            dims: l.dims.clone(),
            values: l.values.clone(),
        })
        .collect();
    let mut biases: HashMap<String, Array> = HashMap::new();
    for (k, layer) in graph.layers.iter().enumerate() {
        let c = layer.out_channels();
        let kept = &keep[k];
        if kept.len() == c {
            continue;
        }
        if !structure.prunable[k] {
            bail!("{}: its filters cannot be removed", layer.name);
        }
        if kept.is_empty() || kept.windows(2).any(|w| w[0] >= w[1]) || kept[kept.len() - 1] >= c {
            bail!(
                "{}: filters to keep must be ascending indices below {c}",
                layer.name
            );
        }
        arrays[k] = arrays[k].take(layer.out_axis, 1, kept);
        if let Some(b) = bias_name(graph, k) {
            let values = graph.bias(k).context("a bias that is not a constant")?;
            let full = Array {
                dims: vec![c],
                values,
            };
            biases.insert(b.to_string(), full.take(0, 1, kept));
        }
        for consumer in &structure.consumers[k] {
            let j = consumer.layer;
            let axis = in_axis(graph.layers[j].op);
            arrays[j] = arrays[j].take(axis, consumer.rows, kept);
        }
    }
    let mut named: HashMap<String, Array> = graph
        .layers
        .iter()
        .zip(arrays)
        .map(|(l, a)| (l.weight.clone(), a))
        .collect();
    named.extend(biases);
    with_initializers(&graph.model, &named)
}

/// The model with each layer's weight set to `weights[k]` and its bias (where it has one) to
/// `biases[k]`, in the layers' own shapes.
pub fn replace(
    graph: &Graph,
    weights: &[Vec<f32>],
    biases: &[Option<Vec<f32>>],
) -> Result<Vec<u8>> {
    let mut named = HashMap::new();
    for (k, layer) in graph.layers.iter().enumerate() {
        let (w, b) = (&weights[k], &biases[k]);
        if w.len() != layer.values.len() {
            bail!(
                "{}: {} weights for {}",
                layer.name,
                w.len(),
                layer.values.len()
            );
        }
        named.insert(
            layer.weight.clone(),
            Array {
                dims: layer.dims.clone(),
                values: w.clone(),
            },
        );
        if let (Some(name), Some(b)) = (bias_name(graph, k), b) {
            named.insert(
                name.to_string(),
                Array {
                    dims: vec![b.len()],
                    values: b.clone(),
                },
            );
        }
    }
    with_initializers(&graph.model, &named)
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use edgewise_data::graded;

    use super::*;
    use crate::prune::structure::tests::shipped;
    use crate::quant::{Float, Hook, Value};

    /// The full model computing with given weights.
    struct With<'a>(&'a [Vec<f32>]);

    impl Hook for With<'_> {
        fn weight(&self, layer: usize, device: &Device) -> Tensor<1> {
            Tensor::from_floats(self.0[layer].as_slice(), device)
        }

        fn input(&self, _layer: usize, x: Value) -> Value {
            x
        }
    }

    #[test]
    fn a_sliced_model_computes_what_the_full_one_does_without_the_removed_channels() {
        let g = shipped("multiexit");
        let s = Structure::of(&g, [1, 16, 16]).unwrap();
        // Keep the even filters of every prunable layer.
        let keep: Vec<Vec<usize>> = g
            .layers
            .iter()
            .zip(&s.prunable)
            .map(|(l, &p)| (0..l.out_channels()).filter(|c| !p || c % 2 == 0).collect())
            .collect();
        let small = Graph::read(&slice(&g, &s, &keep).unwrap()).unwrap();
        for (l, k) in small.layers.iter().zip(&keep) {
            assert_eq!(l.out_channels(), k.len(), "{}", l.name);
        }
        // The full model with each reader's weights of odd channels zeroed, by index.
        let mut zeroed: Vec<Vec<f32>> = g.layers.iter().map(|l| l.values.clone()).collect();
        for (k, readers) in s.consumers.iter().enumerate() {
            for c in readers {
                let l = &g.layers[c.layer];
                let d = &l.dims;
                for (i, w) in zeroed[c.layer].iter_mut().enumerate() {
                    let channel = match l.op {
                        LayerOp::Conv => (i / (d[2] * d[3])) % d[1],
                        LayerOp::ConvTranspose => i / (d[1] * d[2] * d[3]),
                        LayerOp::MatMul => i / d[1] / c.rows,
                    };
                    if s.prunable[k] && channel % 2 == 1 {
                        *w = 0.0;
                    }
                }
            }
        }
        let set = graded::split(8, 5).unwrap();
        let x = Tensor::<4>::from_data(
            TensorData::new(set.images.clone(), [8, 1, 16, 16]),
            &Device::flex(),
        );
        let outputs = ["exit0", "exit1", "logits"];
        let want = g.forward(x.clone(), &outputs, &With(&zeroed)).unwrap();
        let got = small.forward(x, &outputs, &Float(&small)).unwrap();
        for (a, b) in got.iter().zip(&want) {
            let (a, b) = (a.to_vec().unwrap(), b.to_vec().unwrap());
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-4, "{worst}");
        }
        assert!(slice(&g, &s, &keep[1..]).is_err());
    }

    #[test]
    fn take_keeps_blocks_along_an_axis() {
        // [2, 3, 2]: 0..12.
        let a = Array {
            dims: vec![2, 3, 2],
            values: (0..12).map(|v| v as f32).collect(),
        };
        let b = a.take(1, 1, &[0, 2]);
        assert_eq!(b.dims, vec![2, 2, 2]);
        assert_eq!(b.values, vec![0., 1., 4., 5., 6., 7., 10., 11.]);
        // Rows in blocks of 2 (a dense layer after a flatten of 3 channels × 2 positions).
        let m = Array {
            dims: vec![6, 1],
            values: (0..6).map(|v| v as f32).collect(),
        };
        assert_eq!(m.take(0, 2, &[1]).values, vec![2., 3.]);
    }
}
