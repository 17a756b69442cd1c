//! The paper's comparison: the same autoencoder trained with SSIM + L1 and with L2, on the
//! same data and budget in one run; pixel and image AUROC overall and per texture family.

use anyhow::Result;
use burn::prelude::*;
use edgewise_data::textures::{self, Family};

use super::{Autoencoder, Loss, NAME, SIZE, anomaly_maps, fit, test_maps};

use crate::metrics::auroc;
use crate::run::{History, TrainOptions};
use crate::systems::to_tensor;

/// The pixel AUROC of `model` (with `loss`'s residual) on the samples of each texture family
/// of `test`, in [`Family::ALL`] order (families absent from `test` are left out).
pub fn pixel_auroc_per_family(
    model: &Autoencoder,
    test: &[textures::Sample],
    loss: Loss,
    device: &Device,
) -> Result<Vec<(Family, f64)>> {
    let mut per: Vec<(Family, Vec<f32>, Vec<bool>)> =
        Family::ALL.iter().map(|&f| (f, vec![], vec![])).collect();
    for (s, map) in test.iter().zip(test_maps(model, test, loss, device)?) {
        if let Some((_, scores, labels)) = per.iter_mut().find(|(f, ..)| *f == s.family) {
            labels.extend(s.mask.iter().map(|&m| m > 0.5));
            scores.extend(map);
        }
    }
    Ok(per
        .into_iter()
        .filter(|(_, scores, _)| !scores.is_empty())
        .map(|(f, scores, labels)| (f, auroc(&scores, &labels).unwrap_or(f64::NAN)))
        .collect())
}

