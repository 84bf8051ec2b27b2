//! Exact k-nearest neighbours, Euclidean distance, by blocked brute force
//! as scikit-learn's `algorithm="brute"` (what its `"auto"` picks for more
//! than 15 features): squared distances ‖q‖² + ‖t‖² − 2 q·t with the
//! products of a block of queries and a block of training rows computed as
//! one matrix product (`matrixmultiply`, which uses AVX/FMA when the CPU
//! has them), then the k smallest of each query kept in a bounded max-heap.
//! Votes are uniform or weighted by inverse distance (a query that matches
//! training rows exactly counts only those, as scikit-learn). Probabilities
//! are the vote shares; the prediction is the class with the largest share,
//! the lowest label on a tie, as scikit-learn's.

use std::collections::BinaryHeap;

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug)]
pub struct Neighbours;

/// The parameters.
#[derive(Params, Debug, Clone)]
pub struct KnnParams {
    #[param(default = 5, range = 1..=10_000, doc = "neighbours that vote")]
    pub k: usize,
    #[param(default = Weights::Uniform, doc = "equal votes, or votes weighted by inverse distance")]
    pub weights: Weights,
}

/// How the neighbours' votes count: one each, or 1 / distance.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Weights {
    #[default]
    Uniform,
    Distance,
}

/// The training rows themselves (kNN is lazy), with what queries reuse.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    k: usize,
    weights: Weights,
    cols: usize,
    /// Row-major training rows.
    x: Vec<f64>,
    /// ‖x_j‖² of each training row.
    norms: Vec<f64>,
    /// Each training row's class code.
    y: Vec<u32>,
}

/// Queries per block: the block of products is `QUERY_BLOCK × TRAIN_BLOCK`
/// f64 (2 MB), and each query's heap stays hot while its block is scanned.
const QUERY_BLOCK: usize = 128;
/// Training rows per block.
const TRAIN_BLOCK: usize = 2048;

impl Plugin for Neighbours {
    type Params = KnnParams;
    fn about() -> About {
        About::new("knn", env!("CARGO_PKG_VERSION"))
            .describe("exact k-nearest neighbours (blocked brute force); scale the features")
    }
}

impl Classifier for Neighbours {
    type Fitted = Fitted;
    fn fit(p: &KnnParams, x: Matrix<'_>, y: &[u32], _: &mut FitContext<'_>) -> Result<Fitted> {
        if x.rows() < p.k {
            return Err(Error::invalid_param(
                "k",
                format!("{} exceeds the {} training rows", p.k, x.rows()),
            ));
        }
        let norms = x.iter_rows().map(|r| r.iter().map(|v| v * v).sum()).collect();
        Ok(Fitted {
            k: p.k,
            weights: p.weights,
            cols: x.cols(),
            x: x.to_vec(),
            norms,
            y: y.to_vec(),
        })
    }
}

/// A neighbour candidate: squared distance, then row (a lower row wins a
/// tie, so results do not depend on the block sizes).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Near(f64, u32);

impl Eq for Near {}

impl Ord for Near {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Fitted {
    fn rows(&self) -> usize {
        self.y.len()
    }

    /// The k nearest training rows of each query, nearest first, as
    /// (distance, row).
    fn neighbours(&self, q: Matrix<'_>) -> Vec<Vec<(f64, u32)>> {
        let (d, n) = (self.cols, self.rows());
        let mut out = Vec::with_capacity(q.rows());
        let mut block = vec![0.0; QUERY_BLOCK * d];
        let mut products = vec![0.0; QUERY_BLOCK * TRAIN_BLOCK];
        for start in (0..q.rows()).step_by(QUERY_BLOCK) {
            let m = QUERY_BLOCK.min(q.rows() - start);
            for i in 0..m {
                block[i * d..(i + 1) * d].copy_from_slice(q.row(start + i));
            }
            let mut heaps: Vec<BinaryHeap<Near>> =
                (0..m).map(|_| BinaryHeap::with_capacity(self.k + 1)).collect();
            for t0 in (0..n).step_by(TRAIN_BLOCK) {
                let tb = TRAIN_BLOCK.min(n - t0);
                self.products(&block[..m * d], t0, tb, &mut products[..m * tb]);
                let norms = &self.norms[t0..t0 + tb];
                for (i, heap) in heaps.iter_mut().enumerate() {
                    self.keep_nearest(heap, &products[i * tb..(i + 1) * tb], norms, t0);
                }
            }
            for (i, heap) in heaps.into_iter().enumerate() {
                out.push(self.exact(&block[i * d..(i + 1) * d], heap));
            }
        }
        out
    }

