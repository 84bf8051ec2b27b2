//! The Wilcoxon signed-rank test exactly as `scipy.stats.wilcoxon(d)` with
//! its defaults (SciPy 1.17: `zero_method="wilcox"`, `correction=False`,
//! two-sided, `method="auto"`):
//!
//! - zeros are dropped from the ranks (but still counted in `n`);
//! - `n > 50`: the normal approximation, z = (R+ − n'(n'+1)/4) / σ with the
//!   tie correction, p = 2·P(Z > |z|) (n' = non-zero differences);
//! - `n ≤ 50`, no ties and no zeros: the exact null distribution of R+,
//!   p = 2·min(P(R+ ≥ r), P(R+ ≤ r)), at most 1;
//! - `n ≤ 13` with ties or zeros: SciPy's permutation test, which with
//!   2^n ≤ 9,999 sign flips enumerates them all: p = 2·min(#{R+* ≤ r},
//!   #{R+* ≥ r}) / 2^n, at most 1;
//! - otherwise (ties or zeros, 13 < n ≤ 50): the normal approximation.

use super::special::normal_sf;

/// The two-sided p-value of the signed-rank test of `d` (NaN when SciPy
/// gives NaN: no differences, or every one zero beyond 13 of them).
pub fn wilcoxon(d: &[f64]) -> f64 {
    let n = d.len();
    if n == 0 {
        return f64::NAN;
    }
    let nonzero: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    let n_zero = n - nonzero.len();
    let (ranks, tie_counts) = average_ranks(&nonzero);
    let has_ties = tie_counts.iter().any(|t| *t > 1);
    // Twice the ranks: whole numbers, so sums compare exactly.
    let twice: Vec<u64> = ranks.iter().map(|r| (2.0 * r).round() as u64).collect();
    let r_plus2: u64 = nonzero.iter().zip(&twice).filter(|(v, _)| **v > 0.0).map(|(_, r)| r).sum();
    if n <= 50 && !has_ties && n_zero == 0 {
        exact(n, r_plus2 / 2)
    } else if n <= 13 {
        permutation(&twice, r_plus2, n_zero)
    } else {
        asymptotic(nonzero.len() as f64, r_plus2 as f64 / 2.0, &tie_counts)
    }
}

/// Average ranks of |v| (1-based) and the size of each group of ties.
fn average_ranks(v: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()));
    let mut ranks = vec![0.0; v.len()];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]].abs() == v[order[i]].abs() {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = rank;
        }
        ties.push(j - i + 1);
        i = j + 1;
    }
    (ranks, ties)
}

/// Exact p of R+ = `r` among `n` untied, non-zero differences.
fn exact(n: usize, r: u64) -> f64 {
    // counts[s] = subsets of {1..n} with sum s (at most 2^50: exact in u64).
    let max = n * (n + 1) / 2;
    let mut counts = vec![0u64; max + 1];
    counts[0] = 1;
    for k in 1..=n {
        for s in (k..=max).rev() {
            counts[s] += counts[s - k];
        }
    }
    let total = 2f64.powi(n as i32);
    let pmf: Vec<f64> = counts.iter().map(|c| *c as f64 / total).collect();
    let mean = (n * (n + 1)) as f64 / 4.0;
    let r = r as usize;
    // SciPy: cdf(k) sums the pmf up to k when k ≤ mean, else 1 − sf(k+1);
    // sf(k) sums from k when k ≤ mean, else 1 − cdf(k−1).
    let sum = |range: std::ops::Range<usize>| pmf[range].iter().sum::<f64>();
    let cdf1 = |k: usize| sum(0..(k + 1).min(max + 1));
    let sf1 = |k: usize| if k > max { 0.0 } else { sum(k..max + 1) };
    let cdf = if r as f64 <= mean { cdf1(r) } else { 1.0 - sf1(r + 1) };
    let sf = if r as f64 <= mean { sf1(r) } else { 1.0 - cdf1(r - 1) };
    (2.0 * sf.min(cdf)).clamp(0.0, 1.0)
}

/// SciPy's exhaustive permutation test over every sign flip (zeros flip
/// too, each doubling the count without changing R+).
fn permutation(twice: &[u64], observed2: u64, n_zero: usize) -> f64 {
    let m = twice.len();
    let (mut le, mut ge) = (0u64, 0u64);
    for mask in 0u32..(1 << m) {
        let s: u64 = (0..m).filter(|i| mask >> i & 1 == 1).map(|i| twice[i]).sum();
        le += u64::from(s <= observed2);
        ge += u64::from(s >= observed2);
    }
    let total = (1u64 << m) as f64;
    // 2^n_zero copies of each pattern cancel in the ratio.
    let _ = n_zero;
    (2.0 * le.min(ge) as f64 / total).clamp(0.0, 1.0)
}

/// The normal approximation without continuity correction.
fn asymptotic(count: f64, r_plus: f64, ties: &[usize]) -> f64 {
    let mean = count * (count + 1.0) * 0.25;
    let tie: f64 = ties.iter().map(|&t| (t * t * t - t) as f64).sum();
    let se = ((count * (count + 1.0) * (2.0 * count + 1.0) - tie / 2.0) / 24.0).sqrt();
    let z = (r_plus - mean) / se;
    2.0 * normal_sf(z.abs())
}
