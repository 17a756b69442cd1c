//! Upsample, the ONNX operator of opsets 7 to 9, run as the `Resize` it became in opset 10.
//!
//! Exports made before opset 10 (detectors of the YOLOv3 era, super-resolution and
//! segmentation nets) scale their feature maps with `Upsample`, which tract does not know.
//! Its definition is opset 10's `Resize`: output coordinate `x` reads input coordinate
//! `x / scale` (asymmetric), `nearest` taking the floor of it, `linear` interpolating between
//! its neighbours. Opset 7 gives the scales as an attribute: [`rewrite`] turns that into a
//! constant input first, so that the operator always reads them from its second input.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;

/// Gives every `Upsample` of the main graph that has a `scales` attribute (opset 7) a
/// constant second input holding them instead.
pub(crate) fn rewrite(proto: &mut ModelProto) {
    let Some(graph) = proto.graph.as_mut() else {
        return;
    };
    let mut nodes = Vec::with_capacity(graph.node.len());
    for mut node in std::mem::take(&mut graph.node) {
        let scales = node
            .attribute
            .iter()
            .position(|a| a.name == "scales")
            .filter(|_| node.op_type == "Upsample" && node.domain.is_empty());
        if let Some(ix) = scales {
            let attr = node.attribute.remove(ix);
            let name = format!(
                "{}.scales",
                node.output.first().cloned().unwrap_or_default()
            );
            nodes.push(NodeProto {
                name: name.clone(),
                op_type: "Constant".into(),
                output: vec![name.clone()],
                attribute: vec![AttributeProto {
                    name: "value".into(),
                    r#type: AttributeType::Tensor as i32,
                    t: Some(TensorProto {
                        dims: vec![attr.floats.len() as i64],
                        data_type: DataType::Float as i32,
                        float_data: attr.floats,
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            });
            node.input.truncate(1);
            node.input.push(name);
        }
        nodes.push(node);
    }
    graph.node = nodes;
}

/// Parses `Upsample` as tract parses opset 10's `Resize`, with `Upsample`'s rounding.
pub(crate) fn parse(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let resize = *ctx
        .framework
        .op_register
        .0
        .get("Resize")
        .context("Upsample runs as Resize, which is not registered")?;
    let mode = node.get_attr_opt::<&str>("mode")?.unwrap_or("nearest");
    ensure!(
        matches!(mode, "nearest" | "linear"),
        "Upsample node '{}': mode '{mode}' is not one of nearest, linear",
        node.name
    );
    ensure!(
        node.input.len() == 2,
        "Upsample node '{}' takes its input and its scales, {} inputs given",
        node.name,
        node.input.len()
    );
    let mut as_resize = node.clone();
    as_resize.op_type = "Resize".into();
    as_resize.attribute = vec![
        string_attr("mode", mode),
        string_attr("nearest_mode", "floor"),
    ];
    let mut opset_10 = ctx.clone();
    opset_10.onnx_operator_set_version = 10;
    resize(&opset_10, &as_resize)
}

fn string_attr(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use edgewise_core::{DType, Dim};
    use edgewise_onnx::{Attr, GraphBuilder, tensor_f32};

    use crate::{Session, SessionOptions, Tensor};

    /// `x` float32[1,1,2,2] = [[1,2],[3,4]] upsampled by [1,1,2,3] at `opset`, the scales an
    /// attribute (opset 7) or an input (opset 9).
    fn upsample(opset: i64, mode: &str) -> Tensor {
        let mut g = GraphBuilder::new("upsample", opset);
        g.input("x", DType::F32, &[1, 1, 2, 2].map(Dim::Fixed));
        let scales = [1.0, 1.0, 2.0, 3.0];
        let mut attrs = vec![("mode", Attr::Str(mode.into()))];
        if opset < 9 {
            attrs.push(("scales", Attr::Floats(scales.to_vec())));
            g.node("Upsample", &["x"], "y", attrs);
        } else {
            g.initializer(tensor_f32("scales", &[4], &scales));
            g.node("Upsample", &["x", "scales"], "y", attrs);
        }
        g.output_unshaped("y", DType::F32);
        let mut s = Session::new(&g.to_bytes(), &SessionOptions::default()).unwrap();
        let x = Tensor::f32(vec![1.0, 2.0, 3.0, 4.0], vec![1, 1, 2, 2]).unwrap();
        s.run(vec![("x".into(), x)]).unwrap().remove(0).1
    }

    /// Nearest: each input value repeated 2 × 3 times (the floor of `x / scale`).
    const NEAREST: [f32; 24] = [
        1., 1., 1., 2., 2., 2., //
        1., 1., 1., 2., 2., 2., //
        3., 3., 3., 4., 4., 4., //
        3., 3., 3., 4., 4., 4.,
    ];

    #[test]
    fn nearest_repeats_each_value_with_scales_as_input_or_attribute() {
        for opset in [7, 9] {
            let y = upsample(opset, "nearest");
            assert_eq!(y.dims(), &[1, 1, 4, 6], "opset {opset}");
            assert_eq!(y.as_f32().unwrap(), &NEAREST[..], "opset {opset}");
        }
    }

    #[test]
    fn linear_interpolates_at_x_over_scale_clamped_at_the_edge() {
        let y = upsample(9, "linear");
        // Rows read input rows 0, 0.5, 1, 1.5 (clamped to 1); columns 0, 1/3, 2/3, 1, 4/3, 5/3.
        let at = |r: f32, c: f32| {
            let (r, c) = (r.min(1.0), c.min(1.0));
            let top = 1.0 + c;
            let bottom = 3.0 + c;
            top + (bottom - top) * r
        };
        let want: Vec<f32> = (0..4)
            .flat_map(|i| (0..6).map(move |j| at(i as f32 / 2.0, j as f32 / 3.0)))
            .collect();
        for (g, w) in y.as_f32().unwrap().iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "got {g}, want {w}");
        }
    }
}
