use super::*;

/// Exact Cole–Hopf solution from `phi = a + exp(-4 pi^2 nu t) cos(2 pi x)`, `a > 1`.
fn cole_hopf(n: usize, nu: f64, a: f64, t: f64) -> Vec<f32> {
    let e = (-4.0 * std::f64::consts::PI.powi(2) * nu * t).exp();
    (0..n)
        .map(|j| {
            let th = TAU * j as f64 / n as f64;
            (2.0 * TAU * nu * e * th.sin() / (a + e * th.cos())) as f32
        })
        .collect()
}

fn max_abs(u: &[f32]) -> f64 {
    u.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()))
}

fn max_diff(u: &[f32], w: &[f32]) -> f64 {
    assert_eq!(u.len(), w.len());
    u.iter()
        .zip(w)
        .fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()))
}

fn mean(u: &[f32]) -> f64 {
    u.iter().map(|&x| x as f64).sum::<f64>() / u.len() as f64
}

fn energy(u: &[f32]) -> f64 {
    u.iter().map(|&x| x as f64 * x as f64).sum::<f64>() / u.len() as f64
}

#[test]
fn matches_the_cole_hopf_solution() {
    for &(nu, a) in &[(0.05, 1.2), (0.01, 1.1)] {
        let mut s = Burgers::new(128, nu).unwrap();
        let traj = s.trajectory(&cole_hopf(128, nu, a, 0.0), 0.1, 10).unwrap();
        for (k, u) in traj.iter().enumerate() {
            let exact = cole_hopf(128, nu, a, 0.1 * k as f64);
            let rel = max_diff(u, &exact) / max_abs(&exact);
            assert!(
                rel < 1e-5,
                "nu {nu} a {a} t {}: relative error {rel:.2e}",
                0.1 * k as f64
            );
        }
        // The same through repeated in-place steps of a different length.
        let mut u = cole_hopf(128, nu, a, 0.0);
        for _ in 0..4 {
            s.step(&mut u, 0.25).unwrap();
        }
        let exact = cole_hopf(128, nu, a, 1.0);
        let rel = max_diff(&u, &exact) / max_abs(&exact);
        assert!(rel < 1e-5, "nu {nu} a {a}: step() relative error {rel:.2e}");
    }
}

#[test]
fn mean_is_conserved_energy_and_maximum_decay() {
    let mut u0 = random_initial_condition(128, 4).unwrap();
    u0.iter_mut().for_each(|x| *x += 0.3);
    let mut s = Burgers::new(128, DEFAULT_NU).unwrap();
    let traj = s.trajectory(&u0, DEFAULT_DT, 50).unwrap();
    let (m0, e0) = (mean(&u0), energy(&u0));
    for w in traj.windows(2) {
        assert!(
            (mean(&w[1]) - m0).abs() < 1e-6,
            "mean {} vs {m0}",
            mean(&w[1])
        );
        assert!(energy(&w[1]) <= energy(&w[0]) * (1.0 + 1e-6), "energy grew");
        assert!(max_abs(&w[1]) <= max_abs(&w[0]) + 1e-4, "max |u| grew");
    }
    let last = traj.last().unwrap();
    // Steepening fronts dissipate: the fluctuation energy falls well below its start.
    assert!(energy(last) - m0 * m0 < 0.7 * (e0 - m0 * m0));
    assert!(last.iter().all(|x| x.is_finite()));
}

#[test]
fn converges_under_grid_refinement() {
    let reference = |n: usize, seed: u64| {
        let mut s = Burgers::new(n, DEFAULT_NU).unwrap();
        let u0 = random_initial_condition(n, seed).unwrap();
        s.trajectory(&u0, DEFAULT_DT, 25).unwrap()
    };
    for seed in 0..2 {
        let fine = reference(256, seed);
        let errs: Vec<f64> = [32usize, 64, 128]
            .iter()
            .map(|&n| {
                let coarse = reference(n, seed);
                (0..coarse.len())
                    .map(|k| max_diff(&coarse[k], &resample(&fine[k], n).unwrap()))
                    .fold(0.0, f64::max)
            })
            .collect();
        assert!(errs[2] < 5e-5, "seed {seed}: n=128 vs 256 {:.2e}", errs[2]);
        assert!(
            errs[1] > 3.0 * errs[2] && errs[0] > 3.0 * errs[1],
            "{errs:?}"
        );
    }
}

