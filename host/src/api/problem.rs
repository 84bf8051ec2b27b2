//! RFC 7807 problem documents: every error the API answers with.
//!
//! A detail names what is wrong and how to fix it, in one line. It never
//! carries `Debug` output of foreign types, SQL, or server paths other than
//! the configured data directories: internal failures go to the server's log
//! and the caller gets "see its log".

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::dto::ProblemDetails;

/// An RFC 7807 problem.
#[derive(Debug)]
pub struct Problem {
    pub(super) status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    pub(super) retry_after: Option<u64>,
}

impl Problem {
    pub(super) fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem { status, slug, title, detail: detail.into(), retry_after: None }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The one-line detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub(super) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub(super) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    pub(super) fn invalid(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, slug, "Invalid request", detail)
    }

    pub(super) fn forbidden(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, slug, "Forbidden", detail)
    }

    pub(super) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "send `Authorization: Bearer <token>` with the configured token",
        )
    }

    /// A body over one of the `[api]` size limits; `limit` names it.
    pub(super) fn too_large(what: &str, limit: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the {what} is larger than {limit}"),
        )
    }

    /// A failure of the server itself: the cause goes to the server's log,
    /// never to the caller (it may name paths or SQL).
    pub(super) fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error answered with 500");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; see its log",
        )
    }

    /// A JSON body axum could not take: over `[api] max_body_kb` (413), or
    /// not JSON, not `application/json`, or not the expected shape (400).
    pub(super) fn from_json(e: JsonRejection, max_body_kb: u64) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::too_large(
                "JSON body",
                &format!("the limit of {max_body_kb} KB ([api] max_body_kb)"),
            );
        }
        Self::bad_request(e.body_text())
    }

    /// A query string that does not parse.
    pub(super) fn from_query(e: QueryRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemDetails {
            detail: self.detail,
            status: self.status.as_u16(),
            title: self.title,
            kind: format!("/problems/{}", self.slug),
        };
        let mut r = (self.status, Json(body)).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}
