//! The rbnn system at CI scale: quick training, export, parity with tract under each task's
//! keys, the effect of another task's keys, the packed weights against the latent ones, the
//! straight-through sign, and determinism.

use std::path::PathBuf;
use std::sync::Mutex;

use burn::prelude::*;
use edgewise_core::{Tensor as RtTensor, TensorData as RtData};
use edgewise_data::glyphs::Task;
use edgewise_runtime::{Session, SessionOptions};
use edgewise_train::binary::{pack_signs, sign_ste};
use edgewise_train::emit::values;
use edgewise_train::parity::check_tract;
use edgewise_train::run::TrainOptions;
use edgewise_train::systems::{self, rbnn};

/// burn seeds its weight initialization per device, process-wide: training runs in one process
/// take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn options(tag: &str, seed: u64) -> TrainOptions {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rbnn-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    TrainOptions {
        epochs: None,
        seed,
        quick: true,
        resume: false,
        runs: dir.join("runs"),
        onnx_dir: dir.join("onnx"),
        command: String::new(),
    }
}

/// Runs the exported model on `images` (`[n, 1, 16, 16]`) with `keys`, returning the logits.
fn run(session: &mut Session, images: &[f32], keys: &[Vec<u32>]) -> Vec<f32> {
    let n = images.len() / 256;
    let mut feeds = vec![(
        "image".to_string(),
        RtTensor::f32(images.to_vec(), vec![n, 1, 16, 16]).unwrap(),
    )];
    for (k, name) in keys.iter().zip(rbnn::KEY_INPUTS) {
        feeds.push((
            name.to_string(),
            RtTensor::new(RtData::U32(k.clone()), vec![k.len()]).unwrap(),
        ));
    }
    let out = session.run(feeds).unwrap();
    let (_, t) = out.iter().find(|(name, _)| name == "logits").unwrap();
    let RtData::F32(v) = t.data() else {
        panic!("logits are not float32")
    };
    v.clone()
}

#[test]
fn quick_training_exports_a_model_that_tract_runs_like_burn_under_each_tasks_keys() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = options("parity", 0);
    let (model, history, ..) = rbnn::fit_rbnn(&o, "rbnn").unwrap();
    assert!(history.last("loss").unwrap().is_finite());
    assert_eq!(model.taps(), vec![16 * 9, 32 * 9, 64 * 16]);
    let bytes = rbnn::export(&model, &o, &[]).unwrap();
    let cases = rbnn::parity_cases(&model, 8, 99).unwrap();
    assert_eq!(cases.len(), 8);
    // Every case carries the keys of its task (tasks in turn).
    let taps = model.taps();
    for (c, case) in cases.iter().enumerate() {
        let want = rbnn::task_keys(Task::ALL[c % 4], rbnn::ROOT_KEY, &taps);
        for (l, name) in rbnn::KEY_INPUTS.iter().enumerate() {
            let a = case.inputs.iter().find(|a| a.name == *name).unwrap();
            assert_eq!(a.words.as_ref(), Some(&want[l]), "case {c} {name}");
            assert_eq!(a.dims, vec![taps[l].div_ceil(32)]);
        }
    }
    let worst = check_tract(&bytes, &cases, &rbnn::TOLERANCES).unwrap();
    assert_eq!(worst.len(), 1, "{worst:?}");
    eprintln!("burn vs tract, largest |diff|: {worst:?}");
    // The JSON the Node and Python checks read: keys as uint32 integers.
    let dir = o.runs.join("cases");
    let model_path = dir.join("rbnn.onnx");
    edgewise_train::parity::write_cases(&dir, "rbnn", &model_path, &rbnn::TOLERANCES, &cases)
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rbnn.json")).unwrap()).unwrap();
    let key0 = &doc["cases"][0]["inputs"][1];
    assert_eq!(key0["name"], "key0");
    assert_eq!(key0["dtype"], "uint32");
    let words: Vec<u64> = key0["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let want: Vec<u64> = cases[0].inputs[1]
        .words
        .as_ref()
        .unwrap()
        .iter()
        .map(|&w| w as u64)
        .collect();
    assert_eq!(words, want);
    assert!(doc["cases"][0]["inputs"][0].get("dtype").is_none());
    for file in ["metrics.csv", "curve.png", "model.bpk", "state.json"] {
        assert!(o.runs.join("rbnn").join(file).exists(), "{file}");
    }
}

#[test]
fn another_tasks_keys_or_another_root_change_the_logits() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = options("keys", 1);
    let (model, ..) = rbnn::fit_rbnn(&o, "rbnn").unwrap();
    let bytes = rbnn::export(&model, &o, &[]).unwrap();
    let mut session = Session::new(&bytes, &SessionOptions::default()).unwrap();
    let taps = model.taps();
    let split = edgewise_data::glyphs::split(Task::Digits, 16, 5).unwrap();
    let digits = rbnn::task_keys(Task::Digits, rbnn::ROOT_KEY, &taps);
    let base = run(&mut session, &split.images, &digits);
    assert_eq!(base.len(), 16 * 10);
    assert_eq!(base, run(&mut session, &split.images, &digits), "same keys");
    let others = [
        rbnn::task_keys(Task::Letters, rbnn::ROOT_KEY, &taps),
        rbnn::task_keys(Task::Digits, rbnn::WRONG_ROOT, &taps),
    ];
    for keys in others {
        assert_ne!(keys, digits);
        let got = run(&mut session, &split.images, &keys);
        let diff = got
            .iter()
            .zip(&base)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // Half of every layer's taps flip: the logits move by many steps of 2·scale.
        assert!(diff > 0.1, "largest logit change {diff}");
        let moved = got
            .chunks(10)
            .zip(base.chunks(10))
            .filter(|(a, b)| a.iter().zip(*b).any(|(x, y)| (x - y).abs() > 1e-3))
            .count();
        assert_eq!(moved, 16, "every image's logits change");
    }
}

