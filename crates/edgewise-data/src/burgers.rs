//! The 1-D viscous Burgers' equation on the periodic unit interval, solved pseudo-spectrally,
//! and random smooth initial conditions: data for neural operators that learn
//! `u(t) -> u(t + dt)`.
//!
//! # Model
//!
//! ```text
//! u_t + u u_x = nu u_xx,    x in [0, 1) periodic,    u(x, 0) = u0(x).
//! ```
//!
//! The mean of `u` is conserved, the energy `E = int u^2 dx` decays
//! (`dE/dt = -2 nu int u_x^2 dx`) and `max |u|` never grows (maximum principle). From smooth
//! data the solution steepens into fronts of width about `2 nu / (jump in u)` that then decay.
//!
//! # Discretization
//!
//! Fourier (pseudo-spectral) in space: on `n` points `x_j = j / n` the state is the discrete
//! Fourier transform `v_m`, wavenumbers `k_m = 2 pi m`, `|m| <= n/2`. In spectral space
//!
//! ```text
//! dv_m/dt = L_m v_m + N_m(v),   L_m = -nu k_m^2,   N_m(v) = -(i k_m / 2) P[ FFT( (IFFT P v)^2 ) ]_m
//! ```
//!
//! (the flux form `u u_x = (u^2/2)_x`), where `P` keeps only `|m| <= K = floor((n - 1) / 3)`
//! (the 2/3 rule): the quadratic product of modes up to `K` then aliases only onto discarded
//! modes, so the nonlinear term is alias-free. Modes above `K` are not advected: they only
//! diffuse. The mean (`m = 0`) is untouched by construction.
//!
//! Time: the integrating-factor (Lawson) fourth-order Runge–Kutta scheme, which treats the
//! diffusion exactly. With `E = exp(L h)`, `E2 = exp(L h / 2)`:
//!
//! ```text
//! a = N(v)              b = N(E2 (v + h a / 2))
//! c = N(E2 v + h b / 2) d = N(E v + h E2 c)
//! v <- E v + h (E a + 2 E2 (b + c) + d) / 6
//! ```
//!
//! The caller passes only an output interval `dt`; it is split into equal substeps
//! `h <= cfl / (2 pi K max|u|)` (a Courant condition on the advection speed and the largest
//! advected wavenumber; diffusion needs no bound). `max |u|` is monitored at every substep:
//! if it grows by more than 25 % over the value used to plan, the rest of the interval is
//! re-planned; if it grows beyond ten times its initial value, or turns non-finite, the call
//! returns `Err` and leaves the caller's field untouched (a blow-up guard).
//!
//! Everything is computed in `f64` with FFT plans from `rustfft::FftPlannerScalar`: the same
//! algorithms and operation order on every target (no SIMD-specific code paths), so native
//! and wasm32 results agree bit for bit as far as the targets' `sin`/`cos`/`exp` do (FFT
//! twiddles, integrating factors, initial conditions). Fields cross the API as `f32`. Plans and buffers live in [`Burgers`], so a substep allocates
//! nothing.
//!
//! # Initial conditions
//!
//! [`random_initial_condition`] draws a Gaussian random field in the style of the FNO
//! benchmarks, restricted to the lowest [`IC_MODES`] Fourier modes:
//!
//! ```text
//! u0(x) = s * sum_{m=1..M} sigma_m (xi_m cos 2 pi m x + eta_m sin 2 pi m x),
//! sigma_m = ((2 pi m)^2 + tau^2)^(-alpha/2),   xi, eta ~ N(0, 1),
//! ```
//!
//! with `alpha = 2.5`, `tau = 7`, zero mean, and `s` chosen so that the RMS of `u0` equals a
//! value drawn uniformly from [`IC_RMS_RANGE`] (typical `max |u0|` 0.5–1.2). The field is
//! evaluated from its coefficients at the grid points, so the same seed gives the same
//! continuous function on every grid: samples shared by two grids are bit-identical.
//!
//! # Datasets and mesh independence
//!
//! [`dataset`] draws `count` initial conditions (sample `i` from [`sample_seed`]`(seed, i)`),
//! solves on `max(n, DATASET_SOLVE_N)` points and, for coarser `n`, decimates every snapshot
//! spectrally with [`resample`]. So the trajectories at `n = 128` are exactly the Fourier
//! truncations of those at `n = 256` (up to `f32` rounding): the same functions on two
//! meshes, as a mesh-independence test needs.
//!
//! Defaults ([`DEFAULT_NU`], [`DEFAULT_DT`]): `nu = 0.01`, `dt = 0.02`. Fronts form by
//! `t ~ 0.2` (a front of jump `2U` has the profile `tanh(U x / 2 nu)`: width `2 nu / U`, about
//! 3.5 grid spacings at `n = 128` for `U = 0.75`, `max |u_x| ~ 25`); a 50-step rollout
//! (`t = 1`) ends with decaying sawtooth fronts (`max |u| ~ 0.3`, `max |u_x| ~ 7`), whereas at
//! `dt = 0.05` (`t = 2.5`) little but a smooth, tenfold weaker wave would be left. Solves at
//! `n = 128` and `n = 256` of these data agree to about `1e-5` (tested).

