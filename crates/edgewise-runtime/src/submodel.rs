//! A CPU stage as an ONNX model of its own, so tract types, optimizes and plans it like any
//! model. Its inputs are declared with the element types and shapes (symbols kept) that tract
//! inferred for the whole model.

use std::collections::{HashMap, HashSet};

use edgewise_core::{Error, Result};
use tract_onnx::pb::{
    GraphProto, ModelProto, TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto,
    type_proto,
};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;

use crate::load::Decoded;
use crate::plan::StageSpec;

/// Element type and shape of one value, symbols written out by name.
#[derive(Debug, Clone)]
pub(crate) struct Fact {
    pub datum_type: DatumType,
    /// A number, or the symbolic expression (`batch`, `2*N`).
    pub shape: Vec<std::result::Result<usize, String>>,
}

impl Fact {
    /// Written while the model (and its symbol scope, which names the symbols) is alive.
    fn of(f: &TypedFact) -> Fact {
        Fact {
            datum_type: f.datum_type,
            shape: f
                .shape
                .iter()
                .map(|d| d.to_usize().map_err(|_| d.to_string()))
                .collect(),
        }
    }
}

/// Element type and shape of every named value of the model, as tract typed it.
pub(crate) type Facts = HashMap<String, Fact>;

/// Types the whole model (edgewise operators included) and collects the fact of every named
/// value.
pub(crate) fn facts(decoded: &Decoded) -> Result<Facts> {
    let model = decoded
        .framework
        .model_for_proto_model(&decoded.proto)
        .and_then(|m| m.into_typed())
        .map_err(|e| Error::InvalidModel(format!("typing failed: {e:#}")))?;
    let mut facts = Facts::new();
    for (outlet, label) in &model.outlet_labels {
        if let Ok(f) = model.outlet_fact(*outlet) {
            facts.insert(label.clone(), Fact::of(f));
        }
    }
    // Sources keep their node name, which is the input's name.
    for outlet in model
        .input_outlets()
        .map_err(|e| Error::InvalidModel(e.to_string()))?
    {
        let name = model.node(outlet.node).name.clone();
        if let Ok(f) = model.outlet_fact(*outlet) {
            facts.entry(name).or_insert_with(|| Fact::of(f));
        }
    }
    Ok(facts)
}

fn value_info(name: &str, facts: &Facts) -> Result<ValueInfoProto> {
    let fact = facts.get(name).ok_or_else(|| {
        Error::InvalidModel(format!(
            "no type was inferred for '{name}', a stage boundary"
        ))
    })?;
    let elem_type = onnx_type(fact.datum_type).ok_or_else(|| {
        Error::InvalidModel(format!(
            "'{name}' has element type {:?}, which cannot cross a stage boundary",
            fact.datum_type
        ))
    })?;
    let dim = fact
        .shape
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Ok(v) => tensor_shape_proto::dimension::Value::DimValue(*v as i64),
                Err(sym) => tensor_shape_proto::dimension::Value::DimParam(sym.clone()),
            }),
            ..Default::default()
        })
        .collect();
    Ok(ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn onnx_type(dt: DatumType) -> Option<i32> {
    Some(match dt {
        DatumType::F32 => 1,
        DatumType::U8 => 2,
        DatumType::I8 => 3,
        DatumType::U16 => 4,
        DatumType::I16 => 5,
        DatumType::I32 => 6,
        DatumType::I64 | DatumType::TDim => 7,
        DatumType::Bool => 9,
        DatumType::F16 => 10,
        DatumType::F64 => 11,
        DatumType::U32 => 12,
        DatumType::U64 => 13,
        _ => return None,
    })
}

/// The ONNX model of one CPU stage.
pub(crate) fn stage_model(decoded: &Decoded, spec: &StageSpec, facts: &Facts) -> Result<Decoded> {
    let proto = &decoded.proto;
    let g = proto.graph.as_ref().expect("decode checked the graph");
    let nodes: Vec<_> = spec.nodes.iter().map(|&i| g.node[i].clone()).collect();
    let used: HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.input.iter().map(|s| s.as_str()))
        .collect();
    let initializer = g
        .initializer
        .iter()
        .filter(|t| used.contains(t.name.as_str()))
        .cloned()
        .collect();
    let graph = GraphProto {
        name: format!("{} (stage)", g.name),
        node: nodes,
        initializer,
        input: spec
            .inputs
            .iter()
            .map(|n| value_info(n, facts))
            .collect::<Result<_>>()?,
        output: spec
            .outputs
            .iter()
            .map(|n| value_info(n, facts))
            .collect::<Result<_>>()?,
        ..Default::default()
    };
    Ok(Decoded {
        proto: ModelProto {
            ir_version: proto.ir_version,
            opset_import: proto.opset_import.clone(),
            graph: Some(graph),
            ..Default::default()
        },
        framework: decoded.framework.clone(),
    })
}
