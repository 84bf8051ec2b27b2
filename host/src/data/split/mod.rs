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

mod file;
mod keys;
mod ordered;

pub use file::{read_folds, write_folds};
pub use keys::{group_codes, time_order};

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

/// What a splitter may need beyond the labels: each row's group (`--cv
/// group`) and the order to split rows in (`--time-col`: row indices
/// sorted by time).
#[derive(Debug, Clone, Copy, Default)]
pub struct RowKeys<'a> {
    /// Group id per row (file order).
    pub groups: Option<&'a [u32]>,
    /// Rows in the order to split them.
    pub order: Option<&'a [u32]>,
}

/// The folds for `y` (class codes for classification) under `protocol`.
pub fn folds(
    protocol: Protocol,
    task: Task,
    y: &[f64],
    seed: Option<u64>,
) -> Result<Vec<Fold>, SplitError> {
    folds_with(protocol, task, y, seed, RowKeys::default())
}

/// [`folds`] with the rows' groups and order. Splitters work on positions
/// in `keys.order` (file order without it); the folds name file rows,
/// each list ascending.
pub fn folds_with(
    protocol: Protocol,
    task: Task,
    y: &[f64],
    seed: Option<u64>,
    keys: RowKeys<'_>,
) -> Result<Vec<Fold>, SplitError> {
    let n = y.len();
    let at = |p: usize| keys.order.map_or(p, |o| o[p] as usize);
    let y_pos: Vec<f64> = (0..n).map(|p| y[at(p)]).collect();
    let by_position = match protocol {
        Protocol::KFold { k, stratify, repeats, shuffle } => {
            let stratified = stratify.unwrap_or(task == Task::Classification);
            if stratified && task == Task::Regression {
                return Err(SplitError(
                    "--cv stratified needs class labels and these are numbers (regression); use --cv kfold".into(),
                ));
            }
            let mut out = Vec::new();
            for r in 0..repeats {
                // RepeatedKFold: each repetition reshuffled.
                let shuffled = shuffle || seed.is_some() || repeats > 1;
                let s = shuffled.then(|| seed.unwrap_or(0).wrapping_add(r as u64));
                let assignment = kfold_positions(&y_pos, k, stratified, s)?;
                out.extend(partitions(&assignment, k));
            }
            out
        }
        Protocol::Holdout { test_fraction } => {
            if !(test_fraction > 0.0 && test_fraction < 1.0) {
                return Err(SplitError(format!(
                    "holdout fraction must be between 0 and 1, got {test_fraction}"
                )));
            }
            let assignment = holdout_assignment(task, &y_pos, test_fraction, seed.unwrap_or(0))?;
            partitions(&assignment, 1)
        }
        Protocol::Shuffle { k, test_fraction } => {
            ordered::shuffle_split(n, k, test_fraction, seed.unwrap_or(0))?
        }
        Protocol::TimeSeries { k, gap, max_train_size, test_size } => {
            ordered::time_series(n, k, gap, max_train_size, test_size)?
        }
        Protocol::Group { k } => {
            let Some(groups) = keys.groups else {
                return Err(SplitError("--cv group needs --group-col COLUMN".into()));
            };
            let g: Vec<u32> = (0..n).map(|p| groups[at(p)]).collect();
            let assignment = ordered::group_kfold(&g, k)?;
            partitions(&assignment, k)
        }
    };
    Ok(by_position
        .into_iter()
        .map(|(train, test)| {
            let rows = |ps: Vec<u32>| {
                let mut r: Vec<u32> = ps.into_iter().map(|p| at(p as usize) as u32).collect();
                r.sort_unstable();
                r
            };
            Fold { train: rows(train), test: rows(test) }
        })
        .collect())
}

/// k-fold test-fold numbers by position.
fn kfold_positions(
    y: &[f64],
    k: usize,
    stratified: bool,
    seed: Option<u64>,
) -> Result<Vec<usize>, SplitError> {
    if k < 2 {
        return Err(SplitError(format!("folds must be at least 2, got {k}")));
    }
    if y.len() < k {
        return Err(SplitError(format!(
            "{} rows are fewer than {k} folds; use fewer folds (--folds) or more data",
            y.len()
        )));
    }
    if stratified {
        stratified_assignment(y, k, seed)
    } else {
        Ok(kfold_assignment(y.len(), k, seed))
    }
}

