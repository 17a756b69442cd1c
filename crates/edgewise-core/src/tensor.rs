//! Host-side tensors: a typed buffer plus its dims, checked on construction.

use half::f16;

use crate::{DType, Error, Result};

/// The typed storage of a [`Tensor`], one variant per [`DType`].
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum TensorData {
    F16(Vec<f16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    /// One byte per element; any non-zero byte is `true`.
    Bool(Vec<u8>),
}

macro_rules! each_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::F16($v) => $body,
            TensorData::F32($v) => $body,
            TensorData::F64($v) => $body,
            TensorData::I8($v) => $body,
            TensorData::I16($v) => $body,
            TensorData::I32($v) => $body,
            TensorData::I64($v) => $body,
            TensorData::U8($v) => $body,
            TensorData::U16($v) => $body,
            TensorData::U32($v) => $body,
            TensorData::U64($v) => $body,
            TensorData::Bool($v) => $body,
        }
    };
}

impl TensorData {
    /// The element type of this storage.
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F16(_) => DType::F16,
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
            TensorData::I8(_) => DType::I8,
            TensorData::I16(_) => DType::I16,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
            TensorData::U8(_) => DType::U8,
            TensorData::U16(_) => DType::U16,
            TensorData::U32(_) => DType::U32,
            TensorData::U64(_) => DType::U64,
            TensorData::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as little-endian bytes (booleans one byte each), as ONNX's `raw_data`
    /// stores them.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        each_variant!(self, v => v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
}

/// A dense, row-major tensor held by the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    dims: Vec<usize>,
    data: TensorData,
}

impl Tensor {
    /// A tensor from its data and dims; fails when the element count does not match the dims.
    pub fn new(data: TensorData, dims: Vec<usize>) -> Result<Tensor> {
        let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        match expected {
            Some(n) if n == data.len() => Ok(Tensor { dims, data }),
            Some(n) => Err(Error::InvalidArgument(format!(
                "tensor data length {} does not match dims {dims:?} ({n} elements)",
                data.len()
            ))),
            None => Err(Error::InvalidArgument(format!(
                "tensor dims {dims:?} overflow"
            ))),
        }
    }

    /// A float32 tensor; see [`Tensor::new`].
    pub fn f32(data: Vec<f32>, dims: Vec<usize>) -> Result<Tensor> {
        Tensor::new(TensorData::F32(data), dims)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The dims, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The typed storage.
    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// Splits the tensor into its storage and dims.
    pub fn into_parts(self) -> (TensorData, Vec<usize>) {
        (self.data, self.dims)
    }

    /// The float32 elements, or `None` for another element type.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_checks_length_against_dims() {
        assert!(Tensor::f32(vec![0.0; 6], vec![2, 3]).is_ok());
        let err = Tensor::f32(vec![0.0; 5], vec![2, 3]).unwrap_err();
        assert!(err.to_string().contains("length 5"), "{err}");
        assert!(Tensor::f32(vec![], vec![0, 7]).is_ok());
        assert!(Tensor::f32(vec![], vec![usize::MAX, 3]).is_err());
    }

    #[test]
    fn data_reports_its_type() {
        let t = Tensor::new(TensorData::Bool(vec![1, 0]), vec![2]).unwrap();
        assert_eq!(t.dtype(), DType::Bool);
        assert_eq!(t.as_f32(), None);
    }
}
