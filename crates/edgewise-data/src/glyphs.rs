//! Four small 10-class glyph-classification tasks at 16×16 grayscale, for multi-task binary
//! networks: one set of 1-bit weights serves every task, reconfigured per task by a key.
//!
//! # Tasks
//!
//! - [`Task::Digits`]: `0`–`9` and [`Task::Letters`]: `A`–`J`, from a built-in 5×7 bitmap font.
//! - [`Task::Symbols`]: `+ − × ÷ = < > % # @`, from the same font style.
//! - [`Task::Shapes`]: circle, square, triangle, cross, ring, diamond, star, horizontal bar,
//!   vertical bar and L-corner, drawn procedurally as filled regions.
//!
//! # Generation
//!
//! Every glyph is a signed distance field `d(q)` in a canonical frame (negative inside):
//!
//! - bitmaps are turned into pen strokes: the centre of lit cell `(r, c)` sits at
//!   `q = (c − 2, r − 3)` (cell units) and is joined by a segment to each lit 4-neighbour, and
//!   to each lit diagonal neighbour whose two shared 4-neighbours are both dark (so corners
//!   stay sharp and diagonals stay connected); a lit cell with no link is a dot. Then
//!   `d(q) = minₖ (dist(q, segₖ) − ρ·wₖ)` with pen radius `ρ = (0.65 + 0.35·t)/1.5` cells,
//!   `t ~ U[0, 1]` (strokes 1.3–2 px wide at scale 1), and `wₖ = 1.3` for dots;
//! - shapes use exact distances to discs, annuli, boxes and polygons (unions by `min`), in
//!   pixel units, with the same `t` setting the thickness (half-width `1.5·(0.75 + 0.55·t)` px
//!   of bars, cross and corner arms, `0.85×` that for the ring; a `0.6·(t − 0.5)` px dilation
//!   of the filled shapes).
//!
//! A random affine map takes the canonical frame to the image (pixel `(x, y)` covers
//! `[x, x+1) × [y, y+1)`, `y` down):
//!
//! `p = c + u·s·R(θ)·[[1, k], [0, 1]]·diag(a, 1/a)·q`,
//!
//! with pitch `u` (1.5 px per font cell, 1 px for shapes), scale `s ∈ [0.8, 1.15]`, rotation
//! `|θ| ≤ 12°` (wider only for classes that stay themselves: disc, ring, star, triangle), shear
//! `|k| ≤ 0.12`, aspect `a ∈ [0.93, 1.07]` and centre `c = (8, 8) + δ`, each component of `δ`
//! the sum of two `U[−1, 1]` (triangular on `[−2, 2]` px: mostly small shifts). Each pixel is
//! sampled under the inverse map `q = M⁻¹(p − c)`: its coverage `C` is the fraction of a 4×4
//! grid of sub-samples with `d(q) < 0`. Because `d` is 1-Lipschitz, a pixel whose centre has
//! `|d| > ‖M⁻¹‖·√2/2` is wholly in or out and its sub-samples are skipped; likewise the parts
//! of the union (strokes) that stay positive over a 4×4-pixel block or a pixel are not looked
//! at inside it. Both leave the result exactly that of full supersampling, only faster.
//! The coverage is blurred by a separable 3-tap Gaussian of `σ ∈ [0.35, 0.85]` px (kernel
//! `[w, 1, w]/(1 + 2w)`, `w = exp(−1/2σ²)`, edges clamped), then
//!
//! `I = clamp(b + (f − b)·(G∗C) + σₙ·ε, 0, 1)`, `b ∈ [0, 0.2]`, `f ∈ [0.7, 1]`,
//! `σₙ ∈ [0.01, 0.06]`, `ε ~ N(0, 1)` per pixel,
//!
//! so glyphs are bright on a dark background. Everything is computed in `f64` from
//! [`crate::rng::Rng`], hence bit-identical on every target.
//!
//! # API
//!
//! [`render`] draws one image of a class; [`split`] draws a balanced, shuffled data set in
//! which sample `i` depends only on `(seed, task, i)`.

