//! What a plugin says about itself: name, version, tasks and the parameter
//! schema, and the validated parameter values a model is built from.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};
pub use crate::ffi::Task;

impl Task {
    /// The name used in reports and config: `classification` or `regression`.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A real number.
    Float(f64),
    /// A whole number.
    Int(i64),
    /// A switch.
    Bool(bool),
    /// One of a fixed set of names.
    Choice(String),
}

impl ParamValue {
    /// The kind's name: `float`, `int`, `bool` or `choice`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ParamValue::Float(_) => "float",
            ParamValue::Int(_) => "int",
            ParamValue::Bool(_) => "bool",
            ParamValue::Choice(_) => "choice",
        }
    }
}

impl ParamValue {
    /// The value with its kind, for errors: `the string "0.2"`, `the float 2.5`.
    pub fn described(&self) -> String {
        match self {
            ParamValue::Choice(c) => format!("the string \"{c}\""),
            other => format!("the {} {other}", other.kind_name()),
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Choice(v) => write!(f, "\"{v}\""),
        }
    }
}

/// The schema of one parameter: its kind (from the default), the default,
/// an inclusive range for numbers, the allowed names for a choice, and whether
/// a search should sample it on a log scale.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Parameter name, as written in `models.toml`.
    pub name: String,
    /// One line for the registry report and search tools.
    pub description: String,
    /// The default value; its variant is the parameter's kind.
    pub default: ParamValue,
    /// Inclusive lower bound (numbers only).
    pub min: Option<f64>,
    /// Inclusive upper bound (numbers only).
    pub max: Option<f64>,
    /// Sample on a log scale in hyperparameter search.
    pub log_scale: bool,
    /// Allowed names (choices only).
    pub choices: Vec<String>,
}

impl ParamSpec {
    fn with_default(name: &str, default: ParamValue) -> Self {
        Self {
            name: name.to_owned(),
            description: String::new(),
            default,
            min: None,
            max: None,
            log_scale: false,
            choices: Vec::new(),
        }
    }
    /// A real-valued parameter.
    pub fn float(name: &str, default: f64) -> Self {
        Self::with_default(name, ParamValue::Float(default))
    }
    /// A whole-number parameter.
    pub fn int(name: &str, default: i64) -> Self {
        Self::with_default(name, ParamValue::Int(default))
    }
    /// A boolean parameter.
    pub fn bool(name: &str, default: bool) -> Self {
        Self::with_default(name, ParamValue::Bool(default))
    }
    /// A parameter that takes one of `choices`.
    pub fn choice(name: &str, default: &str, choices: &[&str]) -> Self {
        let mut spec = Self::with_default(name, ParamValue::Choice(default.to_owned()));
        spec.choices = choices.iter().map(|c| (*c).to_owned()).collect();
        spec
    }
    /// Inclusive bounds for a number.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }
    /// Inclusive lower bound only.
    pub fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }
    /// Inclusive upper bound only.
    pub fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }
    /// Search this parameter on a log scale.
    pub fn log_scale(mut self) -> Self {
        self.log_scale = true;
        self
    }
    /// A one-line description.
    pub fn describe(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }

    /// The allowed values in words, for error messages: `an int in [1, 100]`.
    pub fn allowed(&self) -> String {
        let bounds = match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!(" in [{lo}, {hi}]"),
            (Some(lo), None) => format!(" >= {lo}"),
            (None, Some(hi)) => format!(" <= {hi}"),
            (None, None) => String::new(),
        };
        match &self.default {
            ParamValue::Float(_) => format!("a float{bounds}"),
            ParamValue::Int(_) => format!("an int{bounds}"),
            ParamValue::Bool(_) => "true or false".to_owned(),
            ParamValue::Choice(_) => format!("one of {}", self.choices.join(", ")),
        }
    }

    /// Checks `value` against this spec; an int is accepted for a float.
    pub fn check(&self, value: &ParamValue) -> Result<ParamValue> {
        let bad = |why: String| Error::invalid_param(&self.name, why);
        let value = match (&self.default, value) {
            (ParamValue::Float(_), ParamValue::Int(i)) => ParamValue::Float(*i as f64),
            (d, v) if std::mem::discriminant(d) == std::mem::discriminant(v) => v.clone(),
            _ => {
                return Err(bad(format!("expected {}, got {}", self.allowed(), value.described())));
            }
        };
        let number = match &value {
            ParamValue::Float(f) if !f.is_finite() => {
                return Err(bad(format!("expected {}, got {f}", self.allowed())));
            }
            ParamValue::Float(f) => Some(*f),
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Choice(c) if !self.choices.iter().any(|allowed| allowed == c) => {
                return Err(bad(format!("expected {}, got \"{c}\"", self.allowed())));
            }
            _ => None,
        };
        if let Some(n) = number {
            let below = self.min.is_some_and(|lo| n < lo);
            let above = self.max.is_some_and(|hi| n > hi);
            if below || above {
                return Err(bad(format!("expected {}, got {value}", self.allowed())));
            }
        }
        Ok(value)
    }
}

/// Everything a plugin says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInfo {
    /// Unique plugin name; registry entries refer to it.
    pub name: String,
    /// The plugin's own version (its crate version, usually).
    pub version: String,
    /// One line shown in the registry report.
    pub description: String,
    /// The tasks it can do; never empty.
    pub tasks: Vec<Task>,
    /// The parameter schema.
    pub params: Vec<ParamSpec>,
}

