//! Dataset snapshots: CSV (or a built-in set) into one immutable, validated
//! feature matrix plus targets, identified by the sha256 of its canonical
//! content.
//!
//! Owns parsing, validation (every error names the file, row and column) and
//! label encoding. A snapshot is built once per run and shared read-only
//! (`Arc`) by every worker; nothing here ever copies it per job.

use std::fmt;
use std::path::{Path, PathBuf};

use mlhost_plugin_api::Task;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::csv::Labels;
use crate::data::target;
pub use crate::data::target::{Target, TaskHint};

/// A categorical column with more distinct values than this is refused
/// when read (an id or free-text column one-hot encoding would blow up).
pub const MAX_CATEGORIES: usize = 1000;

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

/// One feature column of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// The header's name.
    pub name: String,
    /// Numbers or categories.
    pub kind: ColumnKind,
    /// Cells that were empty or a missing marker (stored as NaN).
    pub missing: usize,
}

/// What a feature column holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ColumnKind {
    /// Numbers.
    Numeric,
    /// Text: cells hold codes into these categories, sorted.
    Categorical(Vec<String>),
}

impl Column {
    /// Column `j` of numbers without missing cells, named `x{j}`.
    pub fn numeric(j: usize) -> Column {
        Column { name: format!("x{j}"), kind: ColumnKind::Numeric, missing: 0 }
    }
}

/// An immutable dataset snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// sha256 (hex) of the canonical content: independent of number
    /// formatting, quoting and line endings in the file.
    pub id: String,
    /// `builtin:NAME` or the file path.
    pub source: String,
    /// Feature columns (names, kinds, missing cells), in file order.
    pub columns: Vec<Column>,
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
        self.columns.len()
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

/// Loads and validates a dataset. `label` defaults to the built-in's label or
/// the last column of a file.
pub fn load(source: &Source, label: Option<&str>, hint: TaskHint) -> Result<Dataset, DatasetError> {
    load_keyed(source, label, hint, &[]).map(|(d, _)| d)
}

/// [`load`] with key columns: `keys` (groups, time) are read apart, never
/// as features, and their cells come back per column, in row order. The
/// dataset id covers them.
pub fn load_keyed(
    source: &Source,
    label: Option<&str>,
    hint: TaskHint,
    keys: &[&str],
) -> Result<(Dataset, Vec<Vec<String>>), DatasetError> {
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
            let label = Some(label.unwrap_or(default_label));
            parse_sized(&source.to_string(), text.as_bytes(), (label, keys), hint, None)
        }
        Source::File(path) => {
            // Streamed: the file's text is never held whole next to the matrix.
            let (file, size) = open_regular(path).map_err(|message| DatasetError::Read {
                source_name: path.display().to_string(),
                message,
            })?;
            let reader = std::io::BufReader::with_capacity(1 << 16, file);
            parse_sized(&display(path), reader, (label, keys), hint, size)
        }
    }
}

