//! Binary layers in burn, exported as the `BinaryConv2d` and `BinaryGemm` operators
//! (`crates/edgewise-ops/src/ops/binary.rs`, "## Schema").
//!
//! A binary layer keeps float *latent* weights `W` for training and uses their signs. Its input
//! is binarized by sign too (`x ≥ 0 → +1`, the operators' convention), so its products are
//! integers: `dot = Σ sign(x)·sign(w)·m`, where `m = ±1` per tap is an optional task mask (RBNN:
//! the signs of a key, [`edgewise_tasks::rbnn::signs`], which the operators apply as `W XOR
//! key`). Both signs pass gradients straight through: the activations' where `|x| ≤ 1`, the
//! latent weights' everywhere (their magnitude is only the inertia of the sign). The output is
//! `α·dot` with `α = mean|W|` per output channel (XNOR-Net), followed by
//!
//! - [`BinaryConv2d`]: a batch norm and an optional max-pool. At export the batch norm folds into
//!   the operator's per-channel `scale` and `bias`; in inference mode (a device without
//!   autodiff) the forward pass uses exactly those folded `f32` values, `scale·dot + bias`, the
//!   operator's formula, so burn and the operator agree to the bit given the same signs;
//! - [`BinaryLinear`]: a float bias (`scale = α`).
//!
//! A batch may mix samples of several tasks: [`Group`]s of consecutive samples share one set
//! of masks, the products are taken per group and concatenated before the (shared) batch norm.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use edgewise_onnx::Attr;

use crate::emit::{EmitError, EmitResult, Emitter, values};

/// `+1` where `x ≥ 0`, `−1` elsewhere, exactly; no gradient.
pub fn sign<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.greater_equal_elem(0.0).float() * 2.0 - 1.0
}

/// [`sign`] forward; backward passes the gradient where `|x| ≤ 1` (the straight-through
/// estimator of binarized activations). The forward value is exactly `±1`: the gradient path
/// adds `c − c` (`c = clamp(x, −1, 1)`), which is 0 exactly.
pub fn sign_ste<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !x.device().is_autodiff() {
        return sign(x);
    }
    let s = sign(x.clone().detach());
    let c = x.clamp(-1.0, 1.0);
    s + (c.clone() - c.detach())
}

/// [`sign`] forward; backward passes the gradient unchanged (latent weights).
pub fn sign_pass<const D: usize>(w: Tensor<D>) -> Tensor<D> {
    if !w.device().is_autodiff() {
        return sign(w);
    }
    let s = sign(w.clone().detach());
    s + (w.clone() - w.detach())
}

/// Packs the signs of `rows × taps` latent weights (row-major) the operators' way: bit `k % 32`
/// of word `k / 32` of a row is set ⇔ `w ≥ 0` (weight `+1`); padding bits are 0.
pub fn pack_signs(latent: &[f32], rows: usize, taps: usize) -> EmitResult<Vec<u32>> {
    if latent.len() != rows * taps {
        return Err(EmitError(format!(
            "packing {} latent weights as {rows} rows of {taps} taps",
            latent.len()
        )));
    }
    let words = taps.div_ceil(32);
    let mut out = vec![0u32; rows * words];
    for (r, row) in latent.chunks(taps.max(1)).enumerate().take(rows) {
        for (k, &w) in row.iter().enumerate() {
            if w >= 0.0 {
                out[r * words + k / 32] |= 1 << (k % 32);
            }
        }
    }
    Ok(out)
}

/// Consecutive samples of a batch that share one task's masks: `masks[l]` holds the `±1` sign
/// of every tap of binary layer `l` (`None`: no masks, all `+1`).
#[derive(Clone, Debug)]
pub struct Group {
    /// Number of samples.
    pub len: usize,
    /// One `[taps]` mask per binary layer, or none.
    pub masks: Option<Vec<Tensor<1>>>,
}

impl Group {
    /// `len` samples without masks.
    pub fn plain(len: usize) -> Group {
        Group { len, masks: None }
    }

    /// `len` samples under the masks of `keys` (one key per layer, `taps[l]` taps each).
    pub fn keyed(len: usize, keys: &[Vec<u32>], taps: &[usize], device: &Device) -> Group {
        let masks = keys
            .iter()
            .zip(taps)
            .map(|(k, &t)| {
                let s = edgewise_tasks::rbnn::signs(k, t);
                Tensor::from_data(TensorData::new(s, [t]), device)
            })
            .collect();
        Group {
            len,
            masks: Some(masks),
        }
    }

    fn mask(&self, layer: usize) -> Option<Tensor<1>> {
        self.masks.as_ref().and_then(|m| m.get(layer).cloned())
    }
}

