//! The early-exit rule of a multi-exit classifier and its readings: softmax confidences, the
//! exit that answers at a threshold, and the latency–accuracy trade-off over thresholds.
//!
//! The rule is the runtime's (`Session::run_with_exits`): exits are read in order and the
//! first whose confidence (largest softmax probability) reaches the threshold answers; the
//! last exit always answers. Applied here to every exit's logits at once, it says offline what
//! the runtime does online.

/// The softmax probabilities of one row of logits.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

/// The largest softmax probability of one row of logits.
pub fn confidence(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    1.0 / logits.iter().map(|&v| (v - max).exp()).sum::<f32>()
}

/// The index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

/// The exit that answers one sample at `threshold`, given each exit's logits in order.
pub fn exit_at(exits: &[&[f32]], threshold: f32) -> usize {
    let last = exits.len().saturating_sub(1);
    exits
        .iter()
        .position(|l| confidence(l) >= threshold)
        .unwrap_or(last)
        .min(last)
}

/// One point of the trade-off: what a threshold gives on a labelled set.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The threshold.
    pub threshold: f32,
    /// Accuracy of the answering exits.
    pub accuracy: f64,
    /// Fraction of samples answered by each exit.
    pub share: Vec<f64>,
    /// Mean cost per sample, with `cost[k]` the cost of running up to exit `k`.
    pub mean_cost: f64,
}

/// The trade-off at `threshold`: `logits[k]` holds exit `k`'s `[n, classes]` logits
/// (row-major), `cost[k]` the cost of running up to exit `k` (multiply-adds or measured time).
pub fn point(logits: &[Vec<f32>], labels: &[u8], cost: &[f64], threshold: f32) -> Point {
    let n = labels.len();
    let exits = logits.len();
    let classes = logits.first().map_or(0, |l| l.len() / n.max(1));
    let mut share = vec![0.0; exits];
    let (mut right, mut total_cost) = (0usize, 0.0);
    for (i, &label) in labels.iter().enumerate() {
        let rows: Vec<&[f32]> = logits
            .iter()
            .map(|l| &l[i * classes..(i + 1) * classes])
            .collect();
        let k = exit_at(&rows, threshold);
        share[k] += 1.0;
        total_cost += cost[k];
        right += (argmax(rows[k]) == label as usize) as usize;
    }
    let n = n.max(1) as f64;
    Point {
        threshold,
        accuracy: right as f64 / n,
        share: share.into_iter().map(|s| s / n).collect(),
        mean_cost: total_cost / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_confident_exit_answers_and_the_last_always_can() {
        let sure = [5.0f32, 0.0, 0.0];
        let unsure = [0.1f32, 0.0, 0.0];
        assert_eq!(exit_at(&[&sure, &unsure, &unsure], 0.9), 0);
        assert_eq!(exit_at(&[&unsure, &sure, &unsure], 0.9), 1);
        assert_eq!(exit_at(&[&unsure, &unsure, &unsure], 0.9), 2);
        assert_eq!(exit_at(&[&sure, &sure, &sure], 1.5), 2);
        let c = confidence(&sure);
        let p = softmax(&sure);
        assert!((c - p[0]).abs() < 1e-7 && (p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_point_counts_accuracy_shares_and_cost() {
        // Two samples, two exits, two classes. Sample 0: exit 0 sure of class 0 (right).
        // Sample 1: exit 0 unsure, exit 1 says class 1 (right), exit 0 would say 0 (wrong).
        let exit0 = vec![4.0, 0.0, 0.2, 0.0];
        let exit1 = vec![0.0, 1.0, 0.0, 3.0];
        let labels = [0u8, 1];
        let p = point(&[exit0.clone(), exit1.clone()], &labels, &[1.0, 3.0], 0.9);
        assert_eq!(p.share, [0.5, 0.5]);
        assert_eq!(p.accuracy, 1.0);
        assert_eq!(p.mean_cost, 2.0);
        // Threshold 0: exit 0 answers everything; sample 1 is then wrong.
        let p = point(&[exit0, exit1], &labels, &[1.0, 3.0], 0.0);
        assert_eq!((p.accuracy, p.mean_cost), (0.5, 1.0));
    }
}
