//! The inference session: built once, run many times.

use std::sync::Arc;

use edgewise_core::{Dim, Error, Result, Tensor, ValueInfo};
use edgewise_gpu::{Gpu, GpuOptions};
use tract_onnx::prelude::*;

use crate::load::{Decoded, Parsed};
use crate::plan::{self, StageKind};
use crate::report::{Placement, StageReport};
use crate::specialize::{self, PerShape, PlanStats};
use crate::staged::Staged;
use crate::tract_plan::{TractPlan, guard};
use crate::{convert, feeds, load, submodel};

/// Where a session may run its operators, in order of preference (onnxruntime-web's
/// `executionProviders`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// edgewise operators on a GPU through WebGPU (or Vulkan/Metal/DX12 natively); standard
    /// operators stay on the CPU.
    WebGpu,
    /// Everything on the CPU.
    Cpu,
}

/// How a [`Session`] is built.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Run tract's full optimizer (kernel selection, fusion). On by default; off keeps the
    /// decluttered graph, which loads faster and is useful when comparing numerics.
    pub optimize: bool,
    /// Execution providers in order of preference; `[Cpu]` by default. With `WebGpu` first, a
    /// model that uses edgewise operators is planned in stages and its GPU stages run on the
    /// device when there is one (on the CPU otherwise, as the stage report says).
    pub providers: Vec<Provider>,
    /// Device selection and limits for the GPU stages.
    pub gpu: GpuOptions,
    /// Symbolic input dims pinned to a size at create, by name (onnxruntime's
    /// `freeDimensionOverrides`): the model is typed with that size and feeds must match it.
    pub free_dimension_overrides: Vec<(String, usize)>,
    /// The most plans kept at once for a model planned per input shape (one that does not
    /// type with its symbolic shapes); least recently used ones go first.
    pub plan_cache_size: usize,
    /// The files that initializers stored outside the model are read from, by the name the
    /// model gives them (onnxruntime-web's `externalData`).
    pub external_data: Vec<(String, Vec<u8>)>,
    /// The model's early exits: classifier outputs by name, in the order the model computes
    /// them, the last being the full model's. Empty: those the model's `edgewise.exits`
    /// metadata lists, if any. See [`Session::run_with_exits`]. A model with exits gets a
    /// second plan at create, cut at the exits, with its own copy of the weights.
    pub exits: Vec<String>,
}

/// Plans kept per session by default when a model is planned per input shape.
pub const DEFAULT_PLAN_CACHE_SIZE: usize = 8;

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            optimize: true,
            providers: vec![Provider::Cpu],
            gpu: GpuOptions::default(),
            free_dimension_overrides: Vec::new(),
            plan_cache_size: DEFAULT_PLAN_CACHE_SIZE,
            external_data: Vec::new(),
            exits: Vec::new(),
        }
    }
}

/// The plan of a model with early exits: stages cut where each exit can be read.
struct ExitPlan {
    names: Vec<String>,
    /// Per exit, the stage after which it can be read.
    after: Vec<usize>,
    staged: Staged,
}

/// The result of [`Session::run_with_exits`].
#[derive(Debug)]
pub struct ExitRun {
    /// The outputs computed before the run stopped, in declaration order.
    pub outputs: Vec<(String, Tensor)>,
    /// The exit that answered.
    pub exit: usize,
    /// Its output's name.
    pub name: String,
    /// Per row of the batch, the largest softmax probability of that exit's output.
    pub confidence: Vec<f32>,
    /// Stages run, and of how many.
    pub stages_run: usize,
    /// Stages of the exit plan.
    pub stages: usize,
}

enum Engine {
    /// The whole model as one tract plan (edgewise operators run their CPU kernels inside it),
    /// and the parsed model, kept to plan per input shape should this plan fail at run time
    /// (tract's symbolic typing is occasionally wrong where concrete typing is right).
    Single(Box<TractPlan>, Box<Fallback>, Vec<StageReport>),
    /// One plan per input signature, for a model that does not type symbolically.
    PerShape(Box<PerShape>, Vec<StageReport>),
    /// CPU and GPU stages.
    Staged(Box<Staged>),
}

/// A loaded ONNX model, ready to run.
///
/// Plans are built once in [`Session::create`]; each run resolves the symbolic dims (a
/// dynamic batch, say) from the feeds it is given.
pub struct Session {
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    engine: Engine,
    exits: Option<Box<ExitPlan>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("stages", &self.stages())
            .finish()
    }
}

