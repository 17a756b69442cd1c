//! The staged executor: CPU stages are tract plans, GPU stages are chains of edgewise
//! operators run by wgpu. Values stay on the device between GPU stages and are read back
//! only where a CPU stage or the caller needs them.
//!
//! Faults never change results: a GPU operator that cannot run (no program for these
//! shapes, a pipeline that does not compile, a buffer over the limits, a device error) runs
//! with its CPU kernel instead, and a lost device makes the whole call start again on the
//! CPU. Each fallback is recorded in the stage report.

use std::collections::HashMap;
use std::sync::Arc;

use edgewise_core::{Error, Result};
use edgewise_gpu::{Gpu, GpuError, GpuTensor};
use edgewise_ops::CustomOp;
use tract_onnx::prelude::*;

use crate::exits::{Answered, ExitRule};
use crate::load::Decoded;
use crate::plan::{StageKind, StageSpec};
use crate::report::{Placement, StageReport};
use crate::submodel;
use crate::tract_plan::{TractPlan, guard};

/// A value between stages.
#[derive(Clone)]
enum Value {
    Host(TValue),
    Device(GpuTensor),
}

/// One edgewise operator node of a GPU stage.
struct GpuNode {
    label: String,
    op: Arc<dyn CustomOp>,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

enum Stage {
    Cpu {
        plan: Box<TractPlan>,
        inputs: Vec<String>,
        outputs: Vec<String>,
    },
    Gpu(Vec<GpuNode>),
}

/// A model planned as stages.
pub(crate) struct Staged {
    stages: Vec<Stage>,
    reports: Vec<StageReport>,
    /// Initializers read by GPU stages, on the host and (once uploaded) on the device.
    constants: HashMap<String, TValue>,
    device_constants: HashMap<String, GpuTensor>,
    gpu: Option<Arc<Gpu>>,
    /// Why there is no GPU, when there is none.
    no_gpu: Option<String>,
}

impl Staged {
    pub fn build(
        decoded: &Decoded,
        specs: Vec<StageSpec>,
        optimize: bool,
        gpu: std::result::Result<Arc<Gpu>, String>,
    ) -> Result<Staged> {
        let g = decoded
            .proto
            .graph
            .as_ref()
            .expect("decode checked the graph");
        let facts = submodel::facts(decoded)?;
        let registry = edgewise_ops::Registry::standard();
        let mut stages = Vec::with_capacity(specs.len());
        let mut reports = Vec::with_capacity(specs.len());
        let mut constants = HashMap::new();
        let (gpu, no_gpu) = match gpu {
            Ok(g) => (Some(g), None),
            Err(why) => (None, Some(why)),
        };
        for (index, spec) in specs.iter().enumerate() {
            let nodes: Vec<String> = spec
                .nodes
                .iter()
                .map(|&i| format!("{} ({})", g.node[i].name, g.node[i].op_type))
                .collect();
            let stage = match spec.kind {
                StageKind::Cpu => {
                    let sub = submodel::stage_model(decoded, spec, &facts)?;
                    let plan = TractPlan::build(&sub, optimize).map_err(|e| match e {
                        Error::InvalidModel(m) => {
                            Error::InvalidModel(format!("CPU stage {index}: {m}"))
                        }
                        e => e,
                    })?;
                    Stage::Cpu {
                        plan: Box::new(plan),
                        inputs: spec.inputs.clone(),
                        outputs: spec.outputs.clone(),
                    }
                }
                StageKind::Gpu => {
                    let mut chain = Vec::new();
                    for &i in &spec.nodes {
                        let node = &g.node[i];
                        let op = registry
                            .build(node)
                            .map_err(|e| Error::InvalidModel(format!("{e:#}")))?;
                        for name in &node.input {
                            if let Some(t) = g.initializer.iter().find(|t| &t.name == name) {
                                let tensor = tract_onnx::tensor::load_tensor(
                                    &*decoded.framework.provider,
                                    t,
                                    None,
                                )
                                .map_err(|e| {
                                    Error::InvalidModel(format!("initializer '{name}': {e:#}"))
                                })?;
                                constants.insert(name.clone(), tensor.into_tvalue());
                            }
                        }
                        chain.push(GpuNode {
                            label: format!("{} ({})", node.name, node.op_type),
                            op,
                            // tract drops omitted optional inputs ("") too: positions match.
                            inputs: node
                                .input
                                .iter()
                                .filter(|n| !n.is_empty())
                                .cloned()
                                .collect(),
                            outputs: node.output.clone(),
                        });
                    }
                    Stage::Gpu(chain)
                }
            };
            let placement = match (spec.kind, &gpu) {
                (StageKind::Gpu, Some(_)) => Placement::Gpu,
                _ => Placement::Cpu,
            };
            let fallback = match spec.kind {
                StageKind::Gpu => no_gpu.clone(),
                StageKind::Cpu => None,
            };
            reports.push(StageReport {
                index,
                kind: spec.kind,
                nodes,
                placement,
                fallback,
            });
            stages.push(stage);
        }
        Ok(Staged {
            stages,
            reports,
            constants,
            device_constants: HashMap::new(),
            gpu,
            no_gpu,
        })
    }

