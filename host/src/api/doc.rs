//! The OpenAPI document: built by utoipa-axum from the handlers'
//! annotations together with the router (see `parts` in the module root),
//! then completed with what only this server knows (its body limits) and
//! with the problem document as the body of every error answer.

use utoipa::OpenApi;
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

use super::dto::ProblemDetails;
use crate::config::Config;
use crate::store::EventEnvelope;

/// The document's root: title, description, and the schemas no handler
/// names as a body (the problem document, the event envelope of the SSE
/// stream).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mlhost",
        description = "Train and evaluate plugin models; tune their hyperparameters; upload datasets; \
            read runs, studies and results. \
            Limits: a JSON body at most `[api] max_body_kb` (default 64 KB), an upload at most \
            `[api] max_upload_mb` (default 256 MB); over either, 413. A posted dataset path must \
            lie inside `[api] data_dirs`. When `[api] token` is set, every route but /health \
            needs `Authorization: Bearer <token>`. Every error answer is an RFC 7807 problem \
            document (`application/problem+json`, schema `ProblemDetails`)."
    ),
    components(schemas(ProblemDetails, EventEnvelope))
)]
pub(super) struct ApiDoc;

/// The media type of every error answer.
pub(super) const PROBLEM_JSON: &str = "application/problem+json";

/// Completes the generated document with this server's limits and the
/// problem bodies.
pub(super) fn complete(doc: &mut utoipa::openapi::OpenApi, config: &Config) {
    document_limits(doc, config);
    document_problems(doc);
}

/// Every operation of the document, with its path.
fn operations(
    doc: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&String, &mut utoipa::openapi::path::Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
            .into_iter()
            .flatten()
            .map(move |op| (path, op))
    })
}

/// Writes this server's limits into the 413 answers of the document.
fn document_limits(doc: &mut utoipa::openapi::OpenApi, config: &Config) {
    for (path, op) in operations(doc) {
        if let Some(RefOr::T(r)) = op.responses.responses.get_mut("413") {
            let here = if path.ends_with("/datasets") {
                format!("{} MB", config.api.max_upload_mb)
            } else {
                format!("{} KB", config.api.max_body_kb)
            };
            r.description = format!("{} (on this server: {here})", r.description);
        }
    }
}

/// Names [`ProblemDetails`] as the `application/problem+json` body of every
/// 4xx and 5xx answer, so the annotations list only status and meaning.
fn document_problems(doc: &mut utoipa::openapi::OpenApi) {
    let problem =
        ContentBuilder::new().schema(Some(Ref::from_schema_name("ProblemDetails"))).build();
    for (_, op) in operations(doc) {
        for (status, response) in op.responses.responses.iter_mut() {
            let RefOr::T(r) = response else { continue };
            if status.starts_with('4') || status.starts_with('5') {
                r.content.entry(PROBLEM_JSON.to_owned()).or_insert_with(|| problem.clone());
            }
        }
    }
}
