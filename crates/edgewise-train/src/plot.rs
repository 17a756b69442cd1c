//! Training curves as PNG (plotters): one panel per metric against the epoch.
//!
//! plotters draws text with a TrueType font read at run time; the first of the usual Debian
//! fonts found is used (`cargo xtask setup` installs `fonts-dejavu-core` when none is there).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, anyhow, bail};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::run::History;

/// Fonts tried in turn.
pub const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

fn font() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        for path in FONTS {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| format!("{path} is not a usable font"));
            }
        }
        Err(format!(
            "no font for the plots: install fonts-dejavu-core (looked for {FONTS:?})"
        ))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Draws every metric column of `history` against the epoch into `path`.
pub fn curves(history: &History, title: &str, path: &Path) -> Result<()> {
    font()?;
    let metrics = &history.columns[1..];
    if metrics.is_empty() || history.rows.is_empty() {
        bail!("nothing to plot");
    }
    let panels = metrics.len();
    let cols = panels.min(3);
    let rows = panels.div_ceil(cols);
    let root =
        BitMapBackend::new(path, (400 * cols as u32, 300 * rows as u32 + 40)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| anyhow!("plotting {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 24))
        .map_err(|e| err(&e))?;
    let areas = root.split_evenly((rows, cols));
    let epochs: Vec<f64> = history.rows.iter().map(|r| r[0]).collect();
    let (x0, x1) = (
        epochs.first().copied().unwrap_or(0.0),
        epochs.last().copied().unwrap_or(1.0).max(epochs[0] + 1.0),
    );
    for (i, name) in metrics.iter().enumerate() {
        let ys: Vec<f64> = history.rows.iter().map(|r| r[i + 1]).collect();
        let (mut lo, mut hi) = ys
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.08).max(1e-9);
        let mut chart = ChartBuilder::on(&areas[i])
            .caption(name, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .draw_series(LineSeries::new(
                epochs.iter().copied().zip(ys.iter().copied()),
                Palette99::pick(i).stroke_width(2),
            ))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(
                epochs
                    .iter()
                    .zip(&ys)
                    .map(|(&x, &y)| Circle::new((x, y), 3, Palette99::pick(i).filled())),
            )
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
