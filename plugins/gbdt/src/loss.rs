//! The losses boosting descends, as scikit-learn's `_loss` module defines
//! them: half squared error (regression), binary log loss (one tree per
//! iteration) and multinomial log loss (one tree per class per
//! iteration). Each gives the baseline prediction, the per-row gradients
//! and hessians (as `f32`, like scikit-learn's), and the mean loss.
//!
//! Raw predictions are class-major: `raw[c * n + i]` is row `i`'s score
//! for class `c`, so a class's gradients are one contiguous slice.

use serde::{Deserialize, Serialize};

/// Which loss, and so how many trees per iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Loss {
    /// ½ (y − raw)²; hessians are all 1.
    SquaredError,
    /// log(1 + e^raw) − y·raw with y in {0, 1}.
    Binary,
    /// log Σ e^raw_c − raw_y over `k` classes.
    Multinomial(usize),
}

impl Loss {
    /// The loss for a task: squared error for regression (`classes` 0),
    /// binary for two classes or fewer, multinomial beyond.
    pub(crate) fn for_classes(classes: usize) -> Loss {
        match classes {
            0 => Loss::SquaredError,
            1 | 2 => Loss::Binary,
            k => Loss::Multinomial(k),
        }
    }

    /// Trees (raw scores) per iteration.
    pub(crate) fn trees_per_iteration(self) -> usize {
        match self {
            Loss::Multinomial(k) => k,
            _ => 1,
        }
    }

    /// Hessians do not depend on the predictions (all 1).
    pub(crate) fn constant_hessian(self) -> bool {
        self == Loss::SquaredError
    }

    /// The best constant raw score(s): the mean, the log-odds of the
    /// positive share, or the log of each class's share (shares clipped to
    /// [ε, 1 − ε] as scikit-learn does).
    pub(crate) fn baseline(self, y: &[f64]) -> Vec<f64> {
        let n = y.len().max(1) as f64;
        let share = |c: f64| {
            let p = y.iter().filter(|v| **v == c).count() as f64 / n;
            p.clamp(f64::EPSILON, 1.0 - f64::EPSILON)
        };
        match self {
            Loss::SquaredError => vec![y.iter().sum::<f64>() / n],
            Loss::Binary => {
                let p = share(1.0);
                vec![(p / (1.0 - p)).ln()]
            }
            Loss::Multinomial(k) => (0..k).map(|c| share(c as f64).ln()).collect(),
        }
    }

    /// Writes the gradients and hessians of every row at `raw` (same
    /// layout) and returns the mean loss there.
    pub(crate) fn gradients(
        self,
        raw: &[f64],
        y: &[f64],
        grad: &mut [f32],
        hess: &mut [f32],
    ) -> f64 {
        let n = y.len();
        let mut total = 0.0;
        match self {
            Loss::SquaredError => {
                for ((g, r), t) in grad.iter_mut().zip(raw).zip(y) {
                    *g = (r - t) as f32;
                    total += 0.5 * (r - t) * (r - t);
                }
                hess.fill(1.0);
            }
            Loss::Binary => {
                for (((g, h), r), t) in grad.iter_mut().zip(hess.iter_mut()).zip(raw).zip(y) {
                    let p = sigmoid(*r);
                    *g = (p - t) as f32;
                    *h = (p * (1.0 - p)) as f32;
                    total += log1p_exp(*r) - t * r;
                }
            }
            Loss::Multinomial(k) => {
                let mut p = vec![0.0; k];
                for i in 0..n {
                    (0..k).for_each(|c| p[c] = raw[c * n + i]);
                    let lse = softmax_in_place(&mut p);
                    let label = y[i] as usize;
                    total += lse - raw[label * n + i];
                    for (c, pc) in p.iter().enumerate() {
                        let target = if c == label { 1.0 } else { 0.0 };
                        grad[c * n + i] = (pc - target) as f32;
                        hess[c * n + i] = (pc * (1.0 - pc)) as f32;
                    }
                }
            }
        }
        total / n.max(1) as f64
    }

    /// The mean loss at `raw` (validation rows).
    pub(crate) fn mean(self, raw: &[f64], y: &[f64]) -> f64 {
        let n = y.len();
        let total: f64 = match self {
            Loss::SquaredError => raw.iter().zip(y).map(|(r, t)| 0.5 * (r - t) * (r - t)).sum(),
            Loss::Binary => raw.iter().zip(y).map(|(r, t)| log1p_exp(*r) - t * r).sum(),
            Loss::Multinomial(k) => {
                let mut p = vec![0.0; k];
                (0..n)
                    .map(|i| {
                        (0..k).for_each(|c| p[c] = raw[c * n + i]);
                        softmax_in_place(&mut p) - raw[y[i] as usize * n + i]
                    })
                    .sum()
            }
        };
        total / n.max(1) as f64
    }
}

/// 1 / (1 + e^−x).
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^x) without overflow.
fn log1p_exp(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// Turns scores into probabilities in place; returns log Σ e^score.
pub(crate) fn softmax_in_place(scores: &mut [f64]) -> f64 {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    scores.iter_mut().for_each(|s| *s /= sum);
    max + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_are_the_best_constants() {
        let y = [0.0, 1.0, 1.0, 1.0];
        assert!((Loss::Binary.baseline(&y)[0] - 3f64.ln()).abs() < 1e-12);
        assert_eq!(Loss::SquaredError.baseline(&y), [0.75]);
        let m = Loss::Multinomial(3).baseline(&[0.0, 1.0, 1.0, 2.0]);
        assert!((m[1] - 0.5f64.ln()).abs() < 1e-12 && (m[0] - 0.25f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn gradients_are_the_losses_derivatives() {
        let (raw, y) = ([0.3, -1.2, 2.0, 0.1, 0.0, -0.4], [0.0, 1.0]);
        let (mut g, mut h) = ([0.0f32; 6], [0.0f32; 6]);
        let loss = Loss::Multinomial(3).gradients(&raw, &y, &mut g, &mut h);
        assert!((loss - Loss::Multinomial(3).mean(&raw, &y)).abs() < 1e-12);
        // Row 0's scores are (0.3, 2.0, 0.0); d loss / d raw_c = p_c − [c = y].
        let e = [0.3f64.exp(), 2f64.exp(), 1.0];
        let p0 = e[0] / e.iter().sum::<f64>();
        assert!((f64::from(g[0]) - (p0 - 1.0)).abs() < 1e-6, "{g:?}");
        let loss = Loss::Binary.gradients(&raw[..2], &y, &mut g[..2], &mut h[..2]);
        let want = ((1.0 + 0.3f64.exp()).ln() + (1.0 + 1.2f64.exp()).ln()) / 2.0;
        assert!(
            (loss - want).abs() < 1e-12 && (f64::from(g[1]) - (sigmoid(-1.2) - 1.0)).abs() < 1e-6
        );
    }
}
