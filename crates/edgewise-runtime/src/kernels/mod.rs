//! Faster kernels for standard ONNX operators that tract runs slowly on the web.
//!
//! Each one is registered in tract's ONNX op register under the standard name, replacing
//! tract's own parser for it; the semantics are the ONNX operator's, and the tests check them
//! against tract's implementation and a naive formula.

mod lrn;

/// Replaces tract's parsers for the operators this module implements.
pub(crate) fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert("LRN", lrn::parse);
}
