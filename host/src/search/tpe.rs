//! The tree-structured Parzen estimator (Bergstra et al. 2011), as Optuna's
//! `TPESampler(multivariate=True, constant_liar=True)` does it:
//!
//! - the first `startup` trials are random;
//! - then the finished trials are split into the best `gamma(n) =
//!   min(ceil(0.1 n), 25)` ("below") and the rest ("above"); pending trials
//!   count as above (the constant liar), so two workers do not propose the
//!   same point;
//! - each group becomes a Parzen mixture over the joint space, one kernel
//!   per trial plus a prior kernel: a truncated normal per numeric
//!   dimension (in the logarithm for log dimensions; ints as reals in
//!   `[low - 0.5, high + 0.5]`, rounded) with Scott-style bandwidth
//!   `0.2 n^(-1/(d+4)) (high - low)` clipped below at `(high - low) /
//!   min(100, n + 1)`, and a categorical distribution per listed dimension
//!   (the prior spread evenly);
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
    /// The next point to try, given the finished trials and those still
    /// running (`pending`).
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
        let mut sorted: Vec<&Observed> = finished.iter().collect();
        sorted.sort_by(|a, b| a.value.total_cmp(&b.value));
        let n_below = gamma(finished.len());
        let coords = |p: &Point| -> Vec<f64> {
            space.dims.iter().zip(p).map(|(d, (_, v))| to_coord(&d.domain, v)).collect()
        };
        let below: Vec<Vec<f64>> = sorted[..n_below].iter().map(|o| coords(&o.point)).collect();
        let above: Vec<Vec<f64>> = sorted[n_below..]
            .iter()
            .map(|o| coords(&o.point))
            .chain(pending.iter().map(coords))
            .collect();
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
    prior_weight: f64,
}

impl<'a> Parzen<'a> {
    fn new(axes: &'a [Axis], points: &[Vec<f64>], prior_weight: f64) -> Parzen<'a> {
        let n = points.len();
        let d = axes.len() as f64;
        let mut kernels: Vec<Kernel> = points
            .iter()
            .map(|p| {
                let per_axis = axes
                    .iter()
                    .zip(p)
                    .map(|(a, &x)| match *a {
                        Axis::Real { low, high } => {
                            let range = high - low;
                            let scott = 0.2 * (n.max(1) as f64).powf(-1.0 / (d + 4.0)) * range;
                            let floor = range / (100f64).min(n as f64 + 1.0);
                            Some((x, scott.max(floor)))
                        }
                        Axis::Index { .. } => Some((x, 0.0)),
                    })
                    .collect();
                (1.0, per_axis)
            })
            .collect();
        kernels.push((prior_weight, vec![None; axes.len()]));
        let total: f64 = kernels.iter().map(|k| k.0).sum();
        kernels.iter_mut().for_each(|k| k.0 /= total);
        Parzen { axes, kernels, prior_weight }
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

    /// An observation's categorical kernel: its own index, or the prior's
    /// share spread evenly over all `n`.
    fn categorical(&self, n: usize, at: Option<usize>, rng: &mut SeededRng) -> f64 {
        let spread = self.prior_weight / n as f64;
        let total = 1.0 + self.prior_weight;
        let mut u = rng.uniform() * total;
        for i in 0..n {
            u -= spread + if Some(i) == at { 1.0 } else { 0.0 };
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
                            let spread = self.prior_weight / n as f64;
                            let hit = if v as usize == i as usize { 1.0 } else { 0.0 };
                            ((spread + hit) / (1.0 + self.prior_weight)).ln()
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
mod tests {
    use super::*;
    use crate::search::space::Dimension;

    fn space() -> Space {
        let dim = |name: &str, domain| Dimension { name: name.to_owned(), domain };
        let kinds = ["a", "b", "c"].map(|c| ParamValue::Choice(c.into())).to_vec();
        Space {
            dims: vec![
                dim("c", Domain::Float { low: 1e-4, high: 1e4, log: true }),
                dim("k", Domain::Int { low: 1, high: 100, log: false }),
                dim("kind", Domain::Values(kinds)),
            ],
        }
    }

    /// A smooth objective with its minimum 0 at c = 10, k = 30, kind = b.
    fn objective(p: &Point) -> f64 {
        let (ParamValue::Float(c), ParamValue::Int(k), ParamValue::Choice(kind)) =
            (&p[0].1, &p[1].1, &p[2].1)
        else {
            panic!("{p:?}")
        };
        (c.log10() - 1.0).powi(2) + ((*k as f64 - 30.0) / 25.0).powi(2) + f64::from(kind != "b")
    }

    fn best_after(trials: usize, seed: u64, tpe: bool) -> f64 {
        let (space, mut rng) = (space(), SeededRng::new(seed));
        let mut seen: Vec<Observed> = Vec::new();
        for _ in 0..trials {
            let point = if tpe {
                Tpe::default().propose(&space, &seen, &[], &mut rng)
            } else {
                random(&space, &mut rng)
            };
            seen.push(Observed { value: objective(&point), point });
        }
        seen.iter().map(|o| o.value).fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn tpe_beats_random_search_at_equal_budget() {
        let seeds = 0..10u64;
        let tpe: Vec<f64> = seeds.clone().map(|s| best_after(60, s, true)).collect();
        let rnd: Vec<f64> = seeds.map(|s| best_after(60, s, false)).collect();
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            (v[4] + v[5]) / 2.0
        };
        let wins = tpe.iter().zip(&rnd).filter(|(t, r)| t < r).count();
        let (t, r) = (median(tpe), median(rnd));
        assert!(wins >= 7 && t < r / 2.0, "TPE {t:.4} vs random {r:.4}, {wins}/10 wins");
    }

    #[test]
    fn pending_trials_steer_proposals_apart() {
        let (space, mut rng) = (space(), SeededRng::new(5));
        let mut seen = Vec::new();
        for _ in 0..30 {
            let point = Tpe::default().propose(&space, &seen, &[], &mut rng);
            seen.push(Observed { value: objective(&point), point });
        }
        // Two workers ask at once: the second sees the first as pending.
        let mut rng = SeededRng::new(9);
        let first = Tpe::default().propose(&space, &seen, &[], &mut rng);
        let mut rng = SeededRng::new(9);
        let second = Tpe::default().propose(&space, &seen, std::slice::from_ref(&first), &mut rng);
        assert_ne!(first, second, "the same seed, but the pending point is a lie in g(x)");
    }

    #[test]
    fn erf_and_truncated_density_are_right() {
        assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7);
        assert!((phi(1.96) - 0.975).abs() < 1e-4);
        // A normal truncated to [-1, 1] integrates to 1 there.
        let n = 2000;
        let mass: f64 = (0..n)
            .map(|i| -1.0 + (i as f64 + 0.5) * 2.0 / n as f64)
            .map(|x| truncated_log_pdf(x, 0.3, 0.5, -1.0, 1.0).exp() * 2.0 / n as f64)
            .sum();
        assert!((mass - 1.0).abs() < 1e-3, "{mass}");
    }
}
