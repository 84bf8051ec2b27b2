//! `POST /api/ml/datasets`: a CSV streamed to a temp file (never past
//! `[api] max_upload_mb`), validated by the loader runs use, then fsynced
//! and renamed to `<database folder>/datasets/<sha256>.csv`. Content
//! addressed: the same bytes uploaded twice are one file and one id.

use std::fs;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::datasets::upload_path;
use super::dto::{DatasetInfo, UploadedDataset};
use super::{AppState, Problem};
use crate::data::dataset::{self, TaskHint};

/// `POST /api/ml/datasets?label=COL`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadQuery {
    /// The label column to validate against (default: the last column).
    label: Option<String>,
}

/// Stores a CSV dataset (validated by the same loader runs use) and answers
/// with its id, the sha256 of the bytes: the same file uploaded twice is
/// stored once and gets the same id.
#[utoipa::path(post, path = "/datasets", params(UploadQuery),
    request_body(content = String, content_type = "text/csv",
        description = "the CSV file with a header row; any Content-Type is accepted; at most `[api] max_upload_mb` MB (default 256)"),
    responses(
    (status = 201, body = UploadedDataset, description = "stored, Location header; post `dataset` to /evaluations"),
    (status = 400, description = "unknown query parameter, or the upload broke off"),
    (status = 401, description = "token missing or wrong"),
    (status = 413, description = "larger than `[api] max_upload_mb` (default 256 MB)"),
    (status = 422, description = "not a usable dataset: the detail names row and column"),
))]
pub(super) async fn upload_dataset(
    State(state): State<Arc<AppState>>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(Problem::from_query)?;
    let max_mb = state.config.api.max_upload_mb;
    let limit = max_mb.saturating_mul(1 << 20);
    let too_large =
        || Problem::too_large("upload", &format!("the limit of {max_mb} MB ([api] max_upload_mb)"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // The file goes to disk as it arrives, on a blocking thread; this side
    // counts bytes and stops at the limit.
    let (tx, rx) = tokio::sync::mpsc::channel::<Option<Bytes>>(8);
    let dir = state.uploads.clone();
    let writer = tokio::task::spawn_blocking(move || store_upload(&dir, rx, q.label.as_deref()));
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    let mut refused = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(_) => {
                refused = Some(Problem::bad_request("the upload broke off before its end"));
                break;
            }
        };
        total += chunk.len() as u64;
        if total > limit {
            refused = Some(too_large());
            break;
        }
        if tx.send(Some(chunk)).await.is_err() {
            break; // the writer failed; its error is below
        }
    }
    if refused.is_none() {
        let _ = tx.send(None).await;
    }
    drop(tx);
    let stored = writer.await.map_err(Problem::internal)?;
    if let Some(p) = refused {
        return Err(p);
    }
    let Some(s) = stored? else {
        return Err(Problem::internal("the upload writer stopped early"));
    };
    let location = format!("/api/ml/datasets/{}", s.id);
    let mut r = (StatusCode::CREATED, Json(s.answer())).into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(&location).map_err(Problem::internal)?);
    Ok(r)
}

/// An upload as stored.
#[derive(Debug)]
struct Stored {
    id: String,
    rows: usize,
    columns: Vec<String>,
    label: String,
    bytes: u64,
}

impl Stored {
    /// The `201` body.
    fn answer(self) -> UploadedDataset {
        UploadedDataset {
            info: DatasetInfo::new(self.id, self.bytes, self.columns),
            label: self.label,
            rows: self.rows,
        }
    }
}

/// Removes a temp file unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Writes the chunks `rx` brings to a temp file (a `None` ends the upload;
/// the channel closing before it aborts it), checks it parses as a dataset,
/// fsyncs it and renames it to `<sha256>.csv`. `Ok(None)`: aborted.
fn store_upload(
    dir: &Path,
    mut rx: tokio::sync::mpsc::Receiver<Option<Bytes>>,
    label: Option<&str>,
) -> Result<Option<Stored>, Problem> {
    fs::create_dir_all(dir).map_err(Problem::internal)?;
    let tmp = dir.join(format!(".upload-{}.part", uuid::Uuid::now_v7()));
    let mut file = fs::File::create_new(&tmp).map_err(Problem::internal)?;
    let mut guard = TempFile(Some(tmp.clone()));
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    loop {
        match rx.blocking_recv() {
            Some(Some(chunk)) => {
                hasher.update(&chunk);
                bytes += chunk.len() as u64;
                file.write_all(&chunk).map_err(Problem::internal)?;
            }
            Some(None) => break,
            None => return Ok(None),
        }
    }
    file.sync_all().map_err(Problem::internal)?;
    drop(file);
    let id = crate::domain::hex(hasher.finalize().as_slice());
    let open = || fs::File::open(&tmp).map(BufReader::new).map_err(Problem::internal);
    let data = dataset::parse_csv("upload", open()?, label, TaskHint::Infer).map_err(|e| {
        let why = e.to_string().replace("pass --label COLUMN", "pass ?label=COLUMN");
        Problem::invalid("invalid-dataset", why)
    })?;
    let columns = header(open()?).map_err(Problem::internal)?;
    let dest = dir.join(format!("{id}.csv"));
    fs::rename(&tmp, &dest).map_err(Problem::internal)?;
    guard.0 = None;
    // The rename itself is durable once the folder is synced.
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(Problem::internal)?;
    Ok(Some(Stored { id, rows: data.rows, columns, label: data.label, bytes }))
}

/// The header row, read the way the dataset loader reads it.
fn header(r: impl std::io::Read) -> Result<Vec<String>, csv::Error> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(r);
    Ok(reader.headers()?.iter().map(str::to_owned).collect())
}

/// An uploaded dataset: its size and columns.
#[utoipa::path(get, path = "/datasets/{id}", params(("id" = String, Path, description = "dataset id (sha256 of the upload)")), responses(
    (status = 200, body = DatasetInfo, description = "the upload's size and columns"),
    (status = 401, description = "token missing or wrong"),
    (status = 404, description = "no such upload"),
))]
pub(super) async fn get_dataset(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<DatasetInfo>, Problem> {
    let path = upload_path(&state.uploads, &id).map_err(|p| Problem::not_found(p.detail()))?;
    let meta = fs::metadata(&path).map_err(Problem::internal)?;
    let columns = header(BufReader::new(fs::File::open(&path).map_err(Problem::internal)?))
        .map_err(Problem::internal)?;
    Ok(Json(DatasetInfo::new(id, meta.len(), columns)))
}
