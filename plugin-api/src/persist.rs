//! The bytes of a saved model: a header that names the plugin, its version,
//! the task and the number of classes, then the fitted model, both in
//! postcard (a compact serde format). `load` refuses bytes another plugin
//! or another version of this one wrote, with a reason that says which.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"MLHM";
const FORMAT: u8 = 1;
/// More classes than any model of ours is given (the host caps classes far lower).
const MAX_CLASSES: u32 = 1 << 20;

/// What a saved model says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) format: u8,
    pub(crate) plugin: String,
    pub(crate) version: String,
    /// 0 classification, 1 regression.
    pub(crate) task: u8,
    /// Classes (0 for regression).
    pub(crate) k: u32,
}

/// `header` then `model`, after the magic bytes.
pub(crate) fn save<T: Serialize>(header: &Header, model: &T) -> Result<Vec<u8>> {
    let fail = |e: postcard::Error| Error::msg(format!("save: cannot encode the model: {e}"));
    let mut out = MAGIC.to_vec();
    out.extend(postcard::to_allocvec(header).map_err(fail)?);
    out.extend(postcard::to_allocvec(model).map_err(fail)?);
    Ok(out)
}

/// The header and the rest, checked against this plugin's name and version.
pub(crate) fn open<'a>(bytes: &'a [u8], plugin: &str, version: &str) -> Result<(Header, &'a [u8])> {
    let bad = |why: &str| Error::invalid_input(format!("load: {why}"));
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("not a saved mlhost model"))?;
    let (header, body): (Header, &[u8]) =
        postcard::take_from_bytes(rest).map_err(|_| bad("its header is damaged"))?;
    if header.format != FORMAT {
        return Err(bad(&format!(
            "format {} is not one this plugin reads ({FORMAT})",
            header.format
        )));
    }
    // The header is read before the model: a task or class count no model
    // of ours writes means damaged or foreign bytes (a huge k would make the
    // first predict allocate without bound).
    let k_ok = match header.task {
        0 => (1..=MAX_CLASSES).contains(&header.k),
        1 => header.k == 0,
        _ => false,
    };
    if !k_ok {
        return Err(bad("its header is damaged (task or class count out of range)"));
    }
    if header.plugin != plugin || header.version != version {
        return Err(bad(&format!(
            "saved by plugin {} {}, this is {plugin} {version}; load it with that build",
            header.plugin, header.version
        )));
    }
    Ok((header, body))
}

/// The model in `body`.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    postcard::from_bytes(body)
        .map_err(|e| Error::invalid_input(format!("load: the model is damaged: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let h = Header { format: FORMAT, plugin: "p".into(), version: "1.0".into(), task: 0, k: 3 };
        let bytes = save(&h, &vec![1.5f64, 2.5]).unwrap();
        let (got, body) = open(&bytes, "p", "1.0").unwrap();
        assert_eq!(got, h);
        assert_eq!(decode::<Vec<f64>>(body).unwrap(), [1.5, 2.5]);
        let e = open(&bytes, "q", "1.0").unwrap_err().to_string();
        assert_eq!(e, "load: saved by plugin p 1.0, this is q 1.0; load it with that build");
        assert!(
            open(b"junk", "p", "1.0").unwrap_err().to_string().contains("not a saved mlhost model")
        );
        assert!(decode::<Vec<f64>>(&body[..1]).is_err());
        for (task, k) in [(0, 0), (0, u32::MAX), (1, 3), (7, 1)] {
            let h = Header { task, k, ..h.clone() };
            let e = open(&save(&h, &0u8).unwrap(), "p", "1.0").unwrap_err().to_string();
            assert!(e.contains("out of range"), "task {task} k {k}: {e}");
        }
    }
}
