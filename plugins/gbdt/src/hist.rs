//! Gradient histograms, the hot loop of boosting: for a node, every
//! feature's bins with the sums of the gradients and hessians of the node's
//! rows that fall in the bin, and their count. A node's histogram is built
//! from its rows (the smaller child) or as its parent's minus its
//! sibling's (the larger child), which costs bins instead of rows.

use mlhost_cart::Binned;

/// Bins per feature in a histogram (codes are `u8`).
pub(crate) const STRIDE: usize = 256;

/// One bin: `[gradient sum, hessian sum, rows]`, all `f64` (the sums over
/// `f32` terms, as scikit-learn; the count exact below 2^53) so that a
/// whole histogram is one flat `f64` slice and subtraction vectorizes.
pub(crate) type Bin = [f64; 3];
/// Index of the gradient sum in a [`Bin`].
pub(crate) const G: usize = 0;
/// Index of the hessian sum in a [`Bin`].
pub(crate) const H: usize = 1;
/// Index of the row count in a [`Bin`].
pub(crate) const N: usize = 2;

/// Features histogrammed in one pass over a node's rows: each row's index
/// and gradients are loaded once for all of them, and the bins of
/// different features are independent additions the CPU overlaps.
const GROUP: usize = 4;

/// Every feature's bins, `STRIDE` per feature.
#[derive(Debug)]
pub(crate) struct Histogram {
    bins: Vec<Bin>,
}

impl Histogram {
    /// An empty histogram for `features` features.
    pub(crate) fn new(features: usize) -> Histogram {
        Histogram { bins: vec![[0.0; 3]; features * STRIDE] }
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
        self.bins.as_flattened_mut().fill(0.0);
        let codes: Vec<&[u8]> = data.codes.iter().map(Vec::as_slice).collect();
        for (hist, codes) in self.bins.chunks_mut(GROUP * STRIDE).zip(codes.chunks(GROUP)) {
            if let Ok(group) = <&mut [Bin; GROUP * STRIDE]>::try_from(&mut *hist) {
                if constant_hessian {
                    accumulate_group::<false>(group, codes, rows, gh);
                } else {
                    accumulate_group::<true>(group, codes, rows, gh);
                }
                continue;
            }
            for (hist, codes) in hist.chunks_exact_mut(STRIDE).zip(codes) {
                let hist = hist.try_into().expect("STRIDE bins");
                accumulate(hist, codes, rows, gh, !constant_hessian);
            }
        }
    }

    /// Turns the parent's histogram (`self`) into its other child's by
    /// subtracting one child's.
    pub(crate) fn subtract(&mut self, child: &Histogram) {
        let parent = self.bins.as_flattened_mut();
        for (p, c) in parent.iter_mut().zip(child.bins.as_flattened()) {
            *p -= c;
        }
    }
}

/// `GROUP` features' bins in one pass over the rows; hessians summed when
/// `HESSIAN`.
fn accumulate_group<const HESSIAN: bool>(
    hist: &mut [Bin; GROUP * STRIDE],
    codes: &[&[u8]],
    rows: &[u32],
    gh: &[[f32; 2]],
) {
    let [c0, c1, c2, c3] = [codes[0], codes[1], codes[2], codes[3]];
    let (h0, rest) = hist.split_at_mut(STRIDE);
    let (h1, rest) = rest.split_at_mut(STRIDE);
    let (h2, h3) = rest.split_at_mut(STRIDE);
    let hists: [&mut [Bin; STRIDE]; GROUP] =
        [h0, h1, h2, h3].map(|h| h.try_into().expect("STRIDE"));
    let [h0, h1, h2, h3] = hists;
    for (&r, &[g, h]) in rows.iter().zip(gh) {
        let r = r as usize;
        let (g, h) = (f64::from(g), f64::from(h));
        for (hist, code) in
            [(&mut *h0, c0[r]), (&mut *h1, c1[r]), (&mut *h2, c2[r]), (&mut *h3, c3[r])]
        {
            let bin = &mut hist[usize::from(code)];
            bin[G] += g;
            if HESSIAN {
                bin[H] += h;
            }
            bin[N] += 1.0;
        }
    }
}

/// One feature's bins.
fn accumulate(
    hist: &mut [Bin; STRIDE],
    codes: &[u8],
    rows: &[u32],
    gh: &[[f32; 2]],
    hessian: bool,
) {
    for (&r, &[g, h]) in rows.iter().zip(gh) {
        let bin = &mut hist[usize::from(codes[r as usize])];
        bin[G] += f64::from(g);
        if hessian {
            bin[H] += f64::from(h);
        }
        bin[N] += 1.0;
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
                assert!((a[G] - b[G]).abs() < 1e-9 && (a[H] - b[H]).abs() < 1e-9 && a[N] == b[N]);
            }
        }
        assert_eq!(right.feature(1).iter().map(|b| b[N]).sum::<f64>(), 13.0);
    }
}
