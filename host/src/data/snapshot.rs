//! The dataset snapshot as a file that worker processes memory-map: written
//! once per dataset by the host, mapped read-only by every child, so N
//! process workers share one copy of the data in the page cache instead of
//! holding N.
//!
//! Layout (little-endian): a 64-byte header (`MLHSNAP1`, rows, cols,
//! n_classes, schema length as u64), then `rows x cols` f64 features, then
//! `rows` f64 targets, then the columns' kinds as JSON (schema length
//! bytes; 0 in files written before categories existed: all numeric).
//! Owns the format and the module's one `unsafe` (the mapping).

use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::data::dataset::{Column, Dataset};

const MAGIC: &[u8; 8] = b"MLHSNAP1";
const HEADER: usize = 64;

/// The features and targets a job works on, however they are held.
#[derive(Debug, Clone, Copy)]
pub struct DataView<'a> {
    /// Row-major features.
    pub x: &'a [f64],
    /// Targets (class codes for classification).
    pub y: &'a [f64],
    /// Features per row.
    pub cols: usize,
    /// Classes, 0 for regression.
    pub n_classes: usize,
    /// The feature columns' kinds, `cols` of them.
    pub columns: &'a [Column],
}

impl Dataset {
    /// This dataset as a [`DataView`].
    pub fn view(&self) -> DataView<'_> {
        DataView {
            x: &self.x,
            y: self.y(),
            cols: self.cols(),
            n_classes: self.n_classes(),
            columns: &self.columns,
        }
    }
}

/// Writes `data` to `dir/<dataset id>.snapshot` unless a complete copy is
/// already there (same dataset id = same content). Returns the path.
pub fn write(dir: &Path, data: &Dataset) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.snapshot", data.id));
    let schema = serde_json::to_vec(&data.columns).map_err(std::io::Error::other)?;
    let size = (HEADER + 8 * (data.x.len() + data.rows) + schema.len()) as u64;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return Ok(path);
    }
    // Write aside and rename, so a reader never maps a half-written file.
    let tmp = dir.join(format!("{}.{}.tmp", data.id, std::process::id()));
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        let fields = [data.rows, data.cols(), data.n_classes(), schema.len()];
        for (i, v) in fields.into_iter().enumerate() {
            header[8 + 8 * i..16 + 8 * i].copy_from_slice(&(v as u64).to_le_bytes());
        }
        f.write_all(&header)?;
        for v in data.x.iter().chain(data.y()) {
            f.write_all(&v.to_le_bytes())?;
        }
        f.write_all(&schema)?;
        f.flush()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// A mapped snapshot.
#[derive(Debug)]
pub struct Snapshot {
    map: Mmap,
    rows: usize,
    cols: usize,
    n_classes: usize,
    columns: Vec<Column>,
}

impl Snapshot {
    /// Maps the snapshot at `path`, checking its header and size.
    pub fn open(path: &Path) -> Result<Snapshot, String> {
        let bad = |why: &str| format!("snapshot {}: {why}", path.display());
        let file = std::fs::File::open(path).map_err(|e| bad(&e.to_string()))?;
        // SAFETY: the host writes snapshots once, under a temporary name, and
        // renames them into place; nobody writes a snapshot file after that,
        // so the mapped bytes do not change while mapped.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| bad(&e.to_string()))?;
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(bad("not a snapshot file"));
        }
        let field = |i: usize| {
            u64::from_le_bytes(map[8 + 8 * i..16 + 8 * i].try_into().expect("8 bytes")) as usize
        };
        let (rows, cols, n_classes, schema) = (field(0), field(1), field(2), field(3));
        let values_end = HEADER + 8 * (rows * cols + rows);
        if map.len() != values_end + schema {
            return Err(bad("truncated"));
        }
        let columns: Vec<Column> = if schema == 0 {
            // Written before categories existed: numbers, no missing cells.
            (0..cols).map(Column::numeric).collect()
        } else {
            serde_json::from_slice(&map[values_end..]).map_err(|e| bad(&format!("schema: {e}")))?
        };
        Ok(Snapshot { map, rows, cols, n_classes, columns })
    }

    /// The mapped data.
    pub fn view(&self) -> DataView<'_> {
        // The map is page-aligned and the header is 64 bytes: f64-aligned.
        let end = HEADER + 8 * (self.rows * self.cols + self.rows);
        let values: &[f64] = bytemuck::cast_slice(&self.map[HEADER..end]);
        let (x, y) = values.split_at(self.rows * self.cols);
        DataView { x, y, cols: self.cols, n_classes: self.n_classes, columns: &self.columns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{Source, TaskHint, load};

    #[test]
    fn round_trips_a_dataset_and_rejects_damage() {
        let data = load(&Source::Builtin("iris".into()), None, TaskHint::Infer).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &data).unwrap();
        assert_eq!(write(dir.path(), &data).unwrap(), path, "written once");
        let snap = Snapshot::open(&path).unwrap();
        let v = snap.view();
        assert_eq!((v.x, v.y, v.cols, v.n_classes), (&data.x[..], data.y(), 4, 3));
        assert_eq!(v.columns, &data.columns[..]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
        assert!(Snapshot::open(&path).unwrap_err().ends_with("truncated"));
        std::fs::write(&path, b"hello").unwrap();
        assert!(Snapshot::open(&path).unwrap_err().ends_with("not a snapshot file"));
    }
}
