//! JSON records for a trained model (the serving API's `rows` and
//! `instances`): each value checked against the model's feature column and
//! encoded as its training snapshot was, with the cell rules of
//! [`super::csv`] and [`super::rows`]: a number for a numeric column, a
//! string (or a number, taken by value) for a categorical one, `null` or a
//! missing marker (`NA`, `?`, ...) as a missing cell, an unseen category as
//! the code past the model's list. An error names the row and the column.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::csv::{category_key, is_missing};
use super::dataset::{Column, ColumnKind};

/// Rows of a prediction request.
#[derive(Debug, Clone, PartialEq)]
pub enum Records {
    /// `rows`: values in the model's feature order.
    Rows(Vec<Vec<Value>>),
    /// `instances`: `{feature: value}` objects; other keys are ignored.
    Instances(Vec<Map<String, Value>>),
}

impl Records {
    /// How many rows.
    pub fn len(&self) -> usize {
        match self {
            Records::Rows(r) => r.len(),
            Records::Instances(i) => i.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes `records` into row-major values in the order of `columns`.
/// `missing_ok`: the model imputes a missing cell (else a missing cell is
/// an error naming it).
pub fn encode(columns: &[Column], records: &Records, missing_ok: bool) -> Result<Vec<f64>, String> {
    if records.is_empty() {
        return Err("no rows to predict: send at least one".to_owned());
    }
    let codes: Vec<Option<HashMap<&str, f64>>> = columns
        .iter()
        .map(|c| match &c.kind {
            ColumnKind::Numeric => None,
            ColumnKind::Categorical(cats) => {
                Some(cats.iter().enumerate().map(|(i, k)| (k.as_str(), i as f64)).collect())
            }
        })
        .collect();
    let enc = Encoder { columns, codes, missing_ok };
    let mut out = Vec::with_capacity(records.len() * columns.len());
    match records {
        Records::Rows(rows) => {
            for (i, row) in rows.iter().enumerate() {
                if row.len() != columns.len() {
                    return Err(format!(
                        "rows[{i}] has {} values; the model takes {}, in this order: {}",
                        row.len(),
                        columns.len(),
                        names(columns)
                    ));
                }
                for (j, v) in row.iter().enumerate() {
                    out.push(enc.cell(j, v).map_err(|e| format!("rows[{i}][{j}] {e}"))?);
                }
            }
        }
        Records::Instances(instances) => {
            for (i, inst) in instances.iter().enumerate() {
                for (j, c) in columns.iter().enumerate() {
                    let v = inst.get(&c.name).ok_or_else(|| {
                        format!(
                            "instances[{i}] has no feature '{}'; the model needs {}",
                            c.name,
                            names(columns)
                        )
                    })?;
                    out.push(enc.cell(j, v).map_err(|e| format!("instances[{i}] {e}"))?);
                }
            }
        }
    }
    Ok(out)
}

fn names(columns: &[Column]) -> String {
    columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

struct Encoder<'a> {
    columns: &'a [Column],
    /// Per column: category codes by key (`None`: numeric).
    codes: Vec<Option<HashMap<&'a str, f64>>>,
    missing_ok: bool,
}

impl Encoder<'_> {
    /// Column `j`'s value `v`, or what is wrong with it (the caller adds
    /// the row).
    fn cell(&self, j: usize, v: &Value) -> Result<f64, String> {
        let column = &self.columns[j];
        let at = |why: String| format!("(column '{}'): {why}", column.name);
        let missing = match v {
            Value::Null => true,
            Value::String(s) => is_missing(s.trim()),
            _ => false,
        };
        if missing {
            if self.missing_ok {
                return Ok(f64::NAN);
            }
            return Err(at(
                "missing value, and the model was trained without an imputer; send a value"
                    .to_owned(),
            ));
        }
        match (&self.codes[j], v) {
            (None, Value::Number(n)) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| at(format!("{n} is not a finite number"))),
            (None, Value::String(s)) => {
                Err(at(format!("{s:?} is text; the model was trained on numbers there")))
            }
            (Some(codes), Value::String(s)) => Ok(code(codes, s.trim())),
            (Some(codes), Value::Number(n)) => Ok(code(codes, &n.to_string())),
            (_, other) => Err(at(format!(
                "{other} is not a number or a string (the model was trained on {} there)",
                if self.codes[j].is_some() { "categories" } else { "numbers" }
            ))),
        }
    }
}

/// The code of category `cell`; one the model never saw gets the code past
/// its list (one-hot: all zeros).
fn code(codes: &HashMap<&str, f64>, cell: &str) -> f64 {
    codes.get(category_key(cell).as_ref()).copied().unwrap_or(codes.len() as f64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn columns() -> Vec<Column> {
        let cats = ["1", "blue", "red"].map(String::from).to_vec();
        vec![
            Column { name: "a".into(), kind: ColumnKind::Numeric, missing: 0 },
            Column { name: "colour".into(), kind: ColumnKind::Categorical(cats), missing: 0 },
        ]
    }

    fn rows(v: Value) -> Records {
        Records::Rows(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn rows_and_instances_encode_alike() {
        let r = rows(json!([[1.5, "red"], [-2, "green"], [0, 1.0]]));
        let got = encode(&columns(), &r, false).unwrap();
        assert_eq!(got, [1.5, 2.0, -2.0, 3.0, 0.0, 0.0], "unseen -> 3, 1.0 is category '1'");
        let i = Records::Instances(
            serde_json::from_value(json!([{"colour": "red", "a": 1.5, "id": 7}])).unwrap(),
        );
        assert_eq!(encode(&columns(), &i, false).unwrap(), [1.5, 2.0]);
        let gaps = rows(json!([[null, "NA"]]));
        assert!(encode(&columns(), &gaps, true).unwrap().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn errors_name_the_row_and_the_column() {
        let err = |r: Records| encode(&columns(), &r, false).unwrap_err();
        assert_eq!(
            err(rows(json!([[1, "red"], ["x", "red"]]))),
            "rows[1][0] (column 'a'): \"x\" is text; the model was trained on numbers there"
        );
        assert_eq!(
            err(rows(json!([[1, "red", 3]]))),
            "rows[0] has 3 values; the model takes 2, in this order: a, colour"
        );
        assert_eq!(
            err(rows(json!([[1, true]]))),
            "rows[0][1] (column 'colour'): true is not a number or a string (the model was trained on categories there)"
        );
        assert_eq!(
            err(rows(json!([[null, "red"]]))),
            "rows[0][0] (column 'a'): missing value, and the model was trained without an imputer; send a value"
        );
        let i = Records::Instances(serde_json::from_value(json!([{"a": 1}])).unwrap());
        assert_eq!(err(i), "instances[0] has no feature 'colour'; the model needs a, colour");
        assert_eq!(err(Records::Rows(vec![])), "no rows to predict: send at least one");
    }
}