/// Opens `path` for reading only if what was opened is a regular file.
/// Non-blocking, so a FIFO (swapped in after any earlier check) answers at
/// once instead of hanging the caller; the type is taken from the opened
/// descriptor, not the name, so there is no window between check and use.
/// Returns the file and its length.
fn open_regular(path: &Path) -> Result<(std::fs::File, Option<u64>), String> {
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
    Ok((file, Some(meta.len())))
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Parses CSV with a header row, streaming: see [`crate::data::csv`].
/// `size_hint` is the byte length when known (lets the matrix be
/// allocated once).
pub fn parse_csv(
    name: &str,
    bytes: impl std::io::Read,
    label: Option<&str>,
    hint: TaskHint,
) -> Result<Dataset, DatasetError> {
    parse_sized(name, bytes, (label, &[]), hint, None).map(|(d, _)| d)
}

fn parse_sized(
    name: &str,
    bytes: impl std::io::Read,
    (label, keys): (Option<&str>, &[&str]),
    hint: TaskHint,
    size_hint: Option<u64>,
) -> Result<(Dataset, Vec<Vec<String>>), DatasetError> {
    let whole = |message: String| DatasetError::Whole { source_name: name.to_owned(), message };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(crate::data::crlf::Crlf::new(bytes));
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
    let mut skip = Vec::with_capacity(keys.len());
    for key in keys {
        match header.iter().position(|h| h == key) {
            Some(i) if i == label_col => {
                return Err(whole(format!("'{key}' is the label; choose another column")));
            }
            Some(i) => skip.push(i),
            None => {
                return Err(whole(format!(
                    "no column '{key}'; the columns are {}",
                    header.join(", ")
                )));
            }
        }
    }
    if header.len() - skip.len() < 2 {
        return Err(whole("no feature left beside the label and the key columns".to_owned()));
    }
    let table = crate::data::csv::read(name, &mut reader, &header, (label_col, &skip), size_hint)?;
    let rows = table.labels.len();
    if rows == 0 {
        return Err(whole("no data rows after the header".to_owned()));
    }
    let target = target::encode(name, &label_name, &table.labels, hint)?;
    let mut id = canonical_id(&table.columns, &label_name, &table.x, &table.labels);
    if !keys.is_empty() {
        // The same file keyed by other columns is other data to a run.
        let mut h = Sha256::new();
        h.update(id.as_bytes());
        for (name, cells) in keys.iter().zip(&table.keys) {
            h.update(format!("\0key {name}\0").as_bytes());
            for c in cells.iter() {
                h.update(c.as_bytes());
                h.update(b"\0");
            }
        }
        id = crate::domain::hex(h.finalize().as_slice());
    }
    let key_cells = table.keys.iter().map(|k| k.iter().map(str::to_owned).collect()).collect();
    let data = Dataset {
        id,
        source: name.to_owned(),
        columns: table.columns,
        label: label_name,
        x: table.x,
        rows,
        target,
    };
    Ok((data, key_cells))
}

impl DatasetError {
    /// A problem at `row` (1-based line), `column` of `name`.
    pub fn cell(name: &str, row: u64, column: &str, message: String) -> DatasetError {
        DatasetError::Cell { source_name: name.to_owned(), row, column: column.to_owned(), message }
    }
}

/// sha256 of the content. A dataset of numbers only hashes exactly as
/// before categories existed (ids stay stable); categories and missing
/// cells add to the hash only when present.
fn canonical_id(columns: &[Column], label: &str, x: &[f64], labels: &Labels) -> String {
    let mut h = Sha256::new();
    h.update(b"mlhost-dataset-v1\0");
    for c in columns {
        h.update(c.name.as_bytes());
        h.update(b"\0");
    }
    h.update(label.as_bytes());
    h.update(b"\0");
    let cols = columns.len();
    for (row, l) in x.chunks_exact(cols.max(1)).zip(labels.iter()) {
        for v in row {
            // -0.0 and 0.0 are the same value; every NaN is one missing cell.
            let v = if *v == 0.0 {
                0.0f64
            } else if v.is_nan() {
                f64::NAN
            } else {
                *v
            };
            h.update(v.to_le_bytes());
        }
        h.update(l.as_bytes());
        h.update(b"\0");
    }
    for (j, c) in columns.iter().enumerate() {
        if let ColumnKind::Categorical(categories) = &c.kind {
            h.update(format!("categories {j}\0").as_bytes());
            for name in categories {
                h.update(name.as_bytes());
                h.update(b"\0");
            }
        }
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
        check(
            "a,y\ninf,x\n1,y\n",
            "d.csv: row 2, column 'a': inf is not a finite number; if it means missing, leave the cell empty or write NA",
        );
        check(
            "a,y\n1,x\n2,\n",
            "d.csv: row 3, column 'y': missing label; fill it in or drop the row",
        );
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
    fn text_and_empty_cells_are_kept_for_the_candidates_to_prepare() {
        let d = parse_csv("d.csv", &b"a,c,y\n1,x,p\n,NA,q\nzz,x,p\n"[..], None, TaskHint::Infer)
            .unwrap();
        let kinds: Vec<(&ColumnKind, usize)> =
            d.columns.iter().map(|c| (&c.kind, c.missing)).collect();
        let a = ColumnKind::Categorical(vec!["1".into(), "zz".into()]);
        let c = ColumnKind::Categorical(vec!["x".into()]);
        assert_eq!(kinds, [(&a, 1), (&c, 1)]);
        let again = parse_csv("e", &b"a,c,y\n1.0,x,p\n,,q\nzz,x,p\n"[..], None, TaskHint::Infer);
        assert_eq!(again.unwrap().id, d.id, "same content, same id");
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
    fn errors_in_a_crlf_file_name_its_own_line_numbers() {
        for text in ["f,y\n1,0\n2,\n", "f,y\r\n1,0\r\n2,\r\n"] {
            let e = parse_csv("d.csv", text.as_bytes(), None, TaskHint::Infer).unwrap_err();
            assert!(e.to_string().contains("row 3"), "{text:?}: {e}");
        }
        for text in ["f,y\n1,0\n1,0\n2\n", "f,y\r\n1,0\r\n1,0\r\n2\r\n"] {
            let e = parse_csv("d.csv", text.as_bytes(), None, TaskHint::Infer).unwrap_err();
            assert!(e.to_string().contains("row 4: 1 fields"), "{text:?}: {e}");
        }
    }

    #[test]
    fn id_ignores_formatting_but_not_values() {
        let a = parse_csv("a", &b"f,y\n1.0,0\n2,1\n"[..], None, TaskHint::Infer).unwrap();
        let b = parse_csv("b", &b"f , y\r\n1,0\r\n2.00,1\r\n"[..], None, TaskHint::Infer).unwrap();
        let c = parse_csv("c", &b"f,y\n1,0\n2.5,1\n"[..], None, TaskHint::Infer).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        // Ids of numeric datasets are what they were before categories
        // existed (stored runs keep their dataset): recomputed in Python
        // from the scheme (sha256 of names, f64 LE cells, label text).
        let iris = load(&Source::Builtin("iris".into()), None, TaskHint::Infer).unwrap();
        assert_eq!(iris.id, "03e6ef85c5db4359591c2f984fa878c865811831aed170b2e4dc33f14503fc2e");
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
