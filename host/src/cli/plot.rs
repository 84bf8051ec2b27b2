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
