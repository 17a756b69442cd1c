//! 2-D max pooling on channel-first float32 tensors with edgewise's separable kernel.
//!
//! tract's `OptMaxPool` visits every window position of every output (its fast paths cover
//! 2×2 windows and row spans only): squeezenet's and inception's 3×3 pools took 11 % of their
//! runs. [`replace`] swaps each `OptMaxPool` of an optimized model that has no index output,
//! no dilation, two spatial axes after the channel axis and float32 data for a [`MaxPool2d`]
//! running `edgewise_kernels::pool::Pool2d` plane by plane.

use edgewise_kernels::pool::Pool2d;
use tract_onnx::tract_core::ops::cnn::{OptMaxPool, PoolSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::tract_linalg::multithread::par_chunks_mut;
use tract_onnx::tract_core::{args_1, as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// Max pooling over the last two axes of an `[N,] C, H, W` float32 tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MaxPool2d {
    spec: PoolSpec,
}

impl MaxPool2d {
    /// The geometry for one input shape, and the count of planes.
    fn geometry(&self, shape: &[usize]) -> TractResult<(Pool2d, usize, TVec<usize>)> {
        ensure!(
            shape.len() >= 3,
            "MaxPool2d needs [N,] C, H, W, got {shape:?}"
        );
        let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let padded = self.spec.computed_padding(&[h, w]);
        let (oh, ow) = (padded[0].convoluted, padded[1].convoluted);
        let pool = Pool2d {
            input: (h, w),
            kernel: (self.spec.kernel_shape[0], self.spec.kernel_shape[1]),
            stride: (self.spec.stride(0), self.spec.stride(1)),
            pad: (padded[0].pad_before, padded[1].pad_before),
            output: (oh, ow),
        };
        let planes = shape[..shape.len() - 2].iter().product();
        let mut out: TVec<usize> = shape[..shape.len() - 2].into();
        out.extend([oh, ow]);
        Ok((pool, planes, out))
    }
}

impl Op for MaxPool2d {
    fn name(&self) -> StaticName {
        "MaxPool2d".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(self.spec.info())
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (pool, planes, out_shape) = self.geometry(input.shape())?;
        let view = input.try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        let (plane_in, plane_out) = (pool.input.0 * pool.input.1, pool.output.0 * pool.output.1);
        let mut y = vec![0f32; planes * plane_out];
        if plane_in > 0 && plane_out > 0 {
            // Planes go to the pool's threads in the multi-threaded build.
            par_chunks_mut(&mut y, plane_out, x.len(), |first, out| {
                let mut cols = vec![0f32; pool.output.0 * pool.input.1];
                let x = &x[first * plane_in..];
                for (xp, yp) in x
                    .chunks_exact(plane_in)
                    .zip(out.chunks_exact_mut(plane_out))
                {
                    pool.run(xp, yp, &mut cols);
                }
                Ok(())
            })?;
        }
        Ok(tvec!(Tensor::from_shape(&out_shape, &y)?.into_tvalue()))
    }
}

impl TypedOp for MaxPool2d {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.spec.output_facts(inputs)
    }
}

/// Replaces the max pools [`MaxPool2d`] can run; returns how many.
pub(crate) fn replace(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(op) = node.op_as::<OptMaxPool>() else {
            continue;
        };
        let spec = &op.pool_spec;
        let fact = model.outlet_fact(node.inputs[0])?;
        let channel_first = matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW);
        if op.with_index_outputs.is_some()
            || !channel_first
            || spec.kernel_shape.len() != 2
            || spec.dilations().iter().any(|d| *d != 1)
            || fact.datum_type != f32::datum_type()
            || !fact.is_plain()
        {
            continue;
        }
        let new = MaxPool2d { spec: spec.clone() };
        let patch = TypedModelPatch::replace_single_op(model, node, &node.inputs, new)?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec};

    fn pooled(spec: PoolSpec, shape: &[usize], ours: bool) -> Tensor {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact(shape)).unwrap();
        let y = model
            .wire_node("pool", MaxPool::new(spec, None), &[x])
            .unwrap();
        model.select_output_outlets(&y).unwrap();
        let mut model = model.into_optimized().unwrap();
        assert!(
            model.nodes().iter().any(|n| n.op_is::<OptMaxPool>()),
            "{model}"
        );
        if ours {
            assert_eq!(replace(&mut model).unwrap(), 1);
        }
        let len = shape.iter().product::<usize>();
        let data: Vec<f32> = (0..len)
            .map(|i| ((i * 7919) % 1009) as f32 / 10.0 - 50.0)
            .collect();
        let input = Tensor::from_shape(shape, &data).unwrap();
        let plan = model.into_runnable().unwrap();
        plan.run(tvec!(input.into_tvalue()))
            .unwrap()
            .remove(0)
            .into_tensor()
    }

    #[test]
    fn matches_tracts_max_pool() {
        let specs = [
            // squeezenet: 3×3 stride 2, ceil mode.
            (
                PaddingSpec::ExplicitOnnxPool(tvec![0, 0], tvec![0, 0], true),
                [3, 3],
                [2, 2],
                [1, 4, 13, 13],
            ),
            // inception: 3×3 stride 1, padded.
            (
                PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1]),
                [3, 3],
                [1, 1],
                [2, 3, 7, 9],
            ),
            (PaddingSpec::Valid, [2, 3], [2, 2], [1, 2, 8, 9]),
            (PaddingSpec::SameUpper, [3, 3], [2, 2], [1, 3, 10, 7]),
        ];
        for (padding, kernel, strides, shape) in specs {
            let spec = PoolSpec {
                data_format: DataFormat::NCHW,
                kernel_shape: kernel.iter().copied().collect(),
                padding,
                dilations: None,
                strides: Some(strides.iter().copied().collect()),
                input_channels: shape[1],
                output_channels: shape[1],
            };
            let theirs = pooled(spec.clone(), &shape, false);
            let ours = pooled(spec, &shape, true);
            assert_eq!(ours, theirs, "{shape:?} {kernel:?} {strides:?}");
        }
    }
}
