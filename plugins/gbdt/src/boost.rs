//! The boosting loop, shared by both tasks: hold out validation rows when
//! early stopping is on, bin the training rows, start from the baseline,
//! then per iteration grow one tree per raw score on the loss's gradients,
//! report the losses, and stop on `max_iter`, on no improvement of the
//! validation loss (scikit-learn's rule), on the host's `Stop` answer
//! (keeping the trees so far) or on its stop request (an error).

use mlhost_cart::Binned;
use mlhost_plugin_api::{Control, Error, FitContext, Matrix, Result, SeededRng};
use serde::{Deserialize, Serialize};

use crate::grower::{Grower, Limits};
use crate::loss::Loss;
use crate::split::Rules;
use crate::tree::Tree;

/// Everything the loop needs from the parameters, resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) max_iter: usize,
    pub(crate) limits: Limits,
    pub(crate) min_samples_leaf: usize,
    pub(crate) l2: f64,
    pub(crate) max_bins: usize,
    /// Hold out rows and stop on their loss.
    pub(crate) early_stopping: bool,
    pub(crate) validation_fraction: f64,
    pub(crate) n_iter_no_change: usize,
    pub(crate) tol: f64,
}

/// A fitted ensemble: baseline raw scores plus the trees' leaf values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ensemble {
    n_features: usize,
    pub(crate) loss: Loss,
    baseline: Vec<f64>,
    /// Iteration-major: tree `t` adds to raw score `t % trees_per_iteration`.
    trees: Vec<Tree>,
    /// Each feature's total loss reduction over all splits.
    importance: Vec<f64>,
}

impl Ensemble {
    /// The raw scores of every row of `x`, row-major (`rows × k`).
    pub(crate) fn raw(&self, x: Matrix<'_>) -> Result<Vec<f64>> {
        x.expect_cols(self.n_features)?;
        let k = self.loss.trees_per_iteration();
        let mut out: Vec<f64> = (0..x.rows()).flat_map(|_| self.baseline.iter().copied()).collect();
        // Tree by tree, so one tree's nodes stay in cache for every row.
        for (t, tree) in self.trees.iter().enumerate() {
            let c = t % k;
            for (r, row) in x.iter_rows().enumerate() {
                out[r * k + c] += tree.value(row);
            }
        }
        Ok(out)
    }

    /// Total split gain per feature, normalised to sum to 1 (zeros when no
    /// tree split).
    pub(crate) fn importances(&self) -> Vec<f64> {
        let sum: f64 = self.importance.iter().sum();
        self.importance.iter().map(|v| if sum > 0.0 { v / sum } else { 0.0 }).collect()
    }

    /// Boosting iterations kept.
    pub(crate) fn iterations(&self) -> usize {
        self.trees.len() / self.loss.trees_per_iteration()
    }

    /// The trees (tests).
    #[cfg(test)]
    pub(crate) fn trees(&self) -> &[Tree] {
        &self.trees
    }
}

/// Boosts `loss` on `x` and `y` (labels as `0.0, 1.0, …` or targets).
pub(crate) fn fit(
    s: &Settings,
    x: Matrix<'_>,
    y: &[f64],
    loss: Loss,
    ctx: &mut FitContext<'_>,
) -> Result<Ensemble> {
    check(x, y)?;
    let (train, val) = if s.early_stopping {
        hold_out(y, loss != Loss::SquaredError, s.validation_fraction, ctx.seed())
    } else {
        ((0..x.rows() as u32).collect(), Vec::new())
    };
    if train.is_empty() {
        return Err(Error::invalid_input("no training rows left after the validation split"));
    }
    let data = Binned::quantiles(x, &train, s.max_bins);
    let y_train: Vec<f64> = train.iter().map(|&i| y[i as usize]).collect();
    let y_val: Vec<f64> = val.iter().map(|&i| y[i as usize]).collect();
    let x_val: Vec<f64> = val.iter().flat_map(|&i| x.row(i as usize).iter().copied()).collect();
    let (k, nt, nv) = (loss.trees_per_iteration(), train.len(), val.len());
    let baseline = loss.baseline(&y_train);
    let mut raw: Vec<f64> = baseline.iter().flat_map(|b| std::iter::repeat_n(*b, nt)).collect();
    let mut raw_val: Vec<f64> = baseline.iter().flat_map(|b| std::iter::repeat_n(*b, nv)).collect();
    let (mut grad, mut hess) = (vec![0f32; k * nt], vec![0f32; k * nt]);
    loss.gradients(&raw, &y_train, &mut grad, &mut hess);
    let mut scores = vec![-loss.mean(&raw_val, &y_val)];
    let rules = Rules {
        min_samples_leaf: s.min_samples_leaf,
        l2: s.l2,
        constant_hessian: loss.constant_hessian(),
    };
    let mut grower = Grower::new(&data, rules, s.limits);
    let mut trees = Vec::with_capacity(s.max_iter * k);
    for iteration in 1..=s.max_iter {
        if ctx.should_stop() {
            return Err(Error::stopped());
        }
        for c in 0..k {
            let (g, h) = (&grad[c * nt..(c + 1) * nt], &hess[c * nt..(c + 1) * nt]);
            let tree = grower.grow(g, h, &mut raw[c * nt..(c + 1) * nt]);
            for (v, row) in
                raw_val[c * nv..(c + 1) * nv].iter_mut().zip(x_val.chunks_exact(x.cols()))
            {
                *v += tree.value(row);
            }
            trees.push(tree);
        }
        let train_loss = loss.gradients(&raw, &y_train, &mut grad, &mut hess);
        let mut metrics = vec![("train_loss", train_loss)];
        if s.early_stopping {
            let val_loss = loss.mean(&raw_val, &y_val);
            metrics.push(("val_loss", val_loss));
            scores.push(-val_loss);
        }
        let control = ctx.report(u32::try_from(iteration).unwrap_or(u32::MAX), &metrics);
        let stalled = s.early_stopping && no_improvement(&scores, s.n_iter_no_change, s.tol);
        if control == Control::Stop || stalled {
            break;
        }
    }
    let importance = grower.importance;
    Ok(Ensemble { n_features: x.cols(), loss, baseline, trees, importance })
}

