//! The cost of a CNN at given filter counts, as SNF's search and the package's page count it.
//!
//! Each weight layer is described by its full filter count, where its input channels come from
//! (the model's input or an unpruned value: a fixed count; another layer: that layer's filter
//! count) and its multiply-accumulates per (filter, input channel) pair (`kh·kw·H_out·W_out`
//! for a convolution, `kh·kw·H_in·W_in` for a transposed one, the flattened positions per
//! channel for a dense layer after `Flatten`). Removing a filter removes its own
//! multiply-accumulates and those of the next layers' weights that read its channel.

/// One weight layer of a CNN, as its cost depends on filter counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Its full filter (output channel) count.
    pub filters: usize,
    /// Its input channels when they do not come from a layer (`from` is `None`).
    pub in_channels: usize,
    /// The layer whose filters are this layer's input channels, if any.
    pub from: Option<usize>,
    /// Multiply-accumulates per (filter, input channel) pair.
    pub unit: u64,
}

/// The multiply-accumulates of one input through `layers` with `widths[i]` filters kept in
/// layer `i`. Errors name a width of 0 or above the layer's filters, a count of widths that
/// is not the count of layers, or a `from` that names no earlier layer.
pub fn macs(layers: &[Layer], widths: &[usize]) -> Result<u64, String> {
    if widths.len() != layers.len() {
        return Err(format!(
            "snf: {} widths for {} layers",
            widths.len(),
            layers.len()
        ));
    }
    let mut total = 0u64;
    for (i, (layer, &w)) in layers.iter().zip(widths).enumerate() {
        if w == 0 || w > layer.filters {
            return Err(format!(
                "snf: layer {i} keeps {w} filters; it has {} and keeps at least 1",
                layer.filters
            ));
        }
        let inputs = match layer.from {
            None => layer.in_channels,
            Some(j) if j < i => widths[j],
            Some(j) => {
                return Err(format!(
                    "snf: layer {i} reads layer {j}, not an earlier one"
                ));
            }
        };
        total += layer.unit * w as u64 * inputs as u64;
    }
    Ok(total)
}

/// The full filter count of every layer: the unpruned model's widths.
pub fn full_widths(layers: &[Layer]) -> Vec<usize> {
    layers.iter().map(|l| l.filters).collect()
}

/// The share of the full model's multiply-accumulates that `widths` leave (1 when nothing is
/// pruned).
pub fn cost_ratio(layers: &[Layer], widths: &[usize]) -> Result<f64, String> {
    let full = macs(layers, &full_widths(layers))?;
    Ok(macs(layers, widths)? as f64 / full.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×3 conv of 1 → 8 channels on 4×4, a 3×3 conv of 8 → 4, and a dense layer of the 4
    /// channels' 16 positions to 10 classes.
    fn net() -> Vec<Layer> {
        vec![
            Layer {
                filters: 8,
                in_channels: 1,
                from: None,
                unit: 9 * 16,
            },
            Layer {
                filters: 4,
                in_channels: 8,
                from: Some(0),
                unit: 9 * 16,
            },
            Layer {
                filters: 10,
                in_channels: 4,
                from: Some(1),
                unit: 16,
            },
        ]
    }

    #[test]
    fn counts_each_layer_at_its_inputs_kept_channels() {
        let layers = net();
        let full = 144 * 8 + 144 * 4 * 8 + 16 * 10 * 4;
        assert_eq!(macs(&layers, &[8, 4, 10]), Ok(full));
        // Half of the first layer's filters: its own cost and the second layer's halve.
        assert_eq!(
            macs(&layers, &[4, 4, 10]),
            Ok(144 * 4 + 144 * 4 * 4 + 16 * 10 * 4)
        );
        let r = cost_ratio(&layers, &[4, 2, 10]).unwrap();
        let want = (144 * 4 + 144 * 2 * 4 + 16 * 10 * 2) as f64 / full as f64;
        assert!((r - want).abs() < 1e-12);
    }

    #[test]
    fn bad_widths_are_named() {
        let layers = net();
        assert!(
            macs(&layers, &[8, 4])
                .unwrap_err()
                .contains("2 widths for 3")
        );
        assert!(
            macs(&layers, &[0, 4, 10])
                .unwrap_err()
                .contains("layer 0 keeps 0")
        );
        assert!(macs(&layers, &[8, 5, 10]).unwrap_err().contains("it has 4"));
        let mut bad = net();
        bad[0].from = Some(2);
        assert!(
            macs(&bad, &[8, 4, 10])
                .unwrap_err()
                .contains("not an earlier")
        );
    }
}
