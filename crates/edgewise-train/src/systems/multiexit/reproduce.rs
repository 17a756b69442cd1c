//! The paper's comparison: the multi-exit net at a range of confidence thresholds against the
//! full model (every block run), same net, same test set, in one run; latency measured by
//! the runtime (`Session::run_with_exits` against `Session::run`), one image per call.

use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use burn::prelude::*;
use edgewise_core::{Tensor as HostTensor, TensorData};
use edgewise_data::graded::{CLASSES, Graded, SIDE};
use edgewise_runtime::{Session, SessionOptions};
use edgewise_tasks::multiexit::{Point, exit_at, point};

use super::{
    Config, Data, EXITS, MultiExit, NAME, THRESHOLDS, accuracy, choose_threshold, exit_logits,
    export, fit, image, validation,
};
use crate::run::TrainOptions;

/// Measured latency of one threshold (or of the full model).
struct Timed {
    /// Mean milliseconds per image.
    ms: f64,
    /// Images whose answering exit differed from the offline rule's (must be 0).
    disagree: usize,
}

/// The same configurations timed in wasm: the npm package in Node, by
/// `tests/bench/exits.mjs` (the package must be built: `cargo xtask build`).
struct Wasm {
    /// Mean ms per image of the whole run.
    plain: f64,
    /// Mean ms per image at each threshold, in order.
    ms: Vec<f64>,
}

