//! Fit and predict time of every reference plugin on one training fold of
//! `builtin:breast_cancer` (455 rows x 30 features, standardized), called
//! through its loaded release `.so`. Measures, never asserts.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlhost::dataset::{self, Source, TaskHint};
use mlhost::loader::{self, FitHooks};
use mlhost::preprocess::{Scale, Scaler};
use mlhost::split::{self, Protocol};
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
    let names = ["baseline", "logistic", "tree", "naive-bayes", "knn", "forest", "mlp"];
    let target = root().join("target/bench-plugins").display().to_string();
    let mut args = vec!["--lib", "--release", "--target-dir", &target];
    let packages: Vec<String> = names.iter().map(|n| format!("mlhost-plugin-{n}")).collect();
    for p in &packages {
        args.extend(["-p", p]);
    }
    let built = cargo_build(&root(), &args);

    let data =
        dataset::load(&Source::Builtin("breast_cancer".into()), None, TaskHint::Infer).unwrap();
    let fold = split::folds(Protocol::KFold { k: 5 }, Task::Classification, data.y(), None)
        .unwrap()
        .remove(0);
    let view = Matrix::select(&data.x, data.cols(), &fold.train).unwrap();
    let scaled = Scaler::fit(Scale::Standard, view).unwrap().transform(view);
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

criterion_group!(benches, fit_times);
criterion_main!(benches);
