//! The figures of the comparison: a rollout against the solver, and the error against the
//! step.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use edgewise_data::burgers::{DEFAULT_DT, DEFAULT_NU, Dataset};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::{FINE_N, Kind, NeuralOperator, STEPS, TRAIN_N, stack};

fn font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        crate::plot::FONTS.iter().any(|path| {
            std::fs::read(path).is_ok_and(|bytes| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
        })
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "no font for the plots: install fonts-dejavu-core (looked for {:?})",
            crate::plot::FONTS
        ))
    }
}

const KNO_COLOR: RGBColor = RGBColor(31, 119, 180);
const FNO_COLOR: RGBColor = RGBColor(214, 39, 40);

fn color(kind: Kind) -> RGBColor {
    match kind {
        Kind::Koopman => KNO_COLOR,
        Kind::Fourier => FNO_COLOR,
    }
}

/// The first test trajectory at 256 points, rolled out by each model, against the solver at
/// three times.
pub(super) fn rollout_figure(
    models: &[(Kind, &NeuralOperator)],
    fine: &Dataset,
    path: &Path,
) -> Result<()> {
    font()?;
    let err = |e: &dyn std::fmt::Display| anyhow!("plotting {}: {e}", path.display());
    let traj = fine.trajectories.first().context("no test trajectories")?;
    let device = burn::prelude::Device::flex();
    let mut preds = vec![];
    for (_, model) in models {
        let u0 = stack(std::iter::once(traj[0].as_slice()), &device);
        let states = model.rollout(u0, STEPS);
        let states = states
            .iter()
            .map(crate::emit::values)
            .collect::<Result<Vec<_>, _>>()?;
        preds.push(states);
    }
    let shown = [10, 25, STEPS];
    let root = BitMapBackend::new(path, (1500, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(
            &format!(
                "Burgers, nu = {DEFAULT_NU}, {FINE_N} points (trained at {TRAIN_N}): solver (black) vs KNO (blue), FNO (red)"
            ),
            ("sans-serif", 22),
        )
        .map_err(|e| err(&e))?;
    let areas = root.split_evenly((1, shown.len()));
    let n = fine.n;
    let xs: Vec<f64> = (0..n).map(|j| j as f64 / n as f64).collect();
    let (lo, hi) = traj
        .iter()
        .flatten()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let pad = 0.1 * (hi - lo) as f64;
    for (area, &k) in areas.iter().zip(&shown) {
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("t = {:.2} ({k} steps)", k as f64 * DEFAULT_DT),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, (lo as f64 - pad)..(hi as f64 + pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("x")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| err(&e))?;
        let line = |u: &[f32]| {
            xs.iter()
                .copied()
                .zip(u.iter().map(|&v| v as f64))
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(LineSeries::new(line(&traj[k]), BLACK.stroke_width(3)))
            .map_err(|e| err(&e))?;
        for ((kind, _), p) in models.iter().zip(&preds) {
            chart
                .draw_series(LineSeries::new(
                    line(&p[k - 1]),
                    color(*kind).stroke_width(2),
                ))
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Mean relative L2 against the step for each model, at 128 and 256 points (log scale):
/// `(kind, errors at 128, errors at 256)`.
pub(super) fn error_figure(curves: &[(Kind, &[f64], &[f64])], path: &Path) -> Result<()> {
    font()?;
    let err = |e: &dyn std::fmt::Display| anyhow!("plotting {}: {e}", path.display());
    let all = curves
        .iter()
        .flat_map(|(_, coarse, fine)| coarse.iter().chain(fine.iter()))
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        bail!("no finite errors to plot");
    }
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Rollout error on the test trajectories (mean relative L2)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1f64..STEPS as f64, (lo * 0.8..hi * 1.25).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("model steps (dt = 0.02)")
        .y_desc("relative L2")
        .draw()
        .map_err(|e| err(&e))?;
    for &(kind, coarse, fine) in curves {
        for (curve, n, width) in [(coarse, TRAIN_N, 3), (fine, FINE_N, 1)] {
            let c = color(kind);
            let points = curve
                .iter()
                .enumerate()
                .map(|(k, &v)| ((k + 1) as f64, v))
                .collect::<Vec<_>>();
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(width)))
                .map_err(|e| err(&e))?
                .label(format!("{} at n = {n}", kind.label()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(width))
                });
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
