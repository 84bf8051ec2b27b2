//! Successive halving across candidates, as pure arithmetic: how many
//! candidates each rung has, how many trials each of their studies gets,
//! how the time budget is shared, and who goes on.
//!
//! Rung 0 gives every candidate a study of `trials` trials; each later rung
//! keeps the better half (rounded up, so an odd middle candidate gets the
//! benefit of the doubt) and doubles the trials, until one is left. Every
//! rung gets an equal part of the budget, shared equally among its studies
//! (Hyperband's bracket: fewer candidates, more trials each, about the same
//! cost per rung).

use std::time::Duration;

use crate::domain::Direction;

/// One rung as planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// From 0.
    pub rung: usize,
    /// Candidates that run a study in it.
    pub models: usize,
    /// Trials of each study.
    pub trials: usize,
    /// Each study's share of the budget, whole seconds (at least 1).
    pub secs: u64,
}

/// The rungs for `n` candidates, a budget of `budget_secs` and `trials`
/// trials per study at rung 0: `n`, ⌈n/2⌉, … down to 2 (then one is left);
/// a single candidate gets one rung.
pub(super) fn schedule(n: usize, budget_secs: u64, trials: usize) -> Vec<Rung> {
    let mut counts = vec![n];
    let mut c = n;
    while c > 2 {
        c = c.div_ceil(2);
        counts.push(c);
    }
    let per_rung = budget_secs / counts.len() as u64;
    counts
        .iter()
        .enumerate()
        .map(|(rung, &models)| Rung {
            rung,
            models,
            trials: trials.saturating_mul(1usize.checked_shl(rung as u32).unwrap_or(usize::MAX)),
            secs: (per_rung / models.max(1) as u64).max(1),
        })
        .collect()
}

/// The `--timeout-secs` of the next study: the time `remaining` shared as
/// the plan shares it (equal rungs, equal studies within a rung), counting
/// `left` studies of the current rung (this one included), `models` in the
/// rung and `later` rungs after it. Time a study left unused goes to the
/// ones after it. `None` when less than a second is left: the budget is
/// spent.
pub(super) fn share(remaining: Duration, left: usize, models: usize, later: usize) -> Option<u64> {
    if remaining < Duration::from_secs(1) {
        return None;
    }
    let parts = (left + later * models).max(1) as u64;
    Some((remaining.as_secs() / parts).max(1))
}

/// Indices of `values` best first: a value before none, better values (in
/// `direction`) first, ties by name.
pub(super) fn rank(values: &[(String, Option<f64>)], direction: Direction) -> Vec<usize> {
    let key = |v: Option<f64>| match (v, direction) {
        (None, _) => f64::INFINITY,
        (Some(v), Direction::Maximize) => -v,
        (Some(v), Direction::Minimize) => v,
    };
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        key(values[a].1).total_cmp(&key(values[b].1)).then_with(|| values[a].0.cmp(&values[b].0))
    });
    order
}

/// Who goes on from a rung of `values`: the better half by [`rank`],
/// rounded up, never one without a value.
pub(super) fn keep(values: &[(String, Option<f64>)], direction: Direction) -> Vec<String> {
    let half = values.len().div_ceil(2);
    rank(values, direction)
        .into_iter()
        .filter(|&i| values[i].1.is_some())
        .take(half)
        .map(|i| values[i].0.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(n: usize) -> Vec<usize> {
        schedule(n, 120, 5).iter().map(|r| r.models).collect()
    }

    #[test]
    fn rungs_halve_rounding_up_until_one_is_left() {
        assert_eq!(counts(1), [1]);
        assert_eq!(counts(2), [2]);
        assert_eq!(counts(3), [3, 2]);
        assert_eq!(counts(4), [4, 2]);
        assert_eq!(counts(5), [5, 3, 2]);
        assert_eq!(counts(7), [7, 4, 2]);
        assert_eq!(counts(9), [9, 5, 3, 2]);
    }

    #[test]
    fn trials_double_and_every_rung_gets_an_equal_part_of_the_budget() {
        let plan = schedule(7, 120, 5);
        let trials: Vec<usize> = plan.iter().map(|r| r.trials).collect();
        assert_eq!(trials, [5, 10, 20]);
        // 40 s a rung: 7, 4 and 2 studies.
        let secs: Vec<u64> = plan.iter().map(|r| r.secs).collect();
        assert_eq!(secs, [5, 10, 20]);
        // A tiny budget still gives every study a second.
        assert!(schedule(7, 2, 1).iter().all(|r| r.secs == 1));
        assert_eq!(schedule(1, 120, 3), [Rung { rung: 0, models: 1, trials: 3, secs: 120 }]);
    }

    #[test]
    fn time_left_over_goes_to_the_studies_after() {
        let s =
            |secs: u64, left, models, later| share(Duration::from_secs(secs), left, models, later);
        // As planned: 120 s for 3 then 2 studies, 20 s each in rung 0.
        assert_eq!(s(120, 3, 3, 1), Some(20));
        // The first study took 5 s: the 115 s left are shared by the rest.
        assert_eq!(s(115, 2, 3, 1), Some(23));
        // The last rung takes all that is left.
        assert_eq!(s(90, 2, 2, 0), Some(45));
        assert_eq!(share(Duration::from_millis(999), 1, 1, 0), None);
        assert_eq!(s(1, 5, 5, 2), Some(1));
    }

    #[test]
    fn the_better_half_goes_on_and_a_candidate_without_a_value_never_does() {
        let v = |pairs: &[(&str, Option<f64>)]| -> Vec<(String, Option<f64>)> {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect()
        };
        let field = v(&[("a", Some(0.9)), ("b", None), ("c", Some(0.95)), ("d", Some(0.9))]);
        assert_eq!(rank(&field, Direction::Maximize), [2, 0, 3, 1]);
        assert_eq!(keep(&field, Direction::Maximize), ["c", "a"]);
        assert_eq!(keep(&field, Direction::Minimize), ["a", "d"]);
        let odd = v(&[("a", Some(3.0)), ("b", Some(1.0)), ("c", Some(2.0))]);
        assert_eq!(keep(&odd, Direction::Minimize), ["b", "c"]);
        let none = v(&[("a", None), ("b", None), ("c", Some(1.0))]);
        assert_eq!(keep(&none, Direction::Maximize), ["c"]);
    }
}
