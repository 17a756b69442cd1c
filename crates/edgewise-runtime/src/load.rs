//! From model bytes to a tract plan, with every failure turned into a named [`Error`].

use std::collections::HashSet;

use edgewise_core::{DType, Dim, Error, Result, ValueInfo};
use tract_onnx::pb::{self, GraphProto, ModelProto, type_proto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::floats::FloatPrecisionTranslator;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::cast::cast;
use tract_onnx::tract_core::transform::ModelTransform;

use crate::convert::dtype_of;

/// A decoded model: the protobuf and the framework that parsed it.
#[derive(Clone)]
pub(crate) struct Decoded {
    pub proto: ModelProto,
    pub framework: tract_onnx::Onnx,
}

/// Decodes the protobuf, checks it looks like an ONNX model, and copies the bytes of
/// initializers stored in external files from `external` (file name, bytes) into it.
pub(crate) fn decode(bytes: &[u8], external: &[(String, Vec<u8>)]) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::InvalidModel("the model is empty (0 bytes)".into()));
    }
    let mut framework = tract_onnx::onnx();
    crate::ops::register(&mut framework);
    edgewise_ops::Registry::standard().install(&mut framework);
    let mut proto = framework.proto_model_for_read(&mut &*bytes).map_err(|e| {
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
    crate::external::attach(&mut proto, external)?;
    crate::ops::contrib::rewrite(&mut proto, &framework)?;
    crate::ops::scalars::rewrite(&mut proto);
    crate::ops::reverse_rnn::rewrite(&mut proto);
    crate::ops::upsample::rewrite(&mut proto);
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

/// A parsed (not yet typed) graph, with the names of its sources in the order of tract's
/// model inputs: typing may rename a source node (tract folds an identity op into it), so the
/// names are read here.
#[derive(Clone)]
pub(crate) struct Parsed {
    pub model: InferenceModel,
    pub sources: Vec<String>,
}

/// Parses the graph. Errors here are final: no choice of shapes changes them.
pub(crate) fn parse(d: &Decoded) -> Result<Parsed> {
    let model = d
        .framework
        .model_for_proto_model(&d.proto)
        .map_err(|e| Error::InvalidModel(format!("{e:#}")))?;
    let sources = model
        .input_outlets()
        .map_err(|e| Error::InvalidModel(e.to_string()))?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    Ok(Parsed { model, sources })
}

/// Types a parsed graph and (optionally) optimizes it. Half-precision work is done in single
/// precision, as onnxruntime's CPU provider does it: inputs and outputs keep their `float16`
/// type, everything between is computed in `float32` (tract's portable f16 kernels are far
/// slower, and less accurate).
pub(crate) fn typed_model(model: InferenceModel, optimize: bool) -> Result<TypedModel> {
    let mut typed = model
        .into_typed()
        .map_err(|e| Error::InvalidModel(format!("typing failed: {e:#}")))?;
    if computes_in_f16(&typed) {
        in_f32(&mut typed)
            .map_err(|e| Error::InvalidModel(format!("float16 to float32: {e:#}")))?;
    }
    crate::quant::guard_dequantize_chains(&mut typed)?;
    let decluttered = typed
        .into_decluttered()
        .and_then(crate::orphans::adopt)
        .and_then(|mut m| crate::gather_early::gather_first(&mut m).map(|()| m))
        .map_err(|e| Error::InvalidModel(format!("decluttering failed: {e:#}")))?;
    if !optimize {
        return Ok(decluttered);
    }
    // The matmuls the optimizer plans pick their kernel from tract-linalg's registry, where
    // the wasm build adds its own GEMM kernel.
    edgewise_kernels::register();
    let mut optimized = decluttered;
    optimized
        .optimize()
        .map_err(|e| Error::InvalidModel(format!("optimization failed: {e:#}")))?;
    crate::channel_chain::fuse(&mut optimized)
        .map_err(|e| Error::InvalidModel(format!("fusing per-channel chains: {e:#}")))?;
    crate::max_pool::replace(&mut optimized)
        .map_err(|e| Error::InvalidModel(format!("replacing max pools: {e:#}")))?;
    crate::round_trip::fuse(&mut optimized)
        .map_err(|e| Error::InvalidModel(format!("fusing quantize-dequantize pairs: {e:#}")))?;
    Ok(optimized)
}

/// Translates half-precision work to single precision, casting the outputs that were
/// `float16` back to it.
fn in_f32(model: &mut TypedModel) -> TractResult<()> {
    let declared: Vec<DatumType> = model
        .output_outlets()?
        .iter()
        .map(|o| Ok(model.outlet_fact(*o)?.datum_type))
        .collect::<TractResult<_>>()?;
    FloatPrecisionTranslator::new(f16::datum_type(), f32::datum_type()).transform(model)?;
    let mut outputs = model.output_outlets()?.to_vec();
    for (ix, (outlet, dt)) in outputs.iter_mut().zip(declared).enumerate() {
        if model.outlet_fact(*outlet)?.datum_type != dt {
            let name = format!("{}.to-f16-{ix}", model.node(outlet.node).name);
            *outlet = model.wire_node(name, cast(dt), &[*outlet])?[0];
        }
    }
    let labels: Vec<Option<String>> = model
        .output_outlets()?
        .iter()
        .map(|o| model.outlet_label(*o).map(String::from))
        .collect();
    model.select_output_outlets(&outputs)?;
    for (outlet, label) in outputs.iter().zip(labels) {
        if let Some(label) = label {
            model.set_outlet_label(*outlet, label)?;
        }
    }
    Ok(())
}

/// Whether any value of the model is a half-precision float.
fn computes_in_f16(model: &TypedModel) -> bool {
    model.nodes().iter().any(|n| {
        n.outputs
            .iter()
            .any(|o| o.fact.datum_type == f16::datum_type())
    })
}

/// Pins symbolic input dims by name (onnxruntime's `freeDimensionOverrides`): every
/// `dim_param` of that name in the graph's inputs, outputs and value infos becomes a fixed
/// size. A name that no input uses is an error naming the ones it has.
pub(crate) fn override_dims(proto: &mut ModelProto, overrides: &[(String, usize)]) -> Result<()> {
    use pb::tensor_shape_proto::dimension::Value;
    if overrides.is_empty() {
        return Ok(());
    }
    let Some(g) = proto.graph.as_mut() else {
        return Ok(());
    };
    fn dims_of(v: &mut pb::ValueInfoProto) -> Vec<&mut Option<Value>> {
        match v.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            Some(type_proto::Value::TensorType(t)) => t
                .shape
                .as_mut()
                .map(|s| s.dim.iter_mut().map(|d| &mut d.value).collect())
                .unwrap_or_default(),
            _ => vec![],
        }
    }
    let mut named: Vec<String> = Vec::new();
    for input in g.input.iter_mut() {
        for d in dims_of(input) {
            if let Some(Value::DimParam(p)) = d
                && !named.contains(p)
            {
                named.push(p.clone());
            }
        }
    }
    for (name, _) in overrides {
        if !named.contains(name) {
            let known = if named.is_empty() {
                "the inputs have no named dims".to_string()
            } else {
                format!("the inputs' named dims are: {}", named.join(", "))
            };
            return Err(Error::InvalidArgument(format!(
                "freeDimensionOverrides: no input has a dimension named '{name}'; {known}"
            )));
        }
    }
    for v in g
        .input
        .iter_mut()
        .chain(g.output.iter_mut())
        .chain(g.value_info.iter_mut())
    {
        for d in dims_of(v) {
            if let Some(Value::DimParam(p)) = d
                && let Some((_, n)) = overrides.iter().find(|(name, _)| name == p)
            {
                *d = Some(Value::DimValue(*n as i64));
            }
        }
    }
    Ok(())
}