    /// Offers one block's training rows to a query's heap of the k nearest.
    /// The key ‖t‖² − 2 q·t ranks rows as the squared distance does (it
    /// leaves out ‖q‖², the same for every row); a row enters only below
    /// the current k-th key, and rows come in increasing order, so a tie
    /// keeps the lower row.
    fn keep_nearest(&self, heap: &mut BinaryHeap<Near>, dots: &[f64], norms: &[f64], t0: usize) {
        let worst = |h: &BinaryHeap<Near>| {
            if h.len() < self.k { f64::INFINITY } else { h.peek().map_or(f64::INFINITY, |n| n.0) }
        };
        let mut bound = worst(heap);
        for (j, (dot, norm)) in dots.iter().zip(norms).enumerate() {
            let key = norm - 2.0 * dot;
            if key < bound {
                if heap.len() == self.k {
                    heap.pop();
                }
                heap.push(Near(key, (t0 + j) as u32));
                bound = worst(heap);
            }
        }
    }

    /// The chosen neighbours with their distances computed directly from
    /// the differences (the product form loses digits to cancellation: an
    /// exact duplicate must be at distance 0), nearest first.
    fn exact(&self, query: &[f64], heap: BinaryHeap<Near>) -> Vec<(f64, u32)> {
        let d = self.cols;
        let mut near: Vec<Near> = heap
            .into_iter()
            .map(|Near(_, j)| {
                let t = &self.x[j as usize * d..(j as usize + 1) * d];
                Near(query.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum(), j)
            })
            .collect();
        near.sort_unstable();
        near.into_iter().map(|Near(d2, j)| (d2.sqrt(), j)).collect()
    }

    /// `out[i][j] = block_i · x_{t0 + j}` for `tb` training rows.
    fn products(&self, block: &[f64], t0: usize, tb: usize, out: &mut [f64]) {
        let (d, m) = (self.cols, block.len() / self.cols.max(1));
        if d == 0 {
            out.fill(0.0);
            return;
        }
        let train = &self.x[t0 * d..(t0 + tb) * d];
        // SAFETY: A is m×d row-major (`block`), B is d×tb read from the
        // row-major tb×d `train` through strides (1, d), C is m×tb
        // row-major (`out`); every slice holds exactly those elements, and
        // beta = 0 means C is only written.
        unsafe {
            matrixmultiply::dgemm(
                m,
                d,
                tb,
                1.0,
                block.as_ptr(),
                d as isize,
                1,
                train.as_ptr(),
                1,
                d as isize,
                0.0,
                out.as_mut_ptr(),
                tb as isize,
                1,
            );
        }
    }
}

impl FittedClassifier for Fitted {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        x.expect_cols(self.cols)?;
        for (near, row) in self.neighbours(x).iter().zip(out.rows_mut()) {
            row.fill(0.0);
            let exact = near.iter().any(|(dist, _)| *dist == 0.0);
            for &(dist, j) in near {
                let vote = match self.weights {
                    Weights::Uniform => 1.0,
                    // scikit-learn: with an exact match, only exact matches vote.
                    Weights::Distance if exact => f64::from(dist == 0.0),
                    Weights::Distance => 1.0 / dist,
                };
                row[self.y[j as usize] as usize] += vote;
            }
            let total: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= total);
        }
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(Neighbours: classifier);

#[cfg(test)]
mod tests;
