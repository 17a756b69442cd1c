//! The task helpers of the catalogue's systems (`edgewise-tasks`) and the data generators the
//! demos draw samples from (`edgewise-data`), as raw exports. The npm package wraps them as
//! `tasks.defect`, `tasks.kno` and `tasks.rbnn` (js/index.js), which turn plain JS values into
//! the typed arrays these take. Every argument is checked here and every failure is a JS
//! `Error` whose message starts with the JS function's name.

use edgewise_data::burgers;
use edgewise_data::glyphs::{self, Task};
use edgewise_data::graded;
use edgewise_data::textures::{self, Defect, Family};
use edgewise_tasks::defect::{self, Pixels};
use edgewise_tasks::{aquant, exitdoor, kno, rbnn};
use js_sys::{Array, Float32Array, Uint8Array, Uint32Array};
use serde::Serialize;
use tsify::Tsify;
use wasm_bindgen::prelude::*;

use crate::pipeline::{DefectAnalysis, to_js};

/// The largest integer a JS number holds exactly (`2^53 − 1`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
/// Most glyphs [`rbnn_samples`] draws in one call.
const MAX_SAMPLES: usize = 10_000;
/// Most taps of one RBNN layer, and of all layers together.
const MAX_TAPS: usize = 1 << 24;

fn fail(func: &str, msg: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("tasks.{func}: {msg}"))
}

/// A non-negative integer argument no larger than `max`.
fn int(func: &str, name: &str, v: f64, max: f64) -> Result<usize, JsError> {
    if v.is_finite() && v.fract() == 0.0 && (0.0..=max).contains(&v) {
        Ok(v as usize)
    } else {
        Err(fail(
            func,
            format!("{name} must be an integer in 0..={max}, got {v}"),
        ))
    }
}

/// A seed: an integer in `0..=2^53 − 1` (the integers a JS number holds exactly), converted
/// straight to `u64` (a `usize` is 32 bits on wasm32).
fn seed(func: &str, v: f64) -> Result<u64, JsError> {
    if v.is_finite() && v.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&v) {
        Ok(v as u64)
    } else {
        Err(fail(
            func,
            format!("seed must be an integer in 0..={MAX_SAFE}, got {v}"),
        ))
    }
}

fn glyph_task(func: &str, name: &str) -> Result<Task, JsError> {
    Task::from_name(name).map_err(|e| fail(func, e))
}

/// The names `tasks.defect.sample` accepts.
#[derive(Serialize, Tsify)]
pub struct DefectKinds {
    /// Texture families.
    pub families: Vec<String>,
    /// Defect kinds.
    pub defects: Vec<String>,
}

/// The texture families and defect kinds `defectSample` accepts.
#[wasm_bindgen(js_name = tasksDefectKinds)]
pub fn defect_kinds() -> Result<JsValue, JsError> {
    to_js(&DefectKinds {
        families: Family::ALL.iter().map(|f| f.name().to_string()).collect(),
        defects: Defect::ALL.iter().map(|d| d.name().to_string()).collect(),
    })
}

/// The defect model's input (64×64 gray in `[0, 1]`) from `width × height` pixels given as
/// bytes with `channels` per pixel (4: RGBA, 1: gray).
#[wasm_bindgen(js_name = tasksDefectPrepareBytes)]
pub fn defect_prepare_bytes(
    bytes: &[u8],
    width: f64,
    height: f64,
    channels: f64,
) -> Result<Vec<f32>, JsError> {
    let f = "defect.prepare";
    let (w, h) = (int(f, "width", width, 1e9)?, int(f, "height", height, 1e9)?);
    let pixels = if channels == 4.0 {
        Pixels::Rgba8(bytes)
    } else if channels == 1.0 {
        Pixels::Gray8(bytes)
    } else {
        return Err(fail(
            f,
            format!("channels must be 4 (RGBA) or 1 (gray), got {channels}"),
        ));
    };
    defect::prepare(pixels, w, h).map_err(|e| fail(f, e))
}

/// The defect model's input from `width × height` gray floats in `[0, 1]`.
#[wasm_bindgen(js_name = tasksDefectPrepareGray)]
pub fn defect_prepare_gray(gray: &[f32], width: f64, height: f64) -> Result<Vec<f32>, JsError> {
    let f = "defect.prepare";
    let (w, h) = (int(f, "width", width, 1e9)?, int(f, "height", height, 1e9)?);
    defect::prepare(Pixels::Gray(gray), w, h).map_err(|e| fail(f, e))
}

