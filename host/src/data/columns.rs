//! A columnar fast path for reading large CSV files whose cells are not
//! quoted (the common export of numbers): blocks of bytes split on commas
//! and newlines straight into one vector per column, with the same cell
//! rules as [`crate::data::csv`] (trimmed cells, missing markers, a column
//! numeric until its first text cell, categories sorted). A file with a
//! quote character anywhere is not for this path: [`read`] says so and the
//! caller reads it with the `csv` crate instead.

use std::io::Read;

use crate::data::csv::{Builder, finish, is_missing};
use crate::data::dataset::{Column, DatasetError};

/// Bytes read at a time.
const BLOCK: usize = 4 << 20;

/// A file's feature columns, each a vector of values (numbers, category
/// codes, NaN for missing).
#[derive(Debug)]
pub struct ColumnTable {
    /// Names and kinds, in file order without the label.
    pub columns: Vec<Column>,
    /// One vector per column.
    pub values: Vec<Vec<f64>>,
    /// Data rows.
    pub rows: usize,
}

/// Reads `reader`, positioned after the header line (`header`, already
/// read), column by column, leaving out column `label_col`
/// (`header.len()` or more: none). `Ok(None)` when a quote character shows
/// up: the file needs the full CSV reader. `size_hint` (the file's bytes)
/// lets each column be allocated once.
pub fn read(
    name: &str,
    header: &[String],
    label_col: usize,
    mut reader: impl Read,
    size_hint: Option<u64>,
) -> Result<Option<ColumnTable>, DatasetError> {
    let whole = |message: String| DatasetError::Whole { source_name: name.to_owned(), message };
    let mut state = State::new(header, label_col);
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK * 2);
    let (mut line, mut first_block) = (1u64, true);
    loop {
        let start = buf.len();
        buf.resize(start + BLOCK, 0);
        let n = reader.read(&mut buf[start..]).map_err(|e| whole(format!("cannot read: {e}")))?;
        buf.truncate(start + n);
        let eof = n == 0;
        let end = if eof {
            buf.len()
        } else {
            buf.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
        };
        if buf[start..].contains(&b'"') {
            return Ok(None);
        }
        for text in buf[..end].split(|&b| b == b'\n') {
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.is_empty() {
                line += 1;
                continue;
            }
            line += 1;
            state.row(name, text, line)?;
        }
        if first_block
            && let (Some(total), rows) = (size_hint, state.rows)
            && end > 0
        {
            // Room for the whole file at the first block's bytes per row.
            let expected = (total as f64 * rows as f64 / end as f64 * 1.05) as usize + 1024;
            state.values.iter_mut().for_each(|c| c.reserve(expected.saturating_sub(c.len())));
        }
        first_block = false;
        buf.drain(..end);
        if eof {
            break;
        }
    }
    Ok(Some(state.finish(header, label_col)))
}

/// The columns being built.
#[derive(Debug)]
struct State<'h> {
    header: &'h [String],
    label_col: usize,
    builders: Vec<Builder>,
    values: Vec<Vec<f64>>,
    missing: Vec<usize>,
    rows: usize,
}

impl<'h> State<'h> {
    fn new(header: &'h [String], label_col: usize) -> Self {
        let cols = header.len() - usize::from(label_col < header.len());
        State {
            header,
            label_col,
            builders: (0..cols).map(|_| Builder::Numeric).collect(),
            values: (0..cols).map(|_| Vec::new()).collect(),
            missing: vec![0; cols],
            rows: 0,
        }
    }

