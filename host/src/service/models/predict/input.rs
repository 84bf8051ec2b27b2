//! The input side of a batch: the header matched to the model's columns
//! and CSV errors in one line.

use std::io::Read;

use super::BatchError;
use crate::data::dataset::Column;
use crate::data::rows::RowEncoder;

/// Reads the header and matches it to the model's `columns`.
pub(super) fn encoder<R: Read>(
    reader: &mut csv::Reader<R>,
    name: &str,
    columns: &[Column],
) -> Result<RowEncoder, BatchError> {
    let bad = |m: String| BatchError::Input(format!("{name}: {m}"));
    let head: Vec<String> = match reader.headers() {
        Ok(h) if h.iter().any(|f| !f.trim_ascii().is_empty()) => {
            h.iter().map(str::to_owned).collect()
        }
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
    let known = columns.iter().filter(|c| head.iter().any(|h| h.trim_ascii() == c.name)).count();
    if known == 0 && !columns.is_empty() {
        let needs: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        return Err(bad(format!(
            "its first line names none of the model's columns; is it a CSV with a header row? the model needs {}",
            needs.join(", ")
        )));
    }
    RowEncoder::new(columns, &head).map_err(bad)
}

/// A CSV reading error in one line, its row being the file's line.
pub(super) fn read_error(e: &csv::Error, lines: u64) -> String {
    let row = e.position().map_or(0, |p| p.line()) + lines;
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
