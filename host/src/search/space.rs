//! The search space of a study: one dimension per searched parameter,
//! either exactly the `--param NAME=SPEC` given or, without any, every
//! parameter the plugin's schema bounds (`ParamSpec`: ranges, log scale,
//! choices, bools); each checked against the schema so a study never
//! proposes a value the plugin would refuse.
//!
//! SPEC is `a,b,c` (values: a grid axis), `LOW..HIGH` (uniform; an int
//! parameter stays whole) or `LOW..HIGH:log`.

use mlhost_plugin_api::{ParamSpec, ParamValue};

/// The values one parameter may take in a study.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A real interval, sampled uniformly or on a log scale.
    Float { low: f64, high: f64, log: bool },
    /// Whole numbers in `[low, high]`.
    Int { low: i64, high: i64, log: bool },
    /// A fixed list (choices, bools, or values given on the command line).
    Values(Vec<ParamValue>),
}

/// One searched parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    /// The parameter's name in the plugin's schema.
    pub name: String,
    /// What it may take.
    pub domain: Domain,
}

/// Every searched parameter, in schema order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Space {
    /// The dimensions.
    pub dims: Vec<Dimension>,
}

impl Space {
    /// The space the plugin's schema implies: every choice and bool, and
    /// every number with both bounds, log-scaled where the schema says so
    /// or where `high / low >= 1000` (`low > 0`). A float range from 0 with
    /// `high >= 1000` is searched on a log scale from `high / 1e9` (0, "off",
    /// is left out: `alpha` in 0..1e6 becomes 1e-3..1e6); an int range from
    /// 0 stays uniform (0 often means "unlimited", as a tree's depth).
    /// A number bounded on one side only keeps its default: there is no
    /// interval to search; name one with `--param`.
    pub fn from_schema(schema: &[ParamSpec]) -> Space {
        Space { dims: schema.iter().filter_map(implied).collect() }
    }

    /// The space of exactly the parameters `given` (`(name, SPEC)`), in
    /// schema order: as `GridSearchCV`'s `param_grid` or an Optuna
    /// objective, a study searches what it is told and leaves the rest as
    /// the candidate has them. An unknown name, a malformed SPEC or a
    /// value outside the schema is an error naming it.
    pub fn named(schema: &[ParamSpec], given: &[(String, String)]) -> Result<Space, String> {
        let mut space = Space::default();
        for (name, text) in given {
            let Some(spec) = schema.iter().find(|s| s.name == *name) else {
                let names: Vec<&str> = schema.iter().map(|s| s.name.as_str()).collect();
                return Err(format!(
                    "--param {name}: the plugin has no parameter '{name}'; it has {}",
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ));
            };
            let domain = parse(spec, text).map_err(|e| format!("--param {name}={text}: {e}"))?;
            let dim = Dimension { name: name.clone(), domain };
            if space.dims.iter().any(|d| d.name == *name) {
                return Err(format!("--param {name} is given twice; give it once"));
            }
            space.dims.push(dim);
        }
        let order = |d: &Dimension| schema.iter().position(|s| s.name == d.name);
        space.dims.sort_by_key(order);
        Ok(space)
    }
}

/// A range this wide (high / low) is searched on a log scale whatever the
/// schema says: drawn uniformly, 0..1e6 would try a value under 1,000
/// once in a thousand trials.
const WIDE: f64 = 1e3;

fn implied(spec: &ParamSpec) -> Option<Dimension> {
    let domain = match &spec.default {
        ParamValue::Bool(_) => {
            Domain::Values(vec![ParamValue::Bool(false), ParamValue::Bool(true)])
        }
        ParamValue::Choice(_) => {
            Domain::Values(spec.choices.iter().map(|c| ParamValue::Choice(c.clone())).collect())
        }
        ParamValue::Float(_) => {
            let (low, high) = (spec.min?, spec.max?);
            if low == 0.0 && high >= WIDE {
                // 0 is "off"; the scale of what matters is logarithmic.
                Domain::Float { low: high / 1e9, high, log: true }
            } else {
                let log = low > 0.0 && (spec.log_scale || high / low >= WIDE);
                Domain::Float { low, high, log }
            }
        }
        ParamValue::Int(_) => {
            let (low, high) = (spec.min? as i64, spec.max? as i64);
            let log = low > 0 && (spec.log_scale || high as f64 / low as f64 >= WIDE);
            Domain::Int { low, high, log }
        }
    };
    Some(Dimension { name: spec.name.clone(), domain })
}

/// Parses one SPEC for the parameter `spec`, checking every bound and value
/// against the schema.
fn parse(spec: &ParamSpec, text: &str) -> Result<Domain, String> {
    let check = |v: ParamValue| spec.check(&v).map_err(|e| e.message().to_owned());
    let Some((low, rest)) = text.split_once("..") else {
        let values = text
            .split(',')
            .map(|v| check(value(spec, v.trim())?))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(v) =
            values.iter().enumerate().find(|(i, v)| values[..*i].contains(v)).map(|p| p.1)
        {
            return Err(format!("{} is listed twice; list each value once", wire_text(v)));
        }
        return Ok(Domain::Values(values));
    };
    let (high, log) = match rest.strip_suffix(":log") {
        Some(high) => (high, true),
        None => (rest, false),
    };
    let number = |s: &str| -> Result<f64, String> {
        s.trim().parse::<f64>().map_err(|_| format!("{s:?} is not a number; write LOW..HIGH"))
    };
    let (low, high) = (number(low)?, number(high)?);
    if low >= high || low.is_nan() || high.is_nan() {
        return Err(format!("the range is empty: {low} is not below {high}"));
    }
    if log && low <= 0.0 {
        return Err(format!("a log range needs a positive low end, got {low}"));
    }
    match spec.default {
        ParamValue::Float(_) => {
            check(ParamValue::Float(low))?;
            check(ParamValue::Float(high))?;
            Ok(Domain::Float { low, high, log })
        }
        ParamValue::Int(_) if low.fract() == 0.0 && high.fract() == 0.0 => {
            let (low, high) = (low as i64, high as i64);
            check(ParamValue::Int(low))?;
            check(ParamValue::Int(high))?;
            Ok(Domain::Int { low, high, log })
        }
        ParamValue::Int(_) => Err("an int parameter needs whole bounds".to_owned()),
        _ => Err(format!("a range needs a numeric parameter; list the values: {}", spec.allowed())),
    }
}