/// Applies `f(x_g, mask_g)` to each group's rows of `x` (along dim 0) and concatenates.
fn per_group<const D: usize, const E: usize>(
    x: Tensor<D>,
    groups: &[Group],
    layer: usize,
    f: impl Fn(Tensor<D>, Option<Tensor<1>>) -> Tensor<E>,
) -> Tensor<E> {
    if let [g] = groups {
        return f(x, g.mask(layer));
    }
    let mut start = 0;
    let mut parts = vec![];
    for g in groups.iter().filter(|g| g.len > 0) {
        parts.push(f(x.clone().narrow(0, start, g.len), g.mask(layer)));
        start += g.len;
    }
    Tensor::cat(parts, 0)
}

/// Latent weights uniform in `±√(3/taps)` (unit variance of a `taps`-long ±1 dot product after
/// scaling by `α`).
fn latent<const D: usize>(shape: [usize; D], taps: usize, device: &Device) -> Param<Tensor<D>> {
    let a = (3.0 / taps as f64).sqrt();
    Param::from_tensor(Tensor::random(shape, Distribution::Uniform(-a, a), device))
}

/// A binary convolution (square kernel, symmetric padding) → batch norm → optional max-pool.
#[derive(Module, Debug)]
pub struct BinaryConv2d {
    /// Latent weights `[cout, cin, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// Batch norm over the output channels (folded into `scale`, `bias` at export).
    pub norm: BatchNorm,
    /// Stride.
    #[module(skip)]
    pub stride: usize,
    /// Padding on every side.
    #[module(skip)]
    pub pad: usize,
    /// Max-pool window and stride after the batch norm (1: none).
    #[module(skip)]
    pub pool: usize,
}

impl BinaryConv2d {
    /// `cin → cout` channels, `k × k` kernel, `stride`, padding `k / 2`, then a `pool × pool`
    /// max-pool.
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pool: usize,
        device: &Device,
    ) -> BinaryConv2d {
        BinaryConv2d {
            weight: latent([cout, cin, k, k], cin * k * k, device),
            norm: BatchNormConfig::new(cout).init(device),
            stride,
            pad: k / 2,
            pool,
        }
    }

    /// Output channels, input channels, kernel side.
    pub fn shape(&self) -> [usize; 3] {
        let [m, c, k, _] = self.weight.val().dims();
        [m, c, k]
    }

    /// Taps per output channel, `cin·k·k`.
    pub fn taps(&self) -> usize {
        let [_, c, k] = self.shape();
        c * k * k
    }

    /// `α = mean|W|` per output channel, `[cout]`.
    pub fn alpha(&self) -> Tensor<1> {
        let [m, ..] = self.shape();
        let taps = self.taps();
        self.weight
            .val()
            .abs()
            .reshape([m, taps])
            .mean_dim(1)
            .reshape([m])
    }

    /// The integer products `conv(sign(x), sign(W)·mask)` of one group.
    pub fn products(&self, x: Tensor<4>, mask: Option<Tensor<1>>) -> Tensor<4> {
        let [_, c, k] = self.shape();
        let mut w = sign_pass(self.weight.val());
        if let Some(mask) = mask {
            w = w * mask.reshape([1, c, k, k]);
        }
        conv2d(
            sign_ste(x),
            w,
            None,
            ConvOptions::new([self.stride, self.stride], [self.pad, self.pad], [1, 1], 1),
        )
    }

    /// The per-channel `scale` and `bias` of inference, `[cout]` each: `α·g` and `β − μ·g` with
    /// `g = γ/√(σ²+ε)` from the running statistics (f32 tensor arithmetic: the inference forward
    /// pass and the export read the very same values).
    pub fn folded(&self) -> (Tensor<1>, Tensor<1>) {
        let n = &self.norm;
        let g = n.gamma.val() / (n.running_var.value() + n.epsilon).sqrt();
        let scale = self.alpha() * g.clone();
        let bias = n.beta.val() - n.running_mean.value() * g;
        (scale, bias)
    }

    /// The layer on a batch of consecutive `groups`: per-group products, then `α·dot` → batch
    /// norm (training device) or the folded `scale·dot + bias` (inference), then the max-pool.
    pub fn forward(&self, x: Tensor<4>, groups: &[Group], layer: usize) -> Tensor<4> {
        let dots = per_group(x, groups, layer, |x, m| self.products(x, m));
        let [m, ..] = self.shape();
        let device = dots.device();
        let y = if device.is_autodiff() {
            self.norm.forward(dots * self.alpha().reshape([1, m, 1, 1]))
        } else {
            let (scale, bias) = self.folded();
            dots * scale.reshape([1, m, 1, 1]) + bias.reshape([1, m, 1, 1])
        };
        if self.pool > 1 {
            max_pool2d(y, MaxPoolOptions::new([self.pool, self.pool]))
        } else {
            y
        }
    }

    /// The packed signs of the latent weights, `[cout, ceil(taps/32)]` row-major.
    pub fn packed(&self) -> EmitResult<Vec<u32>> {
        let [m, ..] = self.shape();
        pack_signs(&values(&self.weight.val())?, m, self.taps())
    }

    /// Writes `BinaryConv2d(x, W, scale, bias[, key])` and the max-pool; `key` names the graph
    /// value holding this layer's key.
    pub fn emit(
        &self,
        e: &mut Emitter,
        scope: &str,
        x: &str,
        key: Option<&str>,
    ) -> EmitResult<String> {
        let [m, _, k] = self.shape();
        let words = self.taps().div_ceil(32);
        let (scale, bias) = self.folded();
        let w = e.weight_u32(
            scope,
            "weight",
            &[m, words],
            &self.packed()?,
            m * self.taps(),
        )?;
        let s = e.weight(scope, "scale", &scale)?;
        let b = e.weight(scope, "bias", &bias)?;
        let mut inputs = vec![x, w.as_str(), s.as_str(), b.as_str()];
        inputs.extend(key);
        let ints = |v: &[usize]| Attr::Ints(v.iter().map(|&x| x as i64).collect());
        let p = self.pad;
        let y = e.edgewise(
            "BinaryConv2d",
            &inputs,
            &format!("{scope}.binary_conv"),
            vec![
                ("kernel_shape", ints(&[k, k])),
                ("strides", ints(&[self.stride, self.stride])),
                ("pads", ints(&[p, p, p, p])),
                ("dilations", ints(&[1, 1])),
            ],
        );
        if self.pool <= 1 {
            return Ok(y);
        }
        Ok(e.op(
            "MaxPool",
            &[&y],
            &format!("{scope}.pool"),
            vec![
                ("kernel_shape", ints(&[self.pool, self.pool])),
                ("strides", ints(&[self.pool, self.pool])),
            ],
        ))
    }
}

