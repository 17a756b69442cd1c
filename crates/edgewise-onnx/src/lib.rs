//! Writes ONNX models from Rust.
//!
//! [`GraphBuilder`] assembles a `ModelProto` (tract's prost types) node by node: graph inputs
//! with fixed or symbolic dims, float initializers, nodes with attributes, and outputs. Tests
//! use it to make exactly the model a case needs, and the demo models in `onnx/` are written
//! with it, so they can be regenerated and compared byte for byte.

use edgewise_core::{DType, Dim};
use prost::Message;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_shape_proto::Dimension, tensor_shape_proto::dimension, type_proto,
};

pub use tract_onnx::pb;

pub mod fixtures;

/// A node attribute value.
#[derive(Clone, Debug)]
pub enum Attr {
    /// `INT`
    Int(i64),
    /// `INTS`
    Ints(Vec<i64>),
    /// `FLOAT`
    Float(f32),
    /// `FLOATS`
    Floats(Vec<f32>),
    /// `STRING`
    Str(String),
    /// `TENSOR`
    Tensor(Box<TensorProto>),
    /// `GRAPH` (the branches of `If`, the body of `Loop`)
    Graph(Box<GraphProto>),
}

/// Builds one ONNX graph and wraps it in a model.
#[derive(Clone, Debug, Default)]
pub struct GraphBuilder {
    graph: GraphProto,
    opsets: Vec<(String, i64)>,
    metadata: Vec<(String, String)>,
}

/// A float32 `TensorProto` with the given dims.
pub fn tensor_f32(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "tensor '{name}': data does not match dims"
    );
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DType::F32.onnx_code(),
        float_data: data.to_vec(),
        ..Default::default()
    }
}

/// An int64 `TensorProto` with the given dims.
pub fn tensor_i64(name: &str, dims: &[usize], data: &[i64]) -> TensorProto {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "tensor '{name}': data does not match dims"
    );
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DType::I64.onnx_code(),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

fn value_info(name: &str, dtype: DType, dims: &[Dim]) -> ValueInfoProto {
    let mut info = unshaped(name, dtype);
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
                Dim::Symbolic(s) => dimension::Value::DimParam(s.clone()),
            }),
            ..Default::default()
        })
        .collect();
    if let Some(TypeProto {
        value: Some(type_proto::Value::TensorType(t)),
        ..
    }) = info.r#type.as_mut()
    {
        t.shape = Some(TensorShapeProto { dim });
    }
    info
}

/// A value of this element type whose shape is not declared at all (not even its rank).
fn unshaped(name: &str, dtype: DType) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: dtype.onnx_code(),
                shape: None,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A node attribute named `name`.
pub fn attribute(name: &str, value: Attr) -> AttributeProto {
    let mut a = AttributeProto {
        name: name.into(),
        ..Default::default()
    };
    let kind = match value {
        Attr::Int(i) => {
            a.i = i;
            AttributeType::Int
        }
        Attr::Ints(v) => {
            a.ints = v;
            AttributeType::Ints
        }
        Attr::Float(f) => {
            a.f = f;
            AttributeType::Float
        }
        Attr::Floats(v) => {
            a.floats = v;
            AttributeType::Floats
        }
        Attr::Str(s) => {
            a.s = s.into_bytes();
            AttributeType::String
        }
        Attr::Tensor(t) => {
            a.t = Some(*t);
            AttributeType::Tensor
        }
        Attr::Graph(g) => {
            a.g = Some(*g);
            AttributeType::Graph
        }
    };
    a.r#type = kind as i32;
    a
}

impl GraphBuilder {
    /// An empty graph importing the default ONNX domain at `opset`.
    pub fn new(name: &str, opset: i64) -> GraphBuilder {
        GraphBuilder {
            graph: GraphProto {
                name: name.into(),
                ..Default::default()
            },
            opsets: vec![(String::new(), opset)],
            metadata: vec![],
        }
    }

    /// Also imports `domain` at `version` (for custom operators).
    pub fn import(&mut self, domain: &str, version: i64) -> &mut Self {
        self.opsets.push((domain.into(), version));
        self
    }

    /// Adds a `metadata_props` entry to the model.
    pub fn metadata(&mut self, key: &str, value: &str) -> &mut Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Declares a graph input.
    pub fn input(&mut self, name: &str, dtype: DType, dims: &[Dim]) -> String {
        self.graph.input.push(value_info(name, dtype, dims));
        name.into()
    }

    /// Declares a graph input without a shape (fully dynamic, as many exporters write them).
    pub fn input_unshaped(&mut self, name: &str, dtype: DType) -> String {
        self.graph.input.push(unshaped(name, dtype));
        name.into()
    }

    /// Declares a graph output.
    pub fn output(&mut self, name: &str, dtype: DType, dims: &[Dim]) -> &mut Self {
        self.graph.output.push(value_info(name, dtype, dims));
        self
    }

    /// Declares a graph output without a shape.
    pub fn output_unshaped(&mut self, name: &str, dtype: DType) -> &mut Self {
        self.graph.output.push(unshaped(name, dtype));
        self
    }

    /// Declares the type and shape of an intermediate value (`value_info`).
    pub fn value_info(&mut self, name: &str, dtype: DType, dims: &[Dim]) -> &mut Self {
        self.graph.value_info.push(value_info(name, dtype, dims));
        self
    }

    /// The graph alone, for use as a sub-graph attribute ([`Attr::Graph`]).
    pub fn graph(&self) -> GraphProto {
        self.graph.clone()
    }

    /// Adds a constant tensor (weights) and returns its name.
    pub fn initializer(&mut self, tensor: TensorProto) -> String {
        let name = tensor.name.clone();
        self.graph.initializer.push(tensor);
        name
    }

    /// Adds a node of the default domain with one output named `output`.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attrs: Vec<(&str, Attr)>,
    ) -> String {
        self.node_in("", op, inputs, &[output], attrs);
        output.into()
    }

    /// Adds a node of any domain with any number of outputs.
    pub fn node_in(
        &mut self,
        domain: &str,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<(&str, Attr)>,
    ) -> &mut Self {
        let name = format!("{}_{}", op.to_lowercase(), self.graph.node.len());
        self.graph.node.push(NodeProto {
            name,
            op_type: op.into(),
            domain: domain.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs.into_iter().map(|(k, v)| attribute(k, v)).collect(),
            ..Default::default()
        });
        self
    }

    /// The finished model (IR version 8).
    pub fn model(&self) -> ModelProto {
        ModelProto {
            ir_version: 8,
            producer_name: "edgewise".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            opset_import: self
                .opsets
                .iter()
                .map(|(domain, version)| OperatorSetIdProto {
                    domain: domain.clone(),
                    version: *version,
                })
                .collect(),
            metadata_props: self
                .metadata
                .iter()
                .map(|(key, value)| StringStringEntryProto {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            graph: Some(self.graph.clone()),
            ..Default::default()
        }
    }

    /// The finished model, serialized.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.model().encode_to_vec()
    }
}
