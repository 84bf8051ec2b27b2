//! Grows one tree on the gradients, best first (leaf-wise) as
//! scikit-learn's `TreeGrower`: the open node with the largest gain splits
//! next, until `max_leaf_nodes` leaves, `max_depth`, `min_samples_leaf`
//! or no positive gain stops it. A node's rows are a range of one
//! partition array, split in place (stably, so rows stay in ascending
//! order and gradient reads run forward). Only the smaller child's
//! histogram is built from rows; the larger one's is its parent's minus it.

use mlhost_cart::Binned;

use crate::hist::Histogram;
use crate::split::{MIN_HESSIAN, Rules, Split, Sums, best_split};
use crate::tree::{Node, Tree};

/// Limits on a tree's shape, and the shrinkage of its leaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// 0 = unlimited.
    pub(crate) max_leaf_nodes: usize,
    /// 0 = unlimited.
    pub(crate) max_depth: u32,
    /// The learning rate, applied to every leaf value.
    pub(crate) shrinkage: f64,
}

/// A node that may still split, with its histogram and best split.
#[derive(Debug)]
struct Open {
    at: usize,
    start: usize,
    end: usize,
    depth: u32,
    value: f64,
    hist: Histogram,
    split: Split,
}

/// A finished leaf: its node, its rows' range and its value before shrinkage.
#[derive(Debug)]
struct Leaf {
    at: usize,
    start: usize,
    end: usize,
    value: f64,
}

/// The tree being grown.
#[derive(Debug, Default)]
struct Growing {
    nodes: Vec<Node>,
    open: Vec<Open>,
    leaves: Vec<Leaf>,
}

/// Grows trees on one binned training set, reusing its buffers (the
/// partition, gathered gradients and histograms) from tree to tree.
#[derive(Debug)]
pub(crate) struct Grower<'a> {
    data: &'a Binned,
    bins: Vec<usize>,
    rules: Rules,
    limits: Limits,
    partition: Vec<u32>,
    scratch: Vec<u32>,
    gh: Vec<[f32; 2]>,
    pool: Vec<Histogram>,
    /// Each feature's total loss reduction over every tree grown.
    pub(crate) importance: Vec<f64>,
}

