//! Issue 15's sampler figure: the time TPE takes to propose one point with
//! 1,000 finished trials (target < 10 ms), over a space of a log float, an
//! int and a three-way choice; random search's proposal for scale.
//!
//!     cargo bench -p mlhost --bench search

use criterion::{Criterion, criterion_group, criterion_main};
use mlhost::search::sample::random;
use mlhost::search::space::{Dimension, Domain, Space};
use mlhost::search::tpe::{Observed, Tpe};
use mlhost_plugin_api::{ParamValue, SeededRng};

fn space() -> Space {
    let dim = |name: &str, domain| Dimension { name: name.to_owned(), domain };
    let kinds = ["a", "b", "c"].map(|c| ParamValue::Choice(c.into())).to_vec();
    Space {
        dims: vec![
            dim("c", Domain::Float { low: 1e-4, high: 1e4, log: true }),
            dim("k", Domain::Int { low: 1, high: 100, log: false }),
            dim("kind", Domain::Values(kinds)),
        ],
    }
}

fn proposals(c: &mut Criterion) {
    let space = space();
    let mut rng = SeededRng::new(1);
    let finished: Vec<Observed> = (0..1000)
        .map(|i| Observed { point: random(&space, &mut rng), value: f64::from(i % 97) })
        .collect();
    let mut group = c.benchmark_group("propose");
    group.bench_function("tpe_1000_finished", |b| {
        let mut rng = SeededRng::new(2);
        b.iter(|| Tpe::default().propose(&space, &finished, &[], &mut rng));
    });
    group.bench_function("random", |b| {
        let mut rng = SeededRng::new(2);
        b.iter(|| random(&space, &mut rng));
    });
    group.finish();
}

criterion_group!(benches, proposals);
criterion_main!(benches);
