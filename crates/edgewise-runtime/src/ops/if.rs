//! If, the ONNX operator, with the branch chosen while typing when the condition is known.
//!
//! tract types both branches of an `If` and requires their outputs to agree in shape. Real
//! exports often branch on an input's value (a sample rate, a flag) into branches of
//! different ranks or shapes, so that only the branch actually taken types with the shapes
//! fed. Here, when the condition is known during analysis (a constant, or computed from
//! inputs the session pinned to their fed values), only the chosen branch is analysed and
//! typed, and it is wired inline into the outer graph. When the condition is only known at
//! run time, both branches are typed as tract does and the choice is made per run.

use tract_onnx::model::{ParseResult, ParsingContext};
use tract_onnx::pb::{GraphProto, NodeProto};
use tract_onnx::tract_core::ops::logic::IfThenElse;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_core::{as_op, not_a_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// One branch: its graph and, for each of its inputs, the outer input slot feeding it.
#[derive(Debug, Clone)]
struct Branch {
    body: InferenceModel,
    inputs: Vec<usize>,
}

/// The ONNX `If` operator. Input 0 is the condition; the others are the outer values the
/// branches read.
#[derive(Debug, Clone)]
pub(crate) struct If {
    then_branch: Branch,
    else_branch: Branch,
}

impl PartialEq for If {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Eq for If {}

pub(crate) fn parse(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let then_graph: &GraphProto = node.get_attr("then_branch")?;
    let else_graph: &GraphProto = node.get_attr("else_branch")?;
    let ParseResult {
        model: then_body,
        unresolved_inputs: then_outer,
        ..
    } = ctx.parse_graph(then_graph)?;
    let ParseResult {
        model: else_body,
        unresolved_inputs: else_outer,
        ..
    } = ctx.parse_graph(else_graph)?;
    let mut outer: Vec<String> = then_outer.iter().chain(&else_outer).cloned().collect();
    outer.sort();
    outer.dedup();
    // Outer slot 0 is the condition.
    let slots = |names: &[String]| -> Vec<usize> {
        names
            .iter()
            .map(|n| outer.iter().position(|o| o == n).map_or(0, |p| p + 1))
            .collect()
    };
    let op = If {
        then_branch: Branch {
            inputs: slots(&then_outer),
            body: then_body,
        },
        else_branch: Branch {
            inputs: slots(&else_outer),
            body: else_body,
        },
    };
    ensure!(
        op.then_branch.body.output_outlets()?.len() == op.else_branch.body.output_outlets()?.len(),
        "If node '{}': its branches produce {} and {} outputs",
        node.name,
        op.then_branch.body.output_outlets()?.len(),
        op.else_branch.body.output_outlets()?.len()
    );
    Ok((Box::new(op), outer))
}

impl If {
    fn branch(&self, cond: bool) -> &Branch {
        if cond {
            &self.then_branch
        } else {
            &self.else_branch
        }
    }
}

/// The condition's value, when analysis knows it.
fn known_condition(fact: &InferenceFact) -> TractResult<Option<bool>> {
    match fact.value.concretize() {
        Some(t) => Ok(Some(t.cast_to_scalar::<bool>()?)),
        None => Ok(None),
    }
}

impl Op for If {
    fn name(&self) -> StaticName {
        "If".into()
    }

    not_a_typed_op!();
}

impl EvalOp for If {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let branch = self.branch(inputs[0].cast_to_scalar::<bool>()?);
        let inputs: TVec<TValue> = branch.inputs.iter().map(|&i| inputs[i].clone()).collect();
        branch.body.clone().into_runnable()?.run(inputs)
    }
}

/// Unifies the branch's input facts with the outer ones, both ways.
fn unify_inputs(branch: &mut Branch, inputs: &mut [InferenceFact]) -> TractResult<bool> {
    let mut changed = false;
    for (body_ix, &outer) in branch.inputs.iter().enumerate() {
        changed |= branch
            .body
            .input_fact_mut(body_ix)?
            .unify_with_mut(&mut inputs[outer])?;
    }
    Ok(changed)
}

impl InferenceOp for If {
    fn infer_facts(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(
        TVec<InferenceFact>,
        TVec<InferenceFact>,
        TVec<InferenceFact>,
    )> {
        let mut inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
        let mut outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
        loop {
            let mut changed = inputs[0]
                .datum_type
                .unify_with(&bool::datum_type().into())?;
            match known_condition(&inputs[0])? {
                Some(cond) => {
                    // Only the branch taken matters: the other one may not even type.
                    let branch = if cond {
                        &mut self.then_branch
                    } else {
                        &mut self.else_branch
                    };
                    changed |= unify_inputs(branch, &mut inputs)?;
                    for (ix, out) in outputs.iter_mut().enumerate() {
                        changed |= branch.body.output_fact_mut(ix)?.unify_with_mut(out)?;
                    }
                    changed |= branch.body.analyse(false)?;
                }
                None => {
                    changed |= unify_inputs(&mut self.then_branch, &mut inputs)?;
                    changed |= unify_inputs(&mut self.else_branch, &mut inputs)?;
                    for (ix, out) in outputs.iter_mut().enumerate() {
                        for branch in [&mut self.then_branch, &mut self.else_branch] {
                            let fact = branch.body.output_fact_mut(ix)?;
                            changed |= fact.datum_type.unify_with_mut(&mut out.datum_type)?;
                            // Branches of different shapes leave the output's shape open
                            // rather than failing: with the condition pinned it resolves.
                            let mut shape = out.shape.clone();
                            if shape.unify_with_mut(&mut fact.shape).is_ok() {
                                changed |= shape != out.shape;
                                out.shape = shape;
                            }
                        }
                    }
                    changed |= self.then_branch.body.analyse(false)?;
                    changed |= self.else_branch.body.analyse(false)?;
                }
            }
            if !changed {
                return Ok((inputs, outputs, observed.into_iter().cloned().collect()));
            }
        }
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.then_branch.body.output_outlets()?.len())
    }

    fn to_typed(
        &self,
        source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        let inputs: TVec<OutletId> = node.inputs.iter().map(|o| mapping[o]).collect();
        let cond = match known_condition(source.outlet_fact(node.inputs[0])?)? {
            Some(c) => Some(c),
            None => target
                .outlet_fact(inputs[0])?
                .konst
                .as_ref()
                .map(|t| t.cast_to_scalar::<bool>())
                .transpose()?,
        };
        if let Some(cond) = cond {
            return wire_inline(&node.name, self.branch(cond), &inputs, target);
        }
        let op = IfThenElse {
            then_body: self.then_branch.body.clone().into_typed()?,
            else_body: self.else_branch.body.clone().into_typed()?,
            then_input_mapping: self.then_branch.inputs.clone(),
            else_input_mapping: self.else_branch.inputs.clone(),
        };
        target.wire_node(&node.name, op, &inputs)
    }

    as_op!();
}

/// Types one branch and wires its nodes into `target` in place of the `If` node.
fn wire_inline(
    name: &str,
    branch: &Branch,
    inputs: &[OutletId],
    target: &mut TypedModel,
) -> TractResult<TVec<OutletId>> {
    let body = branch.body.clone().into_typed()?;
    let mut wired: HashMap<OutletId, OutletId> = HashMap::default();
    for (source, &outer) in body.input_outlets()?.iter().zip(&branch.inputs) {
        wired.insert(*source, inputs[outer]);
    }
    for id in body.eval_order()? {
        let n = body.node(id);
        if n.op_is::<TypedSource>() {
            continue;
        }
        let ins: TVec<OutletId> = n.inputs.iter().map(|o| wired[o]).collect();
        let outs = target.wire_node(format!("{name}.{}", n.name), n.op.clone(), &ins)?;
        for (slot, outlet) in outs.into_iter().enumerate() {
            wired.insert(OutletId::new(id, slot), outlet);
        }
    }
    Ok(body.output_outlets()?.iter().map(|o| wired[o]).collect())
}
