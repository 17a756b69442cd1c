//! `pipeline('multiexit')`: a glyph in; its class out, from the first exit of the multi-exit
//! net confident enough (`onnx/multiexit.onnx`, run stage by stage by the runtime).

use edgewise_runtime::{Session, Tensor};
use edgewise_tasks::{defect, multiexit};
use js_sys::Float32Array;
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::Task;
use super::image::Image;

/// Side of the model's glyphs.
const SIDE: usize = 16;

/// The manifest's `helper` entry of the multi-exit model.
#[derive(Deserialize)]
pub(crate) struct Helper {
    /// The exits' output names, in order.
    exits: Vec<String>,
    /// The threshold chosen at training (on a validation set).
    threshold: f32,
    /// Multiply-adds per image up to each exit.
    macs: Vec<f64>,
    /// Class names, in label order.
    classes: Vec<String>,
}

/// Options of a `pipeline('multiexit')` call.
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct MultiexitOptions {
    /// The confidence (largest softmax probability) an exit needs to answer; default: the
    /// threshold the model shipped with. Above 1, the whole net always runs.
    #[tsify(optional)]
    pub threshold: Option<f32>,
}

/// The class of one glyph, and which exit gave it.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct MultiexitResult {
    /// The predicted class (0–39).
    pub label: u32,
    /// Its name, as `task/name` (`digits/7`).
    pub class_name: String,
    /// The answering exit's confidence in it.
    pub confidence: f32,
    /// The exit that answered (0, 1, or the last: the full net).
    pub exit: u32,
    /// Its output name.
    pub exit_name: String,
    /// Stages run, of `stages`.
    pub stages_run: u32,
    /// Stages of the net's exit plan.
    pub stages: u32,
    /// Multiply-adds spent, and what the full net would spend.
    pub macs: f64,
    /// Multiply-adds of the full net.
    pub full_macs: f64,
    /// The threshold applied.
    pub threshold: f32,
    /// Softmax of the answering exit's logits.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub probabilities: Float32Array,
}

/// The configured multi-exit task.
pub(crate) struct Multiexit {
    helper: Helper,
}

impl Task for Multiexit {
    type Helper = Helper;
    type Input = Image;
    type Options = MultiexitOptions;
    type Output = MultiexitResult;
    const ID: &'static str = "multiexit";
    const OPTIONS: &'static [&'static str] = &["threshold"];

    fn new(helper: Helper) -> Result<Self, String> {
        if helper.exits.is_empty() || helper.macs.len() != helper.exits.len() {
            return Err("the manifest's helper needs one multiply-add count per exit".into());
        }
        Ok(Multiexit { helper })
    }

    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<Image>,
        options: MultiexitOptions,
    ) -> Result<Vec<MultiexitResult>, String> {
        let threshold = options.threshold.unwrap_or(self.helper.threshold);
        if threshold.is_nan() {
            return Err("threshold must be a number".into());
        }
        let n = inputs.len();
        let mut results = Vec::with_capacity(n);
        // One image per run: each stops at its own exit.
        for (i, image) in inputs.iter().enumerate() {
            let name = |e: String| if n > 1 { format!("input {i}: {e}") } else { e };
            let glyph =
                defect::resize(image.pixels(), image.width, image.height, SIDE).map_err(name)?;
            let feeds = vec![(
                "image".to_string(),
                Tensor::f32(glyph, vec![1, 1, SIDE, SIDE]).map_err(|e| e.to_string())?,
            )];
            let run = session
                .run_with_exits(feeds, threshold)
                .await
                .map_err(|e| name(e.to_string()))?;
            let (_, t) = run
                .outputs
                .iter()
                .find(|(o, _)| *o == run.name)
                .ok_or_else(|| {
                    format!("the answering exit '{}' is not among the outputs", run.name)
                })?;
            let logits = t
                .as_f32()
                .ok_or_else(|| format!("exit '{}' is not float32", run.name))?;
            if logits.len() != self.helper.classes.len() || logits.iter().any(|v| !v.is_finite()) {
                return Err(format!(
                    "exit '{}' gave {} logits, expected {} finite ones",
                    run.name,
                    logits.len(),
                    self.helper.classes.len()
                ));
            }
            let label = multiexit::argmax(logits);
            results.push(MultiexitResult {
                label: label as u32,
                class_name: self.helper.classes[label].clone(),
                confidence: multiexit::confidence(logits),
                exit: run.exit as u32,
                exit_name: run.name.clone(),
                stages_run: run.stages_run as u32,
                stages: run.stages as u32,
                macs: self.helper.macs.get(run.exit).copied().unwrap_or(f64::NAN),
                full_macs: self.helper.macs.last().copied().unwrap_or(f64::NAN),
                threshold,
                probabilities: Float32Array::from(&multiexit::softmax(logits)[..]),
            });
        }
        Ok(results)
    }
}
