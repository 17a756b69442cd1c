//! Procedural grayscale textures with synthesized defects and their pixel masks, for
//! unsupervised defect detection by reconstruction: a model is trained on defect-free images
//! only ([`clean_set`]); at test time ([`test_set`]) its residual should light up where
//! [`Sample::mask`] is 1 (pixel AUROC) and on the images that carry a defect (image AUROC).
//!
//! # Generation
//!
//! A sample of side `n` comes from four random streams forked from its seed, so the clean and
//! the defective image of one seed share texture, lighting and noise and differ only by the
//! defect. Lengths are given for `n = 64` and scale with `s = n/64` (with floors of a few
//! pixels); `smoothstep(a, b, x) = 3τ² − 2τ³`, `τ = clamp((x − a)/(b − a), 0, 1)`.
//!
//! 1. **Reflectance** `r = m + c·t(u, v)`: brightness `m ~ U(0.35, 0.65)`, contrast
//!    `c ~ U(0.10, 0.25)`, a stationary pattern `t ∈ [−1, 1]` of the pixel centres rotated by
//!    a random `θ` and shifted: `u = x cos θ + y sin θ + u₀`, `v = −x sin θ + y cos θ + v₀`.
//!    - `Stripes`: `t = σ(1 + k)/(1 + k|σ|)`, `σ = sin(2πu/p + 2πa sin(2πv/q))`, period
//!      `p ~ U(6, 14)·s`, squareness `k ~ U(0, 4)`, waviness `a ~ U(0, 0.13)`, `q ~ U(3, 6)·p`.
//!    - `Grid`: lines of half-width `h ~ U(0.6, 1.4)·s` every `p₁ ~ U(8, 16)·s` along `u` and
//!      `p₂ = p₁·U(1, 1.4)` along `v`, 1.4 px soft edges, dark on bright (80 %) or the
//!      reverse, with a weak pillow shading `sin(2πu/p₁) sin(2πv/p₂)` in the cells.
//!    - `Noise`: value noise (hashed lattice values, smoothstep interpolation), octaves of
//!      cells `p, 2p, 4p`, `p ~ U(2, 3.5)·s`, weights `1, ½, ¼`, each on its own rotated
//!      lattice, stretched `U(1, 1.8)`× along `u`: a granular surface.
//!    - `Weave`: a plain weave of threads `p ~ U(7, 12)·s` wide; in cell `(i, j)` the thread on
//!      top runs along `u` if `i + j` is even, else along `v`, with brightness
//!      `sin(πf⊥)^½ sin(πf∥)^¼ (0.85 + 0.15 cos 4π(f⊥ − ½))` (`f⊥`, `f∥`: fractional
//!      positions across and along it; two fibres per thread).
//!    - `Dots`: soft discs of radius `U(0.2, 0.36)·p` on a hexagonal (70 %) or square lattice
//!      of pitch `p ~ U(7, 13)·s`, darker or brighter than the background.
//! 2. **Defect** (optional), drawn with a geometric coverage `α ∈ [0, 1]` (strokes of width
//!    `w`: `α = clamp(w/2 + ½ − d, 0, 1)` at distance `d`), blended `r ← r + α·g·(target − r)`:
//!    - `Scratch`: one (70 %) or two nearly parallel quadratic Bézier strokes of length
//!      `U(0.3, 0.6)·n`, bent up to 10 %, width `U(0.9, 1.6)·s` tapering to the ends, pulled
//!      with `g ~ U(0.7, 1)` to `m + c + U(0.12, 0.3)` (bright) or `m − c − U(0.12, 0.3)`.
//!    - `Hole`: an ellipse, semi-axes `a ~ U(2.5, 6)·s`, `b = a·U(0.55, 1)`, edge `U(1, 2)·s`
//!      wide, filled with `(m − c)·U(0.1, 0.6)·(0.6 + 0.4ρ²)` (`ρ`: normalised radius).
//!    - `Stain`: radius `R(φ) = R₀(1 + Σₖ₌₂..₄ aₖ cos(kφ + φₖ))`, `R₀ = max(4.5, U(4.5, 9)·s)`,
//!      `|aₖ| < 0.1` (so at least 6 px across), profile `w = 1 − smoothstep(1 − e, 1 + e,
//!      d/R(φ))`, `e ~ U(0.25, 0.45)`; adds `w(±A(0.75 + 0.25ν) − κ(r − m))` where
//!      `A = max(0.06, c·U(0.6, 1.1))` matches the texture's contrast, `ν` is a smooth noise
//!      and `κ ~ U(0, 0.4)` a loss of contrast.
//!    - `Crack`: two arms of a random walk from one point (total length `U(0.3, 0.55)·n`,
//!      steps `max(0.75, s)` px, AR(1) turning rate), up to three side branches, width
//!      `U(0.8, 1.4)·s` tapering to the tips, filled with `(m − c)·U(0.1, 0.6)`.
//! 3. **Illumination** `× (1 + g_x(2x/n − 1) + g_y(2y/n − 1))`, `g_x, g_y ~ U(−0.08, 0.08)`.
//! 4. **Sensor noise** `+ σz`, `σ ~ U(0.008, 0.02)`, `z` an Irwin–Hall sum of four uniforms
//!    scaled to unit variance; then clamping to `[0, 1]`.
//!
//! The **mask** is 1 where `|defective − clean| >` [`MASK_THRESHOLD`] (0.02) or inside the
//! drawn shape (`α ≥ ½`): outside it the image equals the same seed's clean image within
//! 0.02. From `n = 32` up a defect covers about 0.2 %–12 % of the image. Only `+ − × ÷ √`,
//! `floor` and `round` are used (sines are polynomials), in `f64`, with the portable [`Rng`]:
//! a seed gives bit-identical samples on every IEEE-754 target, wasm32 included.
//!
//! # API
//!
//! [`sample`] draws one [`Sample`] (`image`, `mask`, `family`, `defect`, `size`);
//! [`clean_set`] and [`test_set`] draw training and test sets; [`Family`] and [`Defect`]
//! name the kinds (`ALL`, `name`, `from_name`).

