//! `mlhost train` and `mlhost models`: versions with semver and lineage,
//! stages, aliases, rollback and the changelog, through the real binary.

use mlhost_tests::{Sandbox, plugin_so};
use serde_json::{Value, json};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    for p in ["logistic", "linear"] {
        sb.add_plugin(plugin_so(p), &format!("lib{p}.so"));
    }
    sb
}

fn ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.mlhost(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(sb, &all)).unwrap()
}

fn refused(sb: &Sandbox, args: &[&str], says: &str) {
    let out = sb.mlhost(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: {err}");
}

#[test]
fn versions_get_semver_lineage_and_a_checked_artifact() {
    let sb = sandbox();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--model", "logistic", "--dataset", "builtin:breast_cancer"];
        args.extend_from_slice(extra);
        json(&sb, &args)["version"].clone()
    };
    let v1 = train(&["--name", "cancer"]);
    assert_eq!((v1["version"].as_i64(), v1["semver"].as_str()), (Some(1), Some("1.0.0")));
    assert_eq!(v1["stage"], "development");
    let training = &v1["metrics"]["training"];
    assert!(training["train_accuracy"].as_f64().unwrap() > 0.9, "{v1}");
    // The same model on the same data: a patch; other params: a minor.
    assert_eq!(train(&["--name", "cancer"])["semver"], "1.0.1");
    let v3 = train(&["--name", "cancer", "--param", "c=0.5", "--message", "less regularization"]);
    assert_eq!((v3["semver"].as_str(), v3["parentVersion"].as_i64()), (Some("1.1.0"), Some(2)));
    assert_eq!(v3["params"]["c"], 0.5);
    assert_eq!(v3["preparation"]["scale"], "none");
    // The same params, prepared otherwise: a minor too.
    let entry = "[[model]]\nid = \"logistic\"\nplugin = \"logistic\"\nscale = \"minmax\"\n";
    sb.write("config/models.toml", entry);
    let v = train(&["--name", "cancer", "--param", "c=0.5"]);
    assert_eq!(
        (v["semver"].as_str(), &v["preparation"]["scale"]),
        (Some("1.2.0"), &json!("minmax"))
    );
    // Other features: a major.
    let mut csv = String::from("a,b,y\n");
    for i in 0..40 {
        csv.push_str(&format!("{},{},{}\n", i % 7, (i * 3) % 5, i % 2));
    }
    sb.write("small.csv", &csv);
    let v4 =
        json(&sb, &["train", "--model", "logistic", "--dataset", "small.csv", "--name", "cancer"]);
    assert_eq!(v4["version"]["semver"], "2.0.0");
    // The artifact is named by its sha256, with a manifest beside it.
    let path = v4["artifactPath"].as_str().unwrap();
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(sha256_hex(&bytes), v4["version"]["artifact"].as_str().unwrap());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{path}.json")).unwrap()).unwrap();
    assert_eq!(manifest["features"], serde_json::json!(["a", "b"]));
    assert_eq!(manifest["plugin"]["name"], "logistic");
    assert_eq!(manifest["datasetId"], v4["version"]["datasetId"]);
    let versions = json(&sb, &["models", "versions", "cancer"]);
    assert_eq!(versions["versions"].as_array().unwrap().len(), 5);
    refused(&sb, &["train", "--model", "logistic", "--param", "c=oops"], "--param c=oops");
    refused(&sb, &["train", "--model", "nope"], "unknown model 'nope'");
    refused(&sb, &["train", "--model", "logistic", "--name", "../x"], "not a valid name");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn stages_aliases_rollback_and_changelog() {
    let sb = sandbox();
    for _ in 0..2 {
        ok(&sb, &["train", "--model", "logistic", "--dataset", "builtin:breast_cancer"]);
    }
    refused(&sb, &["models", "rollback", "logistic"], "no earlier production version");
    assert_eq!(
        ok(&sb, &["models", "stage", "logistic", "1", "production"]).trim(),
        "logistic:1: development -> production"
    );
    assert!(
        ok(&sb, &["models", "stage", "logistic", "2", "production"])
            .contains("logistic:1: production -> deprecated")
    );
    ok(&sb, &["models", "alias", "logistic", "2", "champion"]);
    assert_eq!(json(&sb, &["models", "show", "logistic@champion"])["version"], 2);
    ok(&sb, &["models", "rollback", "logistic"]);
    assert_eq!(json(&sb, &["models", "show", "logistic"])["version"], 1, "NAME is production");
    let list = json(&sb, &["models", "list"]);
    assert_eq!(list["models"][0]["production"], 1);
    let changes = json(&sb, &["models", "changelog", "logistic"]);
    let last = changes["changes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["change"].as_str(), last["detail"].as_str()),
        (Some("rollback"), Some("deprecated -> production"))
    );
    refused(
        &sb,
        &["models", "stage", "logistic", "1", "live"],
        "no stage 'live'; choose one of development",
    );
    refused(
        &sb,
        &["models", "stage", "logistic", "7", "staging"],
        "has no version 7 (it has 1 to 2)",
    );
    refused(&sb, &["models", "show", "logistic@nope"], "has no alias 'nope'");
    refused(&sb, &["models", "versions", "ghost"], "no model 'ghost'");
}

#[test]
fn train_from_a_study_takes_its_best_trial() {
    let sb = sandbox();
    let study = json(
        &sb,
        &[
            "tune",
            "--model",
            "logistic",
            "--dataset",
            "builtin:breast_cancer",
            "--strategy",
            "grid",
            "--param",
            "c=0.01,10",
            "--folds",
            "3",
        ],
    );
    let best_c = study["best"]["params"]["c"].as_f64().unwrap();
    let id = study["studyId"].as_str().unwrap();
    let v = json(&sb, &["train", "--from", id, "--name", "tuned"]);
    assert_eq!(v["version"]["params"]["c"].as_f64(), Some(best_c));
    assert_eq!(v["version"]["sourceStudy"].as_str(), Some(id));
    assert_eq!(v["version"]["sourceRun"], study["runId"]);
    assert!(v["version"]["metrics"]["source"]["f1"].as_f64().is_some(), "{v}");
    refused(&sb, &["train", "--from", "no-such-id"], "no such study or run");
}

#[test]
fn gc_removes_old_runs_and_unneeded_artifacts_but_keeps_lineage() {
    let sb = sandbox();
    let eval = || {
        json(&sb, &["eval", "--models", "logistic", "--dataset", "builtin:iris"])["runId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (old, source, newest) = (eval(), eval(), eval());
    ok(&sb, &["train", "--from", &source, "--model", "logistic", "--name", "iris"]);
    let archived = json(
        &sb,
        &[
            "train",
            "--model",
            "logistic",
            "--dataset",
            "builtin:iris",
            "--name",
            "iris",
            "--param",
            "c=0.5",
        ],
    );
    ok(&sb, &["models", "stage", "iris", "2", "archived"]);
    sb.write("config/mlhost.toml", "plugin_dirs = [\"../plugins\"]\n[retention]\nkeep_runs = 1\n");
    let dry = json(&sb, &["gc", "--dry-run"]);
    assert_eq!(dry["runs"][0]["runId"].as_str(), Some(old.as_str()), "{dry}");
    assert_eq!(dry["runs"].as_array().unwrap().len(), 1, "{dry}");
    assert!(dry["kept"][0]["why"].as_str().unwrap().contains("trained from it"), "{dry}");
    let sha = archived["version"]["artifact"].as_str().unwrap();
    assert_eq!(dry["artifacts"], serde_json::json!([sha]), "the archived version's artifact only");
    assert!(
        std::path::Path::new(archived["artifactPath"].as_str().unwrap()).exists(),
        "dry run removes nothing"
    );
    let done = json(&sb, &["gc"]);
    assert!(done["rows"].as_u64().unwrap() > 0, "{done}");
    refused(&sb, &["show", &old], "no run");
    ok(&sb, &["show", &source]);
    ok(&sb, &["show", &newest]);
    assert!(!std::path::Path::new(archived["artifactPath"].as_str().unwrap()).exists());
    assert_eq!(
        json(&sb, &["models", "show", "iris:1"])["sourceRun"].as_str(),
        Some(source.as_str())
    );
    let again = json(&sb, &["gc"]);
    assert_eq!(
        (again["runs"].as_array().unwrap().len(), again["artifacts"].as_array().unwrap().len()),
        (0, 0)
    );
}
