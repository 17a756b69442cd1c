//! Early exits: a three-exit model run stage by stage, stopping at the first confident exit,
//! against the same products computed here; the exits named by metadata or by the options;
//! and the errors a caller can cause.

use edgewise_onnx::fixtures;
use edgewise_runtime::{EXITS_METADATA_KEY, Session, SessionOptions, Tensor, TensorData};

fn model(metadata: bool) -> Vec<u8> {
    if metadata {
        fixtures::early_exits()
    } else {
        fixtures::early_exits_graph().to_bytes()
    }
}

fn weight(name: &str) -> Vec<f32> {
    fixtures::early_exit_weights()
        .into_iter()
        .find(|(n, ..)| *n == name)
        .map(|(.., w)| w)
        .unwrap()
}

fn matmul(a: &[f32], b: &[f32], k: usize, n: usize) -> Vec<f32> {
    a.chunks(k)
        .flat_map(|row| (0..n).map(move |j| (0..k).map(|i| row[i] * b[i * n + j]).sum::<f32>()))
        .collect()
}

fn relu(v: Vec<f32>) -> Vec<f32> {
    v.into_iter().map(|x| x.max(0.0)).collect()
}

/// The three exits' logits, computed here.
fn reference(x: &[f32]) -> [Vec<f32>; 3] {
    let h1 = relu(matmul(x, &weight("W1"), 4, 4));
    let h2 = relu(matmul(&h1, &weight("W2"), 4, 4));
    [
        matmul(&h1, &weight("A0"), 4, 3),
        matmul(&h2, &weight("A1"), 4, 3),
        matmul(&h2, &weight("A2"), 4, 3),
    ]
}

fn top_probability(row: &[f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    1.0 / row.iter().map(|&v| (v - max).exp()).sum::<f32>()
}

fn input(x: &[f32]) -> Vec<(String, Tensor)> {
    let t = Tensor::new(TensorData::F32(x.to_vec()), vec![x.len() / 4, 4]).unwrap();
    vec![("x".into(), t)]
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn the_first_confident_exit_answers_with_what_was_computed() {
    assert_eq!(EXITS_METADATA_KEY, "edgewise.exits");
    let mut s = Session::new(&model(true), &SessionOptions::default()).unwrap();
    assert_eq!(s.exits(), ["exit0", "exit1", "logits"]);
    let x = [0.5f32, -1.0, 2.0, 0.25];
    let want = reference(&x);
    let conf: Vec<f32> = want.iter().map(|l| top_probability(l)).collect();

    // Below exit 0's confidence: exit 0 answers, and only its output was computed.
    let r = s.run_exits(input(&x), conf[0] - 1e-4).unwrap();
    assert_eq!((r.exit, r.name.as_str()), (0, "exit0"));
    assert_eq!(r.outputs.len(), 1);
    assert_eq!(r.outputs[0].0, "exit0");
    close(r.outputs[0].1.as_f32().unwrap(), &want[0]);
    assert!((r.confidence[0] - conf[0]).abs() < 1e-5);
    assert!(r.stages_run < r.stages, "{} of {}", r.stages_run, r.stages);

    // Above every exit's confidence: the whole model runs and the last exit answers.
    let r = s.run_exits(input(&x), 2.0).unwrap();
    assert_eq!(r.exit, 2);
    assert_eq!(r.stages_run, r.stages);
    let names: Vec<&str> = r.outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["exit0", "exit1", "logits"]);
    for (k, (_, t)) in r.outputs.iter().enumerate() {
        close(t.as_f32().unwrap(), &want[k]);
    }
    // A plain run gives the same outputs.
    let plain = s.run(input(&x)).unwrap();
    for (k, (_, t)) in plain.iter().enumerate() {
        close(t.as_f32().unwrap(), &want[k]);
    }
}

#[test]
fn a_batch_stops_only_when_every_row_is_confident() {
    let mut s = Session::new(&model(true), &SessionOptions::default()).unwrap();
    let rows = [[0.5f32, -1.0, 2.0, 0.25], [0.1, 0.2, -0.3, 0.05]];
    let conf0: Vec<f32> = rows
        .iter()
        .map(|r| top_probability(&reference(r)[0]))
        .collect();
    let (lo, hi) = (conf0[0].min(conf0[1]), conf0[0].max(conf0[1]));
    assert!(
        hi - lo > 1e-3,
        "the rows' exit-0 confidences differ: {conf0:?}"
    );
    let x: Vec<f32> = rows.concat();
    // Between the two rows' confidences: one row is not confident, so exit 0 cannot answer.
    let r = s.run_exits(input(&x), (lo + hi) / 2.0).unwrap();
    assert!(r.exit > 0, "exit {} answered", r.exit);
    assert_eq!(r.confidence.len(), 2);
    let r = s.run_exits(input(&x), lo - 1e-4).unwrap();
    assert_eq!(r.exit, 0);
}

#[test]
fn exits_named_by_the_options_and_the_errors() {
    // No metadata: no exits, and asking for them is an error that says so.
    let mut s = Session::new(&model(false), &SessionOptions::default()).unwrap();
    assert!(s.exits().is_empty());
    let e = edgewise_gpu::block_on(s.run_with_exits(input(&[1.0; 4]), 0.5))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no early exits"), "{e}");
    // Named by the options instead.
    let options = SessionOptions {
        exits: vec!["exit1".into(), "logits".into()],
        ..Default::default()
    };
    let mut s = Session::new(&model(false), &options).unwrap();
    let r = edgewise_gpu::block_on(s.run_with_exits(input(&[1.0; 4]), 0.0)).unwrap();
    assert_eq!((r.exit, r.name.as_str()), (0, "exit1"));
    let names: Vec<&str> = r.outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["exit1"],
        "exit0 is not an exit here, and not needed"
    );
    // A name that is not an output fails at create.
    let options = SessionOptions {
        exits: vec!["h1".into(), "logits".into()],
        ..Default::default()
    };
    let e = Session::new(&model(false), &options)
        .unwrap_err()
        .to_string();
    assert!(e.contains("exit 'h1' is not an output"), "{e}");
    // NaN thresholds are refused.
    let mut s = Session::new(&model(true), &SessionOptions::default()).unwrap();
    let e = edgewise_gpu::block_on(s.run_with_exits(input(&[1.0; 4]), f32::NAN))
        .unwrap_err()
        .to_string();
    assert!(e.contains("NaN"), "{e}");
}
