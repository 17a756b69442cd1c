//! From model bytes to a tract plan, with every failure turned into a named [`Error`].

use std::collections::HashSet;

use edgewise_core::{DType, Dim, Error, Result, ValueInfo};
use tract_onnx::pb::{self, GraphProto, ModelProto, type_proto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;

use crate::convert::dtype_of;

/// A decoded model: the protobuf and the framework that parsed it.
pub(crate) struct Decoded {
    pub proto: ModelProto,
    pub framework: tract_onnx::Onnx,
}

/// Decodes the protobuf and checks it looks like an ONNX model.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::InvalidModel("the model is empty (0 bytes)".into()));
    }
    let mut framework = tract_onnx::onnx();
    crate::kernels::register(&mut framework);
    edgewise_ops::Registry::standard().install(&mut framework);
    let proto = framework.proto_model_for_read(&mut &*bytes).map_err(|e| {
        Error::InvalidModel(format!(
            "not an ONNX protobuf ({} bytes): {e:#}",
            bytes.len()
        ))
    })?;
    let Some(graph) = proto.graph.as_ref() else {
        return Err(Error::InvalidModel(format!(
            "no graph in the protobuf ({} bytes); is this an ONNX file?",
            bytes.len()
        )));
    };
    if proto.ir_version == 0 || graph.output.is_empty() {
        return Err(Error::InvalidModel(format!(
            "the protobuf ({} bytes) is not a complete ONNX model (ir_version {}, {} graph outputs); \
             the file may be truncated",
            bytes.len(),
            proto.ir_version,
            graph.output.len()
        )));
    }
    Ok(Decoded { proto, framework })
}

/// Names every node (in the graph and its sub-graphs) whose operator cannot run: unknown to
/// tract, unknown in the `ai.edgewise` domain, or an edgewise name used in another domain
/// (tract matches by name only, so such a node would silently run the edgewise operator).
pub(crate) fn check_operators(d: &Decoded) -> Result<()> {
    let mut missing = Vec::new();
    let registry = edgewise_ops::Registry::standard();
    if let Some(g) = &d.proto.graph {
        collect_unknown(g, &d.framework, &registry, &mut missing);
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::UnsupportedOperator { ops: missing })
    }
}

fn collect_unknown(
    g: &GraphProto,
    onnx: &tract_onnx::Onnx,
    registry: &edgewise_ops::Registry,
    out: &mut Vec<String>,
) {
    for node in &g.node {
        let edgewise_domain = node.domain == edgewise_ops::DOMAIN;
        let known = if edgewise_domain {
            registry.contains(&node.op_type)
        } else {
            onnx.op_register.0.contains_key(&node.op_type) && !registry.contains(&node.op_type)
        };
        if !known {
            let domain = if node.domain.is_empty() {
                String::new()
            } else {
                format!("{}.", node.domain)
            };
            out.push(format!("{domain}{} (node '{}')", node.op_type, node.name));
        }
        for attr in &node.attribute {
            attr.g
                .iter()
                .chain(attr.graphs.iter())
                .for_each(|sub| collect_unknown(sub, onnx, registry, out));
        }
    }
}

fn value_info(v: &pb::ValueInfoProto) -> ValueInfo {
    let tensor = v
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .map(|value| {
            let type_proto::Value::TensorType(t) = value;
            t
        });
    let dtype = tensor.and_then(|t| DType::from_onnx(t.elem_type));
    let shape = tensor.and_then(|t| t.shape.as_ref()).map(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) if *n >= 0 => {
                    Dim::Fixed(*n as usize)
                }
                Some(pb::tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => {
                    Dim::Symbolic(p.clone())
                }
                _ => Dim::Symbolic("?".into()),
            })
            .collect()
    });
    ValueInfo {
        name: v.name.clone(),
        dtype,
        shape,
    }
}

/// The graph's real inputs (initializers listed as inputs by old exporters are left out) and
/// its outputs, as the model declares them.
pub(crate) fn signature(proto: &ModelProto) -> (Vec<ValueInfo>, Vec<ValueInfo>) {
    let Some(g) = proto.graph.as_ref() else {
        return (vec![], vec![]);
    };
    let initializers: HashSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = g
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .map(value_info);
    (inputs.collect(), g.output.iter().map(value_info).collect())
}

/// Fills gaps in the declared output types from what tract inferred.
pub(crate) fn complete_outputs(outputs: &mut [ValueInfo], model: &TypedModel) {
    for (info, outlet) in outputs
        .iter_mut()
        .zip(model.output_outlets().unwrap_or(&[]))
    {
        if let Ok(fact) = model.outlet_fact(*outlet) {
            if info.dtype.is_none() {
                info.dtype = dtype_of(fact.datum_type);
            }
            if info.shape.is_none() {
                info.shape = Some(
                    fact.shape
                        .iter()
                        .map(|d| match d.to_usize() {
                            Ok(n) => Dim::Fixed(n),
                            Err(_) => Dim::Symbolic(d.to_string()),
                        })
                        .collect(),
                );
            }
        }
    }
}

/// Parses, types and (optionally) optimizes the graph into a typed model. Also returns the
/// names of the graph's sources in the order of the typed model's inputs: typing may rename a
/// source node (tract folds an identity op into it), so the names are read before.
pub(crate) fn typed_model(d: &Decoded, optimize: bool) -> Result<(TypedModel, Vec<String>)> {
    let inference = d
        .framework
        .model_for_proto_model(&d.proto)
        .map_err(|e| Error::InvalidModel(format!("{e:#}")))?;
    let sources = inference
        .input_outlets()
        .map_err(|e| Error::InvalidModel(e.to_string()))?
        .iter()
        .map(|o| inference.node(o.node).name.clone())
        .collect();
    let typed = inference
        .into_typed()
        .map_err(|e| Error::InvalidModel(format!("typing failed: {e:#}")))?;
    let model = if optimize {
        typed
            .into_optimized()
            .map_err(|e| Error::InvalidModel(format!("optimization failed: {e:#}")))?
    } else {
        typed
            .into_decluttered()
            .map_err(|e| Error::InvalidModel(format!("decluttering failed: {e:#}")))?
    };
    Ok((model, sources))
}