/// One listed value, read as the parameter's kind.
/// One value of parameter `spec` as the user wrote it (`--param k=3`).
pub fn value(spec: &ParamSpec, text: &str) -> Result<ParamValue, String> {
    let bad = || format!("{text:?} is not {}", spec.allowed());
    Ok(match spec.default {
        ParamValue::Float(_) => ParamValue::Float(text.parse().map_err(|_| bad())?),
        ParamValue::Int(_) => ParamValue::Int(text.parse().map_err(|_| bad())?),
        ParamValue::Bool(_) => ParamValue::Bool(text.parse().map_err(|_| bad())?),
        ParamValue::Choice(_) => ParamValue::Choice(text.to_owned()),
    })
}

/// A value as the user wrote it.
fn wire_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Choice(c) => c.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<ParamSpec> {
        vec![
            ParamSpec::float("c", 1.0).range(1e-6, 1e6).log_scale(),
            ParamSpec::int("k", 5).range(1.0, 100.0),
            ParamSpec::float("alpha", 0.0).min(0.0),
            ParamSpec::float("l2", 0.0).range(0.0, 1e6),
            ParamSpec::int("min_samples_split", 2).range(2.0, 1e6),
            ParamSpec::float("dropout", 0.1).range(0.0, 0.9),
            ParamSpec::bool("fit_intercept", true),
            ParamSpec::choice("weights", "uniform", &["uniform", "distance"]),
        ]
    }

    #[test]
    fn the_schema_implies_every_bounded_number_choice_and_bool() {
        let space = Space::from_schema(&schema());
        let names: Vec<&str> = space.dims.iter().map(|d| d.name.as_str()).collect();
        let want = ["c", "k", "l2", "min_samples_split", "dropout", "fit_intercept", "weights"];
        assert_eq!(names, want, "alpha has no upper bound");
        assert_eq!(space.dims[0].domain, Domain::Float { low: 1e-6, high: 1e6, log: true });
        assert_eq!(space.dims[1].domain, Domain::Int { low: 1, high: 100, log: false });
        // Wide ranges are searched on a log scale, unasked.
        assert_eq!(space.dims[2].domain, Domain::Float { low: 1e-3, high: 1e6, log: true });
        assert_eq!(space.dims[3].domain, Domain::Int { low: 2, high: 1_000_000, log: true });
        assert_eq!(space.dims[4].domain, Domain::Float { low: 0.0, high: 0.9, log: false });
    }

    #[test]
    fn named_parameters_alone_make_the_space_in_schema_order() {
        let given =
            [("alpha", "0.01..10:log"), ("k", "1,3,5")].map(|(n, s)| (n.to_owned(), s.to_owned()));
        let space = Space::named(&schema(), &given).unwrap();
        let names: Vec<&str> = space.dims.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["k", "alpha"]);
        let k = [1, 3, 5].map(ParamValue::Int).to_vec();
        assert_eq!(space.dims[0].domain, Domain::Values(k));
        assert_eq!(space.dims[1].domain, Domain::Float { low: 0.01, high: 10.0, log: true });
        let twice = [("k", "1,2"), ("k", "3")].map(|(n, s)| (n.to_owned(), s.to_owned()));
        assert_eq!(
            Space::named(&schema(), &twice).unwrap_err(),
            "--param k is given twice; give it once"
        );
    }

    #[test]
    fn bad_specs_are_errors_naming_the_parameter_and_the_fix() {
        let cases = [
            ("k", "1,1,3", "--param k=1,1,3: 1 is listed twice; list each value once"),
            (
                "kk",
                "1",
                "--param kk: the plugin has no parameter 'kk'; it has c, k, alpha, l2, min_samples_split, dropout, fit_intercept, weights",
            ),
            ("k", "0..10", "--param k=0..10: parameter 'k'"),
            ("c", "10..1", "--param c=10..1: the range is empty: 10 is not below 1"),
            (
                "alpha",
                "0..1:log",
                "--param alpha=0..1:log: a log range needs a positive low end, got 0",
            ),
            ("k", "1.5..3", "--param k=1.5..3: an int parameter needs whole bounds"),
            ("weights", "a..b", "--param weights=a..b: \"a\" is not a number; write LOW..HIGH"),
            ("weights", "uniform,far", "--param weights=uniform,far: parameter 'weights'"),
            ("k", "three", "--param k=three: \"three\" is not an int in [1, 100]"),
        ];
        for (name, spec, expected) in cases {
            let e = Space::named(&schema(), &[(name.to_owned(), spec.to_owned())]).unwrap_err();
            assert!(e.starts_with(expected), "{name}={spec}: {e}");
        }
    }
}
