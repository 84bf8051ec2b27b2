//! Fit and predict time of every reference plugin on one training fold of
//! `builtin:breast_cancer` (455 rows x 30 features, standardized), called
//! through its loaded release `.so`. Measures, never asserts.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlhost::data::dataset::{self, Source, TaskHint};
use mlhost::data::prep::{Prep, PrepSpec};
use mlhost::data::scale::Scale;
use mlhost::data::split;
use mlhost::domain::Protocol;
use mlhost::plugin::loader::{self, FitHooks};
use mlhost_plugin_api::{Control, Matrix, Task};
use mlhost_tests::{cargo_build, root};

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

fn fit_times(c: &mut Criterion) {
    let names = ["baseline", "logistic", "tree", "naive-bayes", "knn", "forest", "gbdt", "mlp"];
    let target = root().join("target/bench-plugins").display().to_string();
    let mut args = vec!["--lib", "--release", "--target-dir", &target];
    let packages: Vec<String> = names.iter().map(|n| format!("mlhost-plugin-{n}")).collect();
    for p in &packages {
        args.extend(["-p", p]);
    }
    let built = cargo_build(&root(), &args);

    let data =
        dataset::load(&Source::Builtin("breast_cancer".into()), None, TaskHint::Infer).unwrap();
    let fold =
        split::folds(Protocol::kfold(5), Task::Classification, data.y(), None).unwrap().remove(0);
    let scaled = standardized(&data, &fold.train);
    let x = Matrix::new(&scaled, fold.train.len(), data.cols()).unwrap();
    let y: Vec<f64> = fold.train.iter().map(|&i| data.y()[i as usize]).collect();
    let mut out = vec![0.0; fold.train.len()];

    let mut g = c.benchmark_group("fit_breast_cancer_fold");
    g.sample_size(10);
    for name in names {
        let so = &built[&format!("mlhost_plugin_{}", name.replace('-', "_"))];
        let plugin = loader::load(so).unwrap();
        let params = plugin.info.defaults();
        g.bench_with_input(BenchmarkId::new("fit", name), &name, |b, _| {
            b.iter(|| plugin.new_model(&params).unwrap().fit(x, &y, &mut Hooks).unwrap())
        });
        let mut model = plugin.new_model(&params).unwrap();
        model.fit(x, &y, &mut Hooks).unwrap();
        g.bench_with_input(BenchmarkId::new("predict", name), &name, |b, _| {
            b.iter(|| model.predict(x, &mut out).unwrap())
        });
    }
    g.finish();
}

/// The per-epoch work the host does in a run (`eval`'s hooks): metrics to
/// JSON with the epoch's duration, sent over a channel to the epoch writer.
struct Reporting {
    tx: std::sync::mpsc::Sender<String>,
    last: std::time::Instant,
}
impl FitHooks for Reporting {
    fn seed(&self) -> u64 {
        0
    }
    fn n_classes(&self) -> usize {
        2
    }
    fn should_stop(&self) -> bool {
        false
    }
    fn on_epoch(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control {
        let now = std::time::Instant::now();
        let mut m: std::collections::BTreeMap<&str, f64> = metrics.iter().copied().collect();
        m.insert("duration_ms", now.duration_since(self.last).as_secs_f64() * 1000.0);
        m.insert("epoch", f64::from(epoch));
        let _ = self.tx.send(serde_json::to_string(&m).unwrap());
        self.last = now;
        Control::Continue
    }
}

/// The mlp's training time with the host recording every epoch versus a
/// host that ignores them.
fn mlp_reporting(c: &mut Criterion) {
    let target = root().join("target/bench-plugins").display().to_string();
    let built = cargo_build(
        &root(),
        &["--lib", "--release", "--target-dir", &target, "-p", "mlhost-plugin-mlp"],
    );
    let plugin = loader::load(&built["mlhost_plugin_mlp"]).unwrap();
    let data =
        dataset::load(&Source::Builtin("breast_cancer".into()), None, TaskHint::Infer).unwrap();
    let all: Vec<u32> = (0..data.rows as u32).collect();
    let scaled = standardized(&data, &all);
    let x = Matrix::new(&scaled, data.rows, data.cols()).unwrap();
    let y = data.y().to_vec();
    let params = plugin.info.defaults();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let drain = std::thread::spawn(move || rx.into_iter().count());
    let mut g = c.benchmark_group("mlp_fit_50_epochs_569x30");
    g.sample_size(20);
    g.bench_function("reporting_off", |b| {
        b.iter(|| plugin.new_model(&params).unwrap().fit(x, &y, &mut Hooks).unwrap())
    });
    g.bench_function("reporting_on", |b| {
        b.iter(|| {
            let mut hooks = Reporting { tx: tx.clone(), last: std::time::Instant::now() };
            plugin.new_model(&params).unwrap().fit(x, &y, &mut hooks).unwrap()
        })
    });
    g.finish();
    drop(tx);
    let _ = drain.join();
}

/// kNN predict at the size issue 14 names: 2,000 queries against 8,000
/// training rows of 20 features (uniform random; 2 classes), k = 5.
/// `rows` of `data`, standardized on themselves.
fn standardized(data: &dataset::Dataset, rows: &[u32]) -> Vec<f64> {
    let spec = PrepSpec { scale: Scale::Standard, ..PrepSpec::default() };
    let prep = Prep::fit(spec, &data.columns, &data.x, rows).unwrap().unwrap();
    prep.transform(&data.x, rows).unwrap()
}

fn knn_scale(c: &mut Criterion) {
    let target = root().join("target/bench-plugins").display().to_string();
    let built = cargo_build(
        &root(),
        &["--lib", "--release", "--target-dir", &target, "-p", "mlhost-plugin-knn"],
    );
    let plugin = loader::load(&built["mlhost_plugin_knn"]).unwrap();
    let mut rng = mlhost_plugin_api::SeededRng::new(9);
    let (n, m, d) = (8000, 2000, 20);
    let mut draw = |len: usize| -> Vec<f64> {
        (0..len).map(|_| (rng.next_u64() % 1_000_000) as f64 / 1e5).collect()
    };
    let (train, queries) = (draw(n * d), draw(m * d));
    let y: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
    let mut model = plugin.new_model(&plugin.info.defaults()).unwrap();
    model.fit(Matrix::new(&train, n, d).unwrap(), &y, &mut Hooks).unwrap();
    let q = Matrix::new(&queries, m, d).unwrap();
    let mut out = vec![0.0; m];
    let mut g = c.benchmark_group("knn_2000x8000x20");
    g.sample_size(20);
    g.bench_function("predict", |b| b.iter(|| model.predict(q, &mut out).unwrap()));
    g.finish();
}

criterion_group!(benches, knn_scale, fit_times, mlp_reporting);
criterion_main!(benches);
