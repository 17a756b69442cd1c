//! The ONNX emitter: the trained modules write themselves as ONNX graphs.
//!
//! An [`Emitter`] wraps the project's graph builder with what export needs on top: unique,
//! readable value names under a scope (`encoder.conv1.weight`), weights taken straight from
//! burn tensors, a dynamic batch dimension, the `ai.edgewise` domain, and the model metadata
//! (system, version, metrics, the exact training command). Every layer the catalogue's models
//! use implements [`Emit`] from the same struct that trains (see [`crate::layers`]), so the
//! exported graph cannot drift from the trained one: parity tests check the two agree.

use std::collections::HashSet;

use burn::prelude::*;
use edgewise_core::{DType, Dim};
use edgewise_onnx::{Attr, GraphBuilder, pb::TensorProto, tensor_f32, tensor_i64};

/// The ONNX opset the exported models import.
pub const OPSET: i64 = 17;
/// The domain of edgewise's own operators.
pub const EDGEWISE: &str = "ai.edgewise";
/// The name of the dynamic batch dimension.
pub const BATCH: &str = "batch";

/// An error while exporting.
#[derive(Debug, thiserror::Error)]
#[error("export: {0}")]
pub struct EmitError(pub String);

/// Export results.
pub type EmitResult<T> = Result<T, EmitError>;

/// A layer that can write itself into an ONNX graph.
pub trait Emit {
    /// Appends the layer's nodes, reading `input` and returning the name of its output. Weights
    /// are named under `scope`.
    fn emit(&self, e: &mut Emitter, scope: &str, input: &str) -> EmitResult<String>;
}

/// Builds one exported model.
pub struct Emitter {
    graph: GraphBuilder,
    used: HashSet<String>,
    initializers: usize,
    parameters: usize,
}

/// The float values of a burn tensor, in row-major order.
pub fn values<const D: usize>(t: &Tensor<D>) -> EmitResult<Vec<f32>> {
    t.to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| EmitError(format!("reading a tensor: {e:?}")))
}

impl Emitter {
    /// An empty model named `name`, importing opset [`OPSET`] and the `ai.edgewise` domain.
    pub fn new(name: &str) -> Emitter {
        let mut graph = GraphBuilder::new(name, OPSET);
        graph.import(EDGEWISE, 1);
        Emitter {
            graph,
            used: HashSet::new(),
            initializers: 0,
            parameters: 0,
        }
    }

