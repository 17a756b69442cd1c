//! The layers the catalogue's models are built from, each training in burn and exporting
//! itself to ONNX ([`Emit`]) from the same struct.
//!
//! - [`ConvBlock`]: `Conv2d` → optional `BatchNorm` (folded into the convolution at export) →
//!   [`Act`].
//! - [`UpBlock`]: `ConvTranspose2d` (×2 upsampling) → [`Act`].
//! - [`Dense`]: `Linear` as `MatMul` + `Add` (burn stores the weight as `[in, out]`).
//! - [`Pointwise1d`]: a 1×1 `Conv1d` (channel mixing at every grid point).
//! - [`SpectralConv1d`](crate::spectral::SpectralConv1d) and the binary layers live in their
//!   own modules, next to the custom operators they export to.

use burn::module::Module;
use burn::nn::conv::{
    Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig1d, PaddingConfig2d,
};
use burn::prelude::*;
use edgewise_onnx::Attr;

use crate::emit::{Emit, EmitError, EmitResult, Emitter, values};

/// An elementwise activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// No activation.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x ≥ 0`, `αx` otherwise.
    LeakyRelu(f32),
    /// `1 / (1 + e^−x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
}

impl Act {
    /// Applies the activation in burn.
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Identity => x,
            Act::Relu => burn::tensor::activation::relu(x),
            Act::LeakyRelu(a) => burn::tensor::activation::leaky_relu(x, a as f64),
            Act::Sigmoid => burn::tensor::activation::sigmoid(x),
            Act::Tanh => burn::tensor::activation::tanh(x),
        }
    }

    /// Writes the activation; the identity writes nothing.
    pub fn emit(self, e: &mut Emitter, scope: &str, x: &str) -> String {
        let out = format!("{scope}.act");
        match self {
            Act::Identity => x.to_string(),
            Act::Relu => e.op("Relu", &[x], &out, vec![]),
            Act::LeakyRelu(a) => e.op("LeakyRelu", &[x], &out, vec![("alpha", Attr::Float(a))]),
            Act::Sigmoid => e.op("Sigmoid", &[x], &out, vec![]),
            Act::Tanh => e.op("Tanh", &[x], &out, vec![]),
        }
    }
}

/// `Conv2d` (square kernel, symmetric padding) → optional `BatchNorm` → activation.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution.
    pub conv: Conv2d,
    /// Batch normalization, folded into `conv` at export.
    pub norm: Option<BatchNorm>,
    /// The activation.
    #[module(skip)]
    pub act: Act,
}

impl ConvBlock {
    /// `cin → cout` channels, `k × k` kernel, `stride`, padding `k / 2`.
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        norm: bool,
        act: Act,
        device: &Device,
    ) -> ConvBlock {
        let p = k / 2;
        let conv = Conv2dConfig::new([cin, cout], [k, k])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_bias(!norm)
            .init(device);
        ConvBlock {
            conv,
            norm: norm.then(|| BatchNormConfig::new(cout).init(device)),
            act,
        }
    }

    /// The forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        let y = match &self.norm {
            Some(n) => n.forward(y),
            None => y,
        };
        self.act.forward(y)
    }
}

/// The convolution's weight and bias with an inference-mode batch norm folded in:
/// `w' = w·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β`.
pub fn fold_norm(
    weight: &[f32],
    bias: Option<Vec<f32>>,
    cout: usize,
    norm: Option<&BatchNorm>,
) -> EmitResult<(Vec<f32>, Vec<f32>)> {
    let mut w = weight.to_vec();
    let mut b = bias.unwrap_or_else(|| vec![0.0; cout]);
    if let Some(n) = norm {
        let gamma = values(&n.gamma.val())?;
        let beta = values(&n.beta.val())?;
        let mean = values(&n.running_mean.value())?;
        let var = values(&n.running_var.value())?;
        let per = w.len() / cout;
        for o in 0..cout {
            let s = gamma[o] as f64 / (var[o] as f64 + n.epsilon).sqrt();
            for v in &mut w[o * per..(o + 1) * per] {
                *v = (*v as f64 * s) as f32;
            }
            b[o] = ((b[o] as f64 - mean[o] as f64) * s + beta[o] as f64) as f32;
        }
    }
    Ok((w, b))
}

fn explicit_pads(p: &PaddingConfig2d) -> EmitResult<[usize; 4]> {
    match p {
        PaddingConfig2d::Explicit(t, l, b, r) => Ok([*t, *l, *b, *r]),
        PaddingConfig2d::Valid => Ok([0; 4]),
        PaddingConfig2d::Same => Err(EmitError(
            "'same' padding: build layers with explicit pads".into(),
        )),
    }
}

fn ints(v: &[usize]) -> Attr {
    Attr::Ints(v.iter().map(|&x| x as i64).collect())
}

