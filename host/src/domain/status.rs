//! Run and job statuses: enums in code, the same lower-case strings as ever
//! in the database, JSON and events.

use std::fmt;
use std::str::FromStr;

/// A status string that is not one of the contract's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} status '{value}'")]
pub struct UnknownStatus {
    /// "run" or "job".
    pub kind: &'static str,
    /// What was read.
    pub value: String,
}

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every status, in lifecycle order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialized name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, UnknownStatus> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownStatus { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        /// Compares with the stored name (`status == "succeeded"`).
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum!(
    /// Where a run is. `Completed` even when some candidates failed.
    RunStatus, "run" {
        /// Stored, not started.
        Queued = "queued",
        /// Jobs are running.
        Running = "running",
        /// Every job ended.
        Completed = "completed",
        /// The run itself could not go on.
        Failed = "failed",
        /// Stopped by the user; `eval --resume` goes on.
        Cancelled = "cancelled",
    }
);

status_enum!(
    /// Where a job is.
    JobStatus, "job" {
        /// Waiting for a worker.
        Queued = "queued",
        /// On a worker.
        Running = "running",
        /// Every fold scored.
        Succeeded = "succeeded",
        /// The plugin or the host refused or failed it.
        Failed = "failed",
        /// Ran past the per-job timeout.
        TimedOut = "timed_out",
        /// Stopped with its run.
        Cancelled = "cancelled",
    }
);

status_enum!(
    /// How a trial of a study stands (`trials.state`).
    TrialStatus, "trial" {
        /// Proposed, running or waiting to run.
        Running = "running",
        /// Finished with its values.
        Complete = "complete",
        /// Stopped early by the pruner.
        Pruned = "pruned",
        /// Crashed, errored or timed out; the study went on.
        Failed = "failed",
    }
);

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_string() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(*s));
        }
        assert_eq!(JobStatus::TimedOut.as_str(), "timed_out");
        let err = "exploded".parse::<JobStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown job status 'exploded'");
    }
}
