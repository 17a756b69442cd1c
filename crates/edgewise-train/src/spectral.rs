//! `SpectralConv1d` in burn: the Fourier layer of the Koopman neural operator, trained here and
//! exported as the `ai.edgewise` operator of the same name.
//!
//! Only the lowest `modes` frequencies are kept, so the transforms are written as products with
//! truncated DFT matrices (`L × modes`), which burn differentiates like any matmul and which
//! work at every resolution `L` (the matrices are made for the input's length). The conventions
//! are the operator's (numpy's): `X̂ = rfft(x)` unnormalized, `Ŷ[o,k] = Σ_i X̂[i,k]·W[i,o,k]`,
//! `y = irfft(Ŷ, n = L)`, which reads only the real part of the DC bin (and of the Nyquist bin
//! when it is kept).

use std::f64::consts::TAU;

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::emit::{Emit, EmitError, EmitResult, Emitter};

/// The Fourier layer: `[batch, cin, L] → [batch, cout, L]`.
#[derive(Module, Debug)]
pub struct SpectralConv1d {
    /// Real parts of the complex weights, `[cin, cout, modes]`.
    pub wr: Param<Tensor<3>>,
    /// Imaginary parts, `[cin, cout, modes]`.
    pub wi: Param<Tensor<3>>,
}

impl SpectralConv1d {
    /// Weights uniform in `[0, 1/(cin·cout))`, as in the Fourier neural operator.
    pub fn new(cin: usize, cout: usize, modes: usize, device: &Device) -> SpectralConv1d {
        let scale = 1.0 / (cin * cout) as f64;
        let init = || {
            Param::from_tensor(Tensor::random(
                [cin, cout, modes],
                Distribution::Uniform(0.0, scale),
                device,
            ))
        };
        SpectralConv1d {
            wr: init(),
            wi: init(),
        }
    }

    /// The number of kept modes.
    pub fn modes(&self) -> usize {
        self.wr.val().dims()[2]
    }

    /// The forward pass.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, cin, len] = x.dims();
        let modes = self.modes().min(len / 2 + 1);
        let device = x.device();
        let (fc, fs, ic, is) = dft_matrices(len, modes, &device);
        // X̂ = x·C − i·x·S, [b, cin, modes].
        let flat = x.reshape([b * cin, len]);
        let xr = flat.clone().matmul(fc).reshape([b, cin, 1, modes]);
        let xi = flat.matmul(fs).neg().reshape([b, cin, 1, modes]);
        let cout = self.wr.val().dims()[1];
        let wr = self
            .wr
            .val()
            .slice([0..cin, 0..cout, 0..modes])
            .unsqueeze_dim::<4>(0);
        let wi = self
            .wi
            .val()
            .slice([0..cin, 0..cout, 0..modes])
            .unsqueeze_dim::<4>(0);
        let yr = (xr.clone() * wr.clone() - xi.clone() * wi.clone()).sum_dim(1);
        let yi = (xr * wi + xi * wr).sum_dim(1);
        let yr = yr.reshape([b * cout, modes]);
        let yi = yi.reshape([b * cout, modes]);
        (yr.matmul(ic) + yi.matmul(is)).reshape([b, cout, len])
    }
}

/// Forward `cos`/`sin` (`[len, modes]`) and inverse real/imaginary (`[modes, len]`) matrices
/// of the truncated real DFT, computed in f64.
fn dft_matrices(
    len: usize,
    modes: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<2>, Tensor<2>, Tensor<2>) {
    let angle = |j: usize, k: usize| TAU * ((j * k) % len) as f64 / len as f64;
    let mut fc = vec![0f32; len * modes];
    let mut fs = vec![0f32; len * modes];
    let mut ic = vec![0f32; modes * len];
    let mut is = vec![0f32; modes * len];
    for j in 0..len {
        for k in 0..modes {
            let a = angle(j, k);
            fc[j * modes + k] = a.cos() as f32;
            fs[j * modes + k] = a.sin() as f32;
            // Hermitian weight: DC and Nyquist once, the others twice.
            let w = if k == 0 || 2 * k == len { 1.0 } else { 2.0 } / len as f64;
            ic[k * len + j] = (w * a.cos()) as f32;
            is[k * len + j] = if k == 0 || 2 * k == len {
                0.0
            } else {
                (-w * a.sin()) as f32
            };
        }
    }
    let t = |v: Vec<f32>, r: usize, c: usize| {
        Tensor::<2>::from_data(TensorData::new(v, [r, c]), device)
    };
    (
        t(fc, len, modes),
        t(fs, len, modes),
        t(ic, modes, len),
        t(is, modes, len),
    )
}

impl Emit for SpectralConv1d {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        if self.modes() == 0 {
            return Err(EmitError(format!("'{scope}': no modes")));
        }
        let wr = e.weight(scope, "wr", &self.wr.val())?;
        let wi = e.weight(scope, "wi", &self.wi.val())?;
        Ok(e.edgewise(
            "SpectralConv1d",
            &[x, &wr, &wi],
            &format!("{scope}.spectral"),
            vec![],
        ))
    }
}
