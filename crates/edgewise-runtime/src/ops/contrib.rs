//! onnxruntime's quantized contrib operators (domain `com.microsoft`), rewritten into standard
//! ONNX before tract parses the model.
//!
//! int8 exports made with onnxruntime's quantizer use these: `DynamicQuantizeLSTM` (dynamic
//! quantization of recurrent nets) and the `QLinear*` family (static quantization of the ops
//! ONNX has no quantized form of). Each node becomes the standard graph it stands for:
//!
//! - `QLinearAdd`, `QLinearMul`, `QLinearSigmoid`, `QLinearLeakyRelu`, `QLinearSoftmax`,
//!   `QLinearGlobalAveragePool`, `QLinearAveragePool`, `QLinearConcat`: each quantized input
//!   through `DequantizeLinear`, the float operator, then `QuantizeLinear` to the output's
//!   scale and zero point. This is the operator's definition; tract may fold the chain back
//!   into integer arithmetic where it can.
//! - `DynamicQuantizeLSTM`: its int8 weights, stored transposed (`[directions, input,
//!   4·hidden]`) with per-tensor or per-gate-row scales and zero points, dequantized once into
//!   the standard `LSTM`'s float `W` and `R`. onnxruntime also quantizes the activations at
//!   each step, which this does not: results differ from onnxruntime's by that rounding.

use edgewise_core::{Error, Result};
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, TensorProto};

/// The contrib domain.
const MS: &str = "com.microsoft";

/// Rewrites every contrib node of the main graph that this module knows.
pub(crate) fn rewrite(proto: &mut ModelProto, onnx: &tract_onnx::Onnx) -> Result<()> {
    let Some(graph) = proto.graph.as_mut() else {
        return Ok(());
    };
    if !graph.node.iter().any(|n| n.domain == MS) {
        return Ok(());
    }
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut fresh = Fresh::default();
    for node in std::mem::take(&mut graph.node) {
        if node.domain != MS {
            nodes.push(node);
            continue;
        }
        let rewritten = match node.op_type.as_str() {
            "DynamicQuantizeLSTM" => lstm(&node, graph, onnx, &mut fresh),
            op => match qlinear_spec(op) {
                Some(spec) => qlinear(&node, &spec, &mut fresh),
                None => Ok(vec![node.clone()]),
            },
        }
        .map_err(|e| Error::InvalidModel(format!("{} node '{}': {e}", node.op_type, node.name)))?;
        nodes.extend(rewritten);
    }
    graph.node = nodes;
    Ok(())
}

/// Names for the values and nodes a rewrite adds.
#[derive(Default)]
struct Fresh(usize);

impl Fresh {
    fn name(&mut self, base: &str, what: &str) -> String {
        self.0 += 1;
        format!("{base}.{what}.{}", self.0)
    }
}

fn make_node(op: &str, name: String, inputs: Vec<String>, outputs: Vec<String>) -> NodeProto {
    NodeProto {
        name,
        op_type: op.into(),
        input: inputs,
        output: outputs,
        ..Default::default()
    }
}

/// How a `QLinear*` operator maps onto its float form.
struct QSpec {
    /// The float operator.
    op: &'static str,
    /// The operator's inputs as (value, scale, zero point) triples, by input index; `None`
    /// for variadic `QLinearConcat`, whose triples follow the output's scale and zero point.
    triples: Option<&'static [[usize; 3]]>,
    /// Input indices of the output's scale and zero point.
    output: [usize; 2],
    /// Attributes that stay as they are; others (onnxruntime's `channels_last`, `opset`)
    /// must have their default value.
    keep: &'static [&'static str],
}

