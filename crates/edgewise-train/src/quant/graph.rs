//! An exported CNN as burn computes it: the ONNX graph read back and evaluated op by op, with
//! a hook at every weight layer where a quantizer replaces the weight and the layer's input.
//!
//! The ops are those the catalogue's CNNs export (`Conv`, `ConvTranspose`, `MatMul`, `Add`,
//! `Relu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `MaxPool`, `Flatten`, `Identity`). A node that an
//! evaluated output needs and that is not among them is an error naming it; nodes that only
//! other outputs need (an edgewise operator after the reconstruction, say) are left alone.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use edgewise_onnx::pb::{ModelProto, NodeProto, TensorProto, attribute_proto::AttributeType};
use prost::Message;

/// A value flowing through the graph: feature maps or rows of features.
#[derive(Clone, Debug)]
pub enum Value {
    /// `[batch, features]`.
    D2(Tensor<2>),
    /// `[batch, channels, height, width]`.
    D4(Tensor<4>),
}

impl Value {
    /// The number of channels (axis 1).
    pub fn channels(&self) -> usize {
        match self {
            Value::D2(t) => t.dims()[1],
            Value::D4(t) => t.dims()[1],
        }
    }

    /// The values as a flat host vector.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        Ok(match self {
            Value::D2(t) => crate::emit::values(t)?,
            Value::D4(t) => crate::emit::values(t)?,
        })
    }

    /// Applies `f` to the value as a 4-d tensor (rows of features as `[n, c, 1, 1]`), so that
    /// per-channel terms broadcast as `[1, c, 1, 1]` for both kinds.
    pub fn map(self, f: impl Fn(Tensor<4>) -> Tensor<4>) -> Value {
        match self {
            Value::D4(t) => Value::D4(f(t)),
            Value::D2(t) => {
                let [n, c] = t.dims();
                Value::D2(f(t.reshape([n, c, 1, 1])).reshape([n, c]))
            }
        }
    }

    /// `f` of two values of the same kind and shape, as [`Value::map`] sees them.
    pub fn zip(&self, other: &Value, f: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>) -> Value {
        match (self, other) {
            (Value::D4(a), Value::D4(b)) => Value::D4(f(a.clone(), b.clone())),
            (Value::D2(a), Value::D2(b)) => {
                let [n, c] = a.dims();
                let r = f(
                    a.clone().reshape([n, c, 1, 1]),
                    b.clone().reshape([n, c, 1, 1]),
                );
                Value::D2(r.reshape([n, c]))
            }
            _ => panic!("values of different ranks are combined"),
        }
    }

    /// The 4-d tensor, or an error naming `op`.
    fn d4(self, op: &str) -> Result<Tensor<4>> {
        match self {
            Value::D4(t) => Ok(t),
            Value::D2(_) => bail!("{op}: expected a 4-d input, got a 2-d one"),
        }
    }
}

/// The kind of a weight layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerOp {
    /// `Conv` (weight `[out, in/groups, kh, kw]`).
    Conv,
    /// `ConvTranspose` (weight `[in, out/groups, kh, kw]`).
    ConvTranspose,
    /// `MatMul` by a constant `[in, out]`.
    MatMul,
}

/// A layer with a weight: where the quantizer acts.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The node's index in the graph.
    pub node: usize,
    /// The node's name (or its output's).
    pub name: String,
    /// What it computes.
    pub op: LayerOp,
    /// The weight's initializer name.
    pub weight: String,
    /// The weight's dims.
    pub dims: Vec<usize>,
    /// The weight's row-major values.
    pub values: Vec<f32>,
    /// The axis of the weight's output channels (`Conv` 0, `ConvTranspose` and `MatMul` 1).
    pub out_axis: usize,
}

impl Layer {
    /// The number of output channels.
    pub fn out_channels(&self) -> usize {
        self.dims[self.out_axis]
    }

    /// The index of the output channel of each weight, in the weight's row-major order.
    pub fn channel_of(&self) -> Vec<usize> {
        let inner: usize = self.dims[self.out_axis + 1..].iter().product();
        let c = self.out_channels();
        (0..self.values.len()).map(|i| (i / inner) % c).collect()
    }

    /// The weight as a tensor of its own rank.
    pub fn tensor(&self, values: Tensor<1>) -> Value {
        match self.dims[..] {
            [a, b, c, d] => Value::D4(values.reshape([a, b, c, d])),
            [a, b] => Value::D2(values.reshape([a, b])),
            _ => unreachable!("layer weights are checked to be of rank 2 or 4"),
        }
    }
}

