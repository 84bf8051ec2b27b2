//! Every statistic against SciPy's value for the same input
//! (`host/tests/data/scipy_stats.json`, made by
//! `python3 tests/fixtures/scipy/stats.py`).

use super::*;
use serde_json::Value;

fn doc() -> Value {
    serde_json::from_str(include_str!("../../../tests/data/scipy_stats.json")).expect("JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

/// Relative 1e-9 (absolute below 1e-300).
fn assert_close(what: &str, got: f64, want: f64) {
    let ok = (got - want).abs() <= 1e-9 * want.abs().max(1e-300) || got == want;
    assert!(ok, "{what}: got {got:e}, SciPy says {want:e}");
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn t_cdf_and_ppf_equal_scipy() {
    let doc = doc();
    for c in doc["tCdf"].as_array().unwrap() {
        let (t, df) = (f(c, "t"), f(c, "df"));
        assert_close(&format!("t cdf({t}, {df})"), t_cdf(t, df), f(c, "cdf"));
    }
    for c in doc["tPpf"].as_array().unwrap() {
        let (p, df) = (f(c, "p"), f(c, "df"));
        assert_close(&format!("t ppf({p}, {df})"), t_ppf(p, df), f(c, "ppf"));
    }
}

#[test]
fn t_ppf_inverts_the_cdf_to_1e_12() {
    for df in [1.0, 3.0, 9.0, 40.0] {
        for p in [0.01, 0.3, 0.8, 0.975] {
            let back = t_cdf(t_ppf(p, df), df);
            assert!((back - p).abs() < 1e-12 * p, "df {df} p {p}: {back}");
        }
    }
}

#[test]
fn corrected_t_test_equals_scipy() {
    for c in doc()["correctedT"].as_array().unwrap() {
        let got = corrected_t_test(&floats(&c["d"]), f(c, "r"), f(c, "alpha"));
        let name = format!("d = {}", c["d"]);
        assert_close(&name, got.mean, f(c, "mean"));
        assert_close(&name, got.t, f(c, "t"));
        assert_close(&name, got.p, f(c, "p"));
        assert_close(&name, got.ci_low, f(c, "ciLow"));
        assert_close(&name, got.ci_high, f(c, "ciHigh"));
    }
}

#[test]
fn corrected_t_test_of_constant_differences() {
    let same = corrected_t_test(&[0.0; 5], 0.25, 0.05);
    assert_eq!((same.t, same.p, same.ci_low, same.ci_high), (0.0, 1.0, 0.0, 0.0));
    let shifted = corrected_t_test(&[0.1; 5], 0.25, 0.05);
    assert_eq!((shifted.t, shifted.p), (f64::INFINITY, 0.0));
}

#[test]
fn wilcoxon_equals_scipy() {
    let cases = doc()["wilcoxon"].as_array().unwrap().clone();
    assert!(cases.len() >= 50);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        assert_close(name, wilcoxon(&floats(&c["d"])), f(c, "p"));
    }
}

#[test]
fn mcnemar_equals_binomial_test() {
    for c in doc()["mcnemar"].as_array().unwrap() {
        let (b, c_) = (c["b"].as_u64().unwrap(), c["c"].as_u64().unwrap());
        assert_close(&format!("b={b} c={c_}"), mcnemar_exact(b, c_), f(c, "p"));
    }
}

#[test]
fn holm_equals_statsmodels() {
    for c in doc()["holm"].as_array().unwrap() {
        let got = holm(&floats(&c["p"]));
        for (g, w) in got.iter().zip(floats(&c["adjusted"])) {
            assert_close("holm", *g, w);
        }
    }
}

#[test]
fn bootstrap_is_seeded_and_brackets_the_mean() {
    let x: Vec<f64> = (0..200).map(|i| f64::from(i % 7)).collect();
    let mean = |idx: &[usize]| Some(idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64);
    let a = bootstrap_interval(x.len(), BOOTSTRAP_RESAMPLES, 7, 0.05, mean).unwrap();
    let b = bootstrap_interval(x.len(), BOOTSTRAP_RESAMPLES, 7, 0.05, mean).unwrap();
    assert_eq!(a, b);
    let m = x.iter().sum::<f64>() / 200.0;
    assert!(a.0 < m && m < a.1 && a.1 - a.0 < 1.0, "{a:?} around {m}");
    assert_eq!(bootstrap_interval(0, 10, 1, 0.05, mean), None);
    assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
}

#[test]
fn quantile_by_selection_equals_quantile_of_the_sorted_values() {
    let mut rng = mlhost_plugin_api::SeededRng::new(3);
    for len in [1, 2, 3, 10, 2_000] {
        // Few distinct values (ties), both zeros among them.
        let v: Vec<f64> = (0..len).map(|_| [-1.5, -0.0, 0.0, 0.25, 3.0][rng.below(5)]).collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.025, 0.1, 0.5, 0.975, 1.0] {
            let got = super::bootstrap::quantile(&mut v.clone(), q);
            assert_eq!(got.to_bits(), quantile_sorted(&sorted, q).to_bits(), "len {len} q {q}");
        }
    }
}
