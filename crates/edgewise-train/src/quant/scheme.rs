//! Uniform quantizers: weights per output channel (symmetric), activations per tensor (the
//! range taken from calibration data). Both ranges are chosen the same way for every method
//! compared: the clipping that minimizes the squared quantization error, searched on a grid.

pub use edgewise_tasks::aquant::round_at;
use serde::Serialize;

use super::graph::Layer;

/// Bit widths.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Bits {
    /// Bits per weight.
    pub weights: u32,
    /// Bits per activation (each weight layer's input).
    pub activations: u32,
}

impl Bits {
    /// `W{w}A{a}`.
    pub fn label(&self) -> String {
        format!("W{}A{}", self.weights, self.activations)
    }
}

/// The clipping ratios the range search tries (1 = the largest magnitude).
const CLIPS: [f32; 16] = [
    1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25,
];

/// A weight layer's quantizer: a scale per output channel, integers in `[qmin, qmax]`.
#[derive(Clone, Debug)]
pub struct WeightQuant {
    /// Scale of each output channel.
    pub scale: Vec<f32>,
    /// Smallest integer (`−2^(bits−1)`).
    pub qmin: i32,
    /// Largest integer (`2^(bits−1) − 1`).
    pub qmax: i32,
}

impl WeightQuant {
    /// The per-channel scales of `layer` at `bits`, each the clipping of the channel's largest
    /// magnitude that minimizes the squared error of round-to-nearest.
    pub fn fit(layer: &Layer, bits: u32) -> WeightQuant {
        let qmax = (1i32 << (bits - 1)) - 1;
        let qmin = -(1i32 << (bits - 1));
        // A 2-bit grid {−2, −1, 0, 1} puts its unit at the largest magnitude.
        let top = qmax.max(1) as f32;
        let channel = layer.channel_of();
        let c = layer.out_channels();
        let mut members: Vec<Vec<f32>> = vec![vec![]; c];
        for (&w, &k) in layer.values.iter().zip(&channel) {
            members[k].push(w);
        }
        let scale = members
            .iter()
            .map(|ws| {
                let max = ws.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-12);
                best_scale(ws, |clip| (max * clip / top, qmin, qmax)).0
            })
            .collect();
        WeightQuant { scale, qmin, qmax }
    }

    /// The scale of every weight of `layer`, in its row-major order.
    pub fn per_weight(&self, layer: &Layer) -> Vec<f32> {
        layer.channel_of().iter().map(|&k| self.scale[k]).collect()
    }

    /// Round-to-nearest integers of `layer`'s weights.
    pub fn nearest(&self, layer: &Layer) -> Vec<i32> {
        layer
            .values
            .iter()
            .zip(self.per_weight(layer))
            .map(|(&w, s)| round_at(w, s, 0.5, self.qmin, self.qmax))
            .collect()
    }
}

/// An activation quantizer: one scale, integers in `[qmin, qmax]` with `qmax − qmin =
/// 2^bits − 1` (`qmin = 0` for inputs that are never negative).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ActQuant {
    /// The scale.
    pub scale: f32,
    /// Smallest integer.
    pub qmin: i32,
    /// Largest integer.
    pub qmax: i32,
}

impl ActQuant {
    /// The range for `values` (a sample of a layer's input on calibration data) at `bits`.
    pub fn fit(values: &[f32], bits: u32) -> ActQuant {
        let levels = (1i64 << bits) - 1;
        let lo = values.iter().copied().fold(0f32, f32::min);
        let hi = values.iter().copied().fold(0f32, f32::max).max(1e-8);
        let (scale, qmin, qmax) = best_scale(values, |clip| {
            let (l, h) = (lo * clip, hi * clip);
            let s = (h - l) / levels as f32;
            let qmin = (l / s).round() as i64;
            (s, qmin as i32, (qmin + levels) as i32)
        });
        ActQuant { scale, qmin, qmax }
    }
}

/// The grid `(scale, qmin, qmax)` among `grid(clip)` for the clips of [`CLIPS`] whose
/// round-to-nearest has the least squared error on `values`.
fn best_scale(values: &[f32], grid: impl Fn(f32) -> (f32, i32, i32)) -> (f32, i32, i32) {
    let mut best = (f64::INFINITY, grid(1.0));
    for clip in CLIPS {
        let (s, qmin, qmax) = grid(clip);
        let err: f64 = values
            .iter()
            .map(|&x| {
                let d = x - round_at(x, s, 0.5, qmin, qmax) as f32 * s;
                (d * d) as f64
            })
            .sum();
        if err < best.0 {
            best = (err, (s, qmin, qmax));
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::graph::LayerOp;

    fn layer(dims: Vec<usize>, values: Vec<f32>, out_axis: usize) -> Layer {
        Layer {
            node: 0,
            name: "l".into(),
            op: LayerOp::Conv,
            weight: "w".into(),
            dims,
            values,
            out_axis,
        }
    }

    #[test]
    fn activation_ranges_are_unsigned_for_non_negative_inputs() {
        let relu: Vec<f32> = (0..1000).map(|i| (i % 97) as f32 / 10.0).collect();
        let a = ActQuant::fit(&relu, 4);
        assert_eq!((a.qmin, a.qmax), (0, 15));
        let signed: Vec<f32> = relu.iter().map(|v| v - 2.0).collect();
        let b = ActQuant::fit(&signed, 4);
        assert!(b.qmin < 0 && b.qmax > 0, "{b:?}");
        assert_eq!(b.qmax - b.qmin, 15);
        // The error of the chosen clipping is no larger than that of the full range.
        let err = |a: ActQuant| -> f64 {
            relu.iter()
                .map(|&x| {
                    let d = x - round_at(x, a.scale, 0.5, a.qmin, a.qmax) as f32 * a.scale;
                    (d * d) as f64
                })
                .sum()
        };
        let full = ActQuant {
            scale: 9.6 / 15.0,
            qmin: 0,
            qmax: 15,
        };
        assert!(err(a) <= err(full) + 1e-9);
    }

    #[test]
    fn weight_scales_follow_each_output_channel() {
        // Two output channels along axis 0 of a [2, 1, 1, 3] weight, the second 100× larger.
        let l = layer(vec![2, 1, 1, 3], vec![0.1, -0.2, 0.05, 10.0, -20.0, 5.0], 0);
        let q = WeightQuant::fit(&l, 4);
        assert_eq!((q.qmin, q.qmax), (-8, 7));
        assert!(
            (q.scale[1] / q.scale[0] - 100.0).abs() < 1.0,
            "{:?}",
            q.scale
        );
        let ints = q.nearest(&l);
        assert!(ints.iter().all(|&i| (-8..=7).contains(&i)));
        assert_eq!(ints[1], ints[4], "the same weight relative to its channel");
        // Along axis 1 (a [in, out] MatMul weight): columns are channels.
        let m = layer(vec![3, 2], vec![0.1, 10.0, -0.2, -20.0, 0.05, 5.0], 1);
        assert_eq!(m.channel_of(), vec![0, 1, 0, 1, 0, 1]);
        let q = WeightQuant::fit(&m, 2);
        assert_eq!((q.qmin, q.qmax), (-2, 1));
        assert!(q.scale[1] > 50.0 * q.scale[0]);
    }
}
