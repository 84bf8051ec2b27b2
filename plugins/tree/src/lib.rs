//! A CART decision tree (smartcore): Gini or entropy splits, optional depth
//! limit and minimum samples to split. Probabilities are those of the leaf a
//! row falls into. Feature importances are scikit-learn's: each feature's
//! total decrease of sample-weighted impurity, normalized to sum to 1
//! (smartcore's `compute_feature_importances`); zeros if the tree never split.

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion,
};

type Tree = DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

/// See the crate docs.
#[derive(Debug)]
pub struct DecisionTree;

/// The tree's parameters.
#[derive(Params, Debug, Clone)]
pub struct TreeParams {
    #[param(default = 0, range = 0..=1000, doc = "0 = grow until pure")]
    pub max_depth: u32,
    #[param(default = 2, range = 2..=1_000_000, doc = "rows needed to split a node")]
    pub min_samples_split: usize,
    #[param(default = 1, range = 1..=1_000_000, doc = "rows a leaf must keep")]
    pub min_samples_leaf: usize,
    #[param(default = Criterion::Gini, doc = "split quality")]
    pub criterion: Criterion,
}

/// How a split is scored.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Criterion {
    #[default]
    Gini,
    Entropy,
}

/// The tree and the classes of its probability columns (seen in training).
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    classes: Vec<u32>,
    tree: Tree,
}

fn dense(x: Matrix<'_>) -> Result<DenseMatrix<f64>> {
    DenseMatrix::new(x.rows(), x.cols(), x.to_vec(), false).map_err(Error::msg)
}

impl Plugin for DecisionTree {
    type Params = TreeParams;
    fn about() -> About {
        About::new("tree", env!("CARGO_PKG_VERSION")).describe("CART decision tree (smartcore)")
    }
}

impl Classifier for DecisionTree {
    type Fitted = Fitted;
    fn fit(p: &TreeParams, x: Matrix<'_>, y: &[u32], ctx: &mut FitContext<'_>) -> Result<Fitted> {
        let mut params = DecisionTreeClassifierParameters::default()
            .with_min_samples_split(p.min_samples_split)
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_criterion(match p.criterion {
                Criterion::Gini => SplitCriterion::Gini,
                Criterion::Entropy => SplitCriterion::Entropy,
            });
        if p.max_depth > 0 {
            params = params.with_max_depth(p.max_depth as u16);
        }
        params.seed = Some(ctx.seed());
        let mut classes = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let tree = Tree::fit(&dense(x)?, &y.to_vec(), params).map_err(Error::msg)?;
        Ok(Fitted { classes, tree })
    }
}

impl FittedClassifier for Fitted {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        let p = self.tree.predict_proba(&dense(x)?).map_err(Error::msg)?;
        for (r, row) in out.rows_mut().enumerate() {
            row.fill(0.0);
            self.classes.iter().enumerate().for_each(|(j, &c)| row[c as usize] = *p.get((r, j)));
        }
        Ok(())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        // `max` turns the NaNs (0 / 0) of a tree that never split into zeros.
        Some(self.tree.compute_feature_importances(true).into_iter().map(|v| v.max(0.0)).collect())
    }
}

mlhost_plugin_api::export_plugin!(DecisionTree: classifier);

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(x: &[f64], cols: usize, y: &[u32]) -> Fitted {
        let (max_depth, criterion) = (0, Criterion::Gini);
        let p = TreeParams { max_depth, min_samples_split: 2, min_samples_leaf: 1, criterion };
        let (x, mut ctx) = (Matrix::new(x, y.len(), cols).unwrap(), StandaloneContext::new(0, 3));
        <DecisionTree as Classifier>::fit(&p, x, y, &mut ctx.context()).unwrap()
    }

    #[test]
    fn fits_a_split_and_round_trips() {
        let (x, y) = ([0.0, 1.0, 2.0, 10.0, 11.0, 12.0], [1, 1, 1, 2, 2, 2]);
        let m = fit(&x, 1, &y);
        let saved: Fitted = postcard::from_bytes(&postcard::to_allocvec(&m).unwrap()).unwrap();
        for m in [m, saved] {
            let mut pred = [9; 6];
            m.predict(Matrix::new(&x, 6, 1).unwrap(), &mut pred, 3).unwrap();
            assert_eq!(pred, y);
            let (mut p, one) = ([9.0; 3], Matrix::new(&[11.5], 1, 1).unwrap());
            m.predict_proba(one, &mut Proba::new(&mut p, 3).unwrap()).unwrap();
            assert_eq!(p, [0.0, 0.0, 1.0]);
        }
    }

    #[test]
    fn importances_are_scikit_learns() {
        // Column 1 (i >= 20) splits the root, column 0 (i % 7 == 0) the left half:
        // Gini decreases 0.36125 and 0.1275 of the root's 0.48875; column 2 is noise.
        let x: Vec<f64> =
            (0..40).flat_map(|i| [f64::from(i % 7), f64::from(i), f64::from(i % 3)]).collect();
        let y: Vec<u32> = (0..40).map(|i| u32::from(i >= 20 || i % 7 == 0)).collect();
        let imp = fit(&x, 3, &y).feature_importances().unwrap();
        let want = [6.0 / 23.0, 17.0 / 23.0, 0.0];
        assert!(imp.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{imp:?}");
    }
}
