//! Schema versions, applied in order inside one IMMEDIATE transaction;
//! `PRAGMA user_version` records the last one applied. A version, once
//! released, never changes: a new need is a new entry at the end.

/// Every migration; entry `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the tables DESIGN.md names.
    "CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued','running','completed','failed','cancelled')),
        dataset_id  TEXT NOT NULL,
        spec_json   TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE jobs (
        id            TEXT PRIMARY KEY,
        run_id        TEXT NOT NULL REFERENCES runs(id),
        model_id      TEXT NOT NULL,
        model_version TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','timed_out','cancelled')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        error         TEXT,
        started_at    TEXT,
        finished_at   TEXT
    );
    CREATE INDEX jobs_run ON jobs(run_id);
    CREATE TABLE results (
        run_id        TEXT NOT NULL,
        model_id      TEXT NOT NULL,
        model_version TEXT NOT NULL,
        dataset_id    TEXT NOT NULL,
        fold          INTEGER NOT NULL,
        metrics_json  TEXT NOT NULL,
        duration_ms   INTEGER NOT NULL,
        created_at    TEXT NOT NULL,
        UNIQUE (run_id, model_id, model_version, dataset_id, fold)
    );
    CREATE TABLE epoch_metrics (
        job_id       TEXT NOT NULL,
        epoch        INTEGER NOT NULL,
        metrics_json TEXT NOT NULL,
        recorded_at  TEXT NOT NULL,
        PRIMARY KEY (job_id, epoch)
    );
    CREATE TABLE events (
        id           TEXT PRIMARY KEY,
        event_type   TEXT NOT NULL,
        run_id       TEXT,
        occurred_at  TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        published_at TEXT
    );",
    // 2: the relay asks for unpublished events every few milliseconds.
    "CREATE INDEX events_pending ON events(published_at) WHERE published_at IS NULL;
     CREATE INDEX events_run ON events(run_id);",
    // 3: a job trains one model per fold, so epochs are per (job, fold).
    "ALTER TABLE epoch_metrics RENAME TO epoch_metrics_v1;
     CREATE TABLE epoch_metrics (
        job_id       TEXT NOT NULL,
        fold         INTEGER NOT NULL DEFAULT 0,
        epoch        INTEGER NOT NULL,
        metrics_json TEXT NOT NULL,
        recorded_at  TEXT NOT NULL,
        PRIMARY KEY (job_id, fold, epoch)
     );
     INSERT INTO epoch_metrics (job_id, fold, epoch, metrics_json, recorded_at)
        SELECT job_id, 0, epoch, metrics_json, recorded_at FROM epoch_metrics_v1;
     DROP TABLE epoch_metrics_v1;",
    // 4: verdicts of the child-process probe of plugin files, so a known
    // build is never probed twice. `params_key` is '' for the file itself
    // (dlopen + info), else the canonical JSON of a constructor's params.
    // `host_abi` is the plugin-api version and probe protocol they hold for.
    "CREATE TABLE plugin_probes (
        sha256     TEXT NOT NULL,
        params_key TEXT NOT NULL,
        host_abi   TEXT NOT NULL,
        plugin     TEXT,
        passed     INTEGER NOT NULL,
        reason     TEXT,
        probed_at  TEXT NOT NULL,
        PRIMARY KEY (sha256, params_key, host_abi)
     );",
    // 5: trials. A job is one trial (a candidate with one parameter set), so
    // results belong to a job and two trials of one candidate never
    // overwrite each other. Before this, a run held one job per
    // (model, version), so every old result row finds exactly its job.
    // Held-out predictions of each fold are kept with the job, as
    // little-endian blobs, so a run can be re-scored without refitting.
    "ALTER TABLE jobs ADD COLUMN params_json TEXT NOT NULL DEFAULT '{}';
     ALTER TABLE results RENAME TO results_v4;
     CREATE TABLE results (
        job_id        TEXT NOT NULL REFERENCES jobs(id),
        run_id        TEXT NOT NULL,
        model_id      TEXT NOT NULL,
        model_version TEXT NOT NULL,
        dataset_id    TEXT NOT NULL,
        fold          INTEGER NOT NULL,
        metrics_json  TEXT NOT NULL,
        duration_ms   INTEGER NOT NULL,
        created_at    TEXT NOT NULL,
        UNIQUE (job_id, fold)
     );
     INSERT INTO results (job_id, run_id, model_id, model_version, dataset_id, fold, metrics_json, duration_ms, created_at)
        SELECT j.id, r.run_id, r.model_id, r.model_version, r.dataset_id, r.fold, r.metrics_json, r.duration_ms, r.created_at
        FROM results_v4 r JOIN jobs j
          ON j.run_id = r.run_id AND j.model_id = r.model_id AND j.model_version = r.model_version;
     DROP TABLE results_v4;
     CREATE INDEX results_run ON results(run_id);
     CREATE TABLE predictions (
        job_id    TEXT NOT NULL REFERENCES jobs(id),
        fold      INTEGER NOT NULL,
        n_rows    INTEGER NOT NULL,
        n_classes INTEGER NOT NULL,
        row_index BLOB NOT NULL,
        y_true    BLOB NOT NULL,
        y_pred    BLOB NOT NULL,
        proba     BLOB,
        PRIMARY KEY (job_id, fold)
     );",
    // 6: hyperparameter studies. A study is a run whose jobs are trials;
    // `trials` keeps each one's number (proposal order), the point the
    // study proposed, how it ended and its objective values, so `tune
    // --resume` restores the study exactly and `show` rebuilds its report.
    "CREATE TABLE studies (
        id          TEXT PRIMARY KEY,
        run_id      TEXT NOT NULL UNIQUE REFERENCES runs(id),
        model_id    TEXT NOT NULL,
        strategy    TEXT NOT NULL,
        spec_json   TEXT NOT NULL,
        created_at  TEXT NOT NULL
     );
     CREATE TABLE trials (
        study_id    TEXT NOT NULL REFERENCES studies(id),
        number      INTEGER NOT NULL,
        job_id      TEXT NOT NULL UNIQUE REFERENCES jobs(id),
        params_json TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('running','complete','pruned','failed')),
        values_json TEXT,
        note        TEXT,
        PRIMARY KEY (study_id, number)
     );",
    // 7: registered models. A version points at its content-addressed
    // artifact and keeps its lineage; aliases and the changelog are theirs.
    "CREATE TABLE model_versions (
        name           TEXT NOT NULL,
        version        INTEGER NOT NULL CHECK (version >= 1),
        semver         TEXT NOT NULL,
        stage          TEXT NOT NULL CHECK (stage IN ('development','staging','production','deprecated','archived')),
        artifact       TEXT NOT NULL,
        plugin         TEXT NOT NULL,
        plugin_version TEXT NOT NULL,
        plugin_sha256  TEXT NOT NULL,
        candidate      TEXT NOT NULL,
        task           TEXT NOT NULL,
        params_json    TEXT NOT NULL,
        features_json  TEXT NOT NULL,
        dataset_id     TEXT NOT NULL,
        source_run     TEXT,
        source_study   TEXT,
        parent_version INTEGER,
        metrics_json   TEXT NOT NULL,
        message        TEXT,
        created_at     TEXT NOT NULL,
        PRIMARY KEY (name, version)
     );
     CREATE UNIQUE INDEX model_one_production ON model_versions(name) WHERE stage = 'production';
     CREATE TABLE model_aliases (
        name    TEXT NOT NULL,
        alias   TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
     );
     CREATE TABLE model_changelog (
        id      INTEGER PRIMARY KEY,
        name    TEXT NOT NULL,
        version INTEGER NOT NULL,
        change  TEXT NOT NULL,
        detail  TEXT NOT NULL,
        at      TEXT NOT NULL
     );
     CREATE INDEX model_changelog_name ON model_changelog(name);",
    // 8: a version's data preparation as configured (scale, encode,
    // impute), so a change of it is a minor semver bump; 'null' for
    // versions registered before.
    "ALTER TABLE model_versions ADD COLUMN prep_json TEXT NOT NULL DEFAULT 'null';",
];