impl Session {
    /// Loads a model from the bytes of an ONNX file. With the WebGPU provider first and a
    /// model that uses edgewise operators, this requests a GPU device, hence `async`.
    pub async fn create(bytes: &[u8], options: &SessionOptions) -> Result<Session> {
        let decoded = guard(|| {
            let mut decoded = load::decode(bytes, &options.external_data)?;
            load::check_operators(&decoded)?;
            load::override_dims(&mut decoded.proto, &options.free_dimension_overrides)?;
            Ok(decoded)
        })?;
        let (inputs, mut outputs) = load::signature(&decoded.proto);
        let graph = decoded
            .proto
            .graph
            .as_ref()
            .expect("decode checked the graph");
        let uses_custom = graph.node.iter().any(|n| n.domain == edgewise_ops::DOMAIN);
        let wants_gpu = options.providers.first() == Some(&Provider::WebGpu);
        let exit_names = if options.exits.is_empty() {
            crate::exits::from_metadata(&decoded.proto)
        } else {
            options.exits.clone()
        };
        if !(wants_gpu && uses_custom) {
            let nodes = graph
                .node
                .iter()
                .map(|n| format!("{} ({})", n.name, n.op_type))
                .collect();
            let report = vec![StageReport {
                index: 0,
                kind: StageKind::Cpu,
                nodes,
                placement: Placement::Cpu,
                fallback: None,
            }];
            let parsed = guard(|| load::parse(&decoded))?;
            let fallback = Fallback {
                parsed: parsed.clone(),
                inputs: inputs.clone(),
                outputs: outputs.clone(),
                optimize: options.optimize,
                capacity: options.plan_cache_size,
            };
            let engine = match guard(|| {
                symbolic_plan(&decoded, parsed, &inputs, &outputs, options.optimize)
            })? {
                Ok(plan) => {
                    outputs = plan.outputs.clone();
                    Engine::Single(Box::new(plan), Box::new(fallback), report)
                }
                Err(reason) => Engine::PerShape(Box::new(fallback.per_shape(reason)), report),
            };
            let exits = exit_plan(
                &decoded,
                exit_names,
                options.optimize,
                Err("the CPU provider was chosen".into()),
            )?;
            return Ok(Session {
                inputs,
                outputs,
                engine,
                exits,
            });
        }
        let gpu = match Gpu::new(&options.gpu).await {
            Ok(g) => Ok(Arc::new(g)),
            Err(e) => Err(format!("{}: {e}", e.kind())),
        };
        let specs = plan::stages(graph);
        let staged = guard(|| Staged::build(&decoded, specs, options.optimize, gpu.clone()))?;
        let facts = guard(|| submodel::facts(&decoded))?;
        complete_from_facts(&mut outputs, &facts);
        let exits = exit_plan(&decoded, exit_names, options.optimize, gpu)?;
        Ok(Session {
            inputs,
            outputs,
            engine: Engine::Staged(Box::new(staged)),
            exits,
        })
    }

    /// The model's early exits (empty when it has none).
    pub fn exits(&self) -> &[String] {
        self.exits.as_ref().map_or(&[], |e| &e.names)
    }

