//! The flags commands share: the splitting flags of `eval`, `tune`,
//! `automl` and `folds` (`--cv` and its company), parsed once into a
//! [`CvRequest`], and the data flags of `eval`, `tune` and `automl`
//! ([`DataArgs`]), declared once.

use super::{IsolationArg, TaskArg};
use crate::domain::{CvName, CvRequest, RunRequest};

/// Which data a run reads and how: the flags `eval`, `tune` and `automl`
/// share.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// `builtin:NAME` (breast_cancer, iris, wine, diabetes) or a CSV path.
    #[arg(long, default_value = crate::domain::DEFAULT_DATASET)]
    pub dataset: String,
    /// The label column (default: the built-in's, or the CSV's last column).
    #[arg(long)]
    pub label: Option<String>,
    /// How rows are split.
    #[command(flatten)]
    pub cv: CvArgs,
    /// Trading metrics.
    #[command(flatten)]
    pub trading: TradingArgs,
    /// Job isolation.
    #[arg(long, value_enum)]
    pub isolation: Option<IsolationArg>,
    /// Force the task instead of inferring it from the labels.
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Positive class for binary metrics (default: the greater label).
    #[arg(long)]
    pub pos_label: Option<String>,
}

impl DataArgs {
    /// A run request with these flags; the command sets the rest.
    pub fn request(&self) -> RunRequest {
        RunRequest {
            dataset: Some(self.dataset.clone()),
            label: self.label.clone(),
            cv: self.cv.request(),
            task: self.task.map(TaskArg::task),
            pos_label: self.pos_label.clone(),
            isolation: self.isolation.map(IsolationArg::isolation),
            returns_col: self.trading.returns_col.clone(),
            periods_per_year: self.trading.periods_per_year,
            ..RunRequest::default()
        }
    }
}

/// How rows are split into training and test rows.
#[derive(Debug, Clone, clap::Args)]
pub struct CvArgs {
    /// The splitter (default: stratified k-fold for classification, k-fold
    /// for regression). Deterministic ones equal scikit-learn's split().
    #[arg(long, value_enum)]
    pub cv: Option<CvArg>,
    /// Folds or splits (2-100).
    #[arg(long)]
    pub folds: Option<u32>,
    /// Hold out this fraction for testing instead of cross-validating.
    #[arg(long)]
    pub holdout: Option<f64>,
    /// Repeated k-fold: this many repetitions, each reshuffled.
    #[arg(long)]
    pub repeats: Option<u32>,
    /// holdout and shuffle: the test fraction; time-series: test rows per split.
    #[arg(long)]
    pub test_size: Option<f64>,
    /// time-series: rows left out between each train window and its test rows.
    #[arg(long)]
    pub gap: Option<u32>,
    /// time-series: the train window's size at most (walk-forward).
    #[arg(long)]
    pub max_train_size: Option<u32>,
    /// Shuffle k-fold rows even without --seed (seed 0).
    #[arg(long)]
    pub shuffle: bool,
    /// group: the column holding each row's group (never a feature).
    #[arg(long, value_name = "COL")]
    pub group_col: Option<String>,
    /// Sort rows by this column before splitting (for time-series splits of
    /// rows not in time order); said on stderr.
    #[arg(long, value_name = "COL")]
    pub time_col: Option<String>,
}

/// `--cv`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CvArg {
    /// StratifiedKFold (classification).
    Stratified,
    /// KFold, unstratified.
    Kfold,
    /// TimeSeriesSplit: train on the past, test on what follows.
    TimeSeries,
    /// ShuffleSplit: random splits (Monte Carlo).
    Shuffle,
    /// GroupKFold over --group-col.
    Group,
    /// One train/test split.
    Holdout,
}

impl CvArgs {
    /// The flags as a request.
    pub fn request(&self) -> CvRequest {
        CvRequest {
            cv: self.cv.map(|c| match c {
                CvArg::Stratified => CvName::Stratified,
                CvArg::Kfold => CvName::Kfold,
                CvArg::TimeSeries => CvName::TimeSeries,
                CvArg::Shuffle => CvName::Shuffle,
                CvArg::Group => CvName::Group,
                CvArg::Holdout => CvName::Holdout,
            }),
            folds: self.folds,
            holdout: self.holdout,
            repeats: self.repeats,
            test_size: self.test_size,
            gap: self.gap,
            max_train_size: self.max_train_size,
            shuffle: self.shuffle,
            group_col: self.group_col.clone(),
            time_col: self.time_col.clone(),
        }
    }
}

/// Trading metrics (`sharpe`, `max_drawdown`, `win_rate`,
/// `profit_factor`) on each fold's held-out rows.
#[derive(Debug, Clone, clap::Args)]
pub struct TradingArgs {
    /// The column of each row's next-period return (never a feature): the
    /// strategy earns sign(prediction) × this return.
    #[arg(long, value_name = "COL")]
    pub returns_col: Option<String>,
    /// Periods in a year, to annualise the Sharpe ratio (default 252: daily).
    #[arg(long, value_name = "N")]
    pub periods_per_year: Option<f64>,
}