use crate::rng::Rng;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlannerScalar};
use std::f64::consts::TAU;
use std::sync::Arc;

type C64 = Complex<f64>;

/// Default viscosity for the operator-learning data.
pub const DEFAULT_NU: f64 = 0.01;
/// Default output interval (one network step).
pub const DEFAULT_DT: f64 = 0.02;
/// Default Courant number of the internal substeps (`h = cfl / (2 pi K max|u|)`).
pub const DEFAULT_CFL: f64 = 1.0;
/// Number of Fourier modes (`m = 1..=IC_MODES`) in the random initial conditions.
pub const IC_MODES: usize = 16;
/// Spectral decay exponent `alpha` of the initial-condition random field.
pub const IC_ALPHA: f64 = 2.5;
/// Spectral length scale `tau` of the initial-condition random field.
pub const IC_TAU: f64 = 7.0;
/// Range of the RMS value of a random initial condition (drawn uniformly per sample).
pub const IC_RMS_RANGE: (f64, f64) = (0.3, 0.7);
/// [`dataset`] solves on at least this many points and decimates to coarser grids.
pub const DATASET_SOLVE_N: usize = 256;
/// Most internal substeps one call to [`Burgers::step`] may take before giving up.
pub const MAX_SUBSTEPS: u64 = 10_000_000;

const MAX_LEN: usize = 1 << 20;

fn check_grid(n: usize, name: &str) -> Result<(), String> {
    if n.is_power_of_two() && (16..=4096).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "{name} must be a power of two between 16 and 4096, got {n}"
        ))
    }
}

fn check_len(n: usize, name: &str) -> Result<(), String> {
    if (1..=MAX_LEN).contains(&n) {
        Ok(())
    } else {
        Err(format!("{name} must be between 1 and {MAX_LEN}, got {n}"))
    }
}

fn check_field(u: &[f32], n: usize, name: &str) -> Result<(), String> {
    if u.len() != n {
        return Err(format!("{name} must have length {n}, got {}", u.len()));
    }
    if !u.iter().all(|x| x.is_finite()) {
        return Err(format!("{name} contains non-finite values"));
    }
    Ok(())
}

fn check_dt(dt: f64) -> Result<(), String> {
    if dt.is_finite() && dt >= 0.0 {
        Ok(())
    } else {
        Err(format!("dt must be finite and >= 0, got {dt}"))
    }
}

/// FFT plans, scratch and the dealiased nonlinear operator.
struct Spectral {
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
    scratch: Vec<C64>,
    /// `-i k / 2` on kept modes, 0 elsewhere.
    g: Vec<C64>,
    cutoff: usize,
    inv_n: f64,
}

