//! `mlhost predict`: a registered version's predictions for the rows of a
//! CSV, streamed to a file (whole or not at all) or stdout, with a progress
//! bar on a terminal and a one-line summary on stderr.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::BadInput;
use crate::config::Config;
use crate::domain::{ModelRef, StopFlag};
use crate::engine::predictor::Predictor;
use crate::service::models::predict::{self, BatchError, BatchOptions, BatchSummary, Progress};
use crate::store::artifacts::Artifacts;
use crate::store::{Store, VersionRow};

/// `mlhost predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// The version: `NAME` (its production version, else the latest),
    /// `NAME@ALIAS` or `NAME:N`.
    #[arg(long, value_name = "NAME[@ALIAS|:N]")]
    pub model: String,
    /// The rows: a CSV whose header names the model's feature columns, in
    /// any order (other columns are ignored); `-` reads stdin.
    #[arg(long, value_name = "X.csv")]
    pub input: PathBuf,
    /// Write the predictions to this file (a temporary file renamed into
    /// place at the end: a failure leaves no half file); default stdout.
    #[arg(long, value_name = "P.csv")]
    pub output: Option<PathBuf>,
    /// Add a `proba_<label>` column per class.
    #[arg(long)]
    pub proba: bool,
    /// Print the summary as JSON on stdout (needs --output).
    #[arg(long, requires = "output")]
    pub json: bool,
    /// Rows per chunk (for tuning; `bench/predict.sh`).
    #[arg(long, hide = true, default_value_t = predict::CHUNK_ROWS)]
    pub chunk_rows: usize,
}

pub(super) fn run(
    config: &Config,
    args: PredictArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let model: ModelRef =
        args.model.parse().map_err(|e| BadInput::Other(format!("--model {e}")))?;
    let store = Store::open(&config.database)?;
    // An unknown name, alias or version is said before plugins are probed.
    crate::service::models::find(&store, &model).map_err(super::models_cmd::error)?;
    let registry = super::discover(config, false)?;
    super::refuse_if_wedged(&registry)?;
    let artifacts = Artifacts::new(&config.artifacts);
    let (version, predictor) = crate::service::models::load(&registry, &store, &artifacts, &model)
        .map_err(super::models_cmd::error)?;
    if args.proba && predictor.n_classes() == 0 {
        return Err(BadInput::Other(format!(
            "--proba: {}:{} is a regression model; it gives values, no class probabilities; drop --proba",
            version.name, version.version
        ))
        .into());
    }
    let (input, size) = open_input(&args.input)?;
    let name = if args.input.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        args.input.display().to_string()
    };
    let stop = StopFlag::default();
    let flag = stop.clone();
    super::signals::on_stop(move || flag.stop());
    let bar = Bar::new(size);
    let mut progress = |p: Progress| {
        bar.show(p);
        if stop.is_set() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    };
    let opts =
        BatchOptions { proba: args.proba, chunk_rows: args.chunk_rows, ..BatchOptions::default() };
    let batch =
        |w: &mut dyn Write| predict::predict_csv(&predictor, &name, input, w, opts, &mut progress);
    let summary = match &args.output {
        Some(path) => write_atomic(path, batch),
        None => batch(out).map_err(batch_error),
    };
    bar.done();
    let summary = summary?;
    let shown = args.output.as_ref().map(|p| p.display().to_string());
    say(&summary, &version, shown.as_deref());
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &json(&summary, &version, &args, &predictor))?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The input file (or stdin) and its size, for the progress bar.
fn open_input(path: &Path) -> anyhow::Result<(Box<dyn std::io::Read + Send>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let cannot =
        |e: std::io::Error| BadInput::Other(format!("{}: cannot read: {e}", path.display()));
    let file = File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if meta.is_dir() {
        return Err(
            BadInput::Other(format!("{} is a folder; give a CSV file", path.display())).into()
        );
    }
    Ok((Box::new(file), Some(meta.len())))
}

/// Runs `batch` into a temporary file beside `path`, synced and renamed
/// over it on success, removed on failure.
fn write_atomic(
    path: &Path,
    batch: impl FnOnce(&mut dyn Write) -> Result<BatchSummary, BatchError>,
) -> anyhow::Result<BatchSummary> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| BadInput::Other(format!("--output {}: give a file name", path.display())))?;
    let tmp = dir.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), std::process::id()));
    let file = File::create(&tmp).map_err(|e| {
        BadInput::Other(format!("--output {}: cannot write there: {e}", path.display()))
    })?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let written = batch(&mut w).map_err(|e| output_error(e, path)).and_then(|s| {
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(s)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn output_error(e: BatchError, path: &Path) -> anyhow::Error {
    match e {
        BatchError::Output(io) => anyhow::anyhow!("writing {}: {io}", path.display()),
        BatchError::Stopped => {
            anyhow::anyhow!("interrupted; {} was not written", path.display())
        }
        other => common_error(other),
    }
}

/// To stdout: an I/O error stays one (a closed pipe is not a failure).
fn batch_error(e: BatchError) -> anyhow::Error {
    match e {
        BatchError::Output(io) => io.into(),
        BatchError::Stopped => anyhow::anyhow!("interrupted"),
        other => common_error(other),
    }
}

fn common_error(e: BatchError) -> anyhow::Error {
    match e {
        BatchError::Input(m) => BadInput::Other(m).into(),
        other => anyhow::anyhow!("{other}"),
    }
}

/// The summary on stderr, and the ignored columns once.
fn say(s: &BatchSummary, v: &VersionRow, output: Option<&str>) {
    if !s.ignored_columns.is_empty() {
        eprintln!("ignored input columns the model does not use: {}", s.ignored_columns.join(", "));
    }
    eprintln!(
        "predicted {} rows with {}:{} ({}) in {:.2} s ({} rows/s){}",
        s.rows,
        v.name,
        v.version,
        v.semver,
        s.seconds,
        thousands(s.rows_per_second.round() as u64),
        output.map(|o| format!(" -> {o}")).unwrap_or_default()
    );
}

fn json(s: &BatchSummary, v: &VersionRow, a: &PredictArgs, p: &Predictor) -> serde_json::Value {
    serde_json::json!({
        "model": v.name,
        "version": v.version,
        "semver": v.semver,
        "task": p.header.task,
        "input": a.input.display().to_string(),
        "output": a.output.as_ref().map(|o| o.display().to_string()),
        "proba": a.proba,
        "rows": s.rows,
        "seconds": s.seconds,
        "rowsPerSecond": s.rows_per_second,
        "ignoredColumns": s.ignored_columns,
    })
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A progress bar over the input's bytes on a terminal; nothing when
/// stderr is piped.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(size: Option<u64>) -> Bar {
        Bar(std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(size.unwrap_or(0));
            let template = match size {
                Some(_) => "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes}  {msg}",
                None => "{elapsed_precise} {bytes}  {msg}",
            };
            b.set_style(
                indicatif::ProgressStyle::with_template(template)
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b
        }))
    }
    fn show(&self, p: Progress) {
        if let Some(b) = &self.0 {
            b.set_position(p.bytes);
            b.set_message(format!("{} rows", thousands(p.rows)));
        }
    }
    fn done(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }
}
