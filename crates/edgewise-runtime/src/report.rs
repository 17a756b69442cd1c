//! Where each stage of a model ran, and why a GPU stage fell back to the CPU.

use std::fmt;

pub use crate::plan::StageKind;

/// Where a stage's operators actually ran on the last call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the CPU: tract, or the operators' CPU kernels.
    Cpu,
    /// On the GPU.
    Gpu,
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Placement::Cpu => "cpu",
            Placement::Gpu => "gpu",
        })
    }
}

/// One stage of the session's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    /// Position in execution order.
    pub index: usize,
    /// What the planner made of it.
    pub kind: StageKind,
    /// Its nodes, as `name (OpType)`.
    pub nodes: Vec<String>,
    /// Where it ran on the last call (before the first call: where it is meant to run).
    pub placement: Placement,
    /// Why a GPU stage ran on the CPU, in whole or in part; `None` when nothing fell back.
    pub fallback: Option<String>,
}
