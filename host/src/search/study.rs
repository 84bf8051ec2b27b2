//! A study as an ask-and-tell state machine (Optuna's interface): `ask`
//! proposes the next trial's parameters from the strategy and everything
//! told so far (running trials count as pending, so parallel workers are
//! not given the same point), `report` takes a trial's per-epoch value and
//! answers whether the pruner stops it, `tell` records how it ended. The
//! engine runs the trials; nothing here knows about jobs or storage.
//!
//! Each proposal draws from its own generator, seeded from the study seed
//! and the trial number, so a study restored from its stored trials
//! proposes exactly what it would have without the interruption.

use mlhost_plugin_api::SeededRng;

use crate::search::prune::{Curve, Pruner};
use crate::search::sample::{Point, grid, random};
use crate::search::space::Space;
use crate::search::tpe::{Observed, Tpe};

/// How a study proposes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Every grid point once, in order.
    Grid,
    /// Independent draws.
    Random,
    /// The tree-structured Parzen estimator.
    Tpe(Tpe),
}

pub use crate::domain::Direction;

/// Where a trial is.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialState {
    /// Proposed and not told yet.
    Running,
    /// Finished: one value per objective.
    Complete(Vec<f64>),
    /// Stopped by the pruner.
    Pruned,
    /// Failed (crash, error, timeout).
    Failed,
}

/// One trial of the study.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Its number, from 0 in proposal order.
    pub number: usize,
    /// Its parameters.
    pub point: Point,
    /// Where it is.
    pub state: TrialState,
    /// The per-epoch values it reported, one curve per fold (each fold
    /// trains anew, so a value is compared with others' at the same fold
    /// and epoch).
    pub curves: Vec<Curve>,
}

impl Trial {
    /// A trial read back from storage, for [`Study::restore`].
    pub fn restored(number: usize, point: Point, state: TrialState, curves: Vec<Curve>) -> Trial {
        let complete = matches!(state, TrialState::Complete(_));
        let curves = curves.into_iter().map(|c| Curve { complete, ..c }).collect();
        Trial { number, point, state, curves }
    }
}

/// Draws at most this many more times (then as many random ones) to avoid
/// a running trial's point.
const REDRAWS: usize = 16;

/// The curve of a trial that has not reached a fold.
static NO_CURVE: Curve = Curve { values: std::collections::BTreeMap::new(), complete: false };

/// A study in progress.
#[derive(Debug, Clone)]
pub struct Study {
    space: Space,
    strategy: Strategy,
    directions: Vec<Direction>,
    pruner: Pruner,
    seed: u64,
    budget: usize,
    grid: Vec<Point>,
    trials: Vec<Trial>,
}

impl Study {
    /// A study of `budget` trials (a grid: at most its points; 0 = all of
    /// them) over `space`, judged by `directions` (the first objective
    /// picks the best; more give a Pareto front).
    pub fn new(
        space: Space,
        strategy: Strategy,
        directions: Vec<Direction>,
        pruner: Pruner,
        budget: usize,
        seed: u64,
    ) -> Result<Study, String> {
        if directions.is_empty() {
            return Err("a study needs at least one metric".to_owned());
        }
        let grid = if strategy == Strategy::Grid { grid(&space)? } else { Vec::new() };
        let budget = match strategy {
            Strategy::Grid if budget == 0 => grid.len(),
            Strategy::Grid => budget.min(grid.len()),
            _ if budget == 0 => return Err("--trials must be at least 1".to_owned()),
            _ => budget,
        };
        Ok(Study { space, strategy, directions, pruner, seed, budget, grid, trials: Vec::new() })
    }

