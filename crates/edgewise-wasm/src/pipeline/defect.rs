//! `pipeline('defect')`: an image in; the anomaly heatmap, the defect mask and boxes, and the
//! verdict out (reconstruction-based defect detection, `onnx/defect.onnx`).

use edgewise_runtime::{Session, Tensor};
use edgewise_tasks::defect::{self, INNER, SIZE};
use js_sys::{Float32Array, Uint8Array};
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::image::Image;
use super::{Task, output_f32};

/// The manifest's `helper` entry of the defect model.
#[derive(Deserialize)]
pub(crate) struct Helper {
    /// The heatmap level chosen in training (on validation images) as the defect threshold.
    threshold: f64,
    /// The SSIM window of the model's `ssim` output.
    window: usize,
}

/// Options of a `pipeline('defect')` call.
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct DefectOptions {
    /// Heatmap level above which a pixel counts as defective (default: the threshold chosen
    /// in training, from the manifest).
    #[tsify(optional)]
    pub threshold: Option<f64>,
    /// Smallest region reported, in heatmap pixels (default 1).
    #[tsify(optional)]
    pub min_area: Option<u32>,
}

/// A connected defective region, in heatmap pixels.
#[derive(Serialize, Tsify)]
pub struct DefectRegion {
    /// Leftmost column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width of the bounding box.
    pub w: u32,
    /// Height of the bounding box.
    pub h: u32,
    /// Pixels in the region.
    pub area: u32,
    /// The highest heatmap level in the region.
    pub score: f32,
}

impl From<&defect::Region> for DefectRegion {
    fn from(b: &defect::Region) -> DefectRegion {
        DefectRegion {
            x: b.x as u32,
            y: b.y as u32,
            w: b.w as u32,
            h: b.h as u32,
            area: b.area as u32,
            score: b.score,
        }
    }
}

/// The square of the caller's image the heatmap covers: its centred square, scaled to the
/// heatmap's side (image x = `crop.x + x · crop.side / size`).
#[derive(Serialize, Tsify)]
pub struct DefectCrop {
    /// Left edge in image pixels.
    pub x: u32,
    /// Top edge in image pixels.
    pub y: u32,
    /// Side in image pixels.
    pub side: u32,
}

/// What the defect helper finds in one image's SSIM map (`tasks.defect.analyze`; the core of
/// [`DefectResult`]).
#[derive(Serialize, Tsify)]
pub struct DefectAnalysis {
    /// Side of the heatmap and the mask (the model's input side, 64).
    pub size: u32,
    /// Anomaly level per pixel (`1 − SSIM` between the image and its reconstruction),
    /// `size × size`, row-major, edges replicated.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub heatmap: Float32Array,
    /// 1 where the heatmap is above the threshold, else 0.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Uint8Array")]
    pub mask: Uint8Array,
    /// The mask's 8-connected regions of at least `minArea` pixels, highest score first.
    pub boxes: Vec<DefectRegion>,
    /// The image's anomaly score: the heatmap's maximum.
    pub score: f32,
    /// Whether the image is defective: some region is left.
    pub flagged: bool,
}

impl From<defect::Analysis> for DefectAnalysis {
    fn from(a: defect::Analysis) -> DefectAnalysis {
        DefectAnalysis {
            size: a.size as u32,
            heatmap: Float32Array::from(&a.heatmap[..]),
            mask: Uint8Array::from(&a.mask[..]),
            boxes: a.boxes.iter().map(DefectRegion::from).collect(),
            score: a.score,
            flagged: a.flagged,
        }
    }
}

/// What `pipeline('defect')` finds in one image: the analysis, and how it was made.
#[derive(Serialize, Tsify)]
pub struct DefectResult {
    /// Heatmap, mask, boxes, score and verdict.
    #[serde(flatten)]
    pub analysis: DefectAnalysis,
    /// The threshold used.
    pub threshold: f64,
    /// Where the heatmap lies in the caller's image.
    pub crop: DefectCrop,
    /// The model's input: the image's centred square as `size × size` gray levels.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub input: Float32Array,
    /// The model's reconstruction of `input`.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub reconstruction: Float32Array,
}

/// The configured defect task.
pub(crate) struct Defect {
    threshold: f64,
}

impl Task for Defect {
    type Helper = Helper;
    type Input = Image;
    type Options = DefectOptions;
    type Output = DefectResult;
    const ID: &'static str = "defect";
    const OPTIONS: &'static [&'static str] = &["threshold", "minArea"];

    fn new(helper: Helper) -> Result<Self, String> {
        if helper.window != SIZE - INNER + 1 {
            return Err(format!(
                "the manifest's SSIM window is {}, this helper's is {}",
                helper.window,
                SIZE - INNER + 1
            ));
        }
        if !helper.threshold.is_finite() {
            return Err("the manifest's threshold is not a finite number".into());
        }
        Ok(Defect {
            threshold: helper.threshold,
        })
    }

    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<Image>,
        options: DefectOptions,
    ) -> Result<Vec<DefectResult>, String> {
        let threshold = options.threshold.unwrap_or(self.threshold);
        let min_area = options.min_area.unwrap_or(1) as usize;
        let per = SIZE * SIZE;
        let mut batch = Vec::with_capacity(inputs.len() * per);
        for (i, image) in inputs.iter().enumerate() {
            let x = defect::prepare(image.pixels(), image.width, image.height).map_err(|e| {
                if inputs.len() > 1 {
                    format!("input {i}: {e}")
                } else {
                    e
                }
            })?;
            batch.extend(x);
        }
        let n = inputs.len();
        let image =
            Tensor::f32(batch.clone(), vec![n, 1, SIZE, SIZE]).map_err(|e| e.to_string())?;
        let outputs = session
            .run_async(vec![("image".into(), image)])
            .await
            .map_err(|e| e.to_string())?;
        let (ssim, dims) = output_f32(&outputs, "ssim")?;
        if dims != [n, 1, INNER, INNER] {
            return Err(format!(
                "output 'ssim' has shape {dims:?}, expected [{n}, 1, {INNER}, {INNER}]"
            ));
        }
        let (recon, _) = output_f32(&outputs, "recon")?;
        if recon.len() != n * per {
            return Err(format!(
                "output 'recon' holds {} values, expected {}",
                recon.len(),
                n * per
            ));
        }
        inputs
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let map = &ssim[i * INNER * INNER..(i + 1) * INNER * INNER];
                let a = defect::analyze(map, INNER, SIZE, threshold as f32, min_area)?;
                let side = image.width.min(image.height);
                Ok(DefectResult {
                    analysis: a.into(),
                    threshold,
                    crop: DefectCrop {
                        x: ((image.width - side) / 2) as u32,
                        y: ((image.height - side) / 2) as u32,
                        side: side as u32,
                    },
                    input: Float32Array::from(&batch[i * per..(i + 1) * per]),
                    reconstruction: Float32Array::from(&recon[i * per..(i + 1) * per]),
                })
            })
            .collect()
    }
}
