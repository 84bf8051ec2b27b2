//! The confusion matrix of class predictions and the per-class precision,
//! recall, F1 and support computed from it, as scikit-learn's
//! `confusion_matrix` and `classification_report` (`zero_division=0`) with
//! `labels` = every class of the problem. Owns no I/O.

/// Counts of (true class, predicted class), `k × k`: rows are true classes,
/// columns predicted ones, both in code order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    /// `matrix[t][p]`: rows of true class `t` predicted as `p`.
    pub matrix: Vec<Vec<u64>>,
}

/// One class's line of `classification_report`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClassStats {
    /// tp / predicted (0 when the class is never predicted).
    pub precision: f64,
    /// tp / true (0 when the class never occurs).
    pub recall: f64,
    /// 2 tp / (predicted + true) (0 when both are 0).
    pub f1: f64,
    /// Rows whose true class it is.
    pub support: u64,
}

impl Confusion {
    /// An empty `k × k` matrix.
    pub fn new(k: usize) -> Self {
        Confusion { matrix: vec![vec![0; k]; k] }
    }

    /// Adds the pairs of `y_true` and `y_pred` (class codes); a code
    /// outside `0..k` is an error naming it.
    pub fn add(&mut self, y_true: &[u32], y_pred: &[u32]) -> Result<(), String> {
        if y_true.len() != y_pred.len() {
            return Err(format!("{} true values but {} predictions", y_true.len(), y_pred.len()));
        }
        let k = self.matrix.len();
        for (&t, &p) in y_true.iter().zip(y_pred) {
            if t as usize >= k || p as usize >= k {
                return Err(format!("class code {} is not one of the {k} classes", t.max(p)));
            }
            self.matrix[t as usize][p as usize] += 1;
        }
        Ok(())
    }

    /// Every count: the rows added.
    pub fn total(&self) -> u64 {
        self.matrix.iter().flatten().sum()
    }

    /// Precision, recall, F1 and support of each class, in code order.
    pub fn per_class(&self) -> Vec<ClassStats> {
        let k = self.matrix.len();
        let ratio = |num: u64, den: u64| if den == 0 { 0.0 } else { num as f64 / den as f64 };
        (0..k)
            .map(|c| {
                let tp = self.matrix[c][c];
                let truth: u64 = self.matrix[c].iter().sum();
                let predicted: u64 = self.matrix.iter().map(|row| row[c]).sum();
                ClassStats {
                    precision: ratio(tp, predicted),
                    recall: ratio(tp, truth),
                    f1: ratio(2 * tp, predicted + truth),
                    support: truth,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::fixture::{cases, close, codes};

    /// Matrix and per-class numbers equal scikit-learn's for every case of
    /// `tests/fixtures/sklearn/confusion.json`.
    #[test]
    fn matrix_and_per_class_equal_scikit_learn() {
        for case in cases() {
            let name = case["name"].as_str().unwrap();
            let k = case["k"].as_u64().unwrap() as usize;
            let mut cm = Confusion::new(k);
            cm.add(&codes(&case["yTrue"]), &codes(&case["yPred"])).unwrap();
            let want: Vec<Vec<u64>> = serde_json::from_value(case["matrix"].clone()).unwrap();
            assert_eq!(cm.matrix, want, "{name}");
            assert_eq!(cm.total() as usize, case["yTrue"].as_array().unwrap().len());
            let stats = cm.per_class();
            for (c, want) in case["perClass"].as_array().unwrap().iter().enumerate() {
                let got = stats[c];
                for (what, g) in
                    [("precision", got.precision), ("recall", got.recall), ("f1", got.f1)]
                {
                    assert!(close(g, want[what].as_f64().unwrap()), "{name} class {c} {what}: {g}");
                }
                assert_eq!(got.support, want["support"].as_u64().unwrap(), "{name} class {c}");
            }
        }
    }

    #[test]
    fn codes_outside_the_classes_are_refused() {
        let mut cm = Confusion::new(2);
        assert_eq!(
            cm.add(&[0, 2], &[0, 1]).unwrap_err(),
            "class code 2 is not one of the 2 classes"
        );
        assert!(cm.add(&[0], &[0, 1]).unwrap_err().contains("1 true values but 2 predictions"));
    }
}
