use super::*;

fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
}

/// The image with zero mean and unit variance (removes the random levels).
fn standardized(img: &[f32]) -> Vec<f32> {
    let m = img.iter().sum::<f32>() / img.len() as f32;
    let v = img.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / img.len() as f32;
    img.iter().map(|x| (x - m) / v.sqrt()).collect()
}

/// Per-class mean images of a split, `[10][PIXELS]`, after `f`.
fn class_means(s: &Split, f: impl Fn(&[f32]) -> Vec<f32>) -> Vec<Vec<f32>> {
    let mut sums = vec![vec![0.0f64; PIXELS]; CLASSES];
    let mut counts = [0usize; CLASSES];
    for (img, &l) in s.images.chunks_exact(PIXELS).zip(&s.labels) {
        counts[usize::from(l)] += 1;
        for (m, v) in sums[usize::from(l)].iter_mut().zip(f(img)) {
            *m += f64::from(v);
        }
    }
    let mean = |(m, c): (&Vec<f64>, usize)| m.iter().map(|v| (v / c as f64) as f32).collect();
    sums.iter().zip(counts).map(mean).collect()
}

/// Fraction of `test` that the nearest class mean (L2) labels right.
fn nearest_mean_accuracy(means: &[Vec<f32>], test: &Split, f: impl Fn(&[f32]) -> Vec<f32>) -> f64 {
    let mut right = 0;
    for (img, &l) in test.images.chunks_exact(PIXELS).zip(&test.labels) {
        let x = f(img);
        let d = |c: &usize| dist2(&x, &means[*c]);
        let best = (0..CLASSES).min_by(|a, b| d(a).total_cmp(&d(b)));
        right += usize::from(best == Some(usize::from(l)));
    }
    right as f64 / test.n as f64
}

fn mean_image(s: &Split) -> Vec<f32> {
    let mut m = vec![0.0f32; PIXELS];
    for img in s.images.chunks_exact(PIXELS) {
        m.iter_mut()
            .zip(img)
            .for_each(|(a, &v)| *a += v / s.n as f32);
    }
    m
}

#[test]
fn same_seed_same_bits_other_seed_other_image() {
    for task in Task::ALL {
        for class in [0, 7] {
            let a = render(task, class, 42).unwrap();
            let b = render(task, class, 42).unwrap();
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            let c = render(task, class, 43).unwrap();
            assert!(
                dist2(&a, &c) > 0.1,
                "{task:?} {class}: seeds 42/43 gave close images"
            );
        }
        let s1 = split(task, 20, 5).unwrap();
        assert_eq!(s1, split(task, 20, 5).unwrap());
        assert_ne!(s1.images, split(task, 20, 6).unwrap().images);
    }
}

#[test]
fn images_are_bright_glyphs_on_dark_near_the_centre() {
    for task in Task::ALL {
        for class in 0..CLASSES {
            for seed in 0..8 {
                let img = render(task, class, seed).unwrap();
                assert_eq!(img.len(), SIZE * SIZE);
                assert!(
                    img.iter().all(|v| (0.0..=1.0).contains(v)),
                    "{task:?} {class}: not in [0, 1]"
                );
                let mut sorted = img.clone();
                sorted.sort_by(f32::total_cmp);
                let (median, top) = (sorted[PIXELS / 2], sorted[PIXELS - 4]);
                assert!(
                    top - median > 0.3,
                    "{task:?} {class} {seed}: no bright glyph ({median} {top})"
                );
                // The ink (intensity above the median) is centred within the jitter's reach.
                let (mut w, mut cx, mut cy) = (0.0f64, 0.0, 0.0);
                for (k, &v) in img.iter().enumerate() {
                    let ink = f64::from((v - median).max(0.0));
                    w += ink;
                    cx += ink * ((k % SIZE) as f64 + 0.5);
                    cy += ink * ((k / SIZE) as f64 + 0.5);
                }
                let (cx, cy) = (cx / w, cy / w);
                assert!(
                    (cx - 8.0).abs() < 3.5 && (cy - 8.0).abs() < 3.5,
                    "{task:?} {class}: {cx} {cy}"
                );
            }
        }
    }
}

