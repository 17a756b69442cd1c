//! The multi-exit net: three convolutional blocks with a classifier after each.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use edgewise_data::graded::{CLASSES, SIDE};
use edgewise_onnx::Attr;

use super::Config;
use crate::emit::{Emit, EmitResult, Emitter};
use crate::layers::{Act, ConvBlock, Dense};

/// Convolutions `3×3` with batch norm and ReLU. Block 0 (at 16×16): `1 → c₀ → c₀`, then a
/// 2×2 max-pool; block 1 (8×8): `c₀ → c₁ → c₁`, pool; block 2 (4×4): `c₁ → c₂ → c₂`. Exit `k`
/// reads block `k`'s output, max-pooled to 4×4 where it is larger, flattened, through one
/// fully connected layer to the 40 logits; exit 2 is the full model's classifier.
#[derive(Module, Debug)]
pub struct MultiExit {
    /// The convolutions of each block.
    pub blocks: Vec<Vec<ConvBlock>>,
    /// The classifier after each block.
    pub exits: Vec<Dense>,
}

/// 2×2 max-pooling with stride 2.
fn pool(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([2, 2]))
}

fn emit_pool(e: &mut Emitter, scope: &str, x: &str) -> String {
    e.op(
        "MaxPool",
        &[x],
        &format!("{scope}.pool"),
        vec![
            ("kernel_shape", Attr::Ints(vec![2, 2])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    )
}

impl MultiExit {
    /// A freshly initialized net.
    pub fn new(config: &Config, device: &Device) -> MultiExit {
        let [c0, c1, c2] = config.channels;
        let relu = Act::Relu;
        let block = |cin: usize, cout: usize| {
            vec![
                ConvBlock::new(cin, cout, 3, 1, true, relu, device),
                ConvBlock::new(cout, cout, 3, 1, true, relu, device),
            ]
        };
        let cells = (SIDE / 4) * (SIDE / 4);
        MultiExit {
            blocks: vec![block(1, c0), block(c0, c1), block(c1, c2)],
            exits: [c0, c1, c2]
                .iter()
                .map(|&c| Dense::new(c * cells, CLASSES, Act::Identity, device))
                .collect(),
        }
    }

    /// The logits `[batch, 40]` of every exit, in order.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        self.features(x)
            .into_iter()
            .zip(&self.exits)
            .map(|(f, exit)| exit.forward(f))
            .collect()
    }

    /// What each exit reads, in order: its block's output max-pooled to 4×4 and flattened,
    /// `[batch, cₖ·16]`.
    pub fn features(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        let mut h = x;
        let mut out = Vec::with_capacity(self.blocks.len());
        for (k, block) in self.blocks.iter().enumerate() {
            for conv in block {
                h = conv.forward(h);
            }
            // Blocks 0 and 1 end with a pool; exit 0 pools once more to reach 4×4.
            if k < 2 {
                h = pool(h);
            }
            let at4 = if k == 0 { pool(h.clone()) } else { h.clone() };
            out.push(at4.flatten::<2>(1, 3));
        }
        out
    }

    /// Multiply-adds per image up to and including each exit (cumulative).
    pub fn macs(config: &Config) -> [u64; 3] {
        let [c0, c1, c2] = config.channels.map(|c| c as u64);
        let s = SIDE as u64;
        let conv = |cin: u64, cout: u64, side: u64| 9 * cin * cout * side * side;
        let head = |c: u64| c * (s / 4) * (s / 4) * CLASSES as u64;
        let b0 = conv(1, c0, s) + conv(c0, c0, s);
        let b1 = conv(c0, c1, s / 2) + conv(c1, c1, s / 2);
        let b2 = conv(c1, c2, s / 4) + conv(c2, c2, s / 4);
        [
            b0 + head(c0),
            b0 + head(c0) + b1 + head(c1),
            b0 + head(c0) + b1 + head(c1) + b2 + head(c2),
        ]
    }

    /// Writes the net reading `x`; returns the value names of the exits' logits.
    pub fn emit(&self, e: &mut Emitter, x: &str) -> EmitResult<Vec<String>> {
        let mut h = x.to_string();
        let mut out = vec![];
        for (k, (block, exit)) in self.blocks.iter().zip(&self.exits).enumerate() {
            for (i, conv) in block.iter().enumerate() {
                h = conv.emit(e, &format!("block{k}.{i}"), &h)?;
            }
            if k < 2 {
                h = emit_pool(e, &format!("block{k}"), &h);
            }
            let at4 = if k == 0 {
                emit_pool(e, "exit0", &h)
            } else {
                h.clone()
            };
            let flat = e.op(
                "Flatten",
                &[&at4],
                &format!("exit{k}.flatten"),
                vec![("axis", Attr::Int(1))],
            );
            out.push(exit.emit(e, &format!("exit{k}"), &flat)?);
        }
        Ok(out)
    }
}
