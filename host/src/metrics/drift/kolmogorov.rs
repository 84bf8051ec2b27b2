//! The distributions behind the Kolmogorov–Smirnov p-value, as SciPy
//! computes them: `kstwo.sf(d, n)` (Simard & L'Ecuyer's choice of method by
//! n and d, scipy/stats/_ksstats.py) and the one-sided `smirnov(n, d)`
//! (Birnbaum–Tingey sum). Where SciPy uses Pomeranz's recursion (n <= 140,
//! 0.754693 < n d² <= 4) this uses the Durbin matrix, the other exact
//! algorithm; the two agree to rounding.

/// Scaling step for the matrix and factorial products (2^128).
const E128: i32 = 128;

/// `scipy.stats.kstwo.sf(x, n)`: P(D_n > x) for the two-sided one-sample
/// statistic.
pub(super) fn kolmogn_sf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/2n <= x <= 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            (1..=n).map(|i| i as f64 * (1.0 / nf) * (2.0 * t - 1.0)).product::<f64>()
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - prob).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 4.0 {
            return (1.0 - durbin_cdf(n, x)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if nxsquared >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

/// ln(n! / n^n) by Stirling's series with n ln n taken out first.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    const STIRLING: [f64; 8] = [
        -2.955_065_359_477_124e-2,
        6.410_256_410_256_41e-3,
        -1.917_526_917_526_917_6e-3,
        8.417_508_417_508_418e-4,
        -5.952_380_952_380_953e-4,
        7.936_507_936_507_937e-4,
        -2.777_777_777_777_778e-3,
        8.333_333_333_333_333e-2,
    ];
    let rn = 1.0 / n;
    let x = rn / n;
    let poly = STIRLING.iter().fold(0.0, |acc, &c| acc * x + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

/// P(D_n <= d) by Durbin's matrix (Marsaglia, Tsang & Wang 2003): the
/// (k, k) entry of H^n times n!/n^n, scaled as it goes.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
        hm[(m - 1) * m + r] = v[m - 1 - r];
    }
    let (p, mut expnt) = matrix_power_entry(hm, m, n, k - 1);
    let mut p = p;
    for i in 1..=n {
        p = i as f64 * p / n as f64;
        if p.abs() < 2f64.powi(-E128) {
            p *= 2f64.powi(E128);
            expnt -= E128;
        }
    }
    (p * 2f64.powi(expnt)).clamp(0.0, 1.0)
}

/// Entry (`at`, `at`) of `h`^`n` as (mantissa, binary exponent).
fn matrix_power_entry(mut h: Vec<f64>, m: usize, mut n: u64, at: usize) -> (f64, i32) {
    let mut pwr: Vec<f64> = (0..m * m).map(|i| if i / m == i % m { 1.0 } else { 0.0 }).collect();
    let (mut expnt, mut h_expnt) = (0i32, 0i32);
    while n > 0 {
        if n % 2 == 1 {
            pwr = matmul(&pwr, &h, m);
            expnt += h_expnt;
        }
        h = matmul(&h, &h, m);
        h_expnt *= 2;
        if h[at * m + at].abs() > 2f64.powi(E128) {
            h.iter_mut().for_each(|x| *x /= 2f64.powi(E128));
            h_expnt += E128;
        }
        n /= 2;
    }
    (pwr[at * m + at], expnt)
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..m {
                c[i * m + j] += aik * b[k * m + j];
            }
        }
    }
    c
}

/// P(D_n <= x) by Pelz & Good's asymptotic series (to n^-3/2).
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let (k1a, k1b) = (-z2, pi2 / 4.0);
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut k = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * kk as f64);
        let coeffs =
            [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
        for (s, c) in k.iter_mut().zip(coeffs) {
            *s = *s * qpower + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let den = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (s, d) in k.iter_mut().zip(den) {
        *s = *s * q * sqrt2pi / d;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let ks = kk as f64;
        let qp = q.powf(ks * ks);
        k2extra += ks * ks * qp;
        let kspi = PI * ks;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks * ks * qp;
    }
    k[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    k[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    k.iter().enumerate().map(|(i, s)| s / n.powf(i as f64 / 2.0)).sum()
}

/// `scipy.special.smirnov(n, x)`: P(D+_n >= x), the one-sided statistic,
/// by the Birnbaum–Tingey sum in logarithms (compensated summation).
pub(super) fn smirnov_sf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    if n == 1 {
        return 1.0 - x;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nx = nf * x;
    let nxfl = nx.floor();
    let alpha = nx - nxfl;
    if nxfl == 0.0 || (nxfl == 1.0 && alpha == 0.0) {
        return 1.0 - x * (1.0 + x).powf(nf - 1.0);
    }
    if -2.0 * nf * x * x < -708.396_418_532_264_1 {
        return 0.0;
    }
    if nxfl >= nf - 1.0 {
        return (1.0 - x).powf(nf);
    }
    if n > 1_000_000 {
        return (-(6.0 * nx + 1.0).powi(2) / 18.0 / nf).exp();
    }
    // sf = x Σ_{j < n(1-x)} C(n,j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1)
    let terms = n - nxfl as u64;
    let (mut sum, mut comp, mut ln_binom) = (0.0f64, 0.0f64, 0.0f64);
    for j in 0..terms {
        let jf = j as f64;
        if j > 0 {
            ln_binom += ((nf - jf + 1.0) / jf).ln();
        }
        let below = ((nf - nxfl - jf) - alpha) / nf;
        let above = ((nxfl + jf) + alpha) / nf;
        let a = (ln_binom + (nf - jf) * below.ln() + (jf - 1.0) * above.ln()).exp();
        let t = sum + a;
        comp += if sum.abs() >= a.abs() { (sum - t) + a } else { (a - t) + sum };
        sum = t;
        if a != 0.0 && 4.0 * (terms - j) as f64 * a < f64::EPSILON * sum && j + 1 != terms {
            break;
        }
    }
    (x * (sum + comp)).clamp(0.0, 1.0)
}
