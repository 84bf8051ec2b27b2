//! The two-sample Kolmogorov–Smirnov test as `scipy.stats.ks_2samp(a, b)`
//! with its defaults (two-sided, method "auto"): exact when both samples
//! have at most 10,000 values, Smirnov's asymptotic distribution otherwise
//! (and when the exact computation fails, as SciPy falls back).

use super::kolmogorov::kolmogn_sf;

/// Above this many values in either sample, "auto" is asymptotic (SciPy's
/// `MAX_AUTO_N`).
const MAX_AUTO_N: usize = 10_000;

/// The statistic and its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// sup |F_a - F_b|.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// True when the exact distribution was used.
    pub exact: bool,
}

/// The test on two samples, each sorted ascending, without NaN and with
/// -0.0 written as 0.0 (see [`super::sorted`]). `None` when either is empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let d = statistic(a, b);
    if n1.max(n2) <= MAX_AUTO_N
        && let Some((d, p)) = exact(n1 as u64, n2 as u64, d)
    {
        return Some(KsResult { statistic: d, p_value: p.clamp(0.0, 1.0), exact: true });
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even();
    let p = kolmogn_sf(en as u64, d).clamp(0.0, 1.0);
    Some(KsResult { statistic: d, p_value: p, exact: false })
}

/// max over the pooled values v of |F_a(v) - F_b(v)|, each difference
/// computed as SciPy does (i/n1 - j/n2), so the asymptotic p-value sees
/// the same double.
fn statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_s, mut min_s) = (0.0f64, 0.0f64);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!("loop condition"),
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_s = max_s.max(diff);
        min_s = min_s.min(diff);
    }
    let min_s = (-min_s).clamp(0.0, 1.0);
    if min_s > max_s { min_s } else { max_s }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// SciPy's `_attempt_exact_2kssamp` (two-sided): d rounded to the lattice
/// h / lcm, and P(D >= d); `None` when the computation is not a probability.
fn exact(n1: u64, n2: u64, d: f64) -> Option<(f64, f64)> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return Some((d, 1.0));
    }
    let p = if n1 == n2 { outside_square(n1, h) } else { outer_inside(n1, n2, g, h) };
    (0.0..=1.0).contains(&p).then_some((d, p))
}

/// Equal sizes: 2 Σ_k (-1)^(k-1) C(2n, n - kh) / C(2n, n), in Horner form.
fn outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = n / h;
    loop {
        let mut p1 = 1.0;
        for j in 0..h {
            // Goes through 0 (and below, times 0) once k h + j reaches n.
            p1 = (n as f64 - (k * h + j) as f64) * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        if k == 0 {
            break;
        }
        k -= 1;
    }
    2.0 * p
}

/// Unequal sizes: the share of lattice paths from (0,0) to (m,n) that leave
/// |x/m - y/n| < h/lcm, by Hodges' inside method recursing on 1 - p
/// (Viehmann 2021), one sliding column at a time.
fn outer_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (n, h) = (n as i64, h as i64);
    let mut minj = 0i64;
    let mut maxj = (h as f64 / mg as f64).ceil().min((n + 1) as f64) as i64;
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    a[minj as usize..maxj as usize].fill(0.0);
    for i in 1..=m as i64 {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (((ng * i - h) as f64 / mg as f64).floor() as i64 + 1).max(0).min(n);
        maxj = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            val = (a[(jj + minj - lastminj) as usize] * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            // A slice past the end is cut short, as NumPy's is.
            let from = ((maxj - minj) as usize).min(a.len());
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            a[from..to].fill(1.0);
        }
    }
    a[(maxj - minj - 1) as usize]
}
