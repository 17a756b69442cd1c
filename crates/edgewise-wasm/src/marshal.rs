//! Conversions between JS values and edgewise tensors, checked so that no JS value can panic.

use edgewise_runtime::{
    DType, Dim, Error, Placement, PlanStats, StageKind, StageReport, Tensor, TensorData, ValueInfo,
    f16,
};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Setting a data property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// ValueInfo list → onnxruntime-web style metadata objects.
pub(crate) fn metadata(infos: &[ValueInfo]) -> Array {
    infos
        .iter()
        .map(|info| {
            let obj = Object::new();
            set(&obj, "name", &JsValue::from_str(&info.name));
            set(&obj, "isTensor", &JsValue::TRUE);
            let dtype = info
                .dtype
                .map(|t| JsValue::from_str(t.name()))
                .unwrap_or(JsValue::UNDEFINED);
            set(&obj, "type", &dtype);
            let shape = match &info.shape {
                Some(dims) => dims
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => JsValue::from_f64(*n as f64),
                        Dim::Symbolic(s) => JsValue::from_str(s),
                    })
                    .collect::<Array>()
                    .into(),
                None => JsValue::UNDEFINED,
            };
            set(&obj, "shape", &shape);
            JsValue::from(obj)
        })
        .collect()
}

/// Stage reports → `{ index, kind, nodes, placement, fallback }` objects; placements and kinds
/// say "webgpu" for the GPU, as the execution provider is called in JS.
pub(crate) fn stages(reports: &[StageReport]) -> Array {
    reports
        .iter()
        .map(|r| {
            let obj = Object::new();
            set(&obj, "index", &JsValue::from_f64(r.index as f64));
            let kind = match r.kind {
                StageKind::Cpu => "cpu",
                StageKind::Gpu => "webgpu",
            };
            set(&obj, "kind", &JsValue::from_str(kind));
            let nodes: Array = r.nodes.iter().map(|n| JsValue::from_str(n)).collect();
            set(&obj, "nodes", &nodes);
            let placement = match r.placement {
                Placement::Cpu => "cpu",
                Placement::Gpu => "webgpu",
            };
            set(&obj, "placement", &JsValue::from_str(placement));
            let fallback = r
                .fallback
                .as_deref()
                .map(JsValue::from_str)
                .unwrap_or(JsValue::NULL);
            set(&obj, "fallback", &fallback);
            JsValue::from(obj)
        })
        .collect()
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

/// A session's plan statistics as a plain object.
pub(crate) fn plan_stats(p: &PlanStats) -> Object {
    let obj = Object::new();
    set(&obj, "perShape", &JsValue::from_bool(p.per_shape));
    let reason = p
        .reason
        .as_deref()
        .map(JsValue::from_str)
        .unwrap_or(JsValue::NULL);
    set(&obj, "reason", &reason);
    for (key, n) in [
        ("built", p.built),
        ("reused", p.reused),
        ("cached", p.cached),
        ("capacity", p.capacity),
    ] {
        set(&obj, key, &JsValue::from_f64(n as f64));
    }
    let pinned: Array = p.pinned.iter().map(|n| JsValue::from_str(n)).collect();
    set(&obj, "pinned", &pinned);
    obj
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