    /// Runs the model stage by stage and stops at the first exit whose confidence (the largest
    /// softmax probability of its logits) reaches `threshold` for every row of the batch; the
    /// last exit answers when none does. Returns the outputs computed up to there and which
    /// exit answered. A threshold above 1 always runs the whole model; errors when the model
    /// has no exits.
    pub async fn run_with_exits(
        &mut self,
        feeds: Vec<(String, Tensor)>,
        threshold: f32,
    ) -> Result<ExitRun> {
        if threshold.is_nan() {
            return Err(Error::InvalidArgument(
                "the exit threshold is NaN; give a confidence in [0, 1]".into(),
            ));
        }
        let Some(plan) = self.exits.as_deref_mut() else {
            return Err(Error::InvalidArgument(
                "the model has no early exits: its metadata has no 'edgewise.exits' and the \
                 session options name none"
                    .into(),
            ));
        };
        let arranged = feeds::arrange(&self.inputs, feeds)?;
        let named = self
            .inputs
            .iter()
            .zip(&arranged.tensors)
            .map(|(i, t)| Ok((i.name.clone(), convert::to_tract(t)?.into_tvalue())))
            .collect::<Result<Vec<_>>>()?;
        let wanted: Vec<String> = self.outputs.iter().map(|o| o.name.clone()).collect();
        let rule = crate::exits::ExitRule {
            names: &plan.names,
            after: &plan.after,
            threshold,
        };
        let (values, answered) = plan.staged.run_until(named, &wanted, Some(&rule)).await?;
        let answered = answered.ok_or_else(|| Error::Runtime("no exit answered the run".into()))?;
        let outputs = wanted
            .iter()
            .zip(values)
            .filter_map(|(name, v)| v.map(|v| (name, v)))
            .map(|(name, v)| {
                Ok((
                    name.clone(),
                    convert::from_tract(&v, name, &SymbolValues::default())?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ExitRun {
            outputs,
            name: plan.names[answered.exit].clone(),
            exit: answered.exit,
            confidence: answered.confidence,
            stages_run: answered.stages_run,
            stages: plan.staged.len(),
        })
    }

    /// The external data files a model's initializers are stored in (empty for most models),
    /// by the names it gives them: what `SessionOptions::external_data` must provide.
    pub fn external_files(bytes: &[u8]) -> Result<Vec<String>> {
        let framework = tract_onnx::onnx();
        let proto = framework.proto_model_for_read(&mut &*bytes).map_err(|e| {
            Error::InvalidModel(format!(
                "not an ONNX protobuf ({} bytes): {e:#}",
                bytes.len()
            ))
        })?;
        Ok(crate::external::files(&proto))
    }

    /// Loads a model, blocking until the GPU device (if one is asked for) is ready.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(bytes: &[u8], options: &SessionOptions) -> Result<Session> {
        edgewise_gpu::block_on(Session::create(bytes, options))
    }

    /// Loads a model for the CPU. In the browser a GPU device can only be awaited, so the
    /// WebGPU provider needs [`Session::create`].
    #[cfg(target_arch = "wasm32")]
    pub fn new(bytes: &[u8], options: &SessionOptions) -> Result<Session> {
        let mut fut = std::pin::pin!(Session::create(bytes, options));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => Err(Error::InvalidArgument(
                "a WebGPU session must be created with the async Session::create".into(),
            )),
        }
    }

    /// The model's inputs (initializers excluded), in declaration order.
    pub fn inputs(&self) -> &[ValueInfo] {
        &self.inputs
    }

    /// The model's outputs, in declaration order.
    pub fn outputs(&self) -> &[ValueInfo] {
        &self.outputs
    }

    /// Where each stage ran on the last call (before any call: the plan).
    pub fn stages(&self) -> &[StageReport] {
        match &self.engine {
            Engine::Single(_, _, r) | Engine::PerShape(_, r) => r,
            Engine::Staged(s) => s.reports(),
        }
    }

    /// The GPU adapter in use, as "name (backend, type)", if any.
    pub fn adapter(&self) -> Option<String> {
        match &self.engine {
            Engine::Staged(s) => s.gpu().map(|g| g.describe()),
            Engine::Single(..) | Engine::PerShape(..) => None,
        }
    }

    /// How the session plans the model, and what its plan cache has done so far.
    pub fn plan_stats(&self) -> PlanStats {
        match &self.engine {
            Engine::PerShape(p, _) => p.stats(),
            Engine::Single(..) | Engine::Staged(..) => PlanStats {
                per_shape: false,
                reason: None,
                built: 1,
                reused: 0,
                cached: 1,
                capacity: 1,
                pinned: vec![],
            },
        }
    }

    /// Destroys the session's GPU device as a driver reset would; the next run notices, starts
    /// again on the CPU and says so in the stage report. For testing that recovery.
    #[doc(hidden)]
    pub fn simulate_device_loss(&self) {
        if let Engine::Staged(s) = &self.engine
            && let Some(gpu) = s.gpu()
        {
            gpu.lose_device();
        }
    }

    /// Runs the model. `feeds` must name every input exactly once; outputs come back in
    /// declaration order. A failed run leaves the session usable.
    pub async fn run_async(
        &mut self,
        feeds: Vec<(String, Tensor)>,
    ) -> Result<Vec<(String, Tensor)>> {
        let arranged = feeds::arrange(&self.inputs, feeds)?;
        if let Engine::PerShape(plans, _) = &mut self.engine {
            let produced = guard(|| plans.run(&arranged.tensors))?;
            return self.collect(&produced, &SymbolValues::default());
        }
        let values = arranged
            .tensors
            .iter()
            .map(|t| Ok(convert::to_tract(t)?.into_tvalue()))
            .collect::<Result<Vec<TValue>>>()?;
        let (produced, symbols) = match &mut self.engine {
            Engine::Single(plan, fallback, report) => match plan.run(values) {
                Ok(produced) => {
                    let symbols = plan.symbols(&arranged.symbols);
                    (produced, symbols)
                }
                Err(Error::Runtime(why)) => {
                    // Typed with concrete shapes, the model may run: if it does, the session
                    // plans per input shape from now on.
                    let mut per_shape = fallback.per_shape(format!(
                        "the plan typed with symbolic shapes failed at run time: {why}"
                    ));
                    let produced = guard(|| per_shape.run(&arranged.tensors))
                        .map_err(|_| Error::Runtime(why))?;
                    let report = std::mem::take(report);
                    self.engine = Engine::PerShape(Box::new(per_shape), report);
                    return self.collect(&produced, &SymbolValues::default());
                }
                Err(e) => return Err(e),
            },
            Engine::Staged(staged) => {
                let named = self
                    .inputs
                    .iter()
                    .map(|i| i.name.clone())
                    .zip(values)
                    .collect();
                let wanted: Vec<String> = self.outputs.iter().map(|o| o.name.clone()).collect();
                let produced = staged.run(named, &wanted).await?;
                (produced.into_iter().collect(), SymbolValues::default())
            }
            Engine::PerShape(..) => unreachable!("served above"),
        };
        self.collect(&produced, &symbols)
    }

    /// Outputs in declaration order, as host tensors.
    fn collect(
        &self,
        produced: &[TValue],
        symbols: &SymbolValues,
    ) -> Result<Vec<(String, Tensor)>> {
        self.outputs
            .iter()
            .zip(produced.iter())
            .map(|(info, value)| {
                Ok((
                    info.name.clone(),
                    convert::from_tract(value, &info.name, symbols)?,
                ))
            })
            .collect()
    }

    /// [`Session::run_with_exits`], blocking on GPU stages natively.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_exits(&mut self, feeds: Vec<(String, Tensor)>, threshold: f32) -> Result<ExitRun> {
        edgewise_gpu::block_on(self.run_with_exits(feeds, threshold))
    }

