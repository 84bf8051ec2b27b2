//! Trading metrics of a run with `--returns-col`: scored on the host from
//! each fold's held-out predictions (so thread and process workers need
//! nothing extra), and added to the fold's metrics like any other metric.

use std::sync::Arc;

use super::job::FoldScores;
use crate::data::dataset::Dataset;
use crate::data::target::Target;
use crate::domain::Returns;
use crate::metrics::trading::{self, TradingInput};

/// A run's returns and how its predictions become positions.
#[derive(Debug)]
pub(crate) struct Trader {
    /// Each file row's next-period return.
    returns: Vec<f64>,
    periods_per_year: f64,
    /// Classification: the number each class code stands for.
    class_values: Option<Vec<f64>>,
}

/// The returns column's cells as numbers, naming the first bad one.
pub(crate) fn parse_returns(col: &str, cells: &[String]) -> Result<Vec<f64>, String> {
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                format!(
                    "--returns-col '{col}', row {}: '{c}' is not a number (each row needs the return of the period that follows it)",
                    i + 1
                )
            })
        })
        .collect()
}

impl Trader {
    /// The trader of `data`, or why its predictions cannot be positions.
    pub(crate) fn new(
        data: &Dataset,
        returns: Vec<f64>,
        spec: &Returns,
    ) -> Result<Arc<Self>, String> {
        let class_values = match &data.target {
            Target::Values(_) => None,
            Target::Classes { labels, .. } => Some(
                labels
                    .iter()
                    .map(|l| l.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                        format!(
                            "--returns-col takes the sign of each prediction as the position, but the label '{l}' is not a number; label the classes -1/0/1 (short/flat/long) or 0/1"
                        )
                    }))
                    .collect::<Result<Vec<f64>, String>>()?,
            ),
        };
        Ok(Arc::new(Trader { returns, periods_per_year: spec.periods_per_year, class_values }))
    }

    /// Adds the trading metrics to every fold of `scores`.
    pub(crate) fn score(&self, scores: &mut FoldScores) {
        for fold in scores {
            let p = &fold.predictions;
            let value = |v: f64| match &self.class_values {
                Some(values) => values[v as usize],
                None => v,
            };
            let pred: Vec<f64> = p.y_pred.iter().map(|&v| value(v)).collect();
            let rets: Vec<f64> = p.rows.iter().map(|&r| self.returns[r as usize]).collect();
            let (positions, strategy) = trading::strategy(&pred, &rets);
            let input = TradingInput {
                positions: &positions,
                returns: &strategy,
                periods_per_year: self.periods_per_year,
            };
            match trading::trading(input) {
                Ok(s) => {
                    for w in &s.warnings {
                        tracing::debug!(fold = p.fold, "{w}");
                    }
                    for (name, v) in s.values {
                        fold.metrics.insert(name, v);
                    }
                }
                Err(e) => tracing::warn!(fold = p.fold, "trading metrics not scored: {e}"),
            }
        }
    }
}
