//! Evaluation protocols: which rows train and which test, fold by fold.
//!
//! Without a seed the folds are scikit-learn's own (`StratifiedKFold` /
//! `KFold` with `shuffle=False`), so results compare one to one; with a seed
//! the rows are shuffled by a seeded generator: the same seed gives the same
//! folds on every machine. Owns nothing but index arithmetic.

// The same seeded generator plugins use: one algorithm, the same stream on
// every platform and release.
use mlhost_plugin_api::SeededRng as Rng;
use mlhost_plugin_api::Task;

use crate::domain::Protocol;

/// One fold: row indices into the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Rows to train on, ascending.
    pub train: Vec<u32>,
    /// Rows to test on, ascending.
    pub test: Vec<u32>,
}

/// Why the data cannot be split this way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SplitError(pub String);

/// The folds for `y` (class codes for classification) under `protocol`.
pub fn folds(
    protocol: Protocol,
    task: Task,
    y: &[f64],
    seed: Option<u64>,
) -> Result<Vec<Fold>, SplitError> {
    let n = y.len();
    // Test-fold number of every row.
    let assignment: Vec<usize> = match protocol {
        Protocol::KFold { k } => {
            if k < 2 {
                return Err(SplitError(format!("folds must be at least 2, got {k}")));
            }
            if n < k {
                return Err(SplitError(format!(
                    "{n} rows are fewer than {k} folds; use fewer folds (--folds) or more data"
                )));
            }
            match task {
                Task::Classification => stratified_assignment(y, k, seed)?,
                Task::Regression => kfold_assignment(n, k, seed),
            }
        }
        Protocol::Holdout { test_fraction } => {
            if !(test_fraction > 0.0 && test_fraction < 1.0) {
                return Err(SplitError(format!(
                    "holdout fraction must be between 0 and 1, got {test_fraction}"
                )));
            }
            holdout_assignment(task, y, test_fraction, seed.unwrap_or(0))?
        }
    };
    let k = assignment.iter().max().map_or(0, |m| m + 1);
    let k = match protocol {
        Protocol::Holdout { .. } => 1,
        Protocol::KFold { .. } => k,
    };
    Ok((0..k)
        .map(|f| {
            let (test, train): (Vec<u32>, Vec<u32>) =
                (0..n as u32).partition(|&i| assignment[i as usize] == f);
            Fold { train, test }
        })
        .collect())
}

/// scikit-learn's `StratifiedKFold._make_test_folds`: classes in order of
/// first appearance, sorted codes dealt round-robin into folds, and each
/// class's fold labels given to its rows in order (shuffled with a seed).
fn stratified_assignment(y: &[f64], k: usize, seed: Option<u64>) -> Result<Vec<usize>, SplitError> {
    let mut first_seen: Vec<u64> = Vec::new();
    let encoded: Vec<usize> = y
        .iter()
        .map(|v| {
            let bits = v.to_bits();
            match first_seen.iter().position(|b| *b == bits) {
                Some(i) => i,
                None => {
                    first_seen.push(bits);
                    first_seen.len() - 1
                }
            }
        })
        .collect();
    let n_classes = first_seen.len();
    let mut counts = vec![0usize; n_classes];
    for &c in &encoded {
        counts[c] += 1;
    }
    if counts.iter().all(|&c| c < k) {
        return Err(SplitError(format!(
            "every class has fewer than {k} rows (largest: {}); use fewer folds",
            counts.iter().max().copied().unwrap_or(0)
        )));
    }
    // allocation[f][c] = how many of class c go to fold f.
    let mut y_order = encoded.clone();
    y_order.sort_unstable();
    let mut allocation = vec![vec![0usize; n_classes]; k];
    for (i, &c) in y_order.iter().enumerate() {
        allocation[i % k][c] += 1;
    }
    let mut rng = seed.map(Rng::new);
    let mut assignment = vec![0usize; y.len()];
    for c in 0..n_classes {
        let mut folds_for_class: Vec<usize> = allocation
            .iter()
            .enumerate()
            .flat_map(|(f, per_class)| std::iter::repeat_n(f, per_class[c]))
            .collect();
        if let Some(rng) = rng.as_mut() {
            rng.shuffle(&mut folds_for_class);
        }
        let mut next = folds_for_class.into_iter();
        for (row, &cls) in encoded.iter().enumerate() {
            if cls == c {
                assignment[row] = next.next().expect("allocation covers the class");
            }
        }
    }
    Ok(assignment)
}