    /// Runs the model, blocking on GPU stages natively.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run(&mut self, feeds: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>> {
        edgewise_gpu::block_on(self.run_async(feeds))
    }
}

/// The exit plan of a model with exits `names` (none without).
fn exit_plan(
    decoded: &Decoded,
    names: Vec<String>,
    optimize: bool,
    gpu: std::result::Result<Arc<Gpu>, String>,
) -> Result<Option<Box<ExitPlan>>> {
    if names.is_empty() {
        return Ok(None);
    }
    let graph = decoded
        .proto
        .graph
        .as_ref()
        .expect("decode checked the graph");
    let (specs, after) = plan::exit_stages(graph, &names)
        .map_err(|why| Error::InvalidArgument(format!("early exits: {why}")))?;
    let staged = guard(|| Staged::build(decoded, specs, optimize, gpu))?;
    Ok(Some(Box::new(ExitPlan {
        names,
        after,
        staged,
    })))
}

/// What a session keeps to plan per input shape: the parsed model and its signature.
struct Fallback {
    parsed: Parsed,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    optimize: bool,
    capacity: usize,
}

impl Fallback {
    fn per_shape(&self, reason: String) -> PerShape {
        PerShape::new(
            self.parsed.clone(),
            self.inputs.clone(),
            self.outputs.clone(),
            self.optimize,
            self.capacity,
            reason,
        )
    }
}

/// The plan typed with the model's symbolic shapes, or why there is none. Declared value
/// infos that contradict tract's typing are forgotten and typing tried once more. Typing
/// errors come back as `Ok(Err(reason))`, since concrete shapes may fix them.
fn symbolic_plan(
    decoded: &Decoded,
    parsed: Parsed,
    inputs: &[ValueInfo],
    outputs: &[ValueInfo],
    optimize: bool,
) -> Result<std::result::Result<TractPlan, String>> {
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let declares = decoded
        .proto
        .graph
        .as_ref()
        .is_some_and(|g| !g.value_info.is_empty());
    let lenient = declares.then(|| {
        let mut p = parsed.clone();
        specialize::forget_declared_facts(&mut p.model);
        p
    });
    let why = match TractPlan::from_parsed(parsed, &names, outputs.to_vec(), optimize) {
        Ok(plan) => return Ok(Ok(plan)),
        Err(Error::InvalidModel(why)) => why,
        Err(e) => return Err(e),
    };
    if let Some(lenient) = lenient
        && let Ok(plan) = TractPlan::from_parsed(lenient, &names, outputs.to_vec(), optimize)
    {
        return Ok(Ok(plan));
    }
    Ok(Err(why))
}

/// Fills gaps in the declared output types from the whole model's typing.
fn complete_from_facts(outputs: &mut [ValueInfo], facts: &submodel::Facts) {
    for info in outputs {
        let Some(fact) = facts.get(&info.name) else {
            continue;
        };
        if info.dtype.is_none() {
            info.dtype = convert::dtype_of(fact.datum_type);
        }
        if info.shape.is_none() {
            info.shape = Some(
                fact.shape
                    .iter()
                    .map(|d| match d {
                        Ok(n) => Dim::Fixed(*n),
                        Err(sym) => Dim::Symbolic(sym.clone()),
                    })
                    .collect(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_never_lost() {
        use edgewise_core::Error;
        let e = Session::new(&[], &SessionOptions::default()).unwrap_err();
        assert!(matches!(e, Error::InvalidModel(_)), "{e}");
    }
}
