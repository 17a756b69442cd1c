//! The trait every edgewise operator implements, and helpers for checking its inputs.

use std::fmt;
use std::sync::Arc;

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::program::GpuProgram;

/// What an operator knows of one input before running: its element type and shape, whose
/// dimensions may be symbolic (`batch`, `N`...).
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// Element type.
    pub dt: DatumType,
    /// Dimensions, concrete or symbolic.
    pub shape: TVec<TDim>,
}

impl Fact {
    /// A fact with concrete dimensions.
    pub fn concrete(dt: DatumType, shape: &[usize]) -> Fact {
        Fact {
            dt,
            shape: shape.iter().map(|&d| d.into()).collect(),
        }
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Dimension `axis` as a number, if it is concrete.
    pub fn dim(&self, axis: usize) -> Option<usize> {
        self.shape.get(axis).and_then(|d| d.to_usize().ok())
    }

    /// All dimensions as numbers, if they are all concrete.
    pub fn dims(&self) -> Option<Vec<usize>> {
        self.shape.iter().map(|d| d.to_usize().ok()).collect()
    }
}

/// One operator of the `ai.edgewise` domain, with its attributes already parsed.
///
/// Implementations are plain values (attributes only); they hold no tensors and no device
/// state, so one instance is shared by the tract plan, the GPU executor and the tests.
pub trait CustomOp: fmt::Debug + Send + Sync + 'static {
    /// The operator's `op_type`.
    fn name(&self) -> &'static str;

    /// Checks the inputs against the schema and returns one [`Fact`] per output. Errors name
    /// the operator, the input and what was expected. Works on symbolic dimensions too, so
    /// tract can type and optimize the graph around the operator.
    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>>;

    /// The CPU reference kernel: the semantics every other implementation is tested against.
    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>>;

    /// The WGSL passes that compute the same outputs on a GPU, for inputs of these concrete
    /// element types and shapes.
    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram>;
}

/// An operator that can be built from an ONNX node: the link between the registry and a type.
pub trait FromNode: CustomOp + Sized {
    /// The `op_type` this type is registered under.
    const NAME: &'static str;

    /// Reads and validates the node's attributes.
    fn from_node(node: &NodeProto) -> TractResult<Self>;

    /// Builds the operator as a shared trait object.
    fn build(node: &NodeProto) -> TractResult<Arc<dyn CustomOp>> {
        Ok(Arc::new(Self::from_node(node)?))
    }
}

/// Fails unless `inputs` has between `min` and `max` entries.
pub fn check_arity(op: &str, inputs: &[Fact], min: usize, max: usize) -> TractResult<()> {
    ensure!(
        (min..=max).contains(&inputs.len()),
        "{op}: expected {} inputs, got {}",
        if min == max {
            min.to_string()
        } else {
            format!("{min} to {max}")
        },
        inputs.len()
    );
    Ok(())
}

/// Fails unless input `index` (called `name` in the schema) has element type `dt`.
pub fn check_type(
    op: &str,
    inputs: &[Fact],
    index: usize,
    name: &str,
    dt: DatumType,
) -> TractResult<()> {
    let got = inputs[index].dt;
    ensure!(
        got == dt,
        "{op}: input {index} ({name}) must be {dt:?}, got {got:?}"
    );
    Ok(())
}

/// The elements of a tensor as a slice, whatever its storage.
pub fn slice<D: Datum>(t: &Tensor) -> TractResult<&[D]> {
    t.try_as_plain_ram()?.as_slice::<D>()
}
