//! The CPU reference kernels: FFTs along each axis (`rustfft`, planned once per call), channel
//! mixing of the kept bins, and the Hermitian completion irfft implies before the inverse.

use rustfft::FftPlanner;

use super::{C32, Dims};

/// Overwrites `row` with the full spectrum of a real signal of its length whose first bins
/// are `bins`, reading them as irfft does (real part only at DC and Nyquist).
fn hermitian(bins: &[C32], row: &mut [C32]) {
    let n = row.len();
    row.fill(C32::default());
    for (k, &z) in bins.iter().enumerate() {
        if k == 0 || 2 * k == n {
            row[k] = C32::new(z.re, 0.0);
        } else {
            row[k] = z;
            row[n - k] = z.conj();
        }
    }
}

fn complex(x: &[f32]) -> Vec<C32> {
    x.iter().map(|&v| C32::new(v, 0.0)).collect()
}

pub(super) fn conv1d(x: &[f32], w: &[C32], d: &Dims) -> Vec<f32> {
    let (l, modes) = (d.w, d.m2);
    let mut planner = FftPlanner::<f32>::new();
    let mut spec = complex(x);
    let mut out = vec![C32::default(); d.b * d.cout * l];
    if out.is_empty() || spec.is_empty() {
        return vec![0.0; out.len()];
    }
    planner.plan_fft_forward(l).process(&mut spec);
    let mut acc = vec![C32::default(); d.cout * modes];
    for b in 0..d.b {
        acc.fill(C32::default());
        for i in 0..d.cin {
            let xs = &spec[(b * d.cin + i) * l..][..modes];
            for o in 0..d.cout {
                let ws = &w[(i * d.cout + o) * modes..][..modes];
                for ((a, &xv), &wv) in acc[o * modes..][..modes].iter_mut().zip(xs).zip(ws) {
                    *a += xv * wv;
                }
            }
        }
        for o in 0..d.cout {
            hermitian(
                &acc[o * modes..][..modes],
                &mut out[(b * d.cout + o) * l..][..l],
            );
        }
    }
    planner.plan_fft_inverse(l).process(&mut out);
    let scale = 1.0 / l as f32;
    out.iter().map(|z| z.re * scale).collect()
}

pub(super) fn conv2d(x: &[f32], w: &[C32], d: &Dims) -> Vec<f32> {
    let Dims {
        b,
        cin,
        cout,
        h,
        w: wd,
        m1,
        m2,
    } = *d;
    let len = b * cout * h * wd;
    if len == 0 || x.is_empty() {
        return vec![0.0; len];
    }
    let mut planner = FftPlanner::<f32>::new();
    // Along W for every row, then along H for the kept columns, laid out [b·cin, m2, H].
    let mut rows = complex(x);
    planner.plan_fft_forward(wd).process(&mut rows);
    let mut cols = vec![C32::default(); b * cin * m2 * h];
    for bc in 0..b * cin {
        for y in 0..h {
            for (c, &z) in rows[(bc * h + y) * wd..][..m2].iter().enumerate() {
                cols[(bc * m2 + c) * h + y] = z;
            }
        }
    }
    drop(rows);
    let fwd_h = planner.plan_fft_forward(h);
    let inv_h = planner.plan_fft_inverse(h);
    fwd_h.process(&mut cols);
    // Mixing the kept rows into output columns, [b·cout, m2, H].
    let mut ycols = vec![C32::default(); b * cout * m2 * h];
    let per_block = m1 * m2;
    for bb in 0..b {
        for i in 0..cin {
            for o in 0..cout {
                for rr in 0..2 * m1 {
                    let (block, r) = (rr / m1, rr % m1);
                    let row = if block == 0 { r } else { h - m1 + r };
                    let wb = ((block * cin + i) * cout + o) * per_block + r * m2;
                    for (c, &wv) in w[wb..][..m2].iter().enumerate() {
                        let xv = cols[((bb * cin + i) * m2 + c) * h + row];
                        ycols[((bb * cout + o) * m2 + c) * h + row] += xv * wv;
                    }
                }
            }
        }
    }
    drop(cols);
    inv_h.process(&mut ycols);
    let mut out = vec![C32::default(); len];
    let mut bins = vec![C32::default(); m2];
    for bo in 0..b * cout {
        for y in 0..h {
            for (c, bin) in bins.iter_mut().enumerate() {
                *bin = ycols[(bo * m2 + c) * h + y];
            }
            hermitian(&bins, &mut out[(bo * h + y) * wd..][..wd]);
        }
    }
    planner.plan_fft_inverse(wd).process(&mut out);
    let scale = 1.0 / (h * wd) as f32;
    out.iter().map(|z| z.re * scale).collect()
}
