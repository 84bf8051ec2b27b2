use super::*;
use crate::search::space::Dimension;

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

/// A smooth objective with its minimum 0 at c = 10, k = 30, kind = b.
fn objective(p: &Point) -> f64 {
    let (ParamValue::Float(c), ParamValue::Int(k), ParamValue::Choice(kind)) =
        (&p[0].1, &p[1].1, &p[2].1)
    else {
        panic!("{p:?}")
    };
    (c.log10() - 1.0).powi(2) + ((*k as f64 - 30.0) / 25.0).powi(2) + f64::from(kind != "b")
}

fn best_after(trials: usize, seed: u64, tpe: bool) -> f64 {
    let (space, mut rng) = (space(), SeededRng::new(seed));
    let mut seen: Vec<Observed> = Vec::new();
    for _ in 0..trials {
        let point = if tpe {
            Tpe::default().propose(&space, &seen, &[], &mut rng)
        } else {
            random(&space, &mut rng)
        };
        seen.push(Observed { value: objective(&point), point });
    }
    seen.iter().map(|o| o.value).fold(f64::INFINITY, f64::min)
}

#[test]
fn tpe_beats_random_search_at_equal_budget() {
    let seeds = 0..10u64;
    let tpe: Vec<f64> = seeds.clone().map(|s| best_after(60, s, true)).collect();
    let rnd: Vec<f64> = seeds.map(|s| best_after(60, s, false)).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[4] + v[5]) / 2.0
    };
    let wins = tpe.iter().zip(&rnd).filter(|(t, r)| t < r).count();
    let (t, r) = (median(tpe), median(rnd));
    assert!(wins >= 7 && t < r / 2.0, "TPE {t:.4} vs random {r:.4}, {wins}/10 wins");
}

#[test]
fn pending_trials_steer_proposals_apart() {
    let (space, mut rng) = (space(), SeededRng::new(5));
    let mut seen = Vec::new();
    for _ in 0..30 {
        let point = Tpe::default().propose(&space, &seen, &[], &mut rng);
        seen.push(Observed { value: objective(&point), point });
    }
    // Two workers ask at once: the second sees the first as pending.
    let mut rng = SeededRng::new(9);
    let first = Tpe::default().propose(&space, &seen, &[], &mut rng);
    let mut rng = SeededRng::new(9);
    let second = Tpe::default().propose(&space, &seen, std::slice::from_ref(&first), &mut rng);
    assert_ne!(first, second, "the same seed, but the pending point is a lie in g(x)");
}

/// The mixtures equal Optuna 5.0's `_ParzenEstimator` (kernel widths,
/// weights, prior, categorical smoothing) on its fixture
/// (`tests/fixtures/optuna/parzen.py`).
#[test]
fn mixtures_equal_optunas_parzen_estimator() {
    let text = include_str!("../../../../tests/fixtures/optuna/parzen.json");
    let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
    let column = |k: &str| -> Vec<f64> {
        fixture["points"][k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let (xs, cs) = (column("x"), column("c"));
    let axes = [Axis::Real { low: -5.0, high: 5.0 }, Axis::Index { n: 3 }];
    for case in fixture["cases"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let observed: Vec<Vec<f64>> = (0..n)
            .map(|i| vec![-5.0 + 10.0 * ((i as f64 * 0.618034 + 0.1) % 1.0), ((i * 7) % 3) as f64])
            .collect();
        let mixture = Parzen::new(&axes, &observed, 1.0);
        for (k, want) in case["logPdf"].as_array().unwrap().iter().enumerate() {
            let got = mixture.log_pdf(&[xs[k], cs[k]]);
            let want = want.as_f64().unwrap();
            assert!((got - want).abs() < 1e-6, "n = {n}, point {k}: {got} vs Optuna {want}");
        }
    }
}

#[test]
fn optunas_weights_ramp_down_only_the_oldest_past_25() {
    assert_eq!(default_weights(3), [1.0; 3]);
    assert_eq!(default_weights(25), [1.0; 25]);
    let w = default_weights(30);
    assert_eq!(w.len(), 30);
    assert!((w[0] - 1.0 / 30.0).abs() < 1e-15 && w[4] == 1.0 && w[29] == 1.0);
    assert!(w[..5].windows(2).all(|p| p[0] < p[1]));
}

#[test]
fn erf_and_truncated_density_are_right() {
    assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7);
    assert!((phi(1.96) - 0.975).abs() < 1e-4);
    // A normal truncated to [-1, 1] integrates to 1 there.
    let n = 2000;
    let mass: f64 = (0..n)
        .map(|i| -1.0 + (i as f64 + 0.5) * 2.0 / n as f64)
        .map(|x| truncated_log_pdf(x, 0.3, 0.5, -1.0, 1.0).exp() * 2.0 / n as f64)
        .sum();
    assert!((mass - 1.0).abs() < 1e-3, "{mass}");
}
