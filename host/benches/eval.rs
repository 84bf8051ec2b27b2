//! Evaluation figures: host overhead per job, worker speed-up on a CPU-bound
//! candidate, and metrics throughput. Measures, never asserts; compare the
//! numbers of one run (2-core machines are noisy).

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlhost::domain::{Isolation, Protocol, RunSpec};
use mlhost::engine::{self, Quiet, RunContext, WorkerSetup};
use mlhost::metrics::{self, ClassInput};
use mlhost::store::Store;
use mlhost::{Config, Registry};
use mlhost_plugin_api::SeededRng as Rng;
use mlhost_tests::{cargo_build, fixture_so, root};

fn release_baseline() -> std::path::PathBuf {
    let target = root().join("target/bench-plugins").display().to_string();
    let built = cargo_build(
        &root(),
        &["-p", "mlhost-plugin-baseline", "--lib", "--release", "--target-dir", &target],
    );
    built["mlhost_plugin_baseline"].clone()
}

/// A config folder with `plugins` copied in and `models` as the registry.
fn setup(dir: &Path, plugins: &[&Path], models: &str) -> Config {
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    for (i, p) in plugins.iter().enumerate() {
        std::fs::copy(p, dir.join(format!("plugins/lib{i}.so"))).unwrap();
    }
    std::fs::write(dir.join("models.toml"), models).unwrap();
    std::fs::write(
        dir.join("mlhost.toml"),
        "plugin_dirs = [\"plugins\"]\ndatabase = \"bench.db\"\n",
    )
    .unwrap();
    Config::load(&dir.join("mlhost.toml")).unwrap()
}

fn spec(dataset: &str, models: Vec<String>, workers: usize, protocol: Protocol) -> RunSpec {
    RunSpec {
        dataset: dataset.to_owned(),
        label: Some("y".to_owned()),
        models,
        workers,
        protocol,
        seed: None,
        timeout: Duration::from_secs(3600),
        task: None,
        pos_label: None,
        isolation: Isolation::Thread,
        quarantine_after: 3,
        max_memory_mb: None,
        early_stopping: None,
        group_col: None,
        time_col: None,
        returns: None,
        fairness_col: None,
    }
}

/// 1,000 rows x 30 features, binary labels.
fn write_dataset(path: &Path) {
    let mut rng = Rng::new(1);
    let mut csv = (0..30).map(|i| format!("f{i}")).collect::<Vec<_>>().join(",") + ",y\n";
    for _ in 0..1000 {
        for _ in 0..30 {
            csv += &format!("{},", (rng.next_u64() % 10_000) as f64 / 100.0);
        }
        csv += &format!("{}\n", rng.next_u64() % 2);
    }
    std::fs::write(path, csv).unwrap();
}

fn job_overhead(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let models: String =
        (0..20).map(|i| format!("[[model]]\nid = \"b{i}\"\nplugin = \"baseline\"\n\n")).collect();
    let config = setup(dir.path(), &[&release_baseline()], &models);
    write_dataset(&dir.path().join("d.csv"));
    let registry = Registry::discover_unprobed(&config).unwrap();
    let mut store = Store::open(&config.database).unwrap();
    let data = dir.path().join("d.csv").display().to_string();
    let ids: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    let mut g = c.benchmark_group("run_of_20_baseline_jobs_1000x30");
    g.sample_size(20);
    for (name, protocol) in
        [("holdout", Protocol::Holdout { test_fraction: 0.2 }), ("5fold", Protocol::kfold(5))]
    {
        let s = spec(&data, ids.clone(), 3, protocol);
        g.bench_function(name, |b| {
            b.iter(|| {
                engine::evaluate(&registry, &mut store, &s, &RunContext::default(), &mut Quiet)
                    .unwrap()
            })
        });
    }
    // The fixed part of a run: dataset load + one job, to subtract.
    let one = spec(&data, vec!["b0".to_owned()], 3, Protocol::Holdout { test_fraction: 0.2 });
    g.bench_function("holdout_1_job", |b| {
        b.iter(|| {
            engine::evaluate(&registry, &mut store, &one, &RunContext::default(), &mut Quiet)
                .unwrap()
        })
    });
    g.finish();
}

