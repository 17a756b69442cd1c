//! Initializers stored outside the model file (ONNX external data): `location`, `offset` and
//! `length` of each tensor's bytes in a file shipped beside the model, as exporters write them
//! for models over protobuf's 2 GB limit or just to keep weights apart.
//!
//! The files are given by name (onnxruntime-web's `externalData` option); their bytes are copied
//! into the tensors before parsing, so the rest of the runtime sees an ordinary model.

use edgewise_core::{Error, Result};
use tract_onnx::pb::{GraphProto, ModelProto, TensorProto};

/// `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: i32 = 1;

/// The files a model's initializers refer to, in order of first mention.
pub fn files(proto: &ModelProto) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(g) = &proto.graph {
        visit(g, &mut |t| {
            if let Some(location) = entry(t, "location")
                && !out.iter().any(|f| f == location)
            {
                out.push(location.to_string());
            }
        });
    }
    out
}

/// Copies every external initializer's bytes from `given` (file name, bytes) into the model.
pub(crate) fn attach(proto: &mut ModelProto, given: &[(String, Vec<u8>)]) -> Result<()> {
    let Some(g) = proto.graph.as_mut() else {
        return Ok(());
    };
    let mut failure = None;
    visit_mut(g, &mut |t| {
        if failure.is_none()
            && let Err(e) = attach_one(t, given)
        {
            failure = Some(e);
        }
    });
    failure.map_or(Ok(()), Err)
}

fn attach_one(t: &mut TensorProto, given: &[(String, Vec<u8>)]) -> Result<()> {
    if t.data_location != Some(EXTERNAL) {
        return Ok(());
    }
    let location = entry(t, "location")
        .ok_or_else(|| {
            Error::InvalidModel(format!(
                "initializer '{}' is external but names no file",
                t.name
            ))
        })?
        .to_string();
    let normal = |p: &str| p.trim_start_matches("./").to_string();
    let Some((_, bytes)) = given
        .iter()
        .find(|(name, _)| normal(name) == normal(&location))
    else {
        let names: Vec<&str> = given.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Error::InvalidModel(format!(
            "initializer '{}' is stored in the external file '{location}', which was not given \
             (pass it in the externalData option{})",
            t.name,
            if names.is_empty() {
                String::new()
            } else {
                format!("; given: {}", names.join(", "))
            }
        )));
    };
    let number = |key: &str| -> Result<Option<usize>> {
        entry(t, key)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    Error::InvalidModel(format!(
                        "initializer '{}': {key} '{v}' is not a number",
                        t.name
                    ))
                })
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let length = number("length")?.unwrap_or(bytes.len().saturating_sub(offset));
    let slice = offset
        .checked_add(length)
        .and_then(|end| bytes.get(offset..end))
        .ok_or_else(|| {
            Error::InvalidModel(format!(
                "initializer '{}': bytes {offset}..{} are past the end of '{location}' ({} bytes)",
                t.name,
                offset.saturating_add(length),
                bytes.len()
            ))
        })?;
    t.raw_data = slice.to_vec();
    t.external_data.clear();
    t.data_location = Some(0);
    Ok(())
}

fn entry<'a>(t: &'a TensorProto, key: &str) -> Option<&'a str> {
    t.external_data
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
}

/// Every initializer of a graph and its sub-graphs.
fn visit(g: &GraphProto, f: &mut impl FnMut(&TensorProto)) {
    g.initializer.iter().for_each(&mut *f);
    for node in &g.node {
        for a in &node.attribute {
            a.g.iter().chain(&a.graphs).for_each(|sub| visit(sub, f));
        }
    }
}

fn visit_mut(g: &mut GraphProto, f: &mut impl FnMut(&mut TensorProto)) {
    g.initializer.iter_mut().for_each(&mut *f);
    for node in g.node.iter_mut() {
        for a in node.attribute.iter_mut() {
            a.g.iter_mut()
                .chain(a.graphs.iter_mut())
                .for_each(|sub| visit_mut(sub, f));
        }
    }
}
