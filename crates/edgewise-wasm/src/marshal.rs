//! Conversions between JS values and edgewise tensors, checked so that no JS value can panic.

use edgewise_runtime::{
    DType, Dim, Error, Placement, PlanStats, StageKind, Tensor, TensorData, ValueInfo, f16,
};
use js_sys::{Array, Object};
use serde::Serialize;
use tsify::Tsify;
use wasm_bindgen::{JsCast, JsError, JsValue};

use crate::pipeline::{to_js, to_js_undefined};

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// An element type, named as onnxruntime-web names it.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum TensorType {
    Float16,
    Float32,
    Float64,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Bool,
}

impl From<DType> for TensorType {
    fn from(t: DType) -> TensorType {
        match t {
            DType::F16 => TensorType::Float16,
            DType::F32 => TensorType::Float32,
            DType::F64 => TensorType::Float64,
            DType::I8 => TensorType::Int8,
            DType::I16 => TensorType::Int16,
            DType::I32 => TensorType::Int32,
            DType::I64 => TensorType::Int64,
            DType::U8 => TensorType::Uint8,
            DType::U16 => TensorType::Uint16,
            DType::U32 => TensorType::Uint32,
            DType::U64 => TensorType::Uint64,
            DType::Bool => TensorType::Bool,
        }
    }
}

/// A dimension: a size, or the name of a symbolic one.
#[derive(Serialize, Tsify)]
#[serde(untagged)]
pub enum Dimension {
    Size(f64),
    Name(String),
}

/// Name, type and shape of a model input or output, as onnxruntime-web's metadata.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ValueMetadata {
    /// The input's or output's name.
    pub name: String,
    /// Always true: edgewise's values are tensors.
    #[tsify(type = "true")]
    pub is_tensor: bool,
    /// The element type, where the model declares it.
    #[serde(rename = "type")]
    #[tsify(type = "TensorType | undefined")]
    pub dtype: Option<TensorType>,
    /// The shape; symbolic dims are their names. Undefined where the model declares none.
    #[tsify(type = "Dimension[] | undefined")]
    pub shape: Option<Vec<Dimension>>,
}

/// ValueInfo list → onnxruntime-web style metadata objects.
pub(crate) fn metadata(infos: &[ValueInfo]) -> Result<JsValue, JsError> {
    let list: Vec<ValueMetadata> = infos
        .iter()
        .map(|info| ValueMetadata {
            name: info.name.clone(),
            is_tensor: true,
            dtype: info.dtype.map(TensorType::from),
            shape: info.shape.as_ref().map(|dims| {
                dims.iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => Dimension::Size(*n as f64),
                        Dim::Symbolic(s) => Dimension::Name(s.clone()),
                    })
                    .collect()
            }),
        })
        .collect();
    to_js_undefined(&list)
}

/// Where a stage runs, as the execution providers are called in JS.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU (wasm).
    Cpu,
    /// The GPU through WebGPU.
    Webgpu,
}

/// One stage of a session's plan.
#[derive(Serialize, Tsify)]
pub struct StageReport {
    /// Its position in the plan.
    pub index: u32,
    /// What the planner made of it: standard operators (`cpu`) or edgewise operators
    /// (`webgpu`).
    pub kind: Device,
    /// Its nodes, as `name (OpType)`.
    pub nodes: Vec<String>,
    /// Where it ran on the last call.
    pub placement: Device,
    /// Why a `webgpu` stage ran on the CPU (no adapter, device lost, compile error, limits),
    /// or null.
    #[tsify(type = "string | null")]
    pub fallback: Option<String>,
}

/// Which early exit answered a run (`session.lastExit`).
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ExitReport {
    /// The exit's index among the model's exits (the last is the full model).
    pub exit: u32,
    /// The exit's output name.
    pub name: String,
    /// Per row of the batch, the largest softmax probability of the exit's logits.
    pub confidence: Vec<f32>,
    /// Stages run before the answer.
    pub stages_run: u32,
    /// Stages of the exit plan.
    pub stages: u32,
}

impl From<&edgewise_runtime::ExitRun> for ExitReport {
    fn from(r: &edgewise_runtime::ExitRun) -> Self {
        ExitReport {
            exit: r.exit as u32,
            name: r.name.clone(),
            confidence: r.confidence.clone(),
            stages_run: r.stages_run as u32,
            stages: r.stages as u32,
        }
    }
}

