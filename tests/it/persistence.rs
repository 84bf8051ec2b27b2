//! Every reference plugin's fitted model survives `save` and `load` through
//! the ABI: a fresh model loaded from the bytes predicts exactly what the
//! fitted one did. Bytes of one plugin are refused by another, and damaged
//! bytes by their own. Where a plugin offers feature importances, there is
//! one per feature.

use mlhost::data::dataset::{self, Source, TaskHint};
use mlhost::plugin::loader::{self, FitHooks, Model};
use mlhost_plugin_api::{Control, Matrix};
use mlhost_tests::{REFERENCE_PLUGINS, plugin_so};

struct Hooks(usize);

impl FitHooks for Hooks {
    fn seed(&self) -> u64 {
        7
    }
    fn n_classes(&self) -> usize {
        self.0
    }
    fn should_stop(&self) -> bool {
        false
    }
    fn on_epoch(&mut self, _: u32, _: &[(&str, f64)]) -> Control {
        Control::Continue
    }
}

/// Predictions and (for classifiers) probabilities on the whole data.
fn outputs(m: &Model, x: Matrix<'_>, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut pred = vec![f64::NAN; x.rows()];
    m.predict(x, &mut pred).unwrap();
    let mut proba = vec![f64::NAN; x.rows() * k];
    if k == 0 || !m.predict_proba(x, &mut proba).unwrap() {
        proba.clear();
    }
    (pred, proba)
}

/// Fits `plugin` on `data`, saves, loads into a fresh model and checks the
/// outputs are identical; returns the saved bytes.
fn round_trip(name: &str, plugin: &loader::Plugin, data: &dataset::Dataset) -> Vec<u8> {
    let k = data.n_classes();
    let x = Matrix::new(&data.x, data.rows, data.cols()).unwrap();
    let mut fitted = plugin.new_model(&plugin.info.defaults()).unwrap();
    fitted.fit(x, data.y(), &mut Hooks(k)).unwrap();
    let bytes = fitted.save().unwrap_or_else(|e| panic!("{name}: save: {e}"));
    let mut restored = plugin.new_model(&plugin.info.defaults()).unwrap();
    restored.load(&bytes).unwrap_or_else(|e| panic!("{name}: load: {e}"));
    assert_eq!(outputs(&restored, x, k), outputs(&fitted, x, k), "{name} (k = {k}): same outputs");
    let mut damaged = plugin.new_model(&plugin.info.defaults()).unwrap();
    assert!(damaged.load(&bytes[..bytes.len() / 2]).is_err(), "{name}: half the bytes");
    if let Some(imp) = fitted.feature_importances().unwrap() {
        assert_eq!(imp.len(), data.cols(), "{name}: one importance per feature");
        assert!(imp.iter().all(|v| v.is_finite() && *v >= 0.0), "{name}: {imp:?}");
    }
    bytes
}

#[test]
fn every_reference_plugin_round_trips_its_fitted_model() {
    use mlhost_plugin_api::Task;
    let iris = dataset::load(&Source::Builtin("iris".into()), None, TaskHint::Infer).unwrap();
    let diabetes =
        dataset::load(&Source::Builtin("diabetes".into()), None, TaskHint::Infer).unwrap();
    let baseline = loader::load(plugin_so("baseline")).unwrap();
    let foreign = round_trip("baseline", &baseline, &iris);
    for name in REFERENCE_PLUGINS {
        let plugin = loader::load(plugin_so(name)).unwrap();
        // Every task the plugin does: a two-task plugin's regression path too.
        for (task, data) in [(Task::Classification, &iris), (Task::Regression, &diabetes)] {
            if plugin.info.tasks.contains(&task) {
                round_trip(name, &plugin, data);
            }
        }
        if *name != "baseline" {
            let mut m = plugin.new_model(&plugin.info.defaults()).unwrap();
            let err = m.load(&foreign).unwrap_err().to_string();
            assert!(err.contains("saved by plugin baseline"), "{name}: {err}");
        }
    }
}
