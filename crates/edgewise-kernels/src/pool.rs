//! 2-D max pooling over one channel plane, separably: the maximum over each window's rows,
//! whole input rows at a time (contiguous, vectorized), then over each window's columns of
//! those, with the horizontal stride. `kh + kw` comparisons per output instead of `kh · kw`,
//! and the scalar, strided pass only runs over the output's rows.

/// The geometry of one pooling: input plane, window, strides, padding before, output plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// Input rows and columns.
    pub input: (usize, usize),
    /// Window rows and columns.
    pub kernel: (usize, usize),
    /// Vertical and horizontal strides.
    pub stride: (usize, usize),
    /// Padding rows above and columns to the left.
    pub pad: (usize, usize),
    /// Output rows and columns.
    pub output: (usize, usize),
}

#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

impl Pool2d {
    /// The first input index and the count of in-range window positions of output `o` along
    /// one axis.
    fn window(o: usize, stride: usize, pad: usize, kernel: usize, len: usize) -> (usize, usize) {
        let start = (o * stride) as isize - pad as isize;
        let lo = start.max(0) as usize;
        let hi = ((start + kernel as isize).max(0) as usize).min(len);
        (lo, hi.saturating_sub(lo))
    }

    /// Max-pools one plane `x` (`input.0 × input.1`, row-major) into `y` (`output.0 ×
    /// output.1`). `cols` is scratch of `output.0 × input.1` values. A window with no input
    /// inside gives `-∞`.
    pub fn run(&self, x: &[f32], y: &mut [f32], cols: &mut [f32]) {
        let (h, w) = self.input;
        let ow = self.output.1;
        for (oy, cr) in cols.chunks_exact_mut(w).enumerate().take(self.output.0) {
            let (lo, n) = Self::window(oy, self.stride.0, self.pad.0, self.kernel.0, h);
            cr.fill(f32::NEG_INFINITY);
            for xr in x.chunks_exact(w).skip(lo).take(n) {
                for (o, v) in cr.iter_mut().zip(xr) {
                    *o = max(*o, *v);
                }
            }
        }
        for (cr, yr) in cols.chunks_exact(w).zip(y.chunks_exact_mut(ow)) {
            for (ox, o) in yr.iter_mut().enumerate() {
                let (lo, n) = Self::window(ox, self.stride.1, self.pad.1, self.kernel.1, w);
                *o = cr[lo..lo + n]
                    .iter()
                    .fold(f32::NEG_INFINITY, |m, v| max(m, *v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(p: &Pool2d, x: &[f32]) -> Vec<f32> {
        let mut y = vec![f32::NEG_INFINITY; p.output.0 * p.output.1];
        for oy in 0..p.output.0 {
            for ox in 0..p.output.1 {
                for ky in 0..p.kernel.0 {
                    for kx in 0..p.kernel.1 {
                        let iy = (oy * p.stride.0 + ky) as isize - p.pad.0 as isize;
                        let ix = (ox * p.stride.1 + kx) as isize - p.pad.1 as isize;
                        if iy >= 0
                            && ix >= 0
                            && (iy as usize) < p.input.0
                            && (ix as usize) < p.input.1
                        {
                            let v = x[iy as usize * p.input.1 + ix as usize];
                            let o = &mut y[oy * p.output.1 + ox];
                            *o = o.max(v);
                        }
                    }
                }
            }
        }
        y
    }

    #[test]
    fn matches_the_window_by_window_maximum() {
        let cases = [
            // 3×3 stride 2 (squeezenet), with ceil-mode overhang on the far side.
            Pool2d {
                input: (11, 11),
                kernel: (3, 3),
                stride: (2, 2),
                pad: (0, 0),
                output: (6, 6),
            },
            // 3×3 stride 1 padded (inception), 2×2 stride 2, non-square.
            Pool2d {
                input: (7, 9),
                kernel: (3, 3),
                stride: (1, 1),
                pad: (1, 1),
                output: (7, 9),
            },
            Pool2d {
                input: (8, 6),
                kernel: (2, 2),
                stride: (2, 2),
                pad: (0, 0),
                output: (4, 3),
            },
            Pool2d {
                input: (5, 12),
                kernel: (2, 4),
                stride: (1, 3),
                pad: (1, 2),
                output: (5, 5),
            },
        ];
        for p in cases {
            let x: Vec<f32> = (0..p.input.0 * p.input.1)
                .map(|i| ((i * 7919) % 101) as f32 - 50.0)
                .collect();
            let mut y = vec![0.0; p.output.0 * p.output.1];
            let mut cols = vec![0.0; p.output.0 * p.input.1];
            p.run(&x, &mut y, &mut cols);
            assert_eq!(y, naive(&p, &x), "{p:?}");
        }
    }
}