/// What replaces a layer's weight and input while the graph runs; [`Float`] changes nothing.
pub trait Hook {
    /// The weight layer `layer` computes with, flat in its row-major order.
    fn weight(&self, layer: usize, device: &Device) -> Tensor<1>;
    /// The input layer `layer` reads, made from the value the graph computed.
    fn input(&self, layer: usize, x: Value) -> Value;
    /// The bias layer `layer` adds, given the model's own (`None` where it has none).
    fn bias(&self, _layer: usize, own: Option<Tensor<1>>) -> Option<Tensor<1>> {
        own
    }
}

/// The float model: every layer computes with its own weight and input.
pub struct Float<'a>(pub &'a Graph);

impl Hook for Float<'_> {
    fn weight(&self, layer: usize, device: &Device) -> Tensor<1> {
        Tensor::from_floats(self.0.layers[layer].values.as_slice(), device)
    }

    fn input(&self, _layer: usize, x: Value) -> Value {
        x
    }
}

/// An exported model read back for quantization.
pub struct Graph {
    /// The model as read.
    pub model: ModelProto,
    /// Its weight layers, in graph order.
    pub layers: Vec<Layer>,
    /// The name of its one float input.
    pub input: String,
    constants: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

/// The float values of an initializer (`float_data` or little-endian `raw_data`).
fn floats(t: &TensorProto) -> Result<Vec<f32>> {
    if t.data_type != 1 {
        bail!("initializer '{}' is not float32", t.name);
    }
    if !t.float_data.is_empty() {
        return Ok(t.float_data.clone());
    }
    Ok(t.raw_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn ints(node: &NodeProto, name: &str) -> Option<Vec<usize>> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == AttributeType::Ints as i32)
        .map(|a| a.ints.iter().map(|&v| v as usize).collect())
}

fn int(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == AttributeType::Int as i32)
        .map(|a| a.i)
}

fn float(node: &NodeProto, name: &str) -> Option<f32> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == AttributeType::Float as i32)
        .map(|a| a.f)
}

fn pair(v: Option<Vec<usize>>, default: usize, what: &str, node: &str) -> Result<[usize; 2]> {
    match v.as_deref() {
        None => Ok([default; 2]),
        Some(&[a, b]) => Ok([a, b]),
        Some(other) => bail!("{node}: {what} {other:?} is not 2-d"),
    }
}

/// `[t, l, b, r]` pads as burn's `(begin, end)` pairs.
fn pads(node: &NodeProto) -> Result<[(usize, usize); 2]> {
    match ints(node, "pads").as_deref() {
        None => Ok([(0, 0); 2]),
        Some(&[t, l, b, r]) => Ok([(t, b), (l, r)]),
        Some(other) => bail!("{}: pads {other:?} are not 2-d", node.name),
    }
}

