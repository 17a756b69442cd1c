//! Sessions on models with known behaviour: metadata, numerics, element types, dynamic batch.

use edgewise_onnx::fixtures;
use edgewise_runtime::{DType, Dim, Session, SessionOptions, Tensor, TensorData};

fn session(bytes: &[u8]) -> Session {
    Session::new(bytes, &SessionOptions::default()).expect("model loads")
}

/// relu(x·W + b), written out by hand.
fn mlp_reference(x: &[f32], batch: usize) -> Vec<f32> {
    let mut y = vec![0.0; batch * 3];
    for r in 0..batch {
        for c in 0..3 {
            let mut acc = fixtures::MLP_B[c];
            for k in 0..4 {
                acc += x[r * 4 + k] * fixtures::MLP_W[k * 3 + c];
            }
            y[r * 3 + c] = acc.max(0.0);
        }
    }
    y
}

#[test]
fn metadata_describes_inputs_and_outputs_with_symbolic_dims() {
    let s = session(&fixtures::mlp());
    assert_eq!(s.inputs().len(), 1, "initializers are not inputs");
    let x = &s.inputs()[0];
    assert_eq!(x.name, "x");
    assert_eq!(x.dtype, Some(DType::F32));
    assert_eq!(
        x.shape,
        Some(vec![Dim::Symbolic("batch".into()), Dim::Fixed(4)])
    );
    assert_eq!(s.outputs()[0].name, "y");
    assert_eq!(s.outputs()[0].signature(), "float32[batch,3]");
}

#[test]
fn mlp_matches_the_formula_for_several_batch_sizes_on_one_plan() {
    let mut s = session(&fixtures::mlp());
    for batch in [1usize, 5, 2, 64] {
        let x: Vec<f32> = (0..batch * 4)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 3.0)
            .collect();
        let out = s
            .run(vec![(
                "x".into(),
                Tensor::f32(x.clone(), vec![batch, 4]).unwrap(),
            )])
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "y");
        assert_eq!(out[0].1.dims(), &[batch, 3]);
        let got = out[0].1.as_f32().unwrap();
        for (g, w) in got.iter().zip(mlp_reference(&x, batch)) {
            assert!((g - w).abs() <= 1e-5, "batch {batch}: got {g}, want {w}");
        }
    }
}

#[test]
fn unoptimized_plan_gives_the_same_result() {
    let x: Vec<f32> = (0..12).map(|i| i as f32 * 0.3 - 1.0).collect();
    let feed = || vec![("x".to_string(), Tensor::f32(x.clone(), vec![3, 4]).unwrap())];
    let fast = session(&fixtures::mlp()).run(feed()).unwrap();
    let plain = Session::new(
        &fixtures::mlp(),
        &SessionOptions {
            optimize: false,
            ..Default::default()
        },
    )
    .unwrap()
    .run(feed())
    .unwrap();
    assert_eq!(fast, plain);
}

#[test]
fn integer_bool_and_double_tensors_round_trip() {
    let mut s = session(&fixtures::dtypes());
    let feeds = vec![
        (
            "i64_in".to_string(),
            Tensor::new(TensorData::I64(vec![1, -2, 1 << 40]), vec![3]).unwrap(),
        ),
        (
            "i32_in".to_string(),
            Tensor::new(TensorData::I32(vec![0, -7, 100]), vec![3]).unwrap(),
        ),
        (
            "u8_in".to_string(),
            Tensor::new(TensorData::U8(vec![0, 255, 9]), vec![3]).unwrap(),
        ),
        (
            "bool_in".to_string(),
            Tensor::new(TensorData::Bool(vec![1, 0, 1]), vec![3]).unwrap(),
        ),
        (
            "f64_in".to_string(),
            Tensor::new(TensorData::F64(vec![0.5, 1e300, -1.0]), vec![3]).unwrap(),
        ),
    ];
    let out = s.run(feeds).unwrap();
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["i64_out", "i32_out", "u8_out", "bool_out", "f64_out"]
    );
    assert_eq!(out[0].1.data(), &TensorData::I64(vec![3, -6, 3 << 40]));
    assert_eq!(out[1].1.data(), &TensorData::I32(vec![7, 0, 107]));
    assert_eq!(out[2].1.data(), &TensorData::F32(vec![0.0, 127.5, 4.5]));
    assert_eq!(out[3].1.data(), &TensorData::Bool(vec![0, 1, 0]));
    assert_eq!(
        out[4].1.data(),
        &TensorData::F64(vec![-0.5, 1e300 - 1.0, -2.0])
    );
}

