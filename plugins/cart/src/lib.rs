//! Histogram CART trees for classification, shared by the `forest` and
//! `tree` reference plugins, and the feature binning the `gbdt` plugin
//! builds its boosted trees on (a library: it exports no plugin).
//!
//! Features are binned once per fit ([`Binned`]: at
//! most 255 bins, cut at midpoints between distinct values, or at
//! quantiles when there are more), then each node's best split found from
//! per-bin class counts: O(rows + bins × classes) per feature and node
//! instead of a sort. Splits keep real-valued thresholds, so prediction
//! needs no bins.

use mlhost_plugin_api::SeededRng;
use serde::{Deserialize, Serialize};

mod bins;
pub use bins::{Binned, MAX_BINS};

/// A node of a fitted tree: a split (rows with `x[feature] <= threshold`
/// go to `left`, the rest to `right`), or, when `feature` is [`LEAF`], a
/// leaf whose class shares start at `leaves[left]`. Flat and small, so a
/// walk down the tree touches few cache lines.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Node {
    feature: u32,
    left: u32,
    right: u32,
    threshold: f64,
}

/// `Node::feature` of a leaf.
const LEAF: u32 = u32::MAX;

/// A fitted tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tree {
    /// Node 0 is the root.
    nodes: Vec<Node>,
    /// The leaves' class shares, `classes` per leaf.
    leaves: Vec<f64>,
    classes: usize,
    /// Each feature's total weighted impurity decrease.
    pub importance: Vec<f64>,
}

impl Tree {
    /// The class shares for one row.
    pub fn proba(&self, row: &[f64]) -> &[f64] {
        let mut node = self.nodes[0];
        while node.feature != LEAF {
            // NaN goes right, as a value above every threshold.
            let next =
                if row[node.feature as usize] <= node.threshold { node.left } else { node.right };
            node = self.nodes[next as usize];
        }
        let at = node.left as usize;
        &self.leaves[at..at + self.classes]
    }
}

/// Node impurity: scikit-learn's `gini` or `entropy` (log base 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Criterion {
    /// 1 − Σ p².
    Gini,
    /// −Σ p log₂ p.
    Entropy,
}

impl Criterion {
    fn impurity(self, counts: &[f64], n: f64) -> f64 {
        match self {
            Criterion::Gini => 1.0 - counts.iter().map(|c| (c / n) * (c / n)).sum::<f64>(),
            Criterion::Entropy => {
                -counts.iter().filter(|c| **c > 0.0).map(|c| (c / n) * (c / n).log2()).sum::<f64>()
            }
        }
    }
}

/// How a tree grows.
#[derive(Debug, Clone, Copy)]
pub struct Growth {
    /// Features tried per split (at least this many non-constant ones).
    pub max_features: usize,
    /// 0 = unlimited.
    pub max_depth: u32,
    /// Fewer distinct rows than this: a leaf.
    pub min_samples_split: usize,
    /// Each side of a split keeps at least this many distinct rows.
    pub min_samples_leaf: usize,
    /// How a split is scored.
    pub criterion: Criterion,
    /// Classes.
    pub classes: usize,
}

/// Grows one tree on `rows` (distinct rows) weighted by `weight[row]`
/// (bootstrap counts).
pub fn grow(
    data: &Binned,
    y: &[u32],
    weight: &[f64],
    rows: Vec<u32>,
    g: Growth,
    rng: &mut SeededRng,
) -> Tree {
    let placeholder = Node { feature: LEAF, left: 0, right: 0, threshold: 0.0 };
    let mut tree = Tree {
        nodes: vec![placeholder],
        leaves: Vec::new(),
        classes: g.classes,
        importance: vec![0.0; data.codes.len()],
    };
    let mut hist = vec![0.0; MAX_BINS * g.classes];
    let total: f64 = rows.iter().map(|&r| weight[r as usize]).sum();
    // (node index to fill, its rows, depth)
    let mut stack = vec![(0usize, rows, 0u32)];
    while let Some((at, rows, depth)) = stack.pop() {
        let counts = class_counts(&rows, y, weight, g.classes);
        let n: f64 = counts.iter().sum();
        let pure = counts.iter().filter(|c| **c > 0.0).count() <= 1;
        let deep = g.max_depth > 0 && depth >= g.max_depth;
        let split = if pure || deep || rows.len() < g.min_samples_split {
            None
        } else {
            best_split(data, y, weight, &rows, &counts, g, rng, &mut hist)
        };
        let Some(s) = split else {
            tree.nodes[at].left = tree.leaves.len() as u32;
            tree.leaves.extend(counts.iter().map(|c| c / n));
            continue;
        };
        tree.importance[s.feature] += s.gain * n / total;
        let codes = &data.codes[s.feature];
        let (left, right): (Vec<u32>, Vec<u32>) =
            rows.into_iter().partition(|&r| usize::from(codes[r as usize]) <= s.bin);
        let (l, r) = (tree.nodes.len(), tree.nodes.len() + 1);
        tree.nodes.extend([placeholder, placeholder]);
        tree.nodes[at] = Node {
            feature: s.feature as u32,
            threshold: data.edges[s.feature][s.bin],
            left: l as u32,
            right: r as u32,
        };
        stack.push((r, right, depth + 1));
        stack.push((l, left, depth + 1));
    }
    tree
}

