//! The recommendation: one paragraph written from the facts of a finished
//! search, sentence by sentence. Each sentence comes from one fact and
//! says what it means for what to do next; none is written when its fact
//! is absent.
//!
//! The rules (thresholds are ours; they are written down in ARCHITECTURE):
//! a margin is "within the noise" when the corrected resampled t-test
//! finds it not significant at alpha, or, without shared folds, when it is
//! no larger than the larger standard deviation over folds; an
//! `overfit_gap` above [`crate::metrics::OVERFIT_GAP`] is overfitting;
//! fewer than [`FEW_ROWS`] rows call for more data; a score below
//! [`LOW_SCORE`] (R² below [`LOW_R2`]), or a winner the baseline is within
//! the noise of, calls for other features. A margin under [`NEGLIGIBLE`]
//! (on a score bounded by 1; else under 1 % of the values) does not count,
//! however consistent over the folds: a tie, not a win.

use crate::domain::Direction;

/// Fewer rows than this and more data is recommended.
pub(super) const FEW_ROWS: usize = 1_000;
/// A classification score (F1, accuracy, ROC AUC, …) below this is low.
pub(super) const LOW_SCORE: f64 = 0.7;
/// An R² below this is low.
pub(super) const LOW_R2: f64 = 0.5;
/// A margin on a score bounded by 1 smaller than this does not matter,
/// however consistent it is over the folds.
pub(super) const NEGLIGIBLE: f64 = 0.005;

/// A model's standing.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Score {
    /// Candidate id.
    pub(super) model: String,
    /// Its best value.
    pub(super) value: f64,
    /// Standard deviation over folds.
    pub(super) std: Option<f64>,
}

/// How a margin was judged against the noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Noise {
    /// The corrected resampled t-test on shared folds: its p and whether
    /// p < alpha.
    TTest { p: f64, significant: bool },
    /// Against the larger standard deviation over folds.
    Std { within: bool },
    /// One split: no estimate.
    Unknown,
}

impl Noise {
    /// Whether the margin may be noise.
    pub(super) fn within(self) -> bool {
        match self {
            Noise::TTest { significant, .. } => !significant,
            Noise::Std { within } => within,
            Noise::Unknown => true,
        }
    }
}

/// The winner against another model.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Contest {
    /// The other model.
    pub(super) other: Score,
    /// Winner minus other.
    pub(super) diff: f64,
    /// How that margin compares with the noise.
    pub(super) noise: Noise,
}

/// The winner's overfitting check (`overfit_gap` is on F1, R² for
/// regression, whatever the metric searched).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Overfit {
    /// `f1` or `r2`.
    pub(super) score: String,
    /// Its value on the training rows.
    pub(super) train: Option<f64>,
    /// Training minus held-out.
    pub(super) gap: f64,
}

/// A gate the winner fails: the expression and why.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FailedGate {
    /// `f1>=0.999`.
    pub(super) gate: String,
    /// `f1 = 0.9861`.
    pub(super) why: String,
}

/// Everything the paragraph is written from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Facts {
    /// The metric searched.
    pub(super) metric: String,
    /// Its direction.
    pub(super) direction: Direction,
    /// The winner.
    pub(super) winner: Score,
    /// Trials the winner ran over all its studies.
    pub(super) trials: usize,
    /// Candidates in the race.
    pub(super) contestants: usize,
    /// The best other tuned candidate.
    pub(super) runner_up: Option<Contest>,
    /// The reference (baseline), evaluated once.
    pub(super) baseline: Option<Contest>,
    /// The winner's overfitting check.
    pub(super) overfit: Option<Overfit>,
    /// Rows of the dataset.
    pub(super) rows: usize,
    /// Gates it fails.
    pub(super) failed_gates: Vec<FailedGate>,
    /// Gates it passes.
    pub(super) passed_gates: Vec<String>,
    /// The budget ran out before one candidate was left.
    pub(super) cut_short: bool,
}

/// The paragraph.
pub(super) fn paragraph(f: &Facts) -> String {
    let mut s = vec![verdict(f)];
    s.extend(f.runner_up.as_ref().map(|c| runner_up(f, c)));
    let (baseline, weak_signal) = match &f.baseline {
        Some(c) if !ahead(f.direction, c.diff) => (behind_baseline(c), true),
        Some(c) => (against_baseline(f, c), tie(f, c)),
        None => {
            ("There was no baseline to measure it against (--baseline names one).".into(), false)
        }
    };
    s.push(baseline);
    s.extend(f.overfit.as_ref().map(overfit));
    if f.rows < FEW_ROWS {
        s.push(format!(
            "With only {} rows, more data is the surest next step: it narrows these margins and lets a richer model fit.",
            f.rows
        ));
    }
    if !weak_signal && low(&f.metric, f.winner.value) {
        s.push(format!(
            "Its {} of {:.4} is low: other features are likely to help more than more tuning.",
            f.metric, f.winner.value
        ));
    }
    s.extend(gates(f));
    if f.cut_short {
        s.push("The budget ran out before the halving ended: a larger --budget-secs lets the survivors search longer.".into());
    }
    if quiet(f, weak_signal) {
        s.push(format!(
            "Nothing points at a flaw: to gain more, tune {} alone (`mlhost tune --model {}`) over a narrower --param space with more trials.",
            f.winner.model, f.winner.model
        ));
    }
    s.join(" ")
}

fn value(v: f64, std: Option<f64>) -> String {
    match std {
        Some(sd) => format!("{v:.4} ± {sd:.4}"),
        None => format!("{v:.4}"),
    }
}

