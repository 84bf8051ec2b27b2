//! `GET /api/ml/evaluations/{id}/compare` on the router, over a run
//! written through the Store API.

use super::{call, test_app};
use crate::service::compare::tests::run;
use crate::store::Store;

#[tokio::test]
async fn router_compare_answers_the_report_and_problems() {
    let t = test_app("");
    let id = {
        let mut store = Store::open(&t.database).unwrap();
        run(
            &mut store,
            &[("good", |r| r % 10 != 0), ("bad", |r| r % 3 == 0), ("mid", |r| r % 5 != 0)],
            None,
        )
    };
    let uri = format!("/api/ml/evaluations/{id}/compare?metric=accuracy&alpha=0.1");
    let a = call(&t.app, "GET", &uri, None, None).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    let body = a.json();
    assert_eq!(
        (body["reference"].as_str(), body["correction"].as_str()),
        (Some("good"), Some("holm"))
    );
    assert_eq!(body["alpha"], 0.1);
    let c = &body["comparisons"][0];
    for key in [
        "model",
        "meanDiff",
        "ciLow",
        "ciHigh",
        "tStat",
        "pValue",
        "wilcoxonP",
        "mcnemarP",
        "significant",
        "bootstrapLow",
        "bootstrapHigh",
    ] {
        assert!(!c[key].is_null(), "{key} in {c}");
    }
    let bad = |q: &str| format!("/api/ml/evaluations/{id}/compare?{q}");
    call(&t.app, "GET", &bad("metric=r2"), None, None).await.assert_problem(422, "invalid-compare");
    call(&t.app, "GET", &bad("metric=accuracy&reference=x"), None, None)
        .await
        .assert_problem(422, "invalid-compare");
    call(&t.app, "GET", &bad("metric=accuracy&alpha=2"), None, None)
        .await
        .assert_problem(422, "invalid-compare");
    call(&t.app, "GET", &bad("colour=red"), None, None).await.assert_problem(400, "bad-request");
    let none = call(&t.app, "GET", "/api/ml/evaluations/nope/compare", None, None).await;
    none.assert_problem(404, "not-found");
}
