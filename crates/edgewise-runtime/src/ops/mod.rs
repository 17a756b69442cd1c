//! Standard ONNX operators the runtime runs its own way, registered in tract's ONNX op
//! register under their standard names (replacing tract's parser where tract has one).
//!
//! One file per operator. The semantics are always the ONNX operator's; what changes is how
//! it runs: a faster kernel for the web (`LRN`), or typing that a real model needs (`If`
//! whose branches differ in shape, chosen ahead when its condition is known).

mod r#if;
mod lrn;

/// Installs this module's operators in tract's register.
pub(crate) fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert("LRN", lrn::parse);
    onnx.op_register.insert("If", r#if::parse);
}
