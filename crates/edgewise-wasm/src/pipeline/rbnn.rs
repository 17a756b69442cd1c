//! `pipeline('rbnn')`: a glyph in; its class under the task the keys select out (one binary
//! network reconfigured per task by keys, `onnx/rbnn.onnx`).

use std::collections::BTreeMap;

use edgewise_runtime::{Session, Tensor, TensorData};
use edgewise_tasks::{defect, multiexit, rbnn};
use js_sys::Float32Array;
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::image::Image;
use super::{Task, output_f32};
use crate::tasks::root_key;

/// Side of the model's glyphs.
const SIDE: usize = 16;

/// One binary layer's key input.
#[derive(Deserialize)]
pub(crate) struct Layer {
    /// The model input that takes the layer's key.
    input: String,
    /// Weights per output of the layer.
    taps: usize,
}

/// The manifest's `helper` entry of the RBNN model.
#[derive(Deserialize)]
pub(crate) struct Helper {
    /// The tasks the model was trained on; the first is the default.
    tasks: Vec<String>,
    /// The device root key the shipped model was trained under (hex).
    root_key: String,
    layers: Vec<Layer>,
    /// Class names per task, in label order.
    classes: BTreeMap<String, Vec<String>>,
}

/// Options of a `pipeline('rbnn')` call.
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RbnnOptions {
    /// The task whose keys configure the network: `"digits"` (default), `"letters"`,
    /// `"shapes"` or `"symbols"`.
    #[tsify(optional)]
    pub task: Option<String>,
    /// The device root key (hex; default: the key the shipped model was trained under). Any
    /// other key gives other masks, and the network then guesses.
    #[tsify(optional)]
    pub root_key: Option<String>,
}

/// The class of one glyph.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RbnnResult {
    /// The task the keys selected.
    pub task: String,
    /// The predicted class (the largest logit, the first on ties).
    pub label: u32,
    /// Its name in the task.
    pub class_name: String,
    /// Softmax of the logits, one per class.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub probabilities: Float32Array,
    /// The model's logits, one per class.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub logits: Float32Array,
}

/// The configured RBNN task.
pub(crate) struct Rbnn {
    helper: Helper,
    root: u64,
}

impl Task for Rbnn {
    type Helper = Helper;
    type Input = Image;
    type Options = RbnnOptions;
    type Output = RbnnResult;
    const ID: &'static str = "rbnn";
    const OPTIONS: &'static [&'static str] = &["task", "rootKey"];

    fn new(helper: Helper) -> Result<Self, String> {
        let root = root_key(&helper.root_key).map_err(|e| format!("the manifest's {e}"))?;
        if helper.tasks.is_empty() || helper.layers.is_empty() {
            return Err("the manifest's helper lists no tasks or no layers".into());
        }
        Ok(Rbnn { helper, root })
    }

    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<Image>,
        options: RbnnOptions,
    ) -> Result<Vec<RbnnResult>, String> {
        let task = options.task.unwrap_or_else(|| self.helper.tasks[0].clone());
        let names = self.helper.classes.get(&task).ok_or_else(|| {
            format!(
                "unknown task {task:?} (the model knows {})",
                self.helper.tasks.join(", ")
            )
        })?;
        let root = match &options.root_key {
            Some(hex) => root_key(hex)?,
            None => self.root,
        };
        let n = inputs.len();
        let mut images = Vec::with_capacity(n * SIDE * SIDE);
        for (i, image) in inputs.iter().enumerate() {
            let glyph = defect::resize(image.pixels(), image.width, image.height, SIDE)
                .map_err(|e| if n > 1 { format!("input {i}: {e}") } else { e })?;
            images.extend(glyph);
        }
        let taps: Vec<usize> = self.helper.layers.iter().map(|l| l.taps).collect();
        let mut feeds = vec![(
            "image".to_string(),
            Tensor::f32(images, vec![n, 1, SIDE, SIDE]).map_err(|e| e.to_string())?,
        )];
        for (layer, key) in self
            .helper
            .layers
            .iter()
            .zip(rbnn::keys(&task, root, &taps))
        {
            let len = key.len();
            let t = Tensor::new(TensorData::U32(key), vec![len]).map_err(|e| e.to_string())?;
            feeds.push((layer.input.clone(), t));
        }
        let outputs = session.run_async(feeds).await.map_err(|e| e.to_string())?;
        let (logits, dims) = output_f32(&outputs, "logits")?;
        let classes = names.len();
        if dims != [n, classes] {
            return Err(format!(
                "output 'logits' has shape {dims:?}, expected [{n}, {classes}]"
            ));
        }
        logits
            .chunks_exact(classes)
            .map(|row| {
                if row.iter().any(|v| !v.is_finite()) {
                    return Err("the model returned a non-finite logit".to_string());
                }
                let best = multiexit::argmax(row);
                Ok(RbnnResult {
                    task: task.clone(),
                    label: best as u32,
                    class_name: names[best].clone(),
                    probabilities: Float32Array::from(&multiexit::softmax(row)[..]),
                    logits: Float32Array::from(row),
                })
            })
            .collect()
    }
}
