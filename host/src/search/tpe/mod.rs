//! The tree-structured Parzen estimator (Bergstra et al. 2011), as Optuna's
//! `TPESampler(multivariate=True, constant_liar=True)` does it:
//!
//! - the first `startup` trials are random;
//! - then the finished trials are split into the best `gamma(n) =
//!   min(ceil(0.1 n), 25)` ("below") and the rest ("above"); pending trials
//!   count as above (the constant liar), so two workers do not propose the
//!   same point;
//! - each group, in trial order, becomes a Parzen mixture over the joint
//!   space as Optuna 5.0 builds it: one kernel per trial plus a prior
//!   kernel, weighted 1 each except that past 25 trials the oldest ramp
//!   down (Optuna's `default_weights`); a truncated normal per numeric
//!   dimension (in the logarithm for log dimensions; ints as reals in
//!   `[low - 0.5, high + 0.5]`, rounded) whose width is the larger gap to
//!   its neighbouring observations (the range's ends count as neighbours,
//!   except for the outermost two), clipped to `[(high - low) / min(100, n
//!   + 2), high - low]`, the prior a normal over the middle with the
//!   range's width; and a categorical distribution per listed dimension,
//!   each choice smoothed by `prior_weight / (n + 1)` (the prior's even);
//! - 24 candidates are drawn from "below", and the one maximising
//!   `log l(x) - log g(x)` is proposed.
//!
//! Values are minimised; the caller negates a metric to maximise.

use mlhost_plugin_api::{ParamValue, SeededRng};

use crate::search::sample::{Point, random};
use crate::search::space::{Domain, Space};

/// TPE's settings (Optuna's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tpe {
    /// Random trials before the model is used.
    pub startup: usize,
    /// Candidates drawn from l(x) per proposal.
    pub candidates: usize,
    /// Weight of the prior kernel.
    pub prior_weight: f64,
}

impl Default for Tpe {
    fn default() -> Self {
        Tpe { startup: 10, candidates: 24, prior_weight: 1.0 }
    }
}

/// A finished trial: where it was and what it scored (lower is better).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Its parameters, in the space's order.
    pub point: Point,
    /// Its value, to be minimised.
    pub value: f64,
}

/// One dimension in TPE's coordinates.
#[derive(Debug, Clone, Copy)]
enum Axis {
    /// A real coordinate in `[low, high]`.
    Real { low: f64, high: f64 },
    /// An index among `n` listed values.
    Index { n: usize },
}

