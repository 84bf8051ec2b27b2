//! `mlhost analyze JOB --plot FILE.svg`: train and validation loss per
//! epoch, one pair of curves per fold, the best epoch of each fold marked.
//! SVG only (plotters' SVG backend needs no fonts or system libraries).

use std::path::Path;

use plotters::prelude::*;

use crate::domain::Patience;
use crate::metrics::trend::{Epoch, analyze};

/// Draws `folds` (fold number, history) to `path`.
pub fn loss_curves(
    path: &Path,
    title: &str,
    folds: &[(i64, Vec<Epoch>)],
    p: Patience,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let max_epoch =
        folds.iter().flat_map(|(_, h)| h.iter().map(|e| e.epoch)).max().unwrap_or(1).max(2);
    let losses: Vec<f64> = folds
        .iter()
        .flat_map(|(_, h)| h.iter().flat_map(|e| [e.train_loss, e.val_loss]))
        .flatten()
        .filter(|v| v.is_finite())
        .collect();
    if losses.is_empty() {
        return Err(format!("{}: no train_loss or val_loss to plot", path.display()));
    }
    let lo = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1u32..max_epoch, (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    chart.configure_mesh().x_desc("epoch").y_desc("loss").draw().map_err(|e| err(&e))?;
    for (i, (fold, history)) in folds.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let train: Vec<(u32, f64)> =
            history.iter().filter_map(|e| e.train_loss.map(|v| (e.epoch, v))).collect();
        let val: Vec<(u32, f64)> =
            history.iter().filter_map(|e| e.val_loss.map(|v| (e.epoch, v))).collect();
        chart
            .draw_series(LineSeries::new(train, color.stroke_width(1)))
            .map_err(|e| err(&e))?
            .label(format!("fold {fold} train"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(1))
            });
        chart
            .draw_series(LineSeries::new(val.clone(), color.stroke_width(3)))
            .map_err(|e| err(&e))?
            .label(format!("fold {fold} validation"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
            });
        let trend = analyze(history, p);
        if let (Some(best), Some(loss)) = (trend.best_epoch, trend.best_val_loss) {
            chart
                .draw_series(std::iter::once(Circle::new((best, loss), 6, color.filled())))
                .map_err(|e| err(&e))?
                .label(format!("fold {fold} best epoch {best}"))
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

/// `mlhost tune --plot FILE.svg`: the optimisation history (each complete
/// trial's value, and the best so far as a step line) and, when the study
/// searched exactly two numeric parameters, the trials over those two,
/// shaded by value (darker is better).
pub fn study(path: &Path, report: &crate::service::tuning::StudyReport) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let points: Vec<(usize, f64)> =
        report.trials.iter().filter_map(|t| Some((t.trial, t.value?))).collect();
    if points.is_empty() {
        return Err(format!("{}: no complete trial to plot", path.display()));
    }
    let minimize = report.direction == "minimize";
    let pair = two_params(report);
    let width = if pair.is_some() { 1400 } else { 900 };
    let root = SVGBackend::new(path, (width, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = if pair.is_some() {
        let (l, r) = root.split_horizontally(900);
        (l, Some(r))
    } else {
        (root.clone(), None)
    };
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let last = report.trials.len().max(2);
    let title =
        format!("{} {}: {} ({})", report.model, report.strategy, report.metric, report.direction);
    let mut chart = ChartBuilder::on(&left)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..last, (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    chart.configure_mesh().x_desc("trial").y_desc(&report.metric).draw().map_err(|e| err(&e))?;
    chart
        .draw_series(points.iter().map(|&(n, v)| Circle::new((n, v), 4, BLUE.mix(0.6).filled())))
        .map_err(|e| err(&e))?
        .label("trial value")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, BLUE.filled()));
    let mut best = Vec::new();
    let mut so_far = f64::NAN;
    for &(n, v) in &points {
        let better = if minimize { v < so_far } else { v > so_far };
        if so_far.is_nan() || better {
            so_far = v;
        }
        best.push((n, so_far));
    }
    best.push((last - 1, so_far));
    chart
        .draw_series(LineSeries::new(best, RED.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("best so far")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    if let (Some(area), Some((x_name, y_name, xy))) = (right, pair) {
        scatter(&area, &x_name, &y_name, &xy, minimize).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

type Triples = Vec<(f64, f64, f64)>;

/// The two numeric parameters of a study that searched exactly two, with
/// each complete trial's (x, y, value).
fn two_params(report: &crate::service::tuning::StudyReport) -> Option<(String, String, Triples)> {
    let first = report.trials.first()?.params.as_object()?;
    if first.len() != 2 {
        return None;
    }
    let names: Vec<String> = first.keys().cloned().collect();
    let xy: Triples = report
        .trials
        .iter()
        .filter_map(|t| {
            let p = t.params.as_object()?;
            Some((p.get(&names[0])?.as_f64()?, p.get(&names[1])?.as_f64()?, t.value?))
        })
        .collect();
    (!xy.is_empty()).then(|| (names[0].clone(), names[1].clone(), xy))
}

fn scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    x_name: &str,
    y_name: &str,
    xy: &[(f64, f64, f64)],
    minimize: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let range = |f: fn(&(f64, f64, f64)) -> f64| {
        let lo = xy.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = xy.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.05).max(1e-9);
        (lo - pad)..(hi + pad)
    };
    let (vlo, vhi) =
        xy.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.2), b.max(p.2)));
    let mut chart = ChartBuilder::on(area)
        .caption(format!("trials over {x_name} and {y_name}"), ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(range(|p| p.0), range(|p| p.1))?;
    chart.configure_mesh().x_desc(x_name).y_desc(y_name).draw()?;
    chart.draw_series(xy.iter().map(|&(x, y, v)| {
        let mut good = if vhi > vlo { (v - vlo) / (vhi - vlo) } else { 1.0 };
        if minimize {
            good = 1.0 - good;
        }
        let shade = (220.0 * (1.0 - good)) as u8;
        Circle::new((x, y), 5, RGBColor(shade, shade, 255).filled())
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_curves_and_marks_the_best_epoch() {
        let h: Vec<Epoch> = (1..=10)
            .map(|i| Epoch {
                epoch: i,
                train_loss: Some(1.0 / f64::from(i)),
                val_loss: Some((f64::from(i) - 4.0).powi(2) / 20.0 + 0.3),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.svg");
        loss_curves(&path, "job", &[(0, h)], Patience::default()).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("fold 0 best epoch 4"));
        assert!(svg.matches("<polyline").count() >= 2, "two curves");
        let e = loss_curves(&path, "job", &[(0, vec![])], Patience::default()).unwrap_err();
        assert!(e.ends_with("no train_loss or val_loss to plot"));
    }
}
