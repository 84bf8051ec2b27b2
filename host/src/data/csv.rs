//! Streaming CSV reading: one record at a time straight into the row-major
//! feature matrix, so the file's text is never held whole. Each column is
//! numeric until a cell that is not a number makes it categorical (its
//! values become codes into a sorted category list, like scikit-learn's
//! encoders); empty cells and the usual missing markers (`NA`, `NaN`,
//! `null`, ...) become NaN and are imputed later, per candidate and fold.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::data::crlf::Crlf;
use crate::data::dataset::{Column, ColumnKind, DatasetError, MAX_CATEGORIES};

/// Cells that mean "no value", as pandas' `read_csv` reads them by default.
const MISSING: &[&str] =
    &["", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "-NaN", "NULL", "null", "None", "#N/A"];

/// True when a cell is a missing value (a number's first byte settles it).
pub(crate) fn is_missing(value: &str) -> bool {
    match value.as_bytes().first() {
        None => true,
        Some(b'N' | b'n' | b'-' | b'#') => MISSING.contains(&value),
        Some(_) => false,
    }
}

/// The label cells, one string per row, packed into one buffer (a million
/// labels cost their bytes plus one offset each, not a `String` apiece).
#[derive(Debug, Default)]
pub struct Labels {
    text: String,
    ends: Vec<usize>,
}

impl Labels {
    fn push(&mut self, value: &str) {
        self.text.push_str(value);
        self.ends.push(self.text.len());
    }
    /// Number of labels.
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// The labels in row order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(s, &e)| &self.text[s..e])
    }
}

/// One feature column being read.
#[derive(Debug)]
pub(super) enum Builder {
    Numeric,
    /// Codes in order of first appearance; sorted once at the end.
    Categorical {
        index: HashMap<String, u32>,
        names: Vec<String>,
        /// The cell that made the column text: its line and value.
        first_text: (u64, String),
    },
}

/// What a streamed read produces before labels are encoded.
#[derive(Debug)]
pub struct Table {
    /// Feature names and kinds, in file order without the label.
    pub columns: Vec<Column>,
    /// Row-major features: numbers, category codes, NaN for missing.
    pub x: Vec<f64>,
    /// The label cells.
    pub labels: Labels,
    /// The cells of each skipped (key) column, in `skip` order.
    pub keys: Vec<Labels>,
}

/// Reads every record of `reader` after its header. `label_col` indexes the
/// label in the header (`header.len()` or more: no label, every column a
/// feature); `size_hint` (the file's byte length) lets the matrix be
/// allocated once instead of doubling.
pub fn read<R: std::io::Read>(
    name: &str,
    reader: &mut csv::Reader<Crlf<R>>,
    header: &[String],
    (label_col, skip): (usize, &[usize]),
    size_hint: Option<u64>,
) -> Result<Table, DatasetError> {
    let feature_names: Vec<&String> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != label_col && !skip.contains(i))
        .map(|(_, h)| h)
        .collect();
    let cols = feature_names.len();
    let mut builders: Vec<Builder> = (0..cols).map(|_| Builder::Numeric).collect();
    let mut missing = vec![0usize; cols];
    let mut x: Vec<f64> = Vec::new();
    let mut labels = Labels::default();
    let mut keys: Vec<Labels> = skip.iter().map(|_| Labels::default()).collect();
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    while read_record(name, reader, &mut record)? {
        let line = record.position().map_or(0, |p| p.line()) + reader.get_ref().extra_lines();
        if rows == 1024
            && let (Some(total), Some(pos)) = (size_hint, record.position())
        {
            reserve_for(&mut x, total, pos.byte(), rows, cols);
        }
        let mut j = 0;
        for (i, value) in record.iter().enumerate() {
            if let Some(k) = skip.iter().position(|s| *s == i) {
                keys[k].push(value); // a key column (groups, time): never a feature
                continue;
            }
            if i == label_col {
                if value.is_empty() {
                    return Err(DatasetError::cell(
                        name,
                        line,
                        &header[i],
                        "missing label; fill it in or drop the row".to_owned(),
                    ));
                }
                labels.push(value);
                continue;
            }
            let v = if is_missing(value) {
                missing[j] += 1;
                f64::NAN
            } else {
                let at = |m: String| DatasetError::cell(name, line, &header[i], m);
                builders[j].value(value, line, (j, cols), &mut x, rows).map_err(at)?
            };
            x.push(v);
            j += 1;
        }
        rows += 1;
    }
    if x.capacity() > x.len() + x.len() / 8 {
        x.shrink_to_fit();
    }
    let columns = finish(builders, feature_names, missing, &mut x, cols);
    Ok(Table { columns, x, labels, keys })
}

