//! Calling real plugins in-process through the loader: panics stay errors.

use mlhost::plugin::loader::{self, FitHooks};
use mlhost_plugin_api::{Control, ErrorKind, Matrix};
use mlhost_tests::{baseline_so, fixture_so};

struct Hooks {
    n_classes: usize,
}

impl FitHooks for Hooks {
    fn seed(&self) -> u64 {
        42
    }
    fn n_classes(&self) -> usize {
        self.n_classes
    }
    fn should_stop(&self) -> bool {
        false
    }
    fn on_epoch(&mut self, _: u32, _: &[(&str, f64)]) -> Control {
        Control::Continue
    }
}

#[test]
fn a_panicking_fit_is_an_error_and_the_host_keeps_running() {
    let plugin = loader::load(fixture_so("panic-fit")).expect("panic-fit loads");
    let mut model = plugin.new_model(&plugin.info.defaults()).expect("constructor is fine");
    let x = [0.0; 4];
    let err = model
        .fit(Matrix::new(&x, 4, 1).unwrap(), &[0.0, 1.0, 0.0, 1.0], &mut Hooks { n_classes: 2 })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert!(err.message().starts_with("fit panicked: index out of bounds"), "{err}");
    // The model may be half-updated: it refuses further use.
    let again = model
        .fit(Matrix::new(&x, 4, 1).unwrap(), &[0.0, 1.0, 0.0, 1.0], &mut Hooks { n_classes: 2 })
        .unwrap_err();
    assert!(again.message().contains("panicked earlier"), "{again}");

    // Same process, another plugin: business as usual.
    let baseline = loader::load(baseline_so()).expect("baseline loads");
    let mut m = baseline.new_model(&baseline.info.defaults()).unwrap();
    m.fit(Matrix::new(&x, 4, 1).unwrap(), &[1.0, 1.0, 0.0, 1.0], &mut Hooks { n_classes: 2 })
        .unwrap();
    let mut out = [0.0; 4];
    m.predict(Matrix::new(&x, 4, 1).unwrap(), &mut out).unwrap();
    assert_eq!(out, [1.0; 4]);
}

#[test]
fn baseline_through_the_abi_predicts_probabilities_and_round_trips() {
    let plugin = loader::load(baseline_so()).unwrap();
    let mut model = plugin.new_model(&plugin.info.defaults()).unwrap();
    let x = [0.0; 4];
    let y = [0.0, 2.0, 2.0, 1.0];
    model.fit(Matrix::new(&x, 4, 1).unwrap(), &y, &mut Hooks { n_classes: 3 }).unwrap();
    let mut proba = [0.0; 6];
    assert!(model.predict_proba(Matrix::new(&x[..2], 2, 1).unwrap(), &mut proba).unwrap());
    assert_eq!(proba, [0.25, 0.25, 0.5, 0.25, 0.25, 0.5]);

    let mut restored = plugin.new_model(&plugin.info.defaults()).unwrap();
    restored.load(&model.save().unwrap()).unwrap();
    let mut out = [9.0; 2];
    restored.predict(Matrix::new(&x[..2], 2, 1).unwrap(), &mut out).unwrap();
    assert_eq!(out, [2.0, 2.0]);

    // A regression fit offers no probabilities: Ok(false), not an error.
    let mut reg = plugin.new_model(&plugin.info.defaults()).unwrap();
    reg.fit(Matrix::new(&x, 4, 1).unwrap(), &[1.0, 2.0, 3.0, 6.0], &mut Hooks { n_classes: 0 })
        .unwrap();
    assert!(!reg.predict_proba(Matrix::new(&x, 4, 1).unwrap(), &mut [0.0; 4]).unwrap());
    // Wrong-length output buffer is refused before the plugin sees it.
    assert!(reg.predict(Matrix::new(&x, 4, 1).unwrap(), &mut [0.0; 3]).is_err());
}

