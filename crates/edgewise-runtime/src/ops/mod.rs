//! Standard ONNX operators the runtime runs its own way, registered in tract's ONNX op
//! register under their standard names (replacing tract's parser where tract has one).
//!
//! One file per operator. The semantics are always the ONNX operator's. Some replace tract's
//! way of running an operator: a faster kernel for the web (`LRN`), typing that real models
//! need (`If` whose branches differ in shape, chosen ahead when its condition is known). Others
//! add operators tract lacks (`Attention`, the losses, `AffineGrid`, `BitCast`, `Col2Im`,
//! `CumProd`, `CenterCropPad`, `DeformConv`, `Det`, `LpPool`, `TensorScatter`, `TfIdfVectorizer`,
//! ONNX-ML's `Binarizer`), each with
//! its own kernel, or fix what tract gets wrong (`ReduceMax` / `ReduceMin` of −∞ rows). Passes
//! rewrite the protobuf before tract parses it: `contrib` (onnxruntime's quantized contrib
//! operators into standard ONNX), `scalars` (one-element tensors where a scalar is due) and
//! `reverse_rnn` (backward recurrent layers as forward ones on the reversed sequence).

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
mod losses;
mod lp_pool;
mod lrn;
mod reduce_extrema;
pub(crate) mod reverse_rnn;
pub(crate) mod scalars;
mod tensor_scatter;
mod tfidf;

/// Installs this module's operators in tract's register.
pub(crate) fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert("LRN", lrn::parse);
    onnx.op_register.insert("If", r#if::parse);
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
}
