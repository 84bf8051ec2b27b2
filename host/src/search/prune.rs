//! Pruning: stopping a trial early from the per-epoch value it reports
//! (`--prune-on`, default `val_loss`; lower is better), as Optuna's pruners
//! decide it:
//!
//! - `median` (`MedianPruner`): after `startup` completed trials and past
//!   `warmup` steps, a trial whose best value so far is worse than the
//!   median of the completed trials' values at the same step is pruned;
//! - `asha` (`SuccessiveHalvingPruner`, asynchronous successive halving):
//!   rungs at steps `min_resource * reduction^r`; a trial reaching a rung
//!   goes on only if its value there is within the best `1/reduction` of
//!   every trial's value at that rung so far.
//!
//! A pruned trial is stopped through the fit context's `Stop` answer and
//! kept with its epochs.

use std::collections::BTreeMap;

/// Which pruner a study uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pruner {
    /// Every trial runs to its end.
    #[default]
    None,
    /// Optuna's `MedianPruner` (defaults: 5 startup trials, no warmup).
    Median {
        /// Completed trials before any pruning.
        startup: usize,
        /// Steps of a trial before it may be pruned.
        warmup: u32,
    },
    /// Asynchronous successive halving (defaults: min resource 1, factor 3).
    Asha {
        /// The first rung's step.
        min_resource: u32,
        /// Each rung keeps the best 1/reduction.
        reduction: u32,
    },
}

/// What a study knows of one trial's curve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curve {
    /// Value reported at each step (epoch).
    pub values: BTreeMap<u32, f64>,
    /// Whether the trial has finished (completed, not pruned or failed).
    pub complete: bool,
}

impl Pruner {
    /// The pruner `name` with Optuna's defaults: the median after 5
    /// completed trials, no warmup; ASHA from epoch 1, reduction factor 3.
    pub fn named(name: crate::domain::PrunerName) -> Pruner {
        use crate::domain::PrunerName;
        match name {
            PrunerName::None => Pruner::None,
            PrunerName::Median => Pruner::Median { startup: 5, warmup: 0 },
            PrunerName::Asha => Pruner::Asha { min_resource: 1, reduction: 3 },
        }
    }

    /// Whether `trial` (an index into `curves`), having just reported
    /// `step`, should stop. `curves` are every trial of the study.
    pub fn should_prune(&self, curves: &[&Curve], trial: usize, step: u32) -> bool {
        let own = curves[trial];
        match *self {
            Pruner::None => false,
            Pruner::Median { startup, warmup } => {
                let completed: Vec<&Curve> =
                    curves.iter().copied().filter(|c| c.complete).collect();
                if completed.len() < startup || step < warmup {
                    return false;
                }
                let best = own.values.range(..=step).map(|(_, v)| *v).fold(f64::NAN, f64::min);
                let mut at: Vec<f64> =
                    completed.iter().filter_map(|c| c.values.get(&step)).copied().collect();
                let Some(median) = median(&mut at) else { return false };
                best.is_nan() || best > median
            }
            Pruner::Asha { min_resource, reduction } => {
                let Some(value) = own.values.get(&step).copied() else { return false };
                if !is_rung(step, min_resource, reduction) {
                    return false;
                }
                let mut rung: Vec<f64> =
                    curves.iter().filter_map(|c| c.values.get(&step)).copied().collect();
                rung.sort_by(f64::total_cmp);
                // Optuna: the (n / reduction)-th best, at least the best.
                let keep = (rung.len() / reduction as usize).max(1) - 1;
                value.is_nan() || value > rung[keep]
            }
        }
    }
}

/// Steps `min_resource * reduction^r`, r = 0, 1, ...
fn is_rung(step: u32, min_resource: u32, reduction: u32) -> bool {
    let mut rung = min_resource.max(1);
    while rung < step {
        rung = rung.saturating_mul(reduction.max(2));
    }
    rung == step
}

/// numpy's median, NaN ignored; `None` when nothing is left.
fn median(values: &mut Vec<f64>) -> Option<f64> {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(values: &[f64], complete: bool) -> Curve {
        let values = values.iter().enumerate().map(|(i, v)| (i as u32 + 1, *v)).collect();
        Curve { values, complete }
    }

    fn judge(pruner: Pruner, curves: &[Curve], trial: usize, step: u32) -> bool {
        let refs: Vec<&Curve> = curves.iter().collect();
        pruner.should_prune(&refs, trial, step)
    }

    #[test]
    fn median_prunes_a_trial_worse_than_the_median_after_startup() {
        let pruner = Pruner::Median { startup: 3, warmup: 1 };
        let mut curves = vec![
            curve(&[1.0, 0.8, 0.6], true),
            curve(&[1.0, 0.7, 0.5], true),
            curve(&[1.2, 0.9, 0.7], true),
            curve(&[1.5, 1.4], false),
        ];
        assert!(!judge(pruner, &curves, 3, 0), "within warmup");
        assert!(judge(pruner, &curves, 3, 2), "1.4 is worse than the median 0.8 at step 2");
        curves[3] = curve(&[0.9, 0.75], false);
        assert!(!judge(pruner, &curves, 3, 2), "0.75 beats the median 0.8");
        curves[2].complete = false;
        curves[3] = curve(&[1.5, 1.4], false);
        assert!(!judge(pruner, &curves, 3, 2), "two completed trials: still starting up");
    }

    #[test]
    fn asha_keeps_the_best_third_at_each_rung() {
        let pruner = Pruner::Asha { min_resource: 1, reduction: 3 };
        assert!([1, 3, 9, 27].iter().all(|&s| is_rung(s, 1, 3)));
        assert!(![2, 4, 10].iter().any(|&s| is_rung(s, 1, 3)));
        let curves: Vec<Curve> =
            [0.5, 0.9, 0.7, 0.6, 0.8, 0.4].iter().map(|v| curve(&[*v], false)).collect();
        // Six trials at rung 1: the best 6 / 3 = 2 go on (0.4, 0.5).
        let kept: Vec<usize> = (0..6).filter(|&t| !judge(pruner, &curves, t, 1)).collect();
        assert_eq!(kept, [0, 5]);
        // Not a rung: nobody is judged at step 2.
        let longer: Vec<Curve> =
            curves.iter().map(|c| curve(&[c.values[&1], 9.0], false)).collect();
        assert!((0..6).all(|t| !judge(pruner, &longer, t, 2)));
        // Alone at a rung, a trial goes on.
        assert!(!judge(pruner, &curves[..1], 0, 1));
    }

    #[test]
    fn named_pruners_have_optunas_defaults() {
        use crate::domain::PrunerName;
        assert_eq!(Pruner::named(PrunerName::Asha), Pruner::Asha { min_resource: 1, reduction: 3 });
        assert_eq!(Pruner::named(PrunerName::Median), Pruner::Median { startup: 5, warmup: 0 });
        assert_eq!(Pruner::named(PrunerName::None), Pruner::None);
    }
}
