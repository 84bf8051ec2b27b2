//! The seeded percentile bootstrap: resamples of `n` rows drawn with
//! replacement, one or several statistics evaluated on each.

/// Resamples of a bootstrap interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// One resample of rows `0..n`.
#[derive(Debug, Clone, Copy)]
pub struct Resample<'a> {
    /// The drawn row indices, in draw order.
    pub rows: &'a [usize],
    /// Per row, how many times it was drawn (sums to `n`).
    pub times: &'a [u32],
}

/// A percentile bootstrap interval: `resamples` times, draw `n` row
/// indices with replacement (SplitMix64 seeded with `seed`), evaluate
/// `stat` on them; the interval is the alpha/2 and 1 − alpha/2 quantiles
/// of the defined values. `None` when `n` is 0 or fewer than half the
/// resamples give a value.
pub fn bootstrap_interval(
    n: usize,
    resamples: usize,
    seed: u64,
    alpha: f64,
    mut stat: impl FnMut(&[usize]) -> Option<f64>,
) -> Option<(f64, f64)> {
    bootstrap_intervals(n, resamples, seed, alpha, 1, |r, out| out[0] = stat(r.rows))
        .pop()
        .flatten()
}

/// The intervals of a statistic with `m` values (one per model, say) over
/// the same resamples, drawn once: `stat` sets `out[i]` (`None` until set)
/// on each resample, and the i-th interval equals [`bootstrap_interval`]
/// of the i-th value alone.
pub fn bootstrap_intervals(
    n: usize,
    resamples: usize,
    seed: u64,
    alpha: f64,
    m: usize,
    mut stat: impl FnMut(&Resample<'_>, &mut [Option<f64>]),
) -> Vec<Option<(f64, f64)>> {
    if n == 0 {
        return vec![None; m];
    }
    let mut rng = mlhost_plugin_api::SeededRng::new(seed);
    let (mut rows, mut times) = (vec![0usize; n], vec![0u32; n]);
    let (mut out, mut values) = (vec![None; m], vec![Vec::with_capacity(resamples); m]);
    for _ in 0..resamples {
        times.fill(0);
        for i in rows.iter_mut() {
            // Lemire's multiply-shift: an index in 0..n without a division.
            *i = ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize;
            times[*i] += 1;
        }
        out.fill(None);
        stat(&Resample { rows: &rows, times: &times }, &mut out);
        for (v, o) in values.iter_mut().zip(&out) {
            v.extend(o.filter(|x| x.is_finite()));
        }
    }
    values.into_iter().map(|v| percentile_interval(v, resamples, alpha)).collect()
}

/// The alpha/2 and 1 − alpha/2 quantiles of `values`, `None` when fewer
/// than half of `resamples` gave one.
fn percentile_interval(mut values: Vec<f64>, resamples: usize, alpha: f64) -> Option<(f64, f64)> {
    if values.len() * 2 < resamples {
        return None;
    }
    Some((quantile(&mut values, alpha / 2.0), quantile(&mut values, 1.0 - alpha / 2.0)))
}

/// [`super::quantile_sorted`] of `v` sorted, by selection instead of a sort (the
/// same two order statistics, the same arithmetic); reorders `v`.
pub(super) fn quantile(v: &mut [f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (_, &mut low, above) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let high =
        if hi == lo { low } else { above.iter().copied().min_by(f64::total_cmp).unwrap_or(low) };
    low + (high - low) * (pos - lo as f64)
}
