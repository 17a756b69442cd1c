//! (being written)

use crate::registry::OpDef;
use crate::testing::BenchCase;

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![]
}

/// Benchmark workloads.
pub fn bench_cases() -> Vec<BenchCase> {
    vec![]
}