#[test]
fn a_constructor_panic_is_an_error_value() {
    let plugin = loader::load(fixture_so("panic-ctor")).unwrap();
    let err = plugin.new_model(&plugin.info.defaults()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    // The file and line of the panic travel with it.
    assert_eq!(
        err.message(),
        "constructor panicked: fixture: constructor exploded (at panic-ctor/src/lib.rs:11)"
    );
}

/// Records epochs and answers Stop at `stop_at`; `stop_now` sets should_stop.
struct Recorder {
    epochs: Vec<(u32, Vec<(String, f64)>)>,
    stop_at: u32,
    stop_now: bool,
}

impl FitHooks for Recorder {
    fn seed(&self) -> u64 {
        12345
    }
    fn n_classes(&self) -> usize {
        3
    }
    fn threads(&self) -> usize {
        2
    }
    fn should_stop(&self) -> bool {
        self.stop_now
    }
    fn on_epoch(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control {
        self.epochs.push((epoch, metrics.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()));
        if epoch >= self.stop_at { Control::Stop } else { Control::Continue }
    }
}

#[test]
fn fit_context_carries_seed_classes_threads_epochs_and_stop_across_the_abi() {
    let plugin = loader::load(fixture_so("epochs")).unwrap();
    let x = [0.0; 2];
    let mut model = plugin.new_model(&plugin.info.defaults()).unwrap();
    let mut rec = Recorder { epochs: Vec::new(), stop_at: 3, stop_now: false };
    model.fit(Matrix::new(&x, 2, 1).unwrap(), &[0.0, 1.0], &mut rec).unwrap();
    let seen: Vec<u32> = rec.epochs.iter().map(|(e, _)| *e).collect();
    assert_eq!(seen, [1, 2, 3], "the plugin stops when the reporter says Stop");
    let first = [("seed", 12345.0), ("n_classes", 3.0), ("threads", 2.0)];
    let first: Vec<(String, f64)> = first.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(rec.epochs[0].1, first);
    let mut out = [0.0; 2];
    model.predict(Matrix::new(&x, 2, 1).unwrap(), &mut out).unwrap();
    assert_eq!(out, [3.0, 3.0]);

    let mut stopped = Recorder { epochs: Vec::new(), stop_at: 100, stop_now: true };
    let err = model.fit(Matrix::new(&x, 2, 1).unwrap(), &[0.0, 1.0], &mut stopped).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stopped);
    assert!(stopped.epochs.is_empty());
}

/// The plugin-api 0.2.0 before `FitContext::threads` was appended.
const BEFORE_THREADS: &str = "5e140e1";

#[test]
fn a_plugin_built_against_plugin_api_0_2_is_refused_naming_the_rebuild() {
    // Appending `threads` to the host's context vtable makes abi_stable
    // refuse 0.2 binaries ("too many fields"), hence ABI 0.3 and this line.
    let so = mlhost_tests::api_at_rev_so(BEFORE_THREADS);
    let reason = loader::load(&so).unwrap_err().reason;
    assert_eq!(
        reason,
        "built against plugin-api 0.2.0 but host has 0.3.0; rebuild the plugin against mlhost-plugin-api 0.3"
    );
}

/// The plugin-api before the typed API and `feature_importances` (the
/// revision this wave started from): its binaries must still load.
const BEFORE_TYPED_API: &str = "cc1b419";

#[test]
fn a_plugin_built_against_the_previous_plugin_api_is_refused_naming_the_rebuild() {
    // abi_stable lets a host load a library whose vtables have *more*
    // methods than it knows, not fewer: appending feature_importances made
    // 0.1 binaries unloadable, hence ABI 0.2, and this one line.
    let so = mlhost_tests::api_at_rev_so(BEFORE_TYPED_API);
    let reason = loader::load(&so).unwrap_err().reason;
    assert_eq!(
        reason,
        "built against plugin-api 0.1.0 but host has 0.3.0; rebuild the plugin against mlhost-plugin-api 0.3"
    );
}
