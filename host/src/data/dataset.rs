//! Dataset snapshots: CSV (or a built-in set) into one immutable, validated
//! feature matrix plus targets, identified by the sha256 of its canonical
//! content.
//!
//! Owns parsing, validation (every error names the file, row and column) and
//! label encoding. A snapshot is built once per run and shared read-only
//! (`Arc`) by every worker; nothing here ever copies it per job.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use mlhost_plugin_api::Task;
use sha2::{Digest, Sha256};

/// The built-in datasets: name, label column, CSV text (scikit-learn's copies
/// of the UCI sets; breast_cancer keeps scikit-learn's coding, 1 = benign).
pub const BUILTINS: &[(&str, &str, &str)] = &[
    ("breast_cancer", "target", include_str!("../../data/breast_cancer.csv")),
    ("iris", "species", include_str!("../../data/iris.csv")),
    ("wine", "class", include_str!("../../data/wine.csv")),
    ("diabetes", "progression", include_str!("../../data/diabetes.csv")),
];

/// Why a dataset cannot be used. Every variant names where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatasetError {
    /// The file cannot be read.
    #[error("{source_name}: cannot read: {message}")]
    Read {
        /// File or builtin name.
        source_name: String,
        /// The OS error.
        message: String,
    },
    /// A problem at a row (1-based line in the file, header = 1) and column.
    #[error("{source_name}: row {row}, column '{column}': {message}")]
    Cell {
        /// File or builtin name.
        source_name: String,
        /// 1-based line.
        row: u64,
        /// Column name.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A problem with the file as a whole.
    #[error("{source_name}: {message}")]
    Whole {
        /// File or builtin name.
        source_name: String,
        /// What is wrong.
        message: String,
    },
}

/// The targets of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Class labels encoded `0..labels.len()` in the order of `labels`
    /// (sorted: numerically when every label is a number, else as text).
    Classes {
        /// Encoded labels, one per row.
        y: Vec<f64>,
        /// The original labels, index = code.
        labels: Vec<String>,
    },
    /// Real-valued targets.
    Values(Vec<f64>),
}

/// An immutable dataset snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// sha256 (hex) of the canonical content: independent of number
    /// formatting, quoting and line endings in the file.
    pub id: String,
    /// `builtin:NAME` or the file path.
    pub source: String,
    /// Feature column names, in file order.
    pub features: Vec<String>,
    /// The label column.
    pub label: String,
    /// Row-major features, `rows x cols`.
    pub x: Vec<f64>,
    /// Number of rows.
    pub rows: usize,
    /// Targets.
    pub target: Target,
}

impl Dataset {
    /// Number of feature columns.
    pub fn cols(&self) -> usize {
        self.features.len()
    }
    /// The task the targets describe.
    pub fn task(&self) -> Task {
        match self.target {
            Target::Classes { .. } => Task::Classification,
            Target::Values(_) => Task::Regression,
        }
    }
    /// Target values as handed to plugins (codes for classes).
    pub fn y(&self) -> &[f64] {
        match &self.target {
            Target::Classes { y, .. } | Target::Values(y) => y,
        }
    }
    /// Number of classes, 0 for regression.
    pub fn n_classes(&self) -> usize {
        match &self.target {
            Target::Classes { labels, .. } => labels.len(),
            Target::Values(_) => 0,
        }
    }
}

/// Where a dataset comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One of [`BUILTINS`].
    Builtin(String),
    /// A CSV file with a header.
    File(PathBuf),
}

