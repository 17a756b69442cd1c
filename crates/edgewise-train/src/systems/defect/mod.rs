//! Defect detection by reconstruction (Bergmann et al., "Improving unsupervised defect
//! segmentation by applying structural similarity to autoencoders").
//!
//! A small fully convolutional autoencoder is trained only on defect-free textures. At test
//! time it cannot reproduce what it never saw, so the residual between an image and its
//! reconstruction marks the defects. The paper's claim: an SSIM-based loss and residual find
//! defects better than the per-pixel L2 loss. Here: loss `0.85·(1 − SSIM) + 0.15·L1` against the
//! same net trained with L2, same data and budget; residual `1 − SSIM` (ours) against the squared
//! difference (L2 baseline); pixel and image AUROC on textures with synthesized defects.
//!
//! Export: input `image` `[batch, 1, 64, 64]`; outputs `recon` (the reconstruction) and `ssim`
//! (the `SsimMap` of image and reconstruction, `[batch, 1, 58, 58]`), from which the task helper
//! makes the heatmap, the mask and the boxes.

mod reproduce;

use anyhow::Result;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use edgewise_data::textures::{self, Family};
use serde::Serialize;
use serde_json::json;

use crate::emit::{Emit, EmitResult, Emitter};
use crate::export::{Entry, Signature};
use crate::layers::{Act, ConvBlock, UpBlock};
use crate::metrics::auroc;
use crate::run::{History, Run, TrainOptions};
use crate::ssim::Ssim;
use crate::systems::{Parity, Trained, batches, to_tensor};

pub use reproduce::{pixel_auroc_per_family, reproduce};

/// The system's name.
pub const NAME: &str = "defect";
/// Image side.
pub const SIZE: usize = 64;
/// The SSIM window of the loss, the residual and the exported `SsimMap`.
pub const WINDOW: usize = 7;

/// Which loss trains the autoencoder.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub enum Loss {
    /// `0.85·(1 − SSIM) + 0.15·L1` (ours).
    SsimL1,
    /// Mean squared error (the paper's baseline).
    L2,
}

/// Training configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Training images (defect-free) per epoch.
    pub train_images: usize,
    /// Test images (half with defects).
    pub test_images: usize,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// The loss.
    pub loss: Loss,
}

impl Config {
    /// The default configuration, or the seconds-long one for CI.
    pub fn new(options: &TrainOptions, loss: Loss) -> Config {
        let (train_images, test_images, epochs) = if options.quick {
            (64, 16, 1)
        } else {
            (2048, 200, 12)
        };
        Config {
            train_images,
            test_images,
            epochs: options.epochs.unwrap_or(epochs),
            batch: 16,
            lr: 2e-3,
            loss,
        }
    }
}

/// The autoencoder: three stride-2 convolutions to 8×8, a 1×1 bottleneck of 8 channels, and
/// three transposed convolutions back.
#[derive(Module, Debug)]
pub struct Autoencoder {
    enc: Vec<ConvBlock>,
    bottleneck: ConvBlock,
    expand: ConvBlock,
    dec: Vec<UpBlock>,
    head: ConvBlock,
}

impl Autoencoder {
    /// A freshly initialized net.
    pub fn new(device: &Device) -> Autoencoder {
        let a = Act::LeakyRelu(0.2);
        Autoencoder {
            enc: vec![
                ConvBlock::new(1, 16, 3, 2, true, a, device),
                ConvBlock::new(16, 32, 3, 2, true, a, device),
                ConvBlock::new(32, 64, 3, 2, true, a, device),
            ],
            bottleneck: ConvBlock::new(64, 8, 1, 1, true, a, device),
            expand: ConvBlock::new(8, 64, 1, 1, true, a, device),
            dec: vec![
                UpBlock::new(64, 32, a, device),
                UpBlock::new(32, 16, a, device),
                UpBlock::new(16, 16, a, device),
            ],
            head: ConvBlock::new(16, 1, 3, 1, false, Act::Sigmoid, device),
        }
    }