fn verdict(f: &Facts) -> String {
    let of = match f.contestants {
        1 => "the only candidate tuned".to_owned(),
        n => format!("the best of {n} candidates tuned"),
    };
    let lower = if f.direction == Direction::Minimize { ", lower is better" } else { "" };
    format!(
        "Use {}: its best trial scores {} {} (mean ± std over folds{lower}), {of} ({} trials of it).",
        f.winner.model,
        f.metric,
        value(f.winner.value, f.winner.std),
        f.trials
    )
}

/// Whether a margin is too small to matter whatever the test says: under
/// [`NEGLIGIBLE`] on a score bounded by 1, else under 1 % of the larger
/// of the two values.
fn negligible(f: &Facts, c: &Contest) -> bool {
    let d = c.diff.abs();
    if bounded(&f.metric) {
        d < NEGLIGIBLE
    } else {
        d < 0.01 * f.winner.value.abs().max(c.other.value.abs())
    }
}

/// The margin counts as no margin: noise, or too small to matter.
fn tie(f: &Facts, c: &Contest) -> bool {
    c.noise.within() || negligible(f, c)
}

/// "… by 0.0123, which the corrected resampled t-test cannot tell from
/// noise (p = 0.412)" and the like.
fn margin(f: &Facts, c: &Contest) -> String {
    let by = format!("by {:.4}", c.diff.abs());
    match c.noise {
        Noise::TTest { p, significant: true } if negligible(f, c) => {
            format!("{by}: consistent over the folds ({}) but too small to matter", p_text(p))
        }
        Noise::TTest { p, significant: true } => {
            format!("{by}, significant by the corrected resampled t-test ({})", p_text(p))
        }
        Noise::TTest { p, significant: false } => {
            format!(
                "{by}, which the corrected resampled t-test cannot tell from noise ({})",
                p_text(p)
            )
        }
        Noise::Std { within: false } => {
            format!("{by}, more than the standard deviation over folds")
        }
        Noise::Std { within: true } => {
            format!("{by}, no more than the standard deviation over folds: within the noise")
        }
        Noise::Unknown => format!("{by}; one split cannot say whether that is more than noise"),
    }
}

fn p_text(p: f64) -> String {
    if p < 0.001 { "p < 0.001".into() } else { format!("p = {p:.3}") }
}

fn runner_up(f: &Facts, c: &Contest) -> String {
    let other = format!("{} ({})", c.other.model, value(c.other.value, c.other.std));
    if tie(f, c) {
        format!(
            "It leads the runner-up {other} {}, so {} is as good a choice if it is cheaper or simpler to run.",
            margin(f, c),
            c.other.model
        )
    } else {
        format!("It beats the runner-up {other} {}.", margin(f, c))
    }
}

fn against_baseline(f: &Facts, c: &Contest) -> String {
    let other = format!("{} ({})", c.other.model, value(c.other.value, c.other.std));
    if tie(f, c) {
        format!("It leads the reference {other} only {}. {WEAK}", margin(f, c))
    } else {
        format!("It beats the reference {other} {}.", margin(f, c))
    }
}

/// What a winner no better than the reference means.
const WEAK: &str = "Either the features carry little signal for this label or no setting tried could use it: look for other features, and at the candidates' search spaces (`mlhost tune --param`).";

/// Whether a difference (winner minus other) favours the winner.
fn ahead(direction: Direction, diff: f64) -> bool {
    match direction {
        Direction::Maximize => diff > 0.0,
        Direction::Minimize => diff < 0.0,
    }
}

fn behind_baseline(c: &Contest) -> String {
    format!(
        "It does no better than the reference {} ({}). {WEAK}",
        c.other.model,
        value(c.other.value, c.other.std)
    )
}

fn overfit(o: &Overfit) -> String {
    let train =
        o.train.map_or(String::new(), |t| format!(" ({} {t:.4} on its training rows)", o.score));
    if o.gap > crate::metrics::OVERFIT_GAP {
        format!(
            "It overfits: overfit_gap {:.4} > {}{train}, so regularize it, choose a simpler model or add data.",
            o.gap,
            crate::metrics::OVERFIT_GAP
        )
    } else {
        format!("Its overfit_gap is {:.4}{train}: it generalizes about as well as it fits.", o.gap)
    }
}

fn gates(f: &Facts) -> Option<String> {
    if !f.failed_gates.is_empty() {
        let each: Vec<String> =
            f.failed_gates.iter().map(|g| format!("--gate {} ({})", g.gate, g.why)).collect();
        return Some(format!("It fails {}: not ready to promote.", each.join(" and ")));
    }
    (!f.passed_gates.is_empty())
        .then(|| format!("It passes every gate ({}).", f.passed_gates.join(", ")))
}

/// Whether the metric is a score bounded by 1 (R² included).
fn bounded(metric: &str) -> bool {
    const SCORES: &[&str] =
        &["accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "r2"];
    SCORES.iter().any(|s| metric == *s || metric.starts_with(&format!("{s}_")))
}

/// Whether the score is low for its metric (only scores bounded by 1 are
/// judged; losses, errors and trading metrics have no absolute scale).
fn low(metric: &str, v: f64) -> bool {
    match metric {
        "r2" => v < LOW_R2,
        m => bounded(m) && v < LOW_SCORE,
    }
}

/// No sentence above said what to try next.
fn quiet(f: &Facts, weak_signal: bool) -> bool {
    let overfits = f.overfit.as_ref().is_some_and(|o| o.gap > crate::metrics::OVERFIT_GAP);
    !weak_signal
        && !overfits
        && f.rows >= FEW_ROWS
        && !low(&f.metric, f.winner.value)
        && f.failed_gates.is_empty()
        && !f.cut_short
}

#[cfg(test)]
mod tests;
