//! One 40-class glyph task whose samples range from easy to hard, for early-exit networks:
//! the digits, letters, shapes and symbols of [`crate::glyphs`] as classes 0–9, 10–19, 20–29
//! and 30–39, each sample degraded by its own difficulty `d`.
//!
//! # Generation
//!
//! Sample `i` draws its class (labels `i % 40`, shuffled from the seed, so classes are
//! balanced to within one), renders the glyph with [`crate::glyphs::render`] from a seed of its
//! own, then draws `d = u²`, `u ~ U(0, 1)` (most samples mild, a tail of hard ones) and
//! degrades every pixel `I` to
//!
//! `clamp(½ + (1 − 0.6·d)·(I − ½) + 0.45·d·ε, 0, 1)`, `ε ~ N(0, 1)` per pixel,
//!
//! a loss of contrast and added noise that both grow with `d`. Some classes of different
//! tasks look alike (`1`, `I` and the vertical bar; `−` and the horizontal bar; `+` and the
//! cross), so even the clean task is not solved perfectly.

use crate::glyphs::{self, SIZE, Task};
use crate::rng::Rng;

/// Number of classes.
pub const CLASSES: usize = 4 * glyphs::CLASSES;
/// Image side (as [`crate::glyphs::SIZE`]).
pub const SIDE: usize = SIZE;
/// Largest number of samples [`split`] accepts.
pub const MAX_SPLIT: usize = glyphs::MAX_SPLIT;

const PIXELS: usize = SIZE * SIZE;

/// A labelled set of graded samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Graded {
    /// `n` images of `SIDE×SIDE` values in `[0, 1]`, one after the other.
    pub images: Vec<f32>,
    /// The class (0–39) of each image.
    pub labels: Vec<u8>,
    /// The difficulty `d ∈ [0, 1)` each image was degraded with.
    pub difficulty: Vec<f32>,
    /// Number of samples.
    pub n: usize,
}

/// The task and the class within it of class `label` (0–39).
pub fn task_of(label: usize) -> (Task, usize) {
    (
        Task::ALL[(label / glyphs::CLASSES).min(3)],
        label % glyphs::CLASSES,
    )
}

/// The name of class `label`, as `task/name` (`digits/7`, `shapes/ring`).
pub fn class_name(label: usize) -> String {
    let (task, class) = task_of(label);
    format!("{}/{}", task.name(), task.class_names()[class])
}

/// `n` graded samples from `seed`. Use different seeds for training and test sets. Errors if
/// `n` is 0 or above [`MAX_SPLIT`].
pub fn split(n: usize, seed: u64) -> Result<Graded, String> {
    if n == 0 || n > MAX_SPLIT {
        return Err(format!(
            "graded: split n must be in 1..={MAX_SPLIT}, got {n}"
        ));
    }
    let base = Rng::new(seed).fork(0x6772_6164_6564);
    let mut labels: Vec<u8> = (0..n).map(|i| (i % CLASSES) as u8).collect();
    base.fork(0).shuffle(&mut labels);
    let mut images = vec![0.0f32; n * PIXELS];
    let mut difficulty = Vec::with_capacity(n);
    for (i, (img, &label)) in images.chunks_exact_mut(PIXELS).zip(&labels).enumerate() {
        let mut rng = base.fork(i as u64 + 1);
        let (task, class) = task_of(usize::from(label));
        glyphs::render_into(task, class, rng.next_u64(), img)?;
        let u = rng.uniform();
        let d = u * u;
        let contrast = 1.0 - 0.6 * d;
        for v in img.iter_mut() {
            let x = 0.5 + contrast * (f64::from(*v) - 0.5) + 0.45 * d * rng.normal();
            *v = x.clamp(0.0, 1.0) as f32;
        }
        difficulty.push(d as f32);
    }
    Ok(Graded {
        images,
        labels,
        difficulty,
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_balanced_and_difficulty_degrades_the_glyph() {
        let s = split(400, 7).unwrap();
        assert_eq!(s.images.len(), 400 * PIXELS);
        let mut count = [0usize; CLASSES];
        for &l in &s.labels {
            count[l as usize] += 1;
        }
        assert!(count.iter().all(|&c| c == 10), "{count:?}");
        assert!(s.images.iter().all(|v| (0.0..=1.0).contains(v)));
        // The same glyph rendered clean, against the sample: the harder, the further.
        let base = Rng::new(7).fork(0x6772_6164_6564);
        let mut gaps = vec![];
        for i in 0..400 {
            let mut rng = base.fork(i as u64 + 1);
            let (task, class) = task_of(s.labels[i] as usize);
            let clean = glyphs::render(task, class, rng.next_u64()).unwrap();
            let img = &s.images[i * PIXELS..(i + 1) * PIXELS];
            let gap: f32 = clean
                .iter()
                .zip(img)
                .map(|(a, b)| (a - b).abs())
                .sum::<f32>()
                / PIXELS as f32;
            gaps.push((s.difficulty[i], gap));
        }
        gaps.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mean = |g: &[(f32, f32)]| g.iter().map(|x| x.1).sum::<f32>() / g.len() as f32;
        let (easy, hard) = (mean(&gaps[..100]), mean(&gaps[300..]));
        assert!(hard > 3.0 * easy, "easy {easy}, hard {hard}");
        // Same seed, same samples; another seed, others.
        assert_eq!(split(400, 7).unwrap(), s);
        assert_ne!(split(400, 8).unwrap().images, s.images);
        assert!(split(0, 1).is_err());
        assert_eq!(class_name(28), "shapes/vbar");
        assert_eq!(class_name(0), "digits/0");
        assert_eq!(class_name(39), "symbols/at");
    }
}
