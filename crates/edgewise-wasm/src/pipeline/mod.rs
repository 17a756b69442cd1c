//! `pipeline(id)`: one call from an input to a catalogue system's typed result.
//!
//! Each system is a [`Task`]: the manifest's `helper` entry configures it, and its `run` takes
//! a batch of inputs through the model's session to one result per input. The marshalling is
//! generic: inputs and options come in through serde-wasm-bindgen, results go out through it,
//! and their TypeScript types are generated from the Rust types (tsify). A system added later
//! writes its Rust types and its `run`, and gets its JS objects and its types from them.
//!
//! The models are the ones committed in `onnx/` (shipped in the npm package under
//! `models/`); their manifest is compiled into this module, so the sha256 a model is checked
//! against cannot drift from the file the package ships.

mod aquant;
mod defect;
mod exitdoor;
mod glyph;
mod image;
mod kno;
mod multiexit;
mod rbnn;
mod snf;

use std::rc::Rc;

use edgewise_runtime::{Session, SessionOptions};
use js_sys::{Array, Object, Promise};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tsify::Tsify;
use wasm_bindgen::prelude::*;

use crate::cell::SessionCell;
use crate::{marshal, providers_from_js};

pub use defect::DefectAnalysis;
pub(crate) use snf::{SnfLayer, flops as snf_flops};

/// `onnx/manifest.json`, as committed.
const MANIFEST: &str = include_str!("../../../../onnx/manifest.json");

/// Lists the tasks `pipeline(id)` serves: one line per system, `Variant => module::Type`.
/// It makes [`IDS`] (from each [`Task::ID`]) and the enum of configured tasks with its
/// dispatch, so a system added later is its module and one line here.
macro_rules! registry {
    ($($variant:ident => $task:ty),* $(,)?) => {
        /// The systems `pipeline(id)` serves, in the catalogue's order.
        pub(crate) const IDS: &[&str] = &[$(<$task as Task>::ID),*];

        /// A configured task of any system.
        enum Loaded {
            $($variant($task)),*
        }

        impl Loaded {
            /// The task `id`, configured by its manifest entry's `helper`.
            fn configure(id: &str, helper: serde_json::Value) -> Result<Loaded, JsError> {
                $(if id == <$task as Task>::ID {
                    return Ok(Loaded::$variant(configure(id, helper)?));
                })*
                Err(fail(id, "no task is registered for it"))
            }

            async fn call(
                &self,
                id: &str,
                cell: &SessionCell,
                input: JsValue,
                batched: bool,
                options: JsValue,
            ) -> Result<JsValue, JsError> {
                match self {
                    $(Loaded::$variant(t) => call(t, id, cell, input, batched, options).await),*
                }
            }
        }
    };
}

registry! {
    Defect => defect::Defect,
    Kno => kno::Kno,
    Rbnn => rbnn::Rbnn,
    Aquant => aquant::Aquant,
    Snf => snf::Snf,
    Multiexit => multiexit::Multiexit,
    Exitdoor => exitdoor::Exitdoor,
}

/// One system's pipeline.
pub(crate) trait Task: Sized {
    /// The pipeline's id: the catalogue id, the manifest's key.
    const ID: &'static str;
    /// The manifest entry's `helper` (settings fixed by training: thresholds, keys, step).
    type Helper: DeserializeOwned;
    /// One input of a call.
    type Input: FromJs;
    /// The options of a call.
    type Options: DeserializeOwned + Default;
    /// The result of one input.
    type Output: Serialize;
    /// The option names [`Task::Options`] reads (an unknown name is an error, not ignored).
    const OPTIONS: &'static [&'static str];

    fn new(helper: Self::Helper) -> Result<Self, String>;

    /// The results of `inputs` (at least one), in order.
    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<Self::Input>,
        options: Self::Options,
    ) -> Result<Vec<Self::Output>, String>;
}

/// A JS value as a task's input; errors say what was expected.
pub(crate) trait FromJs: Sized {
    fn from_js(value: JsValue) -> Result<Self, String>;
}

