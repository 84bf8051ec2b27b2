//! scikit-learn's `LogisticRegression` objective and its gradient, in one
//! pass over the row-major training rows: the mean log loss plus
//! `||w||² / (2 C n)` (the intercepts are not penalized), which is the summed
//! loss + `||w||² / (2C)` divided by `n` so that `tol` means what it means
//! in scikit-learn.
//!
//! Parameters are laid out as the weights, one row of `cols` per output,
//! then one intercept per output (none without `fit_intercept`).

use mlhost_plugin_api::Matrix;

/// The training data and penalty of one fit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Problem<'a> {
    pub(crate) x: Matrix<'a>,
    /// Per row, the index of its class among the fitted outputs (binary: 1
    /// for the positive class, 0 otherwise).
    pub(crate) target: &'a [usize],
    /// Inverse regularization strength.
    pub(crate) c: f64,
    pub(crate) fit_intercept: bool,
}

/// Dot product with four accumulators, so the compiler can vectorize it.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..4 {
            acc[i] += x[i] * y[i];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `y += a * x`.
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

/// `log(1 + exp(-s))` without overflow, and `exp(-|s|)` for reuse.
fn log1p_exp_neg(s: f64) -> (f64, f64) {
    let e = (-s.abs()).exp();
    ((-s).max(0.0) + e.ln_1p(), e)
}

impl Problem<'_> {
    /// Parameters for `outputs` outputs.
    pub(crate) fn len(&self, outputs: usize) -> usize {
        outputs * (self.x.cols() + usize::from(self.fit_intercept))
    }

    /// Adds the penalty to the summed loss and gradient, then divides by n.
    fn finish(&self, theta: &[f64], outputs: usize, loss: f64, grad: &mut [f64]) -> f64 {
        let w = &theta[..outputs * self.x.cols()];
        let penalty = dot(w, w) / (2.0 * self.c);
        axpy(1.0 / self.c, w, &mut grad[..w.len()]);
        let n = self.x.rows() as f64;
        grad.iter_mut().for_each(|g| *g /= n);
        (loss + penalty) / n
    }

    /// Binary objective (one output: the positive class's logit).
    pub(crate) fn binary(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let cols = self.x.cols();
        let (w, b) = (&theta[..cols], theta.get(cols).copied().unwrap_or(0.0));
        grad.fill(0.0);
        let (gw, gb) = grad.split_at_mut(cols);
        let mut loss = 0.0;
        for (row, &t) in self.x.iter_rows().zip(self.target) {
            let z = dot(w, row) + b;
            // s = z for the positive class, -z otherwise: loss log(1 + e^-s).
            let s = if t == 1 { z } else { -z };
            let (l, e) = log1p_exp_neg(s);
            loss += l;
            let p = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
            let r = p - t as f64;
            axpy(r, row, gw);
            if let Some(gb) = gb.first_mut() {
                *gb += r;
            }
        }
        self.finish(theta, 1, loss, grad)
    }

    /// Multinomial objective over `k` outputs (softmax of the logits).
    pub(crate) fn multinomial(&self, theta: &[f64], k: usize, grad: &mut [f64]) -> f64 {
        let cols = self.x.cols();
        let (w, b) = theta.split_at(k * cols);
        grad.fill(0.0);
        let (gw, gb) = grad.split_at_mut(k * cols);
        let (mut z, mut loss) = (vec![0.0; k], 0.0);
        for (row, &t) in self.x.iter_rows().zip(self.target) {
            for (c, z) in z.iter_mut().enumerate() {
                *z = dot(&w[c * cols..(c + 1) * cols], row) + b.get(c).copied().unwrap_or(0.0);
            }
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let true_logit = z[t] - max;
            z.iter_mut().for_each(|v| *v = (*v - max).exp());
            let sum: f64 = z.iter().sum();
            // log-sum-exp minus the true class's logit, both shifted by max.
            loss += sum.ln() - true_logit;
            for (c, e) in z.iter().enumerate() {
                let r = e / sum - f64::from(u8::from(c == t));
                axpy(r, row, &mut gw[c * cols..(c + 1) * cols]);
                if let Some(gb) = gb.get_mut(c) {
                    *gb += r;
                }
            }
        }
        self.finish(theta, k, loss, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic gradient against central differences.
    fn check_gradient(p: &Problem<'_>, k: usize) {
        let f =
            |t: &[f64], g: &mut [f64]| if k == 1 { p.binary(t, g) } else { p.multinomial(t, k, g) };
        let n = p.len(k);
        let theta: Vec<f64> = (0..n).map(|i| 0.3 - 0.1 * i as f64).collect();
        let mut grad = vec![0.0; n];
        f(&theta, &mut grad);
        let mut scratch = vec![0.0; n];
        for i in 0..n {
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let numeric = (f(&up, &mut scratch) - f(&down, &mut scratch)) / 2e-6;
            assert!((numeric - grad[i]).abs() < 1e-6, "{i}: {numeric} vs {}", grad[i]);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = [0.5, -1.0, 2.0, 0.1, -0.3, 0.7, 1.5, 1.5, -2.0, 0.0];
        let x = Matrix::new(&x, 5, 2).unwrap();
        for fit_intercept in [true, false] {
            let binary = Problem { x, target: &[0, 1, 1, 0, 1], c: 0.7, fit_intercept };
            check_gradient(&binary, 1);
            let multi = Problem { target: &[0, 2, 1, 0, 2], ..binary };
            check_gradient(&multi, 3);
        }
    }

    #[test]
    fn loss_at_zero_is_log_of_the_class_count() {
        let x = Matrix::new(&[1.0, 2.0, 3.0], 3, 1).unwrap();
        let p = Problem { x, target: &[0, 1, 2], c: 1.0, fit_intercept: true };
        let mut g = vec![0.0; p.len(3)];
        assert!((p.multinomial(&vec![0.0; p.len(3)], 3, &mut g) - 3f64.ln()).abs() < 1e-15);
        let p = Problem { target: &[0, 1, 1], ..p };
        assert!((p.binary(&[0.0, 0.0], &mut g[..2]) - 2f64.ln()).abs() < 1e-15);
    }
}
