//! Quality gates (`--gate EXPR`): a threshold on a metric (`f1>=0.9`,
//! `log_loss<=0.3`) or `better-than:ID` (significantly better than that
//! candidate). Parsed here, checked where the numbers are.

use std::fmt;

use super::spec::SpecError;

/// A comparison of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
}

impl Op {
    /// Whether `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Ge => value >= threshold,
            Op::Gt => value > threshold,
            Op::Le => value <= threshold,
            Op::Lt => value < threshold,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
        }
    }
}

/// One gate.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// `METRIC OP VALUE`.
    Threshold {
        /// The metric's name.
        metric: String,
        /// The comparison.
        op: Op,
        /// The threshold.
        value: f64,
    },
    /// `better-than:ID`: significantly better than candidate ID.
    BetterThan {
        /// The candidate to beat.
        model: String,
    },
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gate::Threshold { metric, op, value } => write!(f, "{metric}{}{value}", op.as_str()),
            Gate::BetterThan { model } => write!(f, "better-than:{model}"),
        }
    }
}

impl std::str::FromStr for Gate {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Gate, SpecError> {
        let s = s.trim();
        if let Some(model) = s.strip_prefix("better-than:") {
            if model.trim().is_empty() {
                return Err(SpecError("--gate better-than:ID needs a candidate id".into()));
            }
            return Ok(Gate::BetterThan { model: model.trim().to_owned() });
        }
        // Two-character operators first, so `>=` is not read as `>`.
        for (text, op) in [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)] {
            if let Some((metric, value)) = s.split_once(text) {
                let metric = metric.trim();
                let value: f64 =
                    value.trim().parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| {
                        SpecError(format!("--gate {s}: '{}' is not a number", value.trim()))
                    })?;
                if metric.is_empty() {
                    return Err(SpecError(format!("--gate {s}: name the metric, e.g. f1>=0.9")));
                }
                return Ok(Gate::Threshold { metric: metric.to_owned(), op, value });
            }
        }
        Err(SpecError(format!(
            "--gate {s}: write METRIC>=VALUE (or >, <=, <), e.g. f1>=0.9, or better-than:ID"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_parse_and_say_what_is_wrong() {
        let g: Gate = "f1>=0.9".parse().unwrap();
        assert_eq!(g, Gate::Threshold { metric: "f1".into(), op: Op::Ge, value: 0.9 });
        assert_eq!(g.to_string(), "f1>=0.9");
        let g: Gate = " log_loss <= 0.3 ".parse().unwrap();
        assert_eq!(g, Gate::Threshold { metric: "log_loss".into(), op: Op::Le, value: 0.3 });
        assert_eq!(
            "better-than:baseline".parse::<Gate>().unwrap(),
            Gate::BetterThan { model: "baseline".into() }
        );
        assert!(Op::Gt.holds(0.91, 0.9) && !Op::Gt.holds(0.9, 0.9) && Op::Ge.holds(0.9, 0.9));
        let e = "f1=0.9".parse::<Gate>().unwrap_err().0;
        assert_eq!(
            e,
            "--gate f1=0.9: write METRIC>=VALUE (or >, <=, <), e.g. f1>=0.9, or better-than:ID"
        );
        assert_eq!(
            "f1>=high".parse::<Gate>().unwrap_err().0,
            "--gate f1>=high: 'high' is not a number"
        );
    }
}
