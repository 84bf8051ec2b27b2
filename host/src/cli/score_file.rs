//! `mlhost metrics FILE.csv`: scores predictions a user already has.
//!
//! Columns: `y_true`, `y_pred`, and optionally `y_score` (the score of the
//! greater label, as scikit-learn reads a 1-D `y_prob`) or one
//! `proba_<label>` column per label. Text labels, or whole numbers with
//! probabilities, are classes; any fractional value makes it regression.
//! Owns the file format only; the numbers come from `metrics`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::{BadInput, write_table};
use crate::metrics::{self, ClassInput, RegInput, Scores};

/// Reads `file`, scores it, and prints the metrics.
pub(super) fn run(
    file: &Path,
    pos_label: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file)
        .map_err(|e| BadInput::Other(format!("{}: cannot read: {e}", file.display())))?;
    let scores = score(&file.display().to_string(), &bytes, pos_label).map_err(BadInput::Other)?;
    if json {
        let doc = serde_json::json!({ "metrics": scores.to_map(), "warnings": scores.warnings });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        let rows: Vec<Vec<String>> = scores
            .values
            .iter()
            .map(|(n, v)| vec![(*n).to_owned(), v.map_or("null".to_owned(), |v| format!("{v}"))])
            .collect();
        write_table(out, &["METRIC", "VALUE"], &rows)?;
        for w in &scores.warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Scores CSV `bytes` (named `name` in errors).
pub(super) fn score(name: &str, bytes: &[u8], pos_label: Option<&str>) -> Result<Scores, String> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let header: Vec<String> =
        reader.headers().map_err(|e| format!("{name}: {e}"))?.iter().map(str::to_owned).collect();
    let col = |c: &str| header.iter().position(|h| h == c);
    let (Some(t_col), Some(p_col)) = (col("y_true"), col("y_pred")) else {
        return Err(format!(
            "{name}: needs columns y_true and y_pred (optionally y_score or proba_<label>); found {}",
            header.join(", ")
        ));
    };
    let score_col = col("y_score");
    let proba_cols: Vec<(String, usize)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.strip_prefix("proba_").map(|l| (l.to_owned(), i)))
        .collect();
    if score_col.is_some() && !proba_cols.is_empty() {
        return Err(format!("{name}: give y_score or proba_<label> columns, not both"));
    }
    let mut y_true = Vec::new();
    let mut y_pred = Vec::new();
    let mut extra: Vec<Vec<f64>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{name}: {e}"))?;
        let row = record.position().map_or(0, |p| p.line());
        let get = |i: usize| record.get(i).unwrap_or("").to_owned();
        let num = |i: usize| -> Result<f64, String> {
            let v = get(i);
            v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                format!("{name}: row {row}, column '{}': not a finite number: {v:?}", header[i])
            })
        };
        y_true.push(get(t_col));
        y_pred.push(get(p_col));
        let mut values = Vec::new();
        if let Some(c) = score_col {
            values.push(num(c)?);
        }
        for (_, c) in &proba_cols {
            values.push(num(*c)?);
        }
        extra.push(values);
        for (c, v) in [(t_col, y_true.last()), (p_col, y_pred.last())] {
            if v.is_some_and(|v| v.is_empty()) {
                return Err(format!("{name}: row {row}, column '{}': missing value", header[c]));
            }
        }
    }
    if y_true.is_empty() {
        return Err(format!("{name}: no rows to score"));
    }
    let numeric = |v: &[String]| -> Option<Vec<f64>> {
        v.iter().map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite())).collect()
    };
    let (nt, np) = (numeric(&y_true), numeric(&y_pred));
    let fractional =
        |v: &Option<Vec<f64>>| v.as_ref().is_some_and(|v| v.iter().any(|x| x.fract() != 0.0));
    let probabilistic = score_col.is_some() || !proba_cols.is_empty();
    if let (Some(t), Some(p)) = (&nt, &np)
        && !probabilistic
        && (fractional(&nt) || fractional(&np))
    {
        return metrics::regression(RegInput { y_true: t, y_pred: p });
    }
    // Classification: labels sorted numerically when all are numbers.
    let mut labels: Vec<String> = y_true
        .iter()
        .chain(&y_pred)
        .cloned()
        .chain(proba_cols.iter().map(|(l, _)| l.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if labels.iter().all(|l| l.parse::<f64>().is_ok()) {
        labels.sort_by(|a, b| {
            a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0))
        });
        labels.dedup_by(|a, b| a.parse::<f64>().ok() == b.parse::<f64>().ok());
    }
    let k = labels.len();
    if k < 2 {
        return Err(format!(
            "{name}: only one label ({}); classification metrics need two",
            labels[0]
        ));
    }
    let code = |s: &str| -> u32 {
        let exact = labels.iter().position(|l| l == s);
        let numeric = || {
            let v = s.parse::<f64>().ok()?;
            labels.iter().position(|l| l.parse::<f64>().ok() == Some(v))
        };
        exact.or_else(numeric).expect("every label is in the set") as u32
    };
    let t: Vec<u32> = y_true.iter().map(|s| code(s)).collect();
    let p: Vec<u32> = y_pred.iter().map(|s| code(s)).collect();
    let pos = match pos_label {
        None => (k - 1) as u32,
        Some(l) if k == 2 => labels.iter().position(|x| x == l).ok_or_else(|| {
            format!(
                "{name}: --pos-label {l:?} is not a label here; the labels are {}",
                labels.join(", ")
            )
        })? as u32,
        Some(_) => return Err(format!("{name}: --pos-label applies to two classes; found {k}")),
    };
    let mut warnings = Vec::new();
    let proba: Option<Vec<f64>> = if score_col.is_some() {
        if k != 2 {
            return Err(format!(
                "{name}: y_score is the positive-class score of a binary problem; found {k} labels (use proba_<label> columns)"
            ));
        }
        Some(extra.iter().flat_map(|v| [1.0 - v[0], v[0]]).collect())
    } else if !proba_cols.is_empty() {
        let mut order = Vec::with_capacity(k);
        for l in &labels {
            let i = proba_cols.iter().position(|(pl, _)| pl == l).ok_or_else(|| {
                format!("{name}: no proba_{l} column; give one probability column per label")
            })?;
            order.push(i);
        }
        Some(extra.iter().flat_map(|v| order.iter().map(move |&i| v[i])).collect())
    } else {
        None
    };
    let out_of_range = proba.as_ref().is_some_and(|p| p.iter().any(|v| !(0.0..=1.0).contains(v)));
    let mut scores = metrics::classification(ClassInput {
        y_true: &t,
        y_pred: &p,
        proba: proba.as_deref(),
        n_classes: k,
        pos_label: pos,
    })?;
    if out_of_range {
        // Scores that are not probabilities still rank (ROC AUC) but have no log loss.
        for (n, v) in &mut scores.values {
            if *n == "log_loss" {
                *v = None;
                warnings.push(
                    "log_loss is undefined: the scores are not probabilities in [0, 1]".to_owned(),
                );
            }
        }
    }
    scores.warnings.extend(warnings);
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(csv: &str, metric: &str) -> Option<f64> {
        score("f.csv", csv.as_bytes(), None).unwrap().get(metric)
    }

    #[test]
    fn reads_labels_scores_and_probabilities() {
        // scikit-learn: f1_score(["b","a","b","b"], ["b","b","b","a"], pos_label="b") == 2/3
        assert_eq!(get("y_true,y_pred\nb,b\na,b\nb,b\nb,a\n", "f1"), Some(2.0 / 3.0));
        // roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.75
        assert_eq!(
            get("y_true,y_pred,y_score\n0,0,0.1\n0,1,0.4\n1,0,0.35\n1,1,0.8\n", "roc_auc"),
            Some(0.75)
        );
        let p = "y_true,y_pred,proba_x,proba_y,proba_z\nx,x,0.8,0.1,0.1\ny,y,0.1,0.8,0.1\nz,y,0.2,0.5,0.3\n";
        assert!((get(p, "log_loss").unwrap() - 0.5500866356514519).abs() < 1e-12);
        assert_eq!(get("y_true,y_pred\n1.5,1\n2,2\n", "mae"), Some(0.25));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |csv: &str| score("f.csv", csv.as_bytes(), None).unwrap_err();
        assert_eq!(
            err("a,b\n1,2\n"),
            "f.csv: needs columns y_true and y_pred (optionally y_score or proba_<label>); found a, b"
        );
        assert_eq!(err("y_true,y_pred\n"), "f.csv: no rows to score");
        assert_eq!(
            err("y_true,y_pred,y_score\n0,1,high\n1,1,0.2\n"),
            "f.csv: row 2, column 'y_score': not a finite number: \"high\""
        );
        assert_eq!(
            err("y_true,y_pred,proba_a\na,b,0.5\n"),
            "f.csv: no proba_b column; give one probability column per label"
        );
        assert_eq!(
            err("y_true,y_pred\n1,1\n"),
            "f.csv: only one label (1); classification metrics need two"
        );
    }
}
