//! `pipeline('snf')`: a glyph in; its class out, from the multiexit classifier pruned by SNF
//! (`onnx/snf.onnx`: whole filters removed to half the operations, fine-tuned). The whole net
//! runs, in one batch for all inputs; each result says what the model costs.

use edgewise_runtime::Session;
use edgewise_tasks::snf;
use js_sys::Float32Array;
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::image::Image;
use super::{Task, glyph};

/// One weight layer as its cost depends on filter counts (the manifest's `helper.layers` of
/// `snf` hold these, with each layer's `name` and whether it is `prunable`).
#[derive(Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct SnfLayer {
    /// Its full filter count.
    pub filters: usize,
    /// Its input channels when they do not come from a layer.
    pub in_channels: usize,
    /// The layer whose filters are its input channels, or `null`.
    #[tsify(type = "number | null")]
    pub from: Option<usize>,
    /// Multiply-accumulates per (filter, input channel) pair.
    pub unit: u64,
}

impl SnfLayer {
    /// The layer as the cost rule takes it.
    pub(crate) fn cost(&self) -> snf::Layer {
        snf::Layer {
            filters: self.filters,
            in_channels: self.in_channels,
            from: self.from,
            unit: self.unit,
        }
    }
}

/// Floating-point operations of one input through `layers` at `widths` (2 per
/// multiply-accumulate).
pub(crate) fn flops(layers: &[SnfLayer], widths: &[usize]) -> Result<f64, String> {
    let cost: Vec<snf::Layer> = layers.iter().map(SnfLayer::cost).collect();
    Ok(2.0 * snf::macs(&cost, widths)? as f64)
}

/// The manifest's `helper` entry of the pruned model.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Helper {
    /// The method that chose the filter counts (`snf`).
    method: String,
    /// Filters kept per weight layer.
    widths: Vec<usize>,
    /// The weight layers of the full model.
    layers: Vec<SnfLayer>,
    /// Class names, in label order.
    classes: Vec<String>,
}

/// Options of a `pipeline('snf')` call (none yet).
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct SnfOptions {}

/// The class of one glyph by the pruned model.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct SnfResult {
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
    /// Floating-point operations of the pruned model per glyph.
    pub flops: f64,
    /// Those of the full model.
    pub full_flops: f64,
    /// Filters kept per weight layer.
    pub widths: Vec<u32>,
    /// How the filter counts were chosen (`snf`).
    pub method: String,
}

/// The configured pruned classifier.
pub(crate) struct Snf {
    helper: Helper,
    flops: f64,
    full_flops: f64,
}

impl Task for Snf {
    type Helper = Helper;
    type Input = Image;
    type Options = SnfOptions;
    type Output = SnfResult;
    const ID: &'static str = "snf";
    const OPTIONS: &'static [&'static str] = &[];

    fn new(helper: Helper) -> Result<Self, String> {
        if helper.classes.is_empty() {
            return Err("the manifest's helper lists no classes".into());
        }
        let full: Vec<usize> = helper.layers.iter().map(|l| l.filters).collect();
        let full_flops = flops(&helper.layers, &full)?;
        let flops = flops(&helper.layers, &helper.widths)?;
        Ok(Snf {
            helper,
            flops,
            full_flops,
        })
    }

    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<Image>,
        _options: SnfOptions,
    ) -> Result<Vec<SnfResult>, String> {
        let classes = self.helper.classes.len();
        let rows = glyph::logits(session, &inputs, classes).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let t = glyph::top(row);
                SnfResult {
                    label: t.label as u32,
                    class_name: self.helper.classes[t.label].clone(),
                    confidence: t.confidence,
                    probabilities: t.probabilities,
                    flops: self.flops,
                    full_flops: self.full_flops,
                    widths: self.helper.widths.iter().map(|&w| w as u32).collect(),
                    method: self.helper.method.clone(),
                }
            })
            .collect())
    }
}
