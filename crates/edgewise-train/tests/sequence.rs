//! The sequence layers exported alone: each graph runs through the project's runtime (tract) at
//! two batch sizes and must agree with burn's forward pass; what ONNX cannot express is an
//! error, not a different graph; the graphs pass ONNX's full checker.

use std::path::PathBuf;
use std::sync::Mutex;

use burn::module::{Module, Param};
use burn::nn::activation::ActivationConfig;
use burn::nn::gru::GruConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use edgewise_core::{DType, Dim};
use edgewise_runtime::{Session, SessionOptions};
use edgewise_train::emit::{Emit, EmitResult, Emitter, values};
use edgewise_train::parity::{Array, Case, check_tract};
use edgewise_train::sequence::{Gru, LayerNorm, SelfAttention};

/// burn seeds its random numbers per device, process-wide: tests that draw weights take turns,
/// so that a seeded test always draws the same ones.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The sequence length of every test input.
const SEQ: usize = 7;
/// The batch sizes each graph runs at: the symbolic batch must take both.
const BATCHES: [usize; 2] = [3, 1];
/// Largest |tract − burn| allowed. Both sides compute in float32 on values of order 1, adding in
/// different orders (tract's packed matmuls and fused GRU cell, burn's flex kernels), which
/// costs a few ulps, around 1e-6; a wrong mapping (a gate out of order, a weight not
/// transposed, a missing scale or bias) moves the outputs by 1e-2 and more.
const TOLERANCE: f32 = 1e-4;

/// A seeded CPU device; hold [`ONE_AT_A_TIME`] while drawing from it.
fn seeded(seed: u64) -> Device {
    let device = Device::flex();
    device.seed(seed);
    device
}

/// `layer` alone as a model: input `x` `[batch, SEQ, d_in]`, output `y` `[batch, SEQ, d_out]`,
/// with its parameter count.
fn export(
    layer: &impl Emit,
    scope: &str,
    d_in: usize,
    d_out: usize,
) -> EmitResult<(Vec<u8>, usize)> {
    let mut e = Emitter::new(scope);
    let x = e.input("x", &[SEQ, d_in]);
    let y = layer.emit(&mut e, scope, &x)?;
    e.output(&y, "y", &[SEQ, d_out])?;
    let parameters = e.parameters();
    Ok((e.finish(), parameters))
}

/// burn's outputs on standard normal inputs `[b, SEQ, d_in]`, one case per batch size.
fn cases(device: &Device, d_in: usize, forward: impl Fn(Tensor<3>) -> Tensor<3>) -> Vec<Case> {
    BATCHES
        .iter()
        .map(|&b| {
            let x = Tensor::<3>::random([b, SEQ, d_in], Distribution::Normal(0.0, 1.0), device);
            let y = forward(x.clone());
            Case {
                inputs: vec![Array::new("x", &[b, SEQ, d_in], values(&x).unwrap())],
                outputs: vec![Array::new("y", &y.dims(), values(&y).unwrap())],
            }
        })
        .collect()
}

/// Checks the graph's declared shapes (a symbolic batch), runs the cases through tract and
/// returns the largest difference from burn (one past [`TOLERANCE`] fails the test there).
/// One session runs every case in turn: one plan takes every batch size.
fn parity(bytes: &[u8], cases: &[Case], d_in: usize, d_out: usize) -> f32 {
    let session = Session::new(bytes, &SessionOptions::default()).unwrap();
    let batch = Dim::Symbolic("batch".into());
    let want_in = vec![batch.clone(), Dim::Fixed(SEQ), Dim::Fixed(d_in)];
    let want_out = vec![batch, Dim::Fixed(SEQ), Dim::Fixed(d_out)];
    assert_eq!(session.inputs()[0].shape.as_ref(), Some(&want_in));
    assert_eq!(session.outputs()[0].shape.as_ref(), Some(&want_out));
    assert_eq!(session.outputs()[0].dtype, Some(DType::F32));
    let got = check_tract(bytes, cases, &[("y", TOLERANCE)]).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    got[0].1
}

fn layer_norm(device: &Device) -> LayerNorm {
    let mut ln = LayerNorm::new(5, 1e-5, device);
    // γ = 1 and β = 0 at initialization would hide a swapped or dropped parameter.
    ln.norm.gamma = Param::from_tensor(Tensor::random([5], Distribution::Normal(1.0, 0.5), device));
    ln.norm.beta = Some(Param::from_tensor(Tensor::random(
        [5],
        Distribution::Normal(0.0, 0.5),
        device,
    )));
    ln
}

#[test]
fn layer_norm_exports_as_layer_normalization_that_tract_runs_like_burn() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = seeded(11);
    let ln = layer_norm(&device);
    let (bytes, parameters) = export(&ln, "norm", 5, 5).unwrap();
    assert_eq!(parameters, ln.num_params());
    assert_eq!(parameters, 10);
    let cases = cases(&device, 5, |x| ln.forward(x));
    let worst = parity(&bytes, &cases, 5, 5);
    eprintln!("layer norm: burn vs tract, largest |diff| {worst:e}");
    assert!(worst <= TOLERANCE);
}

#[test]
fn layer_norm_refuses_an_epsilon_that_float32_rounds_to_zero() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    let ln = LayerNorm::new(5, 1e-60, &device);
    let err = export(&ln, "norm", 5, 5).unwrap_err();
    assert!(err.0.contains("epsilon"), "{err}");
}

