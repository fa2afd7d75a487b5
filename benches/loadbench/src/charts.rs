//! SVG charts (plotters, SVG backend only: no font libraries).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::report::{Churn, Report};

fn e<E: std::fmt::Debug>(x: E) -> anyhow::Error {
    anyhow!("chart: {x:?}")
}

/// Cycle wall time and CPU seconds per agent against N.
pub fn scaling(rep: &Report, path: &Path) -> Result<PathBuf> {
    let root = SVGBackend::new(path, (900, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let (left, right) = root.split_horizontally(450);
    let max_n = rep.fleets.iter().map(|f| f.n).max().unwrap_or(1) as f64;
    let series: [(&str, &str, Vec<(f64, f64)>, RGBColor); 2] = [
        (
            "cycle wall time (s) vs agents",
            "wall s",
            rep.fleets.iter().map(|f| (f.n as f64, f.wall_s)).collect(),
            BLUE,
        ),
        (
            "CPU s per agent per cycle vs agents",
            "CPU s",
            rep.fleets
                .iter()
                .map(|f| (f.n as f64, f.cpu_s_per_agent))
                .collect(),
            RED,
        ),
    ];
    for (area, (title, ylabel, pts, color)) in [left, right].into_iter().zip(series) {
        let ymax = pts.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.2;
        let mut ch = ChartBuilder::on(&area)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(45)
            .build_cartesian_2d(0.5..max_n + 0.5, 0.0..ymax)
            .map_err(e)?;
        ch.configure_mesh()
            .x_desc("agents")
            .y_desc(ylabel)
            .draw()
            .map_err(e)?;
        ch.draw_series(LineSeries::new(pts.clone(), &color))
            .map_err(e)?;
        ch.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(path.to_path_buf())
}

/// Coverage (once / missed / duplicated) per cycle through the churn events.
pub fn churn(ch: &Churn, path: &Path) -> Result<PathBuf> {
    let root = SVGBackend::new(path, (900, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let n = ch.coverage.len().max(1) as f64;
    let ymax = ch
        .coverage
        .iter()
        .map(|c| c.expected.max(c.once + c.duplicated))
        .max()
        .unwrap_or(1) as f64
        * 1.15;
    let mut c = ChartBuilder::on(&root)
        .caption(
            "coverage per cycle through churn (vertical lines: events)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..ymax.max(1.0))
        .map_err(e)?;
    c.configure_mesh()
        .x_desc("cycle")
        .y_desc("resources")
        .draw()
        .map_err(e)?;
    let lines: [(&str, RGBColor, fn(&crate::report::Coverage) -> usize); 3] = [
        ("polled once", GREEN, |c| c.once),
        ("missed", RED, |c| c.missed),
        ("duplicated", MAGENTA, |c| c.duplicated),
    ];
    for (label, color, f) in lines {
        let pts: Vec<(f64, f64)> = ch
            .coverage
            .iter()
            .enumerate()
            .map(|(i, x)| (i as f64, f(x) as f64))
            .collect();
        c.draw_series(LineSeries::new(pts.clone(), &color))
            .map_err(e)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        c.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(e)?;
    }
    for ev in &ch.events {
        let x = ev.cycle as f64 - 0.5 + ev.at_us_in_cycle as f64 / 1e6 / 10.0;
        c.draw_series(LineSeries::new(
            vec![(x, 0.0), (x, ymax * 0.9)],
            BLACK.mix(0.4),
        ))
        .map_err(e)?;
        c.draw_series(std::iter::once(Text::new(
            format!("{} {}", ev.what, ev.agent),
            (x, ymax * 0.95),
            ("sans-serif", 12),
        )))
        .map_err(e)?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(path.to_path_buf())
}
