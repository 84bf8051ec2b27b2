//! A random forest of histogram CART trees (`mlhost-cart`): each grown on a
//! bootstrap sample of the rows, each split chosen among `max_features`
//! randomly drawn features (drawn again at every split, as scikit-learn's
//! RandomForestClassifier), Gini impurity, grown until pure by default; the
//! class shares of the leaves averaged into probabilities. Features are
//! binned once per fit (at most 255 bins) and every tree reuses the bins
//! (the trees are `mlhost-cart`'s, shared with the `tree` plugin).
//! Every random choice comes from the fit context's seed, so a run repeats
//! exactly.
//!
//! Feature importances are scikit-learn's: per tree, each feature's total
//! weighted impurity decrease, normalized; averaged over the trees,
//! normalized again.

use mlhost_cart::{Binned, Criterion, Growth, Tree};
use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug)]
pub struct Forest;

/// The forest's parameters.
#[derive(Params, Debug, Clone)]
pub struct ForestParams {
    #[param(default = 100, range = 1..=10_000, doc = "trees in the forest")]
    pub trees: usize,
    #[param(default = 0, range = 0..=1000, doc = "0 = grow until pure")]
    pub max_depth: u32,
    #[param(default = MaxFeatures::Sqrt, doc = "features drawn at each split")]
    pub max_features: MaxFeatures,
    #[param(default = 2, range = 2..=1_000_000, doc = "rows needed to split")]
    pub min_samples_split: usize,
}

/// How many of the `n` features each split draws: ⌊√n⌋ or ⌊log₂ n⌋ (as
/// scikit-learn), n / 2 rounded up, or all.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxFeatures {
    #[default]
    Sqrt,
    Log2,
    Half,
    All,
}

/// The fitted forest.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    n_features: usize,
    n_classes: usize,
    trees: Vec<Tree>,
}

impl Plugin for Forest {
    type Params = ForestParams;
    fn about() -> About {
        About::new("forest", env!("CARGO_PKG_VERSION"))
            .describe("random forest: bagged histogram CART trees, features drawn per split")
    }
}

impl Classifier for Forest {
    type Fitted = Fitted;
    fn fit(p: &ForestParams, x: Matrix<'_>, y: &[u32], ctx: &mut FitContext<'_>) -> Result<Fitted> {
        let cols = x.cols();
        let k = ctx.n_classes().max(y.iter().max().map_or(1, |m| *m as usize + 1));
        let max_features = match p.max_features {
            MaxFeatures::Sqrt => (cols as f64).sqrt() as usize,
            MaxFeatures::Log2 => (cols as f64).log2() as usize,
            MaxFeatures::Half => cols.div_ceil(2),
            MaxFeatures::All => cols,
        }
        .clamp(1, cols.max(1));
        let growth = Growth {
            max_features,
            max_depth: p.max_depth,
            min_samples_split: p.min_samples_split,
            min_samples_leaf: 1,
            criterion: Criterion::Gini,
            classes: k,
        };
        let data = Binned::new(x);
        let seed = ctx.seed() ^ 0x6D6C_686F_7374_u64;
        let threads = ctx.threads().min(p.trees).max(1);
        let mut trees = Vec::with_capacity(p.trees);
        // Rounds of a few trees per thread, so a stop request is seen soon.
        for start in (0..p.trees).step_by(8 * threads) {
            if ctx.should_stop() {
                return Err(Error::stopped());
            }
            let batch = start..(start + 8 * threads).min(p.trees);
            trees.extend(grow_batch(&data, y, growth, seed, batch, threads));
        }
        Ok(Fitted { n_features: cols, n_classes: k, trees })
    }
}

/// Tree `t` of a forest: its own bootstrap and feature draws from a seed of
/// its own, so the forest is the same however many threads grow it.
fn grow_one(data: &Binned, y: &[u32], growth: Growth, seed: u64, t: usize) -> Tree {
    let mut rng = SeededRng::new(seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let rows = y.len();
    // The bootstrap as counts: a row drawn twice weighs 2.
    let mut weight = vec![0.0; rows];
    for _ in 0..rows {
        weight[rng.below(rows)] += 1.0;
    }
    let sample: Vec<u32> = (0..rows as u32).filter(|&r| weight[r as usize] > 0.0).collect();
    mlhost_cart::grow(data, y, &weight, sample, growth, &mut rng)
}

/// Trees `batch`, in order, grown on `threads` threads taking the next
/// tree as they free up.
fn grow_batch(
    data: &Binned,
    y: &[u32],
    growth: Growth,
    seed: u64,
    batch: std::ops::Range<usize>,
    threads: usize,
) -> Vec<Tree> {
    if threads <= 1 {
        return batch.map(|t| grow_one(data, y, growth, seed, t)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(batch.start);
    let mut grown: Vec<(usize, Tree)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let t = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if t >= batch.end {
                            return mine;
                        }
                        mine.push((t, grow_one(data, y, growth, seed, t)));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a tree panicked")).collect()
    });
    grown.sort_by_key(|(t, _)| *t);
    grown.into_iter().map(|(_, tree)| tree).collect()
}

impl FittedClassifier for Fitted {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        x.expect_cols(self.n_features)?;
        // Sum the shares, then divide once: a row's shares then add up to 1
        // without rounding past it. Tree by tree, so one tree's nodes stay
        // in cache while every row walks it.
        let k = out.k().min(self.n_classes);
        out.as_mut_slice().fill(0.0);
        for tree in &self.trees {
            for (r, row) in out.rows_mut().enumerate() {
                let p = tree.proba(x.row(r));
                row[..k].iter_mut().zip(p).for_each(|(v, s)| *v += s);
            }
        }
        let n = self.trees.len() as f64;
        out.as_mut_slice().iter_mut().for_each(|v| *v /= n);
        Ok(())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        let mut total = vec![0.0; self.n_features];
        for tree in &self.trees {
            let sum: f64 = tree.importance.iter().sum();
            if sum > 0.0 {
                total.iter_mut().zip(&tree.importance).for_each(|(t, v)| *t += v / sum);
            }
        }
        let sum: f64 = total.iter().sum();
        if sum > 0.0 {
            total.iter_mut().for_each(|v| *v /= sum);
        }
        Some(total)
    }
}

