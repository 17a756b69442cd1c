//! The one error type every edgewise layer returns.

use crate::DType;

/// Result alias used throughout edgewise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between model bytes and output tensors.
///
/// Each variant names the thing at fault (the input, the operator, the node) so that the
/// message alone is enough to fix the call. The JS layer turns these into `Error`s with the
/// same text.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    /// The bytes are not a usable ONNX model (empty, truncated, not protobuf, no graph…).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The model uses operators edgewise cannot run.
    #[error("unsupported operator{} {}", if .ops.len() > 1 { "s" } else { "" }, .ops.join(", "))]
    UnsupportedOperator {
        /// `OpType (node 'name')` for each offending node.
        ops: Vec<String>,
    },
    /// A feed named an input the model does not have.
    #[error("unknown input '{name}'; the model's inputs are: {expected}")]
    UnknownInput {
        /// The name that was fed.
        name: String,
        /// The model's input names, comma separated.
        expected: String,
    },
    /// An input of the model was not fed.
    #[error("missing input '{name}' ({expected})")]
    MissingInput {
        /// The input's name.
        name: String,
        /// Its type and shape, e.g. `float32[batch,3,224,224]`.
        expected: String,
    },
    /// A feed has the wrong element type.
    #[error("input '{name}': expected a {expected} tensor, got {got}")]
    WrongType {
        /// The input's name.
        name: String,
        /// The declared element type.
        expected: DType,
        /// The element type fed.
        got: DType,
    },
    /// A feed has the wrong number of dimensions.
    #[error("input '{name}': expected rank {expected} {shape}, got rank {got} {dims:?}")]
    WrongRank {
        /// The input's name.
        name: String,
        /// The declared rank.
        expected: usize,
        /// The declared shape, printed.
        shape: String,
        /// The rank fed.
        got: usize,
        /// The dims fed.
        dims: Vec<usize>,
    },
    /// A feed disagrees with a fixed dimension of the model, or with another feed on a shared
    /// symbolic dimension.
    #[error("input '{name}': dimension {axis} must be {expected}, got {got} (dims {dims:?})")]
    WrongDim {
        /// The input's name.
        name: String,
        /// The axis at fault.
        axis: usize,
        /// What the model requires there.
        expected: String,
        /// What was fed.
        got: usize,
        /// The dims fed.
        dims: Vec<usize>,
    },
    /// A tensor whose data length does not match its dims, or another malformed argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// The model failed while running.
    #[error("run failed: {0}")]
    Runtime(String),
    /// The session was released and can no longer run.
    #[error("the session was released")]
    Released,
}
