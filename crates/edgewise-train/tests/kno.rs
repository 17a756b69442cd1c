//! The kno system end to end at CI scale: quick training, export with a symbolic length,
//! parity with tract at the training resolution and at 256 points, learning, determinism.

use std::path::PathBuf;
use std::sync::Mutex;

use edgewise_core::{DType, Dim};
use edgewise_data::burgers::{self, DEFAULT_DT, DEFAULT_NU};
use edgewise_runtime::{Session, SessionOptions};
use edgewise_train::parity::check_tract;
use edgewise_train::run::TrainOptions;
use edgewise_train::systems::{self, kno};

/// burn seeds its weight initialization per device, process-wide: training runs in one process
/// take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn options(tag: &str, seed: u64, epochs: Option<usize>) -> TrainOptions {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("kno-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    TrainOptions {
        epochs,
        seed,
        quick: true,
        resume: false,
        runs: dir.join("runs"),
        onnx_dir: dir.join("onnx"),
        command: String::new(),
    }
}

fn quick_model(
    o: &TrainOptions,
) -> (
    kno::NeuralOperator,
    edgewise_train::run::History,
    kno::Config,
) {
    let config = kno::Config::new(o, kno::Kind::Koopman);
    let data = kno::Data::new(&config, o.seed).unwrap();
    kno::fit(o, kno::Kind::Koopman, "kno", &data).unwrap()
}

#[test]
fn quick_training_exports_a_model_that_tract_runs_like_burn_at_both_resolutions() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = options("parity", 0, None);
    let (model, history, config) = quick_model(&o);
    assert!(history.last("loss").unwrap().is_finite());
    let (bytes, params) = kno::export(&model, &o, &[]).unwrap();
    // Encoder 1→w, one shared Fourier layer (complex w×w×modes + 1×1 skip), decoder w→1,
    // each with biases: the shared layer must be written once.
    let (w, m) = (config.width, config.modes);
    let expected = (w + w) + (2 * w * w * m + w * w + w) + (w + 1);
    assert_eq!(params, expected);
    assert_eq!(model.parameters(), expected);
    assert!((10_000..=40_000).contains(&params), "{params} parameters");

    // The graph's input and output have a symbolic batch and length.
    let session = Session::new(&bytes, &SessionOptions::default()).unwrap();
    let want = vec![
        Dim::Symbolic("batch".into()),
        Dim::Fixed(1),
        Dim::Symbolic("n".into()),
    ];
    for info in session.inputs().iter().chain(session.outputs()) {
        assert_eq!(info.dtype, Some(DType::F32), "{}", info.name);
        assert_eq!(info.shape.as_ref(), Some(&want), "{}", info.name);
    }

    for n in [kno::TRAIN_N, kno::FINE_N] {
        let inputs = kno::parity_inputs(n, 4, 7).unwrap();
        assert!(inputs.iter().all(|u| u.len() == n));
        let cases = kno::parity_cases(&model, &inputs).unwrap();
        let worst = check_tract(&bytes, &cases, &kno::TOLERANCES).unwrap();
        eprintln!("n = {n}: burn vs tract, largest |diff| {worst:?}");
        assert_eq!(worst.len(), 1, "{worst:?}");
        assert!(worst[0].1 < 1e-4, "n = {n}: {worst:?}");
    }
    for file in [
        "metrics.csv",
        "curve.png",
        "model.bpk",
        "optim.bpk",
        "state.json",
    ] {
        assert!(o.runs.join("kno").join(file).exists(), "{file}");
    }
}

/// Mean relative L2 of `pred[i]` against `truth[i]`, written out here.
fn mean_rel_l2(pred: &[Vec<f32>], truth: &[&Vec<f32>]) -> f64 {
    let mut total = 0.0;
    for (p, t) in pred.iter().zip(truth) {
        let num: f64 = p
            .iter()
            .zip(t.iter())
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum();
        let den: f64 = t.iter().map(|b| (*b as f64).powi(2)).sum();
        total += (num / den).sqrt();
    }
    total / pred.len() as f64
}