impl Tpe {
    /// The next point to try, given the finished trials (in trial order)
    /// and those still running (`pending`).
    pub fn propose(
        &self,
        space: &Space,
        finished: &[Observed],
        pending: &[Point],
        rng: &mut SeededRng,
    ) -> Point {
        if finished.len() < self.startup || space.dims.is_empty() {
            return random(space, rng);
        }
        let axes: Vec<Axis> = space.dims.iter().map(|d| axis(&d.domain)).collect();
        // The best gamma(n) are below, the rest above; each group stays in
        // trial order (the weights depend on it), the running trials last.
        let mut by_value: Vec<usize> = (0..finished.len()).collect();
        by_value.sort_by(|&a, &b| finished[a].value.total_cmp(&finished[b].value));
        let mut is_below = vec![false; finished.len()];
        by_value[..gamma(finished.len())].iter().for_each(|&i| is_below[i] = true);
        let coords = |p: &Point| -> Vec<f64> {
            space.dims.iter().zip(p).map(|(d, (_, v))| to_coord(&d.domain, v)).collect()
        };
        let group = |below: bool| finished.iter().zip(&is_below).filter(move |(_, b)| **b == below);
        let below: Vec<Vec<f64>> = group(true).map(|(o, _)| coords(&o.point)).collect();
        let above: Vec<Vec<f64>> =
            group(false).map(|(o, _)| coords(&o.point)).chain(pending.iter().map(coords)).collect();
        let l = Parzen::new(&axes, &below, self.prior_weight);
        let g = Parzen::new(&axes, &above, self.prior_weight);
        let best = (0..self.candidates.max(1))
            .map(|_| l.sample(rng))
            .map(|x| {
                let score = l.log_pdf(&x) - g.log_pdf(&x);
                (x, score)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("at least one candidate")
            .0;
        space
            .dims
            .iter()
            .zip(best)
            .map(|(d, c)| (d.name.clone(), from_coord(&d.domain, c)))
            .collect()
    }
}

/// How many of `n` finished trials count as good.
fn gamma(n: usize) -> usize {
    (n.div_ceil(10)).clamp(1, 25)
}

fn axis(domain: &Domain) -> Axis {
    match *domain {
        Domain::Float { low, high, log } if log => Axis::Real { low: low.ln(), high: high.ln() },
        Domain::Float { low, high, .. } => Axis::Real { low, high },
        Domain::Int { low, high, log } => {
            let (lo, hi) = (low as f64 - 0.5, high as f64 + 0.5);
            if log {
                Axis::Real { low: lo.max(0.5).ln(), high: hi.ln() }
            } else {
                Axis::Real { low: lo, high: hi }
            }
        }
        Domain::Values(ref v) => Axis::Index { n: v.len() },
    }
}

fn to_coord(domain: &Domain, value: &ParamValue) -> f64 {
    let number = match value {
        ParamValue::Float(f) => *f,
        ParamValue::Int(i) => *i as f64,
        _ => 0.0,
    };
    match domain {
        Domain::Float { log: true, .. } | Domain::Int { log: true, .. } => number.ln(),
        Domain::Float { .. } | Domain::Int { .. } => number,
        Domain::Values(values) => values.iter().position(|v| v == value).unwrap_or(0) as f64,
    }
}

fn from_coord(domain: &Domain, c: f64) -> ParamValue {
    match domain {
        Domain::Float { low, high, log } => {
            let v = if *log { c.exp() } else { c };
            ParamValue::Float(v.clamp(*low, *high))
        }
        Domain::Int { low, high, log } => {
            let v = if *log { c.exp() } else { c };
            ParamValue::Int((v.round() as i64).clamp(*low, *high))
        }
        Domain::Values(values) => values[(c as usize).min(values.len() - 1)].clone(),
    }
}

/// One kernel of a mixture: its weight and, per axis, (centre, bandwidth)
/// for a real axis or (observed index, 0) for an index axis; `None` for the
/// prior.
type Kernel = (f64, Vec<Option<(f64, f64)>>);

/// A Parzen mixture: one kernel per observation plus the prior.
struct Parzen<'a> {
    axes: &'a [Axis],
    kernels: Vec<Kernel>,
    /// What a categorical kernel gives every choice besides its own:
    /// `prior_weight / (n + 1)`.
    spread: f64,
}

impl<'a> Parzen<'a> {
    /// The mixture of `points`, oldest first (the weights depend on it).
    fn new(axes: &'a [Axis], points: &[Vec<f64>], prior_weight: f64) -> Parzen<'a> {
        let n = points.len();
        let widths: Vec<Vec<f64>> = axes
            .iter()
            .enumerate()
            .map(|(j, a)| match *a {
                Axis::Real { low, high } => {
                    let xs: Vec<f64> = points.iter().map(|p| p[j]).collect();
                    neighbour_widths(&xs, low, high)
                }
                Axis::Index { .. } => vec![0.0; n],
            })
            .collect();
        let mut kernels: Vec<Kernel> = default_weights(n)
            .into_iter()
            .zip(points)
            .enumerate()
            .map(|(i, (w, p))| {
                let per_axis = p.iter().zip(&widths).map(|(&x, s)| Some((x, s[i]))).collect();
                (w, per_axis)
            })
            .collect();
        kernels.push((prior_weight, vec![None; axes.len()]));
        let total: f64 = kernels.iter().map(|k| k.0).sum();
        kernels.iter_mut().for_each(|k| k.0 /= total);
        Parzen { axes, kernels, spread: prior_weight / (n + 1) as f64 }
    }

    fn sample(&self, rng: &mut SeededRng) -> Vec<f64> {
        let mut u = rng.uniform();
        let kernel = self
            .kernels
            .iter()
            .find(|k| {
                u -= k.0;
                u < 0.0
            })
            .unwrap_or_else(|| self.kernels.last().expect("the prior"));
        self.axes
            .iter()
            .zip(&kernel.1)
            .map(|(a, k)| match (*a, *k) {
                (Axis::Real { low, high }, Some((mu, sigma))) => {
                    truncated_normal(mu, sigma, low, high, rng)
                }
                (Axis::Real { low, high }, None) => {
                    truncated_normal((low + high) / 2.0, high - low, low, high, rng)
                }
                (Axis::Index { n }, Some((i, _))) => self.categorical(n, Some(i as usize), rng),
                (Axis::Index { n }, None) => rng.below(n) as f64,
            })
            .collect()
    }

    /// An observation's categorical kernel: its own index, every index
    /// smoothed by `spread`.
    fn categorical(&self, n: usize, at: Option<usize>, rng: &mut SeededRng) -> f64 {
        let total = 1.0 + n as f64 * self.spread;
        let mut u = rng.uniform() * total;
        for i in 0..n {
            u -= self.spread + if Some(i) == at { 1.0 } else { 0.0 };
            if u < 0.0 {
                return i as f64;
            }
        }
        (n - 1) as f64
    }

    fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = self
            .kernels
            .iter()
            .map(|(w, k)| {
                let mut lp = w.ln();
                for ((a, k), &v) in self.axes.iter().zip(k).zip(x) {
                    lp += match (*a, *k) {
                        (Axis::Real { low, high }, Some((mu, s))) => {
                            truncated_log_pdf(v, mu, s, low, high)
                        }
                        (Axis::Real { low, high }, None) => {
                            truncated_log_pdf(v, (low + high) / 2.0, high - low, low, high)
                        }
                        (Axis::Index { n }, Some((i, _))) => {
                            let hit = if v as usize == i as usize { 1.0 } else { 0.0 };
                            ((self.spread + hit) / (1.0 + n as f64 * self.spread)).ln()
                        }
                        (Axis::Index { n }, None) => -(n as f64).ln(),
                    };
                }
                lp
            })
            .collect();
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }
}

/// Optuna's `default_weights`: 1 each, except that of more than 25
/// observations the oldest `n - 25` ramp from `1/n` up to 1.
fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let step = |i: usize| {
        if ramp == 1 {
            1.0 / n as f64
        } else {
            1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64
        }
    };
    (0..ramp).map(step).chain(std::iter::repeat_n(1.0, 25)).collect()
}

