//! Loop, the ONNX operator, run by evaluating its body once per iteration.
//!
//! tract has no `Loop`. A loop's trip count and condition are values, and the values it
//! carries from one iteration to the next may change shape as it goes, so the body is not
//! typed ahead once and for all: each iteration runs a plan of the body typed with the
//! shapes it is fed, cached per shape signature (a loop whose carried values keep their
//! shapes types its body once). When every input of the node is known while the outer
//! model is analysed (constants, or inputs the session pinned to their fed values), the
//! loop runs then and its outputs become constants of the plan, as shape-computing loops
//! need. Outputs whose sizes only the run decides (the scan outputs' iteration axis, a
//! carried value that grows) get fresh symbols in the typed model.

use std::collections::HashMap as StdHashMap;
use std::sync::{Arc, Mutex};

use tract_onnx::model::{ParseResult, ParsingContext};
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{GraphProto, NodeProto, TypeProto, type_proto};
use tract_onnx::tract_core::{as_op, not_a_typed_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;

/// Body plans kept per input-shape signature before the cache starts over.
const PLANS_KEPT: usize = 32;

/// Element type and shape of each body input: what a body plan is typed for.
type Signature = Vec<(DatumType, TVec<usize>)>;

/// A plan of the body for one signature: typed when the body types with those shapes,
/// otherwise the body run as parsed, op by op (as tract runs an untyped model).
#[derive(Debug)]
enum BodyPlan {
    Typed(Arc<TypedRunnableModel>),
    Untyped(Arc<RunnableModel<InferenceFact, Box<dyn InferenceOp>>>),
}

impl BodyPlan {
    fn run(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        match self {
            BodyPlan::Typed(p) => p.run(inputs),
            BodyPlan::Untyped(p) => p.run(inputs),
        }
    }

    /// The element type and, when the plan knows it, the shape of body output `ix`.
    fn output(&self, ix: usize) -> TractResult<(Option<DatumType>, Option<TVec<usize>>)> {
        Ok(match self {
            BodyPlan::Typed(p) => {
                let fact = p.model().output_fact(ix)?;
                (
                    Some(fact.datum_type),
                    fact.shape.as_concrete().map(|s| s.into()),
                )
            }
            BodyPlan::Untyped(p) => {
                let fact = p.model().output_fact(ix)?;
                (
                    fact.datum_type.concretize(),
                    fact.shape.concretize().and_then(|dims| {
                        dims.iter()
                            .map(|d| d.to_usize().ok())
                            .collect::<Option<TVec<_>>>()
                    }),
                )
            }
        })
    }
}

/// The loop itself: its body and how the node's inputs map onto it.
#[derive(Debug, Clone)]
struct LoopBody {
    name: String,
    body: InferenceModel,
    has_trip_count: bool,
    has_condition: bool,
    carried: usize,
    scanned: usize,
    plans: Arc<Mutex<StdHashMap<Signature, Arc<BodyPlan>>>>,
}

impl LoopBody {
    /// The node's input slots of the carried initial values and of the outer values.
    fn first_carried(&self) -> usize {
        self.has_trip_count as usize + self.has_condition as usize
    }

    fn plan(&self, inputs: &[TValue]) -> TractResult<Arc<BodyPlan>> {
        let signature: Signature = inputs
            .iter()
            .map(|t| (t.datum_type(), t.shape().into()))
            .collect();
        let mut plans = self
            .plans
            .lock()
            .map_err(|_| format_err!("Loop node '{}': its plan cache is poisoned", self.name))?;
        if let Some(p) = plans.get(&signature) {
            return Ok(p.clone());
        }
        let mut body = self.body.clone();
        for (ix, (dt, shape)) in signature.iter().enumerate() {
            body.set_input_fact(ix, InferenceFact::dt_shape(*dt, shape.clone()))?;
        }
        let typed = crate::load::typed_model(body.clone(), true).map_err(|e| format_err!("{e}"));
        let plan = match typed.and_then(|m| m.into_runnable()) {
            Ok(p) => BodyPlan::Typed(p),
            Err(_) => BodyPlan::Untyped(body.into_runnable()?),
        };
        if plans.len() >= PLANS_KEPT {
            plans.clear();
        }
        let plan = Arc::new(plan);
        plans.insert(signature, plan.clone());
        Ok(plan)
    }

    fn run(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let first = self.first_carried();
        let trip_count = if self.has_trip_count {
            Some(inputs[0].cast_to_scalar::<i64>()?)
        } else {
            None
        };
        let mut go = if self.has_condition {
            inputs[self.has_trip_count as usize].cast_to_scalar::<bool>()?
        } else {
            true
        };
        ensure!(
            trip_count.is_some() || self.has_condition,
            "Loop node '{}' has neither a trip count nor a condition: it would never end",
            self.name
        );
        let mut carried: TVec<TValue> = inputs[first..first + self.carried].into();
        let outer = &inputs[first + self.carried..];
        let mut scans: Vec<Vec<Tensor>> = vec![vec![]; self.scanned];
        let mut iteration: i64 = 0;
        let mut last_plan = None;
        while go && trip_count.is_none_or(|m| iteration < m) {
            let mut body_inputs: TVec<TValue> =
                tvec!(tensor0(iteration).into_tvalue(), tensor0(go).into_tvalue());
            body_inputs.extend(carried.iter().cloned());
            body_inputs.extend(outer.iter().cloned());
            let plan = self.plan(&body_inputs)?;
            let mut outputs = plan
                .run(body_inputs)
                .with_context(|| format!("Loop node '{}': iteration {iteration}", self.name))?;
            last_plan = Some(plan);
            go = outputs[0].cast_to_scalar::<bool>()?;
            let scanned: TVec<TValue> = outputs.drain(1 + self.carried..).collect();
            carried = outputs.into_iter().skip(1).collect();
            for (k, t) in scanned.into_iter().enumerate() {
                let mut t = t.into_tensor();
                t.insert_axis(0)?;
                scans[k].push(t);
            }
            iteration += 1;
        }
        let mut results = carried;
        for (k, slices) in scans.into_iter().enumerate() {
            let stacked = if slices.is_empty() {
                self.empty_scan(k, &inputs, last_plan.as_deref())?
            } else {
                Tensor::stack_tensors(0, &slices).with_context(|| {
                    format!(
                        "Loop node '{}': scan output {k} changes shape between iterations",
                        self.name
                    )
                })?
            };
            results.push(stacked.into_tvalue());
        }
        Ok(results)
    }

    /// Scan output `k` of a loop that ran no iteration: zero slices of the body's output.
    fn empty_scan(
        &self,
        k: usize,
        inputs: &[TValue],
        plan: Option<&BodyPlan>,
    ) -> TractResult<Tensor> {
        let owned;
        let plan = match plan {
            Some(p) => p,
            None => {
                let first = self.first_carried();
                let mut body_inputs: TVec<TValue> =
                    tvec!(tensor0(0i64).into_tvalue(), tensor0(true).into_tvalue());
                body_inputs.extend(inputs[first..].iter().cloned());
                owned = self.plan(&body_inputs)?;
                &*owned
            }
        };
        let (dt, shape) = plan.output(1 + self.carried + k)?;
        let dt = dt.with_context(|| {
            format!(
                "Loop node '{}' ran no iteration and the type of scan output {k} is unknown",
                self.name
            )
        })?;
        let mut dims: TVec<usize> = tvec!(0);
        dims.extend(shape.unwrap_or_default());
        Tensor::zero_dt(dt, &dims)
    }

    /// Output facts from an analysis of the body with the outer facts (a copy of the body:
    /// the one kept stays untyped for the shapes fed at run time).
    fn analysed(&self, inputs: &[InferenceFact]) -> Option<TVec<InferenceFact>> {
        let first = self.first_carried();
        let mut body = self.body.clone();
        body.set_input_fact(
            0,
            InferenceFact::dt_shape(i64::datum_type(), tvec!(0usize; 0)),
        )
        .ok()?;
        body.set_input_fact(
            1,
            InferenceFact::dt_shape(bool::datum_type(), tvec!(0usize; 0)),
        )
        .ok()?;
        for (ix, fact) in inputs[first..].iter().enumerate() {
            let mut fact = fact.clone();
            fact.value = GenericFactoid::Any;
            body.input_fact_mut(2 + ix)
                .ok()?
                .unify_with_mut(&mut fact)
                .ok()?;
        }
        body.analyse(false).ok()?;
        body.output_outlets()
            .ok()?
            .iter()
            .map(|o| body.outlet_fact(*o).ok().cloned())
            .collect()
    }
}

impl LoopBody {
    /// The body typed for the shapes of the outer values, when they are all concrete: its
    /// output facts for the first iteration.
    fn first_iteration(&self, outer: &[TypedFact]) -> Option<TVec<TypedFact>> {
        let mut signature: Signature =
            vec![(i64::datum_type(), tvec!()), (bool::datum_type(), tvec!())];
        for fact in &outer[self.first_carried()..] {
            signature.push((fact.datum_type, fact.shape.as_concrete()?.into()));
        }
        let mut body = self.body.clone();
        for (ix, (dt, shape)) in signature.iter().enumerate() {
            body.set_input_fact(ix, InferenceFact::dt_shape(*dt, shape.clone()))
                .ok()?;
        }
        let typed = body.into_typed().ok()?;
        typed
            .output_outlets()
            .ok()?
            .iter()
            .map(|o| typed.outlet_fact(*o).ok().cloned())
            .collect()
    }

    /// The node's output facts in a typed model. Sizes the run decides (the iterations of
    /// the scan outputs, a carried value that changes shape) get symbols of their own.
    fn output_facts(
        &self,
        outer: &[TypedFact],
        inferred: &[InferenceFact],
        symbols: &SymbolScope,
    ) -> TractResult<TVec<TypedFact>> {
        let fresh = || -> TDim { symbols.new_with_prefix("loop").into() };
        let open = |rank: usize| -> TVec<TDim> { (0..rank).map(|_| fresh()).collect() };
        let first = self.first_carried();
        let body = self.first_iteration(outer);
        // The carried values the body returns with the shapes it was given: when all are,
        // every iteration sees the shapes the first one saw.
        let kept: Vec<bool> = (0..self.carried)
            .map(|k| {
                body.as_ref()
                    .is_some_and(|b| b[1 + k].shape == outer[first + k].shape)
            })
            .collect();
        let stable = kept.iter().all(|k| *k);
        let mut facts = tvec!();
        for (ix, fact) in inferred.iter().enumerate() {
            let from_body = body.as_ref().map(|b| &b[1 + ix]);
            let dt = fact
                .datum_type
                .concretize()
                .or(from_body.map(|f| f.datum_type))
                .with_context(|| {
                    format!(
                        "Loop node '{}': the type of output {ix} is unknown",
                        self.name
                    )
                })?;
            let shape: TVec<TDim> = if ix < self.carried {
                let initial = &outer[first + ix];
                match from_body {
                    Some(_) if stable => initial.shape.to_tvec(),
                    Some(b) => open(b.rank()),
                    // Untyped ahead: the rank analysis found, else the initial value's.
                    None => match fact.shape.is_open() {
                        false => fact
                            .shape
                            .dims()
                            .map(|d| d.concretize().unwrap_or_else(fresh))
                            .collect(),
                        true => open(initial.rank()),
                    },
                }
            } else {
                let mut shape = tvec!(fresh());
                match from_body {
                    Some(b) if stable => shape.extend(b.shape.iter().map(|d| {
                        if d.as_i64().is_some() {
                            d.clone()
                        } else {
                            fresh()
                        }
                    })),
                    Some(b) => shape.extend(open(b.rank())),
                    None if !fact.shape.is_open() => {
                        shape = fact
                            .shape
                            .dims()
                            .map(|d| d.concretize().unwrap_or_else(fresh))
                            .collect()
                    }
                    None => bail!(
                        "Loop node '{}': the rank of scan output {} is unknown ahead (giving the model concrete shapes, freeDimensionOverrides, lets its body type)",
                        self.name,
                        ix - self.carried
                    ),
                }
                shape
            };
            facts.push(dt.fact(shape));
        }
        Ok(facts)
    }
}

pub(crate) fn parse(
    ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let graph: &GraphProto = node.get_attr("body")?;
    // A body input may leave its type to the loop (function bodies do): tract's parser wants
    // one, so it gets a placeholder that is forgotten once parsed.
    let mut graph = graph.clone();
    let mut untyped = vec![];
    for (ix, input) in graph.input.iter_mut().enumerate() {
        if input.r#type.as_ref().is_none_or(|t| t.value.is_none()) {
            untyped.push(ix);
            input.r#type = Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: DataType::Float as i32,
                    shape: None,
                })),
                ..Default::default()
            });
        }
    }
    let ParseResult {
        model: mut body,
        unresolved_inputs,
        ..
    } = ctx.parse_graph(&graph)?;
    for ix in untyped {
        body.set_input_fact(ix, InferenceFact::default())?;
    }
    let given = |ix: usize| node.input.get(ix).is_some_and(|s| !s.is_empty());
    let formal = body.input_outlets()?.len() - unresolved_inputs.len();
    ensure!(
        formal >= 2,
        "Loop node '{}': its body takes {formal} inputs, at least 2 expected (iteration, condition)",
        node.name
    );
    let carried = formal - 2;
    let outputs = body.output_outlets()?.len();
    ensure!(
        outputs > carried,
        "Loop node '{}': its body returns {outputs} outputs for {carried} carried values (the condition comes first)",
        node.name
    );
    let given_carried = node.input.len().saturating_sub(2);
    ensure!(
        given_carried == carried,
        "Loop node '{}' gives {given_carried} initial values for its body's {carried} carried values",
        node.name
    );
    // Unnamed nodes go by their first output, as tract names them.
    let name = match (node.name.is_empty(), node.output.first()) {
        (true, Some(first)) => first.clone(),
        _ => node.name.clone(),
    };
    let op = Loop(LoopBody {
        name,
        body,
        has_trip_count: given(0),
        has_condition: given(1),
        carried,
        scanned: outputs - 1 - carried,
        plans: Arc::default(),
    });
    Ok((Box::new(op), unresolved_inputs))
}