/// A binary fully connected layer: `α·(sign(x)·(sign(W)·mask)ᵀ) + bias`.
#[derive(Module, Debug)]
pub struct BinaryLinear {
    /// Latent weights `[out, in]` (the operator's row layout).
    pub weight: Param<Tensor<2>>,
    /// The float bias `[out]`.
    pub bias: Param<Tensor<1>>,
}

impl BinaryLinear {
    /// `din → dout`.
    pub fn new(din: usize, dout: usize, device: &Device) -> BinaryLinear {
        BinaryLinear {
            weight: latent([dout, din], din, device),
            bias: Param::from_tensor(Tensor::zeros([dout], device)),
        }
    }

    /// Outputs and taps (inputs).
    pub fn shape(&self) -> [usize; 2] {
        self.weight.val().dims()
    }

    /// `α = mean|W|` per output, `[out]` (the operator's `scale`).
    pub fn alpha(&self) -> Tensor<1> {
        let [n, _] = self.shape();
        self.weight.val().abs().mean_dim(1).reshape([n])
    }

    /// The layer on `[batch, in]` rows of consecutive `groups`.
    pub fn forward(&self, x: Tensor<2>, groups: &[Group], layer: usize) -> Tensor<2> {
        let [n, k] = self.shape();
        let dots = per_group(x, groups, layer, |x, mask| {
            let mut w = sign_pass(self.weight.val());
            if let Some(mask) = mask {
                w = w * mask.reshape([1, k]);
            }
            sign_ste(x).matmul(w.transpose())
        });
        dots * self.alpha().reshape([1, n]) + self.bias.val().reshape([1, n])
    }

    /// The packed signs of the latent weights, `[out, ceil(in/32)]` row-major.
    pub fn packed(&self) -> EmitResult<Vec<u32>> {
        let [n, k] = self.shape();
        pack_signs(&values(&self.weight.val())?, n, k)
    }

    /// Writes `BinaryGemm(x, W, scale, bias[, key])`.
    pub fn emit(
        &self,
        e: &mut Emitter,
        scope: &str,
        x: &str,
        key: Option<&str>,
    ) -> EmitResult<String> {
        let [n, k] = self.shape();
        let w = e.weight_u32(
            scope,
            "weight",
            &[n, k.div_ceil(32)],
            &self.packed()?,
            n * k,
        )?;
        let s = e.weight(scope, "scale", &self.alpha())?;
        let b = e.weight(scope, "bias", &self.bias.val())?;
        let mut inputs = vec![x, w.as_str(), s.as_str(), b.as_str()];
        inputs.extend(key);
        Ok(e.edgewise(
            "BinaryGemm",
            &inputs,
            &format!("{scope}.binary_gemm"),
            vec![],
        ))
    }
}
