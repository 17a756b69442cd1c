//! Moves tensors between edgewise's host type and tract's.

use edgewise_core::{DType, Error, Result, Tensor, TensorData};
use tract_onnx::prelude::{Datum, DatumType, SymbolValues, TDim, Tensor as TractTensor};

fn runtime_err(e: impl std::fmt::Display) -> Error {
    Error::Runtime(e.to_string())
}

/// Copies a host tensor into a tract tensor (tract wants its own aligned buffer).
pub(crate) fn to_tract(t: &Tensor) -> Result<TractTensor> {
    let dims = t.dims();
    let result = match t.data() {
        TensorData::F16(v) => TractTensor::from_shape(dims, v),
        TensorData::F32(v) => TractTensor::from_shape(dims, v),
        TensorData::F64(v) => TractTensor::from_shape(dims, v),
        TensorData::I8(v) => TractTensor::from_shape(dims, v),
        TensorData::I16(v) => TractTensor::from_shape(dims, v),
        TensorData::I32(v) => TractTensor::from_shape(dims, v),
        TensorData::I64(v) => TractTensor::from_shape(dims, v),
        TensorData::U8(v) => TractTensor::from_shape(dims, v),
        TensorData::U16(v) => TractTensor::from_shape(dims, v),
        TensorData::U32(v) => TractTensor::from_shape(dims, v),
        TensorData::U64(v) => TractTensor::from_shape(dims, v),
        TensorData::Bool(v) => {
            let b: Vec<bool> = v.iter().map(|&x| x != 0).collect();
            TractTensor::from_shape(dims, &b)
        }
    };
    result.map_err(runtime_err)
}

fn elements<T: Datum + Copy>(t: &TractTensor) -> Result<Vec<T>> {
    let view = t.to_plain_array_view::<T>().map_err(runtime_err)?;
    Ok(match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    })
}

/// Copies a tract tensor out into a host tensor; `name` is only used in the error message and
/// `symbols` gives values to the symbolic ints a shape computation may return.
pub(crate) fn from_tract(t: &TractTensor, name: &str, symbols: &SymbolValues) -> Result<Tensor> {
    let data = match t.datum_type() {
        DatumType::F16 => TensorData::F16(elements(t)?),
        DatumType::F32 => TensorData::F32(elements(t)?),
        DatumType::F64 => TensorData::F64(elements(t)?),
        DatumType::I8 => TensorData::I8(elements(t)?),
        DatumType::I16 => TensorData::I16(elements(t)?),
        DatumType::I32 => TensorData::I32(elements(t)?),
        DatumType::I64 => TensorData::I64(elements(t)?),
        DatumType::U8 => TensorData::U8(elements(t)?),
        DatumType::U16 => TensorData::U16(elements(t)?),
        DatumType::U32 => TensorData::U32(elements(t)?),
        DatumType::U64 => TensorData::U64(elements(t)?),
        DatumType::Bool => {
            TensorData::Bool(elements::<bool>(t)?.into_iter().map(u8::from).collect())
        }
        // Shape arithmetic (`Shape`, `Size`) yields tract's symbolic ints; ONNX says int64.
        DatumType::TDim => {
            let dims = t.to_plain_array_view::<TDim>().map_err(runtime_err)?;
            let values = dims
                .iter()
                .map(|d| d.eval_to_i64(symbols).map_err(runtime_err));
            TensorData::I64(values.collect::<Result<_>>()?)
        }
        other => {
            return Err(Error::Runtime(format!(
                "output '{name}' has element type {other:?}, which edgewise cannot return"
            )));
        }
    };
    Tensor::new(data, t.shape().to_vec())
}

/// The edgewise type of a tract datum type, if it is one edgewise carries.
pub(crate) fn dtype_of(dt: DatumType) -> Option<DType> {
    Some(match dt {
        DatumType::F16 => DType::F16,
        DatumType::F32 => DType::F32,
        DatumType::F64 => DType::F64,
        DatumType::I8 => DType::I8,
        DatumType::I16 => DType::I16,
        DatumType::I32 => DType::I32,
        DatumType::I64 => DType::I64,
        DatumType::U8 => DType::U8,
        DatumType::U16 => DType::U16,
        DatumType::U32 => DType::U32,
        DatumType::U64 => DType::U64,
        DatumType::Bool => DType::Bool,
        DatumType::TDim => DType::I64,
        _ => return None,
    })
}

/// tract's datum type for an edgewise element type.
pub(crate) fn datum_type(dt: DType) -> DatumType {
    match dt {
        DType::F16 => DatumType::F16,
        DType::F32 => DatumType::F32,
        DType::F64 => DatumType::F64,
        DType::I8 => DatumType::I8,
        DType::I16 => DatumType::I16,
        DType::I32 => DatumType::I32,
        DType::I64 => DatumType::I64,
        DType::U8 => DatumType::U8,
        DType::U16 => DatumType::U16,
        DType::U32 => DatumType::U32,
        DType::U64 => DatumType::U64,
        DType::Bool => DatumType::Bool,
    }
}
