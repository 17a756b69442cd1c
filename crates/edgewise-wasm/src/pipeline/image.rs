//! Images as the pipelines take them: an `ImageData`, or any `{ data, width, height }`.

use edgewise_tasks::defect::Pixels;
use js_sys::{Array, Float32Array, Uint8Array, Uint8ClampedArray};
use serde::Deserialize;
use tsify::Tsify;
use wasm_bindgen::{JsCast, JsValue};

use super::FromJs;

/// An image, row-major: an `ImageData` (from a canvas, `createImageBitmap` or a decoder), or
/// any object with the same three fields.
#[derive(Deserialize, Tsify)]
pub struct ImageInput {
    /// RGBA bytes (4 per pixel, as `ImageData.data`), gray bytes (1 per pixel), or gray
    /// levels in `[0, 1]` (1 float per pixel).
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Uint8ClampedArray | Uint8Array | Float32Array | number[]")]
    pub data: JsValue,
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

/// An image's pixels copied out of JS.
enum Data {
    Rgba(Vec<u8>),
    Gray8(Vec<u8>),
    Gray(Vec<f32>),
}

/// An [`ImageInput`] read into wasm memory, its size checked against its data.
pub(crate) struct Image {
    pub width: usize,
    pub height: usize,
    data: Data,
}

impl Image {
    /// The pixels as the task helpers take them.
    pub fn pixels(&self) -> Pixels<'_> {
        match &self.data {
            Data::Rgba(b) => Pixels::Rgba8(b),
            Data::Gray8(b) => Pixels::Gray8(b),
            Data::Gray(f) => Pixels::Gray(f),
        }
    }
}

fn floats(array: &Array) -> Result<Vec<f32>, String> {
    array
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| format!("data[{i}] is not a number"))
        })
        .collect()
}

impl FromJs for Image {
    fn from_js(value: JsValue) -> Result<Image, String> {
        let raw: ImageInput = serde_wasm_bindgen::from_value(value)
            .map_err(|e| format!("an image is an ImageData or {{ data, width, height }} ({e})"))?;
        let (width, height) = (raw.width as usize, raw.height as usize);
        let pixels = width
            .checked_mul(height)
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("the image is {width}×{height}: no pixels, or too many"))?;
        let bytes = if let Some(b) = raw.data.dyn_ref::<Uint8ClampedArray>() {
            Some(b.to_vec())
        } else {
            raw.data.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
        };
        let data = if let Some(bytes) = bytes {
            if Some(bytes.len()) == pixels.checked_mul(4) {
                Data::Rgba(bytes)
            } else if bytes.len() == pixels {
                Data::Gray8(bytes)
            } else {
                return Err(format!(
                    "data holds {} bytes for {width}×{height} pixels: expected 4 per pixel \
                     (RGBA) or 1 (gray)",
                    bytes.len()
                ));
            }
        } else {
            let gray = if let Some(f) = raw.data.dyn_ref::<Float32Array>() {
                f.to_vec()
            } else if let Some(a) = raw.data.dyn_ref::<Array>() {
                floats(a)?
            } else {
                return Err(
                    "data must be a Uint8ClampedArray, Uint8Array, Float32Array or an array \
                     of numbers"
                        .into(),
                );
            };
            if gray.len() != pixels {
                return Err(format!(
                    "data holds {} gray levels for {width}×{height} pixels",
                    gray.len()
                ));
            }
            Data::Gray(gray)
        };
        Ok(Image {
            width,
            height,
            data,
        })
    }
}

/// Float values from a `Float32Array` or an array of numbers.
pub(crate) fn float_values(value: &JsValue, what: &str) -> Result<Vec<f32>, String> {
    if let Some(f) = value.dyn_ref::<Float32Array>() {
        Ok(f.to_vec())
    } else if let Some(a) = value.dyn_ref::<Array>() {
        floats(a).map_err(|e| format!("{what}: {e}"))
    } else {
        Err(format!(
            "{what} must be a Float32Array or an array of numbers"
        ))
    }
}