/// The ONNX `Loop` operator while the model is analysed.
#[derive(Debug, Clone)]
pub(crate) struct Loop(LoopBody);

impl PartialEq for Loop {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Eq for Loop {}

impl Op for Loop {
    fn name(&self) -> StaticName {
        "Loop".into()
    }

    not_a_typed_op!();
}

impl EvalOp for Loop {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.0.run(inputs)
    }
}

impl InferenceOp for Loop {
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
        let l = &self.0;
        let first = l.first_carried();
        let mut inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
        let mut outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
        // The trip count is an int64 scalar (tract may carry it as a symbolic dim).
        if l.has_trip_count {
            inputs[0]
                .shape
                .unify_with_mut(&mut ShapeFactoid::closed(tvec!()))?;
        }
        if l.has_condition {
            let c = &mut inputs[l.has_trip_count as usize];
            c.datum_type.unify_with(&bool::datum_type().into())?;
        }
        let body_outputs = l.analysed(&inputs);
        for (k, out) in outputs.iter_mut().enumerate() {
            let body_fact = body_outputs.as_ref().map(|b| &b[1 + k]);
            if k < l.carried {
                let initial = &inputs[first + k];
                out.datum_type
                    .unify_with_mut(&mut initial.datum_type.clone())?;
                // A carried value keeps its shape when the body returns it unchanged.
                let kept = body_fact.is_some_and(|f| {
                    f.shape.is_concrete() && initial.shape.is_concrete() && f.shape == initial.shape
                });
                if kept {
                    out.shape.unify_with_mut(&mut initial.shape.clone())?;
                } else if let Some(rank) = body_fact.and_then(|f| f.shape.rank().concretize())
                    && out.shape.is_open()
                {
                    out.shape = ShapeFactoid::closed(tvec!(DimFact::default(); rank as usize));
                }
            } else if let Some(fact) = body_fact {
                out.datum_type
                    .unify_with_mut(&mut fact.datum_type.clone())?;
                if let Some(dims) = fact.shape.concretize() {
                    let mut shape: TVec<DimFact> = tvec!(DimFact::default());
                    shape.extend(dims.into_iter().map(DimFact::from));
                    out.shape.unify_with_mut(&mut ShapeFactoid::closed(shape))?;
                } else if let Some(rank) = fact.shape.rank().concretize()
                    && out.shape.is_open()
                {
                    out.shape = ShapeFactoid::closed(tvec!(DimFact::default(); rank as usize + 1));
                }
            }
        }
        Ok((inputs, outputs, observed.into_iter().cloned().collect()))
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.0.carried + self.0.scanned)
    }

    fn to_typed(
        &self,
        source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        let inputs: TVec<OutletId> = node.inputs.iter().map(|o| mapping[o]).collect();
        let outer: TVec<TypedFact> = inputs
            .iter()
            .map(|o| target.outlet_fact(*o).cloned())
            .collect::<TractResult<_>>()?;
        let inferred: TVec<InferenceFact> = (0..node.outputs.len())
            .map(|ix| source.outlet_fact(OutletId::new(node.id, ix)).cloned())
            .collect::<TractResult<_>>()?;
        let facts = self.0.output_facts(&outer, &inferred, &target.symbols)?;
        let op = TypedLoop {
            body: self.0.clone(),
            facts,
        };
        target.wire_node(&node.name, op, &inputs)
    }

    as_op!();
}

/// The ONNX `Loop` operator in a typed plan.
#[derive(Debug, Clone)]
pub(crate) struct TypedLoop {
    body: LoopBody,
    facts: TVec<TypedFact>,
}

impl PartialEq for TypedLoop {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Eq for TypedLoop {}

impl Op for TypedLoop {
    fn name(&self) -> StaticName {
        "Loop".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TypedLoop {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.body.run(inputs)
    }
}

impl TypedOp for TypedLoop {
    as_op!();

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(self.facts.clone())
    }
}
