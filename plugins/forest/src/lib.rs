//! A random forest: `trees` smartcore CART trees, each grown on a bootstrap
//! sample of the rows and a random subset of the features (`max_features`),
//! averaged into class probabilities. Every random choice comes from the fit
//! context's seed, so a run repeats exactly.
//!
//! smartcore's own `RandomForestClassifier` keeps its trees private and
//! offers no probabilities, so this crate does the bagging itself;
//! features are sampled per tree (smartcore's per-split sampling is not
//! public), which the defaults are tuned for.
//!
//! Feature importances are scikit-learn's: per tree, each feature's total
//! impurity decrease (smartcore's `compute_feature_importances`), normalized;
//! averaged over the trees that split, normalized again. A tree sees only the
//! features it drew, so with few columns the draw weighs as much as the data.

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

type Dense = DenseMatrix<f64>;
type Tree = DecisionTreeClassifier<f64, u32, Dense, Vec<u32>>;

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
    #[param(default = MaxFeatures::Sqrt, doc = "features each tree sees")]
    pub max_features: MaxFeatures,
    #[param(default = 2, range = 2..=1_000_000, doc = "rows needed to split")]
    pub min_samples_split: usize,
}

/// How many of the `n` features each tree sees: √n or log₂ n rounded, n / 2
/// rounded up, or all.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxFeatures {
    #[default]
    Sqrt,
    Log2,
    Half,
    All,
}

/// One fitted tree: the features it saw and the classes of its columns.
#[derive(Debug, Serialize, Deserialize)]
struct Member {
    features: Vec<usize>,
    classes: Vec<u32>,
    tree: Tree,
}

/// The fitted forest.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    n_features: usize,
    members: Vec<Member>,
}

/// The `features` columns of `n` rows, as smartcore's matrix.
fn pick<'a>(rows: impl Iterator<Item = &'a [f64]>, n: usize, features: &[usize]) -> Result<Dense> {
    let values = rows.flat_map(|row| features.iter().map(move |&f| row[f])).collect();
    DenseMatrix::new(n, features.len(), values, false).map_err(Error::msg)
}

impl Plugin for Forest {
    type Params = ForestParams;
    fn about() -> About {
        About::new("forest", env!("CARGO_PKG_VERSION"))
            .describe("random forest of smartcore CART trees, bagged, with probabilities")
    }
}

impl Classifier for Forest {
    type Fitted = Fitted;
    fn fit(p: &ForestParams, x: Matrix<'_>, y: &[u32], ctx: &mut FitContext<'_>) -> Result<Fitted> {
        let (rows, cols) = (x.rows(), x.cols());
        let m = match p.max_features {
            MaxFeatures::Sqrt => (cols as f64).sqrt().round() as usize,
            MaxFeatures::Log2 => (cols as f64).log2().round() as usize,
            MaxFeatures::Half => cols.div_ceil(2),
            MaxFeatures::All => cols,
        }
        .clamp(1, cols);
        let mut rng = SeededRng::new(ctx.seed() ^ 0x6D6C_686F_7374_u64);
        let mut members = Vec::with_capacity(p.trees);
        for t in 0..p.trees {
            if ctx.should_stop() {
                return Err(Error::stopped());
            }
            // Features without replacement (partial Fisher-Yates), rows with.
            let mut all: Vec<usize> = (0..cols).collect();
            for i in 0..m {
                all.swap(i, i + rng.below(cols - i));
            }
            let mut features = all[..m].to_vec();
            features.sort_unstable();
            let sample: Vec<usize> = (0..rows).map(|_| rng.below(rows)).collect();
            let labels: Vec<u32> = sample.iter().map(|&r| y[r]).collect();
            let mut classes = labels.clone();
            classes.sort_unstable();
            classes.dedup();
            let mut params = DecisionTreeClassifierParameters::default()
                .with_min_samples_split(p.min_samples_split);
            if p.max_depth > 0 {
                params = params.with_max_depth(p.max_depth as u16);
            }
            params.seed = Some(ctx.seed().wrapping_add(t as u64));
            let data = pick(sample.iter().map(|&r| x.row(r)), rows, &features)?;
            let tree = Tree::fit(&data, &labels, params).map_err(Error::msg)?;
            members.push(Member { features, classes, tree });
        }
        Ok(Fitted { n_features: cols, members })
    }
}

impl FittedClassifier for Fitted {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        // Sum the votes, then divide once: a row's shares then add up to 1
        // without rounding past it.
        out.as_mut_slice().fill(0.0);
        for member in &self.members {
            let data = pick(x.iter_rows(), x.rows(), &member.features)?;
            let p = member.tree.predict_proba(&data).map_err(Error::msg)?;
            for (r, row) in out.rows_mut().enumerate() {
                let classes = member.classes.iter().enumerate();
                classes.for_each(|(j, &c)| row[c as usize] += *p.get((r, j)));
            }
        }
        let n = self.members.len() as f64;
        out.as_mut_slice().iter_mut().for_each(|v| *v /= n);
        Ok(())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        let mut total = vec![0.0; self.n_features];
        for m in &self.members {
            // A tree that never split gives NaNs (0 / 0): `max` drops them, as scikit-learn does.
            for (&f, v) in m.features.iter().zip(m.tree.compute_feature_importances(true)) {
                total[f] += v.max(0.0);
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
        let (max_features, x) = (MaxFeatures::Sqrt, Matrix::new(x, y.len(), cols).unwrap());
        let p = ForestParams { trees: 15, max_depth: 0, max_features, min_samples_split: 2 };
        <Forest as Classifier>::fit(&p, x, y, &mut StandaloneContext::new(seed, 2).context())
            .unwrap()
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
}
