//! LRN (local response normalization across channels), the ONNX operator.
//!
//! `y[n,c,…] = x[n,c,…] / (bias + alpha / size · Σ x[n,c',…]²)^beta` over the channels
//! `c' ∈ [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉]` clipped to the tensor. tract evaluates it one
//! output element at a time with a dynamic-rank index per read and a `powf` per element; here
//! the squares of a whole channel plane are summed into a running window (added as the window
//! enters a channel, subtracted as it leaves), so each element costs a few multiply-adds in
//! loops the compiler vectorizes, and the common `beta = 0.75` avoids `powf` entirely.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::{args_1, as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// The ONNX `LRN` operator with an f32 fast path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lrn {
    pub alpha: f32,
    pub beta: f32,
    pub bias: f32,
    pub size: usize,
}

impl Eq for Lrn {}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let alpha = node.get_attr_opt("alpha")?.unwrap_or(0.0001);
    let beta = node.get_attr_opt("beta")?.unwrap_or(0.75);
    let bias = node.get_attr_opt("bias")?.unwrap_or(1.0);
    let size: usize = node.get_attr("size")?;
    ensure!(
        size >= 1,
        "LRN node '{}': size must be at least 1",
        node.name
    );
    Ok((
        inference_wrap(
            Lrn {
                alpha,
                beta,
                bias,
                size,
            },
            1,
            rules,
        ),
        vec![],
    ))
}

fn rules<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
    s.equals(&inputs[0].shape, &outputs[0].shape)?;
    Ok(())
}

/// `base^-beta`, without `powf` for the exponents networks use.
#[inline(always)]
fn inv_pow(base: f32, beta: f32) -> f32 {
    if beta == 0.75 {
        let r = base.sqrt();
        1.0 / (r * r.sqrt())
    } else if beta == 0.5 {
        1.0 / base.sqrt()
    } else if beta == 1.0 {
        1.0 / base
    } else {
        base.powf(-beta)
    }
}

impl Lrn {
    /// The f32 kernel over a contiguous `[n, c, plane]` view.
    pub(crate) fn run_f32(&self, x: &[f32], y: &mut [f32], n: usize, c: usize, plane: usize) {
        let before = (self.size - 1) / 2;
        let after = (self.size - 1).div_ceil(2);
        let scale = self.alpha / self.size as f32;
        let mut window = vec![0f32; plane];
        for image in 0..n {
            let xs = &x[image * c * plane..(image + 1) * c * plane];
            let ys = &mut y[image * c * plane..(image + 1) * c * plane];
            window.iter_mut().for_each(|w| *w = 0.0);
            // The window of channel 0 holds channels 0..=after.
            for ch in 0..=after.min(c - 1) {
                add_squares(&mut window, &xs[ch * plane..(ch + 1) * plane], 1.0);
            }
            for ch in 0..c {
                let xc = &xs[ch * plane..(ch + 1) * plane];
                let yc = &mut ys[ch * plane..(ch + 1) * plane];
                for ((out, &v), &sum) in yc.iter_mut().zip(xc).zip(&window) {
                    *out = v * inv_pow(self.bias + scale * sum, self.beta);
                }
                // Slide: channel ch + after + 1 enters, channel ch − before leaves.
                if ch + after + 1 < c {
                    let entering = ch + after + 1;
                    add_squares(
                        &mut window,
                        &xs[entering * plane..(entering + 1) * plane],
                        1.0,
                    );
                }
                if ch >= before {
                    let leaving = ch - before;
                    add_squares(
                        &mut window,
                        &xs[leaving * plane..(leaving + 1) * plane],
                        -1.0,
                    );
                }
            }
        }
    }
}

#[inline(always)]
fn add_squares(window: &mut [f32], x: &[f32], sign: f32) {
    for (w, &v) in window.iter_mut().zip(x) {
        *w += sign * v * v;
    }
}

