//! `pipeline('kno')`: an initial state of Burgers' equation in; the Koopman neural operator's
//! rollout out, one model step per `dt` (`onnx/kno.onnx`).

use edgewise_runtime::{Session, Tensor};
use edgewise_tasks::kno::{MAX_N, MAX_STEPS, MAX_VALUES};
use js_sys::{Array, Float32Array};
use serde::{Deserialize, Serialize};
use tsify::Tsify;
use wasm_bindgen::JsValue;

use super::image::float_values;
use super::{FromJs, Task, output_f32};

/// The manifest's `helper` entry of the KNO model.
#[derive(Deserialize)]
pub(crate) struct Helper {
    /// Time between two states (one model step).
    dt: f64,
    /// Viscosity of the equation the model was trained on.
    nu: f64,
    /// Steps of a rollout in the model's evaluation.
    steps: usize,
}

/// The state `u` on `n` evenly spaced points of the periodic interval `[0, 1)`.
pub(crate) struct State(Vec<f32>);

impl FromJs for State {
    fn from_js(value: JsValue) -> Result<State, String> {
        let u = float_values(&value, "the initial state")?;
        if u.len() < 2 || u.len() > MAX_N {
            return Err(format!(
                "the initial state must have 2 to {MAX_N} points, got {}",
                u.len()
            ));
        }
        if let Some(i) = u.iter().position(|v| !v.is_finite()) {
            return Err(format!("the initial state's value {i} is not finite"));
        }
        Ok(State(u))
    }
}

/// Options of a `pipeline('kno')` call.
#[derive(Deserialize, Default, Tsify)]
pub struct KnoOptions {
    /// Model steps to take (default: the rollout length of the model's evaluation, 50).
    #[tsify(optional)]
    pub steps: Option<u32>,
}

/// A rollout from one initial state.
#[derive(Serialize, Tsify)]
pub struct KnoResult {
    /// `steps + 1` states: the initial one, then one per model step.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[tsify(type = "Float32Array[]")]
    pub states: Array,
    /// Points per state.
    pub n: u32,
    /// Time between two states.
    pub dt: f64,
    /// Viscosity the model was trained on.
    pub nu: f64,
}

/// The configured KNO task.
pub(crate) struct Kno {
    dt: f64,
    nu: f64,
    steps: usize,
}

impl Task for Kno {
    type Helper = Helper;
    type Input = State;
    type Options = KnoOptions;
    type Output = KnoResult;
    const ID: &'static str = "kno";
    const OPTIONS: &'static [&'static str] = &["steps"];

    fn new(helper: Helper) -> Result<Self, String> {
        if !(helper.dt > 0.0 && helper.nu > 0.0) || helper.steps > MAX_STEPS {
            return Err("the manifest's dt, nu or steps is out of range".into());
        }
        Ok(Kno {
            dt: helper.dt,
            nu: helper.nu,
            steps: helper.steps,
        })
    }

    async fn run(
        &self,
        session: &mut Session,
        inputs: Vec<State>,
        options: KnoOptions,
    ) -> Result<Vec<KnoResult>, String> {
        let steps = options.steps.map_or(self.steps, |s| s as usize);
        if steps > MAX_STEPS {
            return Err(format!("steps must be at most {MAX_STEPS}, got {steps}"));
        }
        let (b, n) = (inputs.len(), inputs.first().map_or(0, |s| s.0.len()));
        if (steps + 1).saturating_mul(n).saturating_mul(b) > MAX_VALUES {
            return Err(format!(
                "{b} rollouts of {steps} steps at {n} points exceed {MAX_VALUES} values"
            ));
        }
        if let Some(i) = inputs.iter().position(|s| s.0.len() != n) {
            return Err(format!(
                "a batch runs states of one size: input 0 has {n} points, input {i} has {}",
                inputs[i].0.len()
            ));
        }
        let mut u: Vec<f32> = inputs.into_iter().flat_map(|s| s.0).collect();
        let states: Vec<Array> = (0..b).map(|_| Array::new()).collect();
        let push = |u: &[f32]| {
            for (k, list) in states.iter().enumerate() {
                list.push(&Float32Array::from(&u[k * n..(k + 1) * n]));
            }
        };
        push(&u);
        for step in 0..steps {
            let x = Tensor::f32(u, vec![b, 1, n]).map_err(|e| e.to_string())?;
            let outputs = session
                .run_async(vec![("u".into(), x)])
                .await
                .map_err(|e| format!("step {step}: {e}"))?;
            let (next, dims) = output_f32(&outputs, "u_next")?;
            if dims != [b, 1, n] {
                return Err(format!(
                    "output 'u_next' has shape {dims:?}, expected [{b}, 1, {n}]"
                ));
            }
            push(&next);
            u = next;
        }
        Ok(states
            .into_iter()
            .map(|states| KnoResult {
                states,
                n: n as u32,
                dt: self.dt,
                nu: self.nu,
            })
            .collect())
    }
}