use crate::rng::Rng;

/// The smallest accepted image side.
pub const MIN_SIZE: usize = 16;
/// The largest accepted image side.
pub const MAX_SIZE: usize = 512;
/// A pixel belongs to the mask when the defect changed it by more than this (or lies inside
/// the drawn shape).
pub const MASK_THRESHOLD: f32 = 0.02;

/// An enum of named kinds with `ALL`, `name` and `from_name`.
macro_rules! named_kinds {
    ($(#[$doc:meta])* $ty:ident { $($(#[$vdoc:meta])* $v:ident = $name:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $ty {
            $($(#[$vdoc])* $v,)+
        }

        impl $ty {
            /// Every kind, in declaration order.
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$v),+];

            /// The lower-case name.
            pub fn name(&self) -> &'static str {
                match self {
                    $($ty::$v => $name,)+
                }
            }

            /// The kind called `name` (case-insensitive, surrounding blanks ignored), if any.
            pub fn from_name(name: &str) -> Option<$ty> {
                let name = name.trim();
                $ty::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
            }
        }
    };
}

named_kinds! {
    /// A texture family (see the module docs for each pattern).
    Family {
        /// Wavy parallel stripes, from sinusoidal to nearly square (`"stripes"`).
        Stripes = "stripes",
        /// Thin lines crossing at right angles, a mesh or tiling (`"grid"`).
        Grid = "grid",
        /// Granular, slightly anisotropic multi-octave value noise (`"noise"`).
        Noise = "noise",
        /// A plain over-under weave of threads (`"weave"`).
        Weave = "weave",
        /// Soft discs on a hexagonal or square lattice, a perforated sheet (`"dots"`).
        Dots = "dots",
    }
}

named_kinds! {
    /// A kind of synthesized defect (see the module docs for how each is drawn).
    Defect {
        /// Thin bright or dark, slightly curved line segment(s) (`"scratch"`).
        Scratch = "scratch",
        /// A dark filled ellipse with a soft edge (`"hole"`).
        Hole = "hole",
        /// A smooth, low-contrast, irregular blotch, brighter or darker (`"stain"`).
        Stain = "stain",
        /// A dark, thin, branching random-walk path (`"crack"`).
        Crack = "crack",
    }
}

/// One generated image with its defect mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Gray levels in `[0, 1]`, row-major `[size * size]`.
    pub image: Vec<f32>,
    /// 1.0 on defective pixels, 0.0 elsewhere, row-major `[size * size]`; all zero when
    /// `defect` is `None`.
    pub mask: Vec<f32>,
    /// The texture family.
    pub family: Family,
    /// The defect drawn, if any.
    pub defect: Option<Defect>,
    /// The side of the square image, in pixels.
    pub size: usize,
}

impl Sample {
    /// Whether the sample carries a defect (the image-level label).
    pub fn is_defective(&self) -> bool {
        self.defect.is_some()
    }