use crate::rng::Rng;

/// Side of the square images, in pixels.
pub const SIZE: usize = 16;
/// Number of classes of every task.
pub const CLASSES: usize = 10;
/// Largest number of samples [`split`] accepts.
pub const MAX_SPLIT: usize = 1 << 20;

const PIXELS: usize = SIZE * SIZE;
const _: () = assert!(SIZE.is_multiple_of(BLOCK));
/// Font cell pitch, in pixels, at scale 1.
const PITCH: f64 = 1.5;
/// Upper bound of the strokes of a 5×7 bitmap: each lit cell adds at most two segments (right
/// and down, or the two diagonals, which need both to be dark) or one dot.
const MAX_SEGS: usize = 2 * 35;

/// One of the four glyph tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    /// Digits `0`–`9` (5×7 font).
    Digits,
    /// Letters `A`–`J` (5×7 font).
    Letters,
    /// Ten procedurally drawn filled shapes.
    Shapes,
    /// Ten symbols `+ − × ÷ = < > % # @` (5×7 font).
    Symbols,
}

impl Task {
    /// All tasks, in [`Task::index`] order.
    pub const ALL: [Task; 4] = [Task::Digits, Task::Letters, Task::Shapes, Task::Symbols];

    /// The task's name: `"digits"`, `"letters"`, `"shapes"` or `"symbols"`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Digits => "digits",
            Task::Letters => "letters",
            Task::Shapes => "shapes",
            Task::Symbols => "symbols",
        }
    }

    /// The task called `name` (as returned by [`Task::name`]).
    pub fn from_name(name: &str) -> Result<Task, String> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                format!(
                    "glyphs: task name must be digits, letters, shapes or symbols, got {name:?}"
                )
            })
    }

    /// Position of the task in [`Task::ALL`] (0–3).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The names of the ten classes, in label order.
    pub fn class_names(&self) -> [&'static str; CLASSES] {
        match self {
            Task::Digits => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Task::Letters => ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"],
            Task::Shapes => [
                "circle", "square", "triangle", "cross", "ring", "diamond", "star", "hbar", "vbar",
                "corner",
            ],
            Task::Symbols => [
                "plus", "minus", "times", "divide", "equals", "less", "greater", "percent", "hash",
                "at",
            ],
        }
    }
}

/// A 5×7 bitmap: seven rows, bit 4 is the leftmost column.
type Bitmap = [u8; 7];

const DIGITS: [Bitmap; CLASSES] = [
    [
        0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
    ],
    [
        0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
    ],
    [
        0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
    ],
    [
        0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
    ],
    [
        0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
    ],
];

const LETTERS: [Bitmap; CLASSES] = [
    [
        0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
    ],
    [
        0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110,
    ],
    [
        0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110,
    ],
    [
        0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100,
    ],
    [
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
    ],
    [
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000,
    ],
    [
        0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111,
    ],
    [
        0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
    ],
    [
        0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ],
    [
        0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
    ],
];

const SYMBOLS: [Bitmap; CLASSES] = [
    [
        0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000,
    ],
    [
        0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000,
    ],
    [
        0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b00000,
    ],
    [
        0b00000, 0b00100, 0b00000, 0b11111, 0b00000, 0b00100, 0b00000,
    ],
    [
        0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000,
    ],
    [
        0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010,
    ],
    [
        0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000,
    ],
    [
        0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011,
    ],
    [
        0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010,
    ],
    [
        0b01110, 0b10001, 0b10111, 0b10101, 0b10111, 0b10000, 0b01111,
    ],
];

/// Largest rotation (degrees) of each shape class: squares, bars, crosses and corners stay
/// near upright so that they cannot turn into diamonds, each other or an `×`.
const SHAPE_MAX_DEG: [f64; CLASSES] =
    [180.0, 12.0, 20.0, 12.0, 180.0, 12.0, 36.0, 12.0, 12.0, 12.0];

