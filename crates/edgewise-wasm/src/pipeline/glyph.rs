//! What the glyph classifiers of the catalogue share: the inputs resized to 16×16 glyphs and
//! run as one batch, the final classifier's `logits` read back, one row per input, and each
//! row read as a class.

use edgewise_runtime::{Session, Tensor};
use edgewise_tasks::{defect, multiexit};
use js_sys::Float32Array;

use super::image::Image;

/// Side of the models' glyphs.
pub(crate) const SIDE: usize = 16;
/// The output read: the full net's classifier.
const LOGITS: &str = "logits";

/// The `logits` of each input (`classes` values each), from one batched run of `session`.
pub(crate) async fn logits(
    session: &mut Session,
    inputs: &[Image],
    classes: usize,
) -> Result<Vec<Vec<f32>>, String> {
    let n = inputs.len();
    let mut batch = Vec::with_capacity(n * SIDE * SIDE);
    for (i, image) in inputs.iter().enumerate() {
        let glyph = defect::resize(image.pixels(), image.width, image.height, SIDE)
            .map_err(|e| if n > 1 { format!("input {i}: {e}") } else { e })?;
        batch.extend(glyph);
    }
    let feeds = vec![(
        "image".to_string(),
        Tensor::f32(batch, vec![n, 1, SIDE, SIDE]).map_err(|e| e.to_string())?,
    )];
    let outputs = session.run_async(feeds).await.map_err(|e| e.to_string())?;
    let logits = outputs
        .iter()
        .find(|(o, _)| o == LOGITS)
        .and_then(|(_, t)| t.as_f32())
        .ok_or_else(|| format!("the model gave no float32 output '{LOGITS}'"))?;
    if logits.len() != n * classes || logits.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "'{LOGITS}' gave {} values, expected {} finite ones",
            logits.len(),
            n * classes
        ));
    }
    Ok(logits.chunks(classes).map(<[f32]>::to_vec).collect())
}

/// A row of logits read as a class.
pub(crate) struct Top {
    /// The largest logit's index.
    pub label: usize,
    /// Its softmax probability.
    pub confidence: f32,
    /// The softmax of the row.
    pub probabilities: Float32Array,
}

/// The class of a row of logits.
pub(crate) fn top(row: &[f32]) -> Top {
    Top {
        label: multiexit::argmax(row),
        confidence: multiexit::confidence(row),
        probabilities: Float32Array::from(&multiexit::softmax(row)[..]),
    }
}
