//! The inference session: built once, run many times.

use std::sync::Arc;

use edgewise_core::{Error, Result, Tensor, ValueInfo};
use tract_onnx::prelude::*;

use crate::{convert, feeds, load};

/// How a [`Session`] is built.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Run tract's full optimizer (kernel selection, fusion). On by default; off keeps the
    /// decluttered graph, which loads faster and is useful when comparing numerics.
    pub optimize: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { optimize: true }
    }
}

/// A loaded ONNX model, ready to run.
///
/// The optimized plan is built once in [`Session::new`]; each [`Session::run`] resolves the
/// symbolic dims (a dynamic batch, say) from the feeds it is given.
pub struct Session {
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    /// For each declared input, its position among tract's model inputs.
    input_slots: Vec<usize>,
    plan: Arc<TypedRunnableModel>,
    state: Option<TypedSimpleState>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl Session {
    /// Loads a model from the bytes of an ONNX file.
    pub fn new(bytes: &[u8], options: &SessionOptions) -> Result<Session> {
        guard(|| Session::build(bytes, options))
    }

    fn build(bytes: &[u8], options: &SessionOptions) -> Result<Session> {
        let decoded = load::decode(bytes)?;
        load::check_operators(&decoded)?;
        let (inputs, mut outputs) = load::signature(&decoded.proto);
        let (model, names) = load::typed_model(&decoded, options.optimize)?;
        load::complete_outputs(&mut outputs, &model);
        let input_slots = inputs
            .iter()
            .map(|i| {
                names.iter().position(|n| *n == i.name).ok_or_else(|| {
                    Error::InvalidModel(format!("input '{}' is not a source of the graph", i.name))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if input_slots.len() != names.len() {
            return Err(Error::InvalidModel(format!(
                "the graph has {} sources but declares {} inputs",
                names.len(),
                input_slots.len()
            )));
        }
        let plan = model
            .into_runnable()
            .map_err(|e| Error::InvalidModel(format!("{e:#}")))?;
        Ok(Session {
            inputs,
            outputs,
            input_slots,
            plan,
            state: None,
        })
    }

    /// The model's inputs (initializers excluded), in declaration order.
    pub fn inputs(&self) -> &[ValueInfo] {
        &self.inputs
    }

    /// The model's outputs, in declaration order.
    pub fn outputs(&self) -> &[ValueInfo] {
        &self.outputs
    }

    /// Runs the model. `feeds` must name every input exactly once; outputs come back in
    /// declaration order. A failed run leaves the session usable.
    pub fn run(&mut self, feeds: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>> {
        let arranged = feeds::arrange(&self.inputs, feeds)?;
        let mut slots: Vec<Option<TValue>> = vec![None; arranged.tensors.len()];
        for (tensor, &slot) in arranged.tensors.iter().zip(&self.input_slots) {
            slots[slot] = Some(convert::to_tract(tensor)?.into_tvalue());
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
        self.state = Some(state);
        // Shape outputs may still hold symbols (`batch`): give them the values fed this run.
        let scope = &self.plan.model().symbols;
        let mut symbols = SymbolValues::default();
        for (name, value) in &arranged.symbols {
            if let Some(sym) = scope.get(name) {
                symbols.set(&sym, *value as i64);
            }
        }
        self.outputs
            .iter()
            .zip(produced.iter())
            .map(|(info, value)| {
                Ok((
                    info.name.clone(),
                    convert::from_tract(value, &info.name, &symbols)?,
                ))
            })
            .collect()
    }
}

/// Natively, a panic inside tract becomes an error; on wasm32 (panic = abort) it cannot be
/// caught, which is why every input is validated before tract sees it.
fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
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
