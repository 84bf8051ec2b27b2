//! The metrics that rank scores or weigh probabilities: ROC AUC (binary
//! and one-vs-rest, ties counting one half, over a radix sort of the
//! scores) and log loss.

use super::Prepared;

/// Maps an f64 to a u64 with the same order (for sorting scores).
pub(super) fn ordered_bits(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// LSD radix sort of u64 keys, 11 bits a pass; a pass whose digit is the
/// same for every key (the exponent bits of probabilities, mostly) is
/// skipped. Several times faster than a comparison sort on millions of
/// scores, which is what ROC AUC spends its time on.
pub(super) fn radix_sort(keys: &mut Vec<u64>) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    const PASSES: u32 = 64_u32.div_ceil(BITS);
    if keys.len() < 4096 {
        keys.sort_unstable();
        return;
    }
    let mut counts = vec![[0usize; BUCKETS]; PASSES as usize];
    for &k in keys.iter() {
        for (p, c) in counts.iter_mut().enumerate() {
            c[((k >> (p as u32 * BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
    }
    let mut buf = vec![0u64; keys.len()];
    for (p, c) in counts.iter().enumerate() {
        if c.contains(&keys.len()) {
            continue; // every key has the same digit here
        }
        let mut offsets = [0usize; BUCKETS];
        let mut total = 0;
        for (o, &n) in offsets.iter_mut().zip(c.iter()) {
            *o = total;
            total += n;
        }
        let shift = p as u32 * BITS;
        for &k in keys.iter() {
            let d = ((k >> shift) as usize) & (BUCKETS - 1);
            buf[offsets[d]] = k;
            offsets[d] += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

/// Below this many scores per class, AUC sorts on the calling thread
/// (starting a thread costs about as much as sorting 30k values).
const PARALLEL_SORT_MIN: usize = 32_768;

/// Area under the ROC curve of `scores` for `positive` rows: the
/// probability that a random positive outscores a random negative, ties
/// counting one half (equal to scikit-learn's trapezoidal ROC AUC).
fn auc(scores: impl ExactSizeIterator<Item = (f64, bool)>) -> Result<f64, String> {
    let mut pos: Vec<u64> = Vec::with_capacity(scores.len());
    let mut neg: Vec<u64> = Vec::with_capacity(scores.len());
    for (s, is_pos) in scores {
        if s.is_nan() {
            return Err("a score is NaN".to_owned());
        }
        if is_pos { pos.push(ordered_bits(s)) } else { neg.push(ordered_bits(s)) }
    }
    if pos.is_empty() || neg.is_empty() {
        return Err("only one class is present in y_true".to_owned());
    }
    // The two sorts are independent: one per core, once they are large
    // enough to pay for a thread (a fold of a few hundred rows is not).
    if pos.len().min(neg.len()) >= PARALLEL_SORT_MIN {
        std::thread::scope(|s| {
            s.spawn(|| radix_sort(&mut pos));
            radix_sort(&mut neg);
        });
    } else {
        radix_sort(&mut pos);
        radix_sort(&mut neg);
    }
    // For each positive: negatives strictly below + half of the equal ones.
    let (mut below, mut j) = (0u64, 0usize);
    let mut twice_wins: u128 = 0;
    let mut i = 0;
    while i < pos.len() {
        let s = pos[i];
        let run = pos[i..].iter().take_while(|&&v| v == s).count() as u128;
        while j < neg.len() && neg[j] < s {
            j += 1;
            below += 1;
        }
        let equal = neg[j..].iter().take_while(|&&v| v == s).count() as u128;
        twice_wins += run * (2 * u128::from(below) + equal);
        i += run as usize;
    }
    Ok(twice_wins as f64 / (2.0 * pos.len() as f64 * neg.len() as f64))
}

fn proba_of<'a>(p: &Prepared<'a>) -> &'a [f64] {
    p.input.proba.expect("registry only calls probability metrics with probabilities")
}

pub(super) fn roc_auc_binary(p: &Prepared<'_>) -> Result<f64, String> {
    let proba = proba_of(p);
    let k = p.input.n_classes;
    let pos = p.input.pos_label;
    auc(p.input.y_true.iter().enumerate().map(|(i, &t)| (proba[i * k + pos as usize], t == pos)))
}

pub(super) fn roc_auc_ovr(p: &Prepared<'_>) -> Result<f64, String> {
    let proba = proba_of(p);
    let k = p.input.n_classes;
    // scikit-learn's check: np.allclose(1, row sums).
    if let Some(row) =
        proba.chunks_exact(k).position(|r| (r.iter().sum::<f64>() - 1.0).abs() > 1e-8 + 1e-5)
    {
        return Err(format!("probabilities of row {row} do not sum to 1"));
    }
    if let Some(missing) = (0..k).find(|&c| p.truth[c] == 0) {
        return Err(format!(
            "class {missing} has no rows in y_true; one-vs-rest needs every class"
        ));
    }
    let mut sum = 0.0;
    for c in 0..k {
        sum += auc(p
            .input
            .y_true
            .iter()
            .enumerate()
            .map(|(i, &t)| (proba[i * k + c], t as usize == c)))?;
    }
    Ok(sum / k as f64)
}

pub(super) fn log_loss(p: &Prepared<'_>) -> Result<f64, String> {
    let proba = proba_of(p);
    let k = p.input.n_classes;
    let eps = f64::EPSILON;
    let total: f64 = p
        .input
        .y_true
        .iter()
        .enumerate()
        .map(|(i, &t)| -proba[i * k + t as usize].clamp(eps, 1.0 - eps).ln())
        .sum();
    Ok(total / p.input.y_true.len() as f64)
}

#[cfg(test)]
mod radix_tests {
    /// Both sides of the parallel-sort threshold give the exact AUC.
    #[test]
    fn auc_is_exact_with_and_without_the_parallel_sort() {
        for n in [100usize, super::PARALLEL_SORT_MIN + 7] {
            // Interleaved and tied: every positive ties one negative and beats
            // the ones below it, so AUC = (sum of i + n/2) / n^2 = 1/2.
            let scores = (0..n).flat_map(|i| [(i as f64, true), (i as f64, false)]);
            let v: Vec<(f64, bool)> = scores.collect();
            assert_eq!(super::auc(v.into_iter()).unwrap(), 0.5, "n = {n}");
            let shifted = (0..n).flat_map(|i| [((i + n) as f64, true), (i as f64, false)]);
            assert_eq!(super::auc(shifted.collect::<Vec<_>>().into_iter()).unwrap(), 1.0);
        }
    }

    #[test]
    fn radix_sort_agrees_with_sort_unstable() {
        let mut rng = mlhost_plugin_api::SeededRng::new(3);
        for n in [0usize, 10, 5000, 100_000] {
            let mut a: Vec<u64> = (0..n)
                .map(|i| if i % 3 == 0 { rng.next_u64() } else { rng.next_u64() % 1000 })
                .collect();
            let mut b = a.clone();
            super::radix_sort(&mut a);
            b.sort_unstable();
            assert_eq!(a, b, "n = {n}");
        }
    }
}
