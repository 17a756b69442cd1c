//! `pipeline('aquant')`: a glyph in; its class out, from the multiexit classifier quantized by
//! AQuant (`onnx/aquant.onnx`: 4-bit weights, every layer's input rounded to 4 bits at learned
//! borders by `BorderRound`). The whole net runs, in one batch for all inputs.

use edgewise_runtime::Session;
use js_sys::Float32Array;
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::image::Image;
use super::{Task, glyph};

/// The manifest's `helper` entry of the quantized model.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Helper {
    /// The method that quantized it (`aquant`).
    method: String,
    /// Bits per weight.
    weight_bits: u32,
    /// Bits per activation.
    activation_bits: u32,
    /// Class names, in label order.
    classes: Vec<String>,
}

/// Options of a `pipeline('aquant')` call (none yet).
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct AquantOptions {}

/// The class of one glyph by the quantized model.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct AquantResult {
    /// The predicted class (0–39).
    pub label: u32,
    /// Its name, as `task/name` (`digits/7`).
    pub class_name: String,
    /// The largest softmax probability.
    pub confidence: f32,
    /// Softmax of the logits.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub probabilities: Float32Array,
    /// Bits per weight of the model.
    pub weight_bits: u32,
    /// Bits per activation of the model.
    pub activation_bits: u32,
    /// The quantization method (`aquant`).
    pub method: String,
}

/// The configured quantized classifier.
pub(crate) struct Aquant {
    helper: Helper,
}

impl Task for Aquant {
    type Helper = Helper;
    type Input = Image;
    type Options = AquantOptions;
    type Output = AquantResult;
    const ID: &'static str = "aquant";
    const OPTIONS: &'static [&'static str] = &[];

    fn new(helper: Helper) -> Result<Self, String> {
        if helper.classes.is_empty() {
            return Err("the manifest's helper lists no classes".into());
        }
        Ok(Aquant { helper })
    }

    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<Image>,
        _options: AquantOptions,
    ) -> Result<Vec<AquantResult>, String> {
        let classes = self.helper.classes.len();
        let rows = glyph::logits(session, &inputs, classes).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let t = glyph::top(row);
                AquantResult {
                    label: t.label as u32,
                    class_name: self.helper.classes[t.label].clone(),
                    confidence: t.confidence,
                    probabilities: t.probabilities,
                    weight_bits: self.helper.weight_bits,
                    activation_bits: self.helper.activation_bits,
                    method: self.helper.method.clone(),
                }
            })
            .collect())
    }
}