/// Per-job cost of process isolation: the same 20 baseline jobs (holdout)
/// in threads and in child `mlhost worker` processes.
fn isolation_overhead(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let models: String =
        (0..20).map(|i| format!("[[model]]\nid = \"b{i}\"\nplugin = \"baseline\"\n\n")).collect();
    let config = setup(dir.path(), &[&release_baseline()], &models);
    write_dataset(&dir.path().join("d.csv"));
    let exe =
        cargo_build(&root(), &["-p", "mlhost", "--bin", "mlhost", "--release"])["mlhost"].clone();
    let registry = Registry::discover_unprobed(&config).unwrap();
    let mut store = Store::open(&config.database).unwrap();
    let data = dir.path().join("d.csv").display().to_string();
    let ids: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    let mut g = c.benchmark_group("isolation_20_baseline_jobs_1000x30_holdout");
    g.sample_size(10);
    for isolation in [Isolation::Thread, Isolation::Process] {
        let mut s = spec(&data, ids.clone(), 3, Protocol::Holdout { test_fraction: 0.2 });
        s.isolation = isolation;
        let ctx = RunContext {
            workers_from: Some(WorkerSetup {
                exe: exe.clone(),
                snapshot_dir: dir.path().join("snapshots"),
            }),
            ..RunContext::default()
        };
        g.bench_function(format!("{isolation:?}"), |b| {
            b.iter(|| engine::evaluate(&registry, &mut store, &s, &ctx, &mut Quiet).unwrap())
        });
    }
    g.finish();
}

fn worker_speedup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let models: String = (0..4)
        .map(|i| format!("[[model]]\nid = \"spin{i}\"\nplugin = \"misbehave\"\nparams = {{ mode = \"spin\", work = 20000000 }}\n\n"))
        .collect();
    let config = setup(dir.path(), &[fixture_so("misbehave")], &models);
    write_dataset(&dir.path().join("d.csv"));
    let registry = Registry::discover_unprobed(&config).unwrap();
    let mut store = Store::open(&config.database).unwrap();
    let data = dir.path().join("d.csv").display().to_string();
    let ids: Vec<String> = (0..4).map(|i| format!("spin{i}")).collect();
    let mut g = c.benchmark_group("cpu_bound_4_jobs");
    g.sample_size(10);
    for workers in [1usize, 2] {
        let s = spec(&data, ids.clone(), workers, Protocol::Holdout { test_fraction: 0.2 });
        g.bench_with_input(BenchmarkId::new("workers", workers), &s, |b, s| {
            b.iter(|| {
                engine::evaluate(&registry, &mut store, s, &RunContext::default(), &mut Quiet)
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn metrics_throughput(c: &mut Criterion) {
    const N: usize = 10_000_000;
    let mut rng = Rng::new(7);
    let y_true: Vec<u32> = (0..N).map(|_| (rng.next_u64() % 2) as u32).collect();
    let proba: Vec<f64> = (0..N)
        .flat_map(|_| {
            let p = (rng.next_u64() % 1_000_000) as f64 / 1_000_000.0;
            [1.0 - p, p]
        })
        .collect();
    let y_pred: Vec<u32> = proba.chunks_exact(2).map(|p| u32::from(p[1] >= 0.5)).collect();
    let mut g = c.benchmark_group("metrics_10m_binary");
    g.sample_size(10);
    g.bench_function("labels_only", |b| {
        b.iter(|| {
            metrics::classification(ClassInput {
                y_true: &y_true,
                y_pred: &y_pred,
                proba: None,
                n_classes: 2,
                pos_label: 1,
            })
            .unwrap()
        })
    });
    g.bench_function("with_probabilities", |b| {
        b.iter(|| {
            metrics::classification(ClassInput {
                y_true: &y_true,
                y_pred: &y_pred,
                proba: Some(&proba),
                n_classes: 2,
                pos_label: 1,
            })
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, job_overhead, isolation_overhead, worker_speedup, metrics_throughput);
criterion_main!(benches);
