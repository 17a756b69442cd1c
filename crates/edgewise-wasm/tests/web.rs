//! The wasm exports, run inside a JS engine (Node, and headless Chromium via
//! `WASM_BINDGEN_USE_BROWSER`): models load, run, describe themselves, and every bad input
//! comes back as a JS `Error` with the session left usable.
#![cfg(target_arch = "wasm32")]

use edgewise_onnx::fixtures;
use edgewise_wasm::WasmSession;
use js_sys::{Array, Float32Array, Int32Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn feed(name: &str, ty: &str, data: JsValue, dims: &[f64]) -> JsValue {
    let dims: Array = dims.iter().map(|&d| JsValue::from_f64(d)).collect();
    Array::of4(&name.into(), &ty.into(), &data, &dims).into()
}

fn ones(n: usize) -> JsValue {
    Float32Array::from(&vec![1.0f32; n][..]).into()
}

fn message(err: JsValue) -> String {
    let e: js_sys::Error = err.dyn_into().expect("failures are JS Error objects");
    String::from(e.message())
}

fn run_ok(s: &mut WasmSession) -> Vec<f32> {
    let out = s
        .run(Array::of1(&feed("x", "float32", ones(8), &[2.0, 4.0])))
        .unwrap();
    let first: Array = out.get(0).dyn_into().unwrap();
    assert_eq!(first.get(0).as_string().unwrap(), "y");
    assert_eq!(first.get(1).as_string().unwrap(), "float32");
    first.get(2).dyn_into::<Float32Array>().unwrap().to_vec()
}

#[wasm_bindgen_test]
fn mlp_runs_and_matches_the_formula() {
    let mut s = WasmSession::create(&fixtures::mlp(), true).unwrap();
    let y = run_ok(&mut s);
    assert_eq!(y.len(), 6);
    for c in 0..3 {
        let want: f32 =
            (0..4).map(|k| fixtures::MLP_W[k * 3 + c]).sum::<f32>() + fixtures::MLP_B[c];
        assert!(
            (y[c] - want.max(0.0)).abs() < 1e-5,
            "column {c}: {} vs {want}",
            y[c]
        );
    }
}

#[wasm_bindgen_test]
fn metadata_uses_strings_for_symbolic_dims() {
    let mut s = WasmSession::create(&fixtures::mlp(), true).unwrap();
    let meta = s.input_metadata().unwrap();
    let x = meta.get(0);
    assert_eq!(
        Reflect::get(&x, &"name".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "x"
    );
    assert_eq!(
        Reflect::get(&x, &"type".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "float32"
    );
    let shape: Array = Reflect::get(&x, &"shape".into())
        .unwrap()
        .dyn_into()
        .unwrap();
    assert_eq!(shape.get(0).as_string().unwrap(), "batch");
    assert_eq!(shape.get(1).as_f64().unwrap(), 4.0);
}

#[wasm_bindgen_test]
fn malformed_models_are_errors() {
    let bytes = fixtures::mlp();
    for bad in [&b""[..], &bytes[..bytes.len() / 2], b"not a model at all"] {
        let err = WasmSession::create(bad, true).err().expect("must fail");
        assert!(message(err.into()).starts_with("invalid model"));
    }
    let err = WasmSession::create(&fixtures::unsupported_op(), true)
        .err()
        .unwrap();
    assert!(message(err.into()).contains("FancyOp"));
}

#[wasm_bindgen_test]
fn bad_feeds_are_errors_and_the_session_survives() {
    let mut s = WasmSession::create(&fixtures::mlp(), true).unwrap();
    let int32: JsValue = Int32Array::from(&[1i32; 8][..]).into();
    let cases: Vec<(Array, &str)> = vec![
        (Array::new(), "missing input 'x'"),
        (
            Array::of1(&feed("nope", "float32", ones(4), &[1.0, 4.0])),
            "unknown input 'nope'",
        ),
        (
            Array::of1(&feed("x", "int32", int32.clone(), &[2.0, 4.0])),
            "expected a float32 tensor, got int32",
        ),
        (
            Array::of1(&feed("x", "float32", int32, &[2.0, 4.0])),
            "must be a Float32Array, got Int32Array",
        ),
        (
            Array::of1(&feed("x", "float32", ones(4), &[4.0])),
            "expected rank 2",
        ),
        (
            Array::of1(&feed("x", "float32", ones(6), &[2.0, 3.0])),
            "dimension 1 must be 4",
        ),
        (
            Array::of1(&feed("x", "float32", ones(5), &[2.0, 4.0])),
            "does not match dims",
        ),
        (
            Array::of1(&feed("x", "float16", ones(8), &[2.0, 4.0])),
            "unknown tensor type 'float16'",
        ),
        (
            Array::of1(&feed("x", "float32", ones(8), &[2.0, -4.0])),
            "dims must be an array",
        ),
        (Array::of1(&JsValue::from_str("x")), "each feed must be"),
    ];
    for (feeds, expected) in cases {
        let err = s.run(feeds).err().expect("bad feed must fail");
        let msg = message(err.into());
        assert!(
            msg.contains(expected),
            "'{msg}' should contain '{expected}'"
        );
        assert_eq!(run_ok(&mut s).len(), 6, "session still runs after: {msg}");
    }
}

#[wasm_bindgen_test]
fn released_session_refuses_to_run() {
    let mut s = WasmSession::create(&fixtures::mlp(), true).unwrap();
    s.release();
    let err = s
        .run(Array::of1(&feed("x", "float32", ones(4), &[1.0, 4.0])))
        .err()
        .unwrap();
    assert_eq!(message(err.into()), "the session was released");
}