#[test]
fn splits_are_balanced_shuffled_and_stable() {
    let s = split(Task::Letters, 57, 1).unwrap();
    assert_eq!((s.n, s.labels.len(), s.images.len()), (57, 57, 57 * PIXELS));
    let mut counts = [0usize; CLASSES];
    s.labels.iter().for_each(|&l| counts[usize::from(l)] += 1);
    assert!(counts.iter().all(|&c| c == 5 || c == 6), "{counts:?}");
    assert!(
        s.labels
            .iter()
            .enumerate()
            .any(|(i, &l)| usize::from(l) != i % CLASSES),
        "not shuffled"
    );
    // Sample i of a split is the image that render draws for its label, whatever n is.
    let longer = split(Task::Letters, 80, 1).unwrap();
    let mut same = 0;
    for i in 0..s.n {
        let (a, b) = (
            &s.images[i * PIXELS..][..PIXELS],
            &longer.images[i * PIXELS..][..PIXELS],
        );
        assert_eq!(s.labels[i] == longer.labels[i], a == b, "sample {i}");
        same += usize::from(a == b);
    }
    assert!(same > 0, "no common label to compare");
}

#[test]
fn jitter_varies_samples_but_class_means_classify() {
    for task in Task::ALL {
        for class in 0..CLASSES {
            let (a, b) = (
                render(task, class, 1).unwrap(),
                render(task, class, 2).unwrap(),
            );
            assert!(dist2(&a, &b).sqrt() > 0.5, "{task:?} {class}: no jitter");
        }
    }
    let splits: Vec<(Split, Split)> = Task::ALL
        .iter()
        .map(|&t| (split(t, 600, 10).unwrap(), split(t, 300, 20).unwrap()))
        .collect();
    let mut accs = Vec::new();
    for (train, test) in &splits {
        accs.push(nearest_mean_accuracy(
            &class_means(train, standardized),
            test,
            standardized,
        ));
    }
    // Chance is 0.1; a perfect score would mean the jitter is too weak to matter.
    assert!(
        accs.iter().all(|&a| a >= 0.6),
        "nearest-class-mean accuracies {accs:?}"
    );
    assert!(
        accs.iter().any(|&a| a < 1.0),
        "every task is trivial: {accs:?}"
    );

    // The tasks are distinct: their mean images differ by more than sampling noise (measured
    // between the two splits of one task), and so do their sets of class means.
    let task_means: Vec<_> = splits
        .iter()
        .map(|(a, b)| (mean_image(a), mean_image(b)))
        .collect();
    let noise = task_means
        .iter()
        .map(|(a, b)| dist2(a, b).sqrt())
        .fold(0.0, f64::max);
    let id = |x: &[f32]| x.to_vec();
    let cm: Vec<_> = splits
        .iter()
        .map(|(a, b)| (class_means(a, id), class_means(b, id)))
        .collect();
    // Mean distance from each class mean of `a` to the nearest class mean of `b`.
    let set_dist = |a: &[Vec<f32>], b: &[Vec<f32>]| {
        let nearest = |x: &Vec<f32>| {
            b.iter()
                .map(|y| dist2(x, y).sqrt())
                .fold(f64::MAX, f64::min)
        };
        a.iter().map(nearest).sum::<f64>() / CLASSES as f64
    };
    let within = cm.iter().map(|(a, b)| set_dist(a, b)).fold(0.0, f64::max);
    for i in 0..4 {
        for j in (0..4).filter(|&j| j != i) {
            let d = dist2(&task_means[i].0, &task_means[j].1).sqrt();
            assert!(
                d > 3.0 * noise,
                "tasks {i}, {j}: mean images {d} apart, noise {noise}"
            );
            let d = set_dist(&cm[i].0, &cm[j].1);
            assert!(
                d > 1.5 * within,
                "tasks {i}, {j}: class means {d} apart, noise {within}"
            );
        }
    }
}

#[test]
fn glyph_tables_hold_thirty_different_glyphs() {
    let all: Vec<&Bitmap> = DIGITS.iter().chain(&LETTERS).chain(&SYMBOLS).collect();
    assert!(
        all.iter()
            .all(|b| b.iter().all(|&r| r < 32) && b.iter().any(|&r| r != 0))
    );
    for i in 0..all.len() {
        assert!(
            all[i + 1..].iter().all(|b| b != &all[i]),
            "glyph {i} is repeated"
        );
    }
}