/// scikit-learn's `KFold`: consecutive blocks, the first `n % k` one larger.
fn kfold_assignment(n: usize, k: usize, seed: Option<u64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(seed) = seed {
        Rng::new(seed).shuffle(&mut order);
    }
    let mut assignment = vec![0usize; n];
    let mut start = 0;
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        for &row in &order[start..start + size] {
            assignment[row] = f;
        }
        start += size;
    }
    assignment
}

/// Fold 0 = test, 1 = train; stratified for classification.
fn holdout_assignment(
    task: Task,
    y: &[f64],
    fraction: f64,
    seed: u64,
) -> Result<Vec<usize>, SplitError> {
    let mut rng = Rng::new(seed);
    let mut assignment = vec![1usize; y.len()];
    let groups: Vec<Vec<usize>> = match task {
        Task::Regression => vec![(0..y.len()).collect()],
        Task::Classification => {
            let k = y.iter().fold(0usize, |m, v| m.max(*v as usize + 1));
            let mut g = vec![Vec::new(); k];
            for (i, v) in y.iter().enumerate() {
                g[*v as usize].push(i);
            }
            g
        }
    };
    for mut rows in groups {
        rng.shuffle(&mut rows);
        let take = ((rows.len() as f64) * fraction).round() as usize;
        for &r in rows.iter().take(take) {
            assignment[r] = 0;
        }
    }
    let tests = assignment.iter().filter(|&&a| a == 0).count();
    if tests == 0 || tests == y.len() {
        return Err(SplitError(format!(
            "a holdout of {fraction} leaves {tests} of {} rows for testing; change the fraction",
            y.len()
        )));
    }
    Ok(assignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_folds(protocol: Protocol, task: Task, y: &[f64], seed: Option<u64>) -> Vec<Vec<u32>> {
        folds(protocol, task, y, seed).unwrap().into_iter().map(|f| f.test).collect()
    }

    #[test]
    fn stratified_matches_scikit_learn_without_shuffle() {
        // StratifiedKFold(3).split(X, [0,0,0,0,1,1,1,1,1,1]) test folds:
        // [0,1,4,5], [2,6,7], [3,8,9]
        let y = [0., 0., 0., 0., 1., 1., 1., 1., 1., 1.];
        assert_eq!(
            test_folds(Protocol::KFold { k: 3 }, Task::Classification, &y, None),
            [vec![0, 1, 4, 5], vec![2, 6, 7], vec![3, 8, 9]]
        );
    }

    #[test]
    fn kfold_matches_scikit_learn_without_shuffle() {
        let y = [0.5; 7];
        assert_eq!(
            test_folds(Protocol::KFold { k: 3 }, Task::Regression, &y, None),
            [vec![0, 1, 2], vec![3, 4], vec![5, 6]]
        );
    }

    #[test]
    fn seeded_folds_are_repeatable_partitions() {
        let y: Vec<f64> = (0..50).map(|i| f64::from(i % 3)).collect();
        let a = folds(Protocol::KFold { k: 5 }, Task::Classification, &y, Some(7)).unwrap();
        let b = folds(Protocol::KFold { k: 5 }, Task::Classification, &y, Some(7)).unwrap();
        let c = folds(Protocol::KFold { k: 5 }, Task::Classification, &y, Some(8)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut all: Vec<u32> = a.iter().flat_map(|f| f.test.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<u32>>());
        for f in &a {
            assert_eq!(f.train.len() + f.test.len(), 50);
            // Stratified: each class keeps its share in every test fold.
            for c in 0..3 {
                let n = f.test.iter().filter(|&&i| y[i as usize] == f64::from(c)).count();
                assert!((3..=4).contains(&n), "class {c} has {n} rows in a test fold");
            }
        }
    }

    #[test]
    fn holdout_is_stratified() {
        let y: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i < 30))).collect();
        let f = folds(Protocol::Holdout { test_fraction: 0.2 }, Task::Classification, &y, Some(1))
            .unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].test.len(), 20);
        assert_eq!(f[0].test.iter().filter(|&&i| y[i as usize] == 1.0).count(), 6);
    }

    #[test]
    fn bad_protocols_say_what_to_change() {
        let e = folds(Protocol::KFold { k: 5 }, Task::Regression, &[1.0; 3], None).unwrap_err();
        assert_eq!(e.0, "3 rows are fewer than 5 folds; use fewer folds (--folds) or more data");
        let e = folds(Protocol::KFold { k: 3 }, Task::Classification, &[0., 0., 1., 1.], None)
            .unwrap_err();
        assert_eq!(e.0, "every class has fewer than 3 rows (largest: 2); use fewer folds");
    }
}
