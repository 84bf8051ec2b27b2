//! The outbox relay: publishes events from the `events` table to the Redis
//! stream (`XADD`, approximate `MAXLEN`), oldest first, and marks each
//! published. At-least-once: an event is marked after Redis took it, so a
//! crash in between publishes it again; consumers drop duplicates by
//! `eventId`.
//!
//! When Redis is unreachable, or the database is being created, locked or
//! unreadable, the run goes on and events wait in the outbox; the relay
//! says so once per outage (not per attempt), retries with a capped
//! backoff, and says so again once it publishes. It never gives up.
//! Owns no state of its own: the outbox is the truth.

use std::path::PathBuf;
use std::time::Duration;

use crate::domain::StopFlag;
use crate::store::Store;

/// Where events go.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `redis://host:port`.
    pub redis_url: String,
    /// Stream key.
    pub stream: String,
    /// Approximate maximum stream length.
    pub maxlen: u64,
}

/// Why a publish round stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Redis refused or is unreachable.
    #[error("Redis at {url}: {source}")]
    Redis {
        /// The URL.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// The outbox could not be read or marked.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn connect(cfg: &RelayConfig) -> Result<redis::Connection, RelayError> {
    let err = |source| RelayError::Redis { url: cfg.redis_url.clone(), source };
    let client = redis::Client::open(cfg.redis_url.as_str()).map_err(err)?;
    let con = client.get_connection_with_timeout(Duration::from_secs(1)).map_err(err)?;
    con.set_read_timeout(Some(Duration::from_secs(5))).map_err(err)?;
    con.set_write_timeout(Some(Duration::from_secs(5))).map_err(err)?;
    Ok(con)
}

/// Publishes every pending event, in order, stopping at the first failure
/// (the rest stay pending). Returns how many went out.
pub fn publish_pending(
    store: &mut Store,
    con: &mut redis::Connection,
    cfg: &RelayConfig,
) -> Result<usize, RelayError> {
    let mut sent = 0;
    loop {
        let batch = store.pending_events(256)?;
        if batch.is_empty() {
            return Ok(sent);
        }
        for event in batch {
            let envelope = event.envelope().to_string();
            redis::cmd("XADD")
                .arg(&cfg.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(cfg.maxlen)
                .arg("*")
                .arg("eventId")
                .arg(&event.id)
                .arg("eventType")
                .arg(&event.event_type)
                .arg("event")
                .arg(&envelope)
                .query::<String>(con)
                .map_err(|source| RelayError::Redis { url: cfg.redis_url.clone(), source })?;
            store.mark_published(&event.id)?;
            sent += 1;
        }
    }
}

/// Connects and publishes everything pending once.
pub fn publish_once(database: &std::path::Path, cfg: &RelayConfig) -> Result<usize, RelayError> {
    let mut store = Store::open(database)?;
    let mut con = connect(cfg)?;
    publish_pending(&mut store, &mut con, cfg)
}

/// One publishing round, (re)opening the store and the connection as
/// needed.
fn round(
    database: &std::path::Path,
    cfg: &RelayConfig,
    store: &mut Option<Store>,
    con: &mut Option<redis::Connection>,
) -> Result<usize, RelayError> {
    let store = match store {
        Some(s) => s,
        None => store.insert(Store::open(database)?),
    };
    let con = match con {
        Some(c) => c,
        None => con.insert(connect(cfg)?),
    };
    publish_pending(store, con, cfg)
}

/// A relay running beside a run.
#[derive(Debug)]
pub struct Relay {
    stop: StopFlag,
    handle: std::thread::JoinHandle<()>,
}

/// The first pause after a failed round; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(20);
/// The longest pause between attempts during an outage.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What is down, so an outage is told once, not once per attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outage {
    Redis,
    Store,
}

impl Relay {
    /// Starts publishing the outbox of `database` every 20 ms. It never
    /// gives up: a database that is being created, locked or unreadable and
    /// a Redis that is down are each told once per outage and retried with
    /// a backoff capped at [`MAX_BACKOFF`].
    pub fn spawn(database: PathBuf, cfg: RelayConfig) -> Relay {
        let stop = StopFlag::default();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut store: Option<Store> = None;
            let mut con: Option<redis::Connection> = None;
            let mut outage: Option<Outage> = None;
            let mut pause = MIN_BACKOFF;
            loop {
                let last_round = flag.is_set();
                match round(&database, &cfg, &mut store, &mut con) {
                    Ok(n) => {
                        if let Some(was) = outage.take() {
                            let what = match was {
                                Outage::Redis => {
                                    format!("Redis at {} is reachable again", cfg.redis_url)
                                }
                                Outage::Store => "the outbox can be read again".to_owned(),
                            };
                            tracing::warn!(published = n, "events: {what}");
                        }
                        pause = MIN_BACKOFF;
                    }
                    Err(e) => {
                        let now = match e {
                            RelayError::Redis { .. } => {
                                con = None;
                                Outage::Redis
                            }
                            RelayError::Store(_) => {
                                store = None;
                                Outage::Store
                            }
                        };
                        if outage != Some(now) {
                            outage = Some(now);
                            tracing::warn!(
                                error = %e,
                                "events wait in the outbox and go out when it is back (retrying)"
                            );
                        }
                        pause = (pause * 2).min(MAX_BACKOFF);
                    }
                }
                if last_round {
                    return;
                }
                // Sleep in short steps so `finish` is not kept waiting.
                let wake = std::time::Instant::now() + pause;
                while !flag.is_set() && std::time::Instant::now() < wake {
                    std::thread::sleep(MIN_BACKOFF.min(pause));
                }
            }
        });
        Relay { stop, handle }
    }

    /// Publishes what is left (one last round) and stops.
    pub fn finish(self) {
        self.stop.stop();
        let _ = self.handle.join();
    }
}
