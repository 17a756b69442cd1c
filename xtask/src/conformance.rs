//! ONNX backend conformance (placeholder until implemented).

use anyhow::{Result, bail};

use crate::cmd::Steps;

pub fn conformance(_steps: &mut Steps, _write: bool) -> Result<()> {
    bail!("conformance is not implemented yet")
}
