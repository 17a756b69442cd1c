use super::*;
use rustfft::{FftPlanner, num_complex::Complex};

const N: usize = 64;

fn diff(a: &Sample, b: &Sample) -> Vec<f32> {
    a.image.iter().zip(&b.image).map(|(x, y)| x - y).collect()
}

fn mean_std(v: &[f32]) -> (f64, f64) {
    let m = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

#[test]
fn names_round_trip() {
    for f in Family::ALL {
        assert_eq!(Family::from_name(f.name()), Some(f));
        assert_eq!(Family::from_name(&f.name().to_uppercase()), Some(f));
    }
    for d in Defect::ALL {
        assert_eq!(Defect::from_name(d.name()), Some(d));
    }
    assert_eq!(Family::from_name("marble"), None);
    assert_eq!(Defect::from_name(""), None);
}

#[test]
fn polynomial_sines_and_noise_are_accurate() {
    let mut rng = Rng::new(5);
    let mut worst = 0.0f64;
    for _ in 0..20_000 {
        let t = rng.range(-300.0, 300.0);
        let tau = std::f64::consts::TAU * t;
        worst = worst.max((sin_turns(t) - tau.sin()).abs());
        worst = worst.max((cos_turns(t) - tau.cos()).abs());
    }
    assert!(worst < 1e-9, "sin_turns off by {worst}");
    let z: Vec<f32> = (0..100_000)
        .map(|_| irwin_hall(rng.next_u64()) as f32)
        .collect();
    let (m, sd) = mean_std(&z);
    assert!(
        m.abs() < 0.01 && (sd - 1.0).abs() < 0.01,
        "noise mean {m} sd {sd}"
    );
}

#[test]
fn same_seed_same_bits_other_seed_other_image() {
    for f in Family::ALL {
        for d in [None, Some(Defect::Crack), Some(Defect::Stain)] {
            let a = sample(f, d, N, 42).unwrap();
            let b = sample(f, d, N, 42).unwrap();
            assert!(
                a.image
                    .iter()
                    .zip(&b.image)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
            assert_eq!(a.mask, b.mask);
            let c = sample(f, d, N, 43).unwrap();
            let (_, spread) = mean_std(&diff(&a, &c));
            assert!(spread > 0.02, "{}: seeds 42 and 43 too alike", f.name());
        }
    }
}

#[test]
fn values_in_range_and_clean_masks_empty_at_any_size() {
    for size in [16, 37, 64, 128] {
        for (k, f) in Family::ALL.into_iter().enumerate() {
            let s = sample(f, None, size, k as u64).unwrap();
            assert_eq!(
                (s.size, s.image.len(), s.mask.len()),
                (size, size * size, size * size)
            );
            assert!(s.image.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(s.mask.iter().all(|&m| m == 0.0) && !s.is_defective());
            let (_, std) = mean_std(&s.image);
            assert!(std > 0.04, "{} at {size}: flat image (std {std})", f.name());
            for d in Defect::ALL {
                let s = sample(f, Some(d), size, k as u64).unwrap();
                assert!(s.image.iter().all(|v| (0.0..=1.0).contains(v)));
                assert!(s.mask.iter().all(|&m| m == 0.0 || m == 1.0));
                assert!(
                    s.mask_fraction() > 0.0,
                    "{} {} at {size}",
                    f.name(),
                    d.name()
                );
            }
        }
    }
}

#[test]
fn bad_arguments_are_errors_naming_them() {
    for size in [0, 15, 513, 10_000] {
        let e = sample(Family::Grid, None, size, 0).unwrap_err();
        assert!(e.starts_with("size"), "{e}");
        assert!(
            clean_set(&Family::ALL, 2, size, 0)
                .unwrap_err()
                .starts_with("size")
        );
        assert!(
            test_set(&Family::ALL, 2, size, 0.5, 0)
                .unwrap_err()
                .starts_with("size")
        );
    }
    assert!(clean_set(&[], 2, N, 0).unwrap_err().starts_with("families"));
    assert!(
        test_set(&[], 2, N, 0.5, 0)
            .unwrap_err()
            .starts_with("families")
    );
    for bad in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
        let e = test_set(&Family::ALL, 4, N, bad, 0).unwrap_err();
        assert!(e.starts_with("defect_fraction"), "{e}");
    }
}

/// Bounding box (width, height) of the mask.
fn mask_box(mask: &[f32], n: usize) -> (usize, usize) {
    let (mut x0, mut x1, mut y0, mut y1) = (n, 0, n, 0);
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m > 0.0) {
        let (x, y) = (i % n, i / n);
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    (x1 + 1 - x0, y1 + 1 - y0)
}

#[test]
fn defects_change_the_image_only_inside_their_masks() {
    let (mut hit, mut inside, mut strong) = (0.0, 0.0, 0.0);
    for seed in 0..12u64 {
        for f in Family::ALL {
            let clean = sample(f, None, N, seed).unwrap();
            let (_, texture_std) = mean_std(&clean.image);
            for d in Defect::ALL {
                let s = sample(f, Some(d), N, seed).unwrap();
                let what = format!("{} {} seed {seed}", f.name(), d.name());
                let delta = diff(&s, &clean);
                // Outside the mask the image is the clean one up to the threshold.
                for (dv, m) in delta.iter().zip(&s.mask) {
                    assert!(
                        *m == 1.0 || dv.abs() <= MASK_THRESHOLD,
                        "{what}: {dv} outside"
                    );
                }
                let area = s.mask_fraction();
                assert!((0.002..=0.25).contains(&area), "{what}: mask covers {area}");
                let in_mask: Vec<f32> = delta
                    .iter()
                    .zip(&s.mask)
                    .filter(|(_, m)| **m > 0.0)
                    .map(|(v, _)| *v)
                    .collect();
                let changed = in_mask.iter().filter(|v| v.abs() > MASK_THRESHOLD).count();
                let changed = changed as f64 / in_mask.len() as f64;
                assert!(changed > 0.3, "{what}: only {changed} of the mask changed");
                let signed = in_mask.iter().map(|&v| v as f64).sum::<f64>() / in_mask.len() as f64;
                let big = in_mask.iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
                let (w, h) = mask_box(&s.mask, N);
                let pixels = in_mask.len() as f64;
                match d {
                    Defect::Hole | Defect::Crack => assert!(signed < -0.02, "{what}: {signed}"),
                    Defect::Stain => {
                        assert!(w >= 6 && h >= 6, "{what}: stain {w}x{h}");
                        assert!(pixels > 0.35 * (w * h) as f64, "{what}: stain not a blob");
                        let ratio = big / texture_std;
                        assert!(
                            (0.3..4.0).contains(&ratio),
                            "{what}: contrast ratio {ratio}"
                        );
                    }
                    Defect::Scratch => {}
                }
                if matches!(d, Defect::Scratch | Defect::Crack) {
                    // Thin: the area is a few pixels per pixel of extent.
                    let thin = pixels / w.max(h) as f64;
                    assert!(thin < 8.0, "{what}: {thin} px wide");
                }
                hit += 1.0;
                inside += changed;
                strong += big;
            }
        }
    }
    assert!(inside / hit > 0.7, "mean changed fraction {}", inside / hit);
    assert!(strong / hit > 0.1, "mean peak change {}", strong / hit);
}

#[test]
fn sets_cycle_families_and_defects_and_do_not_overlap() {
    let fams = [Family::Weave, Family::Dots, Family::Noise];
    let train = clean_set(&fams, 7, 32, 9).unwrap();
    assert_eq!(train.len(), 7);
    assert_eq!(train, clean_set(&fams, 7, 32, 9).unwrap());
    for (i, s) in train.iter().enumerate() {
        assert_eq!((s.family, s.defect, s.size), (fams[i % 3], None, 32));
    }
    let test = test_set(&fams, 40, 32, 0.3, 9).unwrap();
    assert_eq!(test, test_set(&fams, 40, 32, 0.3, 9).unwrap());
    assert_eq!(test.iter().filter(|s| s.is_defective()).count(), 12);
    let kinds: Vec<Defect> = test.iter().filter_map(|s| s.defect).collect();
    for (i, k) in kinds.iter().enumerate() {
        assert_eq!(*k, Defect::ALL[i % 4]);
    }
    for (i, s) in test.iter().enumerate() {
        assert_eq!(s.family, fams[i % 3]);
        assert_eq!(s.mask.iter().any(|&m| m > 0.0), s.is_defective());
    }
    // Defective positions are spread out, not the first 12.
    assert!(test[12..].iter().any(|s| s.is_defective()));
    for a in &train {
        assert!(test.iter().all(|b| a.image != b.image));
    }
    assert!(
        test_set(&fams, 5, 32, 0.0, 1)
            .unwrap()
            .iter()
            .all(|s| !s.is_defective())
    );
    assert!(
        test_set(&fams, 5, 32, 1.0, 1)
            .unwrap()
            .iter()
            .all(|s| s.is_defective())
    );
    assert!(clean_set(&fams, 0, 32, 1).unwrap().is_empty());
}

/// Rotation-invariant spectral features: the share of power in radial frequency bands, the
/// angular concentration of the power at orders 2, 4 and 6, and the peakiness of the spectrum.
fn features(image: &[f32], planner: &mut FftPlanner<f64>) -> Vec<f64> {
    let fft = planner.plan_fft_forward(N);
    let (m, _) = mean_std(image);
    let mut g: Vec<Complex<f64>> = image
        .iter()
        .map(|&v| Complex::new(v as f64 - m, 0.0))
        .collect();
    for row in g.chunks_mut(N) {
        fft.process(row);
    }
    let mut col = vec![Complex::new(0.0, 0.0); N];
    for x in 0..N {
        (0..N).for_each(|y| col[y] = g[y * N + x]);
        fft.process(&mut col);
        (0..N).for_each(|y| g[y * N + x] = col[y]);
    }
    let edges = [1.0, 2.5, 4.0, 6.0, 8.0, 11.0, 16.0, 23.0, 33.0];
    let mut bands = [0.0; 8];
    let (mut total, mut peak) = (0.0, 0.0f64);
    let mut moments = [Complex::new(0.0, 0.0); 3];
    for ky in 0..N {
        for kx in 0..N {
            let fx = if kx < N / 2 {
                kx as f64
            } else {
                kx as f64 - N as f64
            };
            let fy = if ky < N / 2 {
                ky as f64
            } else {
                ky as f64 - N as f64
            };
            let r = fx.hypot(fy);
            let p = g[ky * N + kx].norm_sqr();
            if r < 1.0 {
                continue;
            }
            total += p;
            peak = peak.max(p);
            if let Some(b) = edges.windows(2).position(|e| (e[0]..e[1]).contains(&r)) {
                bands[b] += p;
            }
            if r >= 2.5 {
                let phi = fy.atan2(fx);
                for (j, mo) in moments.iter_mut().enumerate() {
                    *mo += Complex::from_polar(p, 2.0 * (j + 1) as f64 * phi);
                }
            }
        }
    }
    let mut out: Vec<f64> = bands.iter().map(|b| b / total).collect();
    out.extend(moments.iter().map(|mo| mo.norm() / total));
    out.push(peak / total);
    // Shape of the gray-level histogram: |skewness| and kurtosis.
    let (_, sd) = mean_std(image);
    let moment = |k: i32| {
        image
            .iter()
            .map(|&v| ((v as f64 - m) / sd).powi(k))
            .sum::<f64>()
            / image.len() as f64
    };
    out.push(moment(3).abs());
    out.push(moment(4));
    out
}

#[test]
fn families_are_told_apart_by_their_spectra() {
    let mut planner = FftPlanner::new();
    let (train, held) = (24u64, 16u64);
    let feats: Vec<Vec<Vec<f64>>> = Family::ALL
        .iter()
        .map(|&f| {
            (0..train + held)
                .map(|s| features(&sample(f, None, N, 1000 + s).unwrap().image, &mut planner))
                .collect()
        })
        .collect();
    let dim = feats[0][0].len();
    // Standardize with the training split, then classify held-out samples by nearest centroid.
    let all: Vec<&Vec<f64>> = feats.iter().flat_map(|v| &v[..train as usize]).collect();
    let mean: Vec<f64> = (0..dim)
        .map(|k| all.iter().map(|v| v[k]).sum::<f64>() / all.len() as f64)
        .collect();
    let scale: Vec<f64> = (0..dim)
        .map(|k| {
            (all.iter().map(|v| (v[k] - mean[k]).powi(2)).sum::<f64>() / all.len() as f64).sqrt()
                + 1e-12
        })
        .collect();
    let z = |v: &[f64]| -> Vec<f64> { (0..dim).map(|k| (v[k] - mean[k]) / scale[k]).collect() };
    let centroids: Vec<Vec<f64>> = feats
        .iter()
        .map(|v| {
            let zs: Vec<Vec<f64>> = v[..train as usize].iter().map(|x| z(x)).collect();
            (0..dim)
                .map(|k| zs.iter().map(|x| x[k]).sum::<f64>() / zs.len() as f64)
                .collect()
        })
        .collect();
    for (truth, v) in feats.iter().enumerate() {
        let mut right = 0;
        let mut votes = [0; 5];
        for x in &v[train as usize..] {
            let zx = z(x);
            let d = |c: &Vec<f64>| c.iter().zip(&zx).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
            let best = (0..5)
                .min_by(|&a, &b| d(&centroids[a]).total_cmp(&d(&centroids[b])))
                .unwrap();
            votes[best] += 1;
            right += (best == truth) as usize;
        }
        println!("{}: {votes:?}", Family::ALL[truth].name());
        assert!(
            right as u64 >= held * 3 / 4,
            "{}: {votes:?}",
            Family::ALL[truth].name()
        );
    }
}
