//! Standard ONNX operators the runtime runs its own way, registered in tract's ONNX op
//! register under their standard names (replacing tract's parser where tract has one).
//!
//! One file per operator. The semantics are always the ONNX operator's. Some replace tract's
//! way of running an operator: a faster kernel for the web (`LRN`), typing that real models
//! need (`If` whose branches differ in shape, chosen ahead when its condition is known; `Loop`,
//! which tract lacks, its body run per iteration with plans typed for the shapes fed). Others
//! add operators tract lacks (`Attention`, the losses, `AffineGrid`, `BitCast`, `Col2Im`,
//! `CumProd`, `CenterCropPad`, `DeformConv`, `Det`, `LpPool`, `TensorScatter`, `TfIdfVectorizer`,
//! ONNX-ML's `Binarizer`), each with its own kernel, or as the operator that replaced them
//! (`Upsample`, run as opset 10's `Resize`), or fix what tract gets wrong (`ReduceMax` /
//! `ReduceMin` of −∞ rows). Passes rewrite the protobuf before tract parses it: `contrib`
//! (onnxruntime's quantized contrib operators into standard ONNX), `scalars` (one-element
//! tensors where a scalar is due), `reverse_rnn` (backward recurrent layers as forward ones on
//! the reversed sequence) and `upsample` (opset 7's scales attribute as an input).

mod affine_grid;
mod attention;
mod binarizer;
mod bitcast;
mod center_crop_pad;
mod col2im;
pub(crate) mod contrib;
mod cumprod;
mod deform_conv;
mod det;
mod r#if;
mod r#loop;
mod losses;
mod lp_pool;
mod lrn;
mod reduce_extrema;
pub(crate) mod reverse_rnn;
pub(crate) mod scalars;
mod tensor_scatter;
mod tfidf;
pub(crate) mod upsample;

use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// An operator the runtime runs with a kernel of its own: how it types and how it computes.
/// [`Own`] gives it tract's operator traits.
pub(crate) trait Kernel:
    std::fmt::Debug + Clone + PartialEq + Send + Sync + 'static
{
    fn name(&self) -> StaticName;
    /// The output facts for these input facts (constants there when the plan pins them).
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>>;
    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>>;
}

/// A [`Kernel`] as a tract operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Own<K>(pub K);

impl<K: Kernel> Eq for Own<K> {}

impl<K: Kernel> Op for Own<K> {
    fn name(&self) -> StaticName {
        self.0.name()
    }

    op_as_typed_op!();
}

impl<K: Kernel> EvalOp for Own<K> {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.0.eval(inputs)
    }
}

impl<K: Kernel> TypedOp for Own<K> {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.0.output_facts(inputs)
    }
}

/// What a parser returns for a kernel with `outputs` outputs and inference `rules`.
pub(crate) fn wrap<K: Kernel>(
    kernel: K,
    outputs: usize,
    rules: for<'p> fn(
        &dyn Op,
        &mut Solver,
        &'p [TensorProxy],
        &'p [TensorProxy],
    ) -> InferenceResult,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((inference_wrap(Own(kernel), outputs, rules), vec![]))
}

/// Inference rules of a one-output operator whose output has its first input's type and shape.
pub(crate) fn same_type_and_shape<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    s.equals(&outputs[0].shape, &inputs[0].shape)?;
    Ok(())
}

/// Inference rules of a one-output operator whose output has its first input's type and rank.
pub(crate) fn same_type_and_rank<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    s.equals(&outputs[0].rank, &inputs[0].rank)?;
    Ok(())
}

/// A tensor's elements converted to `T`, in order.
pub(crate) fn values<T: Datum + Copy>(t: &Tensor) -> TractResult<Vec<T>> {
    Ok(t.cast_to::<T>()?
        .to_plain_array_view::<T>()?
        .iter()
        .copied()
        .collect())
}

/// `values` of `shape` as a tensor of element type `dt` (a kernel's output in its input's type).
pub(crate) fn output<T: Datum + Copy>(
    shape: &[usize],
    values: &[T],
    dt: DatumType,
) -> TractResult<TValue> {
    Ok(Tensor::from_shape(shape, values)?
        .cast_to_dt(dt)?
        .into_owned()
        .into_tvalue())
}

/// Installs this module's operators in tract's register.
pub(crate) fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert("LRN", lrn::parse);
    onnx.op_register.insert("If", r#if::parse);
    onnx.op_register.insert("Loop", r#loop::parse);
    onnx.op_register.insert("Attention", attention::parse);
    onnx.op_register
        .insert("NegativeLogLikelihoodLoss", losses::parse_nll);
    onnx.op_register
        .insert("SoftmaxCrossEntropyLoss", losses::parse_sce);
    onnx.op_register.insert("CumProd", cumprod::parse);
    onnx.op_register.insert("BitCast", bitcast::parse);
    onnx.op_register.insert("AffineGrid", affine_grid::parse);
    onnx.op_register
        .insert("TensorScatter", tensor_scatter::parse);
    onnx.op_register.insert("Col2Im", col2im::parse);
    onnx.op_register.insert("DeformConv", deform_conv::parse);
    onnx.op_register.insert("Binarizer", binarizer::parse);
    onnx.op_register.insert("TfIdfVectorizer", tfidf::parse);
    onnx.op_register
        .insert("ReduceMax", reduce_extrema::parse_max);
    onnx.op_register
        .insert("ReduceMin", reduce_extrema::parse_min);
    onnx.op_register
        .insert("CenterCropPad", center_crop_pad::parse);
    onnx.op_register.insert("Det", det::parse);
    onnx.op_register.insert("LpPool", lp_pool::parse);
    onnx.op_register.insert("Upsample", upsample::parse);
}
