//! A random forest: `trees` smartcore CART trees, each grown on a bootstrap
//! sample of the rows and a random subset of the features (`max_features`),
//! averaged into class probabilities. Every random choice comes from the fit
//! context's seed, so a run repeats exactly.
//!
//! smartcore's own `RandomForestClassifier` keeps its trees private and
//! offers no probabilities, so this crate does the bagging itself;
//! features are sampled per tree (smartcore's per-split sampling is not
//! public), which the defaults are tuned for.

use mlhost_plugin_api::{
    Error, FitContext, Matrix, Model, ParamSpec, Params, PluginInfo, Result, SeededRng, Task,
};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

type Tree = DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

/// One fitted tree: the features it saw and the classes of its columns.
#[derive(Debug, Serialize, Deserialize)]
struct Member {
    features: Vec<usize>,
    classes: Vec<u32>,
    tree: Tree,
}

/// See the crate docs.
#[derive(Debug)]
pub struct Forest {
    trees: usize,
    max_depth: u16,
    max_features: String,
    min_samples_split: usize,
    n_classes: usize,
    members: Vec<Member>,
}

impl Model for Forest {
    fn info() -> PluginInfo {
        PluginInfo::new("forest", env!("CARGO_PKG_VERSION"), Task::Classification)
            .describe("random forest of smartcore CART trees, bagged, with probabilities")
            .param(
                ParamSpec::int("trees", 100).range(1.0, 10_000.0).describe("trees in the forest"),
            )
            .param(
                ParamSpec::int("max_depth", 0).range(0.0, 1000.0).describe("0 = grow until pure"),
            )
            .param(
                ParamSpec::choice("max_features", "sqrt", &["sqrt", "log2", "half", "all"])
                    .describe("features each tree sees"),
            )
            .param(
                ParamSpec::int("min_samples_split", 2)
                    .range(2.0, 1e6)
                    .describe("rows needed to split"),
            )
    }

    fn new(p: &Params) -> Result<Self> {
        Ok(Forest {
            trees: p.int("trees")? as usize,
            max_depth: p.int("max_depth")? as u16,
            max_features: p.choice("max_features")?.to_owned(),
            min_samples_split: p.int("min_samples_split")? as usize,
            n_classes: 0,
            members: Vec::new(),
        })
    }

    fn fit(&mut self, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<()> {
        self.n_classes = ctx.n_classes();
        let (rows, cols) = (x.rows(), x.cols());
        let m = match self.max_features.as_str() {
            "sqrt" => (cols as f64).sqrt().round() as usize,
            "log2" => (cols as f64).log2().round() as usize,
            "half" => cols.div_ceil(2),
            _ => cols,
        }
        .clamp(1, cols);
        let mut rng = SeededRng::new(ctx.seed() ^ 0x6D6C_686F_7374_u64);
        self.members.clear();
        for t in 0..self.trees {
            if ctx.should_stop() {
                return Err(Error::stopped());
            }
            // Features without replacement (partial Fisher-Yates), rows with.
            let mut all: Vec<usize> = (0..cols).collect();
            for i in 0..m {
                let j = i + rng.below(cols - i);
                all.swap(i, j);
            }
            let mut features = all[..m].to_vec();
            features.sort_unstable();
            let sample: Vec<usize> = (0..rows).map(|_| rng.below(rows)).collect();
            let mut values = Vec::with_capacity(rows * m);
            for &r in &sample {
                let row = x.row(r);
                values.extend(features.iter().map(|&f| row[f]));
            }
            let labels: Vec<u32> = sample.iter().map(|&r| y[r] as u32).collect();
            let mut classes = labels.clone();
            classes.sort_unstable();
            classes.dedup();
            let mut params = DecisionTreeClassifierParameters::default()
                .with_min_samples_split(self.min_samples_split);
            if self.max_depth > 0 {
                params = params.with_max_depth(self.max_depth);
            }
            params.seed = Some(ctx.seed().wrapping_add(t as u64));
            let data = DenseMatrix::new(rows, m, values, false).map_err(Error::msg)?;
            let tree = Tree::fit(&data, &labels, params).map_err(Error::msg)?;
            self.members.push(Member { features, classes, tree });
        }
        Ok(())
    }

    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let mut proba = vec![0.0; x.rows() * self.n_classes];
        self.predict_proba(x, &mut proba)?;
        mlhost_plugin_api::argmax_rows(&proba, self.n_classes, out);
        Ok(())
    }

    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        if self.members.is_empty() {
            return Err(Error::msg("predict called before fit"));
        }
        // Sum the votes, then divide once: a row's shares then add up to 1
        // without rounding past it.
        out.fill(0.0);
        for member in &self.members {
            let values: Vec<f64> = x
                .iter_rows()
                .flat_map(|row| member.features.iter().map(move |&f| row[f]))
                .collect();
            let data = DenseMatrix::new(x.rows(), member.features.len(), values, false)
                .map_err(Error::msg)?;
            let p = member.tree.predict_proba(&data).map_err(Error::msg)?;
            for r in 0..x.rows() {
                for (j, &c) in member.classes.iter().enumerate() {
                    out[r * self.n_classes + c as usize] += *p.get((r, j));
                }
            }
        }
        let n = self.members.len() as f64;
        out.iter_mut().for_each(|v| *v /= n);
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        if self.members.is_empty() {
            return Err(Error::msg("save called before fit"));
        }
        serde_json::to_vec(&(self.n_classes, &self.members)).map_err(Error::msg)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let (k, members): (usize, Vec<Member>) = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_input(format!("not a saved forest: {e}")))?;
        (self.n_classes, self.members) = (k, members);
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(Forest);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::{ParamValue, StandaloneContext};

    fn fitted(seed: u64) -> Forest {
        let x: Vec<f64> = (0..40).flat_map(|i| [f64::from(i), f64::from(i % 7)]).collect();
        let y: Vec<f64> = (0..40).map(|i| f64::from(u8::from(i >= 20))).collect();
        let params = Forest::info().defaults().set("trees", ParamValue::Int(15));
        let mut m = Forest::new(&params).unwrap();
        m.fit(Matrix::new(&x, 40, 2).unwrap(), &y, &mut StandaloneContext::new(seed, 2).context())
            .unwrap();
        m
    }

    #[test]
    fn votes_become_probabilities_and_the_seed_repeats() {
        let m = fitted(3);
        let mut p = [0.0; 4];
        m.predict_proba(Matrix::new(&[1.0, 1.0, 38.0, 3.0], 2, 2).unwrap(), &mut p).unwrap();
        assert!(p[0] > 0.5 && p[3] > 0.5, "{p:?}");
        assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
        let again = fitted(3);
        let mut q = [0.0; 4];
        again.predict_proba(Matrix::new(&[1.0, 1.0, 38.0, 3.0], 2, 2).unwrap(), &mut q).unwrap();
        assert_eq!(p, q);
        let mut r = Forest::new(&Forest::info().defaults()).unwrap();
        r.load(&m.save().unwrap()).unwrap();
        let mut s = [0.0; 4];
        r.predict_proba(Matrix::new(&[1.0, 1.0, 38.0, 3.0], 2, 2).unwrap(), &mut s).unwrap();
        assert_eq!(p, s);
    }
}
