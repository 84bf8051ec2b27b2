//! Label metrics from a confusion matrix instead of rows: every metric that
//! needs no probabilities (accuracy, balanced accuracy, precision, recall,
//! F1 and their averages) is a function of the per-class counts
//! [`Prepared`] holds, so a `Prepared` filled from the k × k cell counts
//! scores them exactly as one built from the rows would (the same integers,
//! the same arithmetic). The bootstrap of `compare` uses it: a resample of
//! pooled rows is only the counts of its cells.

use super::{ClassInput, Prepared};

impl Prepared<'static> {
    /// From `cells`, the k × k confusion matrix (`n_classes` = k), row-major,
    /// row = true class, column = predicted class; `pos_label` as in
    /// [`ClassInput`]. Probability metrics are not available on it.
    pub fn from_confusion(cells: &[u64], n_classes: usize, pos_label: u32) -> Result<Self, String> {
        let input = ClassInput { y_true: &[], y_pred: &[], proba: None, n_classes, pos_label };
        let zeros = vec![0; n_classes];
        let mut p = Prepared {
            input,
            rows: 0,
            tp: zeros.clone(),
            pred: zeros.clone(),
            truth: zeros,
            present: Vec::with_capacity(n_classes),
        };
        p.set_confusion(cells)?;
        Ok(p)
    }
}

impl Prepared<'_> {
    /// Refills a `Prepared` made by [`Prepared::from_confusion`] with the
    /// counts of another k × k matrix, without allocating.
    pub fn set_confusion(&mut self, cells: &[u64]) -> Result<(), String> {
        let k = self.input.n_classes;
        if !self.input.y_true.is_empty() {
            return Err("a Prepared built from rows cannot take counts".to_owned());
        }
        if k == 0 || cells.len() != k * k {
            return Err(format!("{} confusion cells for {k} classes; need k x k", cells.len()));
        }
        self.tp.fill(0);
        self.pred.fill(0);
        self.truth.fill(0);
        for (t, row) in cells.chunks_exact(k).enumerate() {
            for (p, &count) in row.iter().enumerate() {
                self.truth[t] += count;
                self.pred[p] += count;
            }
            self.tp[t] = row[t];
        }
        self.rows = self.truth.iter().sum();
        if self.rows == 0 {
            return Err("no predictions to score".to_owned());
        }
        self.find_present();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::{CLASSIFICATION, ClassInput, Prepared};

    /// Every label metric from the confusion matrix equals its value from
    /// the rows, bit for bit, binary and multiclass, with absent classes.
    #[test]
    fn counts_score_every_label_metric_as_the_rows_do() {
        let cases: [(usize, u32, &[u32], &[u32]); 4] = [
            (2, 1, &[0, 1, 1, 0, 1, 1, 1, 0], &[0, 1, 0, 0, 1, 1, 0, 1]),
            (2, 0, &[1, 1, 1, 1], &[1, 1, 0, 1]),
            (3, 2, &[0, 1, 2, 2, 1, 0, 0, 2, 1], &[0, 2, 2, 1, 1, 0, 2, 2, 0]),
            (4, 3, &[0, 0, 1, 1, 1, 3], &[0, 1, 1, 1, 0, 1]),
        ];
        for (k, pos_label, y_true, y_pred) in cases {
            let input = ClassInput { y_true, y_pred, proba: None, n_classes: k, pos_label };
            let rows = Prepared::new(input).unwrap();
            let mut cells = vec![0u64; k * k];
            for (&t, &p) in y_true.iter().zip(y_pred) {
                cells[t as usize * k + p as usize] += 1;
            }
            let counts = Prepared::from_confusion(&cells, k, pos_label).unwrap();
            for m in CLASSIFICATION.iter().filter(|m| !m.needs_proba) {
                let (a, b) = (m.score(&rows).unwrap(), m.score(&counts).unwrap());
                assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{} on {y_true:?}", m.name);
            }
            assert!(
                CLASSIFICATION.iter().filter(|m| m.needs_proba).all(|m| m.score(&counts).is_none())
            );
        }
    }

    #[test]
    fn refills_and_refuses_a_wrong_shape() {
        let mut p = Prepared::from_confusion(&[3, 1, 0, 4], 2, 1).unwrap();
        let accuracy = CLASSIFICATION.iter().find(|m| m.name == "accuracy").unwrap();
        assert_eq!(accuracy.score(&p), Some(Ok(7.0 / 8.0)));
        p.set_confusion(&[1, 1, 1, 1]).unwrap();
        assert_eq!(accuracy.score(&p), Some(Ok(0.5)));
        assert!(p.set_confusion(&[1, 2, 3]).unwrap_err().contains("3 confusion cells"));
        assert_eq!(p.set_confusion(&[0; 4]).unwrap_err(), "no predictions to score");
        assert!(Prepared::from_confusion(&[], 0, 0).is_err());
    }
}
