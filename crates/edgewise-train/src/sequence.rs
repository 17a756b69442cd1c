//! Layers for sequences `[batch, seq, features]`, each training in burn and exporting itself to
//! standard ONNX ([`Emit`]) from the same struct.
//!
//! - [`LayerNorm`]: burn's `LayerNorm` over the last axis as one `LayerNormalization`.
//! - [`Gru`]: burn's `Gru` (batch first, every hidden state returned) as one ONNX `GRU`
//!   between two `Transpose`s; its zero initial state is built from the input's batch size.
//! - [`SelfAttention`]: burn's `MultiHeadAttention` on one input, unmasked, written out as
//!   `MatMul`, `Add`, `Reshape`, `Transpose`, `Mul` and `Softmax`.
//!
//! Every exported graph keeps the batch dimension dynamic.

use burn::module::Module;
use burn::nn::activation::Activation;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::gru::GruConfig;
use burn::nn::{LayerNormConfig, Linear};
use burn::prelude::*;
use edgewise_onnx::{Attr, tensor_f32};

use crate::emit::{Emit, EmitError, EmitResult, Emitter, values};

/// Layer normalization over the last axis: `(x − mean) / √(var + ε) · γ + β`, with the biased
/// variance, as burn and ONNX's `LayerNormalization` compute it.
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// burn's layer (γ, and β unless built without bias).
    pub norm: burn::nn::LayerNorm,
    /// ε, the value `norm` was built with (burn keeps its own copy private).
    #[module(skip)]
    epsilon: f64,
}

impl LayerNorm {
    /// Normalizes vectors of `d_model` features with `epsilon`; γ starts at 1 and β at 0.
    pub fn new(d_model: usize, epsilon: f64, device: &Device) -> LayerNorm {
        LayerNorm {
            norm: LayerNormConfig::new(d_model)
                .with_epsilon(epsilon)
                .init(device),
            epsilon,
        }
    }

    /// The ε added to the variance.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The forward pass on `[…, d_model]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.norm.forward(x)
    }
}

impl Emit for LayerNorm {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        // ONNX stores ε as a float32 attribute; one that float32 rounds to 0 or to infinity
        // would change the function (a constant row would divide by zero), so it is refused.
        let eps = self.epsilon as f32;
        if !eps.is_finite() || (eps == 0.0 && self.epsilon != 0.0) {
            return Err(EmitError(format!(
                "'{scope}': epsilon {} does not fit a float32",
                self.epsilon
            )));
        }
        let gamma = self.norm.gamma.val();
        let [d] = gamma.dims();
        if d == 0 {
            return Err(EmitError(format!("'{scope}': no features to normalize")));
        }
        let mut inputs = vec![x.to_string(), e.weight(scope, "gamma", &gamma)?];
        if let Some(beta) = &self.norm.beta {
            let beta = beta.val();
            if beta.dims() != [d] {
                return Err(EmitError(format!(
                    "'{scope}': beta has dims {:?}, gamma [{d}]",
                    beta.dims()
                )));
            }
            inputs.push(e.weight(scope, "beta", &beta)?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(e.op(
            "LayerNormalization",
            &refs,
            &format!("{scope}.layer_norm"),
            vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
        ))
    }
}

/// A unidirectional GRU over `[batch, seq, d_input]`, returning every hidden state
/// `[batch, seq, d_hidden]` from a zero initial state.
///
/// burn's gates are `z = σ(x·W_z + b_z + h·R_z + c_z)`, `r` alike, and
/// `n = tanh(x·W_n + b_n + r ⊙ (h·R_n + c_n))` when the reset gate is applied after the hidden
/// product (`reset_after`, the default), `tanh(x·W_n + b_n + (r ⊙ h)·R_n + c_n)` otherwise;
/// `h' = (1 − z) ⊙ n + z ⊙ h`. These are ONNX's `GRU` equations with
/// `linear_before_reset = reset_after`.
#[derive(Module, Debug)]
pub struct Gru {
    /// burn's layer.
    pub gru: burn::nn::gru::Gru,
}

impl Gru {
    /// `d_input → d_hidden`, with biases, the reset gate applied after the hidden product.
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Gru {
        Gru::from_config(&GruConfig::new(d_input, d_hidden, true), device)
    }

    /// A GRU from burn's full configuration (export refuses what ONNX's `GRU` cannot express:
    /// other activations and hidden-state clipping).
    pub fn from_config(config: &GruConfig, device: &Device) -> Gru {
        Gru {
            gru: config.init(device),
        }
    }

    /// The size of the hidden state.
    pub fn hidden(&self) -> usize {
        self.gru.d_hidden
    }

    /// The forward pass: `[batch, seq, d_input] → [batch, seq, d_hidden]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.gru.forward(x, None)
    }
}