    /// The trials so far, in proposal order.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// The next trial, or `None` once the budget is used.
    pub fn ask(&mut self) -> Option<(usize, Point)> {
        let number = self.trials.len();
        if number >= self.budget {
            return None;
        }
        let mut rng =
            SeededRng::new(self.seed ^ (number as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (finished, pending) = self.history();
        let draw = |rng: &mut SeededRng| match self.strategy {
            Strategy::Grid => self.grid[number].clone(),
            Strategy::Random => random(&self.space, rng),
            Strategy::Tpe(tpe) => tpe.propose(&self.space, &finished, &pending, rng),
        };
        let mut point = draw(&mut rng);
        // A draw equal to a running trial's point (likely in a small
        // discrete space) is drawn again, so parallel workers never run
        // the same point at once; when TPE insists on it (its l(x) has
        // collapsed there), a random point that is not running is taken.
        for attempt in 0..2 * REDRAWS {
            if self.strategy == Strategy::Grid || !pending.contains(&point) {
                break;
            }
            point = if attempt < REDRAWS { draw(&mut rng) } else { random(&self.space, &mut rng) };
        }
        self.trials.push(Trial {
            number,
            point: point.clone(),
            state: TrialState::Running,
            curves: Vec::new(),
        });
        Some((number, point))
    }

    /// Puts back a stored trial (the next in proposal order): `tune
    /// --resume` restores every trial, then asks on from there.
    pub fn restore(&mut self, trial: Trial) {
        assert_eq!(trial.number, self.trials.len(), "trials are restored in order");
        self.trials.push(trial);
    }

    /// Trial `number` reported `value` at `step` of fold `fold`; true when
    /// it should stop.
    pub fn report(&mut self, number: usize, fold: usize, step: u32, value: f64) -> bool {
        let trial = &mut self.trials[number];
        let complete = matches!(trial.state, TrialState::Complete(_));
        let curves = &mut trial.curves;
        if curves.len() <= fold {
            curves.resize_with(fold + 1, || Curve { complete, ..Curve::default() });
        }
        curves[fold].values.insert(step, value);
        let at_fold: Vec<&Curve> =
            self.trials.iter().map(|t| t.curves.get(fold).unwrap_or(&NO_CURVE)).collect();
        self.pruner.should_prune(&at_fold, number, step)
    }

    /// How trial `number` ended.
    pub fn tell(&mut self, number: usize, state: TrialState) {
        let trial = &mut self.trials[number];
        let complete = matches!(state, TrialState::Complete(_));
        for c in &mut trial.curves {
            c.complete = complete;
        }
        trial.state = state;
    }

    /// Trials the study runs at most.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The objectives' directions.
    pub fn directions(&self) -> &[Direction] {
        &self.directions
    }

    /// The best complete trial by the first objective (the earliest on ties).
    pub fn best(&self) -> Option<&Trial> {
        let best = best_of(&self.finished_values(), &self.directions)?;
        Some(&self.trials[best])
    }

    /// The complete trials no other complete trial beats on every objective.
    pub fn pareto_front(&self) -> Vec<usize> {
        pareto_front(&self.finished_values(), &self.directions)
    }

    fn finished_values(&self) -> Vec<(usize, &[f64])> {
        self.trials
            .iter()
            .filter_map(|t| match &t.state {
                TrialState::Complete(v) => Some((t.number, v.as_slice())),
                _ => None,
            })
            .collect()
    }

    /// Objective `m` of a complete trial as a loss (smaller is better).
    fn loss(&self, t: &Trial, m: usize) -> f64 {
        let TrialState::Complete(values) = &t.state else { return f64::INFINITY };
        loss(values, m, self.directions[m])
    }

    /// TPE's view: complete trials with their first objective as a loss,
    /// pruned ones as the worst (they were judged bad), running ones
    /// pending; failed trials teach nothing.
    fn history(&self) -> (Vec<Observed>, Vec<Point>) {
        let mut finished = Vec::new();
        let mut pending = Vec::new();
        for t in &self.trials {
            match t.state {
                TrialState::Complete(_) => {
                    finished.push(Observed { point: t.point.clone(), value: self.loss(t, 0) })
                }
                TrialState::Pruned => {
                    finished.push(Observed { point: t.point.clone(), value: f64::MAX })
                }
                TrialState::Running => pending.push(t.point.clone()),
                TrialState::Failed => {}
            }
        }
        (finished, pending)
    }
}

/// Objective `m` of `values` as a loss (smaller is better; NaN worst).
fn loss(values: &[f64], m: usize, direction: Direction) -> f64 {
    let v = values.get(m).copied().unwrap_or(f64::NAN);
    let v = if v.is_nan() { f64::INFINITY } else { v };
    match direction {
        Direction::Minimize => v,
        Direction::Maximize => -v,
    }
}

/// Of `(trial, values)`, the trial best by the first objective (the
/// earliest on ties).
pub fn best_of(done: &[(usize, &[f64])], directions: &[Direction]) -> Option<usize> {
    done.iter()
        .min_by(|a, b| loss(a.1, 0, directions[0]).total_cmp(&loss(b.1, 0, directions[0])))
        .map(|(n, _)| *n)
}

/// Of `(trial, values)`, the trials no other beats on every objective, in
/// trial order.
pub fn pareto_front(done: &[(usize, &[f64])], directions: &[Direction]) -> Vec<usize> {
    let losses = |v: &[f64]| -> Vec<f64> {
        directions.iter().enumerate().map(|(m, d)| loss(v, m, *d)).collect()
    };
    let done: Vec<(usize, Vec<f64>)> = done.iter().map(|(n, v)| (*n, losses(v))).collect();
    let dominates = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| x <= y) && a != b;
    done.iter()
        .filter(|(_, l)| !done.iter().any(|(_, other)| dominates(other, l)))
        .map(|(n, _)| *n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::space::{Dimension, Domain};
    use mlhost_plugin_api::ParamValue;

    fn space() -> Space {
        let dim = |name: &str, low, high| Dimension {
            name: name.to_owned(),
            domain: Domain::Float { low, high, log: false },
        };
        Space { dims: vec![dim("x", -5.0, 5.0), dim("y", -5.0, 5.0)] }
    }

    fn xy(p: &Point) -> (f64, f64) {
        let (ParamValue::Float(x), ParamValue::Float(y)) = (&p[0].1, &p[1].1) else { panic!() };
        (*x, *y)
    }

    fn tpe_study(seed: u64) -> Study {
        let strategy = Strategy::Tpe(Tpe::default());
        Study::new(space(), strategy, vec![Direction::Minimize], Pruner::None, 40, seed).unwrap()
    }

    #[test]
    fn ask_and_tell_runs_to_the_budget_and_finds_the_best() {
        let mut study = tpe_study(1);
        while let Some((n, p)) = study.ask() {
            let (x, y) = xy(&p);
            study.tell(n, TrialState::Complete(vec![(x - 1.0).powi(2) + (y + 2.0).powi(2)]));
        }
        assert_eq!(study.trials().len(), 40);
        let best = study.best().unwrap();
        let (x, y) = xy(&best.point);
        assert!((x - 1.0).abs() < 1.0 && (y + 2.0).abs() < 1.0, "best at ({x}, {y})");
    }

    #[test]
    fn a_restored_study_proposes_what_the_uninterrupted_one_did() {
        let objective = |p: &Point| {
            let (x, y) = xy(p);
            x * x + y * y
        };
        let mut whole = tpe_study(7);
        let mut first_half = tpe_study(7);
        for _ in 0..20 {
            let (n, p) = whole.ask().unwrap();
            whole.tell(n, TrialState::Complete(vec![objective(&p)]));
            let (m, q) = first_half.ask().unwrap();
            first_half.tell(m, TrialState::Complete(vec![objective(&q)]));
        }
        // Restore the told trials into a fresh study, as `--resume` does.
        let mut restored = tpe_study(7);
        for t in first_half.trials() {
            let (point, state) = (t.point.clone(), t.state.clone());
            restored.restore(Trial::restored(t.number, point, state, Vec::new()));
        }
        assert_eq!(whole.ask().map(|a| a.1), restored.ask().map(|a| a.1));
    }

    #[test]
    fn parallel_asks_do_not_repeat_a_point() {
        let mut study = tpe_study(3);
        for _ in 0..12 {
            let (n, p) = study.ask().unwrap();
            let (x, y) = xy(&p);
            study.tell(n, TrialState::Complete(vec![x * x + y * y]));
        }
        let a = study.ask().unwrap().1;
        let b = study.ask().unwrap().1;
        assert_ne!(a, b, "the first is pending when the second is asked");
    }

    #[test]
    fn a_draw_equal_to_a_running_point_is_drawn_again() {
        let values = |v: &[i64]| Domain::Values(v.iter().map(|x| ParamValue::Int(*x)).collect());
        let small = Space { dims: vec![Dimension { name: "k".into(), domain: values(&[1, 2]) }] };
        for strategy in [Strategy::Random, Strategy::Tpe(Tpe::default())] {
            for seed in 0..20 {
                let dirs = vec![Direction::Minimize];
                let mut study =
                    Study::new(small.clone(), strategy, dirs, Pruner::None, 4, seed).unwrap();
                let a = study.ask().unwrap().1;
                let b = study.ask().unwrap().1;
                assert_ne!(a, b, "{strategy:?} seed {seed}: two points, two running trials");
            }
        }
        // After the startup, TPE's l(x) sits on the best point: the second
        // of two parallel asks still gets another one.
        let three =
            Space { dims: vec![Dimension { name: "k".into(), domain: values(&[1, 2, 3]) }] };
        let tpe = Strategy::Tpe(Tpe::default());
        let mut study =
            Study::new(three, tpe, vec![Direction::Minimize], Pruner::None, 40, 1).unwrap();
        for _ in 0..20 {
            let (n, p) = study.ask().unwrap();
            let ParamValue::Int(k) = p[0].1 else { panic!() };
            study.tell(n, TrialState::Complete(vec![k as f64]));
        }
        let a = study.ask().unwrap().1;
        let b = study.ask().unwrap().1;
        assert_eq!(a[0].1, ParamValue::Int(1), "TPE proposes the best point");
        assert_ne!(a, b);
    }

    #[test]
    fn grid_budgets_pareto_fronts_and_bad_input() {
        let values = |v: &[f64]| Domain::Values(v.iter().map(|x| ParamValue::Float(*x)).collect());
        let grid_space =
            Space { dims: vec![Dimension { name: "c".into(), domain: values(&[0.1, 1.0, 10.0]) }] };
        let dirs = vec![Direction::Maximize, Direction::Minimize];
        let mut study =
            Study::new(grid_space.clone(), Strategy::Grid, dirs, Pruner::None, 0, 0).unwrap();
        // (accuracy, seconds): 0 and 2 trade off, 1 is beaten by 2 on both.
        for scores in [[0.90, 1.0], [0.85, 3.0], [0.95, 2.0]] {
            let (n, _) = study.ask().unwrap();
            study.tell(n, TrialState::Complete(scores.to_vec()));
        }
        assert!(study.ask().is_none(), "three grid points, three trials");
        assert_eq!(study.best().unwrap().number, 2);
        assert_eq!(study.pareto_front(), [0, 2]);
        let e = Study::new(space(), Strategy::Grid, vec![Direction::Minimize], Pruner::None, 0, 0);
        assert_eq!(e.unwrap_err(), "a grid needs values for 'x'; list them: --param x=a,b,c");
        let e =
            Study::new(space(), Strategy::Random, vec![Direction::Minimize], Pruner::None, 0, 0);
        assert_eq!(e.unwrap_err(), "--trials must be at least 1");
    }

    #[test]
    fn the_pruner_sees_every_trials_curve() {
        let pruner = Pruner::Median { startup: 2, warmup: 0 };
        let strategy = Strategy::Random;
        let mut study =
            Study::new(space(), strategy, vec![Direction::Minimize], pruner, 5, 0).unwrap();
        for losses in [[1.0, 0.5], [1.0, 0.6]] {
            let (n, _) = study.ask().unwrap();
            for (step, v) in losses.iter().enumerate() {
                assert!(!study.report(n, 0, step as u32 + 1, *v));
            }
            study.tell(n, TrialState::Complete(vec![losses[1]]));
        }
        let (n, _) = study.ask().unwrap();
        assert!(!study.report(n, 0, 1, 0.9), "0.9 beats the median 1.0 at step 1");
        assert!(study.report(n, 0, 2, 0.9), "0.9 is worse than the median 0.55 at step 2");
        assert!(!study.report(n, 1, 1, 0.9), "fold 1 has no completed curve to compare with");
    }
}
