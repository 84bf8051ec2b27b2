//! The bearer token on every route, and the limits in the OpenAPI document.

use super::{Fixture, TOKEN, assert_leaks_nothing, authed, health_answers, request, send};

/// The bad `Authorization` values every route must refuse.
fn bad_credentials() -> Vec<Option<String>> {
    let mut short = TOKEN.to_owned();
    short.pop();
    vec![
        None,
        Some("Bearer wrong".into()),
        Some("Bearer ".into()),
        Some("Bearer".into()),
        Some(format!("Bearer {short}")),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
        Some("Basic aG9zdGlsZTp0b2tlbg==".into()),
        Some(TOKEN.into()),
        Some(format!("Bearer{TOKEN}")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_a_wrong_missing_or_empty_token() {
    let f = Fixture::new("data_dirs = [\"../data\"]");
    let doc = authed(&f.app, "GET", "/api/openapi.json", None).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    // Every documented route, so a new one is covered the day it is added.
    let mut routes: Vec<(String, String)> = vec![
        ("GET".into(), "/api/openapi.json".into()),
        ("GET".into(), "/api/ml/no-such-route".into()),
        ("DELETE".into(), "/api/ml/models".into()),
    ];
    for (path, item) in doc.json()["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.replace("{id}", "x")));
        }
    }
    for must in [
        "/api/ml/datasets",
        "/api/ml/evaluations",
        "/api/ml/models",
        "/api/ml/operations/x/metrics",
        "/api/ml/tuning",
        "/api/ml/tuning/x",
    ] {
        assert!(routes.iter().any(|(_, p)| p == must), "{must} not in {routes:?}");
    }
    for (method, path) in routes.iter().filter(|(_, p)| p != "/health") {
        for auth in bad_credentials() {
            let body = br#"{"dataset": "/etc/passwd"}"#.to_vec();
            let a = send(
                &f.app,
                request(method, path, auth.as_deref(), Some("application/json"), body, true),
            )
            .await;
            let what = format!("{method} {path} with {auth:?}");
            assert_eq!(a.status, 401, "{what}: {}", a.text);
            assert_eq!(a.ctype, "application/problem+json", "{what}");
            assert_eq!(a.www_authenticate.as_deref(), Some("Bearer"), "{what}");
            assert!(a.detail().contains("Authorization: Bearer"), "{what}: {}", a.detail());
            assert_leaks_nothing(&f, &what, &a);
        }
    }
    // The right token opens them; /health needs none.
    let a = authed(&f.app, "GET", "/api/ml/models", None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = send(
        &f.app,
        request("GET", "/api/ml/models", Some(&format!("bearer {TOKEN}")), None, Vec::new(), false),
    )
    .await;
    assert_eq!(a.status, 200, "the scheme is case-insensitive: {}", a.text);
    health_answers(&f.app, "the token checks").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_states_every_limit() {
    let f = Fixture::new("data_dirs = [\"../data\"]");
    let doc = authed(&f.app, "GET", "/api/openapi.json", None).await.json();
    let too_large = |path: &str| {
        doc["paths"][path]["post"]["responses"]["413"]["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(too_large("/api/ml/evaluations").contains("max_body_kb"), "{doc}");
    assert!(too_large("/api/ml/evaluations").contains("on this server: 1 KB"), "{doc}");
    assert!(too_large("/api/ml/operations/{id}/metrics").contains("max_body_kb"), "{doc}");
    assert!(too_large("/api/ml/tuning").contains("on this server: 1 KB"), "{doc}");
    assert!(too_large("/api/ml/datasets").contains("max_upload_mb"), "{doc}");
    assert!(too_large("/api/ml/datasets").contains("on this server: 1 MB"), "{doc}");
    assert!(doc["paths"]["/api/ml/evaluations"]["post"]["responses"]["403"].is_object(), "{doc}");
    let upload = &doc["paths"]["/api/ml/datasets"]["post"];
    assert!(upload["requestBody"]["content"]["text/csv"].is_object(), "{doc}");
    assert_eq!(upload["parameters"][0]["name"], "label");
    assert_eq!(upload["parameters"][0]["in"], "query", "{doc}");
}
