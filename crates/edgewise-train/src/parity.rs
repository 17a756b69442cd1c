//! Parity of an exported model with the burn forward pass that trained it.
//!
//! A system makes [`Case`]s: inputs and what burn computes for them. [`check_tract`] runs the
//! ONNX file through the project's runtime (tract natively, edgewise operators on their CPU
//! kernels) and reports the largest difference per output; [`write_cases`] saves the cases as
//! JSON so that the wasm package (Node) and onnxruntime (Python) are checked against the very
//! same numbers.

use std::path::Path;

use anyhow::{Context, Result, bail};
use edgewise_core::{Tensor, TensorData};
use edgewise_runtime::{Session, SessionOptions};
use serde::Serialize;

/// A named f32 array, or a uint32 one (keys) made by [`Array::u32`].
///
/// JSON: `{"name", "dims", "data"}` for float32; a uint32 array adds `"dtype": "uint32"` and
/// its `data` holds the integers (a reader picks the element type from `dtype`, float32 when
/// absent).
#[derive(Clone, Debug)]
pub struct Array {
    /// The name (a graph input or output).
    pub name: String,
    /// Its dims.
    pub dims: Vec<usize>,
    /// Row-major values (empty for a uint32 array).
    pub data: Vec<f32>,
    /// Row-major values of a uint32 array.
    pub words: Option<Vec<u32>>,
}

impl Array {
    /// A named float32 array.
    pub fn new(name: &str, dims: &[usize], data: Vec<f32>) -> Array {
        Array {
            name: name.into(),
            dims: dims.to_vec(),
            data,
            words: None,
        }
    }

    /// A named uint32 array.
    pub fn u32(name: &str, dims: &[usize], words: Vec<u32>) -> Array {
        Array {
            name: name.into(),
            dims: dims.to_vec(),
            data: vec![],
            words: Some(words),
        }
    }

    /// The runtime tensor of the array.
    fn tensor(&self) -> Result<Tensor> {
        Ok(match &self.words {
            Some(w) => Tensor::new(TensorData::U32(w.clone()), self.dims.clone())?,
            None => Tensor::f32(self.data.clone(), self.dims.clone())?,
        })
    }
}

impl Serialize for Array {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Array", 3 + self.words.is_some() as usize)?;
        m.serialize_field("name", &self.name)?;
        m.serialize_field("dims", &self.dims)?;
        match &self.words {
            Some(w) => {
                m.serialize_field("dtype", "uint32")?;
                m.serialize_field("data", w)?;
            }
            None => m.serialize_field("data", &self.data)?,
        }
        m.end()
    }
}

/// One input set and burn's outputs for it.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// Graph inputs.
    pub inputs: Vec<Array>,
    /// burn's outputs, by graph output name.
    pub outputs: Vec<Array>,
}

/// The largest absolute difference per output between tract and burn over all cases; an
/// error when one exceeds its output's tolerance (naming output, case and element).
pub fn check_tract(
    model: &[u8],
    cases: &[Case],
    tolerances: &[(&str, f32)],
) -> Result<Vec<(String, f32)>> {
    let mut session = Session::new(model, &SessionOptions::default())?;
    let mut worst: Vec<(String, f32)> = vec![];
    for (c, case) in cases.iter().enumerate() {
        let feeds = case
            .inputs
            .iter()
            .map(|a| Ok((a.name.clone(), a.tensor()?)))
            .collect::<Result<Vec<_>>>()?;
        let got = session.run(feeds)?;
        for want in &case.outputs {
            let tolerance = tolerances
                .iter()
                .find(|(n, _)| *n == want.name)
                .map(|&(_, t)| t)
                .with_context(|| format!("no tolerance stated for output '{}'", want.name))?;
            let (_, t) = got
                .iter()
                .find(|(n, _)| n == &want.name)
                .with_context(|| format!("tract gave no output '{}'", want.name))?;
            let TensorData::F32(v) = t.data() else {
                bail!("output '{}' is not float32", want.name);
            };
            if t.dims() != want.dims.as_slice() {
                bail!(
                    "output '{}': tract dims {:?}, burn {:?}",
                    want.name,
                    t.dims(),
                    want.dims
                );
            }
            let (mut max, mut at) = (0f32, 0);
            for (i, (a, b)) in v.iter().zip(&want.data).enumerate() {
                let d = (a - b).abs();
                if d > max || d.is_nan() {
                    (max, at) = (d, i);
                }
            }
            if max.is_nan() || max > tolerance {
                bail!(
                    "output '{}', case {c}, element {at}: tract {} vs burn {} (|diff| {max} > {tolerance})",
                    want.name,
                    v[at],
                    want.data[at]
                );
            }
            match worst.iter_mut().find(|(n, _)| n == &want.name) {
                Some((_, w)) => *w = w.max(max),
                None => worst.push((want.name.clone(), max)),
            }
        }
    }
    Ok(worst)
}

/// Saves `cases` for the Node and Python parity checks as `<dir>/<system>.json`, with the
/// model's path and the tolerance of each output.
pub fn write_cases(
    dir: &Path,
    system: &str,
    model: &Path,
    tolerances: &[(&str, f32)],
    cases: &[Case],
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let doc = serde_json::json!({
        "system": system,
        "model": model.display().to_string(),
        "tolerances": tolerances.iter().map(|(n, t)| (n.to_string(), *t)).collect::<std::collections::BTreeMap<_, _>>(),
        "cases": cases,
    });
    std::fs::write(
        dir.join(format!("{system}.json")),
        serde_json::to_string(&doc)?,
    )?;
    Ok(())
}