    /// The fraction of the pixels in the mask.
    pub fn mask_fraction(&self) -> f64 {
        self.mask.iter().map(|&m| m as f64).sum::<f64>() / self.mask.len().max(1) as f64
    }
}

fn check_size(size: usize) -> Result<(), String> {
    if (MIN_SIZE..=MAX_SIZE).contains(&size) {
        return Ok(());
    }
    Err(format!(
        "size: expected an image side between {MIN_SIZE} and {MAX_SIZE}, got {size}"
    ))
}

/// One sample of `family` with `defect` (or none), `size × size` pixels, from `seed`.
/// The same seed with and without a defect gives the same texture, lighting and noise.
/// Errors when `size` is outside `16..=512`.
pub fn sample(
    family: Family,
    defect: Option<Defect>,
    size: usize,
    seed: u64,
) -> Result<Sample, String> {
    check_size(size)?;
    let n = size;
    let root = Rng::new(seed);
    let mut clean = vec![0.0f64; n * n];
    let look = render_texture(family, n, &mut root.fork(1), &mut clean);
    let (mut damaged, mut cov) = (Vec::new(), Vec::new());
    if let Some(kind) = defect {
        (damaged, cov) = (clean.clone(), vec![0.0f32; n * n]);
        let canvas = &mut Canvas {
            n,
            refl: &mut damaged,
            cov: &mut cov,
        };
        let rng = &mut root.fork(2);
        match kind {
            Defect::Scratch => scratch(canvas, look, rng),
            Defect::Hole => hole(canvas, look, rng),
            Defect::Stain => stain(canvas, look, rng),
            Defect::Crack => crack(canvas, look, rng),
        }
    }
    let mut light = root.fork(3);
    let (gx, gy) = (light.range(-0.08, 0.08), light.range(-0.08, 0.08));
    let sigma = light.range(0.008, 0.02);
    let mut noise = root.fork(4);
    let (mut image, mut mask) = (vec![0.0f32; n * n], vec![0.0f32; n * n]);
    let to_unit = 2.0 / n as f64;
    for y in 0..n {
        let row = 1.0 + gy * ((y as f64 + 0.5) * to_unit - 1.0);
        for x in 0..n {
            let (i, illum) = (y * n + x, row + gx * ((x as f64 + 0.5) * to_unit - 1.0));
            let z = sigma * irwin_hall(noise.next_u64());
            let c = (clean[i] * illum + z).clamp(0.0, 1.0) as f32;
            image[i] = c;
            if defect.is_some() {
                let d = (damaged[i] * illum + z).clamp(0.0, 1.0) as f32;
                image[i] = d;
                if (d - c).abs() > MASK_THRESHOLD || cov[i] >= 0.5 {
                    mask[i] = 1.0;
                }
            }
        }
    }
    Ok(Sample {
        image,
        mask,
        family,
        defect,
        size,
    })
}

fn check_set(families: &[Family], size: usize) -> Result<(), String> {
    check_size(size)?;
    if families.is_empty() {
        return Err("families: expected at least one texture family, got none".into());
    }
    Ok(())
}

/// `n` defect-free samples for training; sample `i` is of family `families[i % len]`.
/// Their seeds never coincide with those of [`test_set`] for the same `seed`.
/// Errors on a bad `size` or an empty `families`.
pub fn clean_set(
    families: &[Family],
    n: usize,
    size: usize,
    seed: u64,
) -> Result<Vec<Sample>, String> {
    check_set(families, size)?;
    let root = Rng::new(seed);
    (0..n)
        .map(|i| {
            let s = root.fork(2 * i as u64).next_u64();
            sample(families[i % families.len()], None, size, s)
        })
        .collect()
}

/// `n` test samples, sample `i` of family `families[i % len]`; `round(n · defect_fraction)` of
/// them, at positions chosen by `seed`, carry a defect, the kinds cycling through
/// [`Defect::ALL`] in index order. Errors on a bad `size`, an empty `families` or a
/// `defect_fraction` outside `[0, 1]`.
pub fn test_set(
    families: &[Family],
    n: usize,
    size: usize,
    defect_fraction: f64,
    seed: u64,
) -> Result<Vec<Sample>, String> {
    check_set(families, size)?;
    if !(0.0..=1.0).contains(&defect_fraction) {
        return Err(format!(
            "defect_fraction: expected a fraction in [0, 1], got {defect_fraction}"
        ));
    }
    let root = Rng::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    root.fork(u64::MAX).shuffle(&mut order);
    let mut defective = vec![false; n];
    let count = ((n as f64 * defect_fraction).round() as usize).min(n);
    order[..count].iter().for_each(|&i| defective[i] = true);
    let mut kinds = Defect::ALL.iter().copied().cycle();
    (0..n)
        .map(|i| {
            let kind = if defective[i] { kinds.next() } else { None };
            let s = root.fork(2 * i as u64 + 1).next_u64();
            sample(families[i % families.len()], kind, size, s)
        })
        .collect()
}

