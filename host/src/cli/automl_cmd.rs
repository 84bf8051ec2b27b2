//! `mlhost automl`: flags into a request, the search with a line per rung
//! on stderr, then the leaderboard, the winner, its registration and the
//! recommendation (or JSON); exit 3 when a gate fails.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Config;
use crate::domain::RunRequest;
use crate::service::automl::{
    self, AutomlProgress, AutomlReport, AutomlRequest, RungReport, Services, Standing,
};
use crate::store::artifacts::Artifacts;

/// `mlhost automl` flags.
#[derive(Debug, clap::Args)]
pub struct AutomlArgs {
    /// The search's budget in seconds, shared equally by the rungs and, in
    /// a rung, by its studies; no study starts after it.
    #[arg(long, default_value_t = automl::DEFAULT_BUDGET_SECS)]
    pub budget_secs: u64,
    /// Trials of each study in rung 0; each later rung doubles them.
    #[arg(long, default_value_t = automl::DEFAULT_TRIALS)]
    pub trials: usize,
    /// The candidates to race, comma-separated (default: every ready one
    /// that can do the task and has a parameter to search).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// The reference: evaluated once, not tuned; the winner must beat it.
    #[arg(long, value_name = "ID", default_value = automl::DEFAULT_BASELINE)]
    pub baseline: String,
    /// The metric to optimize and rank by (default f1, r2 for regression).
    #[arg(long, value_name = "M")]
    pub metric: Option<String>,
    /// A gate on the winner's best trial: `f1>=0.9`, `better-than:baseline`.
    /// Repeatable; a failed gate prints one line and exits 3.
    #[arg(long = "gate", value_name = "EXPR", value_parser = super::parse_gate)]
    pub gates: Vec<crate::domain::Gate>,
    /// Significance level of the comparisons and `better-than` gates.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// The registered model's name (default `automl-<dataset stem>`).
    #[arg(long)]
    pub name: Option<String>,
    /// Do not register the winner.
    #[arg(long)]
    pub no_register: bool,
    /// At most this many trials at once.
    #[arg(long)]
    pub workers: Option<u32>,
    /// A trial's own timeout in seconds (default: its study's share of the budget).
    #[arg(long)]
    pub trial_timeout_secs: Option<u64>,
    /// Shuffles the folds and seeds each fit and the proposals (rung r's
    /// studies: seed + r).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The data, its split and its task.
    #[command(flatten)]
    pub data: super::cv_args::DataArgs,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn request(args: &AutomlArgs) -> AutomlRequest {
    AutomlRequest {
        run: RunRequest {
            models: args.models.clone(),
            workers: args.workers,
            seed: args.seed,
            timeout_secs: args.trial_timeout_secs,
            ..args.data.request()
        },
        baseline: Some(args.baseline.clone()),
        metric: args.metric.clone(),
        budget_secs: Some(args.budget_secs),
        trials: Some(args.trials),
        gates: args.gates.clone(),
        alpha: Some(args.alpha),
        register: !args.no_register,
        name: args.name.clone(),
    }
}

pub(super) fn run(
    config: &Config,
    args: AutomlArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let mut session = super::Session::open(config)?;
    let artifacts = Artifacts::new(&config.artifacts);
    let defaults = config.eval.run_defaults();
    let super::Session { ctx, registry, store, .. } = &mut session;
    let mut svc = Services { registry, store, artifacts: &artifacts, defaults: &defaults, ctx };
    let report = automl::run(&mut svc, &request(&args), &mut Lines).map_err(super::engine_error)?;
    session.finish_relay();
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_report(&report, &args.data.dataset, out)?;
    }
    if report.status == "cancelled" {
        eprintln!("cancelled; every study so far is stored (`mlhost runs`)");
        return Ok(ExitCode::from(130));
    }
    if report.winner.is_none() {
        return Ok(ExitCode::FAILURE);
    }
    let failed: Vec<&str> = report.gates.iter().filter_map(|g| g.message.as_deref()).collect();
    for line in &failed {
        eprintln!("{line}");
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
}

/// The leaderboard, the skipped, the winner, the registration and the
/// recommendation.
fn write_report(r: &AutomlReport, dataset: &str, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "automl  {dataset}  {} rows  {}  {} ({})  budget {} s, took {:.1} s  {}",
        r.rows, r.task, r.metric, r.direction, r.budget_secs, r.elapsed_secs, r.status
    )?;
    let rows: Vec<Vec<String>> = r
        .leaderboard
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                (i + 1).to_string(),
                s.model.clone(),
                value(s),
                s.trials.to_string(),
                match (s.rung, s.role.as_str()) {
                    (Some(r), _) => r.to_string(),
                    (None, "reference") => "ref".into(),
                    (None, _) => "-".into(),
                },
                s.study_id
                    .clone()
                    .or_else(|| s.run_id.as_ref().map(|r| format!("run {r}")))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let metric = r.metric.to_uppercase();
    super::write_table(out, &["RANK", "MODEL", &metric, "TRIALS", "RUNG", "STUDY"], &rows)?;
    for s in &r.skipped {
        writeln!(out, "skipped {}: {}", s.model, s.reason)?;
    }
    if let Some(w) = &r.winner {
        let params = super::tune_cmd::params_text(&w.params);
        writeln!(
            out,
            "winner: {}  {} = {:.4}  {params}  (study {})",
            w.model, r.metric, w.value, w.study_id
        )?;
    }
    if let Some(v) = &r.registered {
        writeln!(out, "registered {}:{} ({})", v.name, v.version, v.semver)?;
    }
    writeln!(out)?;
    for line in wrap(&r.recommendation, 78) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn value(s: &Standing) -> String {
    match (s.best_value, s.std) {
        (Some(v), Some(sd)) => format!("{v:.4} ± {sd:.4}"),
        (Some(v), None) => format!("{v:.4}"),
        _ => format!("- ({})", s.note.as_deref().unwrap_or("no value")),
    }
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// A line on stderr for the reference and for each rung as it ends.
struct Lines;

impl AutomlProgress for Lines {
    fn reference(&mut self, s: &Standing) {
        eprintln!("reference {}: {}", s.model, value(s));
    }
    fn rung_ended(&mut self, rung: &RungReport, values: &[(String, Option<f64>)]) {
        let each: Vec<String> = values
            .iter()
            .map(|(m, v)| format!("{m} {}", v.map_or("-".into(), |v| format!("{v:.4}"))))
            .collect();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        eprintln!(
            "rung {}: {} of {} (≤ {} s each): {}; kept {}",
            rung.rung,
            plural(rung.models.len(), "study", "studies"),
            plural(rung.trials, "trial", "trials"),
            rung.timeout_secs,
            each.join(", "),
            rung.kept.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_paragraph_wraps_at_spaces() {
        assert_eq!(super::wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
        assert_eq!(super::wrap("abcdefgh ij", 5), ["abcdefgh", "ij"]);
    }
}