mlhost_plugin_api::export_plugin!(Forest: classifier);

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(seed: u64, x: &[f64], cols: usize, y: &[u32]) -> Fitted {
        fit_on(1, seed, x, cols, y)
    }

    fn fit_on(threads: usize, seed: u64, x: &[f64], cols: usize, y: &[u32]) -> Fitted {
        let (max_features, x) = (MaxFeatures::Sqrt, Matrix::new(x, y.len(), cols).unwrap());
        let p = ForestParams { trees: 15, max_depth: 0, max_features, min_samples_split: 2 };
        let mut ctx = StandaloneContext { threads, ..StandaloneContext::new(seed, 2) };
        <Forest as Classifier>::fit(&p, x, y, &mut ctx.context()).unwrap()
    }

    fn proba(m: &Fitted) -> [f64; 4] {
        let (mut p, x) = ([0.0; 4], Matrix::new(&[1.0, 1.0, 38.0, 3.0], 2, 2).unwrap());
        m.predict_proba(x, &mut Proba::new(&mut p, 2).unwrap()).unwrap();
        p
    }

    #[test]
    fn votes_become_probabilities_and_the_seed_repeats_and_round_trips() {
        let x: Vec<f64> = (0..40).flat_map(|i| [f64::from(i), f64::from(i % 7)]).collect();
        let y: Vec<u32> = (0..40).map(|i| u32::from(i >= 20)).collect();
        let p = proba(&fit(3, &x, 2, &y));
        assert!(p[0] > 0.5 && p[3] > 0.5 && (p[0] + p[1] - 1.0).abs() < 1e-12, "{p:?}");
        assert_eq!(p, proba(&fit(3, &x, 2, &y)));
        let bytes = postcard::to_allocvec(&fit(3, &x, 2, &y)).unwrap();
        assert_eq!(p, proba(&postcard::from_bytes(&bytes).unwrap()));
        // The host's thread budget changes the speed, never the forest.
        for threads in [2, 3] {
            let forest = fit_on(threads, 3, &x, 2, &y);
            assert_eq!(p, proba(&forest), "{threads} threads");
            assert_eq!(forest.feature_importances(), fit(3, &x, 2, &y).feature_importances());
        }
    }

    #[test]
    fn importances_favour_the_informative_column() {
        // Column 2 decides the class, the others are noise; a tree sees 2 of 4.
        let x: Vec<f64> = (0..60)
            .flat_map(|i| [f64::from(i % 7), f64::from(i % 5), f64::from(i), f64::from(i % 3)])
            .collect();
        let y: Vec<u32> = (0..60).map(|i| u32::from(i >= 30)).collect();
        let imp = fit(1, &x, 4, &y).feature_importances().unwrap();
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{imp:?}");
        assert!(imp.len() == 4 && (0..4).all(|i| i == 2 || imp[i] < imp[2]), "{imp:?}");
    }

    /// Cross-validated accuracy within 0.02 of scikit-learn's
    /// RandomForestClassifier(100) on the same generated data and folds
    /// (`mlhost_cart::testdata`: KFold(3), unshuffled; 0.7913 vs 0.7907).
    #[test]
    fn accuracy_matches_scikit_learn_on_generated_data() {
        let (ours, theirs) =
            mlhost_cart::testdata::cross_validate("random_forest_100", |x, y, q| {
                let p = ForestParams {
                    trees: 100,
                    max_depth: 0,
                    max_features: MaxFeatures::Sqrt,
                    min_samples_split: 2,
                };
                let mut ctx = StandaloneContext::new(0, 2);
                let x = Matrix::new(x, y.len(), 20).unwrap();
                let m = <Forest as Classifier>::fit(&p, x, y, &mut ctx.context()).unwrap();
                let mut pred = vec![0; q.len() / 20];
                m.predict(Matrix::new(q, pred.len(), 20).unwrap(), &mut pred, 2).unwrap();
                pred
            });
        assert!((ours - theirs).abs() <= 0.02, "forest {ours:.4} vs scikit-learn {theirs:.4}");
    }
}