    /// One line (1-based `line` in the file) of unquoted cells.
    fn row(&mut self, name: &str, text: &[u8], line: u64) -> Result<(), DatasetError> {
        let fields = text.iter().filter(|&&b| b == b',').count() + 1;
        if fields != self.header.len() {
            let expected = self.header.len();
            return Err(DatasetError::Whole {
                source_name: name.to_owned(),
                message: format!(
                    "row {line}: {fields} fields, but the header has {expected}; every row needs one value per column"
                ),
            });
        }
        let text = std::str::from_utf8(text).map_err(|_| DatasetError::Whole {
            source_name: name.to_owned(),
            message: format!("row {line}: not UTF-8 text; save the file as UTF-8"),
        })?;
        let (mut j, mut start) = (0, 0);
        // Cells by a byte loop: memchr per cell costs more than it saves on
        // cells of a few bytes. A comma is ASCII, so every cut is a char
        // boundary.
        let cuts = text.bytes().enumerate().filter(|(_, b)| *b == b',').map(|(i, _)| i);
        for (i, end) in cuts.chain(std::iter::once(text.len())).enumerate() {
            let cell = &text[start..end];
            start = end + 1;
            if i == self.label_col {
                continue;
            }
            let at = |m: String| DatasetError::cell(name, line, &self.header[i], m);
            let value = cell.trim_ascii();
            let v = if is_missing(value) {
                self.missing[j] += 1;
                f64::NAN
            } else {
                let column = &mut self.values[j];
                self.builders[j].value(value, line, (0, 1), column, self.rows).map_err(at)?
            };
            self.values[j].push(v);
            j += 1;
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(self, header: &[String], label_col: usize) -> ColumnTable {
        let names = header.iter().enumerate().filter(|(i, _)| *i != label_col).map(|(_, h)| h);
        let mut columns = Vec::with_capacity(self.values.len());
        let mut values = self.values;
        let parts = self.builders.into_iter().zip(names).zip(self.missing);
        for ((b, name), missing) in parts {
            let k = columns.len();
            columns.extend(finish(vec![b], vec![name], vec![missing], &mut values[k], 1));
        }
        ColumnTable { columns, values, rows: self.rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both readers on `text` (label: the last column), as columns.
    fn both(text: &str) -> (ColumnTable, Vec<Column>, Vec<Vec<f64>>) {
        let (head, body) = text.split_once('\n').unwrap();
        let header: Vec<String> = head.split(',').map(str::to_owned).collect();
        let label = header.len() - 1;
        let fast = read("d.csv", &header, label, body.as_bytes(), None).unwrap().unwrap();
        let mut r = ::csv::ReaderBuilder::new()
            .trim(::csv::Trim::All)
            .from_reader(crate::data::crlf::Crlf::new(text.as_bytes()));
        let slow = crate::data::csv::read("d.csv", &mut r, &header, (label, &[]), None).unwrap();
        let cols = slow.columns.len();
        let by_col = (0..cols).map(|j| slow.x.iter().skip(j).step_by(cols).copied().collect());
        (fast, slow.columns, by_col.collect())
    }

    #[test]
    fn reads_what_the_csv_reader_reads() {
        let text = "n,c,m,y\n1, red ,5,a\n,blue,x,b\r\n\n-nan,red,2.50,a\n2.5,,NA,b\n";
        let (fast, columns, values) = both(text);
        assert_eq!(fast.columns, columns);
        assert_eq!(fast.rows, 4);
        let bits = |v: &Vec<Vec<f64>>| -> Vec<Vec<u64>> {
            v.iter().map(|c| c.iter().map(|x| x.to_bits()).collect()).collect()
        };
        assert_eq!(bits(&fast.values), bits(&values));
    }

    #[test]
    fn a_quote_sends_the_file_to_the_csv_reader_and_a_short_row_is_named() {
        let header = ["a".to_owned(), "b".to_owned()];
        let quoted = read("d.csv", &header, 9, &b"1,\"x,y\"\n"[..], None).unwrap();
        assert!(quoted.is_none());
        let e = read("d.csv", &header, 9, &b"1,2\n3\n"[..], None).unwrap_err().to_string();
        assert_eq!(
            e,
            "d.csv: row 3: 1 fields, but the header has 2; every row needs one value per column"
        );
    }
}
