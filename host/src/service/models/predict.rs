//! Batch prediction, the use case `mlhost predict` and the HTTP batch
//! endpoint share: a CSV of new rows streamed in, predictions streamed out,
//! in chunks of [`CHUNK_ROWS`], so memory stays the same whatever the
//! file's size. One thread reads and encodes the next chunk (the CSV
//! parsing and number reading, most of the work) while the caller's thread
//! predicts and writes the previous one; at most three chunk buffers exist.
//!
//! Cells are matched to the model's features by header name and encoded
//! with the training cell rules ([`RowEncoder`]); a bad cell is an error
//! naming its line in the file and its column. The output is CSV: a
//! `prediction` column (the class label, or the value), and with `proba`
//! one `proba_<label>` column per class.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use super::format::Rows;
use crate::data::rows::RowEncoder;
use crate::engine::predictor::{Predictions, Predictor};
use crate::engine::train::ModelHeader;

/// Rows per chunk: large enough that a chunk's fixed costs (a call into
/// the plugin, the preparation's buffers, a channel hop) vanish, small
/// enough that three chunks of 30 features stay under 6 MB.
pub const CHUNK_ROWS: usize = 8192;

/// What a batch needs of a model: a [`Predictor`] (a stand-in in tests).
pub trait BatchModel {
    /// Feature columns, labels, preparation.
    fn header(&self) -> &ModelHeader;
    /// False when a missing cell is an error rather than imputed.
    fn imputes_missing(&self) -> bool;
    /// Predictions for `rows` encoded rows of `x`.
    fn predict(&self, x: &[f64], rows: usize, proba: bool) -> Result<Predictions, String>;
}

impl BatchModel for Predictor {
    fn header(&self) -> &ModelHeader {
        &self.header
    }
    fn imputes_missing(&self) -> bool {
        Predictor::imputes_missing(self)
    }
    fn predict(&self, x: &[f64], rows: usize, proba: bool) -> Result<Predictions, String> {
        Predictor::predict(self, x, rows, proba)
    }
}

/// How a batch runs.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Write `proba_<label>` columns too.
    pub proba: bool,
    /// Rows per chunk ([`CHUNK_ROWS`]).
    pub chunk_rows: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions { proba: false, chunk_rows: CHUNK_ROWS }
    }
}

/// How far a batch is, after each chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows predicted and written.
    pub rows: u64,
    /// Input bytes read.
    pub bytes: u64,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    /// Rows predicted.
    pub rows: u64,
    /// From the first row read to the last prediction written.
    pub seconds: f64,
    /// `rows / seconds`.
    pub rows_per_second: f64,
    /// Input columns the model does not use (an id, the label, ...).
    pub ignored_columns: Vec<String>,
}

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The input is not rows the model can take (exit 2 / HTTP 422).
    #[error("{0}")]
    Input(String),
    /// The model failed or answered out of bounds (exit 1 / HTTP 500).
    #[error("{0}")]
    Model(String),
    /// Writing the predictions failed.
    #[error(transparent)]
    Output(#[from] std::io::Error),
    /// The progress callback asked to stop.
    #[error("stopped before the end of the input")]
    Stopped,
}

/// One chunk of encoded rows.
struct Chunk {
    x: Vec<f64>,
    rows: usize,
    /// Input bytes read after its last row.
    bytes: u64,
}

/// Predicts every row of the CSV `input` (`name` names it in messages)
/// with `model` and writes the predictions to `output` as they come,
/// calling `progress` after each chunk (`Break` stops the batch). Nothing
/// is written before the header matched and the first chunk predicted.
pub fn predict_csv<M, R, W>(
    model: &M,
    name: &str,
    input: R,
    output: &mut W,
    opts: BatchOptions,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<BatchSummary, BatchError>
where
    M: BatchModel + ?Sized,
    R: Read + Send,
    W: Write + ?Sized,
{
    let header = model.header();
    let classes = header.labels.as_deref();
    if opts.proba && classes.is_none() {
        return Err(BatchError::Input(
            "the model is a regression model: it gives values, no class probabilities; drop --proba"
                .into(),
        ));
    }
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).buffer_capacity(1 << 16).from_reader(input);
    let encoder = encoder(&mut reader, name, &header.columns)?;
    let started = Instant::now();
    let mut rows = Rows::new(classes, opts.proba);
    let chunk_rows = opts.chunk_rows.max(1);
    let imputes = model.imputes_missing();
    let done = std::thread::scope(|scope| -> Result<u64, BatchError> {
        let (full_tx, full_rx) = sync_channel(1);
        let (empty_tx, empty_rx) = sync_channel(2);
        let job = Reading { encoder: &encoder, name, chunk_rows, imputes };
        scope.spawn(move || job.run(reader, &full_tx, &empty_rx));
        let mut done = Progress::default();
        for chunk in full_rx {
            let chunk: Chunk = chunk?;
            let p = model.predict(&chunk.x, chunk.rows, opts.proba).map_err(BatchError::Model)?;
            if done.rows == 0 {
                if opts.proba && p.proba.is_none() {
                    return Err(BatchError::Input(format!(
                        "the model ({} {}) gives no class probabilities; drop --proba",
                        header.plugin, header.plugin_version
                    )));
                }
                output.write_all(&rows.header())?;
            }
            output.write_all(rows.chunk(&p, chunk.rows).map_err(BatchError::Model)?)?;
            done = Progress { rows: done.rows + chunk.rows as u64, bytes: chunk.bytes };
            if progress(done).is_break() {
                return Err(BatchError::Stopped);
            }
            let _ = empty_tx.try_send(chunk.x);
        }
        Ok(done.rows)
    })?;
    if done == 0 {
        return Err(BatchError::Input(format!(
            "{name}: no data rows after the header; nothing to predict"
        )));
    }
    output.flush()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(BatchSummary {
        rows: done,
        seconds,
        rows_per_second: done as f64 / seconds.max(1e-9),
        ignored_columns: encoder.ignored.clone(),
    })
}