    pub fn reports(&self) -> &[StageReport] {
        &self.reports
    }

    /// The GPU in use, if any.
    pub fn gpu(&self) -> Option<&Gpu> {
        self.gpu.as_deref()
    }

    /// Runs every stage on `feeds` (graph inputs by name) and returns `wanted`, on the host.
    pub async fn run(
        &mut self,
        feeds: Vec<(String, TValue)>,
        wanted: &[String],
    ) -> Result<Vec<TValue>> {
        let (values, _) = self.run_until(feeds, wanted, None).await?;
        values
            .into_iter()
            .zip(wanted)
            .map(|(v, name)| {
                v.ok_or_else(|| Error::Runtime(format!("output '{name}' was not computed")))
            })
            .collect()
    }

    /// Runs the stages on `feeds` until `rule` says an exit is confident (every stage without
    /// a rule). Returns `wanted` where computed (`None` for what the early stop left out) and,
    /// with a rule, the exit that answered.
    pub async fn run_until(
        &mut self,
        feeds: Vec<(String, TValue)>,
        wanted: &[String],
        rule: Option<&ExitRule<'_>>,
    ) -> Result<(Vec<Option<TValue>>, Option<Answered>)> {
        match self.run_once(feeds.clone(), wanted, rule).await {
            Err(Failure::DeviceLost(why)) => {
                // Everything on the device is gone: forget the device and start again.
                self.gpu = None;
                self.device_constants.clear();
                self.no_gpu = Some(format!("device-lost: {why}"));
                self.run_once(feeds, wanted, rule)
                    .await
                    .map_err(Failure::into_error)
            }
            other => other.map_err(Failure::into_error),
        }
    }

