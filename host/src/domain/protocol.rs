//! How a run splits its rows: the `Protocol` a spec stores, and the
//! `--cv` flags (or API fields) it is resolved from, checked once.

use serde::{Deserialize, Serialize};

use super::spec::{SpecError, bounds};

/// `--cv`: which splitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CvName {
    /// `StratifiedKFold` (classification only).
    Stratified,
    /// `KFold`, unstratified.
    Kfold,
    /// `TimeSeriesSplit`.
    TimeSeries,
    /// `ShuffleSplit` (Monte Carlo).
    Shuffle,
    /// `GroupKFold` over `--group-col`.
    Group,
    /// One stratified (classification) train/test split.
    Holdout,
}

/// The splitting flags as given; `None` takes the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CvRequest {
    /// The splitter (default: stratified k-fold for classification, k-fold
    /// for regression; holdout when `holdout` is given).
    pub cv: Option<CvName>,
    /// Folds or splits.
    pub folds: Option<u32>,
    /// `--holdout F`: the same as `--cv holdout --test-size F`.
    pub holdout: Option<f64>,
    /// Repeated k-fold.
    pub repeats: Option<u32>,
    /// Holdout and shuffle: the test fraction; time-series: test rows.
    pub test_size: Option<f64>,
    /// Time-series: rows between train and test.
    pub gap: Option<u32>,
    /// Time-series: the train window at most (walk-forward).
    pub max_train_size: Option<u32>,
    /// Shuffle k-fold even without a seed.
    pub shuffle: bool,
    /// Group k-fold's column.
    pub group_col: Option<String>,
    /// Sort rows by this column first.
    pub time_col: Option<String>,
}

/// How a run splits the data (`--cv`). The deterministic splitters are
/// scikit-learn's; the shuffled ones are seeded by the run's seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Protocol {
    /// k-fold cross-validation: stratified for classification unless
    /// `stratify` says otherwise (`--cv kfold`); shuffled when a seed is
    /// given or `shuffle`; `repeats` times, each repetition reshuffled.
    #[serde(rename = "kfold")]
    KFold {
        /// Number of folds, at least 2.
        #[serde(rename = "folds")]
        k: usize,
        /// `Some(true)`: `--cv stratified`; `Some(false)`: `--cv kfold`;
        /// `None`: by the task.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stratify: Option<bool>,
        /// Repetitions (repeated k-fold), at least 1.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        repeats: usize,
        /// Shuffle even without a seed (seed 0).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        shuffle: bool,
    },
    /// One train/test split with this fraction held out for testing.
    Holdout {
        /// In (0, 1).
        #[serde(rename = "testFraction")]
        test_fraction: f64,
    },
    /// scikit-learn's `TimeSeriesSplit`: growing (or, with
    /// `max_train_size`, sliding: walk-forward) windows in row order.
    TimeSeries {
        /// Number of splits.
        #[serde(rename = "folds")]
        k: usize,
        /// Rows left out between each train window and its test rows.
        #[serde(default)]
        gap: usize,
        /// The train window's size at most.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_train_size: Option<usize>,
        /// Test rows per split (default: rows / (folds + 1)).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_size: Option<usize>,
    },
    /// Monte Carlo cross-validation (`ShuffleSplit`): `k` seeded random
    /// splits holding out `test_fraction` each.
    Shuffle {
        /// Number of splits.
        #[serde(rename = "folds")]
        k: usize,
        /// In (0, 1).
        #[serde(rename = "testFraction")]
        test_fraction: f64,
    },
    /// scikit-learn's `GroupKFold` over the run's `group_col`: a group's
    /// rows are never split between train and test.
    Group {
        /// Number of folds.
        #[serde(rename = "folds")]
        k: usize,
    },
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl Protocol {
    /// Plain k-fold as before `--cv`: stratified by the task, shuffled by
    /// a seed, once.
    pub fn kfold(k: usize) -> Protocol {
        Protocol::KFold { k, stratify: None, repeats: 1, shuffle: false }
    }

    /// Whether folds need the run's group column.
    pub fn needs_groups(&self) -> bool {
        matches!(self, Protocol::Group { .. })
    }
}

fn fraction(name: &str, f: f64) -> Result<f64, SpecError> {
    if f > 0.0 && f < 1.0 {
        Ok(f)
    } else {
        Err(SpecError(format!("{name} must be a fraction between 0 and 1 (exclusive), got {f}")))
    }
}

fn folds_in_bounds(k: u64) -> Result<usize, SpecError> {
    let (min, max) = bounds::FOLDS;
    if (min..=max).contains(&k) {
        Ok(k as usize)
    } else {
        Err(SpecError(format!("folds must be between {min} and {max}, got {k}")))
    }
}