/// A pen stroke from `a` to `b` (a dot when `a == b`) with radius factor `w`.
#[derive(Clone, Copy, Default)]
struct Seg {
    ax: f64,
    ay: f64,
    bx: f64,
    by: f64,
    w: f64,
}

/// The strokes of a bitmap, in cell units centred on the glyph.
struct Strokes {
    segs: [Seg; MAX_SEGS],
    n: usize,
    /// Pen radius, in cell units.
    rho: f64,
}

impl Strokes {
    fn of(bitmap: &Bitmap, rho: f64) -> Strokes {
        let on = |r: isize, c: isize| {
            (0..7).contains(&r) && (0..5).contains(&c) && (bitmap[r as usize] >> (4 - c)) & 1 == 1
        };
        let mut s = Strokes {
            segs: [Seg::default(); MAX_SEGS],
            n: 0,
            rho,
        };
        let mut linked = [false; 35];
        let push = |s: &mut Strokes,
                    linked: &mut [bool; 35],
                    (r0, c0): (isize, isize),
                    (r1, c1): (isize, isize)| {
            let (ax, ay, bx, by) = (
                (c0 - 2) as f64,
                (r0 - 3) as f64,
                (c1 - 2) as f64,
                (r1 - 3) as f64,
            );
            let w = if (r0, c0) == (r1, c1) { 1.3 } else { 1.0 };
            s.segs[s.n] = Seg { ax, ay, bx, by, w };
            s.n += 1;
            linked[(r0 * 5 + c0) as usize] = true;
            linked[(r1 * 5 + c1) as usize] = true;
        };
        for r in 0..7 {
            for c in 0..5 {
                if !on(r, c) {
                    continue;
                }
                if on(r, c + 1) {
                    push(&mut s, &mut linked, (r, c), (r, c + 1));
                }
                if on(r + 1, c) {
                    push(&mut s, &mut linked, (r, c), (r + 1, c));
                }
                if on(r + 1, c + 1) && !on(r, c + 1) && !on(r + 1, c) {
                    push(&mut s, &mut linked, (r, c), (r + 1, c + 1));
                }
                if on(r + 1, c - 1) && !on(r, c - 1) && !on(r + 1, c) {
                    push(&mut s, &mut linked, (r, c), (r + 1, c - 1));
                }
            }
        }
        for r in 0..7 {
            for c in 0..5 {
                if on(r, c) && !linked[(r * 5 + c) as usize] {
                    push(&mut s, &mut linked, (r, c), (r, c));
                }
            }
        }
        s
    }
}

/// Exact signed distance to the box `|x| ≤ hx, |y| ≤ hy`.
fn sd_box(x: f64, y: f64, hx: f64, hy: f64) -> f64 {
    let (qx, qy) = (x.abs() - hx, y.abs() - hy);
    let (ox, oy) = (qx.max(0.0), qy.max(0.0));
    (ox * ox + oy * oy).sqrt() + qx.max(qy).min(0.0)
}

