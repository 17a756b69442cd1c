//! Plans specialized to the shapes fed, for models that do not type with symbolic shapes.
//!
//! Real exports often compute dims from `Shape` in ways tract cannot unify symbolically,
//! leave their inputs without shapes, declare intermediate shapes that contradict each other,
//! or branch on an input's value. Such a model is kept parsed (its declared value infos
//! dropped), and each distinct signature of the feeds (element types and dims) gets its own
//! plan, typed and optimized with those concrete shapes. Plans live in a bounded cache, most
//! recently used first, so alternating between a few sizes builds each plan once.
//!
//! When a plan does not type even with concrete shapes and the model has small integer or
//! boolean inputs (a sample rate, a flag, a shape), those inputs are pinned to the values fed:
//! they become constants of the plan, so value-dependent control flow (`If`) and shape
//! arithmetic fold away. Should that not be enough, every small input is pinned (a `Resize`'s
//! scales, a `Pad`'s value, statistics tract wants constant). From then on their values are
//! part of the cache key.

use std::sync::Arc;

use edgewise_core::{DType, Dim, Error, Result, Tensor, ValueInfo};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_hir::infer::InferenceOp;

use crate::convert;
use crate::load::Parsed;
use crate::tract_plan::TractPlan;

/// Inputs of at most this many elements may be pinned to their values.
const PIN_MAX_ELEMENTS: usize = 64;

/// What distinguishes one specialized plan from another.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    /// Element type and dims of each input.
    shapes: Vec<(DType, Vec<usize>)>,
    /// The bytes of each pinned input, in input order (empty while nothing is pinned).
    values: Vec<Vec<u8>>,
}

struct Entry {
    key: Key,
    /// The plan, or why there is none for this key (not rebuilt on every call).
    plan: std::result::Result<TractPlan, Error>,
    /// Which inputs the plan takes, in order (pinned ones are constants inside it).
    fed: Vec<usize>,
}

/// How a session's plans are made, and what its cache has done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStats {
    /// `false`: one plan typed with the model's symbolic shapes serves every call. `true`:
    /// plans are built per distinct input signature.
    pub per_shape: bool,
    /// Why the symbolic plan could not be used, when `per_shape`.
    pub reason: Option<String>,
    /// Plans built so far.
    pub built: usize,
    /// Calls served by a plan built earlier.
    pub reused: usize,
    /// Plans held now.
    pub cached: usize,
    /// The most plans held at once.
    pub capacity: usize,
    /// Inputs whose values are part of the plan (constants inside it).
    pub pinned: Vec<String>,
}

/// A model planned per input signature.
pub(crate) struct PerShape {
    /// The model, parsed, its declared intermediate facts forgotten.
    parsed: Parsed,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    optimize: bool,
    /// The inputs pinned at each level: none, then small integer and boolean inputs, then
    /// every small input (float scales, pads, statistics). Levels without a new input are
    /// left out.
    levels: Vec<Vec<usize>>,
    /// The level plans use now (raised when a plan fails to type at the level below).
    level: usize,
    reason: String,
    cache: Vec<Entry>,
    capacity: usize,
    built: usize,
    reused: usize,
}

impl PerShape {
    /// Prepares per-shape planning of a parsed model; `reason` says why the symbolic plan
    /// could not be used.
    pub fn new(
        mut parsed: Parsed,
        inputs: Vec<ValueInfo>,
        outputs: Vec<ValueInfo>,
        optimize: bool,
        capacity: usize,
        reason: String,
    ) -> PerShape {
        forget_declared_facts(&mut parsed.model);
        let small: Vec<usize> = (0..inputs.len()).filter(|&k| small(&inputs[k])).collect();
        let integral: Vec<usize> = small
            .iter()
            .copied()
            .filter(|&k| integral(&inputs[k]))
            .collect();
        let mut levels = vec![vec![]];
        for level in [integral, small] {
            if level.len() > levels.last().map_or(0, Vec::len) {
                levels.push(level);
            }
        }
        PerShape {
            parsed,
            inputs,
            outputs,
            optimize,
            levels,
            level: 0,
            reason,
            cache: Vec::new(),
            capacity: capacity.max(1),
            built: 0,
            reused: 0,
        }
    }