/// ONNX's `[gates · hidden, d_in]` block of one direction: the transposed `[d_in, hidden]`
/// weights of burn's `gates`, stacked in order.
fn stacked_transposed(
    scope: &str,
    gates: &[&Linear],
    d_in: usize,
    hidden: usize,
) -> EmitResult<Vec<f32>> {
    let mut out = Vec::with_capacity(gates.len() * hidden * d_in);
    for linear in gates {
        let w = linear.weight.val();
        if w.dims() != [d_in, hidden] {
            return Err(EmitError(format!(
                "'{scope}': a gate weight has dims {:?}, expected [{d_in}, {hidden}]",
                w.dims()
            )));
        }
        let w = values(&w)?;
        for h in 0..hidden {
            out.extend((0..d_in).map(|i| w[i * hidden + h]));
        }
    }
    Ok(out)
}

/// The bias of `linear` (`hidden` values), zeros when it has none.
fn bias_or_zeros(scope: &str, linear: &Linear, hidden: usize) -> EmitResult<Vec<f32>> {
    match &linear.bias {
        None => Ok(vec![0.0; hidden]),
        Some(b) => {
            let b = values(&b.val())?;
            if b.len() != hidden {
                return Err(EmitError(format!(
                    "'{scope}': a gate bias has {} values, expected {hidden}",
                    b.len()
                )));
            }
            Ok(b)
        }
    }
}

impl Emit for Gru {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        let g = &self.gru;
        let hidden = g.d_hidden;
        if hidden == 0 {
            return Err(EmitError(format!("'{scope}': the hidden state is empty")));
        }
        if !matches!(g.gate_activation, Activation::Sigmoid(_))
            || !matches!(g.hidden_activation, Activation::Tanh(_))
        {
            return Err(EmitError(format!(
                "'{scope}': ONNX's GRU is written with sigmoid gates and a tanh candidate only"
            )));
        }
        if let Some(clip) = g.clip {
            // burn clamps the hidden state after each step; ONNX's `clip` clamps the gates'
            // inputs, another function.
            return Err(EmitError(format!(
                "'{scope}': hidden-state clipping ({clip}) has no ONNX GRU equivalent"
            )));
        }
        let d_in = g.update_gate.input_transform.weight.val().dims()[0];
        // ONNX's gate order is z (update), r (reset), h (new).
        let gates = [&g.update_gate, &g.reset_gate, &g.new_gate];
        let inputs: Vec<&Linear> = gates.iter().map(|c| &c.input_transform).collect();
        let hiddens: Vec<&Linear> = gates.iter().map(|c| &c.hidden_transform).collect();
        let w = stacked_transposed(scope, &inputs, d_in, hidden)?;
        let r = stacked_transposed(scope, &hiddens, hidden, hidden)?;
        let w = e.weight_values(scope, "W", &[1, 3 * hidden, d_in], &w)?;
        let r = e.weight_values(scope, "R", &[1, 3 * hidden, hidden], &r)?;
        // B = [Wb_z, Wb_r, Wb_h, Rb_z, Rb_r, Rb_h]: burn's input biases, then its hidden ones.
        let has_bias = inputs.iter().chain(&hiddens).any(|l| l.bias.is_some());
        let b = if has_bias {
            let mut b = Vec::with_capacity(6 * hidden);
            for linear in inputs.iter().chain(&hiddens) {
                b.extend(bias_or_zeros(scope, linear, hidden)?);
            }
            e.weight_values(scope, "B", &[1, 6 * hidden], &b)?
        } else {
            String::new()
        };

        // ONNX's default layout is sequence first, the one every runtime implements.
        let xt = e.op(
            "Transpose",
            &[x],
            &format!("{scope}.seq_first"),
            vec![("perm", Attr::Ints(vec![1, 0, 2]))],
        );
        // A zero initial state [1, batch, hidden] sized from the input: tract needs a stated
        // initial state when the batch is symbolic.
        let batch = e.op(
            "Shape",
            &[&xt],
            &format!("{scope}.batch"),
            vec![("start", Attr::Int(1)), ("end", Attr::Int(2))],
        );
        let dirs = e.constant_i64(&format!("{scope}.h0.directions"), &[1]);
        let size = e.constant_i64(&format!("{scope}.h0.hidden"), &[hidden as i64]);
        let shape = e.op(
            "Concat",
            &[&dirs, &batch, &size],
            &format!("{scope}.h0.shape"),
            vec![("axis", Attr::Int(0))],
        );
        let h0 = e.op(
            "ConstantOfShape",
            &[&shape],
            &format!("{scope}.h0"),
            vec![(
                "value",
                Attr::Tensor(Box::new(tensor_f32("value", &[1], &[0.0]))),
            )],
        );
        // Y: [seq, num_directions = 1, batch, hidden].
        let y = e.op(
            "GRU",
            &[&xt, &w, &r, &b, "", &h0],
            &format!("{scope}.gru"),
            vec![
                ("hidden_size", Attr::Int(hidden as i64)),
                ("linear_before_reset", Attr::Int(g.reset_after as i64)),
            ],
        );
        let axes = e.constant_i64(&format!("{scope}.directions_axis"), &[1]);
        let y = e.op("Squeeze", &[&y, &axes], &format!("{scope}.squeeze"), vec![]);
        Ok(e.op(
            "Transpose",
            &[&y],
            &format!("{scope}.batch_first"),
            vec![("perm", Attr::Ints(vec![1, 0, 2]))],
        ))
    }
}