impl Spectral {
    /// `buf <- N(buf)`; returns `max |P u|` of the input (NaN when it is not finite).
    fn nonlinear(&mut self, buf: &mut [C64]) -> f64 {
        let n = buf.len();
        buf[self.cutoff + 1..n - self.cutoff].fill(C64::new(0.0, 0.0));
        self.inv.process_with_scratch(buf, &mut self.scratch);
        let (mut umax, mut sum) = (0.0f64, 0.0f64);
        for z in buf.iter_mut() {
            let u = z.re * self.inv_n;
            umax = umax.max(u.abs());
            sum += u.abs();
            *z = C64::new(u * u, 0.0);
        }
        self.fwd.process_with_scratch(buf, &mut self.scratch);
        for (z, g) in buf.iter_mut().zip(&self.g) {
            *z *= g;
        }
        if sum.is_finite() { umax } else { f64::NAN }
    }
}

/// A pseudo-spectral Burgers solver on `n` periodic points (see the module docs).
pub struct Burgers {
    n: usize,
    nu: f64,
    cfl: f64,
    /// Largest advected wavenumber `2 pi K`.
    kmax: f64,
    spec: Spectral,
    /// `-nu k^2`.
    lin: Vec<f64>,
    e_full: Vec<f64>,
    e_half: Vec<f64>,
    h_cached: f64,
    /// `max |P u|` of the state when `a = N(v)` is current.
    a_umax: Option<f64>,
    substeps: u64,
    v: Vec<C64>,
    a: Vec<C64>,
    b: Vec<C64>,
    c: Vec<C64>,
    d: Vec<C64>,
}