/// Exact signed distance to a simple polygon (crossing-number sign).
fn sd_polygon(x: f64, y: f64, v: &[(f64, f64)]) -> f64 {
    let mut d = f64::INFINITY;
    let mut sign = 1.0;
    let mut j = v.len() - 1;
    for i in 0..v.len() {
        let (ex, ey) = (v[j].0 - v[i].0, v[j].1 - v[i].1);
        let (wx, wy) = (x - v[i].0, y - v[i].1);
        let t = ((wx * ex + wy * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0);
        let (bx, by) = (wx - t * ex, wy - t * ey);
        d = d.min(bx * bx + by * by);
        let c = [y >= v[i].1, y < v[j].1, ex * wy > ey * wx];
        if c.iter().all(|&b| b) || c.iter().all(|&b| !b) {
            sign = -sign;
        }
        j = i;
    }
    sign * d.sqrt()
}

/// Signed distance (pixels at scale 1) to shape `class`; `t ∈ [0, 1]` sets the thickness.
fn sd_shape(class: usize, x: f64, y: f64, t: f64, star: &[(f64, f64); 10]) -> f64 {
    let w = 1.5 * (0.75 + 0.55 * t); // half-width of bars, cross arms, corner arms
    let dilate = 0.6 * (t - 0.5);
    match class {
        0 => (x * x + y * y).sqrt() - 4.6 - dilate,
        1 => sd_box(x, y, 4.0, 4.0) - dilate,
        2 => sd_polygon(x, y, &[(0.0, -4.8), (5.2, 4.2), (-5.2, 4.2)]) - dilate,
        3 => sd_box(x, y, 5.2, w).min(sd_box(x, y, w, 5.2)),
        4 => ((x * x + y * y).sqrt() - 3.9).abs() - 0.85 * w,
        5 => sd_polygon(x, y, &[(0.0, -6.0), (4.8, 0.0), (0.0, 6.0), (-4.8, 0.0)]) - dilate,
        6 => sd_polygon(x, y, star) - dilate,
        7 => sd_box(x, y, 5.6, w),
        8 => sd_box(x, y, w, 5.6),
        _ => sd_box(x + 2.8, y, w, 5.2).min(sd_box(x, y - 5.2 + w, 4.3, w)),
    }
}

/// A signed distance field given as the minimum of 1-Lipschitz parts (a union of regions).
trait Field {
    /// Number of parts (at most [`MAX_SEGS`]).
    fn parts(&self) -> usize;
    /// Signed distance of part `k` at `(x, y)`.
    fn part(&self, k: usize, x: f64, y: f64) -> f64;
}

impl Field for Strokes {
    fn parts(&self) -> usize {
        self.n
    }

    fn part(&self, k: usize, x: f64, y: f64) -> f64 {
        let s = &self.segs[k];
        let (ex, ey, wx, wy) = (s.bx - s.ax, s.by - s.ay, x - s.ax, y - s.ay);
        let l = ex * ex + ey * ey;
        let t = if l > 0.0 {
            ((wx * ex + wy * ey) / l).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (dx, dy) = (wx - t * ex, wy - t * ey);
        (dx * dx + dy * dy).sqrt() - self.rho * s.w
    }
}

/// Shape `class` with thickness `t` (one part).
struct Shape {
    class: usize,
    t: f64,
    star: [(f64, f64); 10],
}

impl Shape {
    fn new(class: usize, t: f64) -> Shape {
        // A five-pointed star, point up, radii 5.8 and 2.5 px, roughly centred.
        let mut star = [(0.0, 0.0); 10];
        for (i, v) in star.iter_mut().enumerate() {
            let r = if i % 2 == 0 { 5.8 } else { 2.5 };
            let phi = (i as f64 * 36.0 - 90.0).to_radians();
            *v = (r * phi.cos(), r * phi.sin() + 0.5);
        }
        Shape { class, t, star }
    }
}

impl Field for Shape {
    fn parts(&self) -> usize {
        1
    }

    fn part(&self, _: usize, x: f64, y: f64) -> f64 {
        sd_shape(self.class, x, y, self.t, &self.star)
    }
}

/// Side of the blocks of pixels culled together.
const BLOCK: usize = 4;

/// Fractional coverage of every pixel by `{q : d(q) < 0}`, `q = inv·(p − c)`, on a 4×4 grid
/// of sub-samples. Parts that stay positive over a block of pixels, then over a pixel, are
/// dropped from the finer levels (1-Lipschitz bound), which leaves the result unchanged.
fn rasterize(f: &impl Field, inv: [f64; 4], c: (f64, f64), cov: &mut [f64; PIXELS]) {
    let [a, b, cc, d] = inv;
    // Operator norm of inv: largest singular value of a 2×2 matrix.
    let s2 = a * a + b * b + cc * cc + d * d;
    let det = a * d - b * cc;
    let norm = ((s2 + (s2 * s2 - 4.0 * det * det).max(0.0).sqrt()) / 2.0).sqrt();
    let margin = norm * std::f64::consts::FRAC_1_SQRT_2;
    let block_margin = margin * BLOCK as f64;
    let map = |x: f64, y: f64| {
        (
            a * (x - c.0) + b * (y - c.1),
            cc * (x - c.0) + d * (y - c.1),
        )
    };
    let (mut near_block, mut near_pixel) = ([0usize; MAX_SEGS], [0usize; MAX_SEGS]);
    for by in (0..SIZE).step_by(BLOCK) {
        for bx in (0..SIZE).step_by(BLOCK) {
            let half = BLOCK as f64 / 2.0;
            let (qx, qy) = map(bx as f64 + half, by as f64 + half);
            let mut nb = 0;
            for k in 0..f.parts().min(MAX_SEGS) {
                if f.part(k, qx, qy) <= block_margin {
                    near_block[nb] = k;
                    nb += 1;
                }
            }
            for y in by..by + BLOCK {
                for x in bx..bx + BLOCK {
                    let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                    let (qx, qy) = map(px, py);
                    let (mut np, mut d0) = (0, f64::INFINITY);
                    for &k in &near_block[..nb] {
                        let dk = f.part(k, qx, qy);
                        d0 = d0.min(dk);
                        if dk <= margin {
                            near_pixel[np] = k;
                            np += 1;
                        }
                    }
                    cov[y * SIZE + x] = if d0 > margin {
                        0.0
                    } else if d0 < -margin {
                        1.0
                    } else {
                        let mut hits = 0u32;
                        for i in 0..16 {
                            let (sx, sy) =
                                (((i % 4) as f64 - 1.5) / 4.0, ((i / 4) as f64 - 1.5) / 4.0);
                            let (qx, qy) = map(px + sx, py + sy);
                            let inside = near_pixel[..np].iter().any(|&k| f.part(k, qx, qy) < 0.0);
                            hits += u32::from(inside);
                        }
                        f64::from(hits) / 16.0
                    };
                }
            }
        }
    }
}

/// In-place separable 3-tap Gaussian blur with clamped edges.
fn blur(img: &mut [f64; PIXELS], sigma: f64) {
    let w = (-0.5 / (sigma * sigma)).exp();
    let (k0, k1) = (1.0 / (1.0 + 2.0 * w), w / (1.0 + 2.0 * w));
    let mut tmp = [0.0f64; PIXELS];
    for y in 0..SIZE {
        for x in 0..SIZE {
            let row = &img[y * SIZE..(y + 1) * SIZE];
            tmp[y * SIZE + x] =
                k0 * row[x] + k1 * (row[x.saturating_sub(1)] + row[(x + 1).min(SIZE - 1)]);
        }
    }
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (up, down) = (y.saturating_sub(1), (y + 1).min(SIZE - 1));
            img[y * SIZE + x] =
                k0 * tmp[y * SIZE + x] + k1 * (tmp[up * SIZE + x] + tmp[down * SIZE + x]);
        }
    }
}

