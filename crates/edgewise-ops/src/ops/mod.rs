//! The operator families. Each module has the same shape: the schema in its docs, one type per
//! operator implementing [`crate::FromNode`] and [`crate::CustomOp`] (attributes, shape rules,
//! CPU kernel, GPU program), its WGSL next to it in `<family>.wgsl`, `defs()` listing its
//! operators, `bench_cases()` with three workload sizes, and tests of the CPU kernel against
//! a naive formula.

pub mod bandpass;
pub mod binary;
pub mod border;
pub mod dct;
pub mod graph;
pub mod hamming;
pub mod spectral;
pub mod ssim;

use crate::registry::OpDef;
use crate::testing::BenchCase;

/// Every shipped operator.
pub fn all() -> Vec<OpDef> {
    [
        bandpass::defs(),
        binary::defs(),
        border::defs(),
        dct::defs(),
        graph::defs(),
        hamming::defs(),
        spectral::defs(),
        ssim::defs(),
    ]
    .concat()
}

/// Every family's benchmark workloads.
pub fn bench_cases() -> Vec<BenchCase> {
    [
        bandpass::bench_cases(),
        binary::bench_cases(),
        border::bench_cases(),
        dct::bench_cases(),
        graph::bench_cases(),
        hamming::bench_cases(),
        spectral::bench_cases(),
        ssim::bench_cases(),
    ]
    .concat()
}
