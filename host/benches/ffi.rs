//! The cost of the plugin boundary: the logistic model's `predict` on a
//! 1,000 x 30 matrix through the loaded `.so` (abi_stable vtable, panic
//! guard, slice conversion) versus the same model linked in as a Rust
//! library; and one call of the trivial baseline, the fixed cost per call.
//! Measures, never asserts.
//!
//! Only one plugin can be linked in as a library per binary: each exports
//! the same root-module symbol.

use criterion::{Criterion, criterion_group, criterion_main};
use mlhost::plugin::loader::{self, FitHooks};
use mlhost_plugin_api::{
    Classifier, Control, FittedClassifier, Matrix, ParamSet, Proba, StandaloneContext,
};
use mlhost_plugin_logistic::{Logistic, LogisticParams};
use mlhost_tests::{cargo_build, root};

const ROWS: usize = 1000;
const COLS: usize = 30;

struct Hooks;
impl FitHooks for Hooks {
    fn seed(&self) -> u64 {
        0
    }
    fn n_classes(&self) -> usize {
        2
    }
    fn should_stop(&self) -> bool {
        false
    }
    fn on_epoch(&mut self, _: u32, _: &[(&str, f64)]) -> Control {
        Control::Continue
    }
}

fn data() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..ROWS * COLS).map(|i| (i % 97) as f64 / 97.0).collect();
    let y: Vec<f64> = (0..ROWS).map(|i| (i % 3 == 0) as u8 as f64).collect();
    (x, y)
}

fn boundary(c: &mut Criterion) {
    let target = root().join("target/bench-plugins").display().to_string();
    let built = cargo_build(
        &root(),
        &[
            "-p",
            "mlhost-plugin-baseline",
            "-p",
            "mlhost-plugin-logistic",
            "--lib",
            "--release",
            "--target-dir",
            &target,
        ],
    );
    let so = built.get("mlhost_plugin_logistic").expect("logistic .so");
    let bytes = std::fs::read(so).unwrap();
    c.bench_function("sha256_of_plugin_file", |b| b.iter(|| loader::sha256_hex(&bytes)));
    c.bench_function("elf_check_of_plugin_file", |b| b.iter(|| loader::check_elf(&bytes)));
    let plugin = loader::load(so).expect("logistic loads");
    let (x, y) = data();
    let m = Matrix::new(&x, ROWS, COLS).unwrap();
    let mut out = vec![0.0; ROWS];
    let mut proba = vec![0.0; ROWS * 2];

    // The same model twice: linked in as a Rust library, and through the .so
    // (which also converts the labels to and from f64 at the boundary).
    let params = LogisticParams::from_params(&plugin.info.defaults()).unwrap();
    let labels: Vec<u32> = y.iter().map(|&v| v as u32).collect();
    let direct =
        Logistic::fit(&params, m, &labels, &mut StandaloneContext::new(0, 2).context()).unwrap();
    let mut via_so = plugin.new_model(&plugin.info.defaults()).unwrap();
    via_so.fit(m, &y, &mut Hooks).unwrap();

    let mut classes = vec![0u32; ROWS];
    let mut g = c.benchmark_group("predict_1000x30");
    g.bench_function("direct", |b| b.iter(|| direct.predict(m, &mut classes, 2).unwrap()));
    g.bench_function("so", |b| b.iter(|| via_so.predict(m, &mut out).unwrap()));
    g.finish();
    let mut g = c.benchmark_group("predict_proba_1000x30");
    g.bench_function("direct", |b| {
        b.iter(|| direct.predict_proba(m, &mut Proba::new(&mut proba, 2).unwrap()).unwrap())
    });
    g.bench_function("so", |b| b.iter(|| via_so.predict_proba(m, &mut proba).unwrap()));
    g.finish();

    // The fixed cost of one call: the cheapest model there is (a fill).
    let baseline =
        loader::load(built.get("mlhost_plugin_baseline").expect("baseline .so")).unwrap();
    let mut trivial = baseline.new_model(&baseline.info.defaults()).unwrap();
    trivial.fit(m, &y, &mut Hooks).unwrap();
    // The same fill through the 0.1 `Model` glue (the misbehave fixture in
    // mode "ok", release build) and through the typed glue (the baseline):
    // what the typed API costs per call, in one run.
    let fixtures = cargo_build(
        &root().join("tests/fixtures"),
        &["-p", "fixture-misbehave", "--release", "--target-dir", &target],
    );
    let old = loader::load(fixtures.get("fixture_misbehave").expect("misbehave .so")).unwrap();
    let mut old_api = old.new_model(&old.info.defaults()).unwrap();
    old_api.fit(m, &y, &mut Hooks).unwrap();
    let mut g = c.benchmark_group("trivial_predict_1000x30_so");
    g.bench_function("typed", |b| b.iter(|| trivial.predict(m, &mut out).unwrap()));
    g.bench_function("model_0_1", |b| b.iter(|| old_api.predict(m, &mut out).unwrap()));
    g.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);
