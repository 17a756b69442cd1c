//! The SSIM map in burn, with the `SsimMap` operator's exact definition (Gaussian window,
//! valid region), so a loss trained here and the operator run in the browser agree.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use edgewise_onnx::Attr;

use crate::emit::Emitter;

/// SSIM's parameters; the defaults are the operator's (window 11, σ 1.5, range 1, k1 0.01,
/// k2 0.03).
#[derive(Clone, Copy, Debug)]
pub struct Ssim {
    /// Window side (odd).
    pub window: usize,
    /// The Gaussian's standard deviation.
    pub sigma: f64,
    /// The dynamic range of the values.
    pub data_range: f64,
    /// Stabilizer of the luminance term.
    pub k1: f64,
    /// Stabilizer of the contrast-structure term.
    pub k2: f64,
}

impl Default for Ssim {
    fn default() -> Self {
        Ssim {
            window: 11,
            sigma: 1.5,
            data_range: 1.0,
            k1: 0.01,
            k2: 0.03,
        }
    }
}

impl Ssim {
    /// The same parameters with another window (and σ).
    pub fn with_window(window: usize, sigma: f64) -> Ssim {
        Ssim {
            window,
            sigma,
            ..Ssim::default()
        }
    }

    /// The normalized 2-D window `g ⊗ g` as a `[1, 1, w, w]` kernel.
    fn kernel(&self, device: &Device) -> Tensor<4> {
        let w = self.window;
        let r = (w / 2) as f64;
        let g: Vec<f64> = (0..w)
            .map(|i| (-((i as f64 - r).powi(2)) / (2.0 * self.sigma * self.sigma)).exp())
            .collect();
        let s: f64 = g.iter().sum();
        let k: Vec<f32> = (0..w * w)
            .map(|i| (g[i / w] * g[i % w] / (s * s)) as f32)
            .collect();
        Tensor::from_data(TensorData::new(k, [1, 1, w, w]), device)
    }

    /// The SSIM map of `x` and `y` (`[n, c, h, w]`), `[n, c, h − w + 1, w − w + 1]`.
    pub fn map(&self, x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let k = self.kernel(&x.device());
        let filt = |v: Tensor<4>| {
            conv2d(
                v.reshape([n * c, 1, h, w]),
                k.clone(),
                None,
                ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            )
        };
        let (mx, my) = (filt(x.clone()), filt(y.clone()));
        let xx = filt(x.clone() * x.clone());
        let yy = filt(y.clone() * y.clone());
        let xy = filt(x * y);
        let c1 = (self.k1 * self.data_range).powi(2);
        let c2 = (self.k2 * self.data_range).powi(2);
        let (mx2, my2, mxy) = (mx.clone() * mx.clone(), my.clone() * my.clone(), mx * my);
        let sx = xx - mx2.clone();
        let sy = yy - my2.clone();
        let sxy = xy - mxy.clone();
        let num = (mxy * 2.0 + c1) * (sxy * 2.0 + c2);
        let den = (mx2 + my2 + c1) * (sx + sy + c2);
        let s = num / den;
        let [_, _, oh, ow] = s.dims();
        s.reshape([n, c, oh, ow])
    }

    /// Writes an `SsimMap` node comparing `x` and `y`.
    pub fn emit(&self, e: &mut Emitter, x: &str, y: &str, out: &str) -> String {
        e.edgewise(
            "SsimMap",
            &[x, y],
            out,
            vec![
                ("window", Attr::Int(self.window as i64)),
                ("sigma", Attr::Float(self.sigma as f32)),
                ("data_range", Attr::Float(self.data_range as f32)),
                ("k1", Attr::Float(self.k1 as f32)),
                ("k2", Attr::Float(self.k2 as f32)),
            ],
        )
    }
}
