//! The probe cache: what the child-process probe of a plugin file found,
//! keyed by the file's sha256, so a known build costs one lookup and a
//! replaced file (another sha256) is probed again.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, now};

/// What a probe found for a file (`params_key` empty) or for one
/// constructor call (`params_key` = canonical JSON of its params).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeVerdict {
    /// The plugin's `info().name`, when it loaded.
    pub plugin: Option<String>,
    /// Safe to run in the host: it returned (success or a clean error).
    pub passed: bool,
    /// Why not, in one line (a crash, a hang, a rejection).
    pub reason: Option<String>,
}

impl Store {
    /// The stored verdict for `(sha256, params_key)` under `host_abi`.
    pub fn probe_verdict(
        &self,
        sha256: &str,
        params_key: &str,
        host_abi: &str,
    ) -> Result<Option<ProbeVerdict>> {
        let r = self
            .conn
            .prepare_cached(
                "SELECT plugin, passed, reason FROM plugin_probes
                 WHERE sha256 = ?1 AND params_key = ?2 AND host_abi = ?3",
            )
            .and_then(|mut st| {
                st.query_row(params![sha256, params_key, host_abi], |r| {
                    Ok(ProbeVerdict { plugin: r.get(0)?, passed: r.get(1)?, reason: r.get(2)? })
                })
                .optional()
            });
        self.wrap(r)
    }

    /// Stores (or replaces) a verdict.
    pub fn record_probe(
        &mut self,
        sha256: &str,
        params_key: &str,
        host_abi: &str,
        verdict: &ProbeVerdict,
    ) -> Result<()> {
        let r = self.conn.execute(
            "INSERT OR REPLACE INTO plugin_probes
               (sha256, params_key, host_abi, plugin, passed, reason, probed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                sha256,
                params_key,
                host_abi,
                verdict.plugin,
                verdict.passed,
                verdict.reason,
                now()
            ],
        );
        self.wrap(r).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_per_file_params_and_abi() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("m.db")).unwrap();
        let ok = ProbeVerdict { plugin: Some("p".into()), passed: true, reason: None };
        s.record_probe("aa", "", "0.1.0/1", &ok).unwrap();
        assert_eq!(s.probe_verdict("aa", "", "0.1.0/1").unwrap(), Some(ok));
        assert_eq!(s.probe_verdict("aa", "", "0.2.0/1").unwrap(), None);
        assert_eq!(s.probe_verdict("bb", "", "0.1.0/1").unwrap(), None);
        let crash = ProbeVerdict { plugin: None, passed: false, reason: Some("SIGSEGV".into()) };
        s.record_probe("aa", "{\"k\":1}", "0.1.0/1", &crash).unwrap();
        assert_eq!(s.probe_verdict("aa", "{\"k\":1}", "0.1.0/1").unwrap(), Some(crash.clone()));
        s.record_probe("aa", "{\"k\":1}", "0.1.0/1", &crash).unwrap();
    }
}
