//! Data preparation, part of each candidate and fitted on the training rows
//! of a fold only, like a scikit-learn `Pipeline` of `SimpleImputer`,
//! `OneHotEncoder`/`OrdinalEncoder` and a scaler:
//!
//! - a missing cell (NaN in the snapshot) is imputed with the training
//!   rows' median (numbers) or most frequent category (ties: the first in
//!   sorted order); `impute = "none"` makes it an error naming row and column;
//! - a categorical column becomes one 0/1 column per category seen in the
//!   training rows (`encode = "onehot"`; a category first met in the test
//!   rows sets none of them, as `handle_unknown="ignore"`), or stays one
//!   column of ordinal codes (`encode = "ordinal"`, for tree models);
//! - numeric columns are scaled (`scale`); encoded columns are not.
//!
//! When there is nothing to do, [`Prep::fit`] says so and the job hands the
//! plugin a view of the shared snapshot, no copy.

use serde::{Deserialize, Serialize};

use crate::data::dataset::{Column, ColumnKind};
use crate::data::scale::{Scale, column_stats};

/// How categorical columns reach the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encode {
    /// One 0/1 column per category (linear models, kNN, networks).
    #[default]
    Onehot,
    /// One column of category codes in sorted order (trees).
    Ordinal,
}

/// What a missing cell becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Impute {
    /// Median for numbers, most frequent for categories.
    #[default]
    Auto,
    /// A missing cell is an error naming its row and column.
    None,
}

impl Encode {
    /// The name used in config and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Encode::Onehot => "onehot",
            Encode::Ordinal => "ordinal",
        }
    }
}

impl Impute {
    /// The name used in config and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Impute::Auto => "auto",
            Impute::None => "none",
        }
    }
}

/// A candidate's data preparation, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct PrepSpec {
    /// Scaling of numeric columns.
    pub scale: Scale,
    /// Encoding of categorical columns.
    pub encode: Encode,
    /// Handling of missing cells.
    pub impute: Impute,
}

/// A one-hot encoding would need more memory than this for one fold.
const MAX_PREPARED_BYTES: usize = 4 << 30;

/// One input column's fitted transformation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
enum Step {
    /// `(v - offset) / scale`, a missing cell first replaced by `fill`.
    Number { fill: f64, offset: f64, scale: f64 },
    /// Category code -> output slot (`None`: not seen in training).
    OneHot { fill: f64, slot: Vec<Option<u32>>, width: usize },
    /// The code itself.
    Ordinal { fill: f64 },
}

/// A fitted preparation: input row in, prepared row out. Serialized into
/// a trained model's artifact, so predictions prepare rows exactly as the
/// training rows were.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Prep {
    steps: Vec<Step>,
    cols: usize,
    impute: Impute,
    names: Vec<String>,
}

impl Prep {
    /// Fits `spec` on the `train` rows of row-major `x`, whose columns
    /// `columns` describe. `Ok(None)` when the data can go to the model as
    /// it is.
    pub fn fit(
        spec: PrepSpec,
        columns: &[Column],
        x: &[f64],
        train: &[u32],
    ) -> Result<Option<Prep>, String> {
        // Ordinal codes are what the snapshot holds already.
        let as_is = |c: &Column| {
            c.missing == 0 && (c.kind == ColumnKind::Numeric || spec.encode == Encode::Ordinal)
        };
        if spec.scale == Scale::None && columns.iter().all(as_is) {
            return Ok(None);
        }
        Self::fit_steps(spec, columns, x, train).map(Some)
    }

    /// As [`Prep::fit`], for a model trained to keep: with `impute =
    /// "auto"` the preparation is kept even when it changes no training
    /// value, so a cell missing in new rows is imputed with the training
    /// rows' median or most frequent category (as scikit-learn's
    /// `SimpleImputer` in a pipeline) though the training rows had none.
    /// Its rows equal the input's wherever no cell is missing.
    pub fn fit_kept(
        spec: PrepSpec,
        columns: &[Column],
        x: &[f64],
        train: &[u32],
    ) -> Result<Option<Prep>, String> {
        match spec.impute {
            Impute::Auto => Self::fit_steps(spec, columns, x, train).map(Some),
            Impute::None => Self::fit(spec, columns, x, train),
        }
    }

