//! Symbols of a typed model whose scope is gone, given one of the model's own.
//!
//! Some of tract's declutter rules mint a symbol in the scope of the patch they build (a
//! slice whose bounds are only known at run time gets its length that way), and that scope
//! is dropped with the patch. The plan then fails at run time, when it binds the symbol to
//! the size it sees ("Symbol … points to an invalid (dead ?) SymbolScope"). Every such symbol
//! is replaced, across the graph, by a fresh symbol of the model's scope.

use tract_onnx::tract_hir::internal::*;

/// `model` with each symbol of a dropped scope replaced by one of its own scope.
pub(crate) fn adopt(model: TypedModel) -> TractResult<TypedModel> {
    let mut orphans: Vec<Symbol> = vec![];
    for node in model.nodes() {
        for output in &node.outputs {
            for dim in output.fact.shape.iter() {
                for sym in dim.symbols() {
                    if sym.scope().is_none() && !orphans.contains(&sym) {
                        orphans.push(sym);
                    }
                }
            }
        }
    }
    if orphans.is_empty() {
        return Ok(model);
    }
    let subs: HashMap<Symbol, TDim> = orphans
        .into_iter()
        .map(|sym| (sym, model.symbols.new_with_prefix("len").into()))
        .collect();
    model.set_symbols(&subs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::array::DynSlice;

    /// A slice of `x` from `start` to `end` (both fed), its length a symbol of a scope that
    /// is dropped before the model runs, as tract's slice declutter leaves it.
    fn orphaned() -> TractResult<TypedModel> {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([6]))?;
        let start = model.add_source("start", TDim::fact([0usize; 0]))?;
        let end = model.add_source("end", TDim::fact([0usize; 0]))?;
        let len = SymbolScope::default().new_with_prefix("l");
        let y = model.wire_node("slice", DynSlice::new(0, len.into()), &[x, start, end])?;
        model.select_output_outlets(&y)?;
        Ok(model)
    }

    fn run(model: TypedModel) -> TractResult<Tensor> {
        let out = model.into_runnable()?.run(tvec!(
            tensor1(&[0f32, 1., 2., 3., 4., 5.]).into_tvalue(),
            tensor0(TDim::from(1)).into_tvalue(),
            tensor0(TDim::from(4)).into_tvalue(),
        ))?;
        Ok(out[0].clone().into_tensor())
    }

    #[test]
    fn a_slice_with_a_dropped_scope_fails_to_run_as_tract_leaves_it() {
        let err = run(orphaned().unwrap()).unwrap_err();
        assert!(format!("{err:#}").contains("SymbolScope"), "{err:#}");
    }

    #[test]
    fn adopted_it_runs() {
        let model = adopt(orphaned().unwrap()).unwrap();
        assert_eq!(run(model).unwrap(), tensor1(&[1f32, 2., 3.]));
    }
}
