//! The RBNN model: a float first layer, binary convolutions and a binary classifier, one
//! weight set for every task; and how a task's keys become the masks of a batch.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use edgewise_data::glyphs::{CLASSES, Task};
use edgewise_onnx::Attr;

use super::{Config, SIZE};
use crate::binary::{BinaryConv2d, BinaryLinear, Group};
use crate::emit::{EmitResult, Emitter, values};
use crate::layers::{Act, ConvBlock, fold_norm};

/// The reconfigurable binary net (see the module docs).
#[derive(Module, Debug)]
pub struct Rbnn {
    /// The float first layer.
    pub stem: ConvBlock,
    /// The binary convolutions.
    pub convs: Vec<BinaryConv2d>,
    /// The binary classifier.
    pub head: BinaryLinear,
}

/// A classifier of `[batch, 1, 16, 16]` images trained by [`super::fit`].
pub trait Classifier: Module {
    /// The `[batch, 10]` logits of a batch made of consecutive `groups`.
    fn logits(&self, x: Tensor<4>, groups: &[Group]) -> Tensor<2>;
}

impl Rbnn {
    /// A freshly initialized net.
    pub fn new(config: &Config, device: &Device) -> Rbnn {
        let [c1, c2] = config.channels;
        Rbnn {
            stem: ConvBlock::new(1, config.stem, 3, 1, true, Act::Identity, device),
            convs: vec![
                BinaryConv2d::new(config.stem, c1, 3, 1, 2, device),
                BinaryConv2d::new(c1, c2, 3, 1, 2, device),
            ],
            head: BinaryLinear::new(config.features(), CLASSES, device),
        }
    }

    /// Taps per output of each binary layer (the key lengths in bits).
    pub fn taps(&self) -> Vec<usize> {
        self.convs
            .iter()
            .map(BinaryConv2d::taps)
            .chain([self.head.shape()[1]])
            .collect()
    }

    /// The float first layer. In inference (a device without autodiff) it convolves with the
    /// batch-norm-folded weights and bias the export writes, so that burn and the exported
    /// model differ only by the order of a 9-term sum.
    pub fn stem_forward(&self, x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        if device.is_autodiff() {
            return self.stem.forward(x);
        }
        let conv = &self.stem.conv;
        let dims = conv.weight.val().dims();
        let bias = conv.bias.as_ref().and_then(|b| values(&b.val()).ok());
        let Ok((w, b)) = values(&conv.weight.val())
            .and_then(|w| fold_norm(&w, bias, dims[0], self.stem.norm.as_ref()))
        else {
            // Reading the weights back cannot fail on the CPU; the unfolded layer is the same
            // function anyway.
            return self.stem.forward(x);
        };
        let w = Tensor::<4>::from_data(TensorData::new(w, dims), &device);
        let b = Tensor::<1>::from_data(TensorData::new(b, [dims[0]]), &device);
        let p = dims[2] / 2;
        conv2d(
            x,
            w,
            Some(b),
            ConvOptions::new(conv.stride, [p, p], conv.dilation, conv.groups),
        )
    }

    /// The logits of `[batch, 1, 16, 16]` images made of consecutive `groups`.
    pub fn forward(&self, x: Tensor<4>, groups: &[Group]) -> Tensor<2> {
        let mut h = self.stem_forward(x);
        for (l, c) in self.convs.iter().enumerate() {
            h = c.forward(h, groups, l);
        }
        let [n, c, hh, ww] = h.dims();
        self.head
            .forward(h.reshape([n, c * hh * ww]), groups, self.convs.len())
    }

    /// Binary weights and float parameters at inference (folded batch norms), per net.
    pub fn weight_counts(config: &Config) -> (usize, usize) {
        let [c1, c2] = config.channels;
        let binary = c1 * config.taps()[0] + c2 * config.taps()[1] + CLASSES * config.features();
        let float = (config.stem * 9 + config.stem) + 2 * c1 + 2 * c2 + 2 * CLASSES;
        (binary, float)
    }

    /// Operations per image, multiply and add counted apart: the float convolution's
    /// multiply-adds and, counted the same way, the binary ones (an XNOR and a popcount step
    /// each).
    pub fn flops(config: &Config) -> u64 {
        let s = SIZE as u64;
        let [c1, c2] = config.channels.map(|c| c as u64);
        let [k0, k1, k2] = config.taps().map(|k| k as u64);
        let macs = 9 * config.stem as u64 * s * s
            + c1 * k0 * s * s
            + c2 * k1 * (s / 2) * (s / 2)
            + CLASSES as u64 * k2;
        2 * macs
    }

    /// Writes the net reading `x`; `keys[l]` names the key value of binary layer `l`.
    pub fn emit(&self, e: &mut Emitter, x: &str, keys: &[String]) -> EmitResult<String> {
        use crate::emit::Emit;
        let key = |l: usize| keys.get(l).map(String::as_str);
        let mut h = self.stem.emit(e, "stem", x)?;
        for (l, c) in self.convs.iter().enumerate() {
            h = c.emit(e, &format!("binary.{l}"), &h, key(l))?;
        }
        let flat = e.op("Flatten", &[&h], "flatten", vec![("axis", Attr::Int(1))]);
        self.head.emit(e, "head", &flat, key(self.convs.len()))
    }
}

impl Classifier for Rbnn {
    fn logits(&self, x: Tensor<4>, groups: &[Group]) -> Tensor<2> {
        self.forward(x, groups)
    }
}

/// The keys of `task` on the device with root key `root`, one per binary layer.
pub fn task_keys(task: Task, root: u64, taps: &[usize]) -> Vec<Vec<u32>> {
    edgewise_tasks::rbnn::keys(task.name(), root, taps)
}

/// How a net reads the tasks: under each task's keys from `root` (RBNN), or without keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Keying {
    /// Keys of the task from this root key.
    Root(u64),
    /// No keys.
    None,
}

/// A group of `len` samples of `task` under `keying`.
pub fn group(task: Task, len: usize, keying: Keying, taps: &[usize], device: &Device) -> Group {
    match keying {
        Keying::Root(root) => Group::keyed(len, &task_keys(task, root, taps), taps, device),
        Keying::None => Group::plain(len),
    }
}
