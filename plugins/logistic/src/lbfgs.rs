//! Limited-memory BFGS for a smooth unconstrained objective, stopped the way
//! scipy's L-BFGS-B stops for scikit-learn's `LogisticRegression`: the
//! largest gradient component at most `gtol`, a relative decrease of the
//! objective at most `ftol`, or `max_iter` iterations.
//!
//! The line search backtracks from the quasi-Newton step (Armijo); a pair
//! that would break the curvature condition is not remembered, so the
//! inverse-Hessian estimate stays positive definite.

use std::collections::VecDeque;

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Most iterations (scikit-learn's `max_iter`).
    pub(crate) max_iter: u64,
    /// Largest gradient component at the solution (scikit-learn's `tol`).
    pub(crate) gtol: f64,
    /// Relative objective decrease below which to stop (scipy's `factr` × eps).
    pub(crate) ftol: f64,
    /// Correction pairs kept (scipy's `maxcor`).
    pub(crate) memory: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_iter: 100, gtol: 1e-4, ftol: 64.0 * f64::EPSILON, memory: 10 }
    }
}

/// How a minimization ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    /// Iterations done.
    pub(crate) iterations: u64,
    /// Objective at the returned point.
    pub(crate) value: f64,
    /// Whether the gradient or decrease test passed (else out of iterations,
    /// or the line search found no decrease).
    pub(crate) converged: bool,
}

/// One remembered step: `s` = x change, `y` = gradient change, `rho` = 1 / s·y.
struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(g: &[f64]) -> f64 {
    g.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The search direction -H g by the two-loop recursion.
fn direction(g: &[f64], pairs: &VecDeque<Pair>, d: &mut [f64]) {
    d.iter_mut().zip(g).for_each(|(d, g)| *d = -g);
    let mut alpha = vec![0.0; pairs.len()];
    for (i, p) in pairs.iter().enumerate().rev() {
        alpha[i] = p.rho * dot(&p.s, d);
        d.iter_mut().zip(&p.y).for_each(|(d, y)| *d -= alpha[i] * y);
    }
    if let Some(last) = pairs.back() {
        let gamma = 1.0 / (last.rho * dot(&last.y, &last.y));
        d.iter_mut().for_each(|d| *d *= gamma);
    }
    for (i, p) in pairs.iter().enumerate() {
        let beta = p.rho * dot(&p.y, d);
        d.iter_mut().zip(&p.s).for_each(|(d, s)| *d += (alpha[i] - beta) * s);
    }
}

/// Minimizes `f` from `x` (updated in place). `f(x, grad)` returns the
/// objective and writes its gradient.
pub(crate) fn minimize(
    x: &mut [f64],
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    opts: Options,
) -> Outcome {
    let n = x.len();
    let (mut g, mut g_new, mut d, mut x_new) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut fx = f(x, &mut g);
    let mut pairs: VecDeque<Pair> = VecDeque::with_capacity(opts.memory);
    let mut out = Outcome { iterations: 0, value: fx, converged: max_abs(&g) <= opts.gtol };
    while !out.converged && out.iterations < opts.max_iter {
        out.iterations += 1;
        direction(&g, &pairs, &mut d);
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (rounding): restart from steepest descent.
            pairs.clear();
            d.iter_mut().zip(&g).for_each(|(d, g)| *d = -g);
            slope = -dot(&g, &g);
        }
        // Without curvature information the first step is scaled to unit length.
        let mut step = if pairs.is_empty() { 1.0 / dot(&d, &d).sqrt() } else { 1.0 };
        let f_new = loop {
            x_new.iter_mut().zip(x.iter().zip(&d)).for_each(|(n, (x, d))| *n = x + step * d);
            let f_new = f(&x_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * slope {
                break Some(f_new);
            }
            step *= 0.5;
            if step < 1e-20 {
                break None;
            }
        };
        let Some(f_new) = f_new else { break };
        let s: Vec<f64> = x_new.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if pairs.len() == opts.memory {
                pairs.pop_front();
            }
            pairs.push_back(Pair { s, y, rho: 1.0 / sy });
        }
        let decrease = (fx - f_new) / fx.abs().max(f_new.abs()).max(1.0);
        x.copy_from_slice(&x_new);
        std::mem::swap(&mut g, &mut g_new);
        fx = f_new;
        out.value = fx;
        out.converged = max_abs(&g) <= opts.gtol || decrease <= opts.ftol;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_the_rosenbrock_valley() {
        let rosen = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            g[0] = -2.0 * a - 400.0 * x[0] * b;
            g[1] = 200.0 * b;
            a * a + 100.0 * b * b
        };
        let mut x = [-1.2, 1.0];
        let opts = Options { max_iter: 200, gtol: 1e-8, ..Options::default() };
        let out = minimize(&mut x, rosen, opts);
        assert!(out.converged, "{out:?}");
        assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn stops_at_max_iter() {
        let mut x = [-1.2, 1.0];
        let rosen = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 1.0) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200.0 * (x[1] - x[0] * x[0]);
            (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
        };
        let out = minimize(&mut x, rosen, Options { max_iter: 3, ..Options::default() });
        assert_eq!((out.iterations, out.converged), (3, false));
    }
}