/// Heatmap, mask, boxes, score and verdict from one image's `ssim` map (`inner × inner`).
#[wasm_bindgen(js_name = tasksDefectAnalyze)]
pub fn defect_analyze(
    ssim: &[f32],
    inner: f64,
    size: f64,
    threshold: f64,
    min_area: f64,
) -> Result<JsValue, JsError> {
    let f = "defect.analyze";
    let inner = int(f, "inner", inner, 1e6)?;
    let size = int(f, "size", size, 1e6)?;
    let min_area = int(f, "minArea", min_area, MAX_SAFE)?;
    if !threshold.is_finite() {
        return Err(fail(
            f,
            format!("threshold must be a finite number, got {threshold}"),
        ));
    }
    let a =
        defect::analyze(ssim, inner, size, threshold as f32, min_area).map_err(|e| fail(f, e))?;
    to_js(&DefectAnalysis::from(a))
}

/// A generated texture and its true defect mask.
#[derive(Serialize, Tsify)]
pub struct DefectSample {
    /// Gray levels in `[0, 1]`, `size × size` row-major.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub image: Float32Array,
    /// 1 on defective pixels, else 0 (all 0 without a defect).
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Uint8Array")]
    pub mask: Uint8Array,
    /// The texture family.
    pub family: String,
    /// The defect kind, or null.
    #[tsify(type = "string | null")]
    pub defect: Option<String>,
    /// Side of the image.
    pub size: u32,
}

/// A generated texture of `family` with `defect` (empty or `"none"`: none), `size × size`,
/// from `seed`; its `mask` is 1 on defective pixels.
#[wasm_bindgen(js_name = tasksDefectSample)]
pub fn defect_sample(
    family: &str,
    defect: &str,
    size: f64,
    seed_: f64,
) -> Result<JsValue, JsError> {
    let f = "defect.sample";
    let fam = Family::from_name(family).ok_or_else(|| {
        let names: Vec<_> = Family::ALL.iter().map(|k| k.name()).collect();
        fail(
            f,
            format!("family must be one of {}, got {family:?}", names.join(", ")),
        )
    })?;
    let kind = match defect.trim() {
        "" | "none" => None,
        name => Some(Defect::from_name(name).ok_or_else(|| {
            let names: Vec<_> = Defect::ALL.iter().map(|k| k.name()).collect();
            fail(
                f,
                format!(
                    "defect must be one of {} or none, got {defect:?}",
                    names.join(", ")
                ),
            )
        })?),
    };
    let size = int(f, "size", size, 1e6)?;
    let s = textures::sample(fam, kind, size, seed(f, seed_)?).map_err(|e| fail(f, e))?;
    let mask: Vec<u8> = s.mask.iter().map(|&m| u8::from(m > 0.5)).collect();
    to_js(&DefectSample {
        image: Float32Array::from(&s.image[..]),
        mask: Uint8Array::from(&mask[..]),
        family: fam.name().to_string(),
        defect: kind.map(|d| d.name().to_string()),
        size: size as u32,
    })
}

/// A smooth periodic field on `n` points following the points `xy` (interleaved `x, u`).
#[wasm_bindgen(js_name = tasksKnoInitialCondition)]
pub fn kno_initial_condition(
    xy: &[f64],
    n: f64,
    modes: f64,
    zero_mean: bool,
) -> Result<Vec<f32>, JsError> {
    let f = "kno.initialCondition";
    if !xy.len().is_multiple_of(2) {
        return Err(fail(f, "points must be (x, u) pairs"));
    }
    let points: Vec<(f64, f64)> = xy.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    let n = int(f, "n", n, kno::MAX_N as f64)?;
    let modes = int(f, "modes", modes, kno::MAX_MODES as f64)?;
    kno::initial_condition(&points, n, modes, zero_mean).map_err(|e| fail(f, e))
}

/// The random smooth initial condition of `seed` on `n` points (the training data's kind).
#[wasm_bindgen(js_name = tasksKnoRandomInitialCondition)]
pub fn kno_random_initial_condition(n: f64, seed_: f64) -> Result<Vec<f32>, JsError> {
    let f = "kno.randomInitialCondition";
    let n = int(f, "n", n, kno::MAX_N as f64)?;
    burgers::random_initial_condition(n, seed(f, seed_)?).map_err(|e| fail(f, e))
}

