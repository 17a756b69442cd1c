//! Evaluation metrics shared by the systems.

/// The area under the ROC curve of `scores` for binary `labels` (true = positive): the
/// probability that a random positive scores above a random negative, ties counting half
/// (the Mann–Whitney U statistic). `None` when either class is empty.
pub fn auroc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0f64, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum += mean_rank;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// Relative L2 error `‖a − b‖ / ‖b‖`.
pub fn relative_l2(a: &[f32], b: &[f32]) -> f64 {
    let (mut num, mut den) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        num += ((x - y) as f64).powi(2);
        den += (*y as f64).powi(2);
    }
    (num / den.max(1e-30)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, by counting pairs.
    fn pairs(scores: &[f32], labels: &[bool]) -> f64 {
        let (mut wins, mut n) = (0f64, 0f64);
        for (i, &li) in labels.iter().enumerate() {
            for (j, &lj) in labels.iter().enumerate() {
                if li && !lj {
                    n += 1.0;
                    wins += if scores[i] > scores[j] {
                        1.0
                    } else if scores[i] == scores[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        wins / n
    }

    #[test]
    fn auroc_counts_pairs_with_ties() {
        let mut s = 12345u32;
        for n in [2usize, 5, 17, 64] {
            let mut scores = vec![];
            let mut labels = vec![];
            for i in 0..n {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                scores.push(((s >> 16) % 7) as f32);
                labels.push(i % 3 == 0 || (s >> 8).is_multiple_of(2));
            }
            labels[0] = true;
            labels[1] = false;
            let a = auroc(&scores, &labels).unwrap();
            assert!((a - pairs(&scores, &labels)).abs() < 1e-12, "n {n}");
        }
        assert_eq!(auroc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(auroc(&[0.9, 0.1], &[false, true]), Some(0.0));
        assert_eq!(auroc(&[0.5, 0.5], &[true, true]), None);
    }

    #[test]
    fn relative_l2_of_a_scaled_vector() {
        let b = [3.0f32, 4.0];
        assert!((relative_l2(&[3.3, 4.4], &b) - 0.1).abs() < 1e-6);
    }
}
