//! The bootstrap's fast path for label metrics (accuracy, balanced
//! accuracy, precision, recall, F1 and their averages): a resample of
//! pooled rows matters to them only through its k × k confusion counts, and
//! [`Prepared::from_confusion`] scores those with the registry's own
//! definitions. A cell's count in a resample is the sum of the draw counts
//! of the rows in it; the cell of each true class that holds the most rows
//! (the diagonal, for a useful model) is not summed but is what the class's
//! total leaves, and the class totals are the same for every model scored
//! on the same rows, so they are summed once per resample. The counts are
//! exact integers: the values equal those scored from the rows.

use crate::metrics::stats::Resample;
use crate::metrics::{ClassMetric, Prepared};

/// Models with the same true labels (the pooled rows of one run).
pub(super) struct LabelGroup {
    metric: &'static ClassMetric,
    k: usize,
    y_true: Vec<u32>,
    /// Per true class, its rows; empty for `largest_class`.
    class_rows: Vec<Vec<u32>>,
    largest_class: usize,
    /// Per true class, its rows in the current resample.
    totals: Vec<u64>,
    models: Vec<LabelModel>,
}

/// One model of a group.
struct LabelModel {
    /// Its place in the bootstrap's values.
    slot: usize,
    /// The rows of the cells that are summed, cell after cell.
    rows: Vec<u32>,
    /// Each summed cell (true · k + predicted) and its span of `rows`.
    spans: Vec<(usize, std::ops::Range<usize>)>,
    /// Per true class, the cell its total determines.
    derived: Vec<usize>,
    counts: Vec<u64>,
    prepared: Prepared<'static>,
}

/// The rows of each of `bins` bins, but those of `skip(bin)`.
fn rows_by(bin: &[usize], bins: usize, skip: impl Fn(usize) -> bool) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); bins];
    for (i, &b) in bin.iter().enumerate().filter(|&(_, &b)| !skip(b)) {
        out[b].push(i as u32);
    }
    out
}

/// The index of the largest of `v` (the first on a tie).
fn argmax(v: &[u64]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

impl LabelGroup {
    /// Adds the model in `slot` to the group of its true labels (a new one
    /// if none has them). `false` (nothing added) when a code is outside
    /// `0..k`: the rows path refuses the resamples that draw such a row.
    pub(super) fn add(
        groups: &mut Vec<LabelGroup>,
        metric: &'static ClassMetric,
        slot: usize,
        k: usize,
        y_true: &[f64],
        y_pred: &[f64],
    ) -> bool {
        let code = |v: f64| Some(v as u32).filter(|&c| (c as usize) < k);
        let Some(truth) = y_true.iter().map(|&v| code(v)).collect::<Option<Vec<u32>>>() else {
            return false;
        };
        let Some(pred) = y_pred.iter().map(|&v| code(v)).collect::<Option<Vec<u32>>>() else {
            return false;
        };
        let at = match groups.iter().position(|g| g.k == k && g.y_true == truth) {
            Some(at) => at,
            None => {
                groups.push(LabelGroup::new(metric, k, truth));
                groups.len() - 1
            }
        };
        let Some(model) = groups[at].model(slot, &pred) else { return false };
        groups[at].models.push(model);
        true
    }

    fn new(metric: &'static ClassMetric, k: usize, y_true: Vec<u32>) -> Self {
        let class: Vec<usize> = y_true.iter().map(|&t| t as usize).collect();
        let mut sizes = vec![0u64; k];
        for &c in &class {
            sizes[c] += 1;
        }
        let largest_class = argmax(&sizes);
        let class_rows = rows_by(&class, k, |c| c == largest_class);
        LabelGroup {
            metric,
            k,
            y_true,
            class_rows,
            largest_class,
            totals: vec![0; k],
            models: Vec::new(),
        }
    }

    /// A model of this group predicting `pred` (codes checked).
    fn model(&self, slot: usize, pred: &[u32]) -> Option<LabelModel> {
        let k = self.k;
        let cell: Vec<usize> =
            self.y_true.iter().zip(pred).map(|(&t, &p)| t as usize * k + p as usize).collect();
        let mut sizes = vec![0u64; k * k];
        for &c in &cell {
            sizes[c] += 1;
        }
        let derived: Vec<usize> =
            sizes.chunks_exact(k).enumerate().map(|(t, row)| t * k + argmax(row)).collect();
        let (mut rows, mut spans) = (Vec::new(), Vec::new());
        for (c, cell_rows) in
            rows_by(&cell, k * k, |c| derived.contains(&c)).into_iter().enumerate()
        {
            if !cell_rows.is_empty() {
                spans.push((c, rows.len()..rows.len() + cell_rows.len()));
                rows.extend(cell_rows);
            }
        }
        let pos_label = (k - 1) as u32;
        let prepared = Prepared::from_confusion(&sizes, k, pos_label).ok()?;
        Some(LabelModel { slot, rows, spans, derived, counts: vec![0; k * k], prepared })
    }

    /// Every model's metric on resample `r`, into `out[slot]`.
    pub(super) fn score(&mut self, r: &Resample<'_>, out: &mut [Option<f64>]) {
        let sum = |rows: &[u32]| rows.iter().map(|&i| u64::from(r.times[i as usize])).sum::<u64>();
        for (total, rows) in self.totals.iter_mut().zip(&self.class_rows) {
            *total = sum(rows);
        }
        let others: u64 = self.totals.iter().sum();
        self.totals[self.largest_class] = r.rows.len() as u64 - others;
        let k = self.k;
        for m in &mut self.models {
            m.counts.fill(0);
            for (cell, span) in &m.spans {
                m.counts[*cell] = sum(&m.rows[span.clone()]);
            }
            for (t, &d) in m.derived.iter().enumerate() {
                let row: u64 = m.counts[t * k..(t + 1) * k].iter().sum();
                m.counts[d] = self.totals[t] - row;
            }
            out[m.slot] = m
                .prepared
                .set_confusion(&m.counts)
                .ok()
                .and_then(|()| self.metric.score(&m.prepared)?.ok());
        }
    }
}
