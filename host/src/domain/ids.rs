//! Ids as their own types, so a job id cannot be passed where a run id is
//! meant. Stored and serialized as the plain strings they always were.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        /// Reads as the string it is (`&run.id` where a `&str` is wanted).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

id_type!(
    /// A run: a UUIDv7, so ids sort by creation time.
    RunId
);
id_type!(
    /// A job (one trial of one candidate in a run; the "operation" of the
    /// metrics API): a UUIDv7.
    JobId
);
id_type!(
    /// A dataset snapshot: the sha256 of its canonical content, in hex.
    DatasetId
);

id_type!(
    /// A hyperparameter study: a UUIDv7.
    StudyId
);

impl StudyId {
    /// A fresh id.
    pub fn generate() -> StudyId {
        StudyId(uuid::Uuid::now_v7().to_string())
    }
}

impl RunId {
    /// A fresh id.
    pub fn generate() -> RunId {
        RunId(uuid::Uuid::now_v7().to_string())
    }
}

impl JobId {
    /// A fresh id.
    pub fn generate() -> JobId {
        JobId(uuid::Uuid::now_v7().to_string())
    }
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(2 * digest.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_plain_strings_and_sort_by_creation() {
        let a = RunId::generate();
        let b = RunId::generate();
        assert!(a < b);
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
