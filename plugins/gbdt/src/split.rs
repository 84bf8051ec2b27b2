//! The best split of a node from its histogram, as scikit-learn's
//! `Splitter.find_node_split` (left to right, no missing-value bin): for
//! each feature, each bin boundary leaves the bins up to it on the left;
//! the gain is the node's loss minus its children's, where a node holding
//! gradient sum G and hessian sum H has value −G/(H + λ) and loss G·value.
//! The first feature, then the first bin, of the largest gain wins.

use crate::hist::{Bin, G, H, Histogram, N};

/// A split is not considered when a side's hessian sum is below this
/// (scikit-learn's `min_hessian_to_split`).
pub(crate) const MIN_HESSIAN: f64 = 1e-3;

/// What a split search needs to know of the tree's rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Rows each child keeps at least.
    pub(crate) min_samples_leaf: usize,
    /// λ, added to every hessian sum.
    pub(crate) l2: f64,
    /// Hessians are all 1: the counts are their sums.
    pub(crate) constant_hessian: bool,
}

/// A node's gradient and hessian sums and rows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sums {
    pub(crate) g: f64,
    pub(crate) h: f64,
    pub(crate) n: usize,
}

impl Sums {
    /// The node's value before shrinkage: −G/(H + λ) (scikit-learn adds
    /// 1e-15 against a zero denominator).
    pub(crate) fn value(self, l2: f64) -> f64 {
        -self.g / (self.h + l2 + 1e-15)
    }
}

/// The chosen split: rows whose bin is ≤ `bin` go left.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    /// Node loss minus the children's (the node's loss taken as 0 at the
    /// root, as scikit-learn's root has value 0): only compared within a node.
    pub(crate) gain: f64,
    pub(crate) feature: usize,
    pub(crate) bin: usize,
    pub(crate) left: Sums,
    pub(crate) right: Sums,
}

impl Split {
    /// The reduction of the loss this split brings (feature importance):
    /// G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ), whatever the node's value.
    pub(crate) fn improvement(&self, l2: f64) -> f64 {
        let parent = Sums {
            g: self.left.g + self.right.g,
            h: self.left.h + self.right.h,
            n: self.left.n + self.right.n,
        };
        let loss = |s: Sums| s.g * s.value(l2);
        loss(parent) - loss(self.left) - loss(self.right)
    }
}

/// The best split of a node with sums `node` and value `value` (0 for
/// the root), or `None` when no split has a positive gain within the rules.
pub(crate) fn best_split(
    hist: &Histogram,
    bins: &[usize],
    node: Sums,
    value: f64,
    rules: Rules,
) -> Option<Split> {
    let current = node.g * value;
    let mut best: Option<Split> = None;
    for (f, &n_bins) in bins.iter().enumerate() {
        if let Some(s) = best_in_feature(&hist.feature(f)[..n_bins], f, node, current, rules) {
            if best.is_none_or(|b| s.gain > b.gain) {
                best = Some(s);
            }
        }
    }
    best
}

/// The best boundary of one feature's `bins` (the last bin never splits:
/// nothing would go right).
///
/// The children's part of the gain, G_L²/D_L + G_R²/D_R with D = H + λ,
/// is compared as the fraction (G_L²·D_R + G_R²·D_L) / (D_L·D_R) by cross
/// multiplication (every D is positive): no division per bin, which was
/// half of the fit. The winner's gain is then computed as scikit-learn does.
fn best_in_feature(
    bins: &[Bin],
    f: usize,
    node: Sums,
    current: f64,
    rules: Rules,
) -> Option<Split> {
    let d = rules.l2 + 1e-15;
    let (msl, total) = (rules.min_samples_leaf as f64, node.n as f64);
    // Running left sums, the count as f64 too: no float-to-int per bin.
    let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0.0);
    let mut best: Option<(usize, f64, f64, f64)> = None;
    let (mut best_num, mut best_den) = (0.0, 1.0);
    for (b, bin) in bins.iter().enumerate().take(bins.len().saturating_sub(1)) {
        if bin[N] == 0.0 {
            // The same boundary as the bin before: same sums, same gain.
            continue;
        }
        nl += bin[N];
        hl += if rules.constant_hessian { bin[N] } else { bin[H] };
        gl += bin[G];
        let (gr, hr, nr) = (node.g - gl, node.h - hl, total - nl);
        if nl < msl || hl < MIN_HESSIAN {
            continue;
        }
        if nr < msl || hr < MIN_HESSIAN {
            break;
        }
        let (dl, dr) = (hl + d, hr + d);
        let (num, den) = (gl * gl * dr + gr * gr * dl, dl * dr);
        if best.is_none() || num * best_den > best_num * den {
            (best_num, best_den) = (num, den);
            best = Some((b, gl, hl, nl));
        }
    }
    let (bin, g, h, n) = best?;
    let left = Sums { g, h, n: n as usize };
    let right = Sums { g: node.g - left.g, h: node.h - left.h, n: node.n - left.n };
    let gain = current - left.g * left.value(rules.l2) - right.g * right.value(rules.l2);
    (gain > 0.0).then_some(Split { gain, feature: f, bin, left, right })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::Histogram;
    use mlhost_cart::Binned;
    use mlhost_plugin_api::Matrix;

    #[test]
    fn splits_where_the_gradients_change_sign_and_respects_min_samples_leaf() {
        // Feature 0 is noise, feature 1 separates negative from positive
        // gradients between values 5 and 6.
        let x: Vec<f64> = (0..12).flat_map(|i| [f64::from(i % 3), f64::from(i)]).collect();
        let rows: Vec<u32> = (0..12).collect();
        let data = Binned::quantiles(Matrix::new(&x, 12, 2).unwrap(), &rows, 255);
        let gh: Vec<[f32; 2]> = (0..12).map(|i| [if i < 6 { -1.0 } else { 1.0 }, 1.0]).collect();
        let mut hist = Histogram::new(2);
        hist.build(&data, &rows, &gh, true);
        let bins = [data.bins(0), data.bins(1)];
        let node = Sums { g: 0.0, h: 12.0, n: 12 };
        let rules = Rules { min_samples_leaf: 1, l2: 0.0, constant_hessian: true };
        let s = best_split(&hist, &bins, node, 0.0, rules).unwrap();
        assert_eq!((s.feature, s.bin, s.left.n, s.right.n), (1, 5, 6, 6));
        assert!((s.left.value(0.0) - 1.0).abs() < 1e-9 && (s.improvement(0.0) - 12.0).abs() < 1e-9);
        let strict = Rules { min_samples_leaf: 7, ..rules };
        assert!(best_split(&hist, &bins, node, 0.0, strict).is_none());
    }
}
