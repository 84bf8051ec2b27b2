//! The outbox relay: publishes events from the `events` table to the Redis
//! stream (`XADD`, approximate `MAXLEN`), oldest first, and marks each
//! published. At-least-once: an event is marked after Redis took it, so a
//! crash in between publishes it again; consumers drop duplicates by
//! `eventId`.
//!
//! When Redis is unreachable the run goes on and events wait in the outbox;
//! the relay says so once (not per event) and again once Redis is back.
//! Owns no state of its own: the outbox is the truth.

use std::path::PathBuf;
use std::time::Duration;

use crate::pool::StopFlag;
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

/// A relay running beside a run.
#[derive(Debug)]
pub struct Relay {
    stop: StopFlag,
    handle: std::thread::JoinHandle<()>,
}

impl Relay {
    /// Starts publishing the outbox of `database` every 20 ms.
    pub fn spawn(database: PathBuf, cfg: RelayConfig) -> Relay {
        let stop = StopFlag::default();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut store = match Store::open(&database) {
                Ok(s) => s,
                Err(e) => return eprintln!("events: cannot read the outbox: {e}"),
            };
            let mut con: Option<redis::Connection> = None;
            let mut down = false;
            loop {
                let last_round = flag.is_set();
                let round = match con.as_mut() {
                    Some(c) => publish_pending(&mut store, c, &cfg),
                    None => connect(&cfg).and_then(|c| {
                        let c = con.insert(c);
                        publish_pending(&mut store, c, &cfg)
                    }),
                };
                match round {
                    Ok(n) if down => {
                        down = false;
                        eprintln!(
                            "events: Redis at {} is reachable again; published {n} waiting events",
                            cfg.redis_url
                        );
                    }
                    Ok(_) => {}
                    Err(e) => {
                        con = None;
                        if !down {
                            down = true;
                            eprintln!(
                                "events: {e}; events wait in the outbox and go out when Redis is back"
                            );
                        }
                    }
                }
                if last_round {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
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
