//! The Koopman neural operator's demo: initial conditions from a drawing, the reference
//! solver and the error measure.
//!
//! The model (`onnx/kno.onnx`) maps the state `u` of the 1-D viscous Burgers' equation on `n`
//! periodic points to the state one step `dt` later; a rollout calls it `steps` times. Here:
//!
//! - [`initial_condition`]: a smooth periodic curve following points drawn by a user: their
//!   periodic linear interpolant on a fine grid, cut to its lowest `modes` Fourier modes
//!   (with `edgewise_data::burgers::resample`) and sampled at `x_j = j / n`, so the model sees
//!   the band-limited fields it was trained on;
//! - [`solve`]: the reference trajectory `[u0, u(dt), …, u(steps·dt)]` from
//!   `edgewise_data::burgers::Burgers`, the solver that made the training data;
//! - [`relative_l2`]: `‖a − b‖₂ / ‖b‖₂`, the error of a prediction `a` against a reference `b`.
//!
//! Every function validates its arguments and returns `Err` naming the problem; none panics.

use edgewise_data::burgers::{self, Burgers};

/// Default number of Fourier modes kept by [`initial_condition`] (as in the training data).
pub const DEFAULT_MODES: usize = burgers::IC_MODES;
/// The fine grid on which drawn points are interpolated before the low-pass.
pub const FINE: usize = 2048;
/// Most Fourier modes [`initial_condition`] keeps.
pub const MAX_MODES: usize = FINE / 2 - 1;
/// Most points [`initial_condition`] accepts.
pub const MAX_POINTS: usize = 1 << 20;
/// Largest grid of [`initial_condition`].
pub const MAX_N: usize = 1 << 16;
/// Most steps [`solve`] takes.
pub const MAX_STEPS: usize = 10_000;
/// Most values (`(steps + 1) · n`) of a trajectory from [`solve`] (64 MiB of `f32`).
pub const MAX_VALUES: usize = 1 << 24;

/// The smooth periodic field on `n` points (`x_j = j / n`) that follows `points`
/// (`(x, u)` pairs; `x` is taken modulo 1, in any order): the periodic piecewise-linear
/// interpolant of the points (points at the same `x` are averaged; one point gives a
/// constant), sampled on [`FINE`] points, keeping only Fourier modes `|m| ≤ modes`. With
/// `zero_mean` the mean is removed (the training data have zero mean; Burgers' equation
/// conserves it, a non-zero mean makes the whole field drift).
/// Errors on no points, a non-finite coordinate, `n` outside `1..=MAX_N` or `modes` outside
/// `1..=MAX_MODES`.
pub fn initial_condition(
    points: &[(f64, f64)],
    n: usize,
    modes: usize,
    zero_mean: bool,
) -> Result<Vec<f32>, String> {
    if points.is_empty() {
        return Err("points: draw at least one point".into());
    }
    if points.len() > MAX_POINTS {
        return Err(format!(
            "points: at most {MAX_POINTS} points, got {}",
            points.len()
        ));
    }
    if let Some(i) = points
        .iter()
        .position(|(x, u)| !x.is_finite() || !u.is_finite())
    {
        return Err(format!(
            "points: point {i} ({}, {}) is not finite",
            points[i].0, points[i].1
        ));
    }
    if n == 0 || n > MAX_N {
        return Err(format!("n must be in 1..={MAX_N}, got {n}"));
    }
    if modes == 0 || modes > MAX_MODES {
        return Err(format!("modes must be in 1..={MAX_MODES}, got {modes}"));
    }
    let fine = linear_periodic(points, FINE);
    let band = burgers::resample(&fine, 2 * modes + 1)?;
    let mut u = burgers::resample(&band, n)?;
    if zero_mean {
        let mean = u.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        for v in &mut u {
            *v = (*v as f64 - mean) as f32;
        }
    }
    Ok(u)
}

