//! Fit time on the generated `mid` data (`mlhost_cart::testdata`, 20
//! features) at 10,000 and 60,000 rows; scikit-learn's side is
//! `bench/linear_sklearn.py`. Measures, never asserts.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlhost_cart::testdata::{COLS, generate};
use mlhost_plugin_api::{Classifier, Matrix, StandaloneContext};
use mlhost_plugin_naive_bayes::{NaiveBayesModel, NaiveBayesParams};

fn fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("naive_bayes_fit_mid");
    g.sample_size(10);
    for n in [10_000, 60_000] {
        let m = generate(n);
        let x = Matrix::new(&m.x, n, COLS).unwrap();
        let p = NaiveBayesParams { var_smoothing: 1e-9 };
        g.bench_with_input(BenchmarkId::new("binary", n), &n, |b, _| {
            let mut ctx = StandaloneContext::new(0, 2);
            b.iter(|| NaiveBayesModel::fit(&p, x, &m.y, &mut ctx.context()).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
