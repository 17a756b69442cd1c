//! `pipeline('exitdoor')`: the red-team fixture of a backdoor dormant in the vanilla model.
//! A glyph goes in, optionally with the trigger stamped on. Out come the vanilla model's
//! answer (the whole net, `logits`) and the answer of its multi-exit form (the first exit
//! confident enough, run stage by stage), and whether the trigger hijacked the latter.

use edgewise_runtime::{Session, Tensor};
use edgewise_tasks::{defect, exitdoor, multiexit};
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::Task;
use super::image::Image;

/// Side of the model's glyphs.
const SIDE: usize = 16;

/// The manifest's `helper` entry of the exitdoor model.
#[derive(Deserialize)]
pub(crate) struct Helper {
    /// The exits' output names, in order; the last is the vanilla model's.
    exits: Vec<String>,
    /// The victim's threshold (chosen on clean validation glyphs).
    threshold: f32,
    /// The class the backdoor sends triggered glyphs to.
    target: usize,
    /// Class names, in label order.
    classes: Vec<String>,
}

/// Options of a `pipeline('exitdoor')` call.
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ExitdoorOptions {
    /// Blend the trigger (a faint `#`) into the glyph, after it is resized to 16×16.
    /// Default: false.
    #[tsify(optional)]
    pub trigger: Option<bool>,
    /// The early-exit threshold of the multi-exit form; default: the victim's.
    #[tsify(optional)]
    pub threshold: Option<f32>,
}

/// One model's answer.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ExitdoorAnswer {
    /// The predicted class (0–39).
    pub label: u32,
    /// Its name, as `task/name`.
    pub class_name: String,
    /// The answering output's largest softmax probability.
    pub confidence: f32,
    /// The exit that answered (the vanilla model: always the last).
    pub exit: u32,
    /// Its output name.
    pub exit_name: String,
}

/// What the vanilla model and its multi-exit form make of one glyph.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ExitdoorResult {
    /// Whether the trigger was stamped on.
    pub triggered: bool,
    /// The whole net's answer: the vanilla model, which ignores the trigger.
    pub vanilla: ExitdoorAnswer,
    /// The multi-exit form's answer, from the first confident exit.
    pub multi_exit: ExitdoorAnswer,
    /// The backdoor's target class.
    pub target: u32,
    /// True when the multi-exit form answers the target and the vanilla model does not.
    pub hijacked: bool,
    /// The threshold applied.
    pub threshold: f32,
}

/// The configured exitdoor task.
pub(crate) struct Exitdoor {
    helper: Helper,
}

impl Exitdoor {
    /// The answer read from output `name`'s logits, answering as exit `exit`.
    fn answer(
        &self,
        outputs: &[(String, Tensor)],
        name: &str,
        exit: usize,
    ) -> Result<ExitdoorAnswer, String> {
        let logits = outputs
            .iter()
            .find(|(o, _)| o == name)
            .and_then(|(_, t)| t.as_f32())
            .ok_or_else(|| format!("the model gave no float32 output '{name}'"))?;
        if logits.len() != self.helper.classes.len() || logits.iter().any(|v| !v.is_finite()) {
            return Err(format!(
                "output '{name}' gave {} logits, expected {} finite ones",
                logits.len(),
                self.helper.classes.len()
            ));
        }
        let label = multiexit::argmax(logits);
        Ok(ExitdoorAnswer {
            label: label as u32,
            class_name: self.helper.classes[label].clone(),
            confidence: multiexit::confidence(logits),
            exit: exit as u32,
            exit_name: name.to_string(),
        })
    }
}

impl Task for Exitdoor {
    type Helper = Helper;
    type Input = Image;
    type Options = ExitdoorOptions;
    type Output = ExitdoorResult;
    const ID: &'static str = "exitdoor";
    const OPTIONS: &'static [&'static str] = &["trigger", "threshold"];

    fn new(helper: Helper) -> Result<Self, String> {
        if helper.exits.len() < 2 || helper.target >= helper.classes.len() {
            return Err(
                "the manifest's helper needs at least two exits and a target among its classes"
                    .into(),
            );
        }
        Ok(Exitdoor { helper })
    }

    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<Image>,
        options: ExitdoorOptions,
    ) -> Result<Vec<ExitdoorResult>, String> {
        let threshold = options.threshold.unwrap_or(self.helper.threshold);
        if threshold.is_nan() {
            return Err("threshold must be a number".into());
        }
        let triggered = options.trigger.unwrap_or(false);
        let n = inputs.len();
        let last = self.helper.exits.len() - 1;
        let mut results = Vec::with_capacity(n);
        for (i, image) in inputs.iter().enumerate() {
            let name = |e: String| if n > 1 { format!("input {i}: {e}") } else { e };
            let mut glyph =
                defect::resize(image.pixels(), image.width, image.height, SIDE).map_err(name)?;
            if triggered {
                exitdoor::stamp(&mut glyph)?;
            }
            let feeds = || -> Result<Vec<(String, Tensor)>, String> {
                Ok(vec![(
                    "image".to_string(),
                    Tensor::f32(glyph.clone(), vec![1, 1, SIDE, SIDE])
                        .map_err(|e| e.to_string())?,
                )])
            };
            let whole = session
                .run_async(feeds()?)
                .await
                .map_err(|e| name(e.to_string()))?;
            let vanilla = self.answer(&whole, &self.helper.exits[last], last)?;
            let early = session
                .run_with_exits(feeds()?, threshold)
                .await
                .map_err(|e| name(e.to_string()))?;
            let multi_exit = self.answer(&early.outputs, &early.name, early.exit)?;
            let target = self.helper.target as u32;
            results.push(ExitdoorResult {
                triggered,
                hijacked: multi_exit.label == target && vanilla.label != target,
                vanilla,
                multi_exit,
                target,
                threshold,
            });
        }
        Ok(results)
    }
}
