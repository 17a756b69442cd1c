//! Tensors resident on the device: upload and asynchronous read-back.

use std::sync::Arc;

use edgewise_ops::slice;
use tract_onnx::prelude::*;

use crate::context::Gpu;
use crate::error::GpuError;

/// A tensor in a device storage buffer, one 4-byte word per element (see
/// [`edgewise_ops::program`] for the element conventions).
#[derive(Debug, Clone)]
pub struct GpuTensor {
    pub(crate) buffer: Arc<wgpu::Buffer>,
    /// Element type as the model sees it (`i64` is stored as `i32`).
    pub dt: DatumType,
    /// Dimensions.
    pub shape: Vec<usize>,
}

impl GpuTensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bytes of a buffer holding `words` elements; never zero, which WebGPU refuses to bind.
pub(crate) fn buffer_bytes(words: u64) -> u64 {
    (words * 4).max(4)
}

impl Gpu {
    /// Creates a storage buffer for `words` elements after checking the device's limit.
    pub(crate) fn storage(&self, what: &str, words: u64) -> Result<wgpu::Buffer, GpuError> {
        let bytes = buffer_bytes(words);
        if bytes > self.max_buffer {
            return Err(GpuError::TooLarge {
                what: what.into(),
                bytes,
                limit: self.max_buffer,
            });
        }
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// Copies a host tensor to the device.
    pub fn upload(&self, t: &Tensor) -> Result<GpuTensor, GpuError> {
        self.check_alive()?;
        let words = to_words(t)?;
        let buffer = self.storage("input tensor", words.len() as u64)?;
        if !words.is_empty() {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            self.queue.write_buffer(&buffer, 0, &bytes);
        }
        Ok(GpuTensor {
            buffer: Arc::new(buffer),
            dt: t.datum_type(),
            shape: t.shape().to_vec(),
        })
    }

    /// Copies a device tensor back to the host. The only call that waits on the device.
    pub async fn read(&self, t: &GpuTensor) -> Result<Tensor, GpuError> {
        self.check_alive()?;
        let bytes = buffer_bytes(t.len() as u64);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        encoder.copy_buffer_to_buffer(&t.buffer, 0, &staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.poll();
        rx.await
            .map_err(|_| GpuError::ReadBack("the mapping was abandoned".into()))?
            .map_err(|e| {
                self.check_alive()
                    .err()
                    .unwrap_or_else(|| GpuError::ReadBack(e.to_string()))
            })?;
        let words: Vec<u32> = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| GpuError::ReadBack(e.to_string()))?;
            view.chunks_exact(4)
                .take(t.len())
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        staging.unmap();
        from_words(&words, t.dt, &t.shape)
    }
}

/// The device words of a host tensor.
fn to_words(t: &Tensor) -> Result<Vec<u32>, GpuError> {
    let bad = |e: TractError| GpuError::Unsupported(e.to_string());
    Ok(match t.datum_type() {
        DatumType::F32 => slice::<f32>(t)
            .map_err(bad)?
            .iter()
            .map(|v| v.to_bits())
            .collect(),
        DatumType::U32 => slice::<u32>(t).map_err(bad)?.to_vec(),
        DatumType::I32 => slice::<i32>(t)
            .map_err(bad)?
            .iter()
            .map(|&v| v as u32)
            .collect(),
        DatumType::I64 => slice::<i64>(t)
            .map_err(bad)?
            .iter()
            .map(|&v| {
                i32::try_from(v).map(|v| v as u32).map_err(|_| {
                    GpuError::Unsupported(format!(
                        "int64 value {v} does not fit the GPU's 32-bit integers"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(GpuError::Unsupported(format!(
                "element type {other:?} (the GPU holds f32, u32, i32 and i64 within 32 bits)"
            )));
        }
    })
}

/// A host tensor from device words.
fn from_words(words: &[u32], dt: DatumType, shape: &[usize]) -> Result<Tensor, GpuError> {
    let r = match dt {
        DatumType::F32 => {
            let v: Vec<f32> = words.iter().map(|&w| f32::from_bits(w)).collect();
            Tensor::from_shape(shape, &v)
        }
        DatumType::U32 => Tensor::from_shape(shape, words),
        DatumType::I32 => {
            let v: Vec<i32> = words.iter().map(|&w| w as i32).collect();
            Tensor::from_shape(shape, &v)
        }
        DatumType::I64 => {
            let v: Vec<i64> = words.iter().map(|&w| w as i32 as i64).collect();
            Tensor::from_shape(shape, &v)
        }
        other => return Err(GpuError::Unsupported(format!("element type {other:?}"))),
    };
    r.map_err(|e| GpuError::ReadBack(e.to_string()))
}
