//! The Koopman neural operator and its Fourier neural operator baseline: one struct, which
//! applies its Fourier layers cyclically. With one layer applied `order` times it is the KNO
//! (a single, time-invariant operator in Fourier space, iterated); with `depth` layers applied
//! once each it is an FNO with distinct weights per layer.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::tanh;
use edgewise_onnx::Attr;
use serde::Serialize;

use crate::emit::{Emit, EmitResult, Emitter};
use crate::layers::Pointwise1d;
use crate::spectral::SpectralConv1d;

/// Which neural operator.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub enum Kind {
    /// Koopman neural operator: one Fourier layer, its weights shared by every application.
    Koopman,
    /// Fourier neural operator: distinct weights in every layer (the baseline).
    Fourier,
}

impl Kind {
    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Koopman => "KNO",
            Kind::Fourier => "FNO",
        }
    }
}

/// One Fourier layer `h ↦ tanh(K h + W h)`: `K` a [`SpectralConv1d`] (complex weights on the
/// lowest modes), `W` a 1×1 convolution (the skip, at every grid point and frequency).
#[derive(Module, Debug)]
pub struct FourierLayer {
    /// `K`.
    pub spectral: SpectralConv1d,
    /// `W`.
    pub skip: Pointwise1d,
}

impl FourierLayer {
    /// `width → width` channels, `modes` kept frequencies.
    pub fn new(width: usize, modes: usize, device: &Device) -> FourierLayer {
        FourierLayer {
            spectral: SpectralConv1d::new(width, width, modes, device),
            skip: Pointwise1d::new(width, width, device),
        }
    }

    /// The forward pass on `[batch, width, n]`.
    pub fn forward(&self, h: Tensor<3>) -> Tensor<3> {
        tanh(self.spectral.forward(h.clone()) + self.skip.forward(h))
    }
}

/// The ONNX names of one Fourier layer's weights, written once however often it is applied.
struct LayerWeights {
    wr: String,
    wi: String,
    w: String,
    b: Option<String>,
}

impl FourierLayer {
    fn emit_weights(&self, e: &mut Emitter, scope: &str) -> EmitResult<LayerWeights> {
        let spectral = format!("{scope}.spectral");
        let skip = format!("{scope}.skip");
        Ok(LayerWeights {
            wr: e.weight(&spectral, "wr", &self.spectral.wr.val())?,
            wi: e.weight(&spectral, "wi", &self.spectral.wi.val())?,
            w: e.weight(&skip, "weight", &self.skip.conv.weight.val())?,
            b: match &self.skip.conv.bias {
                Some(b) => Some(e.weight(&skip, "bias", &b.val())?),
                None => None,
            },
        })
    }

    fn emit_apply(e: &mut Emitter, w: &LayerWeights, scope: &str, h: &str) -> String {
        let k = e.edgewise(
            "SpectralConv1d",
            &[h, &w.wr, &w.wi],
            &format!("{scope}.spectral"),
            vec![],
        );
        let mut inputs = vec![h, w.w.as_str()];
        if let Some(b) = &w.b {
            inputs.push(b);
        }
        let s = e.op(
            "Conv",
            &inputs,
            &format!("{scope}.skip"),
            vec![("kernel_shape", Attr::Ints(vec![1]))],
        );
        let sum = e.op("Add", &[&k, &s], &format!("{scope}.add"), vec![]);
        e.op("Tanh", &[&sum], &format!("{scope}.tanh"), vec![])
    }
}

/// Encoder (1×1, `1 → width`, tanh) → Fourier layers applied `applications` times, cyclically
/// → decoder (1×1, `width → 1`), added to the input: `u(t) ↦ u(t + dt)`.
#[derive(Module, Debug)]
pub struct NeuralOperator {
    /// Lifting to `width` channels.
    pub encoder: Pointwise1d,
    /// The Fourier layers: one for the KNO, `depth` for the FNO.
    pub layers: Vec<FourierLayer>,
    /// Projection back to one channel.
    pub decoder: Pointwise1d,
    /// Layer applications per step (application `i` uses layer `i mod layers.len()`).
    #[module(skip)]
    pub applications: usize,
}

impl NeuralOperator {
    /// A freshly initialized operator: for [`Kind::Koopman`] one layer applied `order` times,
    /// for [`Kind::Fourier`] `order` distinct layers.
    pub fn new(
        kind: Kind,
        width: usize,
        modes: usize,
        order: usize,
        device: &Device,
    ) -> NeuralOperator {
        let layers = match kind {
            Kind::Koopman => 1,
            Kind::Fourier => order,
        };
        NeuralOperator {
            encoder: Pointwise1d::new(1, width, device),
            layers: (0..layers)
                .map(|_| FourierLayer::new(width, modes, device))
                .collect(),
            decoder: Pointwise1d::new(width, 1, device),
            applications: order,
        }
    }

    /// One step, `[batch, 1, n] → [batch, 1, n]`, at any `n`.
    pub fn forward(&self, u: Tensor<3>) -> Tensor<3> {
        let mut h = tanh(self.encoder.forward(u.clone()));
        for i in 0..self.applications {
            h = self.layers[i % self.layers.len()].forward(h);
        }
        u + self.decoder.forward(h)
    }

    /// `steps` model steps from `u0`: `[u(dt), …, u(steps·dt)]`.
    pub fn rollout(&self, u0: Tensor<3>, steps: usize) -> Vec<Tensor<3>> {
        let mut out = Vec::with_capacity(steps);
        let mut u = u0;
        for _ in 0..steps {
            u = self.forward(u);
            out.push(u.clone());
        }
        out
    }

    /// Trained scalars (shared weights counted once).
    pub fn parameters(&self) -> usize {
        self.num_params()
    }

    /// Floating-point operations of one step on one signal of `n` points (multiply and add
    /// counted apart, `tanh` as one): 1×1 convolutions `2·cin·cout·n` plus the bias; each
    /// spectral convolution as the truncated DFTs the training computes (`4·n·modes` per
    /// channel forward and back) and the complex channel mixing (`8·width²·modes`); adds.
    pub fn flops(&self, n: usize) -> u64 {
        let n = n as u64;
        let width = self.layers[0].skip.conv.weight.val().dims()[0] as u64;
        let modes = self.layers[0].spectral.modes().min(n as usize / 2 + 1) as u64;
        let pointwise = |cin: u64, cout: u64| 2 * cin * cout * n + cout * n;
        let spectral = 4 * n * modes * width * 2 + 8 * width * width * modes;
        let layer = spectral + pointwise(width, width) + width * n /* add */ + width * n /* tanh */;
        pointwise(1, width) + width * n + self.applications as u64 * layer + pointwise(width, 1) + n
    }
}

impl Emit for NeuralOperator {
    fn emit(&self, e: &mut Emitter, scope: &str, u: &str) -> EmitResult<String> {
        let enc = self.encoder.emit(e, &format!("{scope}encoder"), u)?;
        let mut h = e.op("Tanh", &[&enc], &format!("{scope}encoder.tanh"), vec![]);
        let weights = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| l.emit_weights(e, &format!("{scope}layers.{i}")))
            .collect::<EmitResult<Vec<_>>>()?;
        for i in 0..self.applications {
            let at = format!("{scope}apply.{i}");
            h = FourierLayer::emit_apply(e, &weights[i % weights.len()], &at, &h);
        }
        let du = self.decoder.emit(e, &format!("{scope}decoder"), &h)?;
        Ok(e.op("Add", &[u, &du], &format!("{scope}residual"), vec![]))
    }
}