#[test]
fn packed_weights_are_the_signs_of_the_latent_weights_and_keys_flip_them() {
    // A hand-made case: taps 0..35, weight +1 for w ≥ 0 (zero included).
    let w: Vec<f32> = (0..35)
        .map(|k| match k % 4 {
            0 => 0.5,
            1 => -0.25,
            2 => 0.0,
            _ => -0.0,
        })
        .collect();
    let p = pack_signs(&w, 1, 35).unwrap();
    // Bits 0, 2, 3 of every 4 are set (−0 ≥ 0); taps 32..35 are k%4 = 0, 1, 2.
    assert_eq!(p, vec![0xDDDD_DDDD, 0b101]);
    assert!(pack_signs(&w, 2, 35).is_err());

    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = options("packed", 2);
    let (model, ..) = rbnn::fit_rbnn(&o, "rbnn").unwrap();
    let taps = model.taps();
    let keys = rbnn::task_keys(Task::Shapes, rbnn::ROOT_KEY, &taps);
    let layers: Vec<(Vec<u32>, Vec<f32>)> = model
        .convs
        .iter()
        .map(|c| (c.packed().unwrap(), values(&c.weight.val()).unwrap()))
        .chain([(
            model.head.packed().unwrap(),
            values(&model.head.weight.val()).unwrap(),
        )])
        .collect();
    for (l, (packed, latent)) in layers.iter().enumerate() {
        let k = taps[l];
        let words = k.div_ceil(32);
        let rows = latent.len() / k;
        assert_eq!(packed.len(), rows * words, "layer {l}");
        let mut positive = 0;
        for r in 0..rows {
            for t in 0..words * 32 {
                let bit = (packed[r * words + t / 32] >> (t % 32)) & 1;
                if t >= k {
                    assert_eq!(bit, 0, "layer {l} row {r}: padding bit {t}");
                    continue;
                }
                let w = latent[r * k + t];
                assert_eq!(bit == 1, w >= 0.0, "layer {l} row {r} tap {t}: {w}");
                positive += bit as usize;
                // The operator uses W XOR key; training uses sign(w)·(−1 where the key bit
                // is set): the same weight.
                let keyed = ((packed[r * words + t / 32] ^ keys[l][t / 32]) >> (t % 32)) & 1;
                let key_bit = (keys[l][t / 32] >> (t % 32)) & 1;
                let trained =
                    if w >= 0.0 { 1.0 } else { -1.0 } * if key_bit == 1 { -1.0 } else { 1.0 };
                assert_eq!(keyed == 1, trained > 0.0);
            }
        }
        // Not all one sign: the latent weights were read, not a constant.
        assert!(
            positive > 0 && positive < rows * k,
            "layer {l}: {positive} of {}",
            rows * k
        );
    }
}

#[test]
fn the_sign_is_exact_and_passes_gradients_where_the_input_is_within_one() {
    let device = Device::flex().autodiff();
    let x = Tensor::<1>::from_data(
        TensorData::new(vec![-2.0f32, -1.0, -0.3, 0.0, 0.7, 1.5], [6]),
        &device,
    )
    .require_grad();
    let y = sign_ste(x.clone());
    assert_eq!(values(&y).unwrap(), vec![-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]);
    let weights = Tensor::<1>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [6]),
        &device,
    );
    let grads = (y * weights).sum().backward();
    let g = values(&x.grad(&grads).unwrap()).unwrap();
    assert_eq!(g, vec![0.0, 2.0, 3.0, 4.0, 5.0, 0.0]);
}

#[test]
fn the_same_seed_gives_the_same_model_and_the_manifest_describes_the_keys() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let a = systems::train("rbnn", &options("seed-a", 3)).unwrap();
    let b = systems::train("rbnn", &options("seed-b", 3)).unwrap();
    let c = systems::train("rbnn", &options("seed-c", 4)).unwrap();
    assert!(a.bytes == b.bytes, "same seed, different bytes");
    assert!(a.bytes != c.bytes, "another seed, same bytes");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rbnn-seed-b/onnx/manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let m = &manifest["models"]["rbnn"];
    assert_eq!(m["sha256"], edgewise_train::export::sha256(&b.bytes));
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs[0]["shape"], serde_json::json!(["batch", 1, 16, 16]));
    for (l, taps) in [144usize, 288, 1024].iter().enumerate() {
        let i = &inputs[l + 1];
        assert_eq!(i["name"], format!("key{l}"));
        assert_eq!(i["type"], "uint32");
        assert_eq!(i["shape"], serde_json::json!([taps.div_ceil(32)]));
        assert_eq!(m["helper"]["layers"][l]["taps"], *taps);
        assert_eq!(m["helper"]["layers"][l]["input"], format!("key{l}"));
    }
    let root = u64::from_str_radix(m["helper"]["root_key"].as_str().unwrap(), 16).unwrap();
    assert_eq!(root, rbnn::ROOT_KEY);
    assert_eq!(
        m["helper"]["tasks"],
        serde_json::json!(["digits", "letters", "shapes", "symbols"])
    );
    assert_eq!(m["helper"]["classes"]["letters"][9], "J");
    assert_eq!(m["outputs"][0]["shape"], serde_json::json!(["batch", 10]));
}
