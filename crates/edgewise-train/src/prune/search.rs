//! How many filters each layer keeps, and which, for a budget of floating-point operations.
//!
//! All three methods keep, within a layer, the filters of largest L1 norm; they differ in how
//! many each layer keeps:
//!
//! - [`Method::Uniform`]: the same share of every prunable layer (the largest share that fits
//!   the budget).
//! - [`Method::L1`]: filters ranked across the whole network by their L1 norm relative to their
//!   layer's mean, the weakest removed first until the budget fits.
//! - [`Method::Snf`]: SNF's idea, searching each layer's filter count. Here the search runs
//!   on calibration images: each prunable layer alone is pruned to each sixteenth of its
//!   filters and the error of the model's outputs against the full model's measured (its
//!   sensitivity); the widths then minimize the sum of the layers' errors plus `λ` times the
//!   operations, with `λ` the smallest that fits the budget.

use anyhow::{Result, bail};
use burn::prelude::*;
use serde::Serialize;

use super::rewrite::slice;
use super::structure::Structure;
use crate::quant::{Float, Graph, Value, learn::relative_error};

/// How the filter counts are chosen.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub enum Method {
    /// The same share of every layer.
    Uniform,
    /// Network-wide ranking by relative L1 norm.
    L1,
    /// Searched counts (SNF).
    Snf,
}

impl Method {
    /// Every method, baselines first.
    pub const ALL: [Method; 3] = [Method::Uniform, Method::L1, Method::Snf];

    /// The name `--method` takes.
    pub fn id(self) -> &'static str {
        match self {
            Method::Uniform => "uniform",
            Method::L1 => "l1",
            Method::Snf => "snf",
        }
    }

    /// The method named `id`.
    pub fn parse(id: &str) -> Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.id() == id)
            .ok_or_else(|| anyhow::anyhow!("unknown method '{id}': uniform, l1 or snf"))
    }
}

/// Each filter's L1 norm, per layer.
pub fn norms(graph: &Graph) -> Vec<Vec<f32>> {
    graph
        .layers
        .iter()
        .map(|l| {
            let mut n = vec![0f32; l.out_channels()];
            for (w, c) in l.values.iter().zip(l.channel_of()) {
                n[c] += w.abs();
            }
            n
        })
        .collect()
}

/// The `widths[k]` filters of largest L1 norm of each layer, in ascending order.
pub fn strongest(norms: &[Vec<f32>], widths: &[usize]) -> Vec<Vec<usize>> {
    norms
        .iter()
        .zip(widths)
        .map(|(n, &w)| {
            let mut order: Vec<usize> = (0..n.len()).collect();
            order.sort_by(|&a, &b| n[b].total_cmp(&n[a]).then(a.cmp(&b)));
            let mut keep = order[..w.min(n.len())].to_vec();
            keep.sort_unstable();
            keep
        })
        .collect()
}

/// The widths of `method` that leave at most `budget` of the full model's operations.
pub fn widths(
    graph: &Graph,
    structure: &Structure,
    method: Method,
    budget: f64,
    calibration: &[Tensor<4>],
    outputs: &[&str],
) -> Result<Vec<usize>> {
    if !(budget > 0.0 && budget <= 1.0) {
        bail!("the FLOPs budget must lie in (0, 1], got {budget}");
    }
    let widths = match method {
        Method::Uniform => uniform(structure, budget)?,
        Method::L1 => global_l1(graph, structure, budget)?,
        Method::Snf => searched(graph, structure, budget, calibration, outputs)?,
    };
    if structure.cost(&widths)? > budget + 1e-9 {
        bail!(
            "no widths reach {budget} of the operations (at most {:.3} by removing every \
             prunable filter but one per layer)",
            structure.cost(&floor_widths(structure))?
        );
    }
    Ok(widths)
}

/// One filter in every prunable layer.
fn floor_widths(s: &Structure) -> Vec<usize> {
    s.layers
        .iter()
        .zip(&s.prunable)
        .map(|(l, &p)| if p { 1 } else { l.filters })
        .collect()
}

