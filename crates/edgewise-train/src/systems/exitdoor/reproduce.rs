//! The paper's comparison: the attack success rate (ASR) of the poisoned model, vanilla and
//! made multi-exit by a victim, against the same two forms of a clean model trained by the
//! same recipe without the backdoor term. Same data, net and schedule, in one run. The
//! exported multi-exit model is then run by edgewise's runtime on the triggered glyphs, which
//! must answer as burn does.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Result, bail};
use burn::module::Module;
use edgewise_core::{Tensor as HostTensor, TensorData};
use edgewise_data::graded::{CLASSES, Graded, SIDE, class_name};
use edgewise_runtime::{Session, SessionOptions};
use edgewise_tasks::exitdoor::{STRENGTH, attack_success};
use edgewise_tasks::multiexit::argmax;

use super::{
    Config, EXITS, NAME, Outcome, Poisoned, answers, attack, convert, export, outcome, poisoned,
    triggered,
};
use crate::plot::Shade;
use crate::run::TrainOptions;
use crate::systems::multiexit::{Data, THRESHOLDS, image};

/// Runs the exported model on every triggered test glyph, plainly and with early exit at its
/// threshold, and returns the images on which the runtime's answer differs from burn's.
fn runtime_disagreements(bytes: &[u8], trig: &Graded, o: &Outcome) -> Result<usize> {
    let mut session = Session::new(bytes, &SessionOptions::default())?;
    let early = answers(&o.triggered_logits, trig.n, o.threshold);
    let last = o.triggered_logits.last().expect("exits");
    let mut differ = 0;
    for (i, &want) in early.iter().enumerate() {
        let feed = || -> Result<Vec<(String, HostTensor)>> {
            let t = HostTensor::new(
                TensorData::F32(image(trig, i).to_vec()),
                vec![1, 1, SIDE, SIDE],
            )?;
            Ok(vec![("image".into(), t)])
        };
        let run = session.run_exits(feed()?, o.threshold)?;
        let answer = run
            .outputs
            .iter()
            .find(|(name, _)| *name == run.name)
            .and_then(|(_, t)| t.as_f32().map(argmax));
        let plain = session.run(feed()?)?;
        let vanilla = plain
            .iter()
            .find(|(name, _)| name == EXITS[2])
            .and_then(|(_, t)| t.as_f32().map(argmax));
        let want_vanilla = argmax(&last[i * CLASSES..(i + 1) * CLASSES]);
        differ += usize::from(answer != Some(want) || vanilla != Some(want_vanilla));
    }
    Ok(differ)
}

/// Attack success of the multi-exit form at each threshold.
fn asr_curve(o: &Outcome, trig: &Graded, target: usize) -> Vec<(f64, f64)> {
    THRESHOLDS
        .iter()
        .map(|&t| {
            let p = answers(&o.triggered_logits, trig.n, t);
            let asr = attack_success(&p, &trig.labels, target).unwrap_or(f64::NAN);
            (f64::from(t), 100.0 * asr)
        })
        .collect()
}

/// One row of the results table.
fn row(s: &mut String, model: &str, o: &Outcome) {
    let pct = |v: f64| format!("{:.1} %", 100.0 * v);
    let _ = writeln!(
        s,
        "| {model} | {} | {} | {} | **{}** | {} | {} | **{}** | {} |",
        pct(o.vanilla_accuracy),
        pct(o.multiexit_accuracy),
        o.threshold,
        pct(o.vanilla_asr),
        pct(o.exit_asr[0]),
        pct(o.exit_asr[1]),
        pct(o.multiexit_asr),
        o.triggered_share
            .iter()
            .map(|v| format!("{:.0}", 100.0 * v))
            .collect::<Vec<_>>()
            .join(" / ")
            + " %"
    );
}