#[test]
fn resampling_round_trips_and_interpolates() {
    let mut rng = Rng::new(9);
    for &n in &[16usize, 17, 128] {
        let u: Vec<f32> = (0..n).map(|_| rng.range(-1.0, 1.0) as f32).collect();
        let back = resample(&resample(&u, 2 * n).unwrap(), n).unwrap();
        assert!(
            max_diff(&u, &back) < 1e-6,
            "n {n}: {:.2e}",
            max_diff(&u, &back)
        );
        let up = resample(&u, 3 * n + 1).unwrap();
        assert!((mean(&up) - mean(&u)).abs() < 1e-6);
    }
    // The Nyquist mode (-1)^j is the cosine cos(2 pi 4 x) sampled at 8 points.
    let alt: Vec<f32> = (0..8)
        .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let up = resample(&alt, 16).unwrap();
    for (j, &y) in up.iter().enumerate() {
        let exact = (TAU * 4.0 * j as f64 / 16.0).cos();
        assert!((y as f64 - exact).abs() < 1e-6, "{j}: {y} vs {exact}");
    }
    // A band-limited field: interpolation to a finer grid equals sampling there.
    let u = cole_hopf(64, 0.05, 3.0, 0.0);
    let fine = resample(&u, 256).unwrap();
    assert!(max_diff(&fine, &cole_hopf(256, 0.05, 3.0, 0.0)) < 1e-6);
}

#[test]
fn random_initial_conditions_are_resolution_consistent() {
    let mut maxima = Vec::new();
    for seed in 0..200 {
        let u128 = random_initial_condition(128, seed).unwrap();
        let u256 = random_initial_condition(256, seed).unwrap();
        assert!((0..128).all(|j| u128[j].to_bits() == u256[2 * j].to_bits()));
        assert!(max_diff(&resample(&u128, 256).unwrap(), &u256) < 1e-6);
        assert!(max_diff(&resample(&u256, 128).unwrap(), &u128) < 1e-6);
        assert!(mean(&u128).abs() < 1e-6);
        let rms = energy(&u128).sqrt();
        assert!(
            rms > IC_RMS_RANGE.0 - 1e-6 && rms < IC_RMS_RANGE.1 + 1e-6,
            "rms {rms}"
        );
        maxima.push(max_abs(&u128));
    }
    maxima.sort_by(f64::total_cmp);
    let median = maxima[100];
    assert!((0.5..1.5).contains(&median), "median max |u0| {median}");
    // Smooth: only low modes, so 64 points already represent the field exactly.
    let u = random_initial_condition(128, 1).unwrap();
    assert!(max_diff(&resample(&resample(&u, 64).unwrap(), 128).unwrap(), &u) < 1e-6);
}

#[test]
fn deterministic_per_seed() {
    let a = random_initial_condition(128, 5).unwrap();
    assert_eq!(a, random_initial_condition(128, 5).unwrap());
    assert_ne!(a, random_initial_condition(128, 6).unwrap());
    let d1 = dataset(64, DEFAULT_NU, DEFAULT_DT, 4, 3, 11).unwrap();
    let d2 = dataset(64, DEFAULT_NU, DEFAULT_DT, 4, 3, 11).unwrap();
    let d3 = dataset(64, DEFAULT_NU, DEFAULT_DT, 4, 3, 12).unwrap();
    assert_eq!(d1.trajectories, d2.trajectories);
    assert_ne!(d1.trajectories[0], d3.trajectories[0]);
    assert_ne!(d1.trajectories[0][0], d1.trajectories[1][0]);
    // A solver reused after other work gives the same bits as a fresh one.
    let mut used = Burgers::new(128, DEFAULT_NU).unwrap();
    used.trajectory(&random_initial_condition(128, 1).unwrap(), 0.3, 2)
        .unwrap();
    let (mut u, mut w) = (a.clone(), a.clone());
    used.step(&mut u, 0.1).unwrap();
    Burgers::new(128, DEFAULT_NU)
        .unwrap()
        .step(&mut w, 0.1)
        .unwrap();
    assert_eq!(u, w);
    let mut z = a.clone();
    used.step(&mut z, 0.0).unwrap();
    assert_eq!(z, a);
}

