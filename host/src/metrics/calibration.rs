//! How well predicted probabilities match what happened: the Brier score
//! and reliability bins, as scikit-learn's `brier_score_loss` and
//! `calibration_curve(n_bins=10, strategy="uniform")`. Owns no I/O.
//!
//! Two classes: of the positive class's probability. More classes: the
//! Brier score is the mean over rows of the sum over classes of the squared
//! difference to the one-hot truth (a binary problem scored this way would
//! give twice `brier_score_loss`), and the bins are of the top-class
//! probability against whether the top class (the first greatest, as
//! `argmax`) is the true one.

/// Reliability bins over `[0, 1]`.
pub const BINS: usize = 10;

/// One non-empty reliability bin (empty bins are left out, as
/// `calibration_curve` leaves them out).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bin {
    /// Lower edge (`i / 10`).
    pub bin_low: f64,
    /// Upper edge.
    pub bin_high: f64,
    /// Mean predicted probability of its rows.
    pub mean_predicted: f64,
    /// Fraction of its rows that are positive (binary) or correct (top class).
    pub fraction_positive: f64,
    /// Its rows.
    pub count: u64,
}

/// The Brier score and the reliability bins of one model's probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Lower is better; 0 is perfect.
    pub brier: f64,
    /// Non-empty bins, lowest first.
    pub reliability: Vec<Bin>,
}

/// The bin of probability `p`: the number of inner edges below it, the
/// edges being numpy's `linspace(0, 1, 11)` (`i * 0.1`), as
/// `np.searchsorted(bins[1:-1], p)`.
fn bin_of(p: f64) -> usize {
    (1..BINS).filter(|&i| (i as f64 * (1.0 / BINS as f64)) < p).count()
}

/// Reliability bins of `(probability, outcome)` pairs.
fn reliability(pairs: impl Iterator<Item = (f64, bool)>) -> Vec<Bin> {
    let mut sum = [0.0; BINS];
    let mut hits = [0u64; BINS];
    let mut count = [0u64; BINS];
    for (p, hit) in pairs {
        let b = bin_of(p);
        sum[b] += p;
        hits[b] += u64::from(hit);
        count[b] += 1;
    }
    (0..BINS)
        .filter(|&b| count[b] > 0)
        .map(|b| Bin {
            bin_low: b as f64 / BINS as f64,
            bin_high: (b + 1) as f64 / BINS as f64,
            mean_predicted: sum[b] / count[b] as f64,
            fraction_positive: hits[b] as f64 / count[b] as f64,
            count: count[b],
        })
        .collect()
}

/// The first greatest probability of a row and its class.
fn top(row: &[f64]) -> (usize, f64) {
    row.iter().enumerate().fold(
        (0, f64::NEG_INFINITY),
        |best, (c, &p)| {
            if p > best.1 { (c, p) } else { best }
        },
    )
}

/// Calibration of `proba` (row-major `rows × k`) against the true class
/// codes `y_true`; `pos_label` is the positive class when `k` is 2. An
/// empty input, a length mismatch or a probability outside `[0, 1]` is an
/// error naming it.
pub fn calibration(
    y_true: &[u32],
    proba: &[f64],
    k: usize,
    pos_label: u32,
) -> Result<Calibration, String> {
    let n = y_true.len();
    if n == 0 || k == 0 || proba.len() != n * k {
        return Err(format!("{} probabilities for {n} rows of {k} classes", proba.len()));
    }
    if let Some(bad) = proba.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(format!("probability {bad} is outside [0, 1]"));
    }
    let rows = || y_true.iter().zip(proba.chunks_exact(k));
    if k == 2 {
        let pos = pos_label as usize;
        let pairs = || rows().map(|(&t, row)| (row[pos], t == pos_label));
        let sq: f64 = pairs().map(|(p, hit)| (p - f64::from(u8::from(hit))).powi(2)).sum();
        return Ok(Calibration { brier: sq / n as f64, reliability: reliability(pairs()) });
    }
    let sq: f64 = rows()
        .map(|(&t, row)| {
            let hot = |c: usize| f64::from(u8::from(c == t as usize));
            row.iter().enumerate().map(|(c, p)| (p - hot(c)).powi(2)).sum::<f64>()
        })
        .sum();
    let pairs = rows().map(|(&t, row)| {
        let (c, p) = top(row);
        (p, c == t as usize)
    });
    Ok(Calibration { brier: sq / n as f64, reliability: reliability(pairs) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::fixture::{cases, close, codes};

    /// Brier score and bins equal scikit-learn's for every case of
    /// `tests/fixtures/sklearn/confusion.json` that has probabilities.
    #[test]
    fn brier_and_bins_equal_scikit_learn() {
        let mut checked = 0;
        for case in cases().iter().filter(|c| !c["proba"].is_null()) {
            let name = case["name"].as_str().unwrap();
            let k = case["k"].as_u64().unwrap() as usize;
            let proba: Vec<f64> = serde_json::from_value(case["proba"].clone()).unwrap();
            let pos = case["posLabel"].as_u64().unwrap_or(1) as u32;
            let got = calibration(&codes(&case["yTrue"]), &proba, k, pos).unwrap();
            assert!(close(got.brier, case["brier"].as_f64().unwrap()), "{name}: {}", got.brier);
            let want = case["reliability"].as_array().unwrap();
            assert_eq!(got.reliability.len(), want.len(), "{name}: bins");
            for (g, w) in got.reliability.iter().zip(want) {
                let b = w["bin"].as_u64().unwrap() as f64;
                assert_eq!((g.bin_low, g.bin_high), (b / 10.0, (b + 1.0) / 10.0), "{name}");
                assert_eq!(g.count, w["count"].as_u64().unwrap(), "{name} bin {b}");
                assert!(close(g.mean_predicted, w["meanPredicted"].as_f64().unwrap()), "{name}");
                assert!(close(g.fraction_positive, w["fractionPositive"].as_f64().unwrap()));
            }
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    /// Edges are numpy's: 0.3 lies in the bin below 0.30000000000000004.
    #[test]
    fn a_probability_on_an_edge_falls_in_the_lower_bin() {
        assert_eq!(
            [bin_of(0.0), bin_of(0.1), bin_of(0.3), bin_of(0.30000000000000004)],
            [0, 0, 2, 2]
        );
        assert_eq!([bin_of(0.31), bin_of(1.0)], [3, 9]);
    }

    #[test]
    fn bad_probabilities_are_refused() {
        assert!(calibration(&[0], &[1.5, -0.5], 2, 1).unwrap_err().contains("1.5 is outside"));
        assert!(calibration(&[0, 1], &[0.5, 0.5], 2, 1).unwrap_err().contains("2 rows of 2"));
        assert!(calibration(&[], &[], 2, 1).is_err());
    }
}
