//! `mlhost drift`: how far a current sample of the features has moved
//! from a reference sample. Reads both CSVs (streamed, on two threads),
//! matches columns by header name, and per feature computes PSI plus the
//! two-sample Kolmogorov–Smirnov test (numbers) or the chi-square test of
//! the category counts (text columns); the statistics live in
//! `metrics::drift`. Missing cells are left out of both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::data::columns;
use crate::data::csv::Table;
use crate::data::dataset::{Column, ColumnKind, DatasetError};
use crate::metrics::drift::{self, chi2_contingency, ks_2samp, psi_numeric};

/// What to compare and where to draw the lines.
#[derive(Debug, Clone)]
pub struct DriftRequest {
    /// The reference CSV (e.g. the training data).
    pub reference: PathBuf,
    /// The current CSV (e.g. recent production inputs).
    pub current: PathBuf,
    /// A column left out of the comparison (the label), if any.
    pub label: Option<String>,
    /// PSI above this is drift; from half of it up, moderate.
    pub psi_threshold: f64,
    /// A test's p-value below this is drift.
    pub alpha: f64,
}

/// The report, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// The reference file.
    pub reference: String,
    /// The current file.
    pub current: String,
    /// Data rows read from each file.
    pub rows: [usize; 2],
    /// PSI threshold used.
    pub psi_threshold: f64,
    /// Significance level used.
    pub alpha: f64,
    /// Per feature, highest PSI first.
    pub features: Vec<FeatureDrift>,
    /// The features with `drift` set, in the order of `features`.
    pub drifted: Vec<String>,
}

/// One feature's drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureDrift {
    /// Column name.
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    /// Population stability index.
    pub psi: f64,
    /// `stable`, `moderate` (PSI from half the threshold) or `drift`.
    pub psi_level: &'static str,
    /// The KS statistic (numbers; `null` for categories).
    pub ks_statistic: Option<f64>,
    /// The chi-square statistic (categories; `null` for numbers).
    pub chi2_statistic: Option<f64>,
    /// The test's p-value.
    pub p_value: f64,
    /// `ks` (two-sample Kolmogorov–Smirnov) or `chi2` (contingency).
    pub test: &'static str,
    /// PSI over the threshold or p below alpha.
    pub drift: bool,
}

/// Compares the two files. Every error is bad input, naming the file or
/// column and the fix.
pub fn drift(req: &DriftRequest) -> Result<DriftReport, String> {
    let (reference, current) = std::thread::scope(|s| {
        let other = s.spawn(|| read(&req.current, req.label.as_deref()));
        let reference = read(&req.reference, req.label.as_deref());
        (reference, other.join().expect("reading a CSV does not panic"))
    });
    let (reference, current) = (reference?, current?);
    let names = (display(&req.reference), display(&req.current));
    let pairs = match_columns(&reference, &current, (&names.0, &names.1))?;
    let mut features = compare_all(&reference, &current, &pairs, &names)?;
    for f in &mut features {
        f.psi_level = level(f.psi, req.psi_threshold);
        f.drift = f.psi > req.psi_threshold || f.p_value < req.alpha;
    }
    features.sort_by(|a, b| b.psi.total_cmp(&a.psi).then_with(|| a.name.cmp(&b.name)));
    let drifted = features.iter().filter(|f| f.drift).map(|f| f.name.clone()).collect();
    Ok(DriftReport {
        reference: names.0,
        current: names.1,
        rows: [reference.rows, current.rows],
        psi_threshold: req.psi_threshold,
        alpha: req.alpha,
        features,
        drifted,
    })
}

