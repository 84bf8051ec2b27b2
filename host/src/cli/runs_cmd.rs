//! `mlhost runs`, `show`, `watch` and `analyze`: stored runs and the epochs
//! of their jobs, read through `service` and printed as tables or JSON.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::{BadInput, write_run, write_table};
use crate::config::Config;
use crate::domain::EpochRow;
use crate::domain::Patience;
use crate::metrics::trend::{self, Epoch};
use crate::service::runs;
use crate::store::Store;

/// `mlhost runs [--json]`.
pub(super) fn list(config: &Config, json: bool, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.database)?;
    let rows = runs::list(&store)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "runs": rows }))?;
        writeln!(out)?;
    } else if rows.is_empty() {
        writeln!(
            out,
            "no runs yet in {}; start one with `mlhost eval`",
            config.database.display()
        )?;
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.run_id.to_string(),
                    r.created_at.clone(),
                    r.status.to_string(),
                    r.dataset_id.chars().take(12).collect(),
                    format!("{}/{}", r.succeeded, r.jobs),
                    r.study.as_ref().map_or("eval".to_owned(), |s| {
                        format!("tune {} {} (study {})", s.model, s.strategy, s.study_id)
                    }),
                ]
            })
            .collect();
        write_table(out, &["RUN", "CREATED", "STATUS", "DATASET", "SUCCEEDED", "KIND"], &table)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `mlhost show RUN [--json]`.
pub(super) fn show(
    config: &Config,
    run: &str,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.database)?;
    if let Some(study) = crate::service::tuning::report(&store, run)? {
        super::write_study(&study, json, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(report) = runs::report(&store, run)? else {
        return Err(BadInput::Other(format!(
            "no run '{run}' in {}; `mlhost runs` lists them",
            config.database.display()
        ))
        .into());
    };
    write_run(&report, json, out)?;
    Ok(ExitCode::SUCCESS)
}

/// The losses of one stored epoch; a row whose metrics do not parse is
/// logged and counts as one without losses.
fn epoch(row: &EpochRow) -> Epoch {
    let m = row.metrics().unwrap_or_else(|e| {
        tracing::warn!(job_id = %row.job_id, epoch = row.epoch, error = %e, "unreadable epoch metrics");
        Default::default()
    });
    Epoch { epoch: row.epoch as u32, train_loss: m.get("train_loss"), val_loss: m.get("val_loss") }
}

/// `mlhost analyze JOB`: the trend of each fold, optionally as a plot.
pub(super) fn analyze(
    config: &Config,
    job: &str,
    p: Patience,
    json: bool,
    plot: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.database)?;
    let rows = store.epochs(job)?;
    if let Some(path) = plot {
        if rows.is_empty() {
            let why = format!("no epochs recorded for job {job}; nothing to plot");
            return Err(BadInput::Other(why).into());
        }
        let mut folds: std::collections::BTreeMap<i64, Vec<Epoch>> = Default::default();
        for r in &rows {
            folds.entry(r.fold).or_default().push(epoch(r));
        }
        let folds: Vec<_> = folds.into_iter().collect();
        super::plot::loss_curves(path, &format!("job {job}"), &folds, p)
            .map_err(BadInput::Other)?;
    }
    let mut doc = serde_json::to_value(trend::report(&rows, p))?;
    doc["operationId"] = job.into();
    if json {
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else if rows.is_empty() {
        writeln!(
            out,
            "no epochs recorded for job {job}: its model reports none, or it has not trained yet"
        )?;
    } else {
        for f in doc["folds"].as_array().into_iter().flatten() {
            let t = &f["trend"];
            writeln!(
                out,
                "fold {}: {} epochs, best epoch {} (val_loss {}), {} since improvement, overfitting: {}, plateau: {} -> {}",
                f["fold"],
                t["epochs"],
                t["bestEpoch"],
                t["bestValLoss"],
                t["epochsSinceImprovement"],
                t["overfitting"],
                t["plateau"],
                t["recommendation"].as_str().unwrap_or("")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One row of `watch`: a job's latest epoch and its trend.
fn watch_row(store: &Store, job: &crate::store::JobRow) -> anyhow::Result<Vec<String>> {
    let epochs = store.epochs(&job.id)?;
    let last = epochs.last();
    let fold = last.map_or(0, |e| e.fold);
    let history: Vec<Epoch> = epochs.iter().filter(|e| e.fold == fold).map(epoch).collect();
    let trend = trend::analyze(&history, Patience::default());
    let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
    let latest = history.last();
    Ok(vec![
        job.model_id.clone(),
        job.status.to_string(),
        if last.is_some() { fold.to_string() } else { "-".into() },
        latest.map_or("-".into(), |e| e.epoch.to_string()),
        fmt(latest.and_then(|e| e.train_loss)),
        fmt(latest.and_then(|e| e.val_loss)),
        trend.best_epoch.map_or("-".into(), |b| b.to_string()),
        if history.is_empty() { "-".into() } else { trend.recommendation.to_owned() },
    ])
}

/// `mlhost watch RUN`: redraws every 500 ms until the run ends.
pub(super) fn watch(config: &Config, run: &str, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let store = Store::open(&config.database)?;
    let Some(first) = store.run(run)? else {
        return Err(BadInput::Other(format!("no run '{run}'; `mlhost runs` lists them")).into());
    };
    let tty = std::io::stdout().is_terminal();
    loop {
        let run = store.run(&first.id)?.expect("runs are never deleted");
        let rows = store
            .jobs(&run.id)?
            .iter()
            .map(|j| watch_row(&store, j))
            .collect::<Result<Vec<_>, _>>()?;
        if tty {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        writeln!(out, "run {}  {}", run.id, run.status)?;
        write_table(
            out,
            &["MODEL", "STATUS", "FOLD", "EPOCH", "TRAIN_LOSS", "VAL_LOSS", "BEST", "TREND"],
            &rows,
        )?;
        out.flush()?;
        if run.status.is_finished() {
            return Ok(ExitCode::SUCCESS);
        }
        if !tty {
            writeln!(out)?;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