fn qlinear_spec(op: &str) -> Option<QSpec> {
    const BINARY: &[[usize; 3]] = &[[0, 1, 2], [3, 4, 5]];
    const UNARY: &[[usize; 3]] = &[[0, 1, 2]];
    Some(match op {
        "QLinearAdd" => QSpec {
            op: "Add",
            triples: Some(BINARY),
            output: [6, 7],
            keep: &[],
        },
        "QLinearMul" => QSpec {
            op: "Mul",
            triples: Some(BINARY),
            output: [6, 7],
            keep: &[],
        },
        "QLinearSigmoid" => QSpec {
            op: "Sigmoid",
            triples: Some(UNARY),
            output: [3, 4],
            keep: &[],
        },
        "QLinearLeakyRelu" => QSpec {
            op: "LeakyRelu",
            triples: Some(UNARY),
            output: [3, 4],
            keep: &["alpha"],
        },
        "QLinearSoftmax" => QSpec {
            op: "Softmax",
            triples: Some(UNARY),
            output: [3, 4],
            keep: &["axis", "opset"],
        },
        "QLinearGlobalAveragePool" => QSpec {
            op: "GlobalAveragePool",
            triples: Some(UNARY),
            output: [3, 4],
            keep: &[],
        },
        "QLinearAveragePool" => QSpec {
            op: "AveragePool",
            triples: Some(UNARY),
            output: [3, 4],
            keep: &[
                "auto_pad",
                "ceil_mode",
                "count_include_pad",
                "kernel_shape",
                "pads",
                "strides",
            ],
        },
        "QLinearConcat" => QSpec {
            op: "Concat",
            triples: None,
            output: [0, 1],
            keep: &["axis"],
        },
        _ => return None,
    })
}

fn input(node: &NodeProto, i: usize) -> std::result::Result<String, String> {
    node.input
        .get(i)
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| format!("input {i} is missing"))
}

fn qlinear(
    node: &NodeProto,
    spec: &QSpec,
    fresh: &mut Fresh,
) -> std::result::Result<Vec<NodeProto>, String> {
    let mut attrs = Vec::new();
    for a in &node.attribute {
        let default = match a.name.as_str() {
            "channels_last" => a.i == 0,
            _ => false,
        };
        if spec.keep.contains(&a.name.as_str()) {
            // `QLinearSoftmax` records the opset its `axis` follows; Softmax here reads it
            // with the model's own opset, so only the semantics since opset 13 are kept.
            if a.name == "opset" {
                if a.i < 13 {
                    return Err(format!("opset {} softmax semantics are not supported", a.i));
                }
                continue;
            }
            attrs.push(a.clone());
        } else if !default {
            return Err(format!("attribute '{}' is not supported", a.name));
        }
    }
    let triples: Vec<[usize; 3]> = match spec.triples {
        Some(t) => t.to_vec(),
        None => (2..node.input.len())
            .step_by(3)
            .map(|i| [i, i + 1, i + 2])
            .collect(),
    };
    let base = &node.name;
    let mut out = Vec::new();
    let mut floats = Vec::new();
    for [x, scale, zp] in triples {
        let f = fresh.name(base, "dequantized");
        let mut inputs = vec![input(node, x)?, input(node, scale)?];
        if let Ok(z) = input(node, zp) {
            inputs.push(z);
        }
        let dq = fresh.name(base, "dq");
        out.push(make_node("DequantizeLinear", dq, inputs, vec![f.clone()]));
        floats.push(f);
    }
    let y = node.output.first().ok_or("no output")?.clone();
    let float_y = fresh.name(base, "float");
    let mut op = make_node(
        spec.op,
        fresh.name(base, spec.op),
        floats,
        vec![float_y.clone()],
    );
    op.attribute = attrs;
    out.push(op);
    let mut q_inputs = vec![float_y, input(node, spec.output[0])?];
    if let Ok(z) = input(node, spec.output[1]) {
        q_inputs.push(z);
    }
    let q = fresh.name(base, "q");
    out.push(make_node("QuantizeLinear", q, q_inputs, vec![y]));
    Ok(out)
}

/// An initializer's values as `f32`, by name.
fn constant(
    graph: &GraphProto,
    onnx: &tract_onnx::Onnx,
    name: &str,
) -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
    let t = graph
        .initializer
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| format!("'{name}' must be an initializer"))?;
    let tensor = tract_onnx::tensor::load_tensor(&*onnx.provider, t, None)
        .map_err(|e| format!("'{name}': {e:#}"))?;
    let shape = tensor.shape().to_vec();
    let values = tensor
        .cast_to::<f32>()
        .map_err(|e| format!("'{name}': {e:#}"))?
        .to_plain_array_view::<f32>()
        .map_err(|e| format!("'{name}': {e:#}"))?
        .iter()
        .copied()
        .collect();
    Ok((shape, values))
}