/// Reads the header and matches it to the model's `columns`.
fn encoder<R: Read>(
    reader: &mut csv::Reader<R>,
    name: &str,
    columns: &[crate::data::dataset::Column],
) -> Result<RowEncoder, BatchError> {
    let bad = |m: String| BatchError::Input(format!("{name}: {m}"));
    let head: Vec<String> = match reader.headers() {
        Ok(h) if h.iter().any(|f| !f.trim().is_empty()) => h.iter().map(str::to_owned).collect(),
        Ok(_) => {
            return Err(bad(
                "the file is empty; expected a header row naming the model's columns, then data rows"
                    .into(),
            ));
        }
        Err(e) => {
            return Err(bad(format!("cannot read the header ({e}); is it a CSV file (UTF-8)?")));
        }
    };
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let known = columns.iter().filter(|c| head.iter().any(|h| h.trim() == c.name)).count();
    if known == 0 && !columns.is_empty() {
        let needs: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        return Err(bad(format!(
            "its first line names none of the model's columns; is it a CSV with a header row? the model needs {}",
            needs.join(", ")
        )));
    }
    RowEncoder::new(columns, &head).map_err(bad)
}

/// The reading side: records into chunks of encoded rows.
struct Reading<'a> {
    encoder: &'a RowEncoder,
    name: &'a str,
    chunk_rows: usize,
    imputes: bool,
}

impl Reading<'_> {
    /// Sends chunks until the input ends, an error (sent too), or the
    /// predicting side hangs up.
    fn run<R: Read>(
        &self,
        mut reader: csv::Reader<R>,
        full: &SyncSender<Result<Chunk, BatchError>>,
        empty: &Receiver<Vec<f64>>,
    ) {
        let mut record = csv::StringRecord::new();
        loop {
            let mut x = empty.try_recv().unwrap_or_default();
            x.clear();
            x.reserve(self.chunk_rows * self.encoder.cols());
            let (rows, ended) = match self.fill(&mut reader, &mut record, &mut x) {
                Ok(r) => r,
                Err(e) => {
                    let _ = full.send(Err(e));
                    return;
                }
            };
            let bytes = reader.position().byte();
            if rows > 0 && full.send(Ok(Chunk { x, rows, bytes })).is_err() {
                return;
            }
            if ended {
                return;
            }
        }
    }

    /// Reads up to a chunk of rows into `x`: (rows, true at the end).
    fn fill<R: Read>(
        &self,
        reader: &mut csv::Reader<R>,
        record: &mut csv::StringRecord,
        x: &mut Vec<f64>,
    ) -> Result<(usize, bool), BatchError> {
        let bad = |m: String| BatchError::Input(format!("{}: {m}", self.name));
        let cols = self.encoder.cols();
        for rows in 0..self.chunk_rows {
            if !reader.read_record(record).map_err(|e| bad(read_error(&e)))? {
                return Ok((rows, true));
            }
            let line = record.position().map_or(0, |p| p.line());
            self.encoder.push(record, line, x).map_err(bad)?;
            if !self.imputes
                && let Some(j) = x[x.len() - cols..].iter().position(|v| v.is_nan())
            {
                return Err(bad(format!(
                    "row {line}, column '{}': missing value, and the model was trained without imputing one; fill the cell in",
                    self.encoder.name(j)
                )));
            }
        }
        Ok((self.chunk_rows, false))
    }
}

/// A CSV reading error in one line, its row being the file's line.
fn read_error(e: &csv::Error) -> String {
    let row = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!(
            "row {row}: {len} fields, but the header has {expected_len}; every row needs one value per column"
        ),
        csv::ErrorKind::Utf8 { .. } => {
            format!("row {row}: not UTF-8 text; is it a CSV file (save it as UTF-8)?")
        }
        _ => format!("row {row}: {e}"),
    }
}

#[cfg(test)]
#[path = "predict_tests.rs"]
mod tests;
