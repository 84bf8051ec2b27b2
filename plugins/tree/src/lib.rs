//! A CART decision tree (smartcore): Gini or entropy splits, optional depth
//! limit and minimum samples to split. Probabilities are those of the leaf a
//! row falls into.

use mlhost_plugin_api::{
    Error, FitContext, Matrix, Model, ParamSpec, Params, PluginInfo, Result, Task,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion,
};

type Tree = DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

/// See the crate docs.
#[derive(Debug)]
pub struct DecisionTree {
    params: DecisionTreeClassifierParameters,
    n_classes: usize,
    /// The classes seen in training, ascending: the tree's proba columns.
    classes: Vec<u32>,
    fitted: Option<Tree>,
}

fn dense(x: Matrix<'_>) -> Result<DenseMatrix<f64>> {
    DenseMatrix::new(x.rows(), x.cols(), x.to_vec(), false).map_err(Error::msg)
}

impl Model for DecisionTree {
    fn info() -> PluginInfo {
        PluginInfo::new("tree", env!("CARGO_PKG_VERSION"), Task::Classification)
            .describe("CART decision tree (smartcore)")
            .param(
                ParamSpec::int("max_depth", 0).range(0.0, 1000.0).describe("0 = grow until pure"),
            )
            .param(
                ParamSpec::int("min_samples_split", 2)
                    .range(2.0, 1e6)
                    .describe("rows needed to split a node"),
            )
            .param(
                ParamSpec::int("min_samples_leaf", 1)
                    .range(1.0, 1e6)
                    .describe("rows a leaf must keep"),
            )
            .param(
                ParamSpec::choice("criterion", "gini", &["gini", "entropy"])
                    .describe("split quality"),
            )
    }

    fn new(p: &Params) -> Result<Self> {
        let depth = p.int("max_depth")?;
        let mut params = DecisionTreeClassifierParameters::default()
            .with_min_samples_split(p.int("min_samples_split")? as usize)
            .with_min_samples_leaf(p.int("min_samples_leaf")? as usize)
            .with_criterion(match p.choice("criterion")? {
                "entropy" => SplitCriterion::Entropy,
                _ => SplitCriterion::Gini,
            });
        if depth > 0 {
            params = params.with_max_depth(depth as u16);
        }
        Ok(DecisionTree { params, n_classes: 0, classes: Vec::new(), fitted: None })
    }

    fn fit(&mut self, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<()> {
        self.n_classes = ctx.n_classes();
        let labels: Vec<u32> = y.iter().map(|&v| v as u32).collect();
        let mut classes = labels.clone();
        classes.sort_unstable();
        classes.dedup();
        self.classes = classes;
        let mut params = self.params.clone();
        params.seed = Some(ctx.seed());
        self.fitted = Some(Tree::fit(&dense(x)?, &labels, params).map_err(Error::msg)?);
        Ok(())
    }

    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let mut proba = vec![0.0; x.rows() * self.n_classes];
        self.predict_proba(x, &mut proba)?;
        mlhost_plugin_api::argmax_rows(&proba, self.n_classes, out);
        Ok(())
    }

    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        use smartcore::linalg::basic::arrays::Array;
        let tree = self.fitted.as_ref().ok_or_else(|| Error::msg("predict called before fit"))?;
        let p = tree.predict_proba(&dense(x)?).map_err(Error::msg)?;
        out.fill(0.0);
        for r in 0..x.rows() {
            for (j, &c) in self.classes.iter().enumerate() {
                out[r * self.n_classes + c as usize] = *p.get((r, j));
            }
        }
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        let tree = self.fitted.as_ref().ok_or_else(|| Error::msg("save called before fit"))?;
        serde_json::to_vec(&(self.n_classes, &self.classes, tree)).map_err(Error::msg)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let (k, classes, tree): (usize, Vec<u32>, Tree) = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_input(format!("not a saved tree: {e}")))?;
        (self.n_classes, self.classes, self.fitted) = (k, classes, Some(tree));
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(DecisionTree);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::StandaloneContext;

    #[test]
    fn fits_a_split_and_round_trips() {
        let x = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        let y = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0];
        let mut m = DecisionTree::new(&DecisionTree::info().defaults()).unwrap();
        m.fit(Matrix::new(&x, 6, 1).unwrap(), &y, &mut StandaloneContext::new(0, 3).context())
            .unwrap();
        let mut pred = [9.0; 6];
        m.predict(Matrix::new(&x, 6, 1).unwrap(), &mut pred).unwrap();
        assert_eq!(pred, y);
        let mut p = [9.0; 3];
        m.predict_proba(Matrix::new(&[11.5], 1, 1).unwrap(), &mut p).unwrap();
        assert_eq!(p, [0.0, 0.0, 1.0]);
        let mut r = DecisionTree::new(&DecisionTree::info().defaults()).unwrap();
        r.load(&m.save().unwrap()).unwrap();
        let mut again = [9.0; 6];
        r.predict(Matrix::new(&x, 6, 1).unwrap(), &mut again).unwrap();
        assert_eq!(again, y);
    }
}