impl Source {
    /// `builtin:NAME` or a path.
    pub fn parse(s: &str) -> Source {
        match s.strip_prefix("builtin:") {
            Some(name) => Source::Builtin(name.to_owned()),
            None => Source::File(PathBuf::from(s)),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin(n) => write!(f, "builtin:{n}"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// How to read the label column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskHint {
    /// Decide from the values: text or few whole numbers (at most 20
    /// distinct) are classes, anything else is regression.
    Infer,
    /// Force one task.
    Force(Task),
}

/// Loads and validates a dataset. `label` defaults to the built-in's label or
/// the last column of a file.
pub fn load(source: &Source, label: Option<&str>, hint: TaskHint) -> Result<Dataset, DatasetError> {
    match source {
        Source::Builtin(name) => {
            let Some((_, default_label, text)) = BUILTINS.iter().find(|(n, ..)| n == name) else {
                let names: Vec<&str> = BUILTINS.iter().map(|(n, ..)| *n).collect();
                return Err(DatasetError::Whole {
                    source_name: source.to_string(),
                    message: format!(
                        "no such built-in dataset; choose one of {}",
                        names.join(", ")
                    ),
                });
            };
            parse_csv(
                &source.to_string(),
                text.as_bytes(),
                Some(label.unwrap_or(default_label)),
                hint,
            )
        }
        Source::File(path) => {
            // Streamed: the file's text is never held whole next to the matrix.
            let file = open_regular(path).map_err(|message| DatasetError::Read {
                source_name: path.display().to_string(),
                message,
            })?;
            parse_csv(&display(path), std::io::BufReader::new(file), label, hint)
        }
    }
}

/// Opens `path` for reading only if what was opened is a regular file.
/// Non-blocking, so a FIFO (swapped in after any earlier check) answers at
/// once instead of hanging the caller; the type is taken from the opened
/// descriptor, not the name, so there is no window between check and use.
fn open_regular(path: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000; // Linux, every architecture this host builds for
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        let what =
            if meta.is_dir() { "a folder" } else { "not a regular file (a pipe or device?)" };
        return Err(format!("{what}; name a CSV file"));
    }
    Ok(file)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Parses CSV with a header row.
pub fn parse_csv(
    name: &str,
    bytes: impl std::io::Read,
    label: Option<&str>,
    hint: TaskHint,
) -> Result<Dataset, DatasetError> {
    let whole = |message: String| DatasetError::Whole { source_name: name.to_owned(), message };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(h) if h.iter().any(|field| !field.is_empty()) => h.iter().map(str::to_owned).collect(),
        Ok(_) => {
            return Err(whole("the file is empty; expected a header row and data rows".to_owned()));
        }
        Err(e) => return Err(whole(format!("cannot read the header: {e}"))),
    };
    let label_name = label.map(str::to_owned).unwrap_or_else(|| header[header.len() - 1].clone());
    let Some(label_col) = header.iter().position(|h| *h == label_name) else {
        return Err(whole(format!(
            "no label column '{label_name}'; the columns are {}; pass --label COLUMN",
            header.join(", ")
        )));
    };
    if header.len() < 2 {
        return Err(whole("only one column: need at least one feature and the label".to_owned()));
    }
    let features: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != label_col)
        .map(|(_, h)| h.clone())
        .collect();
    let mut x = Vec::new();
    let mut raw_labels: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let row = e.position().map_or(0, |p| p.line());
                return Err(match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        DatasetError::Whole {
                            source_name: name.to_owned(),
                            message: format!(
                                "row {row}: {len} fields, but the header has {expected_len}; every row needs one value per column"
                            ),
                        }
                    }
                    _ => whole(format!("row {row}: {e}")),
                });
            }
        }
        let row = record.position().map_or(0, |p| p.line());
        for (i, value) in record.iter().enumerate() {
            if i == label_col {
                if value.is_empty() {
                    return Err(cell(name, row, &header[i], "missing label".to_owned()));
                }
                raw_labels.push(value.to_owned());
                continue;
            }
            x.push(number(value).map_err(|m| cell(name, row, &header[i], m))?);
        }
    }
    x.shrink_to_fit();
    let rows = raw_labels.len();
    if rows == 0 {
        return Err(whole("no data rows after the header".to_owned()));
    }
    let target = encode_target(name, &label_name, &raw_labels, hint)?;
    let id = canonical_id(&features, &label_name, &x, &raw_labels);
    Ok(Dataset { id, source: name.to_owned(), features, label: label_name, x, rows, target })
}

fn cell(name: &str, row: u64, column: &str, message: String) -> DatasetError {
    DatasetError::Cell { source_name: name.to_owned(), row, column: column.to_owned(), message }
}

fn number(value: &str) -> Result<f64, String> {
    if value.is_empty() {
        return Err("missing value; fill it in or drop the row".to_owned());
    }
    let v: f64 = value.parse().map_err(|_| format!("not a number: {value:?}"))?;
    if !v.is_finite() {
        return Err(format!("{value} is not a finite number"));
    }
    Ok(v)
}

fn encode_target(
    name: &str,
    label: &str,
    raw: &[String],
    hint: TaskHint,
) -> Result<Target, DatasetError> {
    let numbers: Option<Vec<f64>> =
        raw.iter().map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite())).collect();
    let distinct: BTreeSet<&str> = raw.iter().map(String::as_str).collect();
    let task = match hint {
        TaskHint::Force(t) => t,
        TaskHint::Infer => match &numbers {
            None => Task::Classification,
            Some(v) if v.iter().all(|x| x.fract() == 0.0) && distinct.len() <= 20 => {
                Task::Classification
            }
            Some(_) => Task::Regression,
        },
    };
    let whole = |message: String| DatasetError::Whole { source_name: name.to_owned(), message };
    match task {
        Task::Regression => {
            let Some(values) = numbers else {
                let (i, bad) = raw
                    .iter()
                    .enumerate()
                    .find(|(_, s)| s.parse::<f64>().map_or(true, |v| !v.is_finite()))
                    .expect("some label is not a number");
                return Err(cell(
                    name,
                    i as u64 + 2,
                    label,
                    format!("regression needs numeric labels, got {bad:?}"),
                ));
            };
            Ok(Target::Values(values))
        }
        Task::Classification => {
            // Sorted numerically when all labels are numbers ("2" < "10").
            let mut labels: Vec<&str> = distinct.into_iter().collect();
            if numbers.is_some() {
                labels.sort_by(|a, b| {
                    a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0))
                });
            }
            if labels.len() < 2 {
                return Err(whole(format!(
                    "label column '{label}' has one class only ({}); classification needs at least two",
                    labels.first().copied().unwrap_or("")
                )));
            }
            let code: BTreeMap<&str, f64> =
                labels.iter().enumerate().map(|(i, l)| (*l, i as f64)).collect();
            let y = raw.iter().map(|s| code[s.as_str()]).collect();
            Ok(Target::Classes { y, labels: labels.into_iter().map(str::to_owned).collect() })
        }
    }
}

