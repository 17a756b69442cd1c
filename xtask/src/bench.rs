//! Benchmark against onnxruntime-web (placeholder until implemented).

use anyhow::{Result, bail};

pub fn bench(_runs: usize) -> Result<()> {
    bail!("bench is not implemented yet")
}
