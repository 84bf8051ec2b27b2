//! The splitters beyond k-fold: scikit-learn's `TimeSeriesSplit` and
//! `GroupKFold` (deterministic, equal to scikit-learn's `split()` index for
//! index) and `ShuffleSplit` (seeded with mlhost's generator, so the same
//! seed gives the same splits everywhere, not numpy's).

use mlhost_plugin_api::SeededRng as Rng;

use super::SplitError;

/// (train, test) positions.
type Split = (Vec<u32>, Vec<u32>);

/// `TimeSeriesSplit(n_splits=k, gap, max_train_size, test_size)`.
pub(super) fn time_series(
    n: usize,
    k: usize,
    gap: usize,
    max_train_size: Option<usize>,
    test_size: Option<usize>,
) -> Result<Vec<Split>, SplitError> {
    if k + 1 > n {
        return Err(SplitError(format!(
            "{k} time-series splits need at least {} rows, there are {n}; use fewer folds (--folds)",
            k + 1
        )));
    }
    let test = test_size.unwrap_or(n / (k + 1));
    if test == 0 || n <= gap + test * k {
        return Err(SplitError(format!(
            "{k} time-series splits of {test} test rows with a gap of {gap} leave no training rows \
             in {n}; use fewer folds, a smaller --test-size or --gap"
        )));
    }
    let mut out = Vec::with_capacity(k);
    for test_start in (n - k * test..n).step_by(test) {
        let train_end = test_start - gap;
        let train_start = match max_train_size {
            Some(m) if m < train_end => train_end - m,
            _ => 0,
        };
        let train = (train_start as u32..train_end as u32).collect();
        let test_rows = (test_start as u32..(test_start + test) as u32).collect();
        out.push((train, test_rows));
    }
    Ok(out)
}

/// `GroupKFold(n_splits=k)` without shuffling: groups sorted as
/// `np.unique`, the largest first (ties: the later group first, as a
/// reversed stable argsort) each to the fold with the fewest rows so far
/// (the first such fold). Returns each position's fold.
pub(super) fn group_kfold(groups: &[u32], k: usize) -> Result<Vec<usize>, SplitError> {
    let n_groups = groups.iter().max().map_or(0, |m| *m as usize + 1);
    let mut sizes = vec![0usize; n_groups];
    for &g in groups {
        sizes[g as usize] += 1;
    }
    let present = sizes.iter().filter(|&&s| s > 0).count();
    if k > present {
        return Err(SplitError(format!(
            "the group column has {present} groups, fewer than {k} folds; use --folds {present} or fewer"
        )));
    }
    let mut order: Vec<usize> = (0..n_groups).collect();
    order.sort_by_key(|&g| sizes[g]); // stable
    order.reverse();
    let mut per_fold = vec![0usize; k];
    let mut fold_of = vec![0usize; n_groups];
    for g in order {
        let lightest = (0..k).min_by_key(|&f| (per_fold[f], f)).expect("k >= 1");
        per_fold[lightest] += sizes[g];
        fold_of[g] = lightest;
    }
    Ok(groups.iter().map(|&g| fold_of[g as usize]).collect())
}

/// `ShuffleSplit(n_splits=k, test_size=fraction)`: split `s` holds out the
/// first ceil(fraction n) positions of a permutation seeded by seed + s.
pub(super) fn shuffle_split(
    n: usize,
    k: usize,
    fraction: f64,
    seed: u64,
) -> Result<Vec<Split>, SplitError> {
    let n_test = (fraction * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(SplitError(format!(
            "a test size of {fraction} leaves {n_test} of {n} rows for testing; change --test-size"
        )));
    }
    Ok((0..k)
        .map(|s| {
            let mut perm: Vec<u32> = (0..n as u32).collect();
            Rng::new(seed.wrapping_add(s as u64)).shuffle(&mut perm);
            let test = perm[..n_test].to_vec();
            (perm[n_test..].to_vec(), test)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_series_matches_scikit_learn() {
        // TimeSeriesSplit(3).split(range(8)): train [0,1] test [2,3]; [0..4) [4,5]; [0..6) [6,7]
        let s = time_series(8, 3, 0, None, None).unwrap();
        let tests: Vec<Vec<u32>> = s.iter().map(|f| f.1.clone()).collect();
        assert_eq!(tests, [vec![2, 3], vec![4, 5], vec![6, 7]]);
        assert_eq!(s[2].0, (0..6).collect::<Vec<u32>>());
        // Walk-forward: a window of 3, a gap of 1.
        let s = time_series(10, 3, 1, Some(3), Some(2)).unwrap();
        let trains: Vec<Vec<u32>> = s.iter().map(|f| f.0.clone()).collect();
        assert_eq!(trains, [vec![0, 1, 2], vec![2, 3, 4], vec![4, 5, 6]]);
        let e = time_series(4, 5, 0, None, None).unwrap_err();
        assert_eq!(
            e.0,
            "5 time-series splits need at least 6 rows, there are 4; use fewer folds (--folds)"
        );
    }

    #[test]
    fn groups_go_to_the_lightest_fold_largest_first() {
        // GroupKFold(2) on groups [0,0,0,1,1,2]: group 0 -> fold 0, 1 -> fold 1, 2 -> fold 1.
        assert_eq!(group_kfold(&[0, 0, 0, 1, 1, 2], 2).unwrap(), [0, 0, 0, 1, 1, 1]);
        let e = group_kfold(&[0, 0, 1], 3).unwrap_err();
        assert_eq!(
            e.0,
            "the group column has 2 groups, fewer than 3 folds; use --folds 2 or fewer"
        );
    }

    #[test]
    fn shuffle_splits_are_seeded_partitions() {
        let a = shuffle_split(20, 3, 0.25, 7).unwrap();
        assert_eq!(a, shuffle_split(20, 3, 0.25, 7).unwrap());
        assert_ne!(a[0], a[1]);
        for (train, test) in &a {
            assert_eq!((train.len(), test.len()), (15, 5));
        }
    }
}
