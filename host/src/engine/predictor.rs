//! A stored model ready to predict: the plugin that saved it, its bytes
//! loaded into a fresh model, and the header that prepares raw rows and
//! names the classes. Knows nothing of the store: the service hands it
//! verified artifact bytes.

use std::sync::Arc;

use mlhost_plugin_api::Matrix;

use super::train::ModelHeader;
use crate::plugin::loader::{Model, Plugin};
use crate::plugin::wire::params_from_json;
use crate::registry::{Registry, State};

/// A loaded model.
pub struct Predictor {
    /// Columns, labels, preparation.
    pub header: ModelHeader,
    /// The plugin it runs on (never unloaded while this lives).
    pub plugin: Arc<Plugin>,
    model: Model,
}

impl std::fmt::Debug for Predictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor").field("plugin", &self.header.plugin).finish_non_exhaustive()
    }
}

/// What a batch of rows came out as.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// One per row: the value, or the class code.
    pub values: Vec<f64>,
    /// Row-major `rows × classes`, when the model gives probabilities.
    pub proba: Option<Vec<f64>>,
}

/// The ready plugin of `registry` named `name`.
pub fn ready_plugin(registry: &Registry, name: &str) -> Option<Arc<Plugin>> {
    registry.candidates.iter().find_map(|c| match &c.state {
        State::Ready { plugin, .. } if plugin.info.name == name => Some(plugin.clone()),
        _ => None,
    })
}

impl Predictor {
    /// Loads `bytes` (a plugin's `save()` output) with the ready plugin of
    /// `registry` named in `header`. A missing plugin or one that refuses
    /// the bytes (another version's format, another task) is a one-line
    /// reason.
    pub fn open(registry: &Registry, header: ModelHeader, bytes: &[u8]) -> Result<Self, String> {
        let plugin = ready_plugin(registry, &header.plugin).ok_or_else(|| {
            format!(
                "no ready plugin '{}' to load it (it was saved by {} {}); put the plugin's .so in a plugin dir",
                header.plugin, header.plugin, header.plugin_version
            )
        })?;
        Self::with_plugin(plugin, header, bytes)
    }

    /// Loads `bytes` with `plugin`, which must be the plugin named in
    /// `header` (a process-isolated worker loads it from its file).
    pub fn with_plugin(
        plugin: Arc<Plugin>,
        header: ModelHeader,
        bytes: &[u8],
    ) -> Result<Self, String> {
        if plugin.info.name != header.plugin {
            return Err(format!(
                "plugin '{}' cannot load a model saved by plugin '{}'",
                plugin.info.name, header.plugin
            ));
        }
        let given = params_from_json(&header.params)?;
        let params =
            plugin.info.resolve(given.iter().map(|(k, v)| (k.as_str(), v))).map_err(|e| {
                format!("plugin '{}' refuses the stored params: {}", header.plugin, e.message())
            })?;
        let mut model = plugin.new_model(&params).map_err(|e| e.message().to_owned())?;
        model.load(bytes).map_err(|e| {
            format!(
                "plugin '{}' {} cannot load bytes saved by {} {}: {}",
                plugin.info.name,
                plugin.info.version,
                header.plugin,
                header.plugin_version,
                e.message()
            )
        })?;
        Ok(Predictor { header, plugin, model })
    }

    /// Classes, 0 for regression.
    pub fn n_classes(&self) -> usize {
        self.header.labels.as_ref().map_or(0, Vec::len)
    }

    /// True when a missing cell (NaN) is imputed as in training; false
    /// when the model has no imputer (trained without one, or with
    /// `impute = "none"`) and a missing cell is an error.
    pub fn imputes_missing(&self) -> bool {
        self.header.imputes()
    }

    /// Predicts `rows` encoded rows of `x` (the model's raw columns, as
    /// [`crate::data::rows::RowEncoder`] writes them), preparing them as
    /// the training rows were. `proba`: ask for probabilities too. A
    /// missing cell the model cannot impute is an error naming its row
    /// (counted from 1 in this batch) and column.
    pub fn predict(&self, x: &[f64], rows: usize, proba: bool) -> Result<Predictions, String> {
        let cols = self.header.columns.len();
        if !self.imputes_missing()
            && let Some(i) = x.iter().position(|v| v.is_nan())
        {
            return Err(format!(
                "row {}, column '{}': missing value, and the model was trained without imputing one; fill the cell in",
                i / cols + 1,
                self.header.columns[i % cols].name
            ));
        }
        let prepared;
        let (x, cols) = match &self.header.prep {
            Some(p) => {
                let idx: Vec<u32> = (0..rows as u32).collect();
                prepared = p.transform(x, &idx)?;
                (&prepared[..], p.cols())
            }
            None => (x, cols),
        };
        let m = Matrix::new(x, rows, cols).map_err(|e| e.message().to_owned())?;
        let mut values = vec![0.0; rows];
        self.model.predict(m, &mut values).map_err(|e| format!("predict: {}", e.message()))?;
        let k = self.n_classes();
        let proba = if proba && k > 0 {
            let mut p = vec![0.0; rows * k];
            let given = self
                .model
                .predict_proba(m, &mut p)
                .map_err(|e| format!("predict_proba: {}", e.message()))?;
            given.then_some(p)
        } else {
            None
        };
        Ok(Predictions { values, proba })
    }

    /// The label of class code `v` (classification) or the value as text.
    pub fn label(&self, v: f64) -> String {
        match &self.header.labels {
            Some(labels) => labels.get(v as usize).cloned().unwrap_or_else(|| v.to_string()),
            None => v.to_string(),
        }
    }
}