/// A model the package ships, as `pipelineModel(id)` describes it.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PipelineModel {
    /// The pipeline's id.
    pub id: String,
    /// The model's file name under the package's `models/`.
    pub file: String,
    /// The file's sha256, lowercase hex.
    pub sha256: String,
    /// The file's size in bytes.
    pub bytes: f64,
    /// What the model does.
    pub description: String,
}

#[derive(Deserialize)]
struct Manifest {
    models: std::collections::BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    file: String,
    sha256: String,
    bytes: f64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    helper: serde_json::Value,
}

/// `value` as a JS value through serde-wasm-bindgen: structs become plain objects, `None`
/// becomes `null`, fields kept as JS values (typed arrays) pass as they are.
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    serialize(value, true)
}

/// [`to_js`] with `None` as `undefined` (onnxruntime-web's metadata leaves unknown fields
/// undefined).
pub(crate) fn to_js_undefined<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    serialize(value, false)
}

fn serialize<T: Serialize>(value: &T, none_as_null: bool) -> Result<JsValue, JsError> {
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(none_as_null)
        // Flattened structs serialize as maps: plain objects, as every other struct.
        .serialize_maps_as_objects(true);
    value
        .serialize(&serializer)
        .map_err(|e| JsError::new(&format!("converting a result to JS: {e}")))
}

fn fail(id: &str, msg: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("pipeline('{id}'): {msg}"))
}

fn entry(id: &str) -> Result<Entry, JsError> {
    if !IDS.contains(&id) {
        return Err(JsError::new(&format!(
            "pipeline: unknown id {id:?} (the pipelines are {})",
            IDS.join(", ")
        )));
    }
    let mut manifest: Manifest = serde_json::from_str(MANIFEST).map_err(|e| {
        fail(
            id,
            format!("the package's model manifest is unreadable: {e}"),
        )
    })?;
    manifest
        .models
        .remove(id)
        .ok_or_else(|| fail(id, "the package's model manifest has no entry for it"))
}

/// The ids `pipeline()` accepts.
#[wasm_bindgen(js_name = pipelineIds)]
pub fn pipeline_ids() -> Vec<String> {
    IDS.iter().map(|s| s.to_string()).collect()
}

/// The model behind `pipeline(id)`.
#[wasm_bindgen(js_name = pipelineModel)]
pub fn pipeline_model(id: &str) -> Result<JsValue, JsError> {
    let e = entry(id)?;
    to_js(&PipelineModel {
        id: id.to_string(),
        file: e.file,
        sha256: e.sha256,
        bytes: e.bytes,
        description: e.description,
    })
}

/// The sha256 of `bytes`, lowercase hex.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn configure<T: Task>(id: &str, helper: serde_json::Value) -> Result<T, JsError> {
    let helper = serde_json::from_value(helper)
        .map_err(|e| fail(id, format!("the manifest's helper entry: {e}")))?;
    T::new(helper).map_err(|e| fail(id, e))
}

/// A model with its task, ready to call. Created by `pipeline()` in JS.
#[wasm_bindgen]
pub struct Pipeline {
    id: String,
    cell: SessionCell,
    task: Rc<Loaded>,
}

#[wasm_bindgen]
impl Pipeline {
    /// Loads the pipeline `id` from the model's `bytes`. `sha256` (lowercase hex) is checked
    /// first when given: the manifest's for the shipped model; for a model of the caller's,
    /// the caller's hash or nothing. `providers` as for a session.
    pub async fn create(
        id: String,
        bytes: Vec<u8>,
        sha256: Option<String>,
        providers: Vec<String>,
    ) -> Result<Pipeline, JsError> {
        let e = entry(&id)?;
        if let Some(want) = sha256 {
            let got = sha256_hex(&bytes);
            if !got.eq_ignore_ascii_case(want.trim()) {
                return Err(fail(
                    &id,
                    format!(
                        "the model's sha256 is {got}, expected {want}: the bytes are truncated, \
                         corrupted or another model"
                    ),
                ));
            }
        }
        let task = Loaded::configure(&id, e.helper)?;
        let options = SessionOptions {
            providers: providers_from_js(&providers)?,
            ..Default::default()
        };
        let session = Session::create(&bytes, &options)
            .await
            .map_err(|err| fail(&id, err))?;
        Ok(Pipeline {
            id,
            cell: SessionCell::new(session),
            task: Rc::new(task),
        })
    }

