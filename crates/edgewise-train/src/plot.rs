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

/// Draws `metric` of several runs (one line each, labelled) against the epoch into `path`:
/// the "ours against the baseline" figure of a reproduction.
pub fn compare(runs: &[(&str, &History)], metric: &str, title: &str, path: &Path) -> Result<()> {
    let mut lines = vec![];
    for (label, h) in runs {
        let i = h
            .columns
            .iter()
            .position(|c| c == metric)
            .ok_or_else(|| anyhow!("run '{label}' has no column '{metric}'"))?;
        lines.push((
            *label,
            h.rows.iter().map(|r| (r[0], r[i])).collect::<Vec<_>>(),
        ));
    }
    xy(&lines, title, ("epoch", metric), false, path)
}

/// Draws labelled lines of `(x, y)` points into `path`, with a marker on each point when
/// `markers`; axes named by `axes` and fitted to the points.
pub fn xy(
    lines: &[(&str, Vec<(f64, f64)>)],
    title: &str,
    axes: (&str, &str),
    markers: bool,
    path: &Path,
) -> Result<()> {
    font()?;
    let err = |e: &dyn std::fmt::Display| anyhow!("plotting {}: {e}", path.display());
    let finite = lines
        .iter()
        .flat_map(|(_, l)| l.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut lo, mut hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in finite {
        (x0, x1) = (x0.min(x), x1.max(x));
        (lo, hi) = (lo.min(y), hi.max(y));
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    let xpad = ((x1 - x0) * 0.05).max(1e-9);
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let root = BitMapBackend::new(path, (640, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(64)
        .build_cartesian_2d((x0 - xpad)..(x1 + xpad), (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(axes.0)
        .y_desc(axes.1)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (label, line)) in lines.iter().enumerate() {
        let color = Palette99::pick(i);
        chart
            .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 18, y)],
                    Palette99::pick(i).stroke_width(2),
                )
            });
        if markers {
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// How [`image_grid`] maps a cell's values to colours.
#[derive(Clone, Copy, Debug)]
pub enum Shade {
    /// Grey levels, `[0, 1]` black to white.
    Gray,
    /// A heat map from dark blue to yellow, scaled to the cell's own maximum.
    Heat,
}

/// Draws square `side × side` maps as a grid (`rows[r][c]`, with column titles) into `path`,
/// each cell `scale` pixels per value.
pub fn image_grid(
    rows: &[Vec<(&[f32], Shade)>],
    side: usize,
    titles: &[&str],
    scale: u32,
    path: &Path,
) -> Result<()> {
    font()?;
    let err = |e: &dyn std::fmt::Display| anyhow!("plotting {}: {e}", path.display());
    let cols = titles.len();
    let cell = side as u32 * scale;
    let (gap, head) = (6u32, 28u32);
    let w = cols as u32 * (cell + gap) + gap;
    let h = head + rows.len() as u32 * (cell + gap) + gap;
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    for (c, t) in titles.iter().enumerate() {
        let x = (gap + c as u32 * (cell + gap)) as i32;
        root.draw(&Text::new(t.to_string(), (x, 6), ("sans-serif", 16)))
            .map_err(|e| err(&e))?;
    }
    for (r, row) in rows.iter().enumerate() {
        if row.len() != cols {
            bail!("row {r} has {} maps for {cols} titles", row.len());
        }
        for (c, (map, shade)) in row.iter().enumerate() {
            if map.len() != side * side {
                bail!(
                    "row {r}, column {c}: {} values for {side}×{side}",
                    map.len()
                );
            }
            let max = map.iter().copied().fold(1e-12f32, f32::max);
            let (x0, y0) = (
                gap + c as u32 * (cell + gap),
                head + r as u32 * (cell + gap),
            );
            for (i, &v) in map.iter().enumerate() {
                let color = match shade {
                    Shade::Gray => {
                        let g = (v.clamp(0.0, 1.0) * 255.0) as u8;
                        RGBColor(g, g, g)
                    }
                    Shade::Heat => {
                        let t = (v / max).clamp(0.0, 1.0) as f64;
                        RGBColor(
                            (255.0 * t.powf(0.8)) as u8,
                            (220.0 * t.powf(1.5)) as u8,
                            (120.0 * (1.0 - t)) as u8,
                        )
                    }
                };
                let (x, y) = (
                    (x0 + (i % side) as u32 * scale) as i32,
                    (y0 + (i / side) as u32 * scale) as i32,
                );
                root.draw(&Rectangle::new(
                    [(x, y), (x + scale as i32, y + scale as i32)],
                    color.filled(),
                ))
                .map_err(|e| err(&e))?;
            }
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