/// The widths keeping the share `r` of every prunable layer (at least one filter).
fn at_share(s: &Structure, r: f64) -> Vec<usize> {
    s.layers
        .iter()
        .zip(&s.prunable)
        .map(|(l, &p)| {
            if p {
                ((l.filters as f64 * r).round() as usize).clamp(1, l.filters)
            } else {
                l.filters
            }
        })
        .collect()
}

/// The largest common share that fits `budget`, by bisection.
fn uniform(s: &Structure, budget: f64) -> Result<Vec<usize>> {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    if s.cost(&at_share(s, hi))? <= budget {
        return Ok(at_share(s, hi));
    }
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if s.cost(&at_share(s, mid))? <= budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(at_share(s, lo))
}

/// Removes the filters of smallest L1 norm relative to their layer's mean, network-wide.
fn global_l1(graph: &Graph, s: &Structure, budget: f64) -> Result<Vec<usize>> {
    let norms = norms(graph);
    let mut ranked = vec![];
    for (k, n) in norms.iter().enumerate() {
        if !s.prunable[k] {
            continue;
        }
        let mean = n.iter().sum::<f32>() / n.len().max(1) as f32;
        for &v in n {
            ranked.push((v / mean.max(f32::MIN_POSITIVE), k));
        }
    }
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut widths = s.full();
    for (_, k) in ranked {
        if s.cost(&widths)? <= budget {
            break;
        }
        if widths[k] > 1 {
            widths[k] -= 1;
        }
    }
    Ok(widths)
}

/// The relative output error of the model at `widths` (the strongest filters) against the
/// full model's outputs `targets`.
fn error_at(
    graph: &Graph,
    s: &Structure,
    norms: &[Vec<f32>],
    widths: &[usize],
    calibration: &[Tensor<4>],
    outputs: &[&str],
    targets: &[Vec<Value>],
) -> Result<f64> {
    let pruned = Graph::read(&slice(graph, s, &strongest(norms, widths))?)?;
    let mut total = 0.0;
    for (x, want) in calibration.iter().zip(targets) {
        let got = pruned.forward(x.clone(), outputs, &Float(&pruned))?;
        total += relative_error(&got, want).into_scalar::<f32>() as f64;
    }
    Ok(total / calibration.len().max(1) as f64)
}

/// Widths tried per layer by the search: sixteenths of its filters.
const LEVELS: usize = 16;