impl Op for Lrn {
    fn name(&self) -> StaticName {
        "Lrn".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Lrn {
    op_out_of_plan!();

    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        if input.datum_type() != f32::datum_type() {
            let Lrn {
                alpha,
                beta,
                bias,
                size,
            } = *self;
            return tract_onnx_opl::lrn::Lrn {
                alpha,
                beta,
                bias,
                size,
            }
            .eval(ctx, tvec!(input));
        }
        let shape = input.shape().to_vec();
        ensure!(
            shape.len() >= 2,
            "LRN needs an input of rank 2 or more, got {shape:?}"
        );
        let (n, c) = (shape[0], shape[1]);
        let plane: usize = shape[2..].iter().product();
        let view = input.to_plain_array_view::<f32>()?;
        let x = view.as_slice().context("LRN input is not contiguous")?;
        let mut out = vec![0f32; x.len()];
        if c > 0 {
            self.run_f32(x, &mut out, n, c, plane);
        }
        Ok(tvec!(Tensor::from_shape(&shape, &out)?.into_tvalue()))
    }
}

impl TypedOp for Lrn {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgewise_onnx::fixtures::pseudo_random;

    /// The ONNX formula, element by element, in f64.
    fn naive(op: &Lrn, x: &[f32], n: usize, c: usize, plane: usize) -> Vec<f32> {
        let (before, after) = ((op.size - 1) / 2, (op.size - 1).div_ceil(2));
        let mut y = vec![0f32; x.len()];
        for i in 0..n {
            for ch in 0..c {
                for p in 0..plane {
                    let at = |k: usize| x[(i * c + k) * plane + p] as f64;
                    let lo = ch.saturating_sub(before);
                    let hi = (ch + after).min(c - 1);
                    let sum: f64 = (lo..=hi).map(|k| at(k) * at(k)).sum();
                    let base = op.bias as f64 + op.alpha as f64 / op.size as f64 * sum;
                    y[(i * c + ch) * plane + p] = (at(ch) / base.powf(op.beta as f64)) as f32;
                }
            }
        }
        y
    }

    #[test]
    fn matches_the_formula_for_odd_even_and_oversized_windows() {
        let shapes = [(1, 96, 13), (2, 7, 5), (1, 3, 9), (3, 1, 4), (1, 16, 1)];
        for (k, &(n, c, plane)) in shapes.iter().enumerate() {
            for (size, beta) in [(5, 0.75), (4, 0.75), (1, 0.5), (9, 1.0), (3, 0.6)] {
                let op = Lrn {
                    alpha: 1e-2,
                    beta,
                    bias: 1.5,
                    size,
                };
                let x = pseudo_random(n * c * plane, k as u32 + 1, 4.0);
                let mut y = vec![0f32; x.len()];
                op.run_f32(&x, &mut y, n, c, plane);
                for (i, (g, w)) in y.iter().zip(naive(&op, &x, n, c, plane)).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "{op:?} {n}x{c}x{plane} at {i}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn agrees_with_tracts_kernel_and_covers_other_float_types() {
        let op = Lrn {
            alpha: 1e-4,
            beta: 0.75,
            bias: 1.0,
            size: 5,
        };
        let x = pseudo_random(2 * 10 * 6, 7, 4.0);
        let input = Tensor::from_shape(&[2, 10, 2, 3], &x).unwrap();
        let ctx = EvalContext::out_of_plan();
        let ours = op.eval(&ctx, tvec!(input.clone().into_tvalue())).unwrap();
        let Lrn {
            alpha,
            beta,
            bias,
            size,
        } = op;
        let theirs = tract_onnx_opl::lrn::Lrn {
            alpha,
            beta,
            bias,
            size,
        }
        .eval(&ctx, tvec!(input.into_tvalue()))
        .unwrap();
        ours[0].close_enough(&theirs[0], true).unwrap();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let wide = Tensor::from_shape(&[2, 10, 2, 3], &x64).unwrap();
        let out = op.eval(&ctx, tvec!(wide.into_tvalue())).unwrap();
        assert_eq!(out[0].datum_type(), f64::datum_type());
    }
}
