//! The four defect kinds, painted onto a texture's reflectance with their coverage.

use super::{Look, cos_turns, irwin_hall, random_sign, sin_turns, smooth, value_noise};
use crate::rng::Rng;

/// The reflectance being damaged and the geometric coverage of the defect's shape.
pub(super) struct Canvas<'a> {
    pub(super) n: usize,
    pub(super) refl: &'a mut [f64],
    pub(super) cov: &'a mut [f32],
}

impl Canvas<'_> {
    /// Pixel ranges `(x0, x1, y0, y1)` (inclusive) covering the box, clipped to the image.
    fn clip(&self, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> (usize, usize, usize, usize) {
        let last = self.n as f64 - 1.0;
        let c = |t: f64| t.floor().clamp(0.0, last) as usize;
        (c(x0), c(x1), c(y0), c(y1))
    }

    /// Over the square of half-side `r` around `(cx, cy)`, sets `(coverage, reflectance)` to
    /// `f(dx, dy, reflectance)`, `(dx, dy)` the offset of the pixel centre from `(cx, cy)`.
    fn paint(&mut self, (cx, cy): (f64, f64), r: f64, f: impl Fn(f64, f64, f64) -> (f64, f64)) {
        let (x0, x1, y0, y1) = self.clip((cx - r, cx + r), (cy - r, cy + r));
        for y in y0..=y1 {
            for x in x0..=x1 {
                let i = y * self.n + x;
                let (alpha, r) = f(x as f64 + 0.5 - cx, y as f64 + 0.5 - cy, self.refl[i]);
                (self.cov[i], self.refl[i]) = (alpha as f32, r);
            }
        }
    }

    /// Adds an anti-aliased stroke of width `w` from `a` to `b` to the coverage.
    fn stroke(&mut self, a: (f64, f64), b: (f64, f64), w: f64) {
        let reach = w / 2.0 + 1.0;
        let (x0, x1, y0, y1) = self.clip(
            (a.0.min(b.0) - reach, a.0.max(b.0) + reach),
            (a.1.min(b.1) - reach, a.1.max(b.1) + reach),
        );
        let (ex, ey) = (b.0 - a.0, b.1 - a.1);
        let len2 = (ex * ex + ey * ey).max(1e-12);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (qx, qy) = (x as f64 + 0.5 - a.0, y as f64 + 0.5 - a.1);
                let t = ((qx * ex + qy * ey) / len2).clamp(0.0, 1.0);
                let d = ((qx - t * ex) * (qx - t * ex) + (qy - t * ey) * (qy - t * ey)).sqrt();
                let c = &mut self.cov[y * self.n + x];
                *c = c.max((w / 2.0 + 0.5 - d).clamp(0.0, 1.0) as f32);
            }
        }
    }

    /// Blends every covered pixel toward `target` with strength `gain`.
    fn blend_coverage(&mut self, target: f64, gain: f64) {
        for (r, &a) in self.refl.iter_mut().zip(self.cov.iter()) {
            *r += a as f64 * gain * (target - *r);
        }
    }
}

/// A random point in the central half of the image.
fn centre(n: usize, rng: &mut Rng) -> (f64, f64) {
    let n = n as f64;
    (rng.range(0.25, 0.75) * n, rng.range(0.25, 0.75) * n)
}

pub(super) fn scratch(cv: &mut Canvas, look: Look, rng: &mut Rng) {
    let (n, s) = (cv.n as f64, cv.n as f64 / 64.0);
    let (cx, cy) = centre(cv.n, rng);
    let turn = rng.range(0.0, 0.5);
    let (dx, dy) = (cos_turns(turn), sin_turns(turn));
    let len = rng.range(0.3, 0.6) * n;
    let width = (rng.range(0.9, 1.6) * s).max(0.9);
    let count = if rng.uniform() < 0.3 { 2 } else { 1 };
    for k in 0..count {
        let (off, l, shift) = match k {
            0 => (0.0, len, 0.0),
            _ => {
                let off = random_sign(rng, 0.5) * (rng.range(2.5, 6.0) * s).max(2.0);
                (off, len * rng.range(0.4, 0.9), rng.range(-0.2, 0.2) * len)
            }
        };
        let (mx, my) = (cx - dy * off + dx * shift, cy + dx * off + dy * shift);
        // Quadratic Bézier through p0, p2 with control point p1 bent off the chord.
        let bend = 2.0 * rng.range(-0.1, 0.1) * l;
        let (hx, hy) = (dx * l / 2.0, dy * l / 2.0);
        let xs = [mx - hx, mx - dy * bend, mx + hx];
        let ys = [my - hy, my + dx * bend, my + hy];
        let bezier = |p: [f64; 3], t: f64| {
            (1.0 - t) * (1.0 - t) * p[0] + 2.0 * (1.0 - t) * t * p[1] + t * t * p[2]
        };
        let at = |t: f64| (bezier(xs, t), bezier(ys, t));
        let steps = ((l / 1.5).ceil() as usize).max(4);
        for i in 0..steps {
            let (t0, t1) = (i as f64 / steps as f64, (i + 1) as f64 / steps as f64);
            let taper = 0.4 + 0.6 * sin_turns((t0 + t1) / 4.0);
            cv.stroke(at(t0), at(t1), width * taper);
        }
    }
    let sign = random_sign(rng, 0.5);
    let target = (look.m + sign * (look.c + rng.range(0.12, 0.3))).clamp(0.0, 1.0);
    cv.blend_coverage(target, rng.range(0.7, 1.0));
}