/// Refuses what boosting cannot learn from.
fn check(x: Matrix<'_>, y: &[f64]) -> Result<()> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(Error::invalid_input(format!(
            "gbdt needs at least one row and one feature, got {}x{}",
            x.rows(),
            x.cols()
        )));
    }
    if y.len() != x.rows() {
        return Err(Error::invalid_input(format!("{} targets for {} rows", y.len(), x.rows())));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid_input(format!("target of row {i} is {}", y[i])));
    }
    Ok(())
}

/// scikit-learn's rule: stop when none of the last `n` scores beats the
/// one before them by more than `tol`.
fn no_improvement(scores: &[f64], n: usize, tol: f64) -> bool {
    if scores.len() < n + 1 {
        return false;
    }
    let reference = scores[scores.len() - n - 1] + tol;
    !scores[scores.len() - n..].iter().any(|s| *s > reference)
}

/// Training and validation rows (each ascending): `fraction` of the rows,
/// at least one, drawn with the seed; per class when `stratify` (as
/// scikit-learn's `train_test_split(stratify=y)`, not the same rows).
fn hold_out(y: &[f64], stratify: bool, fraction: f64, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut rng = SeededRng::new(seed ^ 0x6762_6474_5F76_616C);
    let mut groups: Vec<Vec<u32>> = Vec::new();
    if stratify {
        for (i, v) in y.iter().enumerate() {
            let c = *v as usize;
            if groups.len() <= c {
                groups.resize(c + 1, Vec::new());
            }
            groups[c].push(i as u32);
        }
    } else {
        groups.push((0..y.len() as u32).collect());
    }
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for mut g in groups {
        rng.shuffle(&mut g);
        let take = ((g.len() as f64 * fraction).round() as usize).min(g.len().saturating_sub(1));
        val.extend_from_slice(&g[..take]);
        train.extend_from_slice(&g[take..]);
    }
    if val.is_empty() && train.len() > 1 {
        val.push(train.swap_remove(rng.below(train.len())));
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_when_the_last_scores_do_not_beat_the_reference() {
        assert!(!no_improvement(&[-3.0, -2.0, -1.0], 2, 1e-7));
        assert!(no_improvement(&[-1.0, -2.0, -1.5], 2, 1e-7));
        assert!(no_improvement(&[-1.0, -1.0 + 1e-9, -1.0], 2, 1e-7));
        assert!(!no_improvement(&[-1.0, -1.0], 2, 1e-7));
    }

    #[test]
    fn hold_out_is_stratified_and_disjoint() {
        let y: Vec<f64> = (0..200).map(|i| f64::from(u8::from(i % 4 == 0))).collect();
        let (train, val) = hold_out(&y, true, 0.1, 3);
        assert_eq!((train.len(), val.len()), (180, 20));
        assert_eq!(val.iter().filter(|&&i| y[i as usize] == 1.0).count(), 5);
        assert!(val.iter().all(|i| train.binary_search(i).is_err()));
    }
}
