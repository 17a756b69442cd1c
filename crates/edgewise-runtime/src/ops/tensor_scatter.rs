//! TensorScatter, the ONNX operator (opset 24), which tract does not have: a key/value cache
//! update. `update` is written into a copy of `past_cache` along `axis` (−2 by default), for
//! each batch from its `write_indices` entry on (0 without them); `mode = circular` wraps
//! around the cache's length.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, same_type_and_shape, values, wrap};

/// The ONNX `TensorScatter` operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorScatter {
    axis: i64,
    circular: bool,
}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let circular = match node.get_attr_opt::<String>("mode")?.as_deref() {
        None | Some("linear") => false,
        Some("circular") => true,
        Some(other) => bail!("TensorScatter node '{}': mode '{other}'", node.name),
    };
    let op = TensorScatter {
        axis: node.get_attr_opt("axis")?.unwrap_or(-2),
        circular,
    };
    wrap(op, 1, same_type_and_shape)
}

impl Kernel for TensorScatter {
    fn name(&self) -> StaticName {
        "TensorScatter".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (cache, update) = (&inputs[0], &inputs[1]);
        let (shape, ushape) = (cache.shape(), update.shape());
        let rank = shape.len() as i64;
        ensure!(
            (-rank..rank).contains(&self.axis),
            "axis {} for rank {rank}",
            self.axis
        );
        let axis = if self.axis < 0 {
            self.axis + rank
        } else {
            self.axis
        } as usize;
        ensure!(
            ushape.len() == shape.len()
                && (0..shape.len()).all(|i| if i == axis {
                    ushape[i] <= shape[i]
                } else {
                    ushape[i] == shape[i]
                }),
            "update {ushape:?} does not fit the cache {shape:?} along axis {axis}"
        );
        let starts: Vec<i64> = match inputs.get(2) {
            Some(w) => values::<i64>(w)?,
            None => vec![0; shape[0]],
        };
        ensure!(
            starts.len() == shape[0],
            "{} write indices for a batch of {}",
            starts.len(),
            shape[0]
        );
        let size = cache.datum_type().size_of();
        let inner: usize = shape[axis + 1..].iter().product::<usize>() * size;
        let outer: usize = shape[..axis].iter().product();
        let per_batch = outer / shape[0].max(1);
        let (len, ulen) = (shape[axis], ushape[axis]);
        let mut out = cache.clone().into_tensor();
        let src = update.as_bytes();
        let dst = out.as_bytes_mut();
        for o in 0..outer {
            let batch = o / per_batch.max(1);
            for s in 0..ulen {
                let mut at = starts[batch] + s as i64;
                if self.circular {
                    at = at.rem_euclid(len as i64);
                }
                ensure!(
                    (0..len as i64).contains(&at),
                    "write index {at} is outside the cache of {len}"
                );
                let to = (o * len + at as usize) * inner;
                let from = (o * ulen + s) * inner;
                dst[to..to + inner].copy_from_slice(&src[from..from + inner]);
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}
