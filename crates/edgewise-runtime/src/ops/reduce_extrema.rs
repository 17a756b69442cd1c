//! ReduceMax and ReduceMin, the ONNX operators, with the ONNX identities: the maximum of a row
//! of −∞ (or of no element at all) is −∞, the minimum +∞.
//!
//! tract starts its float reductions from the most negative (positive) finite value, so a row
//! that a mask set entirely to −∞ reduces to −3.4e38 instead of −∞, and the test that should
//! recognize a fully masked row (ONNX's own Attention function body compares the row maximum
//! with −∞) fails, letting NaN through. Also reduces booleans (any / all), which tract does not.
//! Axes come from the attribute (opset < 18) or the second input, which must then be known when
//! the plan is built (a constant, or an input the session pins to its value).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, values, wrap};

/// `ReduceMax` (`max`) or `ReduceMin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extremum {
    max: bool,
    /// From the attribute; `None` with axes as an input (or all axes).
    axes: Option<Vec<i64>>,
    axes_input: bool,
    keepdims: bool,
    noop_with_empty_axes: bool,
}

fn parse(
    ctx: &ParsingContext,
    node: &NodeProto,
    max: bool,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let axes_input =
        ctx.onnx_operator_set_version >= 18 && node.input.get(1).is_some_and(|a| !a.is_empty());
    let op = Extremum {
        max,
        axes: node.get_attr_opt_vec("axes")?,
        axes_input,
        keepdims: node.get_attr_opt::<i64>("keepdims")?.unwrap_or(1) != 0,
        noop_with_empty_axes: node
            .get_attr_opt::<i64>("noop_with_empty_axes")?
            .unwrap_or(0)
            != 0,
    };
    wrap(op, 1, rules)
}

pub(crate) fn parse_max(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    parse(ctx, node, true)
}

pub(crate) fn parse_min(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    parse(ctx, node, false)
}

fn rules<'p>(
    op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    let op = op
        .downcast_ref::<super::Own<Extremum>>()
        .map(|o| &o.0)
        .context("a reduction")?;
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    if op.keepdims {
        s.equals(&outputs[0].rank, &inputs[0].rank)?;
    }
    Ok(())
}

impl Extremum {
    /// The axes reduced, sorted, for an input of `rank` (`axes` from the input when it has
    /// one); an empty list means no reduction at all.
    fn reduced(&self, rank: usize, axes: Option<&Tensor>) -> TractResult<Vec<usize>> {
        let given: Vec<i64> = match (self.axes_input, axes) {
            (true, Some(t)) => values::<i64>(t)?,
            (true, None) => bail!("the axes input must be known when planning"),
            (false, _) => self.axes.clone().unwrap_or_default(),
        };
        if given.is_empty() {
            return Ok(if self.noop_with_empty_axes {
                vec![]
            } else {
                (0..rank).collect()
            });
        }
        let r = rank as i64;
        let mut out = given
            .iter()
            .map(|&a| {
                ensure!((-r..r.max(1)).contains(&a), "axis {a} for rank {rank}");
                Ok(if a < 0 { a + r } else { a } as usize)
            })
            .collect::<TractResult<Vec<_>>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn out_shape<D: Clone>(&self, shape: &[D], reduced: &[usize], one: D) -> Vec<D> {
        shape
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match (reduced.contains(&i), self.keepdims) {
                (false, _) => Some(d.clone()),
                (true, true) => Some(one.clone()),
                (true, false) => None,
            })
            .collect()
    }

    fn run<T: Datum + Copy + PartialOrd>(
        &self,
        x: &Tensor,
        reduced: &[usize],
        start: T,
    ) -> TractResult<Tensor> {
        let shape = x.shape();
        let values = x.to_plain_array_view::<T>()?;
        let values: Vec<T> = values.iter().copied().collect();
        let kept: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(i, &d)| if reduced.contains(&i) { 1 } else { d })
            .collect();
        let mut out = vec![start; kept.iter().product()];
        for (flat, &v) in values.iter().enumerate() {
            let (mut rem, mut at) = (flat, 0);
            let mut stride = 1;
            for axis in (0..shape.len()).rev() {
                let i = rem % shape[axis];
                rem /= shape[axis];
                if !reduced.contains(&axis) {
                    at += i * stride;
                }
                stride *= kept[axis];
            }
            let better = if self.max { v > out[at] } else { v < out[at] };
            // NaN wins, as in numpy's maximum and minimum.
            if better || v.partial_cmp(&v).is_none() {
                out[at] = v;
            }
        }
        Tensor::from_shape(&self.out_shape(shape, reduced, 1), &out)
    }
}

impl Kernel for Extremum {
    fn name(&self) -> StaticName {
        if self.max {
            "ReduceMax".into()
        } else {
            "ReduceMin".into()
        }
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let axes = inputs.get(1).and_then(|f| f.konst.as_deref());
        let reduced = self.reduced(inputs[0].rank(), axes)?;
        let shape = self.out_shape(&inputs[0].shape.to_tvec(), &reduced, 1.to_dim());
        Ok(tvec!(inputs[0].datum_type.fact(shape)))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let reduced = self.reduced(x.rank(), inputs.get(1).map(|t| &**t))?;
        if reduced.is_empty() {
            return Ok(tvec!(x.clone()));
        }
        macro_rules! float {
            ($t:ty) => {
                self.run::<$t>(
                    x,
                    &reduced,
                    if self.max {
                        <$t>::NEG_INFINITY
                    } else {
                        <$t>::INFINITY
                    },
                )?
            };
        }
        macro_rules! int {
            ($t:ty) => {
                self.run::<$t>(x, &reduced, if self.max { <$t>::MIN } else { <$t>::MAX })?
            };
        }
        let out = match x.datum_type() {
            DatumType::F16 => float!(f16),
            DatumType::F32 => float!(f32),
            DatumType::F64 => float!(f64),
            DatumType::I8 => int!(i8),
            DatumType::I16 => int!(i16),
            DatumType::I32 => int!(i32),
            DatumType::I64 => int!(i64),
            DatumType::U8 => int!(u8),
            DatumType::U16 => int!(u16),
            DatumType::U32 => int!(u32),
            DatumType::U64 => int!(u64),
            DatumType::Bool => self.run::<bool>(x, &reduced, !self.max)?,
            dt => bail!("{} of {dt:?} is not supported", self.name()),
        };
        Ok(tvec!(out.into_tvalue()))
    }
}
