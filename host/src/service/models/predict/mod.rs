//! Batch prediction, the use case `mlhost predict` and the HTTP batch
//! endpoint share: a CSV of new rows streamed in, predictions streamed out,
//! in chunks of [`CHUNK_ROWS`], so memory stays the same whatever the
//! file's size. Three stages overlap: a thread parses the CSV into a batch
//! of records, a second encodes the previous batch into numbers, and the
//! caller's thread predicts and writes the chunk before that (parsing and
//! encoding are most of the work; on one thread they were the bottleneck).
//! Buffers go back upstream for reuse, at most three of each kind.
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

use crate::data::crlf::Crlf;
use crate::data::rows::RowEncoder;
use crate::engine::predictor::{Predictions, Predictor};
use crate::engine::train::ModelHeader;
use format::Rows;
use input::{encoder, read_error};

pub mod format;
mod input;

/// Rows per chunk (at most; see [`CHUNK_BYTES`]): large enough that a
/// chunk's fixed costs (a call into the plugin, the preparation's buffers,
/// two channel hops) vanish. On 1,000,000 × 30 features, 1,024 to 8,192
/// rows run equally fast (within 5%); 4,096 was the fastest, at 30 MB peak
/// RSS for the whole process (8,192: 45 MB; 16,384: 76 MB and 10% slower,
/// the batches no longer in cache; `bench/predict.sh`).
pub const CHUNK_ROWS: usize = 4096;

/// A chunk also ends after this much input text, so a very wide file
/// costs no more memory than a narrow one (three chunks of text, three of
/// numbers, about as large).
pub const CHUNK_BYTES: u64 = 8 << 20;

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
    /// Input bytes after which a chunk ends early ([`CHUNK_BYTES`]).
    pub chunk_bytes: u64,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions { proba: false, chunk_rows: CHUNK_ROWS, chunk_bytes: CHUNK_BYTES }
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

/// One chunk of parsed records (kept for reuse: a record's buffers grow
/// once, then serve every chunk).
struct Batch {
    records: Vec<csv::StringRecord>,
    rows: usize,
    /// Input bytes read after its last row.
    bytes: u64,
}

/// One chunk of encoded rows.
struct Chunk {
    x: Vec<f64>,
    rows: usize,
    bytes: u64,
}

type Sent<T> = Result<T, BatchError>;

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
    if opts.proba && model.header().labels.is_none() {
        return Err(BatchError::Input(
            "the model is a regression model: it gives values, no class probabilities; drop --proba"
                .into(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 16)
        .from_reader(Crlf::new(input));
    let encoder = encoder(&mut reader, name, &model.header().columns)?;
    let lines = reader.get_ref().extra_lines();
    let started = Instant::now();
    let chunk_rows = opts.chunk_rows.max(1);
    let encoding = Encoding { encoder: &encoder, name, imputes: model.imputes_missing(), lines };
    let rows = std::thread::scope(|scope| {
        let (batch_tx, batch_rx) = sync_channel(1);
        let (records_tx, records_rx) = sync_channel(2);
        let (chunk_tx, chunk_rx) = sync_channel(1);
        let (x_tx, x_rx) = sync_channel(2);
        let limits = (chunk_rows, opts.chunk_bytes.max(1));
        scope.spawn(move || parse(reader, (name, lines), limits, &batch_tx, &records_rx));
        scope.spawn(move || encoding.run(batch_rx, &records_tx, &chunk_tx, &x_rx));
        write_chunks(model, opts.proba, chunk_rx, &x_tx, output, progress)
    })?;
    if rows == 0 {
        return Err(BatchError::Input(format!(
            "{name}: no data rows after the header; nothing to predict"
        )));
    }
    output.flush()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(BatchSummary {
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        ignored_columns: encoder.ignored.clone(),
    })
}

/// The last stage, on the caller's thread: predicts each chunk, writes
/// it, hands its buffer back. Returns the rows written.
fn write_chunks<M: BatchModel + ?Sized, W: Write + ?Sized>(
    model: &M,
    proba: bool,
    chunks: Receiver<Sent<Chunk>>,
    back: &SyncSender<Vec<f64>>,
    output: &mut W,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<u64, BatchError> {
    let header = model.header();
    let mut rows = Rows::new(header.labels.as_deref(), proba);
    let mut done = Progress::default();
    for chunk in chunks {
        let chunk = chunk?;
        let p = model.predict(&chunk.x, chunk.rows, proba).map_err(BatchError::Model)?;
        if done.rows == 0 {
            if proba && p.proba.is_none() {
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
        let _ = back.try_send(chunk.x);
    }
    Ok(done.rows)
}

/// The first stage: records into batches, until the input ends, an error
/// (sent on), or the next stage hangs up.
fn parse<R: Read>(
    mut reader: csv::Reader<R>,
    (name, lines): (&str, u64),
    (chunk_rows, chunk_bytes): (usize, u64),
    out: &SyncSender<Sent<Batch>>,
    back: &Receiver<Vec<csv::StringRecord>>,
) {
    loop {
        let mut records = back.try_recv().unwrap_or_default();
        let (mut rows, mut ended) = (0, false);
        let start = reader.position().byte();
        while rows < chunk_rows && reader.position().byte() - start < chunk_bytes {
            if rows == records.len() {
                records.push(csv::StringRecord::new());
            }
            match reader.read_record(&mut records[rows]) {
                Ok(true) => rows += 1,
                Ok(false) => {
                    ended = true;
                    break;
                }
                Err(e) => {
                    let e = read_error(&e, lines);
                    let _ = out.send(Err(BatchError::Input(format!("{name}: {e}"))));
                    return;
                }
            }
        }
        let bytes = reader.position().byte();
        if (rows > 0 && out.send(Ok(Batch { records, rows, bytes })).is_err()) || ended {
            return;
        }
    }
}

/// The second stage: batches of records into chunks of encoded rows.
struct Encoding<'a> {
    encoder: &'a RowEncoder,
    name: &'a str,
    imputes: bool,
    /// Added to the csv crate's line numbers ([`Crlf`]).
    lines: u64,
}

impl Encoding<'_> {
    fn run(
        &self,
        batches: Receiver<Sent<Batch>>,
        records_back: &SyncSender<Vec<csv::StringRecord>>,
        out: &SyncSender<Sent<Chunk>>,
        x_back: &Receiver<Vec<f64>>,
    ) {
        for batch in batches {
            let chunk = batch.and_then(|b| {
                let mut x = x_back.try_recv().unwrap_or_default();
                x.clear();
                x.reserve(b.rows * self.encoder.cols());
                self.encode(&b.records[..b.rows], &mut x)?;
                let _ = records_back.try_send(b.records);
                Ok(Chunk { x, rows: b.rows, bytes: b.bytes })
            });
            let failed = chunk.is_err();
            if out.send(chunk).is_err() || failed {
                return;
            }
        }
    }

    fn encode(&self, records: &[csv::StringRecord], x: &mut Vec<f64>) -> Result<(), BatchError> {
        let bad = |m: String| BatchError::Input(format!("{}: {m}", self.name));
        let cols = self.encoder.cols();
        for record in records {
            let line = record.position().map_or(0, |p| p.line()) + self.lines;
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
        Ok(())
    }
}

#[cfg(test)]
mod tests;