fn check_class(class: usize) -> Result<(), String> {
    if class < CLASSES {
        Ok(())
    } else {
        Err(format!(
            "glyphs: class must be in 0..{CLASSES}, got {class}"
        ))
    }
}

/// Draws one `SIZE×SIZE` image of `class` of `task` into `out` (row-major, values in `[0, 1]`).
/// Errors if `class ≥ 10` or `out.len() != SIZE*SIZE`.
pub fn render_into(task: Task, class: usize, seed: u64, out: &mut [f32]) -> Result<(), String> {
    check_class(class)?;
    if out.len() != PIXELS {
        return Err(format!(
            "glyphs: out must hold SIZE*SIZE = {PIXELS} values, got {}",
            out.len()
        ));
    }
    let mut rng = Rng::new(seed).fork(1 + (task.index() * CLASSES + class) as u64);
    let max_deg = if task == Task::Shapes {
        SHAPE_MAX_DEG[class]
    } else {
        12.0
    };
    let theta = rng.range(-max_deg, max_deg).to_radians();
    let s = rng.range(0.8, 1.15) * if task == Task::Shapes { 1.0 } else { PITCH };
    let (k, a) = (rng.range(-0.12, 0.12), rng.range(0.93, 1.07));
    // Triangular shifts on [-2, 2] px (sum of two uniforms): mostly small, sometimes 2 px.
    let mut shift = || rng.range(-1.0, 1.0) + rng.range(-1.0, 1.0);
    let c = (8.0 + shift(), 8.0 + shift());
    let thick = rng.uniform();
    // Forward linear map M = s·R(θ)·[[1, k], [0, 1]]·diag(a, 1/a), then its inverse.
    let (cs, sn) = (theta.cos(), theta.sin());
    let m = [
        s * cs * a,
        s * (cs * k - sn) / a,
        s * sn * a,
        s * (sn * k + cs) / a,
    ];
    let det = m[0] * m[3] - m[1] * m[2];
    let inv = [m[3] / det, -m[1] / det, -m[2] / det, m[0] / det];
    let mut cov = [0.0f64; PIXELS];
    match task {
        Task::Shapes => {
            rasterize(&Shape::new(class, thick), inv, c, &mut cov);
        }
        _ => {
            let table = match task {
                Task::Digits => &DIGITS,
                Task::Letters => &LETTERS,
                _ => &SYMBOLS,
            };
            // Pen radius 0.65–1.0 px at scale 1, in cell units.
            let rho = (0.65 + 0.35 * thick) / PITCH;
            rasterize(&Strokes::of(&table[class], rho), inv, c, &mut cov);
        }
    }
    blur(&mut cov, rng.range(0.35, 0.85));
    let bg = rng.range(0.0, 0.2);
    let fg = rng.range(0.7, 1.0);
    let noise = rng.range(0.01, 0.06);
    for (o, &v) in out.iter_mut().zip(cov.iter()) {
        *o = (bg + (fg - bg) * v + noise * rng.normal()).clamp(0.0, 1.0) as f32;
    }
    Ok(())
}