impl Graph {
    /// Reads an ONNX model whose one float input is an image batch `[n, c, h, w]`.
    pub fn read(bytes: &[u8]) -> Result<Graph> {
        let model = ModelProto::decode(bytes).context("reading the ONNX model")?;
        let g = model.graph.as_ref().context("the model has no graph")?;
        let mut constants = HashMap::new();
        for t in &g.initializer {
            let dims: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
            if t.data_type == 1 {
                constants.insert(t.name.clone(), (dims, floats(t)?));
            }
        }
        let inputs: Vec<&str> = g
            .input
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| !constants.contains_key(*n))
            .collect();
        let [input] = inputs[..] else {
            bail!("quantization takes models with one input; this one has {inputs:?}");
        };
        let mut layers = vec![];
        for (i, node) in g.node.iter().enumerate() {
            let (op, out_axis, rank) = match node.op_type.as_str() {
                "Conv" => (LayerOp::Conv, 0, 4),
                "ConvTranspose" => (LayerOp::ConvTranspose, 1, 4),
                "MatMul" => (LayerOp::MatMul, 1, 2),
                _ => continue,
            };
            let Some(w) = node.input.get(1) else { continue };
            let Some((dims, values)) = constants.get(w) else {
                continue;
            };
            if dims.len() != rank {
                bail!(
                    "{}: a {} weight of rank {} (only 2-d convolutions are quantized)",
                    node.name,
                    node.op_type,
                    dims.len()
                );
            }
            layers.push(Layer {
                node: i,
                name: node.output.first().cloned().unwrap_or_default(),
                op,
                weight: w.clone(),
                dims: dims.clone(),
                values: values.clone(),
                out_axis,
            });
        }
        if layers.is_empty() {
            bail!("the model has no Conv, ConvTranspose or MatMul with a constant weight");
        }
        Ok(Graph {
            input: input.to_string(),
            model,
            layers,
            constants,
        })
    }

    /// The graph's nodes, in order.
    pub fn nodes(&self) -> &[NodeProto] {
        self.model.graph.as_ref().map_or(&[], |g| &g.node[..])
    }

    /// The indices of the nodes that `outputs` depend on, in graph order.
    fn needed(&self, outputs: &[&str]) -> Result<Vec<usize>> {
        let nodes = self.nodes();
        let mut want: HashSet<String> = outputs.iter().map(|s| s.to_string()).collect();
        let mut keep = vec![];
        for (i, n) in nodes.iter().enumerate().rev() {
            if n.output.iter().any(|o| want.contains(o)) {
                keep.push(i);
                want.extend(n.input.iter().cloned());
            }
        }
        for o in outputs {
            if *o != self.input && !nodes.iter().any(|n| n.output.iter().any(|x| x == o)) {
                bail!("the model computes no value '{o}'");
            }
        }
        keep.reverse();
        Ok(keep)
    }

    fn constant(&self, name: &str, device: &Device) -> Option<Tensor<1>> {
        self.constants
            .get(name)
            .map(|(_, v)| Tensor::from_floats(v.as_slice(), device))
    }

    /// Runs the graph on `x` and returns the values named `outputs`, with `hook` at the
    /// weight layers.
    pub fn forward(&self, x: Tensor<4>, outputs: &[&str], hook: &dyn Hook) -> Result<Vec<Value>> {
        let device = x.device();
        let mut values: HashMap<String, Value> = HashMap::new();
        values.insert(self.input.clone(), Value::D4(x));
        let layer_of: HashMap<usize, usize> = self
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| (l.node, k))
            .collect();
        for i in self.needed(outputs)? {
            let node = &self.nodes()[i];
            let get = |k: usize| -> Result<Value> {
                let name = node.input.get(k).context("missing input")?;
                values
                    .get(name)
                    .cloned()
                    .with_context(|| format!("{}: input '{name}' is not computed", node.name))
            };
            let what = format!("{} ({})", node.name, node.op_type);
            let y = match node.op_type.as_str() {
                "Conv" | "ConvTranspose" | "MatMul" => {
                    let k = *layer_of
                        .get(&i)
                        .with_context(|| format!("{what}: its weight is not a constant"))?;
                    let layer = &self.layers[k];
                    let x = hook.input(k, get(0)?);
                    let w = layer.tensor(hook.weight(k, &device));
                    let own = node.input.get(2).and_then(|b| self.constant(b, &device));
                    let bias = hook.bias(k, own);
                    self.layer_forward(node, layer.op, x, w, bias)
                        .with_context(|| what.clone())?
                }
                "Add" => {
                    let a = get(0)?;
                    let b = node.input.get(1).context("Add: one input")?;
                    match (a, values.get(b), self.constant(b, &device)) {
                        (Value::D2(a), _, Some(c)) => Value::D2(a + c.unsqueeze::<2>()),
                        (Value::D2(a), Some(Value::D2(b)), _) => Value::D2(a + b.clone()),
                        (Value::D4(a), Some(Value::D4(b)), _) => Value::D4(a + b.clone()),
                        _ => bail!("{what}: only a bias or an equal-shaped value is added"),
                    }
                }
                "Relu" => get(0)?.map(burn::tensor::activation::relu),
                "Sigmoid" => get(0)?.map(burn::tensor::activation::sigmoid),
                "Tanh" => get(0)?.map(burn::tensor::activation::tanh),
                "LeakyRelu" => {
                    let a = float(node, "alpha").unwrap_or(0.01) as f64;
                    get(0)?.map(|t| burn::tensor::activation::leaky_relu(t, a))
                }
                "Identity" => get(0)?,
                "Flatten" => {
                    if int(node, "axis").unwrap_or(1) != 1 {
                        bail!("{what}: only axis 1 is supported");
                    }
                    match get(0)? {
                        Value::D4(t) => Value::D2(t.flatten::<2>(1, 3)),
                        v => v,
                    }
                }
                "MaxPool" => {
                    let k = pair(ints(node, "kernel_shape"), 1, "kernel", &node.name)?;
                    let s = pair(ints(node, "strides"), 1, "strides", &node.name)?;
                    let options = MaxPoolOptions::new(k)
                        .with_stride(s)
                        .with_padding_pairs(pads(node)?);
                    Value::D4(max_pool2d(get(0)?.d4(&what)?, options))
                }
                other => bail!(
                    "{what}: the quantizer does not evaluate {other} (it takes Conv, \
                     ConvTranspose, MatMul, Add, Relu, LeakyRelu, Sigmoid, Tanh, MaxPool, \
                     Flatten and Identity)"
                ),
            };
            let out = node.output.first().context("a node without output")?;
            values.insert(out.clone(), y);
        }
        outputs
            .iter()
            .map(|o| {
                values
                    .remove(*o)
                    .with_context(|| format!("'{o}' was not computed"))
            })
            .collect()
    }

    /// Layer `k`'s bias values, where it has a constant bias.
    pub fn bias(&self, k: usize) -> Option<Vec<f32>> {
        let node = &self.nodes()[self.layers[k].node];
        let name = node.input.get(2)?;
        self.constants.get(name).map(|(_, v)| v.clone())
    }

    /// The `group` attribute of layer `k` (1 for a `MatMul`).
    pub fn group(&self, k: usize) -> i64 {
        int(&self.nodes()[self.layers[k].node], "group").unwrap_or(1)
    }

    /// Layer `k` applied to `x` with weight `w` (its layer's shape, or a slice of input
    /// channels of it), with the layer's bias or without.
    pub fn apply(&self, k: usize, x: Value, w: Value, bias: bool) -> Result<Value> {
        let layer = &self.layers[k];
        let node = &self.nodes()[layer.node];
        let device = match &x {
            Value::D2(t) => t.device(),
            Value::D4(t) => t.device(),
        };
        let b = if bias {
            node.input.get(2).and_then(|b| self.constant(b, &device))
        } else {
            None
        };
        self.layer_forward(node, layer.op, x, w, b)
            .with_context(|| format!("{} ({})", node.name, node.op_type))
    }

    fn layer_forward(
        &self,
        node: &NodeProto,
        op: LayerOp,
        x: Value,
        w: Value,
        bias: Option<Tensor<1>>,
    ) -> Result<Value> {
        let name = &node.name;
        let stride = pair(ints(node, "strides"), 1, "strides", name)?;
        let dilation = pair(ints(node, "dilations"), 1, "dilations", name)?;
        let groups = int(node, "group").unwrap_or(1) as usize;
        Ok(match (op, x, w) {
            (LayerOp::Conv, Value::D4(x), Value::D4(w)) => {
                let options = ConvOptions::new_with_padding(stride, pads(node)?, dilation, groups);
                Value::D4(conv2d(x, w, bias, options))
            }
            (LayerOp::ConvTranspose, Value::D4(x), Value::D4(w)) => {
                let [(t, b), (l, r)] = pads(node)?;
                if t != b || l != r {
                    bail!("asymmetric pads");
                }
                let out = pair(ints(node, "output_padding"), 0, "output_padding", name)?;
                let options = ConvTransposeOptions::new(stride, [t, l], out, dilation, groups);
                Value::D4(conv_transpose2d(x, w, bias, options))
            }
            (LayerOp::MatMul, Value::D2(x), Value::D2(w)) => {
                let y = x.matmul(w);
                Value::D2(match bias {
                    Some(b) => y + b.unsqueeze::<2>(),
                    None => y,
                })
            }
            _ => bail!("an input of the wrong rank"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::Emitter;

    #[test]
    fn an_op_the_quantizer_cannot_evaluate_is_named() {
        let mut e = Emitter::new("t");
        let x = e.input("image", &[1, 2, 2]);
        let w = e
            .weight_values("c", "weight", &[1, 1, 1, 1], &[2.0])
            .unwrap();
        let y = e.op("Conv", &[&x, &w], "c.conv", vec![]);
        let z = e.op("Softplus", &[&y], "soft", vec![]);
        e.output(&z, "out", &[1, 2, 2]).unwrap();
        let g = Graph::read(&e.finish()).unwrap();
        assert_eq!(g.layers.len(), 1);
        let x = Tensor::<4>::ones([1, 1, 2, 2], &Device::flex());
        let y = g.forward(x.clone(), &["c.conv"], &Float(&g)).unwrap();
        assert_eq!(y[0].to_vec().unwrap(), vec![2.0; 4]);
        let err = g.forward(x, &["out"], &Float(&g)).unwrap_err().to_string();
        assert!(err.contains("Softplus"), "{err}");
        assert!(Graph::read(b"not a model").is_err());
    }
}
