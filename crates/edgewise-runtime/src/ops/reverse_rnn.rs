//! Recurrent layers run backwards (`LSTM`, `GRU`, `RNN` with `direction = reverse`) as the
//! forward layer on the time-reversed sequence, with its output `Y` reversed back.
//!
//! tract's own reverse direction gives wrong results (ONNX's `test_lstm_reverse`,
//! `test_gru_reverse` and `test_simple_rnn_reverse` cases; its bidirectional layers are
//! right). The rewrite keeps the weights and states as they are: a single reverse direction
//! uses the same parameter layout as a single forward one. Layers with `sequence_lens` (where
//! each sequence reverses within its own length) are left alone.

use tract_onnx::pb::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};

const RECURRENT: [&str; 3] = ["LSTM", "GRU", "RNN"];

fn tensor_i64(name: &str, v: i64) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![1],
        data_type: 7,
        int64_data: vec![v],
        ..Default::default()
    }
}

/// `input` reversed along axis 0 (time, in the default layout), as `output`.
fn reversed(name: String, input: &str, output: &str) -> NodeProto {
    NodeProto {
        name,
        op_type: "Slice".into(),
        input: [input, STARTS, ENDS, AXES, STEPS]
            .map(String::from)
            .to_vec(),
        output: vec![output.into()],
        ..Default::default()
    }
}

const STARTS: &str = "edgewise.reverse.starts";
const ENDS: &str = "edgewise.reverse.ends";
const AXES: &str = "edgewise.reverse.axes";
const STEPS: &str = "edgewise.reverse.steps";

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// Rewrites the main graph's reverse recurrent layers.
pub(crate) fn rewrite(proto: &mut ModelProto) {
    let Some(graph) = proto.graph.as_mut() else {
        return;
    };
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut used = false;
    for mut node in std::mem::take(&mut graph.node) {
        let reverse = RECURRENT.contains(&node.op_type.as_str())
            && node.domain.is_empty()
            && attr(&node, "direction").is_some_and(|a| a.s == b"reverse")
            && attr(&node, "layout").is_none_or(|a| a.i == 0)
            && node.input.get(4).is_none_or(|s| s.is_empty());
        if !reverse {
            nodes.push(node);
            continue;
        }
        used = true;
        let x = node.input[0].clone();
        let x_rev = format!("{x}.reversed.{}", node.name);
        nodes.push(reversed(format!("{}.reverse_input", node.name), &x, &x_rev));
        node.input[0] = x_rev;
        for a in node.attribute.iter_mut().filter(|a| a.name == "direction") {
            a.s = b"forward".to_vec();
        }
        let y = node.output.first().filter(|y| !y.is_empty()).cloned();
        if let Some(y) = &y {
            node.output[0] = format!("{y}.reversed.{}", node.name);
        }
        let name = node.name.clone();
        let y_rev = node.output.first().cloned();
        nodes.push(node);
        if let (Some(y), Some(y_rev)) = (y, y_rev) {
            nodes.push(reversed(format!("{name}.reverse_output"), &y_rev, &y));
        }
    }
    graph.node = nodes;
    if used {
        add_constants(graph);
    }
}

fn add_constants(graph: &mut GraphProto) {
    graph.initializer.extend([
        tensor_i64(STARTS, -1),
        tensor_i64(ENDS, i64::MIN),
        tensor_i64(AXES, 0),
        tensor_i64(STEPS, -1),
    ]);
}
