//! Models that do not type with their symbolic shapes: plans per input shape, pinned
//! values for control flow, declared facts that are dropped, and `freeDimensionOverrides`.

use edgewise_onnx::fixtures;
use edgewise_runtime::{Dim, Error, Session, SessionOptions, Tensor, TensorData};

fn session(bytes: &[u8]) -> Session {
    Session::new(bytes, &SessionOptions::default()).expect("model loads")
}

fn ramp(dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    let data = (0..n).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    Tensor::f32(data, dims.to_vec()).unwrap()
}

/// Σ relu(x) over the last axis, written out.
fn sum_relu_last(x: &Tensor) -> Vec<f32> {
    let last = *x.dims().last().unwrap();
    x.as_f32()
        .unwrap()
        .chunks(last)
        .map(|row| row.iter().map(|v| v.max(0.0)).sum())
        .collect()
}

fn run_unshaped(s: &mut Session, dims: &[usize]) {
    let x = ramp(dims);
    let out = s.run(vec![("x".into(), x.clone())]).unwrap();
    assert_eq!(out[0].1.dims(), &dims[..dims.len() - 1]);
    for (g, w) in out[0].1.as_f32().unwrap().iter().zip(sum_relu_last(&x)) {
        assert!((g - w).abs() <= 1e-5, "dims {dims:?}: got {g}, want {w}");
    }
}

#[test]
fn an_unshaped_input_gets_one_plan_per_shape_reused_on_return() {
    let mut s = session(&fixtures::unshaped());
    let before = s.plan_stats();
    assert!(before.per_shape, "{before:?}");
    assert_eq!(before.built, 0);
    assert!(
        before
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("typing failed"),
        "{before:?}"
    );
    // Three distinct shapes (one of another rank), then the first again.
    for dims in [&[2, 3][..], &[4, 5], &[2, 3, 7], &[2, 3]] {
        run_unshaped(&mut s, dims);
    }
    let after = s.plan_stats();
    assert_eq!(after.built, 3, "one plan per distinct shape: {after:?}");
    assert_eq!(after.reused, 1, "{after:?}");
    assert_eq!(after.cached, 3);
    // The model's declaration is reported as it is, not as the last shape fed.
    assert_eq!(s.inputs()[0].shape, None);
}

#[test]
fn the_plan_cache_keeps_the_most_recent_plans() {
    let options = SessionOptions {
        plan_cache_size: 2,
        ..Default::default()
    };
    let mut s = Session::new(&fixtures::unshaped(), &options).unwrap();
    for n in [3, 4, 5] {
        run_unshaped(&mut s, &[1, n]);
    }
    assert_eq!(s.plan_stats().cached, 2);
    run_unshaped(&mut s, &[1, 5]); // still cached
    run_unshaped(&mut s, &[1, 3]); // evicted: built again
    let stats = s.plan_stats();
    assert_eq!(
        (stats.built, stats.reused, stats.cached),
        (4, 1, 2),
        "{stats:?}"
    );
}

#[test]
fn bad_feeds_still_get_their_errors_and_lose_nothing() {
    let mut s = session(&fixtures::unshaped());
    run_unshaped(&mut s, &[2, 3]);
    let err = s.run(vec![("nope".into(), ramp(&[2, 3]))]).unwrap_err();
    assert!(matches!(err, Error::UnknownInput { .. }), "{err}");
    let int = Tensor::new(TensorData::I64(vec![1, 2]), vec![2]).unwrap();
    let err = s.run(vec![("x".into(), int)]).unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }), "{err}");
    // A rank-0 input has no last axis to reduce: the plan fails, with the shapes named.
    let err = s
        .run(vec![("x".into(), Tensor::f32(vec![1.0], vec![]).unwrap())])
        .unwrap_err();
    assert!(err.to_string().contains("x: float32[]"), "{err}");
    run_unshaped(&mut s, &[2, 3]);
    assert_eq!(s.plan_stats().built, 1, "{:?}", s.plan_stats());
}

fn rate(v: i64) -> Tensor {
    Tensor::new(TensorData::I64(vec![v]), vec![]).unwrap()
}

#[test]
fn a_branch_on_an_input_value_is_chosen_with_that_value_pinned() {
    let mut s = session(&fixtures::rate_branch());
    let x = ramp(&[5]);
    let xs = x.as_f32().unwrap().to_vec();
    let run = |s: &mut Session, r: i64| {
        s.run(vec![("x".into(), x.clone()), ("rate".into(), rate(r))])
            .unwrap()
            .remove(0)
            .1
    };
    let y = run(&mut s, fixtures::RATE_BRANCH_RATE);
    assert_eq!(y.dims(), &[1, 5]);
    let doubled: Vec<f32> = xs.iter().map(|v| 2.0 * v).collect();
    assert_eq!(y.as_f32().unwrap(), &doubled[..]);
    let y = run(&mut s, 8000);
    assert_eq!(y.dims(), &[1, 5, 1]);
    assert_eq!(y.as_f32().unwrap(), &xs[..]);
    run(&mut s, fixtures::RATE_BRANCH_RATE);
    let stats = s.plan_stats();
    assert!(stats.per_shape);
    assert_eq!(stats.pinned, ["rate"]);
    assert_eq!((stats.built, stats.reused), (2, 1), "{stats:?}");
}

#[test]
fn declared_intermediate_shapes_that_contradict_typing_are_dropped() {
    let mut s = session(&fixtures::declared_batch_one());
    assert!(!s.plan_stats().per_shape, "one symbolic plan still serves");
    let want = session(&fixtures::mlp())
        .run(vec![("x".into(), ramp(&[5, 4]))])
        .unwrap();
    let got = s.run(vec![("x".into(), ramp(&[5, 4]))]).unwrap();
    assert_eq!(got, want);
}

#[test]
fn free_dimension_overrides_pin_a_named_dim() {
    let options = SessionOptions {
        free_dimension_overrides: vec![("batch".into(), 2)],
        ..Default::default()
    };
    let mut s = Session::new(&fixtures::mlp(), &options).unwrap();
    assert_eq!(
        s.inputs()[0].shape,
        Some(vec![Dim::Fixed(2), Dim::Fixed(4)])
    );
    assert_eq!(
        s.run(vec![("x".into(), ramp(&[2, 4]))]).unwrap()[0]
            .1
            .dims(),
        &[2, 3]
    );
    let err = s.run(vec![("x".into(), ramp(&[3, 4]))]).unwrap_err();
    assert!(matches!(err, Error::WrongDim { axis: 0, .. }), "{err}");
    let unknown = SessionOptions {
        free_dimension_overrides: vec![("height".into(), 2)],
        ..Default::default()
    };
    let err = Session::new(&fixtures::mlp(), &unknown).unwrap_err();
    assert!(
        err.to_string().contains("'height'") && err.to_string().contains("batch"),
        "{err}"
    );
}