#[test]
fn gru_exports_as_onnx_gru_that_tract_runs_like_burn_in_every_variant() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = seeded(12);
    let variants = [
        ("reset after, bias", GruConfig::new(5, 6, true)),
        (
            "reset before, bias",
            GruConfig::new(5, 6, true).with_reset_after(false),
        ),
        ("reset after, no bias", GruConfig::new(5, 6, false)),
    ];
    for (name, config) in variants {
        let gru = Gru::from_config(&config, &device);
        let (bytes, parameters) = export(&gru, "gru", 5, 6).unwrap();
        // W [3·6, 5] and R [3·6, 6], and B [6·6] with biases: all of burn's parameters, once.
        assert_eq!(parameters, gru.num_params(), "{name}");
        let with_bias = if config.bias { 6 * 6 } else { 0 };
        assert_eq!(parameters, 3 * 6 * 5 + 3 * 6 * 6 + with_bias, "{name}");
        let cases = cases(&device, 5, |x| gru.forward(x));
        let worst = parity(&bytes, &cases, 5, 6);
        eprintln!("gru ({name}): burn vs tract, largest |diff| {worst:e}");
        assert!(worst <= TOLERANCE, "{name}");
    }
}

/// ONNX's `GRU` starts every run from `initial_h`. tract's ONNX importer builds the GRU
/// (`Scan`, or the fused `GruSeq`) with `reset_every_turn = false`, so the hidden state lives in
/// an op state that outlives the run: a session must not carry it into its next run.
#[test]
fn a_gru_session_runs_the_same_input_twice_alike() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = seeded(14);
    // Both of tract's lowerings: the fused GruSeq (reset after) and the Scan (reset before).
    let mut failures = vec![];
    for reset_after in [true, false] {
        let gru = Gru::from_config(
            &GruConfig::new(5, 6, true).with_reset_after(reset_after),
            &device,
        );
        let (bytes, _) = export(&gru, "gru", 5, 6).unwrap();
        let cases = cases(&device, 5, |x| gru.forward(x));
        let twice = [cases[0].clone(), cases[0].clone()];
        if let Err(e) = check_tract(&bytes, &twice, &[("y", TOLERANCE)]) {
            failures.push(format!("reset_after {reset_after}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn gru_refuses_what_onnx_gru_does_not_compute() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    // burn clamps the hidden state after each step; ONNX's `clip` clamps the gates' inputs.
    let clipped = Gru::from_config(&GruConfig::new(5, 6, true).with_clip(Some(0.5)), &device);
    let err = export(&clipped, "gru", 5, 6).unwrap_err();
    assert!(err.0.contains("clip"), "{err}");
    // ONNX's GRU defaults to sigmoid gates and a tanh candidate; a ReLU candidate is not it.
    let relu = Gru::from_config(
        &GruConfig::new(5, 6, true).with_hidden_activation(ActivationConfig::Relu),
        &device,
    );
    let err = export(&relu, "gru", 5, 6).unwrap_err();
    assert!(err.0.contains("tanh"), "{err}");
    // Both forward in burn all the same: the refusal is the export's, not the layer's.
    let x = Tensor::<3>::zeros([1, SEQ, 5], &device);
    assert_eq!(clipped.forward(x.clone()).dims(), [1, SEQ, 6]);
    assert_eq!(relu.forward(x).dims(), [1, SEQ, 6]);
}

#[test]
fn self_attention_exports_as_standard_ops_that_tract_runs_like_burn() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = seeded(13);
    let attention = SelfAttention::new(8, 2, &device).unwrap();
    let (bytes, parameters) = export(&attention, "attention", 8, 8).unwrap();
    // Four [8, 8] weights with [8] biases.
    assert_eq!(parameters, attention.num_params());
    assert_eq!(parameters, 4 * (8 * 8 + 8));
    let cases = cases(&device, 8, |x| attention.forward(x));
    let worst = parity(&bytes, &cases, 8, 8);
    eprintln!("self-attention: burn vs tract, largest |diff| {worst:e}");
    assert!(worst <= TOLERANCE);
}

#[test]
fn self_attention_refuses_heads_that_do_not_divide_the_width_and_quiet_softmax() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    // burn itself would build 3 heads of 8 / 3 = 2 features and then fail to reshape.
    let err = SelfAttention::new(8, 3, &device).unwrap_err();
    assert!(err.0.contains("divide"), "{err}");
    assert!(SelfAttention::new(8, 0, &device).is_err());
    // Quiet softmax adds 1 to the denominator: ONNX's Softmax would silently differ.
    let mut attention = SelfAttention::new(8, 2, &device).unwrap();
    attention.mha.quiet_softmax = true;
    let err = export(&attention, "attention", 8, 8).unwrap_err();
    assert!(err.0.contains("quiet softmax"), "{err}");
}

/// The project's Python (`cargo xtask setup` makes the venv).
fn python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

#[test]
fn the_exported_graphs_pass_onnx_full_check() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sequence-onnx");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let device = Device::flex();
    let models = [
        ("layer_norm", export(&layer_norm(&device), "norm", 5, 5)),
        ("gru", export(&Gru::new(5, 6, &device), "gru", 5, 6)),
        (
            "gru_no_bias",
            export(
                &Gru::from_config(&GruConfig::new(5, 6, false), &device),
                "gru",
                5,
                6,
            ),
        ),
        (
            "attention",
            export(
                &SelfAttention::new(8, 2, &device).unwrap(),
                "attention",
                8,
                8,
            ),
        ),
    ];
    let mut paths = vec![];
    for (name, model) in models {
        let path = dir.join(format!("{name}.onnx"));
        std::fs::write(&path, model.unwrap().0).unwrap();
        paths.push(path);
    }
    let script = "import sys, onnx\n\
                  for p in sys.argv[1:]:\n    \
                      onnx.checker.check_model(p, full_check=True)\n    \
                      print('ok', p)\n";
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python().display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "onnx.checker failed:\n{stdout}{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        paths.len(),
        "{stdout}"
    );
}