#[test]
fn seconds_of_training_beat_the_untrained_model_and_persistence_over_one_step() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let untrained_options = options("untrained", 1, Some(0));
    let (untrained, ..) = quick_model(&untrained_options);
    let o = options("learns", 1, Some(5));
    let (trained, history, _) = quick_model(&o);
    assert_eq!(history.rows.len(), 5);
    // Held-out trajectories drawn here, one solver step apart.
    let mut solver = burgers::Burgers::new(kno::TRAIN_N, DEFAULT_NU).unwrap();
    let mut u0 = vec![];
    let mut u1 = vec![];
    for i in 0..8 {
        let ic = burgers::random_initial_condition(kno::TRAIN_N, 1000 + i).unwrap();
        let traj = solver.trajectory(&ic, DEFAULT_DT, 6).unwrap();
        u0.push(traj[5].clone());
        u1.push(traj[6].clone());
    }
    let truth: Vec<&Vec<f32>> = u1.iter().collect();
    let persistence = mean_rel_l2(&u0, &truth);
    let one_step = |m: &kno::NeuralOperator| {
        let cases = kno::parity_cases(m, &u0).unwrap();
        let pred: Vec<Vec<f32>> = cases
            .into_iter()
            .map(|c| c.outputs[0].data.clone())
            .collect();
        mean_rel_l2(&pred, &truth)
    };
    let (before, after) = (one_step(&untrained), one_step(&trained));
    eprintln!(
        "one-step relative L2: untrained {before:.4}, trained {after:.4}, persistence {persistence:.4}"
    );
    assert!(
        after < 0.7 * before && after < persistence,
        "one-step relative L2: untrained {before:.4}, trained {after:.4}, persistence {persistence:.4}"
    );
}

#[test]
fn the_same_seed_gives_the_same_model_and_another_seed_another() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let a = systems::train("kno", &options("seed-a", 3, None)).unwrap();
    let b = systems::train("kno", &options("seed-b", 3, None)).unwrap();
    let c = systems::train("kno", &options("seed-c", 4, None)).unwrap();
    assert!(a.bytes == b.bytes, "same seed, different bytes");
    assert!(a.bytes != c.bytes, "another seed, same bytes");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kno-seed-a/onnx");
    assert!(std::fs::read(dir.join("kno.onnx")).unwrap() == a.bytes);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let entry = &manifest["models"]["kno"];
    assert_eq!(entry["sha256"], edgewise_train::export::sha256(&a.bytes));
    let shape = serde_json::json!(["batch", 1, "n"]);
    assert_eq!(entry["inputs"][0]["name"], "u");
    assert_eq!(entry["inputs"][0]["shape"], shape);
    assert_eq!(entry["outputs"][0]["name"], "u_next");
    assert_eq!(entry["outputs"][0]["shape"], shape);
    assert_eq!(entry["helper"]["dt"], DEFAULT_DT);
    assert_eq!(entry["helper"]["train_n"], 128);
    for key in ["rel_l2_1", "rel_l2_10", "rel_l2_50", "rel_l2_50_n256"] {
        assert!(entry["metrics"][key].is_number(), "{key}");
    }
}

#[test]
fn the_ci_parity_path_writes_eight_cases_at_both_resolutions() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kno-ci-parity");
    let _ = std::fs::remove_dir_all(&out);
    let worst = systems::parity("kno", &out).unwrap();
    assert_eq!(worst.len(), 1, "{worst:?}");
    assert!(out.join("kno.onnx").exists());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("kno.json")).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    let lengths: Vec<u64> = cases
        .iter()
        .map(|c| c["inputs"][0]["dims"][2].as_u64().unwrap())
        .collect();
    assert_eq!(lengths.iter().filter(|&&n| n == 128).count(), 5);
    assert_eq!(lengths.iter().filter(|&&n| n == 256).count(), 3);
    assert_eq!(doc["tolerances"]["u_next"], serde_json::json!(1e-4f32));
}