/// Reserves room for the whole file, estimated from the first rows' bytes.
fn reserve_for(x: &mut Vec<f64>, total: u64, read: u64, rows: usize, cols: usize) {
    if read == 0 {
        return;
    }
    let per_row = read as f64 / rows as f64;
    let expected = (total as f64 / per_row * 1.05) as usize + 1024;
    x.reserve(expected.saturating_mul(cols).saturating_sub(x.len()));
}

fn read_record<R: std::io::Read>(
    name: &str,
    reader: &mut csv::Reader<Crlf<R>>,
    record: &mut csv::StringRecord,
) -> Result<bool, DatasetError> {
    let extra = reader.get_ref().extra_lines();
    reader.read_record(record).map_err(|e| {
        let row = e.position().map_or(0, |p| p.line()) + extra;
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!(
                "row {row}: {len} fields, but the header has {expected_len}; every row needs one value per column"
            ),
            _ => format!("row {row}: {e}"),
        };
        DatasetError::Whole { source_name: name.to_owned(), message }
    })
}

impl Builder {
    /// The stored value of a non-missing cell (at `line`) of column `j` of
    /// `cols`, turning the column categorical at its first text cell
    /// (`rows` rows read so far).
    pub(super) fn value(
        &mut self,
        value: &str,
        line: u64,
        (j, cols): (usize, usize),
        x: &mut [f64],
        rows: usize,
    ) -> Result<f64, String> {
        if let Builder::Numeric = self {
            match fast_f64(value).map_or_else(|| value.parse::<f64>(), Ok) {
                Ok(v) if v.is_finite() => return Ok(v),
                Ok(_) => {
                    return Err(format!(
                        "{value} is not a finite number; if it means missing, leave the cell \
                         empty or write NA"
                    ));
                }
                Err(_) => *self = Builder::categorical_from(x, (j, cols), rows, (line, value))?,
            }
        }
        let Builder::Categorical { index, names, first_text } = self else {
            unreachable!("made categorical")
        };
        let key = category_key(value);
        intern(index, names, key).map_err(|e| {
            let (at, text) = first_text;
            format!("{e} (the column is text since row {at}: {text:?})")
        })
    }

    /// A numeric column turned categorical at `first_text`: the numbers read
    /// so far become categories (by value, as text).
    fn categorical_from(
        x: &mut [f64],
        (j, cols): (usize, usize),
        rows: usize,
        (line, text): (u64, &str),
    ) -> Result<Self, String> {
        let (mut index, mut names) = (HashMap::new(), Vec::new());
        for r in 0..rows {
            let v = &mut x[r * cols + j];
            if !v.is_nan() {
                *v = intern(&mut index, &mut names, Cow::Owned(v.to_string()))?;
            }
        }
        Ok(Builder::Categorical { index, names, first_text: (line, text.to_owned()) })
    }
}

/// A plain decimal (`-12.3456`: at most 15 digits, no exponent) exactly as
/// `str::parse` reads it, faster: the digits as an integer below 2^53
/// divided by a power of ten below 10^22, both exact, so the one rounding
/// is the division's (Clinger's fast path). `None`: ask `str::parse`.
fn fast_f64(s: &str) -> Option<f64> {
    const POW10: [f64; 16] =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (negative, digits) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let (mut mantissa, mut count, mut decimals, mut dot) = (0u64, 0usize, 0usize, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                decimals += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if count == 0 || count > 15 {
        return None;
    }
    let v = mantissa as f64 / POW10[decimals];
    Some(if negative { -v } else { v })
}

/// A number cell as the reader reads it (`None`: not a finite number).
pub(crate) fn number(value: &str) -> Option<f64> {
    fast_f64(value).map_or_else(|| value.parse::<f64>().ok(), Some).filter(|v| v.is_finite())
}

/// Numbers in a text column are categories by value ("1.0" and "1" agree).
pub(crate) fn category_key(value: &str) -> Cow<'_, str> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => Cow::Owned(v.to_string()),
        _ => Cow::Borrowed(value),
    }
}

/// The code of `key`, a new one for a new key (no allocation for a known
/// one: a million cells of a few categories cost lookups only).
fn intern(
    index: &mut HashMap<String, u32>,
    names: &mut Vec<String>,
    key: Cow<'_, str>,
) -> Result<f64, String> {
    if let Some(&code) = index.get(key.as_ref()) {
        return Ok(f64::from(code));
    }
    let key = key.into_owned();
    if names.len() >= MAX_CATEGORIES {
        return Err(format!(
            "more than {MAX_CATEGORIES} distinct text values (an id or free-text column?); \
             one-hot encoding it would explode memory: drop the column, or map it to fewer \
             categories or to numbers"
        ));
    }
    let code = names.len() as u32;
    index.insert(key.clone(), code);
    names.push(key);
    Ok(f64::from(code))
}