/// One `SIZE×SIZE` image (row-major, values in `[0, 1]`, glyph bright on dark) of `class` of
/// `task`, jittered from `seed`. Errors if `class ≥ 10`.
pub fn render(task: Task, class: usize, seed: u64) -> Result<Vec<f32>, String> {
    let mut out = vec![0.0f32; PIXELS];
    render_into(task, class, seed, &mut out)?;
    Ok(out)
}

/// A labelled data set of one task.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// `n` images of `SIZE×SIZE` values in `[0, 1]`, one after the other (`[n, SIZE, SIZE]`).
    pub images: Vec<f32>,
    /// The class (0–9) of each image.
    pub labels: Vec<u8>,
    /// Number of samples.
    pub n: usize,
}

/// `n` samples of `task`: labels `i % 10` shuffled from `seed` (balanced to within one), and
/// sample `i` rendered from a seed derived from `(seed, task, i)`. Use different seeds for
/// training and test sets. Errors if `n` is 0 or above [`MAX_SPLIT`].
pub fn split(task: Task, n: usize, seed: u64) -> Result<Split, String> {
    if n == 0 || n > MAX_SPLIT {
        return Err(format!(
            "glyphs: split n must be in 1..={MAX_SPLIT}, got {n}"
        ));
    }
    let base = Rng::new(seed).fork(0x6c79_7068_0000 + task.index() as u64);
    let mut labels: Vec<u8> = (0..n).map(|i| (i % CLASSES) as u8).collect();
    base.fork(0).shuffle(&mut labels);
    let mut images = vec![0.0f32; n * PIXELS];
    for (i, (img, &label)) in images.chunks_exact_mut(PIXELS).zip(&labels).enumerate() {
        let sample_seed = base.fork(i as u64 + 1).next_u64();
        render_into(task, usize::from(label), sample_seed, img)?;
    }
    Ok(Split { images, labels, n })
}

#[cfg(test)]
mod tests;