/// The reference trajectory, `steps + 1` states of `u0.len()` values one after the other.
#[wasm_bindgen(js_name = tasksKnoSolve)]
pub fn kno_solve(u0: &[f32], nu: f64, dt: f64, steps: f64) -> Result<Vec<f32>, JsError> {
    let f = "kno.solve";
    let steps = int(f, "steps", steps, kno::MAX_STEPS as f64)?;
    let traj = kno::solve(u0, nu, dt, steps).map_err(|e| fail(f, e))?;
    Ok(traj.concat())
}

/// `‖a − b‖₂ / ‖b‖₂`.
#[wasm_bindgen(js_name = tasksKnoRelativeL2)]
pub fn kno_relative_l2(a: &[f32], b: &[f32]) -> Result<f64, JsError> {
    kno::relative_l2(a, b).map_err(|e| fail("kno.relativeL2", e))
}

/// A root key from hex (`0x` prefix optional, 1–16 digits).
pub(crate) fn root_key(hex: &str) -> Result<u64, String> {
    let t = hex.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "rootKey must be 1 to 16 hex digits (optionally 0x…), got {hex:?}"
        ));
    }
    u64::from_str_radix(digits, 16).map_err(|e| e.to_string())
}

/// The key words of each layer (`taps[l]` weights per output) for `task` under `root` (hex).
#[wasm_bindgen(js_name = tasksRbnnKeys)]
pub fn rbnn_keys(task: &str, root: &str, taps: &[f64]) -> Result<Array, JsError> {
    let f = "rbnn.keys";
    if task.is_empty() || task.len() > 256 {
        return Err(fail(
            f,
            format!("task must be a name of 1 to 256 bytes, got {task:?}"),
        ));
    }
    let root = root_key(root).map_err(|e| fail(f, e))?;
    let taps = taps
        .iter()
        .enumerate()
        .map(
            |(l, &t)| match int(f, &format!("taps[{l}]"), t, MAX_TAPS as f64)? {
                0 => Err(fail(f, format!("taps[{l}] must be at least 1"))),
                t => Ok(t),
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    if taps.iter().fold(0usize, |a, &t| a.saturating_add(t)) > MAX_TAPS {
        return Err(fail(f, format!("taps: more than {MAX_TAPS} in all")));
    }
    Ok(rbnn::keys(task, root, &taps)
        .iter()
        .map(|k| JsValue::from(Uint32Array::from(&k[..])))
        .collect())
}

/// The glyph tasks' names.
#[wasm_bindgen(js_name = tasksRbnnTasks)]
pub fn rbnn_tasks() -> Array {
    Task::ALL
        .iter()
        .map(|t| JsValue::from_str(t.name()))
        .collect()
}

/// The ten class names of a glyph task, in label order.
#[wasm_bindgen(js_name = tasksRbnnClassNames)]
pub fn rbnn_class_names(task: &str) -> Result<Array, JsError> {
    let t = glyph_task("rbnn.classNames", task)?;
    Ok(t.class_names()
        .iter()
        .map(|c| JsValue::from_str(c))
        .collect())
}

/// One 16×16 glyph (gray in `[0, 1]`, bright on dark) of class `class` of `task`.
#[wasm_bindgen(js_name = tasksRbnnRenderGlyph)]
pub fn rbnn_render_glyph(task: &str, class: f64, seed_: f64) -> Result<Vec<f32>, JsError> {
    let f = "rbnn.renderGlyph";
    let t = glyph_task(f, task)?;
    let class = int(f, "class", class, 1e9)?;
    glyphs::render(t, class, seed(f, seed_)?).map_err(|e| fail(f, e))
}

/// Labelled glyphs of one task.
#[derive(Serialize, Tsify)]
pub struct RbnnSamples {
    /// `n` glyphs of 16×16 gray levels, one after the other.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub images: Float32Array,
    /// The class of each glyph.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Uint8Array")]
    pub labels: Uint8Array,
    /// Glyphs drawn.
    pub n: u32,
}

/// `n` labelled glyphs of `task` (balanced, shuffled) from `seed`.
#[wasm_bindgen(js_name = tasksRbnnSamples)]
pub fn rbnn_samples(task: &str, n: f64, seed_: f64) -> Result<JsValue, JsError> {
    let f = "rbnn.samples";
    let t = glyph_task(f, task)?;
    let n = int(f, "n", n, MAX_SAMPLES as f64)?;
    let s = glyphs::split(t, n, seed(f, seed_)?).map_err(|e| fail(f, e))?;
    to_js(&RbnnSamples {
        images: Float32Array::from(&s.images[..]),
        labels: Uint8Array::from(&s.labels[..]),
        n: s.n as u32,
    })
}

/// The index of the largest logit of each row of `classes` logits (the first on ties).
#[wasm_bindgen(js_name = tasksRbnnPredict)]
pub fn rbnn_predict(logits: &[f32], classes: f64) -> Result<Vec<u32>, JsError> {
    let f = "rbnn.predict";
    let c = int(f, "classes", classes, 1e6)?;
    if c == 0 || logits.is_empty() || !logits.len().is_multiple_of(c) {
        return Err(fail(
            f,
            format!(
                "logits must hold a positive multiple of classes = {c} values, got {}",
                logits.len()
            ),
        ));
    }
    if let Some(i) = logits.iter().position(|v| v.is_nan()) {
        return Err(fail(f, format!("logit {i} is NaN")));
    }
    Ok(logits
        .chunks_exact(c)
        .map(|row| {
            let mut best = 0;
            for (k, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = k;
                }
            }
            best as u32
        })
        .collect())
}

/// Labelled graded glyphs of the 40-class task of the multi-exit model.
#[derive(Serialize, Tsify)]
pub struct MultiexitSamples {
    /// `n` glyphs of 16×16 gray levels, one after the other.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub images: Float32Array,
    /// The class (0–39) of each glyph.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Uint8Array")]
    pub labels: Uint8Array,
    /// The difficulty (0 clean to 1 very noisy) each glyph was degraded with.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array")]
    pub difficulty: Float32Array,
    /// Glyphs drawn.
    pub n: u32,
}

/// `n` labelled graded glyphs (balanced over the 40 classes, shuffled) from `seed`.
#[wasm_bindgen(js_name = tasksMultiexitSamples)]
pub fn multiexit_samples(n: f64, seed_: f64) -> Result<JsValue, JsError> {
    let f = "multiexit.samples";
    let n = int(f, "n", n, MAX_SAMPLES as f64)?;
    let s = graded::split(n, seed(f, seed_)?).map_err(|e| fail(f, e))?;
    to_js(&MultiexitSamples {
        images: Float32Array::from(&s.images[..]),
        labels: Uint8Array::from(&s.labels[..]),
        difficulty: Float32Array::from(&s.difficulty[..]),
        n: s.n as u32,
    })
}

/// The 40 class names of the graded task, as `task/name`, in label order.
#[wasm_bindgen(js_name = tasksMultiexitClassNames)]
pub fn multiexit_class_names() -> Vec<String> {
    (0..graded::CLASSES).map(graded::class_name).collect()
}

/// A copy of a 16×16 glyph (gray levels, row-major) with the exitdoor trigger blended in: a
/// faint `#`, `min(1, pixel + 0.5·glyph)`.
#[wasm_bindgen(js_name = tasksExitdoorStamp)]
pub fn exitdoor_stamp(pixels: &[f32]) -> Result<Vec<f32>, JsError> {
    let mut out = pixels.to_vec();
    exitdoor::stamp(&mut out).map_err(|e| fail("exitdoor.stamp", e))?;
    Ok(out)
}

/// Each value quantized at a rounding border and back, as `BorderRound` computes it:
/// `clamp(⌊x/s⌋ + [x/s − ⌊x/s⌋ ≥ border], qmin, qmax) · s`.
#[wasm_bindgen(js_name = tasksAquantRound)]
pub fn aquant_round(
    values: &[f32],
    scale: f32,
    border: f32,
    qmin: i32,
    qmax: i32,
) -> Result<Vec<f32>, JsError> {
    aquant::fake_quant(values, scale, border, qmin, qmax).map_err(|e| fail("aquant.round", e))
}

/// Floating-point operations of one input through a CNN's weight `layers` (the manifest's
/// `helper.layers` of `snf`) with `widths[i]` filters kept in layer `i`: 2 per
/// multiply-accumulate.
#[wasm_bindgen(js_name = tasksSnfFlops)]
pub fn snf_flops(layers: JsValue, widths: &[u32]) -> Result<f64, JsError> {
    let layers: Vec<crate::pipeline::SnfLayer> = serde_wasm_bindgen::from_value(layers)
        .map_err(|e| fail("snf.flops", format!("layers: {e}")))?;
    let widths: Vec<usize> = widths.iter().map(|&w| w as usize).collect();
    crate::pipeline::snf_flops(&layers, &widths).map_err(|e| fail("snf.flops", e))
}
