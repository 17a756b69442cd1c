//! Writes a [`Quantized`] model: the float graph with each weight stored as int8 behind a
//! per-channel `DequantizeLinear`, and each weight layer's input passed through
//! `ai.edgewise::BorderRound` (its scale, integer range and learned borders). The runtime then
//! computes exactly what the integer deployment would, and the burn evaluation of
//! [`super::learn`] computes the same.

use anyhow::{Result, bail};
use edgewise_core::DType;
use edgewise_onnx::pb::{
    ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
};
use edgewise_onnx::{Attr, attribute, tensor_f32};
use prost::Message;

use super::graph::Graph;
use super::learn::Quantized;
use crate::emit::EDGEWISE;

/// The metadata key holding the quantization's method and bit widths.
pub const QUANT_METADATA_KEY: &str = "edgewise.quant";

fn node(
    domain: &str,
    op: &str,
    inputs: &[&str],
    output: &str,
    attrs: Vec<(&str, Attr)>,
) -> NodeProto {
    NodeProto {
        name: output.to_string(),
        op_type: op.into(),
        domain: domain.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attrs.into_iter().map(|(k, v)| attribute(k, v)).collect(),
        ..Default::default()
    }
}

/// The quantized model's bytes, with `system` and `metadata` replacing or adding entries of
/// the float model's metadata.
pub fn write(graph: &Graph, q: &Quantized, metadata: &[(&str, String)]) -> Result<Vec<u8>> {
    if q.bits.weights > 8 {
        bail!("weights of {} bits do not fit int8", q.bits.weights);
    }
    let mut model = graph.model.clone();
    let Some(g) = model.graph.as_mut() else {
        bail!("the model has no graph");
    };
    let mut dequant = vec![];
    let mut rounds: Vec<(usize, NodeProto)> = vec![];
    for (k, layer) in graph.layers.iter().enumerate() {
        g.initializer.retain(|t| t.name != layer.weight);
        let w = &layer.weight;
        let (qname, sname, zname) = (
            format!("{w}.int"),
            format!("{w}.scale"),
            format!("{w}.zero"),
        );
        let c = layer.out_channels();
        g.initializer.push(TensorProto {
            name: qname.clone(),
            dims: layer.dims.iter().map(|&d| d as i64).collect(),
            data_type: DType::I8.onnx_code(),
            raw_data: q.ints[k].iter().map(|&i| i as i8 as u8).collect(),
            ..Default::default()
        });
        g.initializer
            .push(tensor_f32(&sname, &[c], &q.weights[k].scale));
        g.initializer.push(TensorProto {
            name: zname.clone(),
            dims: vec![c as i64],
            data_type: DType::I8.onnx_code(),
            raw_data: vec![0; c],
            ..Default::default()
        });
        dequant.push(node(
            "",
            "DequantizeLinear",
            &[&qname, &sname, &zname],
            w,
            vec![("axis", Attr::Int(layer.out_axis as i64))],
        ));
        let a = q.acts[k];
        let x = g.node[layer.node].input[0].clone();
        let (xs, xb, xq) = (
            format!("{}.act_scale", layer.name),
            format!("{}.border", layer.name),
            format!("{}.input_q", layer.name),
        );
        g.initializer.push(tensor_f32(&xs, &[1], &[a.scale]));
        g.initializer
            .push(tensor_f32(&xb, &[q.borders[k].len()], &q.borders[k]));
        rounds.push((
            layer.node,
            node(
                EDGEWISE,
                "BorderRound",
                &[&x, &xs, &xb],
                &xq,
                vec![
                    ("axis", Attr::Int(1)),
                    ("qmin", Attr::Int(a.qmin as i64)),
                    ("qmax", Attr::Int(a.qmax as i64)),
                ],
            ),
        ));
        g.node[layer.node].input[0] = xq;
    }
    // Dequantizations first, then each rounding right before its layer.
    let mut nodes = dequant;
    for (i, n) in g.node.drain(..).enumerate() {
        while let Some(pos) = rounds.iter().position(|(at, _)| *at == i) {
            nodes.push(rounds.remove(pos).1);
        }
        nodes.push(n);
    }
    g.node = nodes;
    if !model.opset_import.iter().any(|o| o.domain == EDGEWISE) {
        model.opset_import.push(OperatorSetIdProto {
            domain: EDGEWISE.into(),
            version: 1,
        });
    }
    let quant = serde_json::json!({
        "method": q.method.id(),
        "weights": q.bits.weights,
        "activations": q.bits.activations,
    });
    set_metadata(&mut model, &[(QUANT_METADATA_KEY, quant.to_string())]);
    set_metadata(&mut model, metadata);
    Ok(model.encode_to_vec())
}

/// Replaces or adds the metadata `entries` of `model`.
pub fn set_metadata(model: &mut ModelProto, entries: &[(&str, String)]) {
    for (k, v) in entries {
        model.metadata_props.retain(|p| p.key != *k);
        model.metadata_props.push(StringStringEntryProto {
            key: k.to_string(),
            value: v.clone(),
        });
    }
}
