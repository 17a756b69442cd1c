//! The defect system end to end at CI scale: quick training, export, parity with tract, and
//! the determinism and resume guarantees of `cargo xtask train`.

use std::path::PathBuf;
use std::sync::Mutex;

use edgewise_train::parity::check_tract;
use edgewise_train::run::TrainOptions;
use edgewise_train::systems::{self, defect};

/// burn seeds its weight initialization per device, process-wide: training runs in one process
/// take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn options(tag: &str, seed: u64, epochs: Option<usize>, resume: bool) -> TrainOptions {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("defect-{tag}"));
    if !resume {
        let _ = std::fs::remove_dir_all(&dir);
    }
    TrainOptions {
        epochs,
        seed,
        quick: true,
        resume,
        runs: dir.join("runs"),
        onnx_dir: dir.join("onnx"),
        command: String::new(),
    }
}

#[test]
fn quick_training_exports_a_model_that_tract_runs_like_burn() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = options("parity", 0, None, false);
    let (model, history, ..) = defect::fit(&o, defect::Loss::SsimL1, "defect").unwrap();
    assert!(history.last("loss").unwrap().is_finite());
    let (bytes, params) = defect::export(&model, &o, &[]).unwrap();
    assert!(params > 10_000);
    let cases = defect::parity_cases(&model, 8, 99).unwrap();
    let worst = check_tract(&bytes, &cases, &defect::TOLERANCES).unwrap();
    assert_eq!(worst.len(), 2, "{worst:?}");
    for run in [
        "metrics.csv",
        "curve.png",
        "model.bpk",
        "optim.bpk",
        "state.json",
    ] {
        assert!(o.runs.join("defect").join(run).exists(), "{run}");
    }
}

#[test]
fn the_same_seed_gives_the_same_model_and_another_seed_another() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let a = systems::train("defect", &options("seed-a", 3, None, false)).unwrap();
    let b = systems::train("defect", &options("seed-b", 3, None, false)).unwrap();
    let c = systems::train("defect", &options("seed-c", 4, None, false)).unwrap();
    assert!(a.bytes == b.bytes, "same seed, different bytes");
    assert!(a.bytes != c.bytes, "another seed, same bytes");
    let written = std::fs::read(
        options("seed-a", 3, None, true)
            .onnx_dir
            .join("defect.onnx"),
    )
    .unwrap();
    assert!(written == a.bytes);
    let manifest = std::fs::read_to_string(
        options("seed-a", 3, None, true)
            .onnx_dir
            .join("manifest.json"),
    )
    .unwrap();
    assert!(manifest.contains(&edgewise_train::export::sha256(&a.bytes)));
}

#[test]
fn resuming_gives_the_same_model_as_an_uninterrupted_run() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let whole = systems::train("defect", &options("whole", 5, Some(2), false)).unwrap();
    systems::train("defect", &options("split", 5, Some(1), false)).unwrap();
    let resumed = systems::train("defect", &options("split", 5, Some(2), true)).unwrap();
    assert!(whole.bytes == resumed.bytes, "resumed run differs");
    assert_eq!(resumed.history.rows.len(), 2);
    let mut other_seed = options("split", 6, Some(3), true);
    other_seed.resume = true;
    let err = systems::train("defect", &other_seed)
        .err()
        .expect("another seed must not resume");
    assert!(err.to_string().contains("other options"), "{err}");
}