    /// The reconstruction of `[batch, 1, 64, 64]` images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x;
        for l in &self.enc {
            h = l.forward(h);
        }
        h = self.expand.forward(self.bottleneck.forward(h));
        for l in &self.dec {
            h = l.forward(h);
        }
        self.head.forward(h)
    }

    /// Floating-point operations per image.
    pub fn flops() -> u64 {
        let conv = |cin: u64, cout: u64, k: u64, side: u64| 2 * cin * cout * k * k * side * side;
        conv(1, 16, 3, 32)
            + conv(16, 32, 3, 16)
            + conv(32, 64, 3, 8)
            + conv(64, 8, 1, 8)
            + conv(8, 64, 1, 8)
            + conv(64, 32, 4, 8)
            + conv(32, 16, 4, 16)
            + conv(16, 16, 4, 32)
            + conv(16, 1, 3, 64)
    }
}

impl Emit for Autoencoder {
    fn emit(&self, e: &mut Emitter, scope: &str, x: &str) -> EmitResult<String> {
        let mut h = x.to_string();
        for (i, l) in self.enc.iter().enumerate() {
            h = l.emit(e, &format!("{scope}encoder.{i}"), &h)?;
        }
        h = self.bottleneck.emit(e, &format!("{scope}bottleneck"), &h)?;
        h = self.expand.emit(e, &format!("{scope}expand"), &h)?;
        for (i, l) in self.dec.iter().enumerate() {
            h = l.emit(e, &format!("{scope}decoder.{i}"), &h)?;
        }
        self.head.emit(e, &format!("{scope}head"), &h)
    }
}

/// The per-pixel anomaly score of an image and its reconstruction (`[n, 1, 64, 64]` both),
/// as host vectors of `64·64` per image: `1 − SSIM` (window 7, edges replicated to full size)
/// for the SSIM loss, the squared difference for L2.
pub fn anomaly_maps(x: Tensor<4>, recon: Tensor<4>, loss: Loss) -> Result<Vec<Vec<f32>>> {
    let [n, ..] = x.dims();
    let maps = match loss {
        Loss::SsimL1 => {
            let s = Ssim::with_window(WINDOW, 1.5).map(x, recon);
            let v = crate::emit::values(&s)?;
            let inner = SIZE - WINDOW + 1;
            (0..n)
                .map(|i| {
                    edgewise_tasks::defect::pad_edges(
                        &v[i * inner * inner..(i + 1) * inner * inner],
                        inner,
                        SIZE,
                    )
                })
                .map(|m| m.into_iter().map(|s| 1.0 - s).collect())
                .collect()
        }
        Loss::L2 => {
            let d = crate::emit::values(&(x - recon).powi_scalar(2))?;
            d.chunks(SIZE * SIZE).map(<[f32]>::to_vec).collect()
        }
    };
    Ok(maps)
}

/// The anomaly map ([`anomaly_maps`]) of `model` on every sample of `test`, in order,
/// computed 32 images at a time.
pub fn test_maps(
    model: &Autoencoder,
    test: &[textures::Sample],
    loss: Loss,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut maps = Vec::with_capacity(test.len());
    for chunk in test.chunks(32) {
        let x = to_tensor(
            chunk.iter().map(|s| s.image.as_slice()),
            [1, SIZE, SIZE],
            device,
        );
        let recon = model.forward(x.clone());
        maps.extend(anomaly_maps(x, recon, loss)?);
    }
    Ok(maps)
}

/// Pixel and image AUROC of `model` on `test`, and the 99th percentile of clean pixels'
/// scores (the helper's mask threshold).
pub fn evaluate(
    model: &Autoencoder,
    test: &[textures::Sample],
    loss: Loss,
    device: &Device,
) -> Result<(f64, f64, f32)> {
    Ok(scores(test, test_maps(model, test, loss, device)?))
}

/// Pixel and image AUROC of the anomaly maps `maps` of the samples of `test` (in order), and
/// the 99th percentile of clean pixels' scores.
pub fn scores(test: &[textures::Sample], maps: Vec<Vec<f32>>) -> (f64, f64, f32) {
    let mut pixel_scores = vec![];
    let mut pixel_labels = vec![];
    let mut image_scores = vec![];
    let mut image_labels = vec![];
    let mut clean = vec![];
    for (s, map) in test.iter().zip(maps) {
        let defective = s.defect.is_some();
        image_scores.push(map.iter().copied().fold(f32::MIN, f32::max));
        image_labels.push(defective);
        if !defective {
            clean.extend_from_slice(&map);
        }
        pixel_labels.extend(s.mask.iter().map(|&m| m > 0.5));
        pixel_scores.extend(map);
    }
    clean.sort_by(f32::total_cmp);
    let threshold = clean.get(clean.len() * 99 / 100).copied().unwrap_or(0.5);
    (
        auroc(&pixel_scores, &pixel_labels).unwrap_or(f64::NAN),
        auroc(&image_scores, &image_labels).unwrap_or(f64::NAN),
        threshold,
    )
}