    /// A fresh value name: `base`, or `base_2`, `base_3`… when taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 2;
        while self.used.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used.insert(name.clone());
        name
    }

    /// Declares a float32 graph input with a leading dynamic batch dimension and the given
    /// fixed trailing dimensions.
    pub fn input(&mut self, name: &str, trailing: &[usize]) -> String {
        let dims = batched(trailing);
        self.used.insert(name.into());
        self.graph.input(name, DType::F32, &dims)
    }

    /// Declares a graph input of any type and dims (keys, indices).
    pub fn input_typed(&mut self, name: &str, dtype: DType, dims: &[Dim]) -> String {
        self.used.insert(name.into());
        self.graph.input(name, dtype, dims)
    }

    /// Declares `value` a float32 graph output named `name` with a dynamic batch dimension,
    /// renaming it through an `Identity` when its name differs.
    pub fn output(&mut self, value: &str, name: &str, trailing: &[usize]) -> EmitResult<()> {
        if value != name {
            if self.used.contains(name) {
                return Err(EmitError(format!("output name '{name}' is already taken")));
            }
            self.used.insert(name.into());
            self.graph.node("Identity", &[value], name, vec![]);
        }
        self.graph.output(name, DType::F32, &batched(trailing));
        Ok(())
    }

    /// Declares `value` a graph output named `name` of any type and dims (symbolic sizes
    /// besides the batch), renaming it through an `Identity` when its name differs.
    pub fn output_typed(
        &mut self,
        value: &str,
        name: &str,
        dtype: DType,
        dims: &[Dim],
    ) -> EmitResult<()> {
        if value != name {
            if self.used.contains(name) {
                return Err(EmitError(format!("output name '{name}' is already taken")));
            }
            self.used.insert(name.into());
            self.graph.node("Identity", &[value], name, vec![]);
        }
        self.graph.output(name, dtype, dims);
        Ok(())
    }

    /// Adds a trained float tensor as an initializer named `scope.leaf` (counted as parameters).
    pub fn weight<const D: usize>(
        &mut self,
        scope: &str,
        leaf: &str,
        t: &Tensor<D>,
    ) -> EmitResult<String> {
        let dims = t.dims().to_vec();
        let data = values(t)?;
        self.weight_values(scope, leaf, &dims, &data)
    }

    /// Adds float values computed at export (folded batch norms, packed forms) as a parameter.
    pub fn weight_values(
        &mut self,
        scope: &str,
        leaf: &str,
        dims: &[usize],
        data: &[f32],
    ) -> EmitResult<String> {
        check_len(scope, leaf, dims, data.len())?;
        self.parameters += data.len();
        let name = self.fresh(&join(scope, leaf));
        Ok(self.graph.initializer(tensor_f32(&name, dims, data)))
    }

    /// Adds packed sign bits as a uint32 initializer named `scope.leaf`, stored little-endian in
    /// `raw_data` (the form every ONNX reader takes for uint32). `values` is the number of trained
    /// weights the words pack, which is what the parameter count records.
    pub fn weight_u32(
        &mut self,
        scope: &str,
        leaf: &str,
        dims: &[usize],
        data: &[u32],
        values: usize,
    ) -> EmitResult<String> {
        check_len(scope, leaf, dims, data.len())?;
        if values > data.len() * 32 {
            return Err(EmitError(format!(
                "'{scope}.{leaf}': {values} values do not fit in {} words",
                data.len()
            )));
        }
        self.parameters += values;
        let name = self.fresh(&join(scope, leaf));
        Ok(self.graph.initializer(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DType::U32.onnx_code(),
            raw_data: data.iter().flat_map(|w| w.to_le_bytes()).collect(),
            ..Default::default()
        }))
    }

    /// A float constant (not a trained parameter).
    pub fn constant(&mut self, name: &str, dims: &[usize], data: &[f32]) -> EmitResult<String> {
        check_len(name, "", dims, data.len())?;
        self.initializers += 1;
        let name = self.fresh(name);
        Ok(self.graph.initializer(tensor_f32(&name, dims, data)))
    }

    /// An int64 constant (shapes, axes).
    pub fn constant_i64(&mut self, name: &str, data: &[i64]) -> String {
        self.initializers += 1;
        let name = self.fresh(name);
        self.graph
            .initializer(tensor_i64(&name, &[data.len()], data))
    }

    /// A standard ONNX node with one output named after `out`.
    pub fn op(&mut self, op: &str, inputs: &[&str], out: &str, attrs: Vec<(&str, Attr)>) -> String {
        let name = self.fresh(out);
        self.graph.node(op, inputs, &name, attrs)
    }

    /// An `ai.edgewise` node with one output named after `out`.
    pub fn edgewise(
        &mut self,
        op: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<(&str, Attr)>,
    ) -> String {
        let name = self.fresh(out);
        self.graph.node_in(EDGEWISE, op, inputs, &[&name], attrs);
        name
    }

    /// Adds a `metadata_props` entry.
    pub fn metadata(&mut self, key: &str, value: &str) {
        self.graph.metadata(key, value);
    }

    /// Adds what every exported model records: its `system`, the trainer's `version`, the
    /// `command` that trained it, then `extra` (metrics, helper settings) in order.
    pub fn provenance(&mut self, system: &str, command: &str, extra: &[(&str, String)]) {
        self.metadata("system", system);
        self.metadata("version", env!("CARGO_PKG_VERSION"));
        self.metadata("command", command);
        for (k, v) in extra {
            self.metadata(k, v);
        }
    }

    /// The number of trained scalars written so far.
    pub fn parameters(&self) -> usize {
        self.parameters
    }

    /// The serialized model.
    pub fn finish(self) -> Vec<u8> {
        self.graph.to_bytes()
    }
}

/// `[batch, trailing…]`.
fn batched(trailing: &[usize]) -> Vec<Dim> {
    std::iter::once(Dim::Symbolic(BATCH.into()))
        .chain(trailing.iter().map(|&d| Dim::Fixed(d)))
        .collect()
}

fn join(scope: &str, leaf: &str) -> String {
    match (scope.is_empty(), leaf.is_empty()) {
        (true, _) => leaf.into(),
        (_, true) => scope.into(),
        _ => format!("{scope}.{leaf}"),
    }
}

fn check_len(scope: &str, leaf: &str, dims: &[usize], len: usize) -> EmitResult<()> {
    if dims.iter().product::<usize>() != len {
        return Err(EmitError(format!(
            "'{}': {len} values for dims {dims:?}",
            join(scope, leaf)
        )));
    }
    Ok(())
}