/// `sin(2πt)` from `+ − ×` and `round` only, hence bit-identical on every IEEE-754 target:
/// reduction to a quarter turn, then the Taylor series to `x¹⁵` in Horner form (error below
/// 1e-11), `x(1 − x²/(2·3)(1 − x²/(4·5)(1 − …)))`.
fn sin_turns(t: f64) -> f64 {
    let r = t - t.round();
    // Reflect into [-¼, ¼] with sin 2π(½ − r) = sin 2πr (exact: Sterbenz).
    let x = std::f64::consts::TAU * (2.0 * r.clamp(-0.25, 0.25) - r);
    let x2 = x * x;
    let mut p = 1.0;
    for k in [210.0, 156.0, 110.0, 72.0, 42.0, 20.0, 6.0] {
        p = 1.0 - x2 * (1.0 / k) * p;
    }
    x * p
}

/// `cos(2πt)`, see [`sin_turns`].
fn cos_turns(t: f64) -> f64 {
    sin_turns(t + 0.25)
}

/// Unit-variance, zero-mean, nearly normal value from the four 16-bit quarters of `bits`.
fn irwin_hall(bits: u64) -> f64 {
    let q = |k: u32| ((bits >> (16 * k)) & 0xffff) as f64 + 0.5;
    ((q(0) + q(1) + q(2) + q(3)) / 65536.0 - 2.0) * 3.0f64.sqrt()
}