    fn fit_steps(
        spec: PrepSpec,
        columns: &[Column],
        x: &[f64],
        train: &[u32],
    ) -> Result<Prep, String> {
        let cols = columns.len();
        let mut steps = Vec::with_capacity(cols);
        let mut values = Vec::with_capacity(train.len());
        for (j, column) in columns.iter().enumerate() {
            values.clear();
            let mut missing = None;
            for &r in train {
                let v = x[r as usize * cols + j];
                if v.is_nan() {
                    missing = missing.or(Some(r));
                } else {
                    values.push(v);
                }
            }
            if let (Impute::None, Some(r)) = (spec.impute, missing) {
                return Err(missing_error(r, &column.name));
            }
            steps.push(fit_column(spec, column, &mut values, train.len()));
        }
        let width: usize = steps.iter().map(Step::width).sum();
        let bytes = width.saturating_mul(train.len()).saturating_mul(8);
        if width > cols && bytes > MAX_PREPARED_BYTES {
            return Err(format!(
                "one-hot encoding makes {width} columns of {cols}, {} GiB for the training \
                 rows; use encode = \"ordinal\" for this candidate or fewer categories",
                bytes >> 30
            ));
        }
        let names = columns.iter().map(|c| c.name.clone()).collect();
        Ok(Prep { steps, cols: width, impute: spec.impute, names })
    }

    /// Columns of a prepared row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Whether a missing cell is imputed (else it is an error).
    pub fn imputes(&self) -> bool {
        self.impute != Impute::None
    }

    /// The `rows` of row-major `x`, prepared, as one row-major buffer.
    pub fn transform(&self, x: &[f64], rows: &[u32]) -> Result<Vec<f64>, String> {
        let n = self.steps.len();
        let mut out = Vec::with_capacity(rows.len() * self.cols);
        for &r in rows {
            let row = &x[r as usize * n..(r as usize + 1) * n];
            for (j, (step, &v)) in self.steps.iter().zip(row).enumerate() {
                if v.is_nan() && self.impute == Impute::None {
                    return Err(missing_error(r, &self.names[j]));
                }
                step.write(v, &mut out);
            }
        }
        Ok(out)
    }
}

fn missing_error(row: u32, column: &str) -> String {
    format!(
        "row {}, column '{column}': missing value, and this candidate has impute = \"none\"; \
         fill the cell in, or remove impute = \"none\" to impute it",
        u64::from(row) + 2
    )
}

/// Fits one column on its non-missing training `values` (of `n` rows).
fn fit_column(spec: PrepSpec, column: &Column, values: &mut [f64], n: usize) -> Step {
    match &column.kind {
        ColumnKind::Numeric => {
            let fill = median(values);
            let gaps = n - values.len();
            let mut imputed: Vec<f64> = values.to_vec();
            imputed.extend(std::iter::repeat_n(fill, gaps));
            let (offset, scale) = column_stats(spec.scale, &mut imputed);
            Step::Number { fill, offset, scale }
        }
        ColumnKind::Categorical(categories) => {
            let mut counts = vec![0usize; categories.len().max(1)];
            for v in values.iter() {
                counts[*v as usize] += 1;
            }
            // The first maximum: ties go to the first category in sorted order.
            let fill = counts
                .iter()
                .enumerate()
                .fold((0, 0), |best, (c, &k)| if k > best.1 { (c, k) } else { best })
                .0;
            counts[fill] += n - values.len();
            match spec.encode {
                Encode::Ordinal => Step::Ordinal { fill: fill as f64 },
                Encode::Onehot => {
                    let mut width = 0;
                    let slot = counts
                        .iter()
                        .map(|&k| {
                            (k > 0).then(|| {
                                width += 1;
                                width as u32 - 1
                            })
                        })
                        .collect();
                    Step::OneHot { fill: fill as f64, slot, width }
                }
            }
        }
    }
}

/// numpy's median; 0 when there is no value at all.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (_, mid, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let mid = *mid;
    if n % 2 == 1 {
        return mid;
    }
    let below = values[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (below + mid) / 2.0
}

impl Step {
    fn width(&self) -> usize {
        match self {
            Step::Number { .. } | Step::Ordinal { .. } => 1,
            Step::OneHot { width, .. } => *width,
        }
    }

