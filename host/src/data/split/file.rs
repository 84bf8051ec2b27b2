//! Folds as a file, for process workers: the host computes a run's folds
//! once (groups, time order and seeds are the host's to know) and each
//! child reads them. Little-endian u32: the fold count, then per fold the
//! train and test lengths and their rows. Named by the sha256 of the
//! content, so a run writes it once and reruns reuse it.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Fold;

fn encode(folds: &[Fold]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |v: u32| out.extend_from_slice(&v.to_le_bytes());
    put(folds.len() as u32);
    for f in folds {
        put(f.train.len() as u32);
        put(f.test.len() as u32);
        for &r in f.train.iter().chain(&f.test) {
            put(r);
        }
    }
    out
}

/// Writes `folds` into `dir` (once per content) and returns the file.
pub fn write_folds(dir: &Path, folds: &[Fold]) -> std::io::Result<PathBuf> {
    let bytes = encode(folds);
    let name = crate::domain::hex(&Sha256::digest(&bytes));
    let path = dir.join(format!("{name}.folds"));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.folds.tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Reads a folds file; every row must be below `rows`.
pub fn read_folds(path: &Path, rows: usize) -> Result<Vec<Fold>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = || format!("{}: not a folds file (truncated or damaged)", path.display());
    let mut words = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let mut next = || words.next().ok_or_else(bad);
    let n = next()?;
    let mut folds = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (train, test) = (next()? as usize, next()? as usize);
        let mut take = |len: usize| -> Result<Vec<u32>, String> {
            let v: Vec<u32> = (0..len).map(|_| next()).collect::<Result<_, _>>()?;
            match v.iter().find(|&&r| r as usize >= rows) {
                Some(r) => Err(format!("{}: row {r} is beyond the {rows} rows", path.display())),
                None => Ok(v),
            }
        };
        folds.push(Fold { train: take(train)?, test: take(test)? });
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_round_trip_through_their_file() {
        let folds = vec![
            Fold { train: vec![0, 2], test: vec![1] },
            Fold { train: vec![1], test: vec![0, 2] },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = write_folds(dir.path(), &folds).unwrap();
        assert_eq!(write_folds(dir.path(), &folds).unwrap(), path, "content-addressed");
        assert_eq!(read_folds(&path, 3).unwrap(), folds);
        assert!(read_folds(&path, 2).unwrap_err().ends_with("row 2 is beyond the 2 rows"));
        std::fs::write(&path, [1, 0, 0, 0, 5]).unwrap();
        assert!(
            read_folds(&path, 3).unwrap_err().ends_with("not a folds file (truncated or damaged)")
        );
    }
}