/// The training loss of a batch.
fn loss_of(x: Tensor<4>, recon: Tensor<4>, loss: Loss) -> Tensor<1> {
    match loss {
        Loss::SsimL1 => {
            let s = Ssim::with_window(WINDOW, 1.5)
                .map(x.clone(), recon.clone())
                .mean();
            let l1 = (x - recon).abs().mean();
            (s.neg() + 1.0) * 0.85 + l1 * 0.15
        }
        Loss::L2 => (x - recon).powi_scalar(2).mean(),
    }
}

/// Trains one autoencoder with `loss`, checkpointing into the run folder `run_name`.
pub fn fit(
    options: &TrainOptions,
    loss: Loss,
    run_name: &str,
) -> Result<(Autoencoder, History, Config, f32)> {
    let config = Config::new(options, loss);
    let device = crate::systems::device(options)?;
    device.seed(options.seed);
    let families = Family::ALL;
    let train = textures::clean_set(&families, config.train_images, SIZE, options.seed)
        .map_err(anyhow::Error::msg)?;
    let test = textures::test_set(
        &families,
        config.test_images,
        SIZE,
        0.5,
        options.seed ^ 0x7e57,
    )
    .map_err(anyhow::Error::msg)?;
    let mut run = Run::open(run_name, options)?;
    let model = Autoencoder::new(&device);
    let optim: ModuleOptimizer = AdamConfig::new().init();
    let (done, history, mut model, mut optim) = run.resume(options, &config, model, optim)?;
    let mut history =
        history.unwrap_or_else(|| History::new(&["loss", "pixel_auroc", "image_auroc"]));
    let steps = config.train_images.div_ceil(config.batch);
    run.progress(run_name, config.epochs, steps, done);
    let mut threshold = 0.5;
    for epoch in done..config.epochs {
        let mut total = 0.0;
        for batch in batches(train.len(), config.batch, options.seed, epoch) {
            let x = to_tensor(
                batch.iter().map(|&i| train[i].image.as_slice()),
                [1, SIZE, SIZE],
                &device,
            );
            let recon = model.forward(x.clone());
            let l = loss_of(x, recon, loss);
            let value = l.clone().into_scalar::<f32>() as f64;
            total += value;
            let grads = GradientsParams::from_grads(l.backward(), &model);
            model = optim.step(config.lr, model, grads);
            run.step(format!("loss {value:.4}"));
        }
        let valid = model.valid();
        let (pixel, image, t) = evaluate(&valid, &test, loss, &device)?;
        threshold = t;
        history.push(epoch + 1, &[total / steps as f64, pixel, image])?;
        run.println(&format!(
            "{run_name} epoch {}: loss {:.4}, pixel AUROC {pixel:.3}, image AUROC {image:.3}",
            epoch + 1,
            total / steps as f64
        ));
        run.checkpoint(epoch + 1, &model, &optim, &history, options, &config)?;
    }
    run.finish();
    Ok((model.valid(), history, config, threshold))
}

/// Writes the ONNX model of a trained autoencoder: outputs `recon` and `ssim`.
pub fn export(
    model: &Autoencoder,
    options: &TrainOptions,
    metadata: &[(&str, String)],
) -> Result<(Vec<u8>, usize)> {
    let mut e = Emitter::new(NAME);
    let x = e.input("image", &[1, SIZE, SIZE]);
    let recon = model.emit(&mut e, "", &x)?;
    let ssim = Ssim::with_window(WINDOW, 1.5).emit(&mut e, &x, &recon, "ssim_map");
    e.output(&recon, "recon", &[1, SIZE, SIZE])?;
    let inner = SIZE - WINDOW + 1;
    e.output(&ssim, "ssim", &[1, inner, inner])?;
    e.provenance(NAME, &command(options), metadata);
    let params = e.parameters();
    Ok((e.finish(), params))
}