/// SNF's count search on the calibration images (see the module docs).
fn searched(
    graph: &Graph,
    s: &Structure,
    budget: f64,
    calibration: &[Tensor<4>],
    outputs: &[&str],
) -> Result<Vec<usize>> {
    if calibration.is_empty() {
        bail!("the filter-count search needs calibration images");
    }
    // The model's final output (the last of `outputs`) is what the search keeps close.
    let outputs = &outputs[outputs.len().saturating_sub(1)..];
    let norms = norms(graph);
    let targets: Vec<Vec<Value>> = calibration
        .iter()
        .map(|x| graph.forward(x.clone(), outputs, &Float(graph)))
        .collect::<Result<_>>()?;
    let full = s.full();
    let layers: Vec<usize> = (0..full.len()).filter(|&k| s.prunable[k]).collect();
    let bar = crate::run::step_bar("search", layers.len() * LEVELS);
    // Each layer's sensitivity: the output error with only that layer pruned, at each level.
    let mut curves: Vec<Vec<(usize, f64)>> = vec![vec![]; full.len()];
    for &k in &layers {
        let mut tried: Vec<usize> = (1..=LEVELS)
            .map(|l| (full[k] * l).div_ceil(LEVELS).max(1))
            .collect();
        tried.dedup();
        for w in tried {
            let mut widths = full.clone();
            widths[k] = w;
            let e = error_at(graph, s, &norms, &widths, calibration, outputs, &targets)?;
            curves[k].push((w, e));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    // The widths minimizing the summed errors plus λ times the cost, for the smallest λ that
    // fits the budget (bisection); each λ's widths by a few rounds of per-layer choices.
    let choose = |lambda: f64| -> Result<Vec<usize>> {
        let mut widths = full.clone();
        for _ in 0..4 {
            for &k in &layers {
                let mut best = (f64::INFINITY, widths[k]);
                for &(w, e) in &curves[k] {
                    let mut trial = widths.clone();
                    trial[k] = w;
                    let score = e + lambda * s.cost(&trial)?;
                    if score < best.0 {
                        best = (score, w);
                    }
                }
                widths[k] = best.1;
            }
        }
        Ok(widths)
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while s.cost(&choose(hi)?)? > budget {
        hi *= 2.0;
        if hi > 1e9 {
            return Ok(floor_widths(s));
        }
    }
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if s.cost(&choose(mid)?)? <= budget {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    // The choices move in steps, so spend what the budget has left: raise the layer whose
    // next level lowers its error most per operation, while the budget allows.
    let mut widths = choose(hi)?;
    loop {
        let cost = s.cost(&widths)?;
        let mut best: Option<(f64, usize, usize)> = None;
        for &k in &layers {
            let curve = &curves[k];
            let Some(at) = curve.iter().position(|&(w, _)| w == widths[k]) else {
                continue;
            };
            let Some(&(next, e)) = curve.get(at + 1) else {
                continue;
            };
            let mut trial = widths.clone();
            trial[k] = next;
            let c = s.cost(&trial)?;
            if c > budget {
                continue;
            }
            let gain = (curve[at].1 - e) / (c - cost).max(1e-12);
            if best.is_none_or(|b| gain > b.0) {
                best = Some((gain, k, next));
            }
        }
        let Some((_, k, next)) = best else { break };
        widths[k] = next;
    }
    Ok(widths)
}

#[cfg(test)]
mod tests {
    use edgewise_data::graded;

    use super::*;
    use crate::prune::structure::tests::shipped;

    #[test]
    fn every_method_fits_the_budget_its_own_way() {
        let g = shipped("multiexit");
        let s = Structure::of(&g, [1, 16, 16]).unwrap();
        let set = graded::split(32, 9).unwrap();
        let x = Tensor::<4>::from_data(
            TensorData::new(set.images.clone(), [32, 1, 16, 16]),
            &Device::flex(),
        );
        let outputs = ["exit0", "exit1", "logits"];
        let mut found = vec![];
        for method in Method::ALL {
            let w = widths(&g, &s, method, 0.5, std::slice::from_ref(&x), &outputs).unwrap();
            let cost = s.cost(&w).unwrap();
            assert!(cost <= 0.5 && cost > 0.45, "{method:?}: {cost}");
            for (k, (&w, l)) in w.iter().zip(&s.layers).enumerate() {
                assert!(w >= 1 && w <= l.filters);
                if !s.prunable[k] {
                    assert_eq!(w, l.filters);
                }
            }
            found.push(w);
        }
        // Uniform keeps one share of every layer (up to rounding); the others do not.
        let shares = |w: &[usize]| -> Vec<f64> {
            (0..w.len())
                .filter(|&k| s.prunable[k])
                .map(|k| w[k] as f64 / s.layers[k].filters as f64)
                .collect()
        };
        let spread = |v: Vec<f64>| {
            v.iter().cloned().fold(0.0, f64::max) - v.iter().cloned().fold(1.0, f64::min)
        };
        assert!(spread(shares(&found[0])) < 0.05);
        assert!(spread(shares(&found[2])) > 0.1, "{:?}", found[2]);
        assert!(widths(&g, &s, Method::Uniform, 0.0, &[], &outputs).is_err());
        assert!(widths(&g, &s, Method::Snf, 0.5, &[], &outputs).is_err());
        assert!(Method::parse("random").is_err());
    }

    #[test]
    fn the_strongest_filters_are_kept_in_order() {
        let norms = vec![vec![0.5, 3.0, 1.0, 2.0]];
        assert_eq!(strongest(&norms, &[2]), vec![vec![1, 3]]);
        assert_eq!(strongest(&norms, &[4]), vec![vec![0, 1, 2, 3]]);
    }
}