/// Dequantizes `[directions, k, 4·hidden]` int8 weights into the standard `[directions,
/// 4·hidden, k]` float layout, with one scale and zero point per tensor, per direction or
/// per gate row.
fn dequantize_gates(
    (shape, q): (Vec<usize>, Vec<f32>),
    (_, scale): (Vec<usize>, Vec<f32>),
    zero_point: Option<(Vec<usize>, Vec<f32>)>,
    what: &str,
) -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
    let [dirs, k, rows] = shape[..] else {
        return Err(format!("{what} has rank {}, expected 3", shape.len()));
    };
    let zero_point = zero_point.map(|z| z.1).unwrap_or_else(|| vec![0.0]);
    let per = |v: &[f32], d: usize, r: usize| -> std::result::Result<f32, String> {
        match v.len() {
            1 => Ok(v[0]),
            n if n == dirs => Ok(v[d]),
            n if n == dirs * rows => Ok(v[d * rows + r]),
            n => Err(format!(
                "{what}: {n} scales or zero points for {dirs}×{rows} rows"
            )),
        }
    };
    let mut out = vec![0.0; q.len()];
    for d in 0..dirs {
        for r in 0..rows {
            let (s, z) = (per(&scale, d, r)?, per(&zero_point, d, r)?);
            for i in 0..k {
                out[(d * rows + r) * k + i] = (q[(d * k + i) * rows + r] - z) * s;
            }
        }
    }
    Ok((vec![dirs, rows, k], out))
}

fn lstm(
    node: &NodeProto,
    graph: &mut GraphProto,
    onnx: &tract_onnx::Onnx,
    fresh: &mut Fresh,
) -> std::result::Result<Vec<NodeProto>, String> {
    let opt = |i: usize| node.input.get(i).filter(|n| !n.is_empty()).cloned();
    let c = |name: String| constant(graph, onnx, &name);
    let w = dequantize_gates(
        c(input(node, 1)?)?,
        c(input(node, 8)?)?,
        opt(9).map(c).transpose()?,
        "W",
    )?;
    let r = dequantize_gates(
        c(input(node, 2)?)?,
        c(input(node, 10)?)?,
        opt(11).map(c).transpose()?,
        "R",
    )?;
    let mut names = Vec::new();
    for (what, (shape, values)) in [("W", w), ("R", r)] {
        let name = fresh.name(&node.name, what);
        graph.initializer.push(TensorProto {
            name: name.clone(),
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: 1,
            float_data: values,
            ..Default::default()
        });
        names.push(name);
    }
    let mut inputs = vec![input(node, 0)?, names[0].clone(), names[1].clone()];
    inputs.extend((3..8).map(|i| opt(i).unwrap_or_default()));
    while inputs.last().is_some_and(String::is_empty) {
        inputs.pop();
    }
    let mut out = node.clone();
    out.domain = String::new();
    out.op_type = "LSTM".into();
    out.input = inputs;
    if let Some(a) = node
        .attribute
        .iter()
        .find(|a| a.name == "layout" && a.i != 0)
    {
        return Err(format!("layout {} is not supported", a.i));
    }
    Ok(vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_weights_are_dequantized_and_transposed_per_row() {
        // One direction, k = 2 inputs, 3 gate rows, stored [direction, input, row].
        let q = (vec![1, 2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let scale = (vec![1, 3], vec![0.5, 1.0, 2.0]);
        let zero_point = Some((vec![1, 3], vec![0.0, 1.0, 0.0]));
        let (shape, w) = dequantize_gates(q, scale, zero_point, "W").unwrap();
        assert_eq!(shape, [1, 3, 2]);
        // w[row, input] = (q[input, row] - zero_point[row]) * scale[row]
        assert_eq!(w, [0.5, 2.0, 1.0, 4.0, 6.0, 12.0]);
    }

    #[test]
    fn one_scale_serves_every_row_and_a_wrong_count_is_named() {
        let q = || (vec![1, 1, 2], vec![3.0, -4.0]);
        let (_, w) = dequantize_gates(q(), (vec![], vec![0.25]), None, "R").unwrap();
        assert_eq!(w, [0.75, -1.0]);
        let err = dequantize_gates(q(), (vec![3], vec![1.0; 3]), None, "R").unwrap_err();
        assert!(err.contains("R: 3 scales"), "{err}");
    }
}
