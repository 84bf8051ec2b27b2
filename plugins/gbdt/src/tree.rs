//! A fitted regression tree of the ensemble: flat nodes, real-valued
//! thresholds (so prediction needs no bins), leaf values with the learning
//! rate already applied.

use serde::{Deserialize, Serialize};

/// `Node::feature` of a leaf.
pub(crate) const LEAF: u32 = u32::MAX;

/// A split (rows with `x[feature] <= threshold` go to `left`, the others to
/// `left + 1`; a NaN goes left when `nan_left`), or, when `feature` is
/// [`LEAF`], a leaf whose value is `threshold`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Node {
    pub(crate) threshold: f64,
    pub(crate) feature: u32,
    pub(crate) left: u32,
    pub(crate) nan_left: bool,
}

impl Node {
    /// A leaf worth `value`.
    pub(crate) fn leaf(value: f64) -> Node {
        Node { threshold: value, feature: LEAF, left: 0, nan_left: false }
    }
}

/// One tree; node 0 is the root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

impl Tree {
    /// The value of the leaf `row` falls into.
    pub(crate) fn value(&self, row: &[f64]) -> f64 {
        let mut node = self.nodes[0];
        while node.feature != LEAF {
            let v = row[node.feature as usize];
            let left = if v.is_nan() { node.nan_left } else { v <= node.threshold };
            node = self.nodes[node.left as usize + usize::from(!left)];
        }
        node.threshold
    }

    /// Leaves in the tree.
    #[cfg(test)]
    pub(crate) fn leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.feature == LEAF).count()
    }

    /// Depth of the deepest leaf (the root alone is depth 0).
    #[cfg(test)]
    pub(crate) fn depth(&self) -> usize {
        fn walk(t: &Tree, at: usize) -> usize {
            let n = t.nodes[at];
            if n.feature == LEAF {
                0
            } else {
                1 + walk(t, n.left as usize).max(walk(t, n.left as usize + 1))
            }
        }
        walk(self, 0)
    }
}