    pub fn stats(&self) -> PlanStats {
        PlanStats {
            per_shape: true,
            reason: Some(self.reason.clone()),
            built: self.built,
            reused: self.reused,
            cached: self.cache.iter().filter(|e| e.plan.is_ok()).count(),
            capacity: self.capacity,
            pinned: self.levels[self.level]
                .iter()
                .map(|&i| self.inputs[i].name.clone())
                .collect(),
        }
    }

    fn key(&self, tensors: &[Tensor]) -> Key {
        Key {
            shapes: tensors
                .iter()
                .map(|t| (t.dtype(), t.dims().to_vec()))
                .collect(),
            values: self.levels[self.level]
                .iter()
                .map(|&i| tensors[i].data().to_le_bytes())
                .collect(),
        }
    }

    /// Runs the plan for these feeds (checked and in input order), building it on a miss.
    pub fn run(&mut self, tensors: &[Tensor]) -> Result<TVec<TValue>> {
        let key = self.key(tensors);
        let mut entry = match self.cache.iter().position(|e| e.key == key) {
            Some(i) => {
                self.reused += 1;
                self.cache.remove(i)
            }
            None => self.build(tensors),
        };
        let result = match &mut entry.plan {
            Ok(plan) => {
                let values = entry
                    .fed
                    .iter()
                    .map(|&i| Ok(convert::to_tract(&tensors[i])?.into_tvalue()))
                    .collect::<Result<Vec<_>>>()?;
                plan.run(values)
            }
            Err(e) => Err(e.clone()),
        };
        self.cache.insert(0, entry);
        self.cache.truncate(self.capacity);
        result
    }

    /// Builds the plan for these feeds at the current level, raising the level while plans
    /// fail to type (what a higher level pins, values decide).
    fn build(&mut self, tensors: &[Tensor]) -> Entry {
        let mut first: Option<Error> = None;
        loop {
            let pinned = &self.levels[self.level];
            let fed: Vec<usize> = (0..self.inputs.len())
                .filter(|i| !pinned.contains(i))
                .collect();
            match self.plan_at(tensors, pinned, &fed) {
                Ok(plan) => {
                    self.built += 1;
                    return Entry {
                        key: self.key(tensors),
                        plan: Ok(plan),
                        fed,
                    };
                }
                Err(e) if self.level + 1 < self.levels.len() => {
                    first.get_or_insert(e);
                    self.level += 1;
                }
                Err(e) => {
                    // The first error is the one concrete shapes gave; later ones come from
                    // graphs with constants folded in and read worse.
                    let e = first.unwrap_or(e);
                    return Entry {
                        key: self.key(tensors),
                        plan: Err(self.explain(tensors, e)),
                        fed,
                    };
                }
            }
        }
    }

    /// The parsed model with `pinned` inputs turned into constants holding the values fed and
    /// concrete facts for the others.
    fn plan_at(&self, tensors: &[Tensor], pinned: &[usize], fed: &[usize]) -> Result<TractPlan> {
        let mut parsed = self.parsed.clone();
        for &i in pinned {
            pin(&mut parsed, &self.inputs[i].name, &tensors[i])?;
        }
        let names: Vec<String> = fed.iter().map(|&i| self.inputs[i].name.clone()).collect();
        set_facts(&mut parsed, &names, fed.iter().map(|&i| &tensors[i]))?;
        TractPlan::from_parsed(parsed, &names, self.outputs.clone(), self.optimize)
    }

