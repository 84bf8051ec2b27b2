//! The OpenAPI document against the routes: every success answer names its
//! body schema (the event stream as `text/event-stream`), every error answer
//! the problem document. The checks read the JSON document, so they apply
//! to what `/api/openapi.json` serves as much as to [`openapi`].

use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::doc::PROBLEM_JSON;
use super::super::dto::ProblemDetails;
use super::super::openapi;
use crate::config::Config;

/// `(method, path, status, response)` of every answer in `doc`.
fn responses(doc: &Value) -> Vec<(String, &str, &str, &Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (status, r) in op["responses"].as_object().into_iter().flatten() {
                all.push((method.to_uppercase(), path.as_str(), status.as_str(), r));
            }
        }
    }
    all
}

/// Whether `r` has a non-empty schema for media type `media`.
fn has_schema(r: &Value, media: &str) -> bool {
    r["content"][media]["schema"].as_object().is_some_and(|s| !s.is_empty())
}

/// `"METHOD PATH STATUS"` of every 2xx answer that names no JSON body
/// schema; for an `/events` route, no `text/event-stream` one.
pub(super) fn missing_bodies(doc: &Value) -> Vec<String> {
    responses(doc)
        .into_iter()
        .filter(|(_, path, status, r)| {
            let media =
                if path.ends_with("/events") { "text/event-stream" } else { "application/json" };
            status.starts_with('2') && !has_schema(r, media)
        })
        .map(|(method, path, status, _)| format!("{method} {path} {status}"))
        .collect()
}

/// `"METHOD PATH STATUS"` of every 4xx/5xx answer whose body is not the
/// problem document.
fn missing_problems(doc: &Value) -> Vec<String> {
    responses(doc)
        .into_iter()
        .filter(|(_, _, status, r)| {
            let schema = &r["content"][PROBLEM_JSON]["schema"]["$ref"];
            (status.starts_with('4') || status.starts_with('5'))
                && schema != "#/components/schemas/ProblemDetails"
        })
        .map(|(method, path, status, _)| format!("{method} {path} {status}"))
        .collect()
}

fn document() -> Value {
    let config = Config::parse("/srv/mlhost/config/mlhost.toml".as_ref(), "").unwrap();
    serde_json::to_value(openapi(&config)).unwrap()
}

#[test]
fn every_answer_of_the_document_names_its_body() {
    let doc = document();
    assert_eq!(missing_bodies(&doc), Vec::<String>::new());
    assert_eq!(missing_problems(&doc), Vec::<String>::new());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Health",
        "Report",
        "RunAccepted",
        "RunState",
        "RunResults",
        "OperationMetrics",
        "UploadedDataset",
        "DatasetInfo",
        "ProblemDetails",
        "EventEnvelope",
        "TuneRequest",
        "StudyAccepted",
        "StudyState",
        "StudyReport",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}: {:?}", schemas.keys());
    }
    let sse = &doc["paths"]["/api/ml/evaluations/{id}/events"]["get"]["responses"]["200"];
    assert!(sse["description"].as_str().unwrap().contains("EventEnvelope"), "{sse}");
    let envelope = &schemas["EventEnvelope"]["properties"];
    for field in ["eventId", "eventType", "eventVersion", "occurredAt", "payload", "runId"] {
        assert!(envelope[field].is_object(), "EventEnvelope lacks {field}: {envelope}");
    }
}

/// Says nothing of its body.
#[utoipa::path(get, path = "/bare", responses((status = 200, description = "no body named")))]
async fn bare() {}

/// Names its body.
#[utoipa::path(get, path = "/typed", responses((status = 200, body = ProblemDetails, description = "typed")))]
async fn typed() {}

/// A stream documented as JSON.
#[utoipa::path(get, path = "/runs/{id}/events", params(("id" = String, Path)), responses((status = 200, body = String, description = "JSON, not a stream")))]
async fn json_events() {}

#[test]
fn the_body_check_catches_a_route_without_a_body() {
    let (_, doc) = OpenApiRouter::<()>::new()
        .routes(routes!(bare))
        .routes(routes!(typed))
        .routes(routes!(json_events))
        .split_for_parts();
    let doc = serde_json::to_value(doc).unwrap();
    assert_eq!(missing_bodies(&doc), ["GET /bare 200", "GET /runs/{id}/events 200"]);
    // The real document with one body taken out.
    let mut doc = document();
    let health = doc["paths"]["/health"]["get"]["responses"]["200"].as_object_mut().unwrap();
    health.remove("content");
    assert_eq!(missing_bodies(&doc), ["GET /health 200"]);
    let not_found = &mut doc["paths"]["/api/ml/evaluations/{id}"]["get"]["responses"]["404"];
    not_found.as_object_mut().unwrap().remove("content");
    assert_eq!(missing_problems(&doc), ["GET /api/ml/evaluations/{id} 404"]);
}

#[test]
fn the_evaluation_body_documents_every_cv_field_typed() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let body = &schemas["EvalRequest"]["properties"];
    let fields = ["cv", "folds", "holdout", "repeats", "testSize", "gap", "maxTrainSize"];
    for field in fields.into_iter().chain(["groupCol", "timeCol", "shuffle"]) {
        assert!(body[field].is_object(), "EvalRequest lacks {field}: {body}");
    }
    let names = ["stratified", "kfold", "time-series", "shuffle", "group", "holdout"];
    assert_eq!(schemas["CvName"]["enum"], serde_json::json!(names), "{}", schemas["CvName"]);
    assert!(body["cv"].to_string().contains("#/components/schemas/CvName"), "{}", body["cv"]);
    assert_eq!(body["gap"]["minimum"], 0, "{}", body["gap"]);
}