pub(super) fn hole(cv: &mut Canvas, look: Look, rng: &mut Rng) {
    let s = cv.n as f64 / 64.0;
    let (cx, cy) = centre(cv.n, rng);
    let a = (rng.range(2.5, 6.0) * s).max(2.0);
    let b = a * rng.range(0.55, 1.0);
    let turn = rng.range(0.0, 0.5);
    let (sin, cos) = (sin_turns(turn), cos_turns(turn));
    let edge = (rng.range(1.0, 2.0) * s).max(0.8);
    let dark = (look.m - look.c).max(0.0) * rng.range(0.1, 0.6);
    cv.paint((cx, cy), a + edge + 1.0, |px, py, r| {
        let (lx, ly) = ((cos * px + sin * py) / a, (cos * py - sin * px) / b);
        let rho = (lx * lx + ly * ly).sqrt();
        // (1 − ρ)·√(ab): the signed distance to the outline, roughly, in pixels.
        let alpha = smooth((1.0 - rho) * (a * b).sqrt() / edge + 0.5);
        (alpha, r + alpha * (dark * (0.6 + 0.4 * rho * rho) - r))
    });
}

pub(super) fn stain(cv: &mut Canvas, look: Look, rng: &mut Rng) {
    let s = cv.n as f64 / 64.0;
    let (cx, cy) = centre(cv.n, rng);
    let r0 = (rng.range(4.5, 9.0) * s).max(4.5);
    // (a_k cos φ_k, a_k sin φ_k) for k = 2, 3, 4.
    let harmonics = [(); 3].map(|_| {
        let (a, turn) = (rng.range(-0.1, 0.1), rng.uniform());
        (a * cos_turns(turn), a * sin_turns(turn))
    });
    let e = rng.range(0.25, 0.45);
    let amp = random_sign(rng, 0.5) * (look.c * rng.range(0.6, 1.1)).max(0.06);
    let kappa = rng.range(0.0, 0.4);
    let (key, cell) = (rng.next_u64(), r0 / 2.0);
    cv.paint((cx, cy), r0 * 1.3 * (1.0 + e) + 1.0, |px, py, r| {
        let d = (px * px + py * py).sqrt();
        // cos kφ, sin kφ by powers of e^{iφ}; then cos(kφ + φ_k) = cos kφ cos φ_k − …
        let (c1, s1) = (px / d.max(1e-9), py / d.max(1e-9));
        let (mut ck, mut sk, mut radius) = (c1, s1, 1.0);
        for &(ac, as_) in &harmonics {
            (ck, sk) = (ck * c1 - sk * s1, sk * c1 + ck * s1);
            radius += ck * ac - sk * as_;
        }
        let w = 1.0 - smooth((d / (r0 * radius) - 1.0 + e) / (2.0 * e));
        let mottle = 0.75 + 0.25 * value_noise(px / cell, py / cell, key);
        (w, r + w * (amp * mottle - kappa * (r - look.m)))
    });
}

pub(super) fn crack(cv: &mut Canvas, look: Look, rng: &mut Rng) {
    let (n, s) = (cv.n as f64, cv.n as f64 / 64.0);
    let (cx, cy) = centre(cv.n, rng);
    let heading = rng.uniform();
    let total = rng.range(0.3, 0.55) * n;
    let width = (rng.range(0.8, 1.4) * s).max(0.8);
    let step = s.max(0.75);
    let split = rng.range(0.35, 0.65);
    // (x, y, heading in turns, length, width) of the paths still to walk.
    let mut paths = vec![
        (cx, cy, heading, total * split, width),
        (cx, cy, heading + 0.5, total * (1.0 - split), width),
    ];
    let mut branches = 0;
    while let Some((mut x, mut y, mut th, len, w)) = paths.pop() {
        let (mut turn, mut walked) = (0.0, 0.0);
        while walked < len {
            turn = 0.6 * turn + 0.012 * irwin_hall(rng.next_u64());
            th += turn + 0.012 * irwin_hall(rng.next_u64());
            let (nx, ny) = (x + step * cos_turns(th), y + step * sin_turns(th));
            cv.stroke((x, y), (nx, ny), w * (1.0 - 0.6 * walked / len));
            (x, y, walked) = (nx, ny, walked + step);
            if !(0.0..n).contains(&x) || !(0.0..n).contains(&y) {
                break;
            }
            if branches < 3 && rng.uniform() < 0.04 {
                branches += 1;
                let fork = th + random_sign(rng, 0.5) * rng.range(0.08, 0.18);
                let left = (len - walked) * rng.range(0.3, 0.7) + 2.0 * step;
                paths.push((x, y, fork, left, w * 0.75));
            }
        }
    }
    let dark = (look.m - look.c).max(0.0) * rng.range(0.1, 0.6);
    cv.blend_coverage(dark, 1.0);
}