#[test]
fn dataset_is_mesh_independent() {
    let (steps, count, seed) = (10, 2, 3);
    let d128 = dataset(128, DEFAULT_NU, DEFAULT_DT, steps, count, seed).unwrap();
    let d256 = dataset(256, DEFAULT_NU, DEFAULT_DT, steps, count, seed).unwrap();
    assert_eq!((d128.n, d128.dt, d128.nu), (128, DEFAULT_DT, DEFAULT_NU));
    assert_eq!(d128.trajectories.len(), count);
    let mut native = Burgers::new(128, DEFAULT_NU).unwrap();
    for i in 0..count {
        let (t128, t256) = (&d128.trajectories[i], &d256.trajectories[i]);
        assert_eq!(t128.len(), steps + 1);
        assert!(t128.iter().all(|u| u.len() == 128) && t256.iter().all(|u| u.len() == 256));
        let ic = random_initial_condition(128, sample_seed(seed, i)).unwrap();
        assert!(max_diff(&t128[0], &ic) < 1e-6);
        let own = native.trajectory(&ic, DEFAULT_DT, steps).unwrap();
        for k in 0..=steps {
            assert!(max_diff(&t128[k], &resample(&t256[k], 128).unwrap()) < 1e-6);
            assert!(max_diff(&t128[k], &own[k]) < 1e-5, "{i} {k}");
        }
    }
}

#[test]
fn bad_arguments_are_errors_naming_them() {
    let has = |r: Result<(), String>, word: &str| {
        let e = r.expect_err(word);
        assert!(e.contains(word), "{e:?} should name {word}");
    };
    has(Burgers::new(100, 0.01).map(|_| ()), "n");
    has(Burgers::new(8, 0.01).map(|_| ()), "n");
    has(Burgers::new(8192, 0.01).map(|_| ()), "n");
    has(Burgers::new(64, 0.0).map(|_| ()), "nu");
    has(Burgers::new(64, f64::NAN).map(|_| ()), "nu");
    let mut s = Burgers::new(64, 0.01).unwrap();
    has(s.set_cfl(0.0), "cfl");
    has(s.set_cfl(11.0), "cfl");
    let mut u = vec![0.0f32; 63];
    has(s.step(&mut u, 0.1), "u");
    let mut u = vec![0.0f32; 64];
    has(s.step(&mut u, -0.1), "dt");
    has(s.step(&mut u, f64::INFINITY), "dt");
    has(s.trajectory(&u, f64::NAN, 3).map(|_| ()), "dt");
    has(s.trajectory(&u[..10], 0.1, 3).map(|_| ()), "u0");
    has(s.trajectory(&u, 0.1, usize::MAX).map(|_| ()), "steps");
    has(random_initial_condition(0, 1).map(|_| ()), "n");
    has(resample(&u, 0).map(|_| ()), "n");
    has(resample(&[], 8).map(|_| ()), "u");
    has(dataset(48, 0.01, 0.1, 2, 2, 0).map(|_| ()), "n");
    has(dataset(64, -1.0, 0.1, 2, 2, 0).map(|_| ()), "nu");
    has(dataset(64, 0.01, -0.1, 2, 2, 0).map(|_| ()), "dt");
    has(
        dataset(64, 0.01, 0.1, 2, usize::MAX, 0).map(|_| ()),
        "count",
    );
}