/// A session's stage reports as JS objects.
pub(crate) fn stages(reports: &[edgewise_runtime::StageReport]) -> Result<JsValue, JsError> {
    let list: Vec<StageReport> = reports
        .iter()
        .map(|r| StageReport {
            index: r.index as u32,
            kind: match r.kind {
                StageKind::Cpu => Device::Cpu,
                StageKind::Gpu => Device::Webgpu,
            },
            nodes: r.nodes.clone(),
            placement: match r.placement {
                Placement::Cpu => Device::Cpu,
                Placement::Gpu => Device::Webgpu,
            },
            fallback: r.fallback.clone(),
        })
        .collect();
    to_js(&list)
}

/// `[[path, Uint8Array], …]` → (path, bytes) pairs.
pub(crate) fn external_from_js(list: &Array) -> Result<Vec<(String, Vec<u8>)>, Error> {
    list.iter()
        .map(|entry| {
            let pair = entry
                .dyn_into::<Array>()
                .map_err(|_| invalid("each external data entry must be [path, bytes]".into()))?;
            let path = pair
                .get(0)
                .as_string()
                .ok_or_else(|| invalid("external data paths must be strings".into()))?;
            let bytes = pair.get(1).dyn_into::<js_sys::Uint8Array>().map_err(|_| {
                invalid(format!(
                    "external data '{path}': the bytes must be a Uint8Array"
                ))
            })?;
            Ok((path, bytes.to_vec()))
        })
        .collect()
}

/// How a session plans its model, and what its plan cache has done.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    /// `false`: one plan typed with the model's symbolic shapes serves every call. `true`:
    /// the model does not type symbolically, and each distinct input signature gets its own
    /// plan.
    pub per_shape: bool,
    /// Why the symbolic plan could not be used, or null.
    #[tsify(type = "string | null")]
    pub reason: Option<String>,
    /// Plans built so far.
    pub built: f64,
    /// Calls served by a plan built earlier.
    pub reused: f64,
    /// Plans held now.
    pub cached: f64,
    /// The most plans held at once (`planCacheSize`).
    pub capacity: f64,
    /// Inputs whose fed values the plans are specialized to (small integer inputs that branch).
    pub pinned: Vec<String>,
}

/// A session's plan statistics as a plain object.
pub(crate) fn plan_stats(p: &PlanStats) -> Result<JsValue, JsError> {
    to_js(&PlanReport {
        per_shape: p.per_shape,
        reason: p.reason.clone(),
        built: p.built as f64,
        reused: p.reused as f64,
        cached: p.cached as f64,
        capacity: p.capacity as f64,
        pinned: p.pinned.clone(),
    })
}

fn typed<A: JsCast + Clone>(
    name: &str,
    dtype: DType,
    data: &JsValue,
    class: &str,
) -> Result<A, Error> {
    data.dyn_ref::<A>().cloned().ok_or_else(|| {
        let got = data
            .dyn_ref::<Object>()
            .map(|o| String::from(o.constructor().name()))
            .unwrap_or_else(|| data.js_typeof().as_string().unwrap_or_default());
        invalid(format!(
            "input '{name}': data of a {dtype} tensor must be a {class}, got {got}"
        ))
    })
}