    fn explain(&self, tensors: &[Tensor], e: Error) -> Error {
        let fed: Vec<String> = self
            .inputs
            .iter()
            .zip(tensors)
            .map(|(i, t)| format!("{}: {}{:?}", i.name, t.dtype(), t.dims()))
            .collect();
        let pins: Vec<&str> = self.levels[self.level]
            .iter()
            .map(|&i| self.inputs[i].name.as_str())
            .collect();
        let tried = if !pins.is_empty() {
            format!(
                "concrete shapes, and {} pinned to the values fed,",
                pins.join(", ")
            )
        } else {
            "concrete shapes".to_string()
        };
        let why = match e {
            Error::InvalidModel(m) => m,
            other => other.to_string(),
        };
        Error::InvalidModel(format!(
            "no plan for inputs {}: {why} ({tried} did not help; with symbolic shapes: {})",
            fed.join(", "),
            first_line(&self.reason)
        ))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Declares the element type and dims of the named sources.
fn set_facts<'a>(
    parsed: &mut Parsed,
    names: &[String],
    tensors: impl Iterator<Item = &'a Tensor>,
) -> Result<()> {
    for (name, t) in names.iter().zip(tensors) {
        let slot = parsed
            .sources
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| {
                Error::InvalidModel(format!("input '{name}' is not a source of the graph"))
            })?;
        let fact = InferenceFact::dt_shape(convert::datum_type(t.dtype()), t.dims().to_vec());
        parsed
            .model
            .set_input_fact(slot, fact)
            .map_err(|e| Error::InvalidModel(format!("input '{name}': {e:#}")))?;
    }
    Ok(())
}

/// Turns the source `name` into a constant holding `value`.
fn pin(parsed: &mut Parsed, name: &str, value: &Tensor) -> Result<()> {
    let slot = parsed
        .sources
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| {
            Error::InvalidModel(format!("input '{name}' is not a source of the graph"))
        })?;
    let outlet = parsed.model.inputs[slot];
    let tensor = Arc::new(convert::to_tract(value)?);
    let konst = Const::new(tensor.clone()).map_err(|e| Error::Runtime(format!("{e:#}")))?;
    let op: Box<dyn InferenceOp> = Box::new(konst);
    parsed.model.node_mut(outlet.node).op = op;
    parsed
        .model
        .set_outlet_fact(outlet, InferenceFact::from((*tensor).clone()))
        .map_err(|e| Error::InvalidModel(format!("input '{name}': {e:#}")))?;
    parsed.model.inputs.remove(slot);
    parsed.sources.remove(slot);
    Ok(())
}

/// Forgets the facts the model declares for its intermediate values (ONNX `value_info`):
/// they were written for symbolic shapes and often contradict concrete typing. Sources and
/// constants keep theirs.
pub(crate) fn forget_declared_facts(model: &mut InferenceModel) {
    let sources: Vec<usize> = model.inputs.iter().map(|o| o.node).collect();
    for node in model.nodes.iter_mut() {
        if sources.contains(&node.id) || node.op_is::<Const>() {
            continue;
        }
        for output in node.outputs.iter_mut() {
            output.fact = InferenceFact::default();
        }
    }
}

/// Integer or boolean: the kind of input a graph branches on or computes shapes from.
fn integral(info: &ValueInfo) -> bool {
    matches!(
        info.dtype,
        Some(
            DType::I8
                | DType::I16
                | DType::I32
                | DType::I64
                | DType::U8
                | DType::U16
                | DType::U32
                | DType::U64
                | DType::Bool
        )
    )
}

/// An input declared with fixed dims and at most `PIN_MAX_ELEMENTS` elements.
fn small(info: &ValueInfo) -> bool {
    info.shape.as_ref().is_some_and(|s| {
        s.iter()
            .map(|d| match d {
                Dim::Fixed(n) => Some(*n),
                Dim::Symbolic(_) => None,
            })
            .product::<Option<usize>>()
            .is_some_and(|n| n <= PIN_MAX_ELEMENTS)
    })
}