/// (train, test) positions of each fold number `0..k` (fold 0 of a
/// holdout is its test set).
fn partitions(assignment: &[usize], k: usize) -> Vec<(Vec<u32>, Vec<u32>)> {
    (0..k)
        .map(|f| {
            let (test, train): (Vec<u32>, Vec<u32>) =
                (0..assignment.len() as u32).partition(|&i| assignment[i as usize] == f);
            (train, test)
        })
        .collect()
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
            test_folds(Protocol::kfold(3), Task::Classification, &y, None),
            [vec![0, 1, 4, 5], vec![2, 6, 7], vec![3, 8, 9]]
        );
    }

    #[test]
    fn kfold_matches_scikit_learn_without_shuffle() {
        let y = [0.5; 7];
        assert_eq!(
            test_folds(Protocol::kfold(3), Task::Regression, &y, None),
            [vec![0, 1, 2], vec![3, 4], vec![5, 6]]
        );
    }

    #[test]
    fn seeded_folds_are_repeatable_partitions() {
        let y: Vec<f64> = (0..50).map(|i| f64::from(i % 3)).collect();
        let a = folds(Protocol::kfold(5), Task::Classification, &y, Some(7)).unwrap();
        let b = folds(Protocol::kfold(5), Task::Classification, &y, Some(7)).unwrap();
        let c = folds(Protocol::kfold(5), Task::Classification, &y, Some(8)).unwrap();
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
        let e = folds(Protocol::kfold(5), Task::Regression, &[1.0; 3], None).unwrap_err();
        assert_eq!(e.0, "3 rows are fewer than 5 folds; use fewer folds (--folds) or more data");
        let e =
            folds(Protocol::kfold(3), Task::Classification, &[0., 0., 1., 1.], None).unwrap_err();
        assert_eq!(e.0, "every class has fewer than 3 rows (largest: 2); use fewer folds");
    }

    /// Every deterministic splitter equals scikit-learn's `split()` index
    /// for index (`tests/fixtures/sklearn/folds.py`).
    #[test]
    fn deterministic_splitters_equal_scikit_learn() {
        let text = include_str!("../../../tests/data/sklearn_folds.json");
        let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
        for case in fixture["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let args = &case["args"];
            let k = args["k"].as_u64().unwrap() as usize;
            let y: Vec<f64> =
                case["y"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let groups: Option<Vec<u32>> = case["groups"]
                .as_array()
                .map(|g| g.iter().map(|v| v.as_u64().unwrap() as u32).collect());
            let opt = |key: &str| args[key].as_u64().map(|v| v as usize);
            let (protocol, task) = match case["splitter"].as_str().unwrap() {
                "KFold" => (
                    Protocol::KFold { k, stratify: Some(false), repeats: 1, shuffle: false },
                    Task::Regression,
                ),
                "StratifiedKFold" => (
                    Protocol::KFold { k, stratify: Some(true), repeats: 1, shuffle: false },
                    Task::Classification,
                ),
                "TimeSeriesSplit" => (
                    Protocol::TimeSeries {
                        k,
                        gap: opt("gap").unwrap_or(0),
                        max_train_size: opt("max_train_size"),
                        test_size: opt("test_size"),
                    },
                    Task::Regression,
                ),
                "GroupKFold" => (Protocol::Group { k }, Task::Regression),
                other => panic!("unknown splitter {other}"),
            };
            let keys = RowKeys { groups: groups.as_deref(), order: None };
            let ours = folds_with(protocol, task, &y, None, keys).unwrap();
            let theirs = case["folds"].as_array().unwrap();
            assert_eq!(ours.len(), theirs.len(), "{name}");
            for (f, (a, b)) in ours.iter().zip(theirs).enumerate() {
                let idx = |v: &serde_json::Value| -> Vec<u32> {
                    v.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect()
                };
                assert_eq!(a.train, idx(&b["train"]), "{name} fold {f} train");
                assert_eq!(a.test, idx(&b["test"]), "{name} fold {f} test");
            }
        }
    }

    #[test]
    fn a_time_order_splits_rows_by_time_and_names_file_rows() {
        // Rows 0..6 whose times are 5,4,3,2,1,0: time order is 5,4,3,2,1,0.
        let order = [5u32, 4, 3, 2, 1, 0];
        let keys = RowKeys { groups: None, order: Some(&order) };
        let p = Protocol::TimeSeries { k: 2, gap: 0, max_train_size: None, test_size: Some(2) };
        let f = folds_with(p, Task::Regression, &[0.0; 6], None, keys).unwrap();
        // Positions [0,1] train, [2,3] test -> rows {5,4} train, {3,2} test.
        assert_eq!((f[0].train.clone(), f[0].test.clone()), (vec![4, 5], vec![2, 3]));
        assert_eq!((f[1].train.clone(), f[1].test.clone()), (vec![2, 3, 4, 5], vec![0, 1]));
    }

    #[test]
    fn repeated_kfold_reshuffles_each_repetition() {
        let y: Vec<f64> = (0..20).map(|i| f64::from(i % 2)).collect();
        let p = Protocol::KFold { k: 5, stratify: None, repeats: 3, shuffle: false };
        let f = folds(p, Task::Classification, &y, Some(1)).unwrap();
        assert_eq!(f.len(), 15);
        assert_ne!(f[0].test, f[5].test, "each repetition is another shuffle");
        for rep in f.chunks(5) {
            let mut all: Vec<u32> = rep.iter().flat_map(|f| f.test.clone()).collect();
            all.sort_unstable();
            assert_eq!(all, (0..20).collect::<Vec<u32>>(), "each repetition is a partition");
        }
        let e = folds(
            Protocol::KFold { k: 2, stratify: Some(true), repeats: 1, shuffle: false },
            Task::Regression,
            &[1.0, 2.0, 3.0],
            None,
        )
        .unwrap_err();
        assert!(e.0.starts_with("--cv stratified needs class labels"), "{e}");
    }
}