impl Burgers {
    /// A solver on `n` points (a power of two, 16..=4096) with viscosity `nu > 0`.
    pub fn new(n: usize, nu: f64) -> Result<Burgers, String> {
        check_grid(n, "n")?;
        if !(nu.is_finite() && nu > 0.0) {
            return Err(format!("nu must be finite and > 0, got {nu}"));
        }
        let mut planner = FftPlannerScalar::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch_len = fwd
            .get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len());
        let cutoff = (n - 1) / 3;
        let zero = C64::new(0.0, 0.0);
        let mut g = vec![zero; n];
        let mut lin = vec![0.0; n];
        for j in 0..n {
            // Bin j holds the wavenumber 2 pi m, m = j or j - n (|m| <= n/2).
            let m = if 2 * j <= n {
                j as f64
            } else {
                j as f64 - n as f64
            };
            let k = TAU * m;
            lin[j] = -nu * k * k;
            if j.min(n - j) <= cutoff {
                g[j] = C64::new(0.0, -0.5 * k);
            }
        }
        let spec = Spectral {
            fwd,
            inv,
            scratch: vec![zero; scratch_len],
            g,
            cutoff,
            inv_n: 1.0 / n as f64,
        };
        Ok(Burgers {
            n,
            nu,
            cfl: DEFAULT_CFL,
            kmax: TAU * cutoff as f64,
            spec,
            lin,
            e_full: vec![1.0; n],
            e_half: vec![1.0; n],
            h_cached: 0.0,
            a_umax: None,
            substeps: 0,
            v: vec![zero; n],
            a: vec![zero; n],
            b: vec![zero; n],
            c: vec![zero; n],
            d: vec![zero; n],
        })
    }

    /// Number of grid points.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Viscosity.
    pub fn nu(&self) -> f64 {
        self.nu
    }

    /// Current Courant number of the substeps.
    pub fn cfl(&self) -> f64 {
        self.cfl
    }

    /// Total number of internal substeps taken so far (a measure of work).
    pub fn substeps(&self) -> u64 {
        self.substeps
    }

    /// Sets the Courant number (`0 < cfl <= 10`; default [`DEFAULT_CFL`]). RK4 is stable up to
    /// about 2.8; larger values exist to exercise the blow-up guard.
    pub fn set_cfl(&mut self, cfl: f64) -> Result<(), String> {
        if cfl.is_finite() && cfl > 0.0 && cfl <= 10.0 {
            self.cfl = cfl;
            Ok(())
        } else {
            Err(format!("cfl must be in (0, 10], got {cfl}"))
        }
    }

    /// Advances `u` (length `n`) in place by `dt >= 0`. On `Err` (bad arguments, blow-up)
    /// `u` is left unchanged.
    pub fn step(&mut self, u: &mut [f32], dt: f64) -> Result<(), String> {
        check_field(u, self.n, "u")?;
        check_dt(dt)?;
        self.load(u);
        self.advance(dt)?;
        self.store(u)
    }

    /// `[u0, u(dt), ..., u(steps dt)]`. The state is carried in `f64` between snapshots, so
    /// this can differ from repeated [`Burgers::step`] calls by `f32` rounding.
    pub fn trajectory(
        &mut self,
        u0: &[f32],
        dt: f64,
        steps: usize,
    ) -> Result<Vec<Vec<f32>>, String> {
        check_field(u0, self.n, "u0")?;
        check_dt(dt)?;
        if steps.saturating_add(1).saturating_mul(self.n) > 1 << 28 {
            return Err(format!("steps = {steps} is too many for n = {}", self.n));
        }
        self.load(u0);
        let mut out = Vec::with_capacity(steps + 1);
        out.push(u0.to_vec());
        for _ in 0..steps {
            self.advance(dt)?;
            let mut u = vec![0.0f32; self.n];
            self.store(&mut u)?;
            out.push(u);
        }
        Ok(out)
    }

    fn load(&mut self, u: &[f32]) {
        for (z, &x) in self.v.iter_mut().zip(u) {
            *z = C64::new(x as f64, 0.0);
        }
        self.spec
            .fwd
            .process_with_scratch(&mut self.v, &mut self.spec.scratch);
        self.a_umax = None;
    }

    fn store(&mut self, u: &mut [f32]) -> Result<(), String> {
        self.b.copy_from_slice(&self.v);
        self.spec
            .inv
            .process_with_scratch(&mut self.b, &mut self.spec.scratch);
        if !self.b.iter().all(|z| z.re.is_finite()) {
            return Err("blow-up: the solution became non-finite".into());
        }
        for (x, z) in u.iter_mut().zip(&self.b) {
            *x = (z.re * self.spec.inv_n) as f32;
        }
        Ok(())
    }

    /// `a <- N(v)` (unless current); returns `max |P u|`.
    fn stage_a(&mut self) -> f64 {
        if let Some(umax) = self.a_umax {
            return umax;
        }
        self.a.copy_from_slice(&self.v);
        let umax = self.spec.nonlinear(&mut self.a);
        self.a_umax = Some(umax);
        umax
    }

    fn set_factors(&mut self, h: f64) {
        if h == self.h_cached {
            return;
        }
        self.h_cached = h;
        for ((ef, eh), &l) in self.e_full.iter_mut().zip(&mut self.e_half).zip(&self.lin) {
            *ef = (l * h).exp();
            *eh = (0.5 * l * h).exp();
        }
    }

    /// One IF-RK4 substep of length `h` (factors set), with `a = N(v)` already computed.
    fn finish_substep(&mut self, h: f64) {
        self.a_umax = None;
        let hh = 0.5 * h;
        let (ef, eh) = (&self.e_full, &self.e_half);
        for (((b, &v), &a), &e) in self.b.iter_mut().zip(&self.v).zip(&self.a).zip(eh) {
            *b = (v + a * hh) * e;
        }
        self.spec.nonlinear(&mut self.b);
        for (((c, &v), &b), &e) in self.c.iter_mut().zip(&self.v).zip(&self.b).zip(eh) {
            *c = v * e + b * hh;
        }
        self.spec.nonlinear(&mut self.c);
        for ((d, &v), (&c, (&f, &e))) in self
            .d
            .iter_mut()
            .zip(&self.v)
            .zip(self.c.iter().zip(ef.iter().zip(eh)))
        {
            *d = v * f + c * (h * e);
        }
        self.spec.nonlinear(&mut self.d);
        let h6 = h / 6.0;
        for j in 0..self.n {
            let (f, e) = (ef[j], eh[j]);
            let rhs = self.a[j] * f + (self.b[j] + self.c[j]) * (2.0 * e) + self.d[j];
            self.v[j] = self.v[j] * f + rhs * h6;
        }
    }

    /// Advances the spectral state by `dt` (see the module docs for the step control).
    fn advance(&mut self, dt: f64) -> Result<(), String> {
        if dt == 0.0 {
            return Ok(());
        }
        let mut umax = self.stage_a();
        if !umax.is_finite() {
            return Err("blow-up: the solution became non-finite".into());
        }
        let limit = 10.0 * umax;
        let mut left = dt;
        let mut taken = 0u64;
        loop {
            let plan_u = umax;
            let hc = self.cfl / (self.kmax * plan_u);
            let m = (left / hc).ceil().max(1.0);
            if taken as f64 + m > MAX_SUBSTEPS as f64 {
                return Err(format!(
                    "dt = {dt} needs more than {MAX_SUBSTEPS} substeps at max|u| = {plan_u:.3e}"
                ));
            }
            let m = m as u64;
            let h = left / m as f64;
            self.set_factors(h);
            let mut done = 0u64;
            let mut replan = false;
            while done < m {
                self.finish_substep(h);
                done += 1;
                umax = self.stage_a();
                if !umax.is_finite() || umax > limit {
                    return Err(format!(
                        "blow-up: max|u| = {umax:.3e} exceeds 10x its initial value"
                    ));
                }
                if done < m && umax > 1.25 * plan_u {
                    replan = true;
                    break;
                }
            }
            taken += done;
            self.substeps += done;
            if !replan {
                return Ok(());
            }
            left = h * (m - done) as f64;
        }
    }
}

