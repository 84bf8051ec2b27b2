//! `mlhost compare` on a real run: baseline, logistic and naive Bayes on
//! `builtin:breast_cancer` (stratified 5-fold), with the t statistic
//! recomputed here from `show --json`'s folds, and the refusals.

use mlhost_tests::{Sandbox, plugin_so};
use serde_json::Value;

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    for p in ["baseline", "logistic", "naive-bayes"] {
        sb.add_plugin(plugin_so(p), &format!("lib{p}.so"));
    }
    sb
}

fn json(sb: &Sandbox, args: &[&str]) -> Value {
    let out = sb.mlhost(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn eval(sb: &Sandbox, models: &str) -> String {
    let run =
        json(sb, &["eval", "--json", "--dataset", "builtin:breast_cancer", "--models", models]);
    run["runId"].as_str().unwrap().to_owned()
}

/// Exit 2 and one line on stderr containing `want`.
fn refused(sb: &Sandbox, args: &[&str], want: &str) {
    let out = sb.mlhost(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

fn folds(show: &Value, model: &str) -> Vec<f64> {
    let m = show["models"].as_array().unwrap().iter().find(|m| m["modelId"] == model).unwrap();
    m["folds"].as_array().unwrap().iter().map(|f| f["f1"].as_f64().unwrap()).collect()
}

#[test]
fn compare_a_real_run_and_recompute_its_t_test() {
    let sb = sandbox();
    let run = eval(&sb, "baseline,logistic,naive-bayes");
    let report = json(&sb, &["compare", &run, "--json"]);
    let show = json(&sb, &["show", &run, "--json"]);
    let mean = |m: &str| folds(&show, m).iter().sum::<f64>() / 5.0;
    let best = ["baseline", "logistic", "naive-bayes"]
        .into_iter()
        .max_by(|a, b| mean(a).total_cmp(&mean(b)))
        .unwrap();
    assert_eq!(report["reference"], best);
    assert_eq!(
        (report["metric"].as_str(), report["correction"].as_str()),
        (Some("f1"), Some("holm"))
    );
    let comps = report["comparisons"].as_array().unwrap();
    assert_eq!(comps.len(), 2);
    for c in comps {
        for key in ["pValue", "wilcoxonP", "mcnemarP"] {
            let p = c[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p), "{key} {p}");
        }
        assert!(c["bootstrapLow"].as_f64().unwrap() <= c["bootstrapHigh"].as_f64().unwrap());
    }
    let baseline = comps.iter().find(|c| c["model"] == "baseline").unwrap();
    assert_eq!(baseline["significant"], true, "{baseline:#}");
    assert!(baseline["meanDiff"].as_f64().unwrap() < 0.0);
    // The t statistic from the folds `show` prints: 569 rows, 5 folds.
    let d: Vec<f64> =
        folds(&show, "baseline").iter().zip(folds(&show, best)).map(|(a, b)| a - b).collect();
    let k = d.len() as f64;
    let m = d.iter().sum::<f64>() / k;
    let var = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0);
    let r = [114.0, 114.0, 114.0, 114.0, 113.0].iter().map(|t| t / (569.0 - t)).sum::<f64>() / k;
    let t = m / ((1.0 / k + r) * var).sqrt();
    let got = baseline["tStat"].as_f64().unwrap();
    assert!((got - t).abs() <= 1e-9 * t.abs(), "tStat {got}, recomputed {t}");
    assert!((baseline["meanDiff"].as_f64().unwrap() - m).abs() <= 1e-12);

    let table = sb.mlhost(&["compare", &run]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("MCNEMAR P") && text.contains("SIGNIFICANT"), "{text}");
    assert!(text.contains(&format!("baseline is significantly worse than {best} on f1")), "{text}");
    assert!(text.contains("Holm"), "{text}");
}

#[test]
fn compare_refuses_what_it_cannot_compare() {
    let sb = sandbox();
    let run = eval(&sb, "baseline,logistic");
    refused(&sb, &["compare", &run, "--reference", "forest"], "no succeeded model 'forest'");
    refused(&sb, &["compare", &run, "--metric", "r2"], "has no metric 'r2'");
    refused(&sb, &["compare", &run, "--alpha", "0"], "alpha 0 is not between 0 and 1");
    refused(&sb, &["compare", "no-such-run"], "no run 'no-such-run'");
    let one = eval(&sb, "baseline");
    refused(&sb, &["compare", &one], "compare needs at least 2");
}

#[test]
fn repeated_folds_pool_each_row_once_for_mcnemar() {
    let sb = sandbox();
    let args = [
        "eval",
        "--json",
        "--dataset",
        "builtin:breast_cancer",
        "--models",
        "baseline,logistic",
        "--repeats",
        "3",
    ];
    let run = json(&sb, &args)["runId"].as_str().unwrap().to_owned();
    let c = json(&sb, &["compare", &run, "--reference", "logistic", "--json"]);
    let m = &c["comparisons"][0];
    let (b, cc) = (m["mcnemarB"].as_u64().unwrap(), m["mcnemarC"].as_u64().unwrap());
    // baseline is wrong on about 37 % of rows and logistic on few: about
    // 200 discordant rows, of 569; counted once per repetition it would be
    // about 600.
    assert!(b + cc > 150 && b + cc <= 569, "b={b} c={cc}: {c}");
    assert_eq!(c["folds"], 15);
}
