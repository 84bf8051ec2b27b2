//! What a model said about the rows it did not train on, kept per fold so a
//! run can be re-scored, compared row by row and plotted without refitting.

/// One fold's held-out predictions. Classification values are class codes
/// (0..k-1, labels in sorted order); regression values are the targets.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoldPredictions {
    /// The fold.
    pub fold: i64,
    /// Dataset rows (0-based, file order), one per prediction.
    pub rows: Vec<u32>,
    /// The true values of those rows.
    pub y_true: Vec<f64>,
    /// The model's predictions.
    pub y_pred: Vec<f64>,
    /// Classes (0 for regression).
    pub n_classes: u32,
    /// Class probabilities, row-major `rows × n_classes`, when the model
    /// gives them.
    pub proba: Option<Vec<f64>>,
}

impl FoldPredictions {
    /// Whether the parts agree in length.
    pub fn is_consistent(&self) -> bool {
        let n = self.rows.len();
        self.y_true.len() == n
            && self.y_pred.len() == n
            && self.proba.as_ref().is_none_or(|p| p.len() == n * self.n_classes as usize)
    }
}

/// The folds with every row kept once, at its first prediction: where a
/// protocol holds rows out more than once (repeated k-fold, shuffle
/// splits), pooled counts (a confusion matrix, McNemar's test) would
/// otherwise count a row once per repetition.
pub fn once_per_row(folds: &[FoldPredictions]) -> Vec<FoldPredictions> {
    let mut seen = std::collections::HashSet::new();
    folds
        .iter()
        .map(|f| {
            let keep: Vec<usize> = (0..f.rows.len()).filter(|&i| seen.insert(f.rows[i])).collect();
            if keep.len() == f.rows.len() {
                return f.clone();
            }
            let k = f.n_classes as usize;
            let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            FoldPredictions {
                fold: f.fold,
                rows: keep.iter().map(|&i| f.rows[i]).collect(),
                y_true: pick(&f.y_true),
                y_pred: pick(&f.y_pred),
                n_classes: f.n_classes,
                proba: f.proba.as_ref().map(|p| {
                    keep.iter().flat_map(|&i| p[i * k..(i + 1) * k].iter().copied()).collect()
                }),
            }
        })
        .collect()
}

/// Little-endian bytes of `values` (the stored form).
pub fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `values` back from [`f64_bytes`]; `None` when the length is not a
/// multiple of 8.
pub fn f64s_from(bytes: &[u8]) -> Option<Vec<f64>> {
    (bytes.len() % 8 == 0).then(|| {
        bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
    })
}

/// Little-endian bytes of `values`.
pub fn u32_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `values` back from [`u32_bytes`].
pub fn u32s_from(bytes: &[u8]) -> Option<Vec<u32>> {
    (bytes.len() % 4 == 0).then(|| {
        bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_exactly() {
        let v = [0.1, -2.5e300, f64::MIN_POSITIVE, 3.0];
        assert_eq!(f64s_from(&f64_bytes(&v)).unwrap(), v);
        assert_eq!(u32s_from(&u32_bytes(&[1, 7, u32::MAX])).unwrap(), [1, 7, u32::MAX]);
        assert_eq!(f64s_from(&[0; 7]), None);
    }

    #[test]
    fn a_row_held_out_twice_is_pooled_once() {
        let fold = |fold, rows: &[u32]| FoldPredictions {
            fold,
            rows: rows.to_vec(),
            y_true: rows.iter().map(|&r| f64::from(r % 2)).collect(),
            y_pred: rows.iter().map(|&r| f64::from(r % 2)).collect(),
            n_classes: 2,
            proba: Some(rows.iter().flat_map(|&r| [f64::from(r), 1.0]).collect()),
        };
        let once = once_per_row(&[fold(0, &[0, 1]), fold(1, &[2, 3]), fold(2, &[3, 0, 4])]);
        assert_eq!(once[..2], [fold(0, &[0, 1]), fold(1, &[2, 3])]);
        assert_eq!(once[2], FoldPredictions { fold: 2, ..fold(2, &[4]) });
        assert!(once.iter().all(FoldPredictions::is_consistent));
    }
}