impl Protocol {
    /// The protocol `cv` asks for, each setting checked; a flag that the
    /// chosen splitter does not use is an error naming it.
    pub fn resolve(cv: &CvRequest, default_folds: u32) -> Result<Protocol, SpecError> {
        let name = match (cv.cv, cv.holdout) {
            (Some(n), None) => Some(n),
            (None, Some(_)) => Some(CvName::Holdout),
            (Some(CvName::Holdout), Some(_)) | (None, None) => cv.cv,
            (Some(_), Some(_)) => {
                return Err(SpecError("--holdout is --cv holdout; give one of them".into()));
            }
        };
        let unused = |flag: &str, set: bool| -> Result<(), SpecError> {
            if set {
                let which = name
                    .map_or("the default k-fold".to_owned(), |n| format!("--cv {}", n.as_str()));
                Err(SpecError(format!("{flag} does not apply to {which}; drop it")))
            } else {
                Ok(())
            }
        };
        let k = || folds_in_bounds(u64::from(cv.folds.unwrap_or(default_folds)));
        let kfold_only = |p: Protocol| -> Result<Protocol, SpecError> {
            unused("--gap", cv.gap.is_some())?;
            unused("--max-train-size", cv.max_train_size.is_some())?;
            Ok(p)
        };
        match name {
            None | Some(CvName::Stratified) | Some(CvName::Kfold) => {
                unused("--test-size", cv.test_size.is_some())?;
                let repeats = cv.repeats.unwrap_or(1);
                if !(1..=100).contains(&repeats) {
                    return Err(SpecError(format!(
                        "repeats must be between 1 and 100, got {repeats}"
                    )));
                }
                let stratify = name.map(|n| n == CvName::Stratified);
                kfold_only(Protocol::KFold {
                    k: k()?,
                    stratify,
                    repeats: repeats as usize,
                    shuffle: cv.shuffle,
                })
            }
            Some(CvName::Holdout) => {
                unused("--folds", cv.folds.is_some())?;
                unused("--repeats", cv.repeats.is_some())?;
                let (flag, f) = match cv.holdout {
                    Some(h) => ("--holdout", h),
                    None => ("--test-size", cv.test_size.unwrap_or(0.25)),
                };
                kfold_only(Protocol::Holdout { test_fraction: fraction(flag, f)? })
            }
            Some(CvName::Shuffle) => {
                unused("--repeats", cv.repeats.is_some())?;
                let f = fraction("--test-size", cv.test_size.unwrap_or(0.1))?;
                kfold_only(Protocol::Shuffle { k: k()?, test_fraction: f })
            }
            Some(CvName::Group) => {
                unused("--repeats", cv.repeats.is_some())?;
                unused("--test-size", cv.test_size.is_some())?;
                kfold_only(Protocol::Group { k: k()? })
            }
            Some(CvName::TimeSeries) => {
                unused("--repeats", cv.repeats.is_some())?;
                let test_size = match cv.test_size {
                    None => None,
                    Some(t) if t >= 1.0 && t.fract() == 0.0 => Some(t as usize),
                    Some(t) => {
                        return Err(SpecError(format!(
                            "--test-size for --cv time-series is a number of rows (a whole number >= 1), got {t}"
                        )));
                    }
                };
                Ok(Protocol::TimeSeries {
                    k: k()?,
                    gap: cv.gap.unwrap_or(0) as usize,
                    max_train_size: cv.max_train_size.map(|m| m as usize),
                    test_size,
                })
            }
        }
    }

    /// Checks a stored protocol's bounds.
    pub fn check(&self) -> Result<(), SpecError> {
        match *self {
            Protocol::KFold { k, repeats, .. } => {
                folds_in_bounds(k as u64)?;
                if !(1..=100).contains(&repeats) {
                    return Err(SpecError(format!(
                        "repeats must be between 1 and 100, got {repeats}"
                    )));
                }
            }
            Protocol::Holdout { test_fraction } => drop(fraction("holdout", test_fraction)?),
            Protocol::Shuffle { k, test_fraction } => {
                folds_in_bounds(k as u64)?;
                fraction("the test size", test_fraction)?;
            }
            Protocol::Group { k } | Protocol::TimeSeries { k, .. } => {
                folds_in_bounds(k as u64).map(drop)?
            }
        }
        Ok(())
    }
}

impl CvName {
    /// The flag's value.
    pub fn as_str(self) -> &'static str {
        match self {
            CvName::Stratified => "stratified",
            CvName::Kfold => "kfold",
            CvName::TimeSeries => "time-series",
            CvName::Shuffle => "shuffle",
            CvName::Group => "group",
            CvName::Holdout => "holdout",
        }
    }
}