#[test]
fn bars_keep_their_orientation() {
    for seed in 0..30 {
        for (class, horizontal) in [(7, true), (8, false)] {
            let img = render(Task::Shapes, class, seed).unwrap();
            let (lo, hi) = img
                .iter()
                .fold((1.0f32, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
            // Second moments of the pixels brighter than half-way.
            let (mut w, mut mx, mut my, mut vx, mut vy) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
            for (k, &v) in img.iter().enumerate() {
                if v > (lo + hi) / 2.0 {
                    let (x, y) = ((k % SIZE) as f64, (k / SIZE) as f64);
                    (w, mx, my) = (w + 1.0, mx + x, my + y);
                    (vx, vy) = (vx + x * x, vy + y * y);
                }
            }
            let (vx, vy) = (vx / w - (mx / w).powi(2), vy / w - (my / w).powi(2));
            let ok = if horizontal {
                vx > 2.0 * vy
            } else {
                vy > 2.0 * vx
            };
            assert!(ok, "bar {class} seed {seed}: spreads {vx} {vy}");
        }
    }
}

#[test]
fn names_round_trip_and_bad_arguments_are_errors() {
    for (i, t) in Task::ALL.into_iter().enumerate() {
        assert_eq!((t.index(), Task::from_name(t.name())), (i, Ok(t)));
        let names = t.class_names();
        assert!(
            names
                .iter()
                .enumerate()
                .all(|(k, n)| !names[k + 1..].contains(n))
        );
    }
    assert!(Task::from_name("runes").unwrap_err().contains("runes"));
    assert!(render(Task::Digits, 10, 0).unwrap_err().contains("class"));
    assert!(
        render_into(Task::Digits, 1, 0, &mut [0.0; 10])
            .unwrap_err()
            .contains("out")
    );
    assert!(split(Task::Shapes, 0, 0).unwrap_err().contains("split n"));
    assert!(
        split(Task::Shapes, MAX_SPLIT + 1, 0)
            .unwrap_err()
            .contains("split n")
    );
}

#[test]
fn culled_rasterizer_matches_brute_force_supersampling() {
    let mut rng = Rng::new(9);
    for trial in 0..12 {
        let (theta, s) = (rng.range(-3.2, 3.2), rng.range(0.5, 1.5));
        let inv = [
            theta.cos() / s,
            theta.sin() / s,
            -theta.sin() / s,
            theta.cos() / s,
        ];
        let c = (rng.range(6.0, 10.0), rng.range(6.0, 10.0));
        let class = trial % CLASSES;
        let shape = Shape::new(class, rng.uniform());
        let strokes = Strokes::of(&SYMBOLS[class], rng.range(0.3, 0.7));
        let fields: [&dyn Fn(f64, f64) -> f64; 2] = [&|x, y| shape.part(0, x, y), &|x, y| {
            (0..strokes.parts())
                .map(|k| strokes.part(k, x, y))
                .fold(f64::INFINITY, f64::min)
        }];
        let mut fast = [[0.0; PIXELS]; 2];
        rasterize(&shape, inv, c, &mut fast[0]);
        rasterize(&strokes, inv, c, &mut fast[1]);
        for (field, fast) in fields.iter().zip(&fast) {
            for (k, &got) in fast.iter().enumerate() {
                let (px, py) = ((k % SIZE) as f64 + 0.5 - c.0, (k / SIZE) as f64 + 0.5 - c.1);
                let hits = (0..16)
                    .filter(|i| {
                        let (x, y) = (
                            px + ((i % 4) as f64 - 1.5) / 4.0,
                            py + ((i / 4) as f64 - 1.5) / 4.0,
                        );
                        field(inv[0] * x + inv[1] * y, inv[2] * x + inv[3] * y) < 0.0
                    })
                    .count();
                assert_eq!(got, hits as f64 / 16.0, "trial {trial} pixel {k}");
            }
        }
    }
}