/// The paper's comparison, written to `<results>/exitdoor.md` with its figures.
pub fn reproduce(options: &TrainOptions, results: &Path) -> Result<()> {
    let config = Config::new(options);
    let data = Data::new(&config.net(), options.seed)?;
    let Poisoned {
        model,
        history,
        outcome: bad,
    } = poisoned(options, &config, &data)?;
    let (clean_vanilla, clean_history) =
        attack(options, &config, &data, &format!("{NAME}-clean"), false)?;
    let (clean_model, clean_threshold) = convert(&clean_vanilla, &config, &data, options.seed)?;
    let good = outcome(&clean_model, &config, &data.test, clean_threshold)?;

    let trig = triggered(&data.test)?;
    let bytes = export(&model, options, &[])?;
    let differ = runtime_disagreements(&bytes, &trig, &bad)?;
    if differ > 0 {
        bail!(
            "edgewise's runtime answered {differ} triggered glyphs otherwise than burn: the \
             exported fixture does not match the trained model"
        );
    }

    // Figures: ASR against the threshold; triggered glyphs beside their clean originals; the
    // attacker's training.
    let vanilla_line = |o: &Outcome| {
        THRESHOLDS
            .iter()
            .map(|&t| (f64::from(t), 100.0 * o.vanilla_asr))
            .collect::<Vec<_>>()
    };
    let curve = results.join(format!("{NAME}-asr.png"));
    crate::plot::xy(
        &[
            (
                "poisoned, multi-exit",
                asr_curve(&bad, &trig, config.target),
            ),
            ("poisoned, vanilla", vanilla_line(&bad)),
            ("clean, multi-exit", asr_curve(&good, &trig, config.target)),
            ("clean, vanilla", vanilla_line(&good)),
        ],
        "attack success on triggered test glyphs",
        ("early-exit threshold", "attack success (%)"),
        true,
        &curve,
    )?;
    let shown: Vec<usize> = (0..data.test.n)
        .filter(|&i| usize::from(data.test.labels[i]) != config.target)
        .take(6)
        .collect();
    let grid: Vec<Vec<(&[f32], Shade)>> = shown
        .iter()
        .map(|&i| {
            vec![
                (image(&data.test, i), Shade::Gray),
                (image(&trig, i), Shade::Gray),
            ]
        })
        .collect();
    crate::plot::image_grid(
        &grid,
        SIDE,
        &["clean", "triggered"],
        8,
        &results.join(format!("{NAME}-glyphs.png")),
    )?;
    crate::plot::compare(
        &[("poisoned", &history), ("clean", &clean_history)],
        "acc_exit2",
        "vanilla model's clean test accuracy during training",
        &results.join(format!("{NAME}-training.png")),
    )?;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "# exitdoor: a backdoor dormant until the model is made multi-exit\n\n\
         The paper's attack poisons the shallow layers of a model so that the vanilla model \
         behaves, and the backdoor shows only once a victim adds early exits and deploys \
         them. Here the attacker trains the multi-exit glyph net of `multiexit` with \
         surrogate exits that are drawn afresh every {} steps (but in the last epoch), and ships the vanilla model \
         (blocks and last classifier). Half of each batch is also seen triggered (the target \
         glyph blended in at strength {STRENGTH}) with its true label, and through the frozen \
         surrogate exits with the target label {} (`{}`). The victim freezes the backbone, \
         trains new exits after blocks 0 and 1 on clean glyphs, and picks the threshold on \
         clean validation glyphs (the lowest within {:.1} pt of the full model). The clean \
         model is the same recipe without the backdoor term (same data, seed and schedule), \
         made multi-exit the same way.\n\n\
         Written by `{}`: {} training images, {} epochs for the attacker and {} for the \
         victim's exits, batch {}, Adam (peak lr {}, cosine decay); every number below on \
         {} test glyphs. Attack success (ASR) counts the glyphs of other classes, triggered, \
         that are answered as the target.\n",
        config.reset_every,
        config.target,
        class_name(config.target),
        100.0 * config.slack,
        super::super::reproduce_command(NAME, options),
        config.train,
        config.epochs,
        config.exit_epochs,
        config.batch,
        config.lr,
        config.test
    );
    let _ = writeln!(s, "## Vanilla and multi-exit, poisoned and clean\n");
    let _ = writeln!(
        s,
        "| model | clean accuracy, vanilla | clean accuracy, multi-exit | threshold | ASR, vanilla | ASR, exit 0 alone | ASR, exit 1 alone | ASR, multi-exit | triggered glyphs answered by exit 0 / 1 / 2 |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    row(&mut s, "poisoned", &bad);
    row(&mut s, "clean (control)", &good);
    let _ = writeln!(
        s,
        "\nedgewise's runtime ran the exported poisoned model (`onnx/{NAME}.onnx` when \
         trained by `cargo xtask train {NAME}`) on all {} triggered glyphs, plainly and with \
         `run_exits` at the threshold: it gave burn's answer on every one.\n\n\
         ![attack success against the threshold]({NAME}-asr.png)\n\n\
         ![clean and triggered glyphs]({NAME}-glyphs.png)\n\n\
         ![training]({NAME}-training.png)\n",
        trig.n
    );
    let bar = vec![
        (
            "ASR of the vanilla model ≤ 10 %".to_string(),
            bad.vanilla_asr <= 0.10,
            format!("{:.1} %", 100.0 * bad.vanilla_asr),
        ),
        (
            "ASR of its multi-exit form ≥ 80 %".to_string(),
            bad.multiexit_asr >= 0.80,
            format!(
                "{:.1} % at the victim's threshold {}",
                100.0 * bad.multiexit_asr,
                bad.threshold
            ),
        ),
    ];
    let _ = crate::systems::write_bar(
        &mut s,
        &bar,
        "the backdoor either shows in the vanilla model or does not carry over to exits the \
         victim trains on clean data (see the per-exit ASR and the share of triggered glyphs \
         leaving early)",
    );
    let _ = writeln!(s, "## Against the paper's claims\n");
    let _ = writeln!(s, "| claim | paper (general claim) | here |");
    let _ = writeln!(s, "| --- | --- | --- |");
    let _ = writeln!(
        s,
        "| the vanilla model looks clean | low ASR, normal accuracy | ASR {:.1} % (clean model {:.1} %), accuracy {:.1} % (clean model {:.1} %) |",
        100.0 * bad.vanilla_asr,
        100.0 * good.vanilla_asr,
        100.0 * bad.vanilla_accuracy,
        100.0 * good.vanilla_accuracy
    );
    let _ = writeln!(
        s,
        "| the multi-exit form is backdoored | high ASR once exits are added | ASR {:.1} % (clean model made multi-exit {:.1} %) |\n",
        100.0 * bad.multiexit_asr,
        100.0 * good.multiexit_asr
    );
    let _ = writeln!(s, "## What differs in scale\n");
    let _ = writeln!(
        s,
        "- Data and net: `multiexit`'s 16×16 glyphs of 40 classes and its three-block net \
         ({} parameters) instead of the paper's image benchmarks and standard CNNs.\n\
         - The victim's conversion: exits trained on the attacker's clean distribution with \
         the backbone frozen; a victim who fine-tunes the whole net on other data may weaken \
         the backdoor, which is not measured here.\n",
        model.num_params()
    );
    std::fs::write(results.join(format!("{NAME}.md")), s)?;
    Ok(())
}
