//! The catalogue CNNs that quantization and pruning take: each with its calibration images (from its own
//! generator, a seed apart from its training and test sets), the outputs the quantized model
//! must reproduce, and its own test metric.
//!
//! `kno` and `rbnn` are not among them: `kno`'s layers are spectral convolutions (an edgewise
//! operator) and `rbnn`'s weights are already single bits.

use anyhow::{Result, bail};
use burn::prelude::*;
use edgewise_data::graded::{self, SIDE};
use edgewise_data::textures::{self, Family};

use crate::quant::{Graph, Hook};
use crate::run::TrainOptions;
use crate::systems::{defect, exitdoor, multiexit, to_tensor};

/// A catalogue CNN that quantization and pruning take.
pub struct Target {
    /// Its catalogue id (`onnx/<id>.onnx`).
    pub id: &'static str,
    /// The outputs the quantized model is fitted to reproduce.
    pub outputs: &'static [&'static str],
    /// The test metric, higher is better.
    pub metric: &'static str,
    /// One input's `[c, h, w]`.
    pub item: [usize; 3],
    /// Calibration images per batch.
    pub batch: usize,
    /// Learning steps of the learned methods.
    pub steps: usize,
    images: fn(usize, u64) -> Result<Vec<f32>>,
    evaluate: fn(&Graph, &dyn Hook, bool) -> Result<f64>,
}

/// Seed offset of the calibration sets ("cali").
const CALIBRATION: u64 = 0x6361_6c69;

fn glyphs(n: usize, seed: u64) -> Result<Vec<f32>> {
    Ok(graded::split(n, seed ^ CALIBRATION)
        .map_err(anyhow::Error::msg)?
        .images)
}

/// Accuracy of `logits` on the glyph test set of seed 0 (multiexit's and exitdoor's).
fn glyph_accuracy(graph: &Graph, hook: &dyn Hook, quick: bool) -> Result<f64> {
    let n = if quick { 200 } else { 4_000 };
    let test = graded::split(n, 0x7465_7374).map_err(anyhow::Error::msg)?;
    let device = Device::flex();
    let mut logits = Vec::with_capacity(n * graded::CLASSES);
    for start in (0..n).step_by(500) {
        let end = (start + 500).min(n);
        let x = to_tensor(
            (start..end).map(|i| multiexit::image(&test, i)),
            [1, SIDE, SIDE],
            &device,
        );
        logits.extend(graph.forward(x, &["logits"], hook)?[0].to_vec()?);
    }
    Ok(multiexit::accuracy(&logits, &test.labels))
}

fn textures_clean(n: usize, seed: u64) -> Result<Vec<f32>> {
    Ok(
        textures::clean_set(&Family::ALL, n, defect::SIZE, seed ^ CALIBRATION)
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .flat_map(|s| s.image)
            .collect(),
    )
}

/// Pixel AUROC (residual `1 − SSIM`) on defect's test set of seed 0.
fn defect_auroc(graph: &Graph, hook: &dyn Hook, quick: bool) -> Result<f64> {
    let n = if quick { 16 } else { 200 };
    let test = textures::test_set(&Family::ALL, n, defect::SIZE, 0.5, 0x7e57)
        .map_err(anyhow::Error::msg)?;
    let device = Device::flex();
    let mut maps = vec![];
    for chunk in test.chunks(32) {
        let x = to_tensor(
            chunk.iter().map(|s| s.image.as_slice()),
            [1, defect::SIZE, defect::SIZE],
            &device,
        );
        let recon = match graph.forward(x.clone(), &["recon"], hook)?.remove(0) {
            crate::quant::Value::D4(t) => t,
            _ => bail!("defect's recon is not an image"),
        };
        maps.extend(defect::anomaly_maps(x, recon, defect::Loss::SsimL1)?);
    }
    Ok(defect::scores(&test, maps).0)
}

/// The quantizable CNNs, in the catalogue's order.
pub static TARGETS: [Target; 3] = [
    Target {
        id: "defect",
        outputs: &["recon"],
        metric: "pixel AUROC",
        item: [1, defect::SIZE, defect::SIZE],
        batch: 16,
        steps: 250,
        images: textures_clean,
        evaluate: defect_auroc,
    },
    glyph_classifier("multiexit"),
    glyph_classifier("exitdoor"),
];

/// A classifier of the 40-class graded glyphs with `multiexit`'s three exits.
const fn glyph_classifier(id: &'static str) -> Target {
    Target {
        id,
        outputs: &["exit0", "exit1", "logits"],
        metric: "accuracy",
        item: [1, SIDE, SIDE],
        batch: 64,
        steps: 500,
        images: glyphs,
        evaluate: glyph_accuracy,
    }
}

/// The target `id`, or an error naming those there are.
pub fn find(id: &str) -> Result<&'static Target> {
    match TARGETS.iter().find(|t| t.id == id) {
        Some(t) => Ok(t),
        None => bail!(
            "'{id}' is not a CNN that quantization and pruning take: they take {} (kno's \
             spectral layers are an edgewise operator, rbnn's weights are already single bits)",
            TARGETS.iter().map(|t| t.id).collect::<Vec<_>>().join(", ")
        ),
    }
}

impl Target {
    /// The trained float model: the shipped `onnx/<id>.onnx`, or a quick-trained one when
    /// `options.quick`.
    pub fn model(&self, options: &TrainOptions) -> Result<Vec<u8>> {
        if !options.quick {
            return super::source_model(std::path::Path::new("onnx"), self.id);
        }
        Ok(match self.id {
            "defect" => defect::parity(options)?.bytes,
            "exitdoor" => exitdoor::parity(options)?.bytes,
            _ => multiexit::parity(options)?.bytes,
        })
    }

    /// `batches` calibration batches drawn from `seed`, on `device`.
    pub fn calibration(
        &self,
        batches: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Vec<Tensor<4>>> {
        let per: usize = self.item.iter().product();
        let images = (self.images)(batches * self.batch, seed)?;
        Ok(images
            .chunks(per * self.batch)
            .map(|chunk| to_tensor(chunk.chunks(per), self.item, device))
            .collect())
    }

    /// The metric of `graph` computed through `hook` (the full test set, or a small one when
    /// `quick`).
    pub fn evaluate(&self, graph: &Graph, hook: &dyn Hook, quick: bool) -> Result<f64> {
        (self.evaluate)(graph, hook, quick)
    }
}