#[test]
fn blow_up_and_non_finite_input_are_errors() {
    let u0 = random_initial_condition(128, 1).unwrap();
    let mut s = Burgers::new(128, 1e-4).unwrap();
    let mut bad = u0.clone();
    bad[7] = f32::NAN;
    assert!(s.step(&mut bad, 0.1).unwrap_err().contains("non-finite"));
    assert!(resample(&bad, 64).is_err());
    // Far beyond the RK4 stability limit with little viscosity to hide it.
    s.set_cfl(10.0).unwrap();
    let mut u = u0.clone();
    let e = s.step(&mut u, 1.0).unwrap_err();
    assert!(e.contains("blow-up"), "{e}");
    assert_eq!(u, u0, "the field is left unchanged on error");
    // The same run at the default Courant number is fine and stays bounded.
    s.set_cfl(DEFAULT_CFL).unwrap();
    s.step(&mut u, 1.0).unwrap();
    assert!(u.iter().all(|x| x.is_finite()) && max_abs(&u) <= max_abs(&u0) * 1.2);
    // An interval needing more than MAX_SUBSTEPS substeps is refused up front.
    let e = s.step(&mut u, 1e9).unwrap_err();
    assert!(e.contains("dt"), "{e}");
}

#[test]
fn substeps_follow_the_courant_condition() {
    for &(n, cfl, dt) in &[(128usize, 1.0, 0.13), (128, 0.5, 0.13), (256, 1.0, 0.07)] {
        let u0 = cole_hopf(n, 0.05, 1.2, 0.0);
        let mut s = Burgers::new(n, 0.05).unwrap();
        s.set_cfl(cfl).unwrap();
        let x = dt * TAU * ((n - 1) / 3) as f64 * max_abs(&u0) / cfl;
        assert!((x - x.round()).abs() > 1e-3, "pick another dt: {x}");
        let mut u = u0.clone();
        s.step(&mut u, dt).unwrap();
        assert_eq!(s.substeps(), x.ceil() as u64, "n {n} cfl {cfl}");
    }
}

/// Prints the solver's cost per unit of simulated time (run with `--release --nocapture`).
#[test]
fn timing_per_unit_time() {
    for &n in &[128usize, 256] {
        let mut s = Burgers::new(n, DEFAULT_NU).unwrap();
        let (mut best, mut work) = (f64::INFINITY, 0.0);
        for seed in 0..5 {
            let u0 = random_initial_condition(n, seed).unwrap();
            let (k0, start) = (s.substeps(), std::time::Instant::now());
            let traj = s.trajectory(&u0, DEFAULT_DT, 50).unwrap();
            let k = (s.substeps() - k0) as f64;
            best = best.min(start.elapsed().as_secs_f64() / k);
            work += k / (5.0 * 50.0 * DEFAULT_DT);
            let last = traj.last().unwrap();
            assert!(last.iter().all(|x| x.is_finite()));
            assert!(energy(last) < energy(&u0));
        }
        println!(
            "burgers n = {n}: {work:.0} substeps per unit of simulated time x {:.2} us per substep \
             (best) = {:.3} ms per unit of simulated time",
            best * 1e6,
            work * best * 1e3
        );
    }
    let start = std::time::Instant::now();
    let count = if cfg!(debug_assertions) { 1 } else { 10 };
    let d = dataset(128, DEFAULT_NU, DEFAULT_DT, 50, count, 1).unwrap();
    let per_sample = start.elapsed().as_secs_f64() / count as f64;
    println!(
        "burgers dataset n = 128 (solved at {DATASET_SOLVE_N}), 50 steps: {:.3} ms per trajectory",
        per_sample * 1e3
    );
    assert!(
        d.trajectories
            .iter()
            .all(|t| t.len() == 51 && t[50].len() == 128)
    );
}
