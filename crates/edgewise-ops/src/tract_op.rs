//! The tract node that carries one edgewise operator.
//!
//! Parsing wraps the operator for tract's inference phase (output element types and shapes
//! come from [`CustomOp::output_facts`] once the input shapes are known), and the typed
//! node evaluates with the CPU reference kernel. So a model with custom operators runs
//! entirely in tract when no GPU is asked for, and tract optimizes around the operators.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode};

/// A tract operator evaluating an edgewise operator on the CPU.
#[derive(Debug, Clone)]
pub struct TractCustomOp {
    /// The wrapped operator.
    pub op: Arc<dyn CustomOp>,
    outputs: usize,
}

impl TractCustomOp {
    /// Wraps `op`, which has `outputs` outputs.
    pub fn new(op: Arc<dyn CustomOp>, outputs: usize) -> TractCustomOp {
        TractCustomOp { op, outputs }
    }
}

impl PartialEq for TractCustomOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.op, &other.op) || format!("{:?}", self.op) == format!("{:?}", other.op)
    }
}

impl Eq for TractCustomOp {}

pub(crate) fn parse<T: FromNode>(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op: Arc<dyn CustomOp> = Arc::new(
        T::from_node(node).with_context(|| format!("node '{}' ({})", node.name, T::NAME))?,
    );
    let outputs = node.output.len().max(1);
    Ok((expand(Inference(TractCustomOp::new(op, outputs))), vec![]))
}

/// The inference-phase face of [`TractCustomOp`]: shape rules, then wiring the typed op.
#[derive(Debug, Clone)]
struct Inference(TractCustomOp);

impl Expansion for Inference {
    fn name(&self) -> StaticName {
        self.0.op.name().into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.0.outputs)
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.0.clone(), inputs)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, self.0.outputs)?;
        s.given_all(
            inputs.iter().map(|i| &i.datum_type),
            move |s, types: Vec<DatumType>| {
                s.given_all(
                    inputs.iter().map(|i| &i.shape),
                    move |s, shapes: Vec<TVec<TDim>>| {
                        let facts: Vec<Fact> = types
                            .iter()
                            .zip(shapes)
                            .map(|(&dt, shape)| Fact { dt, shape })
                            .collect();
                        let out = self.0.op.output_facts(&facts)?;
                        for (proxy, fact) in outputs.iter().zip(out) {
                            s.equals(&proxy.datum_type, fact.dt)?;
                            s.equals(&proxy.shape, ShapeFactoid::from(fact.shape))?;
                        }
                        Ok(())
                    },
                )
            },
        )
    }
}

impl Op for TractCustomOp {
    fn name(&self) -> StaticName {
        self.op.name().into()
    }

    op_as_typed_op!();
}

impl EvalOp for TractCustomOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let refs: Vec<&Tensor> = inputs.iter().map(|t| &**t).collect();
        let out = self.op.eval(&refs)?;
        Ok(out.into_iter().map(|t| t.into_tvalue()).collect())
    }
}

impl TypedOp for TractCustomOp {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let facts: Vec<Fact> = inputs
            .iter()
            .map(|f| Fact {
                dt: f.datum_type,
                shape: f.shape.iter().cloned().collect(),
            })
            .collect();
        Ok(self
            .op
            .output_facts(&facts)?
            .into_iter()
            .map(|f| f.dt.fact(&*f.shape))
            .collect())
    }
}