    fn write(&self, v: f64, out: &mut Vec<f64>) {
        match self {
            Step::Number { fill, offset, scale } => {
                let v = if v.is_nan() { *fill } else { v };
                out.push((v - offset) / scale);
            }
            Step::Ordinal { fill } => out.push(if v.is_nan() { *fill } else { v }),
            Step::OneHot { fill, slot, width } => {
                let code = if v.is_nan() { *fill } else { v } as usize;
                let start = out.len();
                out.resize(start + width, 0.0);
                if let Some(Some(s)) = slot.get(code) {
                    out[start + *s as usize] = 1.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(name: &str, missing: usize) -> Column {
        Column { name: name.into(), kind: ColumnKind::Numeric, missing }
    }

    fn colour(missing: usize) -> Column {
        let cats = ["blue", "green", "red"].map(String::from).to_vec();
        Column { name: "colour".into(), kind: ColumnKind::Categorical(cats), missing }
    }

    const NAN: f64 = f64::NAN;

    #[test]
    fn nothing_to_do_means_no_copy() {
        let spec = PrepSpec::default();
        assert_eq!(Prep::fit(spec, &[numeric("a", 0)], &[1.0, 2.0], &[0, 1]), Ok(None));
        // Ordinal codes without gaps are the snapshot's values already.
        let ordinal = PrepSpec { encode: Encode::Ordinal, ..spec };
        assert_eq!(Prep::fit(ordinal, &[colour(0)], &[0.0, 2.0], &[0, 1]), Ok(None));
        assert!(Prep::fit(spec, &[colour(0)], &[0.0, 2.0], &[0, 1]).unwrap().is_some());
    }

    #[test]
    fn a_kept_preparation_imputes_new_gaps_and_leaves_the_rest_as_is() {
        let spec = PrepSpec { encode: Encode::Ordinal, ..PrepSpec::default() };
        let columns = [numeric("a", 0), colour(0)];
        let x = [1.0, 0.0, 4.0, 2.0, 2.5, 2.0];
        assert_eq!(Prep::fit(spec, &columns, &x, &[0, 1, 2]), Ok(None));
        let kept = Prep::fit_kept(spec, &columns, &x, &[0, 1, 2]).unwrap().unwrap();
        assert_eq!(kept.transform(&x, &[0, 1, 2]).unwrap(), x, "no gap: the same values");
        // median of a = 2.5, most frequent colour = red (2)
        assert_eq!(kept.transform(&[NAN, NAN], &[0]).unwrap(), [2.5, 2.0]);
        let none = PrepSpec { impute: Impute::None, ..spec };
        assert_eq!(Prep::fit_kept(none, &columns, &x, &[0, 1, 2]), Ok(None));
    }

    #[test]
    fn imputes_and_one_hot_encodes_from_the_training_rows_only() {
        // rows: (a, colour); train = rows 0..4, test = rows 4..6.
        let x = [1.0, 2.0, NAN, 2.0, 3.0, NAN, 10.0, 0.0, NAN, 1.0, 5.0, NAN];
        let columns = [numeric("a", 2), colour(2)];
        let spec = PrepSpec::default();
        let prep = Prep::fit(spec, &columns, &x, &[0, 1, 2, 3]).unwrap().unwrap();
        // SimpleImputer(median) of [1, 3, 10] = 3; most frequent colour = red
        // (2); seen in training: blue, red -> two columns.
        assert_eq!(prep.cols(), 3);
        assert_eq!(
            prep.transform(&x, &[0, 1, 2, 3]).unwrap(),
            [1., 0., 1., 3., 0., 1., 3., 0., 1., 10., 1., 0.]
        );
        // A test row with a missing number and one with a green (unseen) colour.
        assert_eq!(prep.transform(&x, &[4, 5]).unwrap(), [3., 0., 0., 5., 0., 1.]);
    }

    #[test]
    fn ordinal_keeps_codes_and_scaling_skips_encoded_columns() {
        let x = [1.0, 0.0, 3.0, 1.0, NAN, 1.0];
        let spec =
            PrepSpec { scale: Scale::Minmax, encode: Encode::Ordinal, ..PrepSpec::default() };
        let prep = Prep::fit(spec, &[numeric("a", 1), colour(0)], &x, &[0, 1, 2]).unwrap().unwrap();
        // median of [1, 3] = 2 fills row 2; min-max over [1, 3, 2].
        assert_eq!(prep.transform(&x, &[0, 1, 2]).unwrap(), [0., 0., 1., 1., 0.5, 1.]);
    }

    #[test]
    fn impute_none_names_row_and_column() {
        let x = [1.0, 2.0, NAN, 4.0];
        let spec = PrepSpec { impute: Impute::None, ..PrepSpec::default() };
        let e = Prep::fit(spec, &[numeric("age", 1)], &x, &[0, 1, 2, 3]).unwrap_err();
        assert!(e.starts_with("row 4, column 'age': missing value"), "{e}");
        let prep = Prep::fit(spec, &[numeric("age", 1)], &x, &[0, 1]).unwrap().unwrap();
        let e = prep.transform(&x, &[3, 2]).unwrap_err();
        assert!(e.starts_with("row 4, column 'age'"), "a test row too: {e}");
    }

    #[test]
    fn median_is_numpys() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