/// The canonical command that reproduces a run.
pub fn command(options: &TrainOptions) -> String {
    super::train_command(NAME, options, Config::new(options, Loss::SsimL1).epochs)
}

/// Trains the SSIM + L1 autoencoder and exports it.
pub fn train(options: &TrainOptions) -> Result<Trained> {
    let (model, history, config, threshold) = fit(options, Loss::SsimL1, NAME)?;
    let pixel = history.last("pixel_auroc").unwrap_or(f64::NAN);
    let image = history.last("image_auroc").unwrap_or(f64::NAN);
    let metrics = json!({ "pixel_auroc": super::round4(pixel), "image_auroc": super::round4(image),
        "test_images": config.test_images, "epochs": config.epochs });
    let (bytes, parameters) = export(&model, options, &[("metrics", metrics.to_string())])?;
    let inner = SIZE - WINDOW + 1;
    let entry = Entry {
        system: NAME,
        inputs: vec![Signature::batch("image", &[1, SIZE, SIZE])],
        outputs: vec![
            Signature::batch("recon", &[1, SIZE, SIZE]),
            Signature::batch("ssim", &[1, inner, inner]),
        ],
        description: format!(
            "Defect detection by reconstruction: a fully convolutional autoencoder trained only on \
             defect-free 64x64 grayscale textures with loss 0.85*(1-SSIM)+0.15*L1; outputs the \
             reconstruction and the SsimMap (window {WINDOW}, edgewise op) of image and \
             reconstruction. 1-ssim is the per-pixel anomaly score."
        ),
        provenance: format!(
            "trained by `{}` on {} procedural textures ({}) generated by crates/edgewise-data \
             (textures.rs), tested on {} generated textures with synthesized scratches, holes, \
             stains and cracks",
            command(options),
            config.train_images,
            Family::ALL
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", "),
            config.test_images
        ),
        parameters,
        flops: Autoencoder::flops(),
        metrics,
        extra: json!({ "window": WINDOW, "threshold": super::round4(threshold as f64) }),
        command: command(options),
    };
    Ok(Trained {
        entry,
        bytes,
        history,
    })
}

/// Tolerances of the parity checks, per output. `recon`: 1e-4, a chain of f32 convolutions
/// summed in another order by each runtime. `ssim`: 5e-4, because burn's SSIM (the training
/// loss) takes `σ² = G*(x²) − μ²` in f32, a difference of two numbers near 0.25 whose rounding
/// (~3e-8) is divided by `σx² + σy² + C2` (C2 = 9e-4): 1e-4 to 3e-4 is measured against the
/// operator's kernel.
pub const TOLERANCES: [(&str, f32); 2] = [("recon", 1e-4), ("ssim", 5e-4)];

/// `n` parity cases: generated textures (half with defects) through the trained net in burn.
pub fn parity_cases(model: &Autoencoder, n: usize, seed: u64) -> Result<Vec<crate::parity::Case>> {
    use crate::parity::{Array, Case};
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    let test = textures::test_set(&Family::ALL, n, SIZE, 0.5, seed).map_err(anyhow::Error::msg)?;
    let inner = SIZE - WINDOW + 1;
    test.iter()
        .map(|s| {
            let x = to_tensor(
                std::iter::once(s.image.as_slice()),
                [1, SIZE, SIZE],
                &device,
            );
            let recon = model.forward(x.clone());
            let ssim = Ssim::with_window(WINDOW, 1.5).map(x, recon.clone());
            Ok(Case {
                inputs: vec![Array::new("image", &[1, 1, SIZE, SIZE], s.image.clone())],
                outputs: vec![
                    Array::new("recon", &[1, 1, SIZE, SIZE], crate::emit::values(&recon)?),
                    Array::new("ssim", &[1, 1, inner, inner], crate::emit::values(&ssim)?),
                ],
            })
        })
        .collect()
}

/// A quick-trained autoencoder and 8 parity cases.
pub fn parity(options: &TrainOptions) -> Result<Parity> {
    let (model, ..) = fit(options, Loss::SsimL1, NAME)?;
    let (bytes, _) = export(&model, options, &[])?;
    Ok(Parity {
        bytes,
        cases: parity_cases(&model, 8, 1)?,
        tolerances: &TOLERANCES,
    })
}

catalogue_system!("Defect segmentation by an SSIM autoencoder", |options| {
    Config::new(options, Loss::SsimL1)
});
