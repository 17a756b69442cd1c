//! One-element tensors where ONNX asks for a scalar.
//!
//! Exporters (and ONNX's own function bodies, such as Attention's and AffineGrid's) feed
//! `Range` and a constant `Pad`'s value as tensors of shape `[1]`; onnxruntime takes them, tract
//! wants rank 0. Each such input gets a `Reshape` to `[]` in front of it before parsing: a
//! no-op on a scalar, the scalar itself from a one-element tensor, an error naming the node
//! for anything larger.

use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, TensorProto};

/// The scalar inputs of the operators concerned: (op type, input positions).
const SCALAR_INPUTS: [(&str, &[usize]); 2] = [("Range", &[0, 1, 2]), ("Pad", &[2])];

/// Inserts the reshapes in the main graph.
pub(crate) fn rewrite(proto: &mut ModelProto) {
    let Some(graph) = proto.graph.as_mut() else {
        return;
    };
    let scalar_initializers: Vec<String> = graph
        .initializer
        .iter()
        .filter(|t| t.dims.is_empty())
        .map(|t| t.name.clone())
        .collect();
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut shape_added = false;
    for mut node in std::mem::take(&mut graph.node) {
        let positions = SCALAR_INPUTS
            .iter()
            .find(|(op, _)| node.op_type == *op && node.domain.is_empty())
            .map(|(_, p)| *p)
            .unwrap_or(&[]);
        for &i in positions {
            let Some(input) = node.input.get(i).filter(|n| !n.is_empty()).cloned() else {
                continue;
            };
            if scalar_initializers.contains(&input) {
                continue;
            }
            let scalar = format!("{input}.scalar.{}.{i}", node.name);
            nodes.push(NodeProto {
                name: scalar.clone(),
                op_type: "Reshape".into(),
                input: vec![input, SHAPE.into()],
                output: vec![scalar.clone()],
                ..Default::default()
            });
            node.input[i] = scalar;
            shape_added = true;
        }
        nodes.push(node);
    }
    graph.node = nodes;
    if shape_added {
        add_empty_shape(graph);
    }
}

/// The name of the empty shape the reshapes use.
const SHAPE: &str = "edgewise.scalar_shape";

fn add_empty_shape(graph: &mut GraphProto) {
    graph.initializer.push(TensorProto {
        name: SHAPE.into(),
        dims: vec![0],
        data_type: 7,
        ..Default::default()
    });
}