impl PluginInfo {
    /// A plugin `name` at `version` for one `task`.
    pub fn new(name: &str, version: &str, task: Task) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            description: String::new(),
            tasks: vec![task],
            params: Vec::new(),
        }
    }
    /// Adds another task the plugin can do.
    pub fn task(mut self, task: Task) -> Self {
        if !self.tasks.contains(&task) {
            self.tasks.push(task);
        }
        self
    }
    /// A one-line description.
    pub fn describe(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }
    /// Declares a parameter.
    pub fn param(mut self, spec: ParamSpec) -> Self {
        self.params.push(spec);
        self
    }

    /// Validates `given` against the schema and fills in defaults. An unknown
    /// name, a wrong kind or a value out of range is an error naming the
    /// parameter and what it accepts.
    pub fn resolve<'a>(
        &self,
        given: impl IntoIterator<Item = (&'a str, &'a ParamValue)>,
    ) -> Result<Params> {
        let mut values: BTreeMap<String, ParamValue> =
            self.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
        for (name, value) in given {
            let Some(spec) = self.params.iter().find(|p| p.name == name) else {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                let known = if known.is_empty() {
                    "it takes no parameters".to_owned()
                } else {
                    format!("known: {}", known.join(", "))
                };
                return Err(Error::invalid_param(
                    name,
                    format!("unknown to plugin '{}' ({known})", self.name),
                ));
            };
            values.insert(name.to_owned(), spec.check(value)?);
        }
        Ok(Params { values })
    }

    /// The default parameters.
    pub fn defaults(&self) -> Params {
        Params { values: self.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect() }
    }
}

/// Validated parameter values, one for every parameter in the schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// Sets a value without schema checks (tests, direct library use).
    pub fn set(mut self, name: &str, value: ParamValue) -> Self {
        self.values.insert(name.to_owned(), value);
        self
    }
    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }
    /// Iterates over `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }
    fn require(&self, name: &str) -> Result<&ParamValue> {
        self.get(name).ok_or_else(|| Error::invalid_param(name, "missing"))
    }
    fn wrong(name: &str, want: &str, got: &ParamValue) -> Error {
        Error::invalid_param(name, format!("expected {want}, got {}", got.described()))
    }
    /// A float parameter (an int value is widened).
    pub fn float(&self, name: &str) -> Result<f64> {
        match self.require(name)? {
            ParamValue::Float(f) => Ok(*f),
            ParamValue::Int(i) => Ok(*i as f64),
            other => Err(Self::wrong(name, "a float", other)),
        }
    }
    /// An int parameter.
    pub fn int(&self, name: &str) -> Result<i64> {
        match self.require(name)? {
            ParamValue::Int(i) => Ok(*i),
            other => Err(Self::wrong(name, "an int", other)),
        }
    }
    /// A bool parameter.
    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.require(name)? {
            ParamValue::Bool(b) => Ok(*b),
            other => Err(Self::wrong(name, "a bool", other)),
        }
    }
    /// A choice parameter.
    pub fn choice(&self, name: &str) -> Result<&str> {
        match self.require(name)? {
            ParamValue::Choice(c) => Ok(c),
            other => Err(Self::wrong(name, "a choice", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PluginInfo {
        PluginInfo::new("p", "1.0.0", Task::Classification)
            .param(ParamSpec::int("k", 5).range(1.0, 100.0))
            .param(ParamSpec::float("alpha", 1.0).min(0.0).log_scale())
            .param(ParamSpec::choice("mode", "a", &["a", "b"]))
    }

    fn check(given: &[(&str, ParamValue)], expected: &str) {
        let got = match info().resolve(given.iter().map(|(k, v)| (*k, v))) {
            Ok(p) => format!("{:?}", p.iter().collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn a_string_for_a_number_is_called_a_string() {
        check(
            &[("alpha", ParamValue::Choice("0.2".into()))],
            r#"parameter 'alpha': expected a float >= 0, got the string "0.2""#,
        );
    }

    #[test]
    fn resolve_validates_and_fills_defaults() {
        check(&[], r#"[("alpha", Float(1.0)), ("k", Int(5)), ("mode", Choice("a"))]"#);
        check(
            &[("alpha", ParamValue::Int(2))],
            r#"[("alpha", Float(2.0)), ("k", Int(5)), ("mode", Choice("a"))]"#,
        );
        check(&[("k", ParamValue::Int(0))], "parameter 'k': expected an int in [1, 100], got 0");
        check(
            &[("k", ParamValue::Float(2.5))],
            "parameter 'k': expected an int in [1, 100], got the float 2.5",
        );
        check(
            &[("alpha", ParamValue::Float(-1.0))],
            "parameter 'alpha': expected a float >= 0, got -1",
        );
        check(
            &[("alpha", ParamValue::Float(f64::NAN))],
            "parameter 'alpha': expected a float >= 0, got NaN",
        );
        check(
            &[("mode", ParamValue::Choice("c".into()))],
            r#"parameter 'mode': expected one of a, b, got "c""#,
        );
        check(
            &[("depth", ParamValue::Int(3))],
            "parameter 'depth': unknown to plugin 'p' (known: k, alpha, mode)",
        );
    }

    #[test]
    fn typed_getters_name_the_parameter() {
        let p = info().defaults();
        assert_eq!(p.int("k"), Ok(5));
        assert_eq!(p.float("k"), Ok(5.0));
        assert_eq!(
            p.int("alpha").unwrap_err().to_string(),
            "parameter 'alpha': expected an int, got the float 1"
        );
        assert_eq!(p.bool("nope").unwrap_err().to_string(), "parameter 'nope': missing");
    }
}
