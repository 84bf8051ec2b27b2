//! The drift statistics against SciPy (`tests/fixtures/scipy/drift.json`,
//! made by `tests/fixtures/scipy/drift.py`; see its docstring for the
//! command).

use super::*;
use serde_json::Value;

fn fixture() -> Value {
    let text = include_str!("../../../../tests/fixtures/scipy/drift.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

/// Within 1e-9 (relative above 1), and a tiny value within 1e-6 relative so
/// that a wrong tail is caught too.
fn assert_close(what: &str, got: f64, want: f64) {
    let abs_ok = (got - want).abs() <= 1e-9 * want.abs().max(1.0);
    let rel_ok = want.abs() < 1e-300 || (got - want).abs() <= 1e-6 * want.abs();
    assert!(abs_ok && (rel_ok || want.abs() > 1e-3), "{what}: got {got:e}, SciPy {want:e}");
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

/// ((i * mul) % modulus) / 10 + shift, as the script computes it.
fn sample(p: &Value) -> Vec<f64> {
    let p: Vec<f64> = p.as_array().expect("params").iter().map(f).collect();
    let (n, mul, modulus) = (p[0] as u64, p[1] as u64, p[2] as u64);
    (0..n).map(|i| ((i * mul) % modulus) as f64 / 10.0 + p[3]).collect()
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array().expect("counts").iter().map(|c| c.as_u64().expect("count")).collect()
}

#[test]
fn ks_2samp_and_psi_equal_scipy_and_the_definition() {
    for case in fixture()["ks2samp"].as_array().unwrap() {
        let (a, b) =
            (sorted(sample(&case["a"]).into_iter()), sorted(sample(&case["b"]).into_iter()));
        let what = format!("ks_2samp n = {}, {}", a.len(), b.len());
        let r = ks_2samp(&a, &b).unwrap();
        assert_close(&format!("{what} statistic"), r.statistic, f(&case["statistic"]));
        assert_close(&format!("{what} p"), r.p_value, f(&case["pValue"]));
        assert_eq!(r.exact, a.len().max(b.len()) <= 10_000, "{what}: method");
        assert_close(&format!("{what} psi"), psi_numeric(&a, &b).unwrap(), f(&case["psi"]));
    }
}

#[test]
fn kolmogorov_distribution_equals_scipy_kstwo_on_every_method() {
    for case in fixture()["kstwoSf"].as_array().unwrap() {
        let (n, x) = (case["n"].as_u64().unwrap(), f(&case["x"]));
        let got = kolmogorov::kolmogn_sf(n, x);
        assert_close(&format!("kstwo.sf({x}, {n})"), got, f(&case["sf"]));
    }
}

#[test]
fn chi_square_survival_equals_scipy() {
    for case in fixture()["chi2Sf"].as_array().unwrap() {
        let (x, df) = (f(&case["x"]), f(&case["df"]));
        assert_close(&format!("chi2.sf({x}, {df})"), chi2_sf(x, df), f(&case["sf"]));
    }
}

#[test]
fn chi2_contingency_equals_scipy_with_yates_only_on_two_by_two() {
    for case in fixture()["contingency"].as_array().unwrap() {
        let (r, c) = (counts(&case["reference"]), counts(&case["current"]));
        let got = chi2_contingency(&r, &c).unwrap();
        let what = format!("chi2_contingency({r:?}, {c:?})");
        assert_close(&format!("{what} statistic"), got.statistic, f(&case["statistic"]));
        assert_close(&format!("{what} p"), got.p_value, f(&case["pValue"]));
        assert_eq!(got.dof as u64, case["dof"].as_u64().unwrap(), "{what} dof");
        if let Some(want) = case["psi"].as_f64() {
            assert_close(&format!("{what} psi"), psi(&r, &c), want);
        }
    }
}

#[test]
fn empty_samples_have_no_statistics() {
    assert_eq!(ks_2samp(&[], &[1.0]), None);
    assert_eq!(psi_numeric(&[1.0], &[]), None);
    assert_eq!(chi2_contingency(&[0, 0], &[1, 2]), None);
}

#[test]
fn sorted_drops_missing_and_orders_negative_zero_as_zero() {
    let s = sorted([3.0, f64::NAN, -0.0, -2.5, 0.0, 1e300].into_iter());
    assert_eq!(s, [-2.5, 0.0, 0.0, 3.0, 1e300]);
    assert!(s.iter().all(|v| !v.is_sign_negative() || *v < 0.0));
}

#[test]
fn identical_samples_have_zero_psi_and_ks_p_one() {
    let a = sorted((0..5000).map(|i| f64::from(i % 97)));
    assert_eq!(psi_numeric(&a, &a), Some(0.0));
    let r = ks_2samp(&a, &a).unwrap();
    assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
}
