//! New rows for a trained model: cells matched to the model's feature
//! columns by name and encoded as its training snapshot was (numbers as
//! numbers, categories as the training codes, a missing cell as NaN), with
//! the same cell rules as [`super::csv`]. A category the model never saw
//! gets a code past its list: one-hot encodes it as all zeros (scikit-learn's
//! `handle_unknown="ignore"`), ordinal as a new code.

use std::collections::HashMap;

use super::csv::{category_key, is_missing, number};
use super::dataset::{Column, ColumnKind};

/// Encodes records of one input layout into the model's feature order.
#[derive(Debug)]
pub struct RowEncoder {
    /// For each model column: its index in the input record.
    at: Vec<usize>,
    /// For each model column: category codes by key (`None`: numeric).
    codes: Vec<Option<HashMap<String, f64>>>,
    names: Vec<String>,
    /// Input columns the model does not use.
    pub ignored: Vec<String>,
}

impl RowEncoder {
    /// Matches `header` (the input's column names) to `columns` (the
    /// model's). A missing feature is an error naming it; extra columns
    /// (an id, the label) are listed in `ignored`.
    pub fn new(columns: &[Column], header: &[&str]) -> Result<RowEncoder, String> {
        let position: HashMap<&str, usize> =
            header.iter().enumerate().map(|(i, h)| (h.trim_ascii(), i)).collect();
        let missing: Vec<&str> =
            columns.iter().map(|c| c.name.as_str()).filter(|n| !position.contains_key(n)).collect();
        if !missing.is_empty() {
            let needs: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            let quoted: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
            return Err(format!(
                "the input has no column {}; the model needs {}",
                listed(&quoted),
                listed(&needs)
            ));
        }
        let used: std::collections::HashSet<&str> =
            columns.iter().map(|c| c.name.as_str()).collect();
        let codes = columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Numeric => None,
                ColumnKind::Categorical(cats) => {
                    Some(cats.iter().enumerate().map(|(i, k)| (k.clone(), i as f64)).collect())
                }
            })
            .collect();
        Ok(RowEncoder {
            at: columns.iter().map(|c| position[c.name.as_str()]).collect(),
            codes,
            names: columns.iter().map(|c| c.name.clone()).collect(),
            ignored: header
                .iter()
                .map(|h| h.trim_ascii())
                .filter(|h| !used.contains(h))
                .map(str::to_owned)
                .collect(),
        })
    }

    /// Columns per encoded row.
    pub fn cols(&self) -> usize {
        self.at.len()
    }

    /// The name of model column `j`.
    pub fn name(&self, j: usize) -> &str {
        &self.names[j]
    }

    /// Appends the encoded `record` (`row`: how messages name it, e.g. its
    /// line in the file, as training's errors do) to `out`; a cell that
    /// cannot be read is an error naming row and column.
    pub fn push(
        &self,
        record: &csv::StringRecord,
        row: u64,
        out: &mut Vec<f64>,
    ) -> Result<(), String> {
        for (j, &i) in self.at.iter().enumerate() {
            let cell = record.get(i).map(str::trim_ascii).unwrap_or("");
            if is_missing(cell) {
                out.push(f64::NAN);
                continue;
            }
            let v = match &self.codes[j] {
                None => number(cell).ok_or_else(|| {
                    format!(
                        "row {row}, column '{}': '{cell}' is not a number (the model was trained on numbers there)",
                        self.names[j]
                    )
                })?,
                Some(codes) => {
                    let unknown = codes.len() as f64;
                    codes.get(category_key(cell).as_ref()).copied().unwrap_or(unknown)
                }
            };
            out.push(v);
        }
        Ok(())
    }
}

/// At most [`LISTED`] names joined by ", ", then how many more: a model of
/// 500 features gets a line a person can read.
fn listed<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED).map(AsRef::as_ref).collect();
    match names.len().checked_sub(LISTED) {
        Some(more @ 1..) => format!("{} and {more} more", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// Names a message lists before "and N more".
const LISTED: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<Column> {
        let cats = ["blue", "red"].map(String::from).to_vec();
        vec![
            Column { name: "a".into(), kind: ColumnKind::Numeric, missing: 0 },
            Column { name: "colour".into(), kind: ColumnKind::Categorical(cats), missing: 0 },
        ]
    }

    #[test]
    fn matches_by_name_encodes_and_names_bad_cells() {
        let enc = RowEncoder::new(&columns(), &["id", "colour", "a"]).unwrap();
        assert_eq!(enc.ignored, ["id"]);
        let mut out = Vec::new();
        let rec = |cells: &[&str]| csv::StringRecord::from(cells.to_vec());
        enc.push(&rec(&["7", "red", "1.5"]), 1, &mut out).unwrap();
        enc.push(&rec(&["8", "green", "NA"]), 2, &mut out).unwrap();
        assert_eq!(out[..2], [1.5, 1.0]);
        assert!(out[2].is_nan(), "NA is missing");
        assert_eq!(out[3], 2.0, "an unseen category gets the code past the list");
        let err = enc.push(&rec(&["9", "red", "x"]), 3, &mut out).unwrap_err();
        assert_eq!(
            err,
            "row 3, column 'a': 'x' is not a number (the model was trained on numbers there)"
        );
        // Trimmed as the csv crate's Trim::All trims training cells: ASCII
        // whitespace only, so a no-break space keeps a cell text.
        enc.push(&rec(&["10", " red\t", " 2 "]), 4, &mut out).unwrap();
        assert_eq!(out[4..], [2.0, 1.0]);
        let err = enc.push(&rec(&["11", "red", "\u{a0}2"]), 5, &mut out).unwrap_err();
        assert!(err.starts_with("row 5, column 'a': '\u{a0}2' is not a number"), "{err}");
        let err = RowEncoder::new(&columns(), &["a"]).unwrap_err();
        assert_eq!(err, "the input has no column 'colour'; the model needs a, colour");
        let wide: Vec<Column> = (0..30)
            .map(|i| Column { name: format!("f{i}"), kind: ColumnKind::Numeric, missing: 0 })
            .collect();
        let err = RowEncoder::new(&wide, &["f0"]).unwrap_err();
        assert_eq!(
            err,
            "the input has no column 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8' and 21 more; \
             the model needs f0, f1, f2, f3, f4, f5, f6, f7 and 22 more"
        );
    }
}