/// The periodic linear interpolant of finite `points` (non-empty) sampled at `j / m`.
fn linear_periodic(points: &[(f64, f64)], m: usize) -> Vec<f32> {
    let mut p: Vec<(f64, f64)> = points
        .iter()
        .map(|&(x, u)| (x.rem_euclid(1.0) % 1.0, u))
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Average the points that share an abscissa.
    let mut knots: Vec<(f64, f64, usize)> = Vec::with_capacity(p.len());
    for (x, u) in p {
        match knots.last_mut() {
            Some(k) if x - k.0 <= 1e-12 => {
                k.1 += u;
                k.2 += 1;
            }
            _ => knots.push((x, u, 1)),
        }
    }
    let knots: Vec<(f64, f64)> = knots
        .into_iter()
        .map(|(x, s, c)| (x, s / c as f64))
        .collect();
    let k = knots.len();
    let mut out = Vec::with_capacity(m);
    // `seg`: the knot at or before the sample (k − 1 before the first knot, wrapping).
    let mut seg = k - 1;
    let mut next = 0;
    for j in 0..m {
        let t = j as f64 / m as f64;
        while next < k && knots[next].0 <= t {
            seg = next;
            next += 1;
        }
        let (x0, u0) = knots[seg];
        let (x1, u1) = knots[(seg + 1) % k];
        // Unwrap the segment so that x0 <= t < x1 on the real line.
        let x0 = if x0 > t { x0 - 1.0 } else { x0 };
        let x1 = if x1 <= x0 { x1 + 1.0 } else { x1 };
        let len = x1 - x0;
        let u = if k == 1 || len <= 0.0 {
            u0
        } else {
            u0 + (u1 - u0) * ((t - x0) / len)
        };
        out.push(u as f32);
    }
    out
}

/// The reference trajectory `[u0, u(dt), …, u(steps·dt)]` of Burgers' equation with viscosity
/// `nu` from `u0` on `u0.len()` points (a power of two, 16..=4096).
/// Errors on a bad grid, a non-finite value, `nu ≤ 0`, a negative `dt`, more than
/// [`MAX_STEPS`] steps or [`MAX_VALUES`] values, or a blow-up (see `edgewise_data::burgers`).
pub fn solve(u0: &[f32], nu: f64, dt: f64, steps: usize) -> Result<Vec<Vec<f32>>, String> {
    if steps > MAX_STEPS {
        return Err(format!("steps must be at most {MAX_STEPS}, got {steps}"));
    }
    if (steps + 1).saturating_mul(u0.len()) > MAX_VALUES {
        return Err(format!(
            "{steps} steps of {} points is more than {MAX_VALUES} values",
            u0.len()
        ));
    }
    let mut solver = Burgers::new(u0.len(), nu).map_err(|e| format!("u0: {e}"))?;
    solver.trajectory(u0, dt, steps)
}