/// The paper's comparison, written to `<results>/defect.md`: the same autoencoder trained with
/// the SSIM + L1 loss (residual `1 − SSIM`) and with L2 (residual: squared difference), on the
/// same data with the same budget, in one run; with the AUROC curves and example heat maps.
pub fn reproduce(options: &TrainOptions, results: &std::path::Path) -> Result<()> {
    use crate::plot::{Shade, compare, image_grid};
    let mut rows = vec![];
    let mut runs = vec![];
    for (loss, run) in [(Loss::SsimL1, "defect-ssim-l1"), (Loss::L2, "defect-l2")] {
        let start = std::time::Instant::now();
        let (model, history, config, threshold) = fit(options, loss, run)?;
        rows.push((loss, history.clone(), config, threshold, start.elapsed()));
        runs.push((run, model, history));
    }
    let figure = |name: &str| results.join(format!("{NAME}-{name}.png"));
    let histories: Vec<(&str, &History)> = runs.iter().map(|(n, _, h)| (*n, h)).collect();
    compare(
        &histories,
        "pixel_auroc",
        "pixel AUROC on generated defects",
        &figure("pixel-auroc"),
    )?;
    compare(
        &histories,
        "image_auroc",
        "image AUROC on generated defects",
        &figure("image-auroc"),
    )?;
    // Heat maps of both nets on the first defective test images of every defect kind.
    let device = Device::flex();
    let config = &rows[0].2;
    let test = textures::test_set(
        &Family::ALL,
        config.test_images,
        SIZE,
        0.5,
        options.seed ^ 0x7e57,
    )
    .map_err(anyhow::Error::msg)?;
    let shown: Vec<&textures::Sample> = textures::Defect::ALL
        .iter()
        .flat_map(|d| test.iter().filter(move |s| s.defect == Some(*d)).take(2))
        .collect();
    let x = to_tensor(
        shown.iter().map(|s| s.image.as_slice()),
        [1, SIZE, SIZE],
        &device,
    );
    let mut maps = vec![];
    for ((loss, ..), (_, model, _)) in rows.iter().zip(&runs) {
        let model = model.valid().to_device(&device);
        maps.push(anomaly_maps(x.clone(), model.forward(x.clone()), *loss)?);
    }
    let grid: Vec<Vec<(&[f32], Shade)>> = shown
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                (s.image.as_slice(), Shade::Gray),
                (maps[0][i].as_slice(), Shade::Heat),
                (maps[1][i].as_slice(), Shade::Heat),
                (s.mask.as_slice(), Shade::Gray),
            ]
        })
        .collect();
    image_grid(
        &grid,
        SIZE,
        &["image", "1-SSIM (ours)", "sq. diff (L2)", "true mask"],
        2,
        &figure("heatmaps"),
    )?;

    let mut md = String::new();
    md.push_str(&format!(
        "# Defect detection by reconstruction: SSIM against L2\n\n\
         Reproduces the comparison of Bergmann, Löwe, Fauser, Sattlegger and Steger, *Improving \
         Unsupervised Defect Segmentation by Applying Structural Similarity to Autoencoders* \
         (VISAPP 2019): the same convolutional autoencoder, trained only on defect-free images, \
         with a structural-similarity loss against the per-pixel L2 loss; defects are where the \
         reconstruction residual is large.\n\n\
         Written by `{}`. Both nets were trained in this run on \
         the same {} generated defect-free textures ({}), for {} epochs each with batch {} and Adam \
         (lr {}), and tested on the same {} generated textures, half of them with a scratch, hole, \
         stain or crack (pixel masks from the generator).\n\n",
        crate::systems::reproduce_command(NAME, options),
        config.train_images,
        Family::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "),
        config.epochs,
        config.batch,
        config.lr,
        config.test_images
    ));
    md.push_str(
        "| net | loss | residual | pixel AUROC | image AUROC | mask threshold (99th pct of clean) | training time | paper's claim |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for (loss, history, _, threshold, time) in &rows {
        let (name, loss_text, residual, claim) = match loss {
            Loss::SsimL1 => (
                "SSIM autoencoder (ours)",
                "0.85·(1 − SSIM₇) + 0.15·L1",
                "1 − SSIM₇",
                "better segmentation than L2 on textured surfaces",
            ),
            Loss::L2 => (
                "L2 autoencoder (baseline)",
                "mean squared error",
                "squared difference",
                "the baseline the paper beats",
            ),
        };
        md.push_str(&format!(
            "| {name} | {loss_text} | {residual} | {:.3} | {:.3} | {threshold:.4} | {:.0} s | {claim} |\n",
            history.last("pixel_auroc").unwrap_or(f64::NAN),
            history.last("image_auroc").unwrap_or(f64::NAN),
            time.as_secs_f64()
        ));
    }
    let (ours, base) = (&rows[0].1, &rows[1].1);
    let gain = |m: &str| ours.last(m).unwrap_or(f64::NAN) - base.last(m).unwrap_or(f64::NAN);
    let (pixel_gain, image_gain) = (gain("pixel_auroc"), gain("image_auroc"));
    md.push_str(&format!(
        "\nSSIM minus L2: pixel AUROC **{pixel_gain:+.3}**, image AUROC **{image_gain:+.3}** \
         (the paper's claim is a positive pixel-level gain).\n\n\
         ![pixel AUROC per epoch]({NAME}-pixel-auroc.png)\n\n\
         ![image AUROC per epoch]({NAME}-image-auroc.png)\n\n\
         Residual maps of both nets on two test images of every defect kind (each map scaled \
         to its own maximum):\n\n![heat maps]({NAME}-heatmaps.png)\n\n"
    ));
    // Pixel AUROC per texture family, both nets, on the same test images.
    let per_family: Vec<Vec<(Family, f64)>> = runs
        .iter()
        .zip(&rows)
        .map(|((_, model, _), (loss, ..))| {
            pixel_auroc_per_family(&model.valid().to_device(&device), &test, *loss, &device)
        })
        .collect::<Result<_>>()?;
    md.push_str("## Pixel AUROC per texture family\n\n| family | SSIM autoencoder (ours) | L2 autoencoder |\n| --- | --- | --- |\n");
    for ((family, ours), (_, base)) in per_family[0].iter().zip(&per_family[1]) {
        md.push_str(&format!("| {} | {ours:.3} | {base:.3} |\n", family.name()));
    }
    md.push('\n');
    let good = per_family[0].iter().filter(|(_, a)| *a >= 0.95).count();
    let (ours_pixel, base_pixel) = (
        rows[0].1.last("pixel_auroc").unwrap_or(f64::NAN),
        rows[1].1.last("pixel_auroc").unwrap_or(f64::NAN),
    );
    let bar = vec![
        (
            "pixel AUROC ≥ 0.95 on ≥ 4 of 5 families".to_string(),
            good >= 4,
            format!("{good} of {} families", per_family[0].len()),
        ),
        (
            "SSIM + L1 beats L2 on pixel AUROC".to_string(),
            ours_pixel > base_pixel,
            format!("{ours_pixel:.3} against {base_pixel:.3} (one seed)"),
        ),
    ];
    let why = format!(
        "one small autoencoder serves all five families for {} epochs on the CPU and \
         reconstructs the defects about as well as the texture around them; the catalogue asks \
         for one model per family with the capacity and epochs it needs, and for the \
         comparison over 3 seeds, which this reproduction does not do yet",
        config.epochs
    );
    let _ = crate::systems::write_bar(&mut md, &bar, &why);
    md.push_str(
        "## What differs in scale\n\n\
         - Data: the paper uses real images (woven fabric textures and the PCB images of its \
         dataset) at 128×128 patches cropped from 512×512; here 64×64 procedural textures in \
         five families with synthesized defects, so numbers are not comparable across the two, \
         only the ordering of the two losses.\n\
         - Net: the paper's autoencoder has a fully connected latent code (d = 100 for \
         textures) and about 2.8 M weights; here a fully convolutional one with a 1×1 \
         bottleneck of 8 channels at 8×8 and 69,657 weights, small enough for the browser.\n\
         - SSIM window 7 (the paper: 11), on 64×64 images.\n\
         - Budget: the paper trains for 200 epochs on about 10,000 augmented patches on a GPU; \
         here both nets get the same few epochs on the CPU, which is the budget of the \
         committed model.\n\
         - Image AUROC (not in the paper) scores an image by its largest residual.\n",
    );
    std::fs::write(results.join(format!("{NAME}.md")), md)?;
    Ok(())
}