fn level(psi: f64, threshold: f64) -> &'static str {
    if psi > threshold {
        "drift"
    } else if psi >= threshold / 2.0 {
        "moderate"
    } else {
        "stable"
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// One file's feature columns, column-major.
#[derive(Debug)]
struct Sample {
    columns: Vec<Column>,
    values: Vec<Vec<f64>>,
    rows: usize,
}

/// Streams `path` into columns, leaving `label` out: the columnar fast
/// path for an unquoted file, the `csv` crate's reader otherwise.
fn read(path: &Path, label: Option<&str>) -> Result<Sample, String> {
    use std::io::BufRead;
    let name = display(path);
    let (file, size) = open(path, &name)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let sample = match String::from_utf8(first) {
        Ok(line) if !line.contains('"') => {
            let header: Vec<String> =
                line.trim_end().split(',').map(|h| h.trim().to_owned()).collect();
            if header.iter().all(String::is_empty) {
                return Err(format!("{name}: the file is empty; expected a header row and rows"));
            }
            let label_col = label_column(&name, &header, label)?;
            columns::read(&name, &header, label_col, reader, Some(size))
                .map_err(|e| e.to_string())?
                .map(|t| Sample { columns: t.columns, values: t.values, rows: t.rows })
        }
        _ => None,
    };
    let sample = match sample {
        Some(s) => s,
        None => read_quoted(path, &name, label)?,
    };
    if sample.columns.is_empty() {
        return Err(format!("{name}: no feature columns besides the label; nothing to compare"));
    }
    if sample.rows == 0 {
        return Err(format!("{name}: no data rows, only a header; drift needs rows in both files"));
    }
    Ok(sample)
}

fn open(path: &Path, name: &str) -> Result<(std::fs::File, u64), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{name}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name}: not a regular file; name a CSV file"));
    }
    Ok((file, meta.len()))
}

fn label_column(name: &str, header: &[String], label: Option<&str>) -> Result<usize, String> {
    match label {
        None => Ok(header.len()),
        Some(l) => header.iter().position(|h| h == l).ok_or_else(|| {
            format!("{name}: no label column '{l}'; its columns are {}", header.join(", "))
        }),
    }
}

/// A file with quoted cells, through the `csv` crate.
fn read_quoted(path: &Path, name: &str, label: Option<&str>) -> Result<Sample, String> {
    let (file, size) = open(path, name)?;
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut csv = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .from_reader(crate::data::crlf::Crlf::new(reader));
    let header: Vec<String> = match csv.headers() {
        Ok(h) if h.iter().any(|f| !f.is_empty()) => h.iter().map(str::to_owned).collect(),
        Ok(_) => return Err(format!("{name}: the file is empty; expected a header row and rows")),
        Err(e) => return Err(format!("{name}: cannot read the header: {e}")),
    };
    let label_col = label_column(name, &header, label)?;
    let table = crate::data::csv::read(name, &mut csv, &header, (label_col, &[]), Some(size))
        .map_err(|e: DatasetError| e.to_string())?;
    let cols = table.columns.len();
    let rows = table.x.len().checked_div(cols).unwrap_or(0);
    Ok(Sample { values: columns_of(&table, cols), columns: table.columns, rows })
}

/// The row-major matrix split into columns in one pass.
fn columns_of(table: &Table, cols: usize) -> Vec<Vec<f64>> {
    let rows = table.x.len().checked_div(cols).unwrap_or(0);
    let mut out: Vec<Vec<f64>> = (0..cols).map(|_| Vec::with_capacity(rows)).collect();
    for row in table.x.chunks_exact(cols.max(1)) {
        for (c, &v) in out.iter_mut().zip(row) {
            c.push(v);
        }
    }
    out
}

/// Reference column index and current column index of each feature, in
/// the reference's order; every column must be in both files with the same
/// kind.
fn match_columns(
    r: &Sample,
    c: &Sample,
    (rn, cn): (&str, &str),
) -> Result<Vec<(usize, usize)>, String> {
    let fix = "give both files the same columns, or drop it";
    if let Some(extra) = c.columns.iter().find(|cc| !r.columns.iter().any(|rc| rc.name == cc.name))
    {
        return Err(format!("column '{}' is in {cn} but not in {rn}; {fix}", extra.name));
    }
    r.columns
        .iter()
        .enumerate()
        .map(|(i, rc)| {
            let Some(j) = c.columns.iter().position(|cc| cc.name == rc.name) else {
                return Err(format!("column '{}' is in {rn} but not in {cn}; {fix}", rc.name));
            };
            let numeric = |col: &Column| matches!(col.kind, ColumnKind::Numeric);
            if numeric(rc) != numeric(&c.columns[j]) {
                let kind = |col: &Column| if numeric(col) { "numbers" } else { "text" };
                return Err(format!(
                    "column '{}' is {} in {rn} but {} in {cn}; make it numbers in both files or text in both",
                    rc.name,
                    kind(rc),
                    kind(&c.columns[j])
                ));
            }
            Ok((i, j))
        })
        .collect()
}

