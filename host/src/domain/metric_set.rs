//! Metric records: a name → value map where `None` is a metric the data
//! leaves undefined (ROC AUC with one class), stored and sent as JSON
//! `null`, never as a silent 0.

use std::collections::{BTreeMap, BTreeSet};

/// One set of metric values (a fold's, or a mean over folds), by name.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MetricSet(BTreeMap<String, Option<f64>>);

impl MetricSet {
    /// An empty set.
    pub fn new() -> MetricSet {
        MetricSet::default()
    }

    /// The value of `name`: `None` when absent or undefined.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied().flatten()
    }

    /// Whether `name` was computed (defined or not).
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Sets `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: Option<f64>) {
        self.0.insert(name.into(), value);
    }

    /// Names and values, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<f64>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Whether nothing was computed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The JSON stored in `metrics_json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of numbers serializes")
    }

    /// Reads a stored `metrics_json`; the error names what is wrong with it.
    pub fn from_json(text: &str) -> Result<MetricSet, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl FromIterator<(String, Option<f64>)> for MetricSet {
    fn from_iter<I: IntoIterator<Item = (String, Option<f64>)>>(iter: I) -> Self {
        MetricSet(iter.into_iter().collect())
    }
}

/// Mean and population standard deviation (numpy's default) of the defined
/// values; `None` when no fold defined the metric.
pub fn mean_std(values: &[Option<f64>]) -> (Option<f64>, Option<f64>) {
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    if defined.is_empty() {
        return (None, None);
    }
    let n = defined.len() as f64;
    let mean = defined.iter().sum::<f64>() / n;
    let var = defined.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (Some(mean), Some(var.sqrt()))
}

/// Mean and population std of every metric over folds.
pub fn summarize(folds: &[MetricSet]) -> (MetricSet, MetricSet) {
    let names: BTreeSet<&String> = folds.iter().flat_map(|m| m.0.keys()).collect();
    let mut mean = MetricSet::new();
    let mut std = MetricSet::new();
    for name in names {
        let values: Vec<Option<f64>> = folds.iter().map(|m| m.get(name)).collect();
        let (m, s) = mean_std(&values);
        mean.insert(name.clone(), m);
        std.insert(name.clone(), s);
    }
    (mean, std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_skips_undefined_folds_and_keeps_null_when_none_defined() {
        let fold = |acc: Option<f64>, auc: Option<f64>| {
            [("accuracy".to_owned(), acc), ("roc_auc".to_owned(), auc)].into_iter().collect()
        };
        let (mean, std) = summarize(&[fold(Some(0.5), None), fold(Some(1.0), None)]);
        assert_eq!(mean.get("accuracy"), Some(0.75));
        assert_eq!(std.get("accuracy"), Some(0.25));
        assert!(mean.contains("roc_auc") && mean.get("roc_auc").is_none());
        assert_eq!(mean.to_json(), r#"{"accuracy":0.75,"roc_auc":null}"#);
        assert_eq!(MetricSet::from_json(&mean.to_json()).unwrap(), mean);
        assert!(MetricSet::from_json("[1]").is_err());
    }
}