/// Sorts each categorical column's categories and recodes its cells.
pub(super) fn finish(
    builders: Vec<Builder>,
    names: Vec<&String>,
    missing: Vec<usize>,
    x: &mut [f64],
    cols: usize,
) -> Vec<Column> {
    let mut columns = Vec::with_capacity(cols);
    for (j, ((b, name), missing)) in builders.into_iter().zip(names).zip(missing).enumerate() {
        let kind = match b {
            Builder::Numeric => ColumnKind::Numeric,
            Builder::Categorical { names: categories, .. } => {
                let mut order: Vec<u32> = (0..categories.len() as u32).collect();
                order.sort_by(|&a, &b| categories[a as usize].cmp(&categories[b as usize]));
                let mut recode = vec![0.0; order.len()];
                for (new, &old) in order.iter().enumerate() {
                    recode[old as usize] = new as f64;
                }
                for v in x.iter_mut().skip(j).step_by(cols).filter(|v| !v.is_nan()) {
                    *v = recode[*v as usize];
                }
                let sorted = order.iter().map(|&o| categories[o as usize].clone()).collect();
                ColumnKind::Categorical(sorted)
            }
        };
        columns.push(Column { name: name.clone(), kind, missing });
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(csv: &str) -> Result<Table, DatasetError> {
        let mut r =
            csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(Crlf::new(csv.as_bytes()));
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        let label = header.len() - 1;
        read("d.csv", &mut r, &header, (label, &[]), None)
    }

    #[test]
    fn text_columns_become_sorted_categories_and_gaps_nan() {
        let t = table("n,c,y\n1,red,a\n,blue,b\n-nan,red,a\n2.5,,b\n").unwrap();
        let kinds: Vec<_> = t.columns.iter().map(|c| (&c.kind, c.missing)).collect();
        let cats = ColumnKind::Categorical(vec!["blue".into(), "red".into()]);
        assert_eq!(kinds, [(&ColumnKind::Numeric, 2), (&cats, 1)]);
        let shown: Vec<String> = t.x.iter().map(|v| format!("{v}")).collect();
        assert_eq!(shown, ["1", "1", "NaN", "0", "NaN", "1", "2.5", "NaN"]);
        assert_eq!(t.labels.iter().collect::<Vec<_>>(), ["a", "b", "a", "b"]);
    }

    #[test]
    fn numbers_read_before_the_first_text_cell_become_categories_by_value() {
        let t = table("c,y\n1,a\n2.0,b\nx,a\n1.0,b\n").unwrap();
        let cats = ColumnKind::Categorical(vec!["1".into(), "2".into(), "x".into()]);
        assert_eq!(t.columns[0].kind, cats);
        assert_eq!(t.x, [0.0, 1.0, 2.0, 0.0]);
    }

    #[test]
    fn the_fast_decimal_path_reads_exactly_what_parse_reads() {
        let mut rng = mlhost_plugin_api::SeededRng::new(16);
        for _ in 0..200_000 {
            let digits = 1 + rng.next_u64() % 15;
            let int = rng.next_u64() % 10u64.pow(digits as u32);
            let mut text = int.to_string();
            let dot = rng.next_u64() as usize % (text.len() + 1);
            text.insert(dot, '.');
            if rng.next_u64() % 2 == 0 {
                text.insert(0, '-');
            }
            let want = text.parse::<f64>().ok();
            assert_eq!(fast_f64(&text).map(f64::to_bits), want.map(f64::to_bits), "{text}");
        }
        for odd in ["1e5", "", "-", ".", "1.2.3", "+1", "1234567890123456", "inf", "0x10"] {
            assert!(fast_f64(odd).is_none_or(|v| Some(v) == odd.parse().ok()), "{odd}");
        }
    }

    #[test]
    fn too_many_categories_is_refused_with_the_column_named() {
        let mut csv = String::from("id,y\n");
        for i in 0..=MAX_CATEGORIES {
            csv.push_str(&format!("u{i},{}\n", i % 2));
        }
        let e = table(&csv).unwrap_err().to_string();
        let line = MAX_CATEGORIES + 2;
        assert!(e.starts_with(&format!("d.csv: row {line}, column 'id': more than")), "{e}");
        assert!(e.contains("drop the column"), "{e}");
        assert!(e.ends_with("(the column is text since row 2: \"u0\")"), "{e}");
    }
}