    /// The pipeline's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// Runs `input` (or each of `input`, an array, when `batched`) with `options`; resolves
    /// to the result (or an array of them).
    pub fn call(&self, input: JsValue, batched: bool, options: JsValue) -> Promise {
        let (id, cell, task) = (self.id.clone(), self.cell.clone(), self.task.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            task.call(&id, &cell, input, batched, options)
                .await
                .map_err(JsValue::from)
        })
    }

    /// Where each stage of the model ran on the last call (as `InferenceSession.stages()`).
    pub fn stages(&self) -> Result<JsValue, JsError> {
        self.cell.with(|s| marshal::stages(s.stages()))?
    }

    /// Drops the model now; later calls fail with "the session was released".
    pub fn release(&self) {
        self.cell.release();
    }
}

/// Rejects option names `T` does not read.
fn check_option_names<T: Task>(id: &str, options: &JsValue) -> Result<(), JsError> {
    let obj = options
        .dyn_ref::<Object>()
        .filter(|_| !Array::is_array(options))
        .ok_or_else(|| fail(id, "options must be an object"))?;
    for key in Object::keys(obj).iter() {
        let key = key.as_string().unwrap_or_default();
        if !T::OPTIONS.contains(&key.as_str()) {
            let known = if T::OPTIONS.is_empty() {
                "it takes none".to_string()
            } else {
                format!("it takes {}", T::OPTIONS.join(", "))
            };
            return Err(fail(id, format!("unknown option '{key}' ({known})")));
        }
    }
    Ok(())
}

async fn call<T: Task>(
    task: &T,
    id: &str,
    cell: &SessionCell,
    input: JsValue,
    batched: bool,
    options: JsValue,
) -> Result<JsValue, JsError> {
    let options: T::Options = if options.is_undefined() || options.is_null() {
        T::Options::default()
    } else {
        check_option_names::<T>(id, &options)?;
        serde_wasm_bindgen::from_value(options).map_err(|e| fail(id, format!("options: {e}")))?
    };
    let inputs = if batched {
        let list = input
            .dyn_ref::<Array>()
            .ok_or_else(|| fail(id, "a batch must be an array"))?;
        list.iter()
            .enumerate()
            .map(|(i, v)| T::Input::from_js(v).map_err(|e| fail(id, format!("input {i}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![T::Input::from_js(input).map_err(|e| fail(id, e))?]
    };
    if inputs.is_empty() {
        return Ok(Array::new().into());
    }
    let count = inputs.len();
    let mut lease = cell.lease()?;
    let outputs = task
        .run(lease.session()?, inputs, options)
        .await
        .map_err(|e| fail(id, e))?;
    drop(lease);
    if outputs.len() != count {
        return Err(fail(
            id,
            format!("{} results for {count} inputs", outputs.len()),
        ));
    }
    if batched {
        Ok(outputs
            .iter()
            .map(to_js)
            .collect::<Result<Array, _>>()?
            .into())
    } else {
        outputs
            .first()
            .map_or_else(|| Ok(JsValue::UNDEFINED), to_js)
    }
}

/// The output `name` of a run as float32 values with their dims.
pub(crate) fn output_f32(
    outputs: &[(String, edgewise_runtime::Tensor)],
    name: &str,
) -> Result<(Vec<f32>, Vec<usize>), String> {
    let (_, t) = outputs
        .iter()
        .find(|(n, _)| n == name)
        .ok_or_else(|| format!("the model has no output '{name}'"))?;
    let data = t
        .as_f32()
        .ok_or_else(|| format!("output '{name}' is {}, not float32", t.dtype()))?;
    Ok((data.to_vec(), t.dims().to_vec()))
}