/// `‖a − b‖₂ / ‖b‖₂` of a prediction `a` against a reference `b` (in `f64`). A zero
/// reference gives 0 when `a` is zero too, infinity otherwise.
/// Errors when the lengths differ, are zero, or a value is not finite.
pub fn relative_l2(a: &[f32], b: &[f32]) -> Result<f64, String> {
    if a.len() != b.len() {
        return Err(format!(
            "relative_l2: the prediction has {} values and the reference {}",
            a.len(),
            b.len()
        ));
    }
    if a.is_empty() {
        return Err("relative_l2: the fields are empty".into());
    }
    for (name, v) in [("prediction", a), ("reference", b)] {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(format!(
                "relative_l2: the {name}'s value {} at index {i} is not finite",
                v[i]
            ));
        }
    }
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        num += (x as f64 - y as f64).powi(2);
        den += (y as f64).powi(2);
    }
    Ok(match (num == 0.0, den == 0.0) {
        (true, _) => 0.0,
        (false, true) => f64::INFINITY,
        (false, false) => (num / den).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    /// The periodic linear interpolant of sorted, distinct-abscissa points, by search.
    fn naive_interp(p: &[(f64, f64)], t: f64) -> f64 {
        let k = p.len();
        for i in 0..k {
            let (x0, u0) = p[i];
            let (x1, u1) = if i + 1 < k {
                p[i + 1]
            } else {
                (p[0].0 + 1.0, p[0].1)
            };
            for shift in [0.0, -1.0] {
                let (a, b) = (x0 + shift, x1 + shift);
                if a <= t && t < b {
                    return u0 + (u1 - u0) * (t - a) / (b - a);
                }
            }
        }
        unreachable!("t = {t} in no segment")
    }

    /// Naive DFT low-pass of the fine samples, evaluated at `j / n`.
    fn naive_lowpass(fine: &[f64], modes: usize, n: usize) -> Vec<f64> {
        let m = fine.len();
        let coef: Vec<(f64, f64)> = (0..=modes)
            .map(|k| {
                let (mut re, mut im) = (0.0, 0.0);
                for (j, &f) in fine.iter().enumerate() {
                    let a = TAU * (k * j) as f64 / m as f64;
                    re += f * a.cos();
                    im -= f * a.sin();
                }
                (re / m as f64, im / m as f64)
            })
            .collect();
        (0..n)
            .map(|j| {
                let x = j as f64 / n as f64;
                let mut s = coef[0].0;
                for (k, &(re, im)) in coef.iter().enumerate().skip(1) {
                    let a = TAU * k as f64 * x;
                    s += 2.0 * (re * a.cos() - im * a.sin());
                }
                s
            })
            .collect()
    }

    #[test]
    fn initial_condition_is_the_low_passed_interpolant_of_the_points() {
        // Unsorted, some outside [0, 1), uneven spacing.
        let pts: [(f64, f64); 6] = [
            (0.9, 0.3),
            (0.1, -0.5),
            (1.35, 0.8),
            (0.6, -0.2),
            (-0.2, 0.1),
            (0.47, 0.0),
        ];
        let mut sorted: Vec<(f64, f64)> =
            pts.iter().map(|&(x, u)| (x.rem_euclid(1.0), u)).collect();
        sorted.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        let fine: Vec<f64> = (0..FINE)
            .map(|j| naive_interp(&sorted, j as f64 / FINE as f64))
            .collect();
        for (n, modes) in [(128, 16), (256, 16), (64, 5)] {
            let got = initial_condition(&pts, n, modes, false).unwrap();
            let want = naive_lowpass(&fine, modes, n);
            assert_eq!(got.len(), n);
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (*g as f64 - w).abs() < 2e-5,
                    "n {n} modes {modes} x_{j}: {g} vs {w}"
                );
            }
        }
        let z = initial_condition(&pts, 128, 16, true).unwrap();
        let mean: f64 = z.iter().map(|&v| v as f64).sum::<f64>() / 128.0;
        assert!(mean.abs() < 1e-6, "{mean}");
        let plain = initial_condition(&pts, 128, 16, false).unwrap();
        let shift = plain[0] - z[0];
        assert!(
            plain
                .iter()
                .zip(&z)
                .all(|(p, q)| (p - q - shift).abs() < 1e-5)
        );
    }

    #[test]
    fn a_drawn_band_limited_curve_comes_back() {
        // 300 points of a field with modes 1 and 3: interpolation error only (~h²).
        let f = |x: f64| 0.6 * (TAU * x).sin() + 0.25 * (3.0 * TAU * x).cos();
        let pts: Vec<(f64, f64)> = (0..300)
            .map(|i| {
                let x = (i as f64 + 0.3) / 300.0;
                (x, f(x))
            })
            .collect();
        let u = initial_condition(&pts, 256, 16, false).unwrap();
        for (j, &v) in u.iter().enumerate() {
            let w = f(j as f64 / 256.0);
            assert!((v as f64 - w).abs() < 2e-3, "x_{j}: {v} vs {w}");
        }
    }

    #[test]
    fn one_point_is_a_constant_and_duplicates_are_averaged() {
        let u = initial_condition(&[(0.3, 0.7)], 32, 16, false).unwrap();
        assert!(u.iter().all(|&v| (v - 0.7).abs() < 1e-6), "{u:?}");
        let u = initial_condition(&[(0.5, 1.0), (0.5, 0.0), (1.5, -1.0)], 32, 4, false).unwrap();
        // One knot at 0.5 with value (1 + 0 - 1) / 3 = 0: the constant 0.
        assert!(u.iter().all(|v| v.abs() < 1e-6), "{u:?}");
    }

    #[test]
    fn initial_condition_rejects_bad_input_with_a_named_problem() {
        assert!(
            initial_condition(&[], 128, 16, false)
                .unwrap_err()
                .contains("at least one")
        );
        let e = initial_condition(&[(0.1, 0.0), (f64::NAN, 1.0)], 128, 16, false).unwrap_err();
        assert!(e.contains("point 1"), "{e}");
        assert!(
            initial_condition(&[(0.1, 0.0)], 0, 16, false)
                .unwrap_err()
                .contains("n must")
        );
        assert!(
            initial_condition(&[(0.1, 0.0)], 64, 0, false)
                .unwrap_err()
                .contains("modes")
        );
        assert!(initial_condition(&[(0.1, 0.0)], 64, MAX_MODES + 1, false).is_err());
    }

    /// Burgers' equation solved exactly by the Cole–Hopf transform for
    /// `u0 = A sin 2πx`: `u = −2ν φ_x / φ`, `φ` the heat flow of
    /// `φ0 = exp(A cos 2πx / (4πν))`, from its Fourier coefficients (naive DFT).
    fn cole_hopf(amp: f64, nu: f64, t: f64, n: usize) -> Vec<f64> {
        let m = 256;
        let phi0: Vec<f64> = (0..m)
            .map(|j| (amp * (TAU * j as f64 / m as f64).cos() / (2.0 * TAU * nu)).exp())
            .collect();
        // φ0 is even: cosine coefficients a_k.
        let a: Vec<f64> = (0..40)
            .map(|k| {
                let s: f64 = phi0
                    .iter()
                    .enumerate()
                    .map(|(j, &p)| p * (TAU * (k * j) as f64 / m as f64).cos())
                    .sum();
                s / m as f64
            })
            .collect();
        (0..n)
            .map(|j| {
                let x = j as f64 / n as f64;
                let (mut phi, mut phix) = (a[0], 0.0);
                for (k, &ak) in a.iter().enumerate().skip(1) {
                    let kk = TAU * k as f64;
                    let d = ak * (-nu * kk * kk * t).exp();
                    phi += 2.0 * d * (kk * x).cos();
                    phix -= 2.0 * d * kk * (kk * x).sin();
                }
                -2.0 * nu * phix / phi
            })
            .collect()
    }

    #[test]
    fn solve_matches_the_cole_hopf_solution() {
        let (amp, nu, dt, steps, n) = (0.5, 0.05, 0.05, 8, 64);
        let u0: Vec<f32> = (0..n)
            .map(|j| (amp * (TAU * j as f64 / n as f64).sin()) as f32)
            .collect();
        let traj = solve(&u0, nu, dt, steps).unwrap();
        assert_eq!(traj.len(), steps + 1);
        assert_eq!(traj[0], u0);
        for (s, u) in traj.iter().enumerate() {
            let want = cole_hopf(amp, nu, s as f64 * dt, n);
            let worst = u
                .iter()
                .zip(&want)
                .map(|(&g, w)| (g as f64 - w).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-4, "step {s}: off by {worst}");
        }
        // The exact solution decays: the check above is not of a constant field.
        let last = cole_hopf(amp, nu, steps as f64 * dt, n);
        assert!(last.iter().fold(0.0f64, |m, v| m.max(v.abs())) < 0.45);
    }

    #[test]
    fn solve_rejects_bad_input_with_a_named_problem() {
        let u = vec![0.1f32; 100];
        assert!(
            solve(&u, 0.01, 0.02, 5)
                .unwrap_err()
                .contains("power of two")
        );
        let u = vec![0.1f32; 64];
        assert!(solve(&u, 0.0, 0.02, 5).unwrap_err().contains("nu"));
        assert!(solve(&u, 0.01, -1.0, 5).unwrap_err().contains("dt"));
        assert!(
            solve(&u, 0.01, 0.02, MAX_STEPS + 1)
                .unwrap_err()
                .contains("steps")
        );
        let mut bad = u.clone();
        bad[3] = f32::NAN;
        assert!(
            solve(&bad, 0.01, 0.02, 5)
                .unwrap_err()
                .contains("non-finite")
        );
    }

    #[test]
    fn relative_l2_is_the_ratio_of_norms() {
        let b = [3.0f32, 4.0, 0.0];
        let a = [3.0f32, 1.0, 4.0];
        // ‖a − b‖ = √(0 + 9 + 16) = 5, ‖b‖ = 5.
        assert!((relative_l2(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(relative_l2(&b, &b).unwrap(), 0.0);
        assert_eq!(relative_l2(&[0.0, 0.0], &[0.0, 0.0]).unwrap(), 0.0);
        assert_eq!(
            relative_l2(&[1.0, 0.0], &[0.0, 0.0]).unwrap(),
            f64::INFINITY
        );
        // a − b = (1.5, 2, 0.5).
        let want = ((1.5f64 * 1.5 + 4.0 + 0.25).sqrt()) / 5.0;
        let got = relative_l2(&[4.5, 6.0, 0.5], &b).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert!(relative_l2(&a, &[1.0]).unwrap_err().contains("3 values"));
        assert!(relative_l2(&[], &[]).unwrap_err().contains("empty"));
        assert!(
            relative_l2(&[f32::NAN], &[1.0])
                .unwrap_err()
                .contains("prediction")
        );
    }
}
