//! Every kind of bad input returns an error naming the problem, and nothing is lost: the same
//! session and other sessions keep running correctly afterwards.

use edgewise_onnx::fixtures;
use edgewise_runtime::{Error, Session, SessionOptions, Tensor, TensorData};

fn load(bytes: &[u8]) -> Result<Session, Error> {
    Session::new(bytes, &SessionOptions::default())
}

fn x(dims: &[usize]) -> Tensor {
    Tensor::f32(vec![1.0; dims.iter().product()], dims.to_vec()).unwrap()
}

/// The mlp still computes relu(1·W + b) for a batch of 2.
fn assert_mlp_still_runs(s: &mut Session) {
    let out = s
        .run(vec![("x".into(), x(&[2, 4]))])
        .expect("session still runs");
    let y = out[0].1.as_f32().unwrap();
    let col0 = fixtures::MLP_W[0] + fixtures::MLP_W[3] + fixtures::MLP_W[6] + fixtures::MLP_W[9];
    assert!((y[0] - (col0 + fixtures::MLP_B[0]).max(0.0)).abs() < 1e-5);
    assert_eq!(y.len(), 6);
}

fn run_err(feeds: Vec<(String, Tensor)>) -> Error {
    let mut s = load(&fixtures::mlp()).unwrap();
    let err = s.run(feeds).expect_err("the run must fail");
    assert_mlp_still_runs(&mut s);
    err
}

#[test]
fn empty_bytes() {
    let err = load(&[]).unwrap_err();
    assert!(matches!(err, Error::InvalidModel(_)));
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn truncated_bytes() {
    let bytes = fixtures::mlp();
    for cut in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let err = load(&bytes[..cut]).unwrap_err();
        assert!(matches!(err, Error::InvalidModel(_)), "cut at {cut}: {err}");
    }
    assert_mlp_still_runs(&mut load(&bytes).unwrap());
}

#[test]
fn not_an_onnx_file() {
    for junk in [
        &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
        b"hello, this is a text file\n",
        &[0xff; 64],
    ] {
        let err = load(junk).unwrap_err();
        assert!(matches!(err, Error::InvalidModel(_)), "{err}");
        assert!(err.to_string().starts_with("invalid model"), "{err}");
    }
}

#[test]
fn unsupported_operator_is_named() {
    let err = load(&fixtures::unsupported_op()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::UnsupportedOperator { .. }), "{msg}");
    assert!(msg.contains("com.example.FancyOp"), "{msg}");
    assert!(msg.contains("fancyop_1"), "node name is given: {msg}");
    assert_mlp_still_runs(&mut load(&fixtures::mlp()).unwrap());
}

#[test]
fn missing_feed() {
    let err = run_err(vec![]);
    assert_eq!(err.to_string(), "missing input 'x' (float32[batch,4])");
}

#[test]
fn unknown_input_name() {
    let err = run_err(vec![("input".into(), x(&[1, 4]))]);
    assert!(
        matches!(err, Error::UnknownInput { ref name, .. } if name == "input"),
        "{err}"
    );
    assert!(
        err.to_string().contains("'x'"),
        "lists the real inputs: {err}"
    );
}

#[test]
fn wrong_dtype() {
    let t = Tensor::new(TensorData::I32(vec![1; 4]), vec![1, 4]).unwrap();
    let err = run_err(vec![("x".into(), t)]);
    assert_eq!(
        err.to_string(),
        "input 'x': expected a float32 tensor, got int32"
    );
}

#[test]
fn wrong_rank() {
    let err = run_err(vec![("x".into(), x(&[4]))]);
    assert!(
        matches!(
            err,
            Error::WrongRank {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("input 'x'"), "{err}");
}

#[test]
fn wrong_fixed_dim() {
    let err = run_err(vec![("x".into(), x(&[2, 5]))]);
    assert!(
        matches!(
            err,
            Error::WrongDim {
                axis: 1,
                got: 5,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("input 'x': dimension 1 must be 4, got 5"),
        "{err}"
    );
}

#[test]
fn inconsistent_symbolic_dim_between_inputs() {
    let mut s = load(&fixtures::two_inputs()).unwrap();
    let a = Tensor::f32(vec![0.0; 6], vec![3, 2]).unwrap();
    let b = Tensor::f32(vec![0.0; 8], vec![4, 2]).unwrap();
    let err = s
        .run(vec![("a".into(), a.clone()), ("b".into(), b)])
        .unwrap_err();
    assert!(err.to_string().contains("input 'b'"), "{err}");
    let ok = s
        .run(vec![("a".into(), a.clone()), ("b".into(), a)])
        .unwrap();
    assert_eq!(ok[0].1.dims(), &[3, 2]);
}

#[test]
fn many_errors_in_a_row_leave_every_session_intact() {
    let mut s = load(&fixtures::mlp()).unwrap();
    let mut other = load(&fixtures::two_inputs()).unwrap();
    for _ in 0..3 {
        assert!(s.run(vec![("x".into(), x(&[1, 3]))]).is_err());
        assert!(load(&fixtures::unsupported_op()).is_err());
        assert_mlp_still_runs(&mut s);
        let a = Tensor::f32(vec![1.0, 2.0], vec![1, 2]).unwrap();
        let out = other
            .run(vec![("a".into(), a.clone()), ("b".into(), a)])
            .unwrap();
        assert_eq!(out[0].1.as_f32().unwrap(), &[2.0, 4.0]);
    }
}
