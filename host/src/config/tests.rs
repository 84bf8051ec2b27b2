use super::*;

fn check(src: &str, expected: &str) {
    let got = match Config::parse(Path::new("/etc/mlhost/mlhost.toml"), src) {
        Ok(c) => format!(
            "ok dirs={:?} registry={} workers={} isolation={:?}",
            c.plugin_dirs,
            c.registry.display(),
            c.eval.workers,
            c.eval.isolation
        ),
        Err(e) => e.to_string(),
    };
    assert_eq!(got, expected);
}

#[test]
fn defaults_and_relative_paths() {
    check(
        "",
        r#"ok dirs=["/etc/plugins"] registry=/etc/mlhost/models.toml workers=3 isolation=Thread"#,
    );
    check(
        "plugin_dirs = [\"p\", \"/abs\"]\n[eval]\nworkers = 1\nisolation = \"process\"\n",
        r#"ok dirs=["/etc/mlhost/p", "/abs"] registry=/etc/mlhost/models.toml workers=1 isolation=Process"#,
    );
}

#[test]
fn errors_name_file_line_and_key() {
    check(
        "\n[eval]\nworkers = 0\n",
        "/etc/mlhost/mlhost.toml:3: key `workers`: must be between 1 and 256, got 0",
    );
    check(
        "[eval]\nfolds = \"five\"\n",
        "/etc/mlhost/mlhost.toml:2: key `folds`: invalid type: string \"five\", expected i64",
    );
    check(
        "plugin_dir = []\n",
        "/etc/mlhost/mlhost.toml:1: key `plugin_dir`: unknown field `plugin_dir`, expected one of `plugin_dirs`, `registry`, `database`, `eval`, `events`, `api`, `plugins`, `artifacts`, `serving`, `retention`",
    );
    check(
        "[eval]\nisolation = \"vm\"\n",
        "/etc/mlhost/mlhost.toml:2: key `isolation`: unknown variant `vm`, expected `thread` or `process`",
    );
    check(
        "[events]\nredis_url = \"localhost\"\n",
        "/etc/mlhost/mlhost.toml:2: key `redis_url`: must start with redis:// or rediss://, got \"localhost\"",
    );
    check(
        "[api]\nbind = \"nowhere\"\n",
        "/etc/mlhost/mlhost.toml:2: key `bind`: invalid socket address syntax",
    );
    check(
        "[api]\ntoken = \"\"\n",
        "/etc/mlhost/mlhost.toml:2: key `token`: must be a non-empty token without spaces (e.g. `openssl rand -hex 32`); remove the key to serve without one",
    );
    check(
        "[serving]\nfallback = \"base line\"\n",
        "/etc/mlhost/mlhost.toml:2: key `fallback`: model 'base line' is not a valid name: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
    );
    check("workers = [", "/etc/mlhost/mlhost.toml:1: key `workers`: invalid array expected `]`");
}

#[test]
fn token_is_redacted_in_debug_output() {
    let c = Config::parse(Path::new("m.toml"), "[api]\ntoken = \"s3cret\"\n").unwrap();
    assert!(!format!("{c:?}").contains("s3cret"));
}
