//! Trading metrics (`--returns-col`): how a strategy that follows the
//! model's predictions would have done on the held-out rows.
//!
//! Each row's position is the sign of its prediction (−1 short, 0 flat,
//! +1 long; the predicted value for regression, the predicted label's
//! number for classification), and the strategy's return in that period is
//! position × the row's return: the returns column holds the return that
//! follows the row (the next period's), so a feature row never sees it.
//! Rows are taken in the fold's order (time order for `--cv time-series`).
//!
//! As everywhere in [`super`], one metric is one registry entry and an
//! undefined one is `None` with a warning.

use super::Scores;

/// A strategy's per-period returns and how to annualise them.
#[derive(Debug, Clone, Copy)]
pub struct TradingInput<'a> {
    /// Position of each period (−1, 0, 1).
    pub positions: &'a [f64],
    /// Position × the period's return.
    pub returns: &'a [f64],
    /// Periods in a year (252 trading days, 52 weeks, 12 months...).
    pub periods_per_year: f64,
}

type TradingFn = fn(&TradingInput<'_>) -> Result<f64, String>;

/// A trading metric.
#[derive(Debug)]
pub struct TradingMetric {
    /// Its name.
    pub name: &'static str,
    compute: TradingFn,
}

/// The trading metrics, in report order.
pub const TRADING: &[TradingMetric] = &[
    TradingMetric { name: "sharpe", compute: sharpe },
    TradingMetric { name: "max_drawdown", compute: max_drawdown },
    TradingMetric { name: "win_rate", compute: win_rate },
    TradingMetric { name: "profit_factor", compute: profit_factor },
];

/// The positions of `predictions` and the strategy's returns on `returns`
/// (`returns[i]` follows prediction `i`).
pub fn strategy(predictions: &[f64], returns: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let positions: Vec<f64> = predictions.iter().map(|&p| position(p)).collect();
    let r = positions.iter().zip(returns).map(|(p, r)| p * r).collect();
    (positions, r)
}

fn position(prediction: f64) -> f64 {
    if prediction > 0.0 {
        1.0
    } else if prediction < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Scores a strategy with every trading metric.
pub fn trading(input: TradingInput<'_>) -> Result<Scores, String> {
    if input.positions.len() != input.returns.len() {
        return Err(format!(
            "{} positions but {} returns",
            input.positions.len(),
            input.returns.len()
        ));
    }
    if let Some(i) = input.returns.iter().position(|r| !r.is_finite()) {
        return Err(format!("return {} of the fold is not a finite number", i));
    }
    if !(input.periods_per_year > 0.0 && input.periods_per_year.is_finite()) {
        return Err(format!("periods per year must be > 0, got {}", input.periods_per_year));
    }
    let mut scores = Scores::default();
    for m in TRADING {
        scores.record(m.name, (m.compute)(&input));
    }
    Ok(scores)
}

/// Annualised Sharpe ratio (risk-free rate 0): mean / standard deviation
/// (ddof = 1) of the strategy's returns × √periods_per_year.
fn sharpe(t: &TradingInput<'_>) -> Result<f64, String> {
    let r = t.returns;
    if r.len() < 2 {
        return Err("it needs at least 2 periods".into());
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    if var == 0.0 {
        return Err("the strategy's returns do not vary".into());
    }
    Ok(mean / var.sqrt() * t.periods_per_year.sqrt())
}

/// The largest fall of the compounded equity curve (starting at 1) from its
/// running peak, as a fraction of the peak: 0.25 = a 25 % drawdown.
fn max_drawdown(t: &TradingInput<'_>) -> Result<f64, String> {
    let (mut equity, mut peak, mut worst) = (1.0_f64, 1.0_f64, 0.0_f64);
    for r in t.returns {
        equity *= 1.0 + r;
        peak = peak.max(equity);
        worst = worst.max((peak - equity) / peak);
    }
    Ok(worst)
}

/// The share of periods with a position whose return was positive.
fn win_rate(t: &TradingInput<'_>) -> Result<f64, String> {
    let held: Vec<f64> =
        t.positions.iter().zip(t.returns).filter(|(p, _)| **p != 0.0).map(|(_, r)| *r).collect();
    if held.is_empty() {
        return Err("the strategy never held a position".into());
    }
    Ok(held.iter().filter(|r| **r > 0.0).count() as f64 / held.len() as f64)
}

/// Gross profit / gross loss.
fn profit_factor(t: &TradingInput<'_>) -> Result<f64, String> {
    let gain: f64 = t.returns.iter().filter(|r| **r > 0.0).sum();
    let loss: f64 = -t.returns.iter().filter(|r| **r < 0.0).sum::<f64>();
    if loss == 0.0 {
        return Err("the strategy had no losing period".into());
    }
    Ok(gain / loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/fixtures/numpy/trading.py` computes these from the
    /// definitions above with NumPy.
    #[test]
    fn equals_the_numpy_fixture() {
        let text = include_str!("../../tests/data/numpy_trading.json");
        let cases: serde_json::Value = serde_json::from_str(text).unwrap();
        for case in cases.as_array().unwrap() {
            let f = |k: &str| -> Vec<f64> {
                case[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
            };
            let (pred, ret) = (f("predictions"), f("returns"));
            let (positions, strat) = strategy(&pred, &ret);
            let ppy = case["periods_per_year"].as_f64().unwrap();
            let scores = trading(TradingInput {
                positions: &positions,
                returns: &strat,
                periods_per_year: ppy,
            })
            .unwrap();
            for m in TRADING {
                let want = case["expected"][m.name].as_f64();
                let got = scores.get(m.name);
                match (want, got) {
                    (Some(w), Some(g)) => {
                        assert!((w - g).abs() <= 1e-12 * w.abs().max(1.0), "{}: {g} vs {w}", m.name)
                    }
                    (None, None) => {}
                    _ => panic!("{} of case {}: {got:?} vs {want:?}", m.name, case["name"]),
                }
            }
        }
    }

    #[test]
    fn undefined_metrics_say_why() {
        let s = trading(TradingInput {
            positions: &[0.0, 0.0],
            returns: &[0.0, 0.0],
            periods_per_year: 252.0,
        })
        .unwrap();
        assert_eq!(s.get("sharpe"), None);
        assert_eq!(s.get("max_drawdown"), Some(0.0));
        assert!(s.warnings.iter().any(|w| w.contains("never held a position")), "{:?}", s.warnings);
        assert!(
            trading(TradingInput {
                positions: &[1.0],
                returns: &[f64::NAN],
                periods_per_year: 1.0
            })
            .is_err()
        );
    }
}
