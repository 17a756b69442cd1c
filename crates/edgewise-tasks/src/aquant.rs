//! The rounding rule of AQuant's quantized models, as the `BorderRound` operator applies it to
//! every weight layer's input: `v = x / scale`, `q = ⌊v⌋ + [v − ⌊v⌋ ≥ border]`, clamped to
//! `[qmin, qmax]`. A border of 0.5 is round-to-nearest (halves up); AQuant learns one per
//! channel. The trainer quantizes with [`round_at`]; the package's page draws with
//! [`fake_quant`] how a border moves the steps.

/// The integer level of `x` (see the module docs).
pub fn round_at(x: f32, scale: f32, border: f32, qmin: i32, qmax: i32) -> i32 {
    let v = x / scale;
    let f = v.floor();
    let q = f as i64 + i64::from(v - f >= border);
    q.clamp(qmin as i64, qmax as i64) as i32
}

/// Each value of `values` quantized at `border` and back: `round_at(x)·scale`. Errors on a
/// scale that is not positive and finite, a border outside `[0, 1]` or `qmin ≥ qmax`.
pub fn fake_quant(
    values: &[f32],
    scale: f32,
    border: f32,
    qmin: i32,
    qmax: i32,
) -> Result<Vec<f32>, String> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(format!(
            "aquant: scale must be positive and finite, got {scale}"
        ));
    }
    if !(0.0..=1.0).contains(&border) {
        return Err(format!("aquant: border must lie in [0, 1], got {border}"));
    }
    if qmin >= qmax {
        return Err(format!("aquant: qmin ({qmin}) must be below qmax ({qmax})"));
    }
    Ok(values
        .iter()
        .map(|&x| round_at(x, scale, border, qmin, qmax) as f32 * scale)
        .collect())
}

/// The share of positions where two models' predicted classes agree (`None` for none).
pub fn agreement(a: &[usize], b: &[usize]) -> Option<f64> {
    let n = a.len().min(b.len());
    (n > 0).then(|| a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_border_rounds_to_nearest_and_other_borders_move_the_step() {
        // 0.3 / 0.1 = 2.9999998 in f32; 0.26 / 0.1 = 2.6.
        assert_eq!(round_at(0.26, 0.1, 0.5, -8, 7), 3);
        assert_eq!(round_at(0.24, 0.1, 0.5, -8, 7), 2);
        assert_eq!(round_at(0.26, 0.1, 0.7, -8, 7), 2);
        assert_eq!(round_at(0.22, 0.1, 0.1, -8, 7), 3);
        assert_eq!(round_at(-0.26, 0.1, 0.5, -8, 7), -3);
        assert_eq!(round_at(5.0, 0.1, 0.5, -8, 7), 7);
        assert_eq!(round_at(-5.0, 0.1, 0.5, -8, 7), -8);
        // Border 0 rounds every fraction up, border 1 only exact integers stay.
        assert_eq!(round_at(0.201, 0.1, 0.0, 0, 15), 3);
        assert_eq!(round_at(0.299, 0.1, 1.0, 0, 15), 2);
    }

    #[test]
    fn fake_quant_checks_its_arguments() {
        assert_eq!(
            fake_quant(&[0.26, 0.24], 0.1, 0.5, 0, 15).unwrap(),
            vec![0.3, 0.2f32]
        );
        assert!(
            fake_quant(&[1.0], 0.0, 0.5, 0, 15)
                .unwrap_err()
                .contains("scale")
        );
        assert!(
            fake_quant(&[1.0], 0.1, 1.5, 0, 15)
                .unwrap_err()
                .contains("border")
        );
        assert!(
            fake_quant(&[1.0], 0.1, 0.5, 3, 3)
                .unwrap_err()
                .contains("qmin")
        );
    }

    #[test]
    fn agreement_counts_equal_predictions() {
        assert_eq!(agreement(&[1, 2, 3, 4], &[1, 2, 0, 4]), Some(0.75));
        assert_eq!(agreement(&[], &[]), None);
    }
}
