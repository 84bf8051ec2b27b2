//! Fit time on the generated `mid` data's regression target
//! (`mlhost_cart::testdata`, 20 features) at 10,000 and 60,000 rows, least
//! squares and ridge; scikit-learn's side is `bench/linear_sklearn.py`.
//! Measures, never asserts.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlhost_cart::testdata::{COLS, generate};
use mlhost_plugin_api::{Matrix, Regressor, StandaloneContext};
use mlhost_plugin_linear::{Linear, LinearParams};

fn fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("linear_fit_mid");
    g.sample_size(10);
    for n in [10_000, 60_000] {
        let m = generate(n);
        let x = Matrix::new(&m.x, n, COLS).unwrap();
        for (name, alpha) in [("ols", 0.0), ("ridge", 1.0)] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                let mut ctx = StandaloneContext::new(0, 0);
                b.iter(|| {
                    Linear::fit(&LinearParams { alpha }, x, &m.target, &mut ctx.context()).unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