/// Each observation's kernel width on one axis, as Optuna 5.0 computes it:
/// the larger gap to its neighbours in sorted order, the range's ends
/// counting as neighbours except for the lowest and highest of two or
/// more (their inner gap alone), clipped to `[range / min(100, n + 2),
/// range]`.
fn neighbour_widths(xs: &[f64], low: f64, high: f64) -> Vec<f64> {
    let n = xs.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let ends: Vec<f64> = std::iter::once(low)
        .chain(order.iter().map(|&i| xs[i]))
        .chain(std::iter::once(high))
        .collect();
    let mut sorted: Vec<f64> =
        (0..n).map(|k| (ends[k + 1] - ends[k]).max(ends[k + 2] - ends[k + 1])).collect();
    if n >= 2 {
        sorted[0] = ends[2] - ends[1];
        sorted[n - 1] = ends[n] - ends[n - 1];
    }
    let range = high - low;
    let floor = range / 100f64.min(n as f64 + 2.0);
    let mut widths = vec![0.0; n];
    for (k, &i) in order.iter().enumerate() {
        widths[i] = sorted[k].clamp(floor, range);
    }
    widths
}

fn truncated_normal(mu: f64, sigma: f64, low: f64, high: f64, rng: &mut SeededRng) -> f64 {
    for _ in 0..100 {
        // Box-Muller; 1 - uniform() keeps the logarithm finite.
        let (u1, u2) = (1.0 - rng.uniform(), rng.uniform());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let x = mu + sigma * z;
        if (low..=high).contains(&x) {
            return x;
        }
    }
    mu.clamp(low, high)
}

fn truncated_log_pdf(x: f64, mu: f64, sigma: f64, low: f64, high: f64) -> f64 {
    let z = (x - mu) / sigma;
    let mass = phi((high - mu) / sigma) - phi((low - mu) / sigma);
    -0.5 * z * z - (sigma * (std::f64::consts::TAU).sqrt()).ln() - mass.max(1e-300).ln()
}

/// The standard normal CDF.
fn phi(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// erf to about 1e-7 (Abramowitz & Stegun 7.1.26), enough for weights.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

#[cfg(test)]
mod tests;
