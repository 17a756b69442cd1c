//! Writing a trained model out: `onnx/<system>.onnx` and its entry in `onnx/manifest.json`.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::emit::{BATCH, OPSET};

/// In [`Signature::dims`], a length chosen at run time (a signal of any length): the manifest
/// writes it as the symbolic dim [`LENGTH`].
pub const ANY_LENGTH: usize = usize::MAX;
/// The name of the symbolic length [`ANY_LENGTH`] in the manifest and the exported graphs.
pub const LENGTH: &str = "n";

/// One graph input or output in the manifest.
pub struct Signature {
    /// The name.
    pub name: &'static str,
    /// The element type (`float32`, `uint32`).
    pub dtype: &'static str,
    /// The dims after the leading `batch` (or all dims when `batched` is false).
    pub dims: Vec<usize>,
    /// Whether the first dim is the dynamic batch.
    pub batched: bool,
}

impl Signature {
    /// A float32 value with a dynamic batch dimension.
    pub fn batch(name: &'static str, dims: &[usize]) -> Signature {
        Signature {
            name,
            dtype: "float32",
            dims: dims.to_vec(),
            batched: true,
        }
    }

    fn json(&self) -> Value {
        let mut shape: Vec<Value> = vec![];
        if self.batched {
            shape.push(json!(BATCH));
        }
        shape.extend(self.dims.iter().map(|&d| match d {
            ANY_LENGTH => json!(LENGTH),
            d => json!(d),
        }));
        json!({ "name": self.name, "type": self.dtype, "shape": shape })
    }
}

/// What the manifest says of one trained model.
pub struct Entry {
    /// The system (`defect`, `kno`, `rbnn`): the file is `<system>.onnx`.
    pub system: &'static str,
    /// Graph inputs.
    pub inputs: Vec<Signature>,
    /// Graph outputs.
    pub outputs: Vec<Signature>,
    /// What the model does.
    pub description: String,
    /// Where the training data came from.
    pub provenance: String,
    /// Trained scalars.
    pub parameters: usize,
    /// Floating-point operations per sample (multiply and add counted apart).
    pub flops: u64,
    /// Final metrics.
    pub metrics: Value,
    /// Extra system-specific facts the task helper needs (thresholds, class names…).
    pub extra: Value,
    /// The exact command that trained it.
    pub command: String,
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `<dir>/<system>.onnx` and replaces the system's entry of `<dir>/manifest.json`,
/// keeping the other entries.
pub fn write(dir: &Path, entry: &Entry, model: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let file = format!("{}.onnx", entry.system);
    std::fs::write(dir.join(&file), model).with_context(|| format!("writing {file}"))?;
    let path = dir.join("manifest.json");
    let mut manifest: Value = match std::fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        Err(_) => json!({ "models": {} }),
    };
    let value = json!({
        "file": file,
        "sha256": sha256(model),
        "bytes": model.len(),
        "opset": OPSET,
        "inputs": entry.inputs.iter().map(Signature::json).collect::<Vec<_>>(),
        "outputs": entry.outputs.iter().map(Signature::json).collect::<Vec<_>>(),
        "description": entry.description,
        "provenance": entry.provenance,
        "parameters": entry.parameters,
        "flops": entry.flops,
        "metrics": entry.metrics,
        "training": { "command": entry.command, "system": entry.system },
        "helper": entry.extra,
    });
    manifest["models"][entry.system] = value;
    std::fs::write(&path, serde_json::to_string_pretty(&manifest)? + "\n")?;
    Ok(())
}
