//! One tract plan: a whole model, or one CPU stage of a staged model.

use std::sync::Arc;

use edgewise_core::{Error, Result, ValueInfo};
use tract_onnx::prelude::*;

use crate::load::{self, Decoded, Parsed};

/// A typed, optimized tract plan with its declared signature.
pub(crate) struct TractPlan {
    pub outputs: Vec<ValueInfo>,
    /// For each declared input, its position among tract's model inputs.
    input_slots: Vec<usize>,
    /// The element type of each model input (a `float16` input runs as `float32`).
    input_types: Vec<DatumType>,
    plan: Arc<TypedRunnableModel>,
    state: Option<TypedSimpleState>,
}

impl TractPlan {
    /// Types, optimizes and plans a decoded model with the input shapes it declares.
    pub fn build(decoded: &Decoded, optimize: bool) -> Result<TractPlan> {
        let (inputs, outputs) = load::signature(&decoded.proto);
        let names: Vec<String> = inputs.into_iter().map(|i| i.name).collect();
        TractPlan::from_parsed(load::parse(decoded)?, &names, outputs, optimize)
    }

    /// Types, optimizes and plans a parsed model. `inputs` names the values a run feeds, in
    /// the order it feeds them; they must be exactly the graph's sources.
    pub fn from_parsed(
        parsed: Parsed,
        inputs: &[String],
        mut outputs: Vec<ValueInfo>,
        optimize: bool,
    ) -> Result<TractPlan> {
        let Parsed { model, sources } = parsed;
        let input_slots = inputs
            .iter()
            .map(|name| {
                sources.iter().position(|n| n == name).ok_or_else(|| {
                    Error::InvalidModel(format!("input '{name}' is not a source of the graph"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if input_slots.len() != sources.len() {
            return Err(Error::InvalidModel(format!(
                "the graph has {} sources but {} inputs are fed",
                sources.len(),
                input_slots.len()
            )));
        }
        let model = load::typed_model(model, optimize)?;
        load::complete_outputs(&mut outputs, &model);
        let input_types = model
            .input_outlets()
            .and_then(|ins| {
                ins.iter()
                    .map(|o| Ok(model.outlet_fact(*o)?.datum_type))
                    .collect::<TractResult<Vec<_>>>()
            })
            .map_err(|e| Error::InvalidModel(format!("{e:#}")))?;
        let plan = model
            .into_runnable()
            .map_err(|e| Error::InvalidModel(format!("{e:#}")))?;
        Ok(TractPlan {
            outputs,
            input_slots,
            input_types,
            plan,
            state: None,
        })
    }

    /// Runs the plan on values given in declared input order; outputs come back in declared
    /// output order. A failed run leaves the plan usable.
    pub fn run(&mut self, values: Vec<TValue>) -> Result<TVec<TValue>> {
        let mut slots: Vec<Option<TValue>> = vec![None; values.len()];
        for (value, &slot) in values.into_iter().zip(&self.input_slots) {
            let want = self.input_types[slot];
            slots[slot] = Some(
                if value.datum_type() == f16::datum_type() && want != value.datum_type() {
                    value
                        .cast_to_dt(want)
                        .map_err(|e| Error::Runtime(format!("{e:#}")))?
                        .into_owned()
                        .into_tvalue()
                } else {
                    value
                },
            );
        }
        let values: TVec<TValue> = slots.into_iter().flatten().collect();
        let mut state = match self.state.take() {
            Some(s) => s,
            None => {
                TypedSimpleState::new(&self.plan).map_err(|e| Error::Runtime(format!("{e:#}")))?
            }
        };
        let result = guard(|| {
            state
                .run(values)
                .map_err(|e| Error::Runtime(format!("{e:#}")))
        });
        // A failed run may leave values and resolved symbols behind: only a clean state is kept.
        let produced = result?;
        // Runs are independent, but some ops keep state from one turn to the next (tract's GRU
        // and Scan keep their hidden state there): a plan with such ops starts every run afresh.
        if state.op_states.iter().all(Option::is_none) {
            self.state = Some(state);
        }
        Ok(produced)
    }

    /// The symbols of the plan's model, to resolve shape outputs.
    pub fn symbols(&self, fed: &[(String, usize)]) -> SymbolValues {
        let scope = &self.plan.model().symbols;
        let mut symbols = SymbolValues::default();
        for (name, value) in fed {
            if let Some(sym) = scope.get(name) {
                symbols.set(&sym, *value as i64);
            }
        }
        symbols
    }
}

/// Natively, a panic inside tract becomes an error; on wasm32 (panic = abort) it cannot be
/// caught, which is why every input is validated before tract sees it.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::Runtime(format!("internal error: {msg}")))
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        f()
    }
}