/// Every feature's statistics, on as many threads as there are cores.
fn compare_all(
    r: &Sample,
    c: &Sample,
    pairs: &[(usize, usize)],
    names: &(String, String),
) -> Result<Vec<FeatureDrift>, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(pairs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&(i, j)) = pairs.get(k) else { return done };
            done.push((k, compare(r, c, (i, j), names)));
        }
    };
    let mut results: Vec<(usize, Result<FeatureDrift, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in handles {
            all.extend(h.join().expect("a drift statistic does not panic"));
        }
        all
    });
    results.sort_by_key(|(k, _)| *k);
    results.into_iter().map(|(_, f)| f).collect()
}

/// One feature: reference column `i`, current column `j`.
fn compare(
    r: &Sample,
    c: &Sample,
    (i, j): (usize, usize),
    (rn, cn): &(String, String),
) -> Result<FeatureDrift, String> {
    let name = r.columns[i].name.clone();
    let empty = |file: &str| {
        format!(
            "column '{name}' has no values in {file} (every cell is missing); fill it or drop the column"
        )
    };
    let feature = |kind, psi, (stat, p): (f64, f64), test| FeatureDrift {
        name: name.clone(),
        kind,
        psi,
        psi_level: "stable",
        ks_statistic: (test == "ks").then_some(stat),
        chi2_statistic: (test == "chi2").then_some(stat),
        p_value: p,
        test,
        drift: false,
    };
    match (&r.columns[i].kind, &c.columns[j].kind) {
        (ColumnKind::Categorical(rcats), ColumnKind::Categorical(ccats)) => {
            let (rc, cc) = category_counts((&r.values[i], rcats), (&c.values[j], ccats));
            let test = chi2_contingency(&rc, &cc).ok_or_else(|| {
                empty(if rc.iter().sum::<u64>() == 0 { rn.as_str() } else { cn.as_str() })
            })?;
            let psi = drift::psi(&rc, &cc);
            Ok(feature("categorical", psi, (test.statistic, test.p_value), "chi2"))
        }
        _ => {
            let a = drift::sorted(r.values[i].iter().copied());
            let b = drift::sorted(c.values[j].iter().copied());
            let (Some(psi), Some(ks)) = (psi_numeric(&a, &b), ks_2samp(&a, &b)) else {
                return Err(empty(if a.is_empty() { rn.as_str() } else { cn.as_str() }));
            };
            Ok(feature("numeric", psi, (ks.statistic, ks.p_value), "ks"))
        }
    }
}

/// Counts per category, matched by name over the categories either file
/// has (each file codes its own categories).
fn category_counts(
    (rv, rcats): (&[f64], &[String]),
    (cv, ccats): (&[f64], &[String]),
) -> (Vec<u64>, Vec<u64>) {
    let mut all: BTreeMap<&str, usize> = BTreeMap::new();
    for name in rcats.iter().chain(ccats) {
        all.insert(name, 0);
    }
    for (k, slot) in all.values_mut().enumerate() {
        *slot = k;
    }
    let count = |values: &[f64], cats: &[String]| {
        let to_all: Vec<usize> = cats.iter().map(|n| all[n.as_str()]).collect();
        let mut counts = vec![0u64; all.len()];
        for v in values.iter().filter(|v| !v.is_nan()) {
            counts[to_all[*v as usize]] += 1;
        }
        counts
    };
    (count(rv, rcats), count(cv, ccats))
}