    async fn run_once(
        &mut self,
        feeds: Vec<(String, TValue)>,
        wanted: &[String],
        rule: Option<&ExitRule<'_>>,
    ) -> std::result::Result<(Vec<Option<TValue>>, Option<Answered>), Failure> {
        let mut values: HashMap<String, Value> = feeds
            .into_iter()
            .map(|(n, v)| (n, Value::Host(v)))
            .collect();
        let mut answered = None;
        for index in 0..self.stages.len() {
            match &mut self.stages[index] {
                Stage::Cpu {
                    plan,
                    inputs,
                    outputs,
                } => {
                    let mut args = Vec::with_capacity(inputs.len());
                    for name in inputs.iter() {
                        args.push(host(self.gpu.as_deref(), &values, name).await?);
                    }
                    let produced = plan.run(args)?;
                    for (name, v) in outputs.iter().zip(produced) {
                        values.insert(name.clone(), Value::Host(v));
                    }
                    self.reports[index].placement = Placement::Cpu;
                }
                Stage::Gpu(_) => self.run_gpu_stage(index, &mut values).await?,
            }
            if let Some(rule) = rule
                && let Some(exit) = rule.after.iter().position(|&a| a == index)
            {
                let name = &rule.names[exit];
                let v = host(self.gpu.as_deref(), &values, name).await?;
                let confidence = crate::exits::confidence(name, &v)?;
                let last = exit + 1 == rule.names.len();
                if last || confidence.iter().all(|&c| c >= rule.threshold) {
                    answered = Some(Answered {
                        exit,
                        confidence,
                        stages_run: index + 1,
                    });
                    if !last {
                        break;
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(wanted.len());
        for name in wanted {
            out.push(match values.contains_key(name) {
                true => Some(host(self.gpu.as_deref(), &values, name).await?),
                false => None,
            });
        }
        Ok((out, answered))
    }

    /// How many stages the plan has.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    async fn run_gpu_stage(
        &mut self,
        index: usize,
        values: &mut HashMap<String, Value>,
    ) -> std::result::Result<(), Failure> {
        let Stage::Gpu(chain) = &self.stages[index] else {
            unreachable!("called on a GPU stage")
        };
        let mut fallbacks: Vec<String> = Vec::new();
        let mut on_gpu = 0usize;
        for node in chain {
            let attempt = match self.gpu.clone() {
                Some(gpu) => {
                    let r = run_node_on_gpu(
                        &gpu,
                        node,
                        values,
                        &self.constants,
                        &mut self.device_constants,
                    )
                    .await;
                    match r {
                        Ok(outs) => Some(outs),
                        Err(GpuError::DeviceLost(why)) => return Err(Failure::DeviceLost(why)),
                        Err(e) => {
                            fallbacks.push(format!("{}: {}: {e}", node.label, e.kind()));
                            None
                        }
                    }
                }
                None => None,
            };
            match attempt {
                Some(outs) => {
                    on_gpu += 1;
                    for (name, t) in node.outputs.iter().zip(outs) {
                        values.insert(name.clone(), Value::Device(t));
                    }
                }
                None => {
                    let mut args = Vec::with_capacity(node.inputs.len());
                    for name in &node.inputs {
                        args.push(match self.constants.get(name) {
                            Some(c) => c.clone(),
                            None => host(self.gpu.as_deref(), values, name).await?,
                        });
                    }
                    let refs: Vec<&Tensor> = args.iter().map(|t| &**t).collect();
                    let outs = guard(|| {
                        node.op
                            .eval(&refs)
                            .map_err(|e| Error::Runtime(format!("{}: {e:#}", node.label)))
                    })?;
                    for (name, t) in node.outputs.iter().zip(outs) {
                        values.insert(name.clone(), Value::Host(t.into_tvalue()));
                    }
                }
            }
        }
        let report = &mut self.reports[index];
        report.placement = if on_gpu > 0 {
            Placement::Gpu
        } else {
            Placement::Cpu
        };
        report.fallback = if self.gpu.is_none() {
            self.no_gpu.clone()
        } else if fallbacks.is_empty() {
            None
        } else {
            Some(fallbacks.join("; "))
        };
        Ok(())
    }
}

/// Why a call stopped: a model error, or a lost device that calls for a CPU rerun.
enum Failure {
    Model(Error),
    DeviceLost(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Model(e)
    }
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Model(e) => e,
            Failure::DeviceLost(why) => Error::Runtime(format!("the GPU device was lost: {why}")),
        }
    }
}

/// A value on the host, read back from the device if it lives there.
async fn host(
    gpu: Option<&Gpu>,
    values: &HashMap<String, Value>,
    name: &str,
) -> std::result::Result<TValue, Failure> {
    match values.get(name) {
        Some(Value::Host(v)) => Ok(v.clone()),
        Some(Value::Device(t)) => {
            let gpu = gpu.ok_or_else(|| Failure::DeviceLost("no device to read from".into()))?;
            match gpu.read(t).await {
                Ok(v) => Ok(v.into_tvalue()),
                Err(GpuError::DeviceLost(why)) => Err(Failure::DeviceLost(why)),
                Err(e) => Err(Failure::Model(Error::Runtime(format!(
                    "reading '{name}' from the GPU: {e}"
                )))),
            }
        }
        None => Err(Failure::Model(Error::Runtime(format!(
            "value '{name}' was not computed by any earlier stage"
        )))),
    }
}

/// Runs one node on the device, uploading what is not there yet.
async fn run_node_on_gpu(
    gpu: &Gpu,
    node: &GpuNode,
    values: &HashMap<String, Value>,
    constants: &HashMap<String, TValue>,
    device_constants: &mut HashMap<String, GpuTensor>,
) -> std::result::Result<Vec<GpuTensor>, GpuError> {
    let mut args = Vec::with_capacity(node.inputs.len());
    for name in &node.inputs {
        let t = if let Some(t) = device_constants.get(name) {
            t.clone()
        } else if let Some(c) = constants.get(name) {
            let t = gpu.upload(c)?;
            device_constants.insert(name.clone(), t.clone());
            t
        } else {
            match values.get(name) {
                Some(Value::Device(t)) => t.clone(),
                Some(Value::Host(v)) => gpu.upload(v)?,
                None => {
                    return Err(GpuError::Program(format!(
                        "{}: input '{name}' is missing",
                        node.label
                    )));
                }
            }
        };
        args.push(t);
    }
    let refs: Vec<&GpuTensor> = args.iter().collect();
    gpu.run(&*node.op, &refs).await
}
