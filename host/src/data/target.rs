//! The label column: which task it describes and its encoding (class codes
//! in sorted order, as scikit-learn's `LabelEncoder`, or real values).

use std::collections::{BTreeSet, HashMap};

use mlhost_plugin_api::Task;

use crate::data::csv::Labels;
use crate::data::dataset::DatasetError;

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

/// How to read the label column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskHint {
    /// Decide from the values: text or few whole numbers (at most 20
    /// distinct) are classes, anything else is regression.
    Infer,
    /// Force one task.
    Force(Task),
}

/// Distinct labels, stopping once there are more than `cap`.
fn distinct(labels: &Labels, cap: usize) -> BTreeSet<&str> {
    let mut set = BTreeSet::new();
    for l in labels.iter() {
        set.insert(l);
        if set.len() > cap {
            break;
        }
    }
    set
}

/// Encodes the label cells: classes coded in sorted order (numerically when
/// every label is a number), or values for regression.
pub(crate) fn encode(
    name: &str,
    label: &str,
    raw: &Labels,
    hint: TaskHint,
) -> Result<Target, DatasetError> {
    let numbers: Option<Vec<f64>> =
        raw.iter().map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite())).collect();
    let task = match hint {
        TaskHint::Force(t) => t,
        TaskHint::Infer => match &numbers {
            None => Task::Classification,
            Some(v) if v.iter().all(|x| x.fract() == 0.0) && distinct(raw, 20).len() <= 20 => {
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
                return Err(DatasetError::cell(
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
            let mut labels: Vec<&str> = distinct(raw, usize::MAX).into_iter().collect();
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
            let code: HashMap<&str, f64> =
                labels.iter().enumerate().map(|(i, l)| (*l, i as f64)).collect();
            let y = raw.iter().map(|s| code[s]).collect();
            Ok(Target::Classes { y, labels: labels.into_iter().map(str::to_owned).collect() })
        }
    }
}
