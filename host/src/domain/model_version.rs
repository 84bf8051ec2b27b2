//! Registered models: the lifecycle stage of a version, how a version is
//! named on the command line and in URLs (`NAME`, `NAME@ALIAS`, `NAME:N`),
//! and the semantic-version rule of a new version.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a version is in its life, as MLflow's stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Just trained (every version starts here).
    Development,
    /// Being checked before production.
    Staging,
    /// Serving: at most one version of a model at a time.
    Production,
    /// Still loadable, on its way out.
    Deprecated,
    /// Kept for the record; `gc` may remove an archived version's artifact.
    Archived,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 5] =
        [Stage::Development, Stage::Staging, Stage::Production, Stage::Deprecated, Stage::Archived];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
            Stage::Deprecated => "deprecated",
            Stage::Archived => "archived",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
            format!("no stage '{s}'; choose one of {}", names.join(", "))
        })
    }
}

/// Which version of a registered model a request means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// `NAME`: the production version, else the latest.
    Name(String),
    /// `NAME@ALIAS`.
    Alias(String, String),
    /// `NAME:N`.
    Version(String, i64),
}

impl ModelRef {
    /// The model's name.
    pub fn name(&self) -> &str {
        match self {
            ModelRef::Name(n) | ModelRef::Alias(n, _) | ModelRef::Version(n, _) => n,
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Name(n) => write!(f, "{n}"),
            ModelRef::Alias(n, a) => write!(f, "{n}@{a}"),
            ModelRef::Version(n, v) => write!(f, "{n}:{v}"),
        }
    }
}

/// A model or alias name: letters, digits, `-`, `_`, `.`, 1 to 64 of them,
/// starting with a letter or digit (safe in a URL path and a file name).
pub fn check_name(what: &str, s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} '{s}' is not a valid name: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

impl FromStr for ModelRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((name, alias)) = s.split_once('@') {
            check_name("model", name)?;
            check_name("alias", alias)?;
            return Ok(ModelRef::Alias(name.into(), alias.into()));
        }
        if let Some((name, n)) = s.split_once(':') {
            check_name("model", name)?;
            let v = n.parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                format!("'{s}': the version after ':' must be a number from 1, e.g. {name}:3")
            })?;
            return Ok(ModelRef::Version(name.into(), v));
        }
        check_name("model", s)?;
        Ok(ModelRef::Name(s.into()))
    }
}

/// A semantic version `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Semver(pub u32, pub u32, pub u32);

impl fmt::Display for Semver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl FromStr for Semver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<u32> = s
            .split('.')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| format!("'{s}' is not a semantic version MAJOR.MINOR.PATCH"))?;
        match parts[..] {
            [a, b, c] => Ok(Semver(a, b, c)),
            _ => Err(format!("'{s}' is not a semantic version MAJOR.MINOR.PATCH")),
        }
    }
}

/// What a new version changes against the latest one, for its semver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Other features (names or kinds) or another task: callers must change.
    Interface,
    /// Another plugin (name, version or build) or other parameters.
    Model,
    /// The same model on other data (or nothing changed).
    Data,
}

impl Semver {
    /// The first version of a model.
    pub const FIRST: Semver = Semver(1, 0, 0);

    /// The version after `self` for `change`.
    pub fn bump(self, change: Change) -> Semver {
        match change {
            Change::Interface => Semver(self.0 + 1, 0, 0),
            Change::Model => Semver(self.0, self.1 + 1, 0),
            Change::Data => Semver(self.0, self.1, self.2 + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_bad_ones_say_how_to_write_them() {
        assert_eq!("churn".parse(), Ok(ModelRef::Name("churn".into())));
        assert_eq!(
            "churn@champion".parse(),
            Ok(ModelRef::Alias("churn".into(), "champion".into()))
        );
        assert_eq!("churn:3".parse(), Ok(ModelRef::Version("churn".into(), 3)));
        assert!("churn:0".parse::<ModelRef>().unwrap_err().contains("e.g. churn:3"));
        assert!("../x".parse::<ModelRef>().unwrap_err().contains("not a valid name"));
        assert!("a@".parse::<ModelRef>().unwrap_err().contains("alias ''"));
    }

    #[test]
    fn semver_bumps_by_what_changed() {
        let v = Semver(1, 2, 3);
        assert_eq!(v.bump(Change::Interface).to_string(), "2.0.0");
        assert_eq!(v.bump(Change::Model).to_string(), "1.3.0");
        assert_eq!(v.bump(Change::Data).to_string(), "1.2.4");
        assert_eq!("1.2.3".parse(), Ok(v));
        assert!("1.2".parse::<Semver>().is_err());
    }

    #[test]
    fn stages_round_trip_and_an_unknown_one_lists_them() {
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse(), Ok(s));
        }
        let err = "live".parse::<Stage>().unwrap_err();
        assert_eq!(
            err,
            "no stage 'live'; choose one of development, staging, production, deprecated, archived"
        );
    }
}