/// The random smooth periodic field of seed `seed` sampled at `x_j = j / n`, `n` in
/// `1..=2^20` (see the module docs: lowest [`IC_MODES`] modes, zero mean).
pub fn random_initial_condition(n: usize, seed: u64) -> Result<Vec<f32>, String> {
    check_len(n, "n")?;
    let mut rng = Rng::new(seed);
    let rms = rng.range(IC_RMS_RANGE.0, IC_RMS_RANGE.1);
    let mut coef = [(0.0f64, 0.0f64); IC_MODES];
    let mut var = 0.0;
    for (m, c) in coef.iter_mut().enumerate() {
        let k = TAU * (m + 1) as f64;
        let sigma = (k * k + IC_TAU * IC_TAU).powf(-0.5 * IC_ALPHA);
        *c = (sigma * rng.normal(), sigma * rng.normal());
        var += 0.5 * (c.0 * c.0 + c.1 * c.1);
    }
    let scale = if var > 0.0 { rms / var.sqrt() } else { 0.0 };
    let u = (0..n)
        .map(|j| {
            let mut s = 0.0;
            for (m, &(a, b)) in coef.iter().enumerate() {
                let x = (((m + 1) * j) % n) as f64 / n as f64;
                let (sn, cs) = (TAU * x).sin_cos();
                s += a * cs + b * sn;
            }
            (scale * s) as f32
        })
        .collect();
    Ok(u)
}

/// Spectral resampling between two fixed lengths, with plans kept for reuse.
struct Resampler {
    from: usize,
    to: usize,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
    src: Vec<C64>,
    dst: Vec<C64>,
    scratch: Vec<C64>,
}