fn data_from_js(name: &str, dtype: DType, data: &JsValue) -> Result<TensorData, Error> {
    use js_sys::*;
    Ok(match dtype {
        // As onnxruntime-web without Float16Array: the IEEE half bits in a Uint16Array.
        DType::F16 => TensorData::F16(
            typed::<Uint16Array>(name, dtype, data, "Uint16Array")?
                .to_vec()
                .into_iter()
                .map(f16::from_bits)
                .collect(),
        ),
        DType::F32 => {
            TensorData::F32(typed::<Float32Array>(name, dtype, data, "Float32Array")?.to_vec())
        }
        DType::F64 => {
            TensorData::F64(typed::<Float64Array>(name, dtype, data, "Float64Array")?.to_vec())
        }
        DType::I8 => TensorData::I8(typed::<Int8Array>(name, dtype, data, "Int8Array")?.to_vec()),
        DType::I16 => {
            TensorData::I16(typed::<Int16Array>(name, dtype, data, "Int16Array")?.to_vec())
        }
        DType::I32 => {
            TensorData::I32(typed::<Int32Array>(name, dtype, data, "Int32Array")?.to_vec())
        }
        DType::I64 => {
            TensorData::I64(typed::<BigInt64Array>(name, dtype, data, "BigInt64Array")?.to_vec())
        }
        DType::U8 => TensorData::U8(typed::<Uint8Array>(name, dtype, data, "Uint8Array")?.to_vec()),
        DType::U16 => {
            TensorData::U16(typed::<Uint16Array>(name, dtype, data, "Uint16Array")?.to_vec())
        }
        DType::U32 => {
            TensorData::U32(typed::<Uint32Array>(name, dtype, data, "Uint32Array")?.to_vec())
        }
        DType::U64 => {
            TensorData::U64(typed::<BigUint64Array>(name, dtype, data, "BigUint64Array")?.to_vec())
        }
        DType::Bool => {
            TensorData::Bool(typed::<Uint8Array>(name, dtype, data, "Uint8Array")?.to_vec())
        }
    })
}

fn dims_from_js(name: &str, dims: &JsValue) -> Result<Vec<usize>, Error> {
    let bad = || {
        invalid(format!(
            "input '{name}': dims must be an array of non-negative integers"
        ))
    };
    let array = dims.dyn_ref::<Array>().ok_or_else(bad)?;
    array
        .iter()
        .map(|d| match d.as_f64() {
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => Ok(v as usize),
            _ => Err(bad()),
        })
        .collect()
}

/// `[[name, type, data, dims], …]` → named tensors.
pub(crate) fn feeds_from_js(feeds: &Array) -> Result<Vec<(String, Tensor)>, Error> {
    feeds
        .iter()
        .map(|entry| {
            let entry = entry
                .dyn_into::<Array>()
                .map_err(|_| invalid("each feed must be [name, type, data, dims]".into()))?;
            let name = entry
                .get(0)
                .as_string()
                .ok_or_else(|| invalid("feed names must be strings".into()))?;
            let dtype: DType = entry
                .get(1)
                .as_string()
                .ok_or_else(|| invalid(format!("input '{name}': tensor type must be a string")))?
                .parse()
                .map_err(|e: Error| invalid(format!("input '{name}': {e}")))?;
            let data = data_from_js(&name, dtype, &entry.get(2))?;
            let dims = dims_from_js(&name, &entry.get(3))?;
            let tensor =
                Tensor::new(data, dims).map_err(|e| invalid(format!("input '{name}': {e}")))?;
            Ok((name, tensor))
        })
        .collect()
}

/// A named tensor → `[name, type, data, dims]` with the onnxruntime-web typed array.
pub(crate) fn tensor_to_js(name: &str, tensor: Tensor) -> JsValue {
    use js_sys::*;
    let dtype = tensor.dtype();
    let (data, dims) = tensor.into_parts();
    let data: JsValue = match data {
        TensorData::F16(v) => {
            let bits: Vec<u16> = v.iter().map(|x| x.to_bits()).collect();
            Uint16Array::from(&bits[..]).into()
        }
        TensorData::F32(v) => Float32Array::from(&v[..]).into(),
        TensorData::F64(v) => Float64Array::from(&v[..]).into(),
        TensorData::I8(v) => Int8Array::from(&v[..]).into(),
        TensorData::I16(v) => Int16Array::from(&v[..]).into(),
        TensorData::I32(v) => Int32Array::from(&v[..]).into(),
        TensorData::I64(v) => BigInt64Array::from(&v[..]).into(),
        TensorData::U8(v) | TensorData::Bool(v) => Uint8Array::from(&v[..]).into(),
        TensorData::U16(v) => Uint16Array::from(&v[..]).into(),
        TensorData::U32(v) => Uint32Array::from(&v[..]).into(),
        TensorData::U64(v) => BigUint64Array::from(&v[..]).into(),
    };
    let dims: Array = dims
        .into_iter()
        .map(|d| JsValue::from_f64(d as f64))
        .collect();
    Array::of4(
        &JsValue::from_str(name),
        &JsValue::from_str(dtype.name()),
        &data,
        &dims,
    )
    .into()
}