#[test]
fn sobel_finds_the_edge_of_a_square() {
    let n = fixtures::SOBEL_SIZE;
    let mut img = vec![0.0f32; n * n];
    for y in 16..48 {
        for x in 16..48 {
            img[y * n + x] = 1.0;
        }
    }
    let mut s = session(&fixtures::sobel());
    let out = s
        .run(vec![(
            "image".into(),
            Tensor::f32(img, vec![1, 1, n, n]).unwrap(),
        )])
        .unwrap();
    let e = out[0].1.as_f32().unwrap();
    // Inside a flat region there is no gradient; on the square's left edge gx = 4 → 4/4 = 1.
    assert_eq!(e[32 * n + 32], 0.0);
    assert_eq!(e[5 * n + 5], 0.0);
    assert!(
        (e[32 * n + 16] - 1.0).abs() < 1e-6,
        "edge pixel {}",
        e[32 * n + 16]
    );
    assert!(
        (e[32 * n + 15] - 1.0).abs() < 1e-6,
        "pixel left of the edge {}",
        e[32 * n + 15]
    );
}

#[test]
fn input_feeding_an_identity_slice_keeps_its_name() {
    use edgewise_onnx::{GraphBuilder, tensor_i64};
    // tract folds the identity Slice into the source and renames it after typing.
    let mut g = GraphBuilder::new("identity_slice", 17);
    g.input("x", DType::F32, &[Dim::Fixed(3)]);
    g.initializer(tensor_i64("starts", &[1], &[0]));
    g.initializer(tensor_i64("ends", &[1], &[3]));
    g.node("Slice", &["x", "starts", "ends"], "s", vec![]);
    g.node("Neg", &["s"], "y", vec![]);
    g.output("y", DType::F32, &[Dim::Fixed(3)]);
    let mut s = session(&g.to_bytes());
    let out = s
        .run(vec![(
            "x".into(),
            Tensor::f32(vec![1.0, -2.0, 3.0], vec![3]).unwrap(),
        )])
        .unwrap();
    assert_eq!(out[0].1.as_f32().unwrap(), &[-1.0, 2.0, -3.0]);
}

#[test]
fn shape_outputs_come_back_as_int64() {
    use edgewise_onnx::GraphBuilder;
    let mut g = GraphBuilder::new("shape", 17);
    g.input("x", DType::F32, &[Dim::Symbolic("n".into()), Dim::Fixed(3)]);
    g.node("Shape", &["x"], "s", vec![]);
    g.output("s", DType::I64, &[Dim::Fixed(2)]);
    let mut s = session(&g.to_bytes());
    assert_eq!(s.outputs()[0].dtype, Some(DType::I64));
    let out = s
        .run(vec![(
            "x".into(),
            Tensor::f32(vec![0.0; 6], vec![2, 3]).unwrap(),
        )])
        .unwrap();
    assert_eq!(out[0].1.data(), &TensorData::I64(vec![2, 3]));
}

#[test]
fn float16_tensors_go_in_and_come_out_as_float16() {
    use edgewise_runtime::f16;
    let mut s = session(&fixtures::half_precision());
    assert_eq!(s.inputs()[0].dtype, Some(DType::F16));
    let xs = [-64.0f32, -1.25, 0.0, 0.00390625, 3.5, 63.75];
    let x: Vec<f16> = xs.iter().map(|&v| f16::from_f32(v)).collect();
    let out = s
        .run(vec![(
            "x".into(),
            Tensor::new(TensorData::F16(x), vec![xs.len()]).unwrap(),
        )])
        .unwrap();
    let want: Vec<f32> = xs.iter().map(|v| v * 0.5 + 1.5).collect();
    let TensorData::F16(y) = out[0].1.data() else {
        panic!("y is {}", out[0].1.dtype());
    };
    assert_eq!(y.iter().map(|v| v.to_f32()).collect::<Vec<_>>(), want);
    assert_eq!(out[1].1.as_f32().unwrap(), &want[..]);
    // A float32 feed for a float16 input is refused with the input named.
    let err = s
        .run(vec![("x".into(), Tensor::f32(vec![1.0], vec![1]).unwrap())])
        .unwrap_err();
    assert!(err.to_string().contains("input 'x'"), "{err}");
}
