//! Tables and JSON for what the CLI prints on stdout.

use std::io::Write;

use crate::domain::JobStatus;
use crate::service::runs::{ModelReport, RunReport};

/// A run as JSON or as the comparison table (sorted by F1, R² for
/// regression), with each failure's reason below.
pub fn write_run(report: &RunReport, json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        return writeln!(out);
    }
    let regression = report.models.iter().any(|m| m.metrics.contains("r2"));
    let columns: &[&str] = if regression {
        &["r2", "rmse", "mae"]
    } else {
        &["f1", "accuracy", "roc_auc", "roc_auc_ovr", "log_loss"]
    };
    let columns = [columns, &["sharpe", "max_drawdown", "overfit_gap"]].concat();
    let columns: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| report.models.iter().any(|m| m.metrics.get(c).is_some()))
        .collect();
    let mut models: Vec<&ModelReport> = report.models.iter().collect();
    let key = |m: &ModelReport| m.metrics.get(columns.first().copied().unwrap_or(""));
    models.sort_by(|a, b| {
        (b.status == JobStatus::Succeeded)
            .cmp(&(a.status == JobStatus::Succeeded))
            .then(
                key(b).unwrap_or(f64::NEG_INFINITY).total_cmp(&key(a).unwrap_or(f64::NEG_INFINITY)),
            )
            .then(a.model_id.cmp(&b.model_id))
    });
    let mut header = vec!["MODEL".to_owned(), "VERSION".to_owned()];
    header.extend(columns.iter().map(|c| heading(c)));
    header.extend(["FIT_S".to_owned(), "STATUS".to_owned()]);
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let mut row = vec![m.model_id.clone(), m.model_version.clone()];
            for c in &columns {
                row.push(match (m.metrics.get(c), m.metrics_std.get(c)) {
                    (Some(mean), Some(std)) => format!("{mean:.4} ± {std:.4}"),
                    (Some(mean), None) => format!("{mean:.4}"),
                    _ => "-".to_owned(),
                });
            }
            row.push(m.metrics.get("fit_seconds").map_or("-".to_owned(), |s| format!("{s:.4}")));
            row.push(m.status.to_string());
            row
        })
        .collect();
    writeln!(
        out,
        "run {}  dataset {}  {}",
        report.run_id,
        &report.dataset_id[..12.min(report.dataset_id.len())],
        report.status
    )?;
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    write_table(out, &header, &rows)?;
    for m in models.iter().filter(|m| m.error.is_some()) {
        writeln!(out, "{} {}: {}", m.status, m.model_id, m.error.as_deref().unwrap_or(""))?;
    }
    let primary = if regression { "r2" } else { "f1" };
    for m in &models {
        let train = m.metrics.get(&format!("train_{primary}"));
        if let (Some(gap), Some(train), Some(held)) =
            (m.metrics.get("overfit_gap"), train, m.metrics.get(primary))
            && gap > crate::metrics::OVERFIT_GAP
        {
            writeln!(
                out,
                "overfit: {} scores {primary} {train:.4} on its training rows but {held:.4} held out (gap {gap:.4} > {}); try a simpler model or more regularization",
                m.model_id,
                crate::metrics::OVERFIT_GAP
            )?;
        }
    }
    Ok(())
}

/// A metric's column heading: its name in capitals, `GAP` for the
/// overfitting gap.
fn heading(metric: &str) -> String {
    match metric {
        "overfit_gap" => "GAP".to_owned(),
        m => m.to_uppercase(),
    }
}

/// Left-aligned columns two spaces apart.
pub fn write_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}
