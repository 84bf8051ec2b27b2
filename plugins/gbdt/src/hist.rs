//! Gradient histograms, the hot loop of boosting: for a node, every
//! feature's bins with the sums of the gradients and hessians of the node's
//! rows that fall in the bin, and their count. A node's histogram is built
//! from its rows (the smaller child) or as its parent's minus its
//! sibling's (the larger child), which costs bins instead of rows.

use mlhost_cart::Binned;

/// Bins per feature in a histogram (codes are `u8`).
pub(crate) const STRIDE: usize = 256;

/// One bin: gradient and hessian sums (f64, over f32 terms, as
/// scikit-learn), and the rows counted.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bin {
    pub(crate) g: f64,
    pub(crate) h: f64,
    pub(crate) n: u32,
}

/// Every feature's bins, `STRIDE` per feature.
#[derive(Debug)]
pub(crate) struct Histogram {
    bins: Vec<Bin>,
}

impl Histogram {
    /// An empty histogram for `features` features.
    pub(crate) fn new(features: usize) -> Histogram {
        Histogram { bins: vec![Bin::default(); features * STRIDE] }
    }

    /// Feature `f`'s bins.
    pub(crate) fn feature(&self, f: usize) -> &[Bin; STRIDE] {
        self.bins[f * STRIDE..(f + 1) * STRIDE].try_into().expect("STRIDE bins")
    }

    /// Fills the histogram from `rows` (indices into the codes) and their
    /// gradient and hessian pairs `gh` (gathered in the same order, so the
    /// inner loop reads them sequentially). With `constant_hessian` the
    /// hessian sums are left at 0: the counts stand in for them.
    pub(crate) fn build(
        &mut self,
        data: &Binned,
        rows: &[u32],
        gh: &[[f32; 2]],
        constant_hessian: bool,
    ) {
        debug_assert_eq!(rows.len(), gh.len());
        for (f, chunk) in self.bins.chunks_exact_mut(STRIDE).enumerate() {
            let hist: &mut [Bin; STRIDE] = chunk.try_into().expect("STRIDE bins");
            hist.fill(Bin::default());
            let codes = &data.codes[f][..];
            if constant_hessian {
                accumulate_gradients(hist, codes, rows, gh);
            } else {
                accumulate(hist, codes, rows, gh);
            }
        }
    }

    /// Turns the parent's histogram (`self`) into its other child's by
    /// subtracting one child's.
    pub(crate) fn subtract(&mut self, child: &Histogram) {
        for (p, c) in self.bins.iter_mut().zip(&child.bins) {
            p.g -= c.g;
            p.h -= c.h;
            p.n -= c.n;
        }
    }
}

/// Gradient, hessian and count per bin.
fn accumulate(hist: &mut [Bin; STRIDE], codes: &[u8], rows: &[u32], gh: &[[f32; 2]]) {
    for (&r, &[g, h]) in rows.iter().zip(gh) {
        let bin = &mut hist[usize::from(codes[r as usize])];
        bin.g += f64::from(g);
        bin.h += f64::from(h);
        bin.n += 1;
    }
}

/// Gradient and count per bin (hessians are constant).
fn accumulate_gradients(hist: &mut [Bin; STRIDE], codes: &[u8], rows: &[u32], gh: &[[f32; 2]]) {
    for (&r, &[g, _]) in rows.iter().zip(gh) {
        let bin = &mut hist[usize::from(codes[r as usize])];
        bin.g += f64::from(g);
        bin.n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::Matrix;

    #[test]
    fn subtraction_gives_the_siblings_histogram() {
        let x: Vec<f64> = (0..40).map(|i| f64::from(i % 5)).collect();
        let all: Vec<u32> = (0..20).collect();
        let data = Binned::quantiles(Matrix::new(&x, 20, 2).unwrap(), &all, 255);
        let gh: Vec<[f32; 2]> = (0..20).map(|i| [i as f32 - 9.5, 0.25]).collect();
        let (mut parent, mut left, mut right) =
            (Histogram::new(2), Histogram::new(2), Histogram::new(2));
        parent.build(&data, &all, &gh, false);
        left.build(&data, &all[..7], &gh[..7], false);
        right.build(&data, &all[7..], &gh[7..], false);
        parent.subtract(&left);
        for f in 0..2 {
            for (a, b) in parent.feature(f).iter().zip(right.feature(f)) {
                assert!((a.g - b.g).abs() < 1e-9 && (a.h - b.h).abs() < 1e-9 && a.n == b.n);
            }
        }
        assert_eq!(right.feature(1).iter().map(|b| b.n).sum::<u32>(), 13);
    }
}