/// Multi-head self-attention over `[batch, seq, d_model]`, unmasked:
/// `softmax(Q·Kᵀ / √d_k)·V` per head, heads concatenated, then the output projection.
///
/// It wraps burn's `MultiHeadAttention` (query, key, value and output `Linear`s, weights
/// `[d_model, d_model]`) with no dropout; the export is the inference graph.
#[derive(Module, Debug)]
pub struct SelfAttention {
    /// burn's layer.
    pub mha: MultiHeadAttention,
}

impl SelfAttention {
    /// `heads` heads of `d_model / heads` features; an error unless `heads` divides `d_model`
    /// (burn would silently drop the remainder).
    pub fn new(d_model: usize, heads: usize, device: &Device) -> EmitResult<SelfAttention> {
        if heads == 0 || d_model == 0 || !d_model.is_multiple_of(heads) {
            return Err(EmitError(format!(
                "self-attention: {heads} heads do not divide d_model = {d_model}"
            )));
        }
        Ok(SelfAttention {
            mha: MultiHeadAttentionConfig::new(d_model, heads)
                .with_dropout(0.0)
                .init(device),
        })
    }

    /// The forward pass: `[batch, seq, d_model] → [batch, seq, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.mha.forward(MhaInput::self_attn(x)).context
    }
}

/// `x·W + b` for a burn `Linear` with weight `[d, d]`, under `scope`.
fn linear(e: &mut Emitter, scope: &str, l: &Linear, d: usize, x: &str) -> EmitResult<String> {
    let w = l.weight.val();
    if w.dims() != [d, d] {
        return Err(EmitError(format!(
            "'{scope}': weight dims {:?}, expected [{d}, {d}]",
            w.dims()
        )));
    }
    let w = e.weight(scope, "weight", &w)?;
    let mut y = e.op("MatMul", &[x, &w], &format!("{scope}.matmul"), vec![]);
    if let Some(b) = &l.bias {
        let b = b.val();
        if b.dims() != [d] {
            return Err(EmitError(format!(
                "'{scope}': bias dims {:?}, expected [{d}]",
                b.dims()
            )));
        }
        let b = e.weight(scope, "bias", &b)?;
        y = e.op("Add", &[&y, &b], &format!("{scope}.add"), vec![]);
    }
    Ok(y)
}

impl Emit for SelfAttention {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        let m = &self.mha;
        let (d, heads, d_k) = (m.d_model, m.n_heads, m.d_k);
        if heads == 0 || d_k == 0 || heads * d_k != d {
            return Err(EmitError(format!(
                "'{scope}': {heads} heads of {d_k} features do not make d_model = {d}"
            )));
        }
        if m.quiet_softmax {
            return Err(EmitError(format!(
                "'{scope}': quiet softmax has no single ONNX operator; build without it"
            )));
        }
        let sub = |name: &str| format!("{scope}.{name}");
        // [batch, seq, d] → [batch, seq, heads, d_k]; 0 copies the batch and sequence sizes.
        let split = e.constant_i64(&sub("split_heads"), &[0, 0, heads as i64, d_k as i64]);
        let project = |e: &mut Emitter, name: &str, l: &Linear, perm: Vec<i64>| {
            let y = linear(e, &sub(name), l, d, x)?;
            let y = e.op(
                "Reshape",
                &[&y, &split],
                &sub(&format!("{name}.heads")),
                vec![],
            );
            Ok::<_, EmitError>(e.op(
                "Transpose",
                &[&y],
                &sub(&format!("{name}.transpose")),
                vec![("perm", Attr::Ints(perm))],
            ))
        };
        // Q, V: [batch, heads, seq, d_k]; Kᵀ: [batch, heads, d_k, seq].
        let q = project(e, "query", &m.query, vec![0, 2, 1, 3])?;
        let kt = project(e, "key", &m.key, vec![0, 2, 3, 1])?;
        let v = project(e, "value", &m.value, vec![0, 2, 1, 3])?;
        let scores = e.op("MatMul", &[&q, &kt], &sub("scores"), vec![]);
        let scale = e.constant(&sub("scale"), &[], &[1.0 / (d_k as f32).sqrt()])?;
        let scores = e.op("Mul", &[&scores, &scale], &sub("scaled"), vec![]);
        let weights = e.op(
            "Softmax",
            &[&scores],
            &sub("softmax"),
            vec![("axis", Attr::Int(-1))],
        );
        let context = e.op("MatMul", &[&weights, &v], &sub("context"), vec![]);
        let context = e.op(
            "Transpose",
            &[&context],
            &sub("context.transpose"),
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        let merge = e.constant_i64(&sub("merge_heads"), &[0, 0, d as i64]);
        let context = e.op(
            "Reshape",
            &[&context, &merge],
            &sub("context.merge"),
            vec![],
        );
        linear(e, &sub("output"), &m.output, d, &context)
    }
}
