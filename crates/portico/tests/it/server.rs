//! The server's front door: health, readiness, metrics, headers, pages.

use crate::harness::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = match app.store().backend() {
        portico::store::Backend::Sqlite => "SQLite",
        portico::store::Backend::Postgres => "PostgreSQL",
    };
    assert_eq!(body["database"], expected);
}

#[tokio::test]
async fn readyz_says_unavailable_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.store().close().await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "unavailable"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_front_page_is_a_page_a_person_can_read() {
    let app = TestApp::spawn().await;
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Your practice and its clients, in one secure place</h1>"));
    assert!(html.contains("href=\"/app\""));
    assert!(html.contains("href=\"/portal\""));
    assert!(html.contains("/static/portico.css"));

    let css = app.get("/static/portico.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains(":root"));
}

#[tokio::test]
async fn unknown_paths_get_a_not_found_page() {
    let app = TestApp::spawn().await;
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("We could not find that page")
    );
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    for path in ["/", "/healthz", "/no/such/page", "/static/portico.css"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        let id = headers["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{path}: {id}");
    }
    // A request id given by a proxy in front is kept.
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "proxy-given-id")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "proxy-given-id");
}

#[tokio::test]
async fn metrics_count_requests_by_route_not_by_raw_path() {
    let token = "metrics-token-of-this-test";
    let app = TestApp::spawn_with_metrics(token).await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    app.get("/no/such/page/123").await;
    let (status, text) = app.metrics(token).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            r#"portico_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"portico_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(!text.contains("/no/such/page/123"));
    assert!(text.contains("portico_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn a_stopped_server_stops_answering() {
    let app = TestApp::spawn().await;
    let url = app.url("/healthz");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.stop().await;
    assert!(reqwest::get(url).await.is_err());
}