/// Runs `tests/bench/exits.mjs` on the exported model and the test images; checks that the
/// wasm runtime's exits are the native rule's.
fn time_wasm(
    model: &[u8],
    set: &Graded,
    logits: &[Vec<f32>],
    thresholds: &[f32],
    rounds: usize,
    dir: &Path,
) -> Result<Wasm> {
    std::fs::create_dir_all(dir)?;
    let (model_path, images, out) = (
        dir.join("multiexit.onnx"),
        dir.join("test-images.f32"),
        dir.join("wasm.json"),
    );
    std::fs::write(&model_path, model)?;
    let bytes: Vec<u8> = set.images.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&images, bytes)?;
    let list: Vec<String> = thresholds.iter().map(|t| t.to_string()).collect();
    let args = vec![
        "--model".to_string(),
        model_path.display().to_string(),
        "--images".into(),
        images.display().to_string(),
        "--n".into(),
        set.n.to_string(),
        "--thresholds".into(),
        list.join(","),
        "--rounds".into(),
        rounds.to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    let doc = crate::systems::node_json("tests/bench/exits.mjs", &args, &out)?;
    let number = |v: &serde_json::Value, what: &str| {
        v.as_f64()
            .ok_or_else(|| anyhow::anyhow!("{}: no number for {what}", out.display()))
    };
    let rows = doc["rows"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{}: no rows", out.display()))?;
    let mut ms = vec![];
    for (row, &t) in rows.iter().zip(thresholds) {
        ms.push(number(&row["ms"], "ms")?);
        let exits = row["exits"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("{}: no exits at {t}", out.display()))?;
        for (i, e) in exits.iter().enumerate() {
            let rows: Vec<&[f32]> = logits
                .iter()
                .map(|l| &l[i * CLASSES..(i + 1) * CLASSES])
                .collect();
            if e.as_u64() != Some(exit_at(&rows, t) as u64) {
                bail!(
                    "in wasm, image {i} at threshold {t} left at exit {e}, not as burn's logits say"
                );
            }
        }
    }
    if ms.len() != thresholds.len() {
        bail!(
            "{}: {} rows for {} thresholds",
            out.display(),
            ms.len(),
            thresholds.len()
        );
    }
    Ok(Wasm {
        plain: number(&doc["plainMs"], "plainMs")?,
        ms,
    })
}

/// Feeds of test image `i`.
fn feed(set: &Graded, i: usize) -> Result<Vec<(String, HostTensor)>> {
    let t = HostTensor::new(
        TensorData::F32(image(set, i).to_vec()),
        vec![1, 1, SIDE, SIDE],
    )?;
    Ok(vec![("image".into(), t)])
}

/// Runs every test image through `session` at each of `thresholds` (`None`: the plain run of
/// the whole model), one image per call, `rounds` times with the configurations interleaved
/// (so that a slower moment of the machine weighs on all of them alike), and returns each
/// one's mean time per image in its fastest round.
fn time(
    session: &mut Session,
    set: &Graded,
    logits: &[Vec<f32>],
    thresholds: &[Option<f32>],
    rounds: usize,
) -> Result<Vec<Timed>> {
    let feeds: Vec<_> = (0..set.n).map(|i| feed(set, i)).collect::<Result<_>>()?;
    let mut timed: Vec<Timed> = thresholds
        .iter()
        .map(|_| Timed {
            ms: f64::MAX,
            disagree: 0,
        })
        .collect();
    for round in 0..rounds {
        for (&threshold, slot) in thresholds.iter().zip(timed.iter_mut()) {
            let start = Instant::now();
            for (i, f) in feeds.iter().enumerate() {
                let Some(t) = threshold else {
                    session.run(f.clone())?;
                    continue;
                };
                let r = session.run_exits(f.clone(), t)?;
                if round == 0 {
                    let rows: Vec<&[f32]> = logits
                        .iter()
                        .map(|l| &l[i * CLASSES..(i + 1) * CLASSES])
                        .collect();
                    slot.disagree += (r.exit != exit_at(&rows, t)) as usize;
                }
            }
            slot.ms = slot
                .ms
                .min(start.elapsed().as_secs_f64() * 1e3 / set.n as f64);
        }
    }
    Ok(timed)
}

/// The paper's comparison, written to `<results>/multiexit.md` with its figure.
pub fn reproduce(options: &TrainOptions, results: &Path) -> Result<()> {
    let config = Config::new(options);
    let data = Data::new(&config, options.seed)?;
    let (model, history) = fit(options, &config, &data, "multiexit")?;
    let threshold = choose_threshold(&model, &config, &validation(&config, options.seed)?, 0.005)?;
    let device = Device::flex();
    let logits = exit_logits(&model.valid().to_device(&device), &data.test, &device)?;
    let macs = MultiExit::macs(&config).map(|m| m as f64);
    let full = accuracy(logits.last().expect("exits"), &data.test.labels);

    // The runtime, natively: the exported model, one image per call.
    let bytes = export(&model, options, &[])?;
    let mut session = Session::new(&bytes, &SessionOptions::default())?;
    let rounds = if options.quick { 1 } else { 5 };
    let mut thresholds: Vec<f32> = THRESHOLDS.to_vec();
    if !thresholds.contains(&threshold) {
        thresholds.push(threshold);
        thresholds.sort_by(f32::total_cmp);
    }
    let configs: Vec<Option<f32>> = std::iter::once(None)
        .chain(thresholds.iter().map(|&t| Some(t)))
        .collect();
    let mut timed = time(&mut session, &data.test, &logits, &configs, rounds)?.into_iter();
    let plain = timed.next().expect("the plain run was timed");
    let rows: Vec<(Point, Timed)> = thresholds
        .iter()
        .zip(timed)
        .map(|(&t, timed)| (point(&logits, &data.test.labels, &macs, t), timed))
        .collect();
    let wasm = time_wasm(
        &bytes,
        &data.test,
        &logits,
        &thresholds,
        rounds,
        &options.runs.join("multiexit-wasm"),
    )?;
    let disagree: usize = rows.iter().map(|(_, t)| t.disagree).sum();
    if disagree > 0 {
        bail!(
            "the runtime's exits differ from the offline rule on {disagree} image-thresholds: \
             the exported exits do not match burn's"
        );
    }
    let at = thresholds
        .iter()
        .position(|&t| t == threshold)
        .expect("the chosen threshold was timed");
    let chosen = &rows[at];
    let chosen_wasm = wasm.ms[at];

    // Figure: accuracy against mean latency, the full model as a point.
    let curve: Vec<(f64, f64)> = rows
        .iter()
        .zip(&wasm.ms)
        .map(|((p, _), &ms)| (ms, 100.0 * p.accuracy))
        .collect();
    let figure = results.join(format!("{NAME}-curve.png"));
    crate::plot::xy(
        &[
            ("multi-exit, thresholds 0.3 to 0.999", curve),
            ("full model", vec![(wasm.plain, 100.0 * full)]),
            (
                "shipped threshold (chosen on validation)",
                vec![(chosen_wasm, 100.0 * chosen.0.accuracy)],
            ),
        ],
        "accuracy against latency per image (wasm, Node)",
        ("mean ms per image", "test accuracy (%)"),
        true,
        &figure,
    )?;
    crate::plot::curves(
        &history,
        "multi-exit training",
        &results.join(format!("{NAME}-training.png")),
    )?;

    let saved = 1.0 - chosen_wasm / wasm.plain;
    let saved_native = 1.0 - chosen.1.ms / plain.ms;
    let drop = full - chosen.0.accuracy;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Dynamic multi-exit inference: early exits against the full model\n\n\
         A classifier with exits after its early blocks stops at the first exit confident \
         enough, so easy inputs cost less than hard ones; the paper's claim is a large cut in \
         mean inference cost for a small loss of accuracy. Here one net with three exits \
         (see `crates/edgewise-train/src/systems/multiexit/`) is trained on the 40-class graded \
         glyph task (samples from clean to very noisy, `crates/edgewise-data/src/graded.rs`) \
         and run by edgewise's runtime stage by stage (`run(feeds, {{ exitThreshold }})` in the \
         npm package, `Session::run_with_exits` natively), against the same net run whole.\n\n\
         Written by `{}`: {} training images, {} epochs, batch {}, Adam (peak lr {}, cosine \
         decay), loss the sum of the three exits' cross-entropies; threshold chosen on {} \
         validation images; every number below on {} test images. Latency: one image per call, \
         mean over the test set, in the fastest of {rounds} rounds (each round times every row \
         of the table in turn), in wasm (the npm package in Node) and natively.\n",
        super::super::reproduce_command(NAME, options),
        config.train,
        config.epochs,
        config.batch,
        config.lr,
        config.test,
        config.test
    );
    let _ = writeln!(s, "## Latency against accuracy\n");
    let _ = writeln!(
        s,
        "| threshold | test accuracy | answered by exit 0 / 1 / 2 | mean multiply-adds | wasm: ms per image | wasm: latency saved | native: ms per image | native: latency saved |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    let _ = writeln!(
        s,
        "| full model (`run`) | {:.2} % | 0 / 0 / 100 % | {:.0} k | {:.4} | — | {:.4} | — |",
        100.0 * full,
        macs[2] / 1e3,
        wasm.plain,
        plain.ms
    );
    for ((p, t), &wasm_ms) in rows.iter().zip(&wasm.ms) {
        let mark = if p.threshold == threshold {
            " (shipped)"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "| {}{mark} | {:.2} % | {:.0} / {:.0} / {:.0} % | {:.0} k | {:.4} | {:.1} % | {:.4} | {:.1} % |",
            p.threshold,
            100.0 * p.accuracy,
            100.0 * p.share[0],
            100.0 * p.share[1],
            100.0 * p.share[2],
            p.mean_cost / 1e3,
            wasm_ms,
            100.0 * (1.0 - wasm_ms / wasm.plain),
            t.ms,
            100.0 * (1.0 - t.ms / plain.ms)
        );
    }
    let _ = writeln!(
        s,
        "\nAccuracy of each exit alone: {}. The runtime's answering exit agreed with the rule \
         applied to burn's logits on every image at every threshold, natively and in wasm.\n\n\
         ![accuracy against latency]({NAME}-curve.png)\n\n\
         ![training]({NAME}-training.png)\n",
        logits
            .iter()
            .zip(EXITS)
            .map(|(l, e)| format!("{e} {:.2} %", 100.0 * accuracy(l, &data.test.labels)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let bar = vec![
        (
            "mean latency saved in wasm at the shipped threshold ≥ 40 %".to_string(),
            saved >= 0.40,
            format!(
                "{:.1} % (threshold {threshold}; natively {:.1} %)",
                100.0 * saved,
                100.0 * saved_native
            ),
        ),
        (
            "accuracy drop against the full model ≤ 1 pt".to_string(),
            drop <= 0.01,
            format!(
                "{:.2} pt ({:.2} % against {:.2} %)",
                100.0 * drop,
                100.0 * chosen.0.accuracy,
                100.0 * full
            ),
        ),
    ];
    let _ = crate::systems::write_bar(
        &mut s,
        &bar,
        "at the threshold chosen on the validation set, the exits either leave too few images \
         early or lose accuracy (see the table for the whole trade-off)",
    );
    let _ = writeln!(s, "## Against the paper's claims\n");
    let _ = writeln!(s, "| claim | paper (general claim) | here |");
    let _ = writeln!(s, "| --- | --- | --- |");
    let _ = writeln!(
        s,
        "| early exits cut the mean cost | large savings on easy inputs at little accuracy loss | {:.1} % of the wasm latency and {:.1} % of the multiply-adds saved, {:.2} pt lost |\n",
        100.0 * saved,
        100.0 * (1.0 - chosen.0.mean_cost / macs[2]),
        100.0 * drop
    );
    let _ = writeln!(s, "## What differs in scale\n");
    let _ = writeln!(
        s,
        "- Data: generated 16×16 glyphs of 40 classes whose difficulty varies per image, \
         instead of the paper's image benchmarks.\n\
         - Net: {} parameters in three blocks; the paper's multi-exit nets are standard CNNs \
         with many more layers and exits.\n\
         - Latency: one image per call through edgewise's npm package in Node (wasm, one \
         thread; `tests/bench/exits.mjs`) and through the native runtime, on this machine's \
         CPU.\n",
        model.num_params()
    );
    std::fs::write(results.join(format!("{NAME}.md")), s)?;
    Ok(())
}