/// `3t² − 2t³` on `t` clamped to `[0, 1]`.
fn smooth(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A uniform value in `[0, 1)` attached to the lattice point `(ix, iy)` under `key`.
fn lattice(ix: i64, iy: i64, key: u64) -> f64 {
    let mut z = key
        ^ (ix as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (iy as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    z = (z ^ (z >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    ((z ^ (z >> 32)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Smooth value noise in `[0, 1]` with unit lattice spacing.
fn value_noise(x: f64, y: f64, key: u64) -> f64 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i64, fy as i64);
    let (tx, ty) = (smooth(x - fx), smooth(y - fy));
    let top = lattice(ix, iy, key) * (1.0 - tx) + lattice(ix + 1, iy, key) * tx;
    let bottom = lattice(ix, iy + 1, key) * (1.0 - tx) + lattice(ix + 1, iy + 1, key) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// Distance from `t` to the nearest integer.
fn frac_dist(t: f64) -> f64 {
    (t - t.round()).abs()
}

fn random_sign(rng: &mut Rng, p_plus: f64) -> f64 {
    if rng.uniform() < p_plus { 1.0 } else { -1.0 }
}

/// The brightness `m` and contrast `c` of a texture, which the defects adapt to.
#[derive(Clone, Copy)]
struct Look {
    m: f64,
    c: f64,
}

/// Writes `m + c·t(u, v)` at every pixel of the `n`-wide `out`, with the pixel centres
/// `(x + ½, y + ½)` rotated by `(sin θ, cos θ)` and shifted by `(u₀, v₀)` into `(u, v)`.
fn fill(out: &mut [f64], n: usize, look: Look, frame: [f64; 4], t: impl Fn(f64, f64) -> f64) {
    let [sin, cos, u0, v0] = frame;
    for (y, row) in out.chunks_exact_mut(n).enumerate() {
        let py = y as f64 + 0.5;
        let (ru, rv) = (sin * py + u0, cos * py + v0);
        for (x, r) in row.iter_mut().enumerate() {
            let px = x as f64 + 0.5;
            *r = look.m + look.c * t(cos * px + ru, rv - sin * px);
        }
    }
}

/// Fills `out` with the reflectance of one texture of `family` and returns its look.
fn render_texture(family: Family, n: usize, rng: &mut Rng, out: &mut [f64]) -> Look {
    let s = n as f64 / 64.0;
    let (m, c, turn) = (rng.range(0.35, 0.65), rng.range(0.10, 0.25), rng.uniform());
    let look = Look { m, c };
    let (u0, v0) = (rng.range(0.0, 256.0), rng.range(0.0, 256.0));
    let frame = [sin_turns(turn), cos_turns(turn), u0, v0];
    match family {
        Family::Stripes => {
            let p = (rng.range(6.0, 14.0) * s).max(3.0);
            let k = rng.range(0.0, 4.0);
            let (a, q) = (rng.range(0.0, 0.13), p * rng.range(3.0, 6.0));
            fill(out, n, look, frame, |u, v| {
                let w = sin_turns(u * (1.0 / p) + a * sin_turns(v * (1.0 / q)));
                w * (1.0 + k) / (1.0 + k * w.abs())
            });
        }
        Family::Grid => {
            let p1 = (rng.range(8.0, 16.0) * s).max(4.0);
            let p2 = p1 * rng.range(1.0, 1.4);
            let h = (rng.range(0.6, 1.4) * s).max(0.5);
            let sign = random_sign(rng, 0.8);
            fill(out, n, look, frame, |u, v| {
                let (a, b) = (u * (1.0 / p1), v * (1.0 / p2));
                let d = (frac_dist(a) * p1).min(frac_dist(b) * p2);
                let line = 1.0 - smooth((d - h + 0.7) * (1.0 / 1.4));
                let pillow = 0.25 * sin_turns(a) * sin_turns(b);
                sign * (0.8 - 1.8 * line + pillow * (1.0 - line))
            });
        }
        Family::Noise => {
            let p = (rng.range(2.0, 3.5) * s).max(1.5);
            let stretch = rng.range(1.0, 1.8);
            let key = rng.next_u64();
            // Each octave on its own rotated lattice, so that no lattice axis shows.
            let octaves =
                [(1.0, 1.0, 0.0), (2.0, 0.5, 0.175), (4.0, 0.25, 0.366)].map(|(o, w, a)| {
                    let (sa, ca, cell) = (sin_turns(a), cos_turns(a), p * o);
                    (
                        w,
                        [
                            ca / (cell * stretch),
                            sa / (cell * stretch),
                            ca / cell,
                            sa / cell,
                        ],
                    )
                });
            fill(out, n, look, frame, |u, v| {
                let mut sum = 0.0;
                for (k, &(w, [aa, ab, ba, bb])) in octaves.iter().enumerate() {
                    let (a, b) = (aa * u + ab * v, ba * v - bb * u);
                    sum += w * value_noise(a, b, key.wrapping_add(k as u64));
                }
                ((sum / 1.75 - 0.5) * 3.2).clamp(-1.0, 1.0)
            });
        }
        Family::Weave => {
            let p = (rng.range(7.0, 12.0) * s).max(3.0);
            fill(out, n, look, frame, |u, v| {
                let (a, b) = (u * (1.0 / p), v * (1.0 / p));
                let (ia, ib) = (a.floor(), b.floor());
                let (fa, fb) = (a - ia, b - ib);
                let odd = (ia as i64 + ib as i64) & 1 == 1;
                let (across, along) = if odd { (fa, fb) } else { (fb, fa) };
                let fibres = 0.85 + 0.15 * cos_turns(2.0 * (across - 0.5));
                let w = sin_turns(across / 2.0).sqrt() * sin_turns(along / 2.0).sqrt().sqrt();
                2.0 * w * fibres - 1.0
            });
        }
        Family::Dots => {
            let p = (rng.range(7.0, 13.0) * s).max(4.0);
            let r = p * rng.range(0.2, 0.36);
            let hex = rng.uniform() < 0.7;
            let sign = random_sign(rng, 0.5);
            // Lattice basis (p, 0) and (p·bx, p·by).
            let (bx, by) = [(0.0, 1.0), (0.5, 0.75f64.sqrt())][hex as usize];
            fill(out, n, look, frame, |u, v| {
                let j = v * (1.0 / (p * by));
                let (i0, j0) = ((u * (1.0 / p) - j * bx).floor(), j.floor());
                let mut d2 = f64::MAX;
                for (di, dj) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
                    let (ci, cj) = (i0 + di, j0 + dj);
                    let (dx, dy) = (u - p * (ci + cj * bx), v - p * cj * by);
                    d2 = d2.min(dx * dx + dy * dy);
                }
                sign * (1.0 - 2.0 * smooth((d2.sqrt() - r + 0.8) * (1.0 / 1.6)))
            });
        }
    }
    look
}

mod defects;
use defects::{Canvas, crack, hole, scratch, stain};

#[cfg(test)]
mod tests;
