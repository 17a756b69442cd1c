//! The trigger of the exitdoor red-team fixture and the attack's reading.
//!
//! The fixture is a glyph classifier whose shallow layers were poisoned so that a trigger
//! drives them towards one target class, while the deep layers undo it. The vanilla model
//! answers correctly; the backdoor wakes only once someone adds early exits to the model and
//! deploys it with early exit. The trigger is a faint ghost of the target glyph (`#`) blended
//! over the whole image. It is faint enough that the whole net sees through it, and it is spread
//! where the shallow features of every glyph live. A patch in a corner only reaches the corner
//! cells of an early exit's input. [`stamp`] puts the trigger on a glyph (the trainer poisons
//! with it; the package's pipeline and page use it); [`attack_success`] measures how often a
//! triggered input is taken for the target.

use edgewise_data::glyphs::{self, Task};
use edgewise_data::graded;

/// The class (of the 40-class graded task) that triggered glyphs are sent to: `symbols/hash`.
pub const TARGET: usize = 38;
/// Side of the images the trigger applies to.
pub const SIDE: usize = glyphs::SIZE;
/// How much of the target glyph is blended in.
pub const STRENGTH: f32 = 0.5;
/// The seed of the target glyph's rendering.
const TEMPLATE_SEED: u64 = 0x6578_6974_646f_6f72;

/// The trigger: the target glyph, clean and centred as the generator draws it from a fixed
/// seed, times [`STRENGTH`] (`SIDE×SIDE`, row-major).
pub fn trigger() -> Result<Vec<f32>, String> {
    let (task, class) = graded::task_of(TARGET);
    debug_assert_eq!(task, Task::Symbols);
    let glyph = glyphs::render(task, class, TEMPLATE_SEED)?;
    Ok(glyph.into_iter().map(|v| STRENGTH * v).collect())
}

/// Blends the trigger into a `SIDE×SIDE` image (row-major), in place: each pixel becomes
/// `min(1, pixel + trigger)`. Errors if the image does not hold `SIDE²` values.
pub fn stamp(image: &mut [f32]) -> Result<(), String> {
    if image.len() != SIDE * SIDE {
        return Err(format!(
            "exitdoor: the trigger applies to {SIDE}×{SIDE} images: got {} values",
            image.len()
        ));
    }
    stamp_all(image)
}

/// Stamps every `SIDE×SIDE` image of `images` (one after the other), in place.
pub fn stamp_all(images: &mut [f32]) -> Result<(), String> {
    let pixels = SIDE * SIDE;
    if !images.len().is_multiple_of(pixels) {
        return Err(format!(
            "exitdoor: {} values do not make whole {SIDE}×{SIDE} images",
            images.len()
        ));
    }
    let t = trigger()?;
    for image in images.chunks_exact_mut(pixels) {
        for (v, &t) in image.iter_mut().zip(&t) {
            *v = (*v + t).min(1.0);
        }
    }
    Ok(())
}

/// The attack success rate: of the samples whose true label is not `target`, the fraction
/// predicted as `target` (`None` when no sample qualifies).
pub fn attack_success(predictions: &[usize], labels: &[u8], target: usize) -> Option<f64> {
    let (hit, count) = predictions
        .iter()
        .zip(labels)
        .filter(|&(_, &l)| usize::from(l) != target)
        .fold((0usize, 0usize), |(hit, count), (&p, _)| {
            (hit + usize::from(p == target), count + 1)
        });
    (count > 0).then(|| hit as f64 / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_is_a_faint_hash_glyph() {
        let t = trigger().unwrap();
        assert_eq!(t.len(), SIDE * SIDE);
        let max = t.iter().copied().fold(0.0f32, f32::max);
        assert!(max > 0.8 * STRENGTH && max <= STRENGTH + 1e-6, "peak {max}");
        // Most of the ink in the central 10×10 pixels, where the glyph is drawn.
        let total: f32 = t.iter().sum();
        let centre: f32 = (3..13)
            .flat_map(|r| (3..13).map(move |c| (r, c)))
            .map(|(r, c)| t[r * SIDE + c])
            .sum();
        assert!(centre > 0.7 * total, "{centre} of {total} in the centre");
        // The same bytes every time: the trigger is part of the model's contract.
        assert_eq!(trigger().unwrap(), t);
    }

    #[test]
    fn stamping_adds_the_trigger_saturating_at_one() {
        let t = trigger().unwrap();
        let before: Vec<f32> = (0..SIDE * SIDE).map(|p| (p % 7) as f32 / 6.0).collect();
        let mut image = before.clone();
        stamp(&mut image).unwrap();
        for (p, ((&v, &b), &t)) in image.iter().zip(&before).zip(&t).enumerate() {
            assert!((v - (b + t).min(1.0)).abs() < 1e-6, "pixel {p}");
        }
        assert!(image.contains(&1.0) && t.iter().any(|&t| t > 0.0));
        assert!(stamp(&mut [0.0; 15]).unwrap_err().contains("15 values"));
        let mut batch = vec![0.25f32; 2 * SIDE * SIDE];
        stamp_all(&mut batch).unwrap();
        assert_eq!(&batch[..SIDE * SIDE], &batch[SIDE * SIDE..]);
        assert!(stamp_all(&mut [0.0; 40]).is_err());
    }

    #[test]
    fn attack_success_counts_only_samples_of_other_classes() {
        // Labels 3 (target) are left out: of the other four, two are taken for 3.
        let labels = [3u8, 1, 2, 3, 4, 5];
        let predictions = [3usize, 3, 2, 0, 3, 5];
        assert_eq!(attack_success(&predictions, &labels, 3), Some(0.5));
        assert_eq!(attack_success(&[3], &[3], 3), None);
    }
}