impl Emit for ConvBlock {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        let dims = self.conv.weight.val().dims();
        let weight = values(&self.conv.weight.val())?;
        let bias = match &self.conv.bias {
            Some(b) => Some(values(&b.val())?),
            None => None,
        };
        let (w, b) = fold_norm(&weight, bias, dims[0], self.norm.as_ref())?;
        let w = e.weight_values(scope, "weight", &dims, &w)?;
        let b = e.weight_values(scope, "bias", &[dims[0]], &b)?;
        let [t, l, bo, r] = explicit_pads(&self.conv.padding)?;
        let y = e.op(
            "Conv",
            &[x, &w, &b],
            &format!("{scope}.conv"),
            vec![
                ("kernel_shape", ints(&self.conv.kernel_size)),
                ("strides", ints(&self.conv.stride)),
                ("dilations", ints(&self.conv.dilation)),
                ("group", Attr::Int(self.conv.groups as i64)),
                ("pads", ints(&[t, l, bo, r])),
            ],
        );
        Ok(self.act.emit(e, scope, &y))
    }
}

/// `ConvTranspose2d` with kernel 4, stride 2, padding 1 (exact ×2 upsampling) → activation.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// The transposed convolution.
    pub deconv: ConvTranspose2d,
    /// The activation.
    #[module(skip)]
    pub act: Act,
}

impl UpBlock {
    /// `cin → cout` channels, doubling height and width.
    pub fn new(cin: usize, cout: usize, act: Act, device: &Device) -> UpBlock {
        UpBlock {
            deconv: ConvTranspose2dConfig::new([cin, cout], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device),
            act,
        }
    }

    /// The forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.act.forward(self.deconv.forward(x))
    }
}

impl Emit for UpBlock {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        let d = &self.deconv;
        let w = e.weight(scope, "weight", &d.weight.val())?;
        let mut inputs = vec![x.to_string(), w];
        if let Some(b) = &d.bias {
            inputs.push(e.weight(scope, "bias", &b.val())?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let [ph, pw] = d.padding;
        let y = e.op(
            "ConvTranspose",
            &refs,
            &format!("{scope}.deconv"),
            vec![
                ("kernel_shape", ints(&d.kernel_size)),
                ("strides", ints(&d.stride)),
                ("dilations", ints(&d.dilation)),
                ("group", Attr::Int(d.groups as i64)),
                ("pads", ints(&[ph, pw, ph, pw])),
                ("output_padding", ints(&d.padding_out)),
            ],
        );
        Ok(self.act.emit(e, scope, &y))
    }
}

/// A fully connected layer over the last axis.
#[derive(Module, Debug)]
pub struct Dense {
    /// The linear map (weight `[in, out]`).
    pub linear: Linear,
    /// The activation.
    #[module(skip)]
    pub act: Act,
}

impl Dense {
    /// `din → dout`.
    pub fn new(din: usize, dout: usize, act: Act, device: &Device) -> Dense {
        Dense {
            linear: LinearConfig::new(din, dout).init(device),
            act,
        }
    }

    /// The forward pass.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.act.forward(self.linear.forward(x))
    }
}

impl Emit for Dense {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        let w = e.weight(scope, "weight", &self.linear.weight.val())?;
        let mut y = e.op("MatMul", &[x, &w], &format!("{scope}.matmul"), vec![]);
        if let Some(b) = &self.linear.bias {
            let b = e.weight(scope, "bias", &b.val())?;
            y = e.op("Add", &[&y, &b], &format!("{scope}.add"), vec![]);
        }
        Ok(self.act.emit(e, scope, &y))
    }
}

/// A 1×1 `Conv1d`: the same linear map of channels at every grid point, so it works at any
/// resolution.
#[derive(Module, Debug)]
pub struct Pointwise1d {
    /// The convolution.
    pub conv: Conv1d,
}

impl Pointwise1d {
    /// `cin → cout` channels.
    pub fn new(cin: usize, cout: usize, device: &Device) -> Pointwise1d {
        Pointwise1d {
            conv: Conv1dConfig::new(cin, cout, 1)
                .with_padding(PaddingConfig1d::Valid)
                .init(device),
        }
    }

    /// The forward pass on `[batch, cin, length]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.conv.forward(x)
    }
}

impl Emit for Pointwise1d {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        let w = e.weight(scope, "weight", &self.conv.weight.val())?;
        let mut inputs = vec![x.to_string(), w];
        if let Some(b) = &self.conv.bias {
            inputs.push(e.weight(scope, "bias", &b.val())?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(e.op(
            "Conv",
            &refs,
            &format!("{scope}.conv"),
            vec![("kernel_shape", Attr::Ints(vec![1]))],
        ))
    }
}