impl<'a> Grower<'a> {
    /// A grower for `data` with the split `rules` and the tree `limits`.
    pub(crate) fn new(data: &'a Binned, rules: Rules, limits: Limits) -> Grower<'a> {
        let features = data.codes.len();
        Grower {
            data,
            bins: (0..features).map(|f| data.bins(f)).collect(),
            rules,
            limits,
            partition: Vec::new(),
            scratch: Vec::new(),
            gh: Vec::new(),
            pool: Vec::new(),
            importance: vec![0.0; features],
        }
    }

    /// Grows a tree on the rows' gradients and hessians and adds its
    /// (shrunk) leaf values to the rows' raw predictions `raw`.
    pub(crate) fn grow(&mut self, grad: &[f32], hess: &[f32], raw: &mut [f64]) -> Tree {
        let n = grad.len();
        self.partition.clear();
        self.partition.extend(0..n as u32);
        let mut t = Growing { nodes: vec![Node::leaf(0.0)], ..Growing::default() };
        let h = if self.rules.constant_hessian {
            n as f64
        } else {
            hess.iter().map(|v| f64::from(*v)).sum()
        };
        let root = Sums { g: grad.iter().map(|v| f64::from(*v)).sum(), h, n };
        // As scikit-learn's, the root's value is 0: a tree that cannot
        // split adds nothing.
        if n >= 2 * self.rules.min_samples_leaf && root.h >= MIN_HESSIAN {
            let hist = self.histogram(0, n, grad, hess);
            self.consider(&mut t, (0, 0, n), 0, root, 0.0, hist);
        } else {
            t.leaves.push(Leaf { at: 0, start: 0, end: n, value: 0.0 });
        }
        while let Some(i) = best_open(&t.open) {
            let node = t.open.remove(i);
            self.split_next(&mut t, node, grad, hess);
        }
        for leaf in &t.leaves {
            let v = leaf.value * self.limits.shrinkage;
            t.nodes[leaf.at] = Node::leaf(v);
            for &r in &self.partition[leaf.start..leaf.end] {
                raw[r as usize] += v;
            }
        }
        Tree { nodes: t.nodes }
    }

    /// Splits `node` in two and decides, for each child, leaf or open.
    fn split_next(&mut self, t: &mut Growing, node: Open, grad: &[f32], hess: &[f32]) {
        let s = node.split;
        let mid = self.partition_rows(node.start, node.end, s.feature, s.bin);
        debug_assert_eq!(mid - node.start, s.left.n);
        let l = t.nodes.len();
        t.nodes.extend([Node::leaf(0.0), Node::leaf(0.0)]);
        t.nodes[node.at] = Node {
            threshold: self.data.edges[s.feature][s.bin],
            feature: s.feature as u32,
            left: l as u32,
            // No NaN seen: a NaN goes with the majority (as scikit-learn);
            // else NaNs were binned on top, which is to the right.
            nan_left: !self.data.nan[s.feature] && s.left.n > s.right.n,
        };
        self.importance[s.feature] += s.improvement(self.rules.l2);
        let l2 = self.rules.l2;
        let kids = [(l, node.start, mid, s.left), (l + 1, mid, node.end, s.right)];
        let leaf = |(at, start, end, sums): (usize, usize, usize, Sums)| Leaf {
            at,
            start,
            end,
            value: sums.value(l2),
        };
        let depth = node.depth + 1;
        let leaves = t.leaves.len() + t.open.len() + 2;
        let full = self.limits.max_leaf_nodes > 0 && leaves >= self.limits.max_leaf_nodes;
        if full {
            for o in t.open.drain(..) {
                t.leaves.push(Leaf { at: o.at, start: o.start, end: o.end, value: o.value });
                self.pool.push(o.hist);
            }
        }
        let deep = self.limits.max_depth > 0 && depth >= self.limits.max_depth;
        let msl = self.rules.min_samples_leaf;
        let splittable = kids.map(|k| !full && !deep && k.3.n >= 2 * msl);
        if !splittable[0] && !splittable[1] {
            t.leaves.extend(kids.map(leaf));
            self.pool.push(node.hist);
            return;
        }
        let small = usize::from(s.left.n >= s.right.n);
        let (_, start, end, _) = kids[small];
        let small_hist = self.histogram(start, end, grad, hess);
        let mut large_hist = node.hist;
        large_hist.subtract(&small_hist);
        let hists = if small == 0 { [small_hist, large_hist] } else { [large_hist, small_hist] };
        for (i, hist) in hists.into_iter().enumerate() {
            let (at, start, end, sums) = kids[i];
            if splittable[i] {
                self.consider(t, (at, start, end), depth, sums, sums.value(l2), hist);
            } else {
                t.leaves.push(leaf(kids[i]));
                self.pool.push(hist);
            }
        }
    }

    /// Finds the best split of a node: opens it, or makes it a leaf.
    fn consider(
        &mut self,
        t: &mut Growing,
        (at, start, end): (usize, usize, usize),
        depth: u32,
        sums: Sums,
        value: f64,
        hist: Histogram,
    ) {
        match best_split(&hist, &self.bins, sums, value, self.rules) {
            Some(split) => t.open.push(Open { at, start, end, depth, value, hist, split }),
            None => {
                // The root keeps value 0 even as a leaf (scikit-learn's).
                t.leaves.push(Leaf { at, start, end, value: if at == 0 { 0.0 } else { value } });
                self.pool.push(hist);
            }
        }
    }

    /// The histogram of the partition's rows `start..end`.
    fn histogram(&mut self, start: usize, end: usize, grad: &[f32], hess: &[f32]) -> Histogram {
        let rows = &self.partition[start..end];
        self.gh.clear();
        self.gh.extend(rows.iter().map(|&r| [grad[r as usize], hess[r as usize]]));
        let mut hist = self.pool.pop().unwrap_or_else(|| Histogram::new(self.bins.len()));
        hist.build(self.data, rows, &self.gh, self.rules.constant_hessian);
        hist
    }

    /// Moves the rows of `start..end` whose bin of `feature` is ≤ `bin`
    /// to the front, keeping both sides in order; returns where the right
    /// side starts.
    fn partition_rows(&mut self, start: usize, end: usize, feature: usize, bin: usize) -> usize {
        let codes = &self.data.codes[feature];
        let rows = &mut self.partition[start..end];
        self.scratch.clear();
        let mut kept = 0;
        for i in 0..rows.len() {
            let r = rows[i];
            if usize::from(codes[r as usize]) <= bin {
                rows[kept] = r;
                kept += 1;
            } else {
                self.scratch.push(r);
            }
        }
        rows[kept..].copy_from_slice(&self.scratch);
        start + kept
    }
}

/// The open node with the largest gain (the first of equals).
fn best_open(open: &[Open]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, o) in open.iter().enumerate() {
        if best.is_none_or(|b| o.split.gain > open[b].split.gain) {
            best = Some(i);
        }
    }
    best
}