fn canonical_id(features: &[String], label: &str, x: &[f64], labels: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"mlhost-dataset-v1\0");
    for f in features {
        h.update(f.as_bytes());
        h.update(b"\0");
    }
    h.update(label.as_bytes());
    h.update(b"\0");
    let cols = features.len();
    for (row, l) in x.chunks_exact(cols.max(1)).zip(labels) {
        for v in row {
            // -0.0 and 0.0 are the same value in a dataset.
            let v = if *v == 0.0 { 0.0f64 } else { *v };
            h.update(v.to_le_bytes());
        }
        h.update(l.as_bytes());
        h.update(b"\0");
    }
    crate::domain::hex(h.finalize().as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(csv: &str, expected: &str) {
        let got = match parse_csv("d.csv", csv.as_bytes(), None, TaskHint::Infer) {
            Ok(d) => format!("{}x{} {:?} {:?}", d.rows, d.cols(), d.task(), d.target),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn parses_and_encodes() {
        check(
            "a,b,y\n1,2,cat\n3,4.5,dog\n",
            r#"2x2 Classification Classes { y: [0.0, 1.0], labels: ["cat", "dog"] }"#,
        );
        check(
            "a,y\n1,10\n2,2\n3,10\n",
            r#"3x1 Classification Classes { y: [1.0, 0.0, 1.0], labels: ["2", "10"] }"#,
        );
        check("a,y\n1,0.5\n2,1.5\n", "2x1 Regression Values([0.5, 1.5])");
    }

    #[test]
    fn bad_input_names_file_row_and_column() {
        check("", "d.csv: the file is empty; expected a header row and data rows");
        check("a,y\n", "d.csv: no data rows after the header");
        check(
            "a,b\n1,2\n",
            "d.csv: label column 'b' has one class only (2); classification needs at least two",
        );
        check("a,y\n1,x\nzz,y\n", "d.csv: row 3, column 'a': not a number: \"zz\"");
        check(
            "a,y\n1,x\n,y\n",
            "d.csv: row 3, column 'a': missing value; fill it in or drop the row",
        );
        check("a,y\nNaN,x\n1,y\n", "d.csv: row 2, column 'a': NaN is not a finite number");
        check("a,y\ninf,x\n1,y\n", "d.csv: row 2, column 'a': inf is not a finite number");
        check(
            "a,y\n1,x\n2\n",
            "d.csv: row 3: 1 fields, but the header has 2; every row needs one value per column",
        );
        let e = parse_csv("d.csv", &b"a,b\n1,2\n"[..], Some("label"), TaskHint::Infer).unwrap_err();
        assert_eq!(
            e.to_string(),
            "d.csv: no label column 'label'; the columns are a, b; pass --label COLUMN"
        );
        let e =
            parse_csv("d.csv", &b"a,y\n1,x\n2,y\n"[..], None, TaskHint::Force(Task::Regression))
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "d.csv: row 2, column 'y': regression needs numeric labels, got \"x\""
        );
    }

    #[test]
    fn a_fifo_or_a_folder_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.csv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        for (path, says) in [(fifo.as_path(), "not a regular file"), (dir.path(), "a folder")] {
            let e = load(&Source::File(path.to_owned()), None, TaskHint::Infer).unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn id_ignores_formatting_but_not_values() {
        let a = parse_csv("a", &b"f,y\n1.0,0\n2,1\n"[..], None, TaskHint::Infer).unwrap();
        let b = parse_csv("b", &b"f , y\r\n1,0\r\n2.00,1\r\n"[..], None, TaskHint::Infer).unwrap();
        let c = parse_csv("c", &b"f,y\n1,0\n2.5,1\n"[..], None, TaskHint::Infer).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn builtins_have_their_canonical_shapes() {
        for (name, rows, cols, classes) in [
            ("breast_cancer", 569, 30, 2),
            ("iris", 150, 4, 3),
            ("wine", 178, 13, 3),
            ("diabetes", 442, 10, 0),
        ] {
            let d = load(&Source::Builtin(name.into()), None, TaskHint::Infer).unwrap();
            assert_eq!((d.rows, d.cols(), d.n_classes()), (rows, cols, classes), "{name}");
        }
        let e = load(&Source::Builtin("mnist".into()), None, TaskHint::Infer).unwrap_err();
        assert!(e.to_string().contains("choose one of breast_cancer, iris, wine, diabetes"));
    }
}