impl Resampler {
    fn new(from: usize, to: usize) -> Resampler {
        let mut planner = FftPlannerScalar::new();
        let fwd = planner.plan_fft_forward(from);
        let inv = planner.plan_fft_inverse(to);
        let len = fwd
            .get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len());
        let zero = C64::new(0.0, 0.0);
        Resampler {
            from,
            to,
            fwd,
            inv,
            src: vec![zero; from],
            dst: vec![zero; to],
            scratch: vec![zero; len],
        }
    }

    fn apply(&mut self, u: &[f32]) -> Vec<f32> {
        let (p, q) = (self.from, self.to);
        for (z, &x) in self.src.iter_mut().zip(u) {
            *z = C64::new(x as f64 / p as f64, 0.0);
        }
        self.fwd
            .process_with_scratch(&mut self.src, &mut self.scratch);
        self.dst.fill(C64::new(0.0, 0.0));
        let half = (p / 2) as i64;
        for m in -half..=half {
            let mut c = self.src[m.rem_euclid(p as i64) as usize];
            if p % 2 == 0 && m.abs() == half {
                c *= 0.5; // the Nyquist mode is a cosine: half at +p/2, half at -p/2
            }
            let keep = if q % 2 == 0 {
                2 * m.abs() <= q as i64
            } else {
                2 * m.abs() < q as i64
            };
            if keep {
                self.dst[m.rem_euclid(q as i64) as usize] += c;
            }
        }
        self.inv
            .process_with_scratch(&mut self.dst, &mut self.scratch);
        self.dst.iter().map(|z| z.re as f32).collect()
    }
}

/// Fourier interpolation (`n > u.len()`) or truncation (`n < u.len()`) of a periodic field to
/// `n` points (`1..=2^20`). The input's Nyquist mode is treated as a cosine, split evenly
/// between `+-len/2`; modes with `|m| > n/2` are dropped and the two halves at `|m| = n/2`
/// (even `n`) are summed, which is what sampling would give. So `n -> 2n -> n` is exact.
pub fn resample(u: &[f32], n: usize) -> Result<Vec<f32>, String> {
    check_len(u.len(), "u.len()")?;
    check_len(n, "n")?;
    if !u.iter().all(|x| x.is_finite()) {
        return Err("u contains non-finite values".into());
    }
    Ok(Resampler::new(u.len(), n).apply(u))
}

/// The seed of sample `i` of a [`dataset`] drawn with `seed` (for [`random_initial_condition`]).
pub fn sample_seed(seed: u64, i: usize) -> u64 {
    Rng::new(seed).fork(i as u64).next_u64()
}

/// Trajectories of the Burgers equation from random initial conditions.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Grid points per field.
    pub n: usize,
    /// Time between consecutive snapshots.
    pub dt: f64,
    /// Viscosity.
    pub nu: f64,
    /// `trajectories[i][t]` is sample `i` at time `t dt`, a field of `n` values.
    pub trajectories: Vec<Vec<Vec<f32>>>,
}

/// `count` trajectories of `steps + 1` snapshots on `n` points (a power of two, 16..=4096),
/// solved on `max(n, DATASET_SOLVE_N)` points and decimated spectrally (module docs).
pub fn dataset(
    n: usize,
    nu: f64,
    dt: f64,
    steps: usize,
    count: usize,
    seed: u64,
) -> Result<Dataset, String> {
    check_grid(n, "n")?;
    check_dt(dt)?;
    let total = count
        .saturating_mul(steps.saturating_add(1))
        .saturating_mul(n);
    if total > 1 << 28 {
        return Err(format!(
            "count * (steps + 1) * n = {total} values is too many (count = {count}, steps = {steps})"
        ));
    }
    let solve_n = n.max(DATASET_SOLVE_N);
    let mut solver = Burgers::new(solve_n, nu)?;
    let mut down = (solve_n != n).then(|| Resampler::new(solve_n, n));
    let mut trajectories = Vec::with_capacity(count);
    for i in 0..count {
        let u0 = random_initial_condition(solve_n, sample_seed(seed, i))?;
        let mut traj = solver
            .trajectory(&u0, dt, steps)
            .map_err(|e| format!("sample {i}: {e}"))?;
        if let Some(r) = down.as_mut() {
            traj = traj.iter().map(|u| r.apply(u)).collect();
        }
        trajectories.push(traj);
    }
    Ok(Dataset {
        n,
        dt,
        nu,
        trajectories,
    })
}

#[cfg(test)]
mod tests;