fn class_counts(rows: &[u32], y: &[u32], weight: &[f64], k: usize) -> Vec<f64> {
    let mut c = vec![0.0; k];
    for &r in rows {
        c[y[r as usize] as usize] += weight[r as usize];
    }
    c
}

/// A chosen split: rows with bin ≤ `bin` go left.
struct Split {
    feature: usize,
    bin: usize,
    /// Impurity decrease, weighted by the node's share of its rows.
    gain: f64,
}

/// The best split over randomly ordered features, stopping once
/// `max_features` non-constant ones were tried and one split was found (as
/// scikit-learn: constant features do not count, and the search goes on
/// past `max_features` until a valid split exists).
#[allow(clippy::too_many_arguments)]
fn best_split(
    data: &Binned,
    y: &[u32],
    weight: &[f64],
    rows: &[u32],
    counts: &[f64],
    g: Growth,
    rng: &mut SeededRng,
    hist: &mut [f64],
) -> Option<Split> {
    let k = g.classes;
    let n: f64 = counts.iter().sum();
    let parent = g.criterion.impurity(counts, n);
    let mut order: Vec<usize> = (0..data.codes.len()).collect();
    let mut best: Option<Split> = None;
    let mut tried = 0;
    let mut left = vec![0.0; k];
    let mut seen = vec![0usize; MAX_BINS];
    for i in 0..order.len() {
        if tried >= g.max_features && best.is_some() {
            break;
        }
        let pick = i + rng.below(order.len() - i);
        order.swap(i, pick);
        let f = order[i];
        let bins = data.bins(f);
        let hist = &mut hist[..bins * k];
        let codes = &data.codes[f];
        let seen = &mut seen[..bins];
        // Only the bins this node's rows touch, [lo, hi], are read, and
        // they are zeroed again after: a small deep node costs its rows,
        // not 255 bins.
        let (mut lo, mut hi) = (bins, 0);
        for &r in rows {
            let b = usize::from(codes[r as usize]);
            hist[b * k + y[r as usize] as usize] += weight[r as usize];
            seen[b] += 1;
            lo = lo.min(b);
            hi = hi.max(b);
        }
        let occupied =
            (lo..=hi).filter(|b| hist[b * k..(b + 1) * k].iter().any(|c| *c > 0.0)).count();
        if occupied > 1 {
            tried += 1;
            let found =
                scan_bins(hist, seen, (lo, hi), counts, (n, parent), rows.len(), g, &mut left);
            if let Some((bin, gain)) = found
                && best.as_ref().is_none_or(|s| gain > s.gain)
            {
                best = Some(Split { feature: f, bin, gain });
            }
        }
        if lo <= hi {
            hist[lo * k..(hi + 1) * k].fill(0.0);
            seen[lo..=hi].fill(0);
        }
    }
    best
}

/// The best cut of one feature's node histogram `hist` (bins `lo..=hi`
/// occupied; `seen` rows per bin): `(bin, gain)`, rows with bin ≤ `bin`
/// going left. An empty bin leaves the partition as it was at the bin
/// before, so only occupied bins are tried (ties keep the first, as the
/// full scan did).
#[allow(clippy::too_many_arguments)]
fn scan_bins(
    hist: &[f64],
    seen: &[usize],
    (lo, hi): (usize, usize),
    counts: &[f64],
    (n, parent): (f64, f64),
    node_rows: usize,
    g: Growth,
    left: &mut [f64],
) -> Option<(usize, f64)> {
    let k = g.classes;
    let mut right = vec![0.0; k];
    left.fill(0.0);
    let (mut n_left, mut rows_left) = (0.0, 0usize);
    let mut best: Option<(usize, f64)> = None;
    for b in lo..hi {
        if seen[b] == 0 {
            continue;
        }
        for c in 0..k {
            left[c] += hist[b * k + c];
        }
        n_left += hist[b * k..(b + 1) * k].iter().sum::<f64>();
        rows_left += seen[b];
        let n_right = n - n_left;
        if n_left <= 0.0 || n_right <= 0.0 {
            continue;
        }
        if rows_left < g.min_samples_leaf || node_rows - rows_left < g.min_samples_leaf {
            continue;
        }
        for c in 0..k {
            right[c] = counts[c] - left[c];
        }
        let child = (n_left * g.criterion.impurity(left, n_left)
            + n_right * g.criterion.impurity(&right, n_right))
            / n;
        let gain = parent - child;
        if best.is_none_or(|(_, g)| gain > g) {
            best = Some((b, gain));
        }
    }
    best
}

/// The generated dataset of `tests/fixtures/sklearn/mid.py` and what
/// scikit-learn scored on it, for the plugins' accuracy tests.
#[doc(hidden)]
pub mod testdata;
