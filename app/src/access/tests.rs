//! Request ids and the access log on a small router: what the layers do
//! to the headers, what the extractor sees, and the log lines they write,
//! read back from a subscriber of this test's own.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tower::ServiceExt;

use super::*;

/// Logs a line of its own, and answers the id the extractor saw.
async fn show(id: RequestId) -> String {
    tracing::info!("inside the handler");
    id.as_deref().unwrap_or("none").to_owned()
}

fn app() -> Router {
    observe(
        Router::new()
            .route("/parcels/{id}", get(show))
            .fallback(|| async { StatusCode::NOT_FOUND }),
    )
}

/// Held by every test that sends a request. tracing caches, per log
/// statement, whether any subscriber wants it: a statement first reached
/// by a test without one while the capturing test installs its own can
/// stay cached as "nobody", and the capturing test reads nothing.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sends `req` to the app: status, `X-Request-Id` of the answer, body.
async fn send(req: Request<Body>) -> (StatusCode, Option<String>, String) {
    let _one = ONE_AT_A_TIME.lock().await;
    serve(req).await
}

/// [`send`], for a test that holds [`ONE_AT_A_TIME`] already.
async fn serve(req: Request<Body>) -> (StatusCode, Option<String>, String) {
    let res = app().oneshot(req).await.unwrap();
    let status = res.status();
    let id = res
        .headers()
        .get(X_REQUEST_ID)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, id, String::from_utf8(body.to_vec()).unwrap())
}

fn get_with(path: &str, ids: &[&str]) -> Request<Body> {
    let mut req = Request::get(path);
    for id in ids {
        req = req.header("x-request-id", *id);
    }
    req.body(Body::empty()).unwrap()
}

fn is_fresh_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7)
}

#[test]
fn only_short_tokens_of_letters_digits_dots_dashes_and_underscores_are_sane() {
    for ok in ["a", "req-1", "0198c0de-7a1b.7c3e_9f00", &"x".repeat(64)] {
        assert!(is_sane(ok.as_bytes()), "{ok}");
    }
    for bad in [
        "",
        &"x".repeat(65),
        "a b",
        "a\nb",
        "a\"b",
        "{a}",
        "a/b",
        "ñ",
        "a=b;c",
    ] {
        assert!(!is_sane(bad.as_bytes()), "{bad:?}");
    }
}

#[tokio::test]
async fn a_request_without_an_id_gets_a_fresh_one_that_its_handler_sees_too() {
    let (status, id, body) = send(get_with("/parcels/7", &[])).await;
    assert_eq!(status, StatusCode::OK);
    let id = id.expect("X-Request-Id on the answer");
    assert!(is_fresh_uuid(&id), "{id}");
    assert_eq!(body, id, "the extractor sees the id the answer carries");
}

#[tokio::test]
async fn a_sane_incoming_id_is_kept_and_echoed() {
    let (_, id, body) = send(get_with("/parcels/7", &["edge-proxy.42_a"])).await;
    assert_eq!(id.as_deref(), Some("edge-proxy.42_a"));
    assert_eq!(body, "edge-proxy.42_a");
}

#[tokio::test]
async fn an_unsafe_incoming_id_is_replaced_by_a_fresh_one() {
    let long = "x".repeat(65);
    for given in [
        vec![long.as_str()],
        vec!["evil\" injected=1"],
        vec!["a/../b"],
        vec!["one", "two"],
    ] {
        let (_, id, body) = send(get_with("/parcels/7", &given)).await;
        let id = id.unwrap();
        assert!(is_fresh_uuid(&id), "{given:?} gave {id}");
        assert_eq!(body, id);
    }
}

#[tokio::test]
async fn an_answer_of_no_route_carries_an_id_too() {
    let (status, id, _) = send(get_with("/nowhere", &["lost-1"])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(id.as_deref(), Some("lost-1"));
}

/// A writer into a buffer the test reads.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn each_request_writes_one_access_line_by_route_template_and_no_secrets() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(move || writer.clone())
        .finish();
    let _one = ONE_AT_A_TIME.lock().await;
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let req = Request::get("/parcels/4242?token=s3cr3t-query")
        .header("x-request-id", "req-77")
        .header("authorization", "Bearer s3cr3t-bearer")
        .header("cookie", "session=s3cr3t-cookie")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = serve(req).await;
    assert_eq!(status, StatusCode::OK);
    serve(get_with("/nowhere", &["req-78"])).await;

    let lines = out.lines();
    let access: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["target"] == "access").collect();
    assert_eq!(access.len(), 2, "one line per request: {lines:#?}");
    let f = &access[0]["fields"];
    assert_eq!(f["method"], "GET");
    assert_eq!(f["route"], "/parcels/{id}", "the template, not the path");
    assert_eq!(f["status"], 200);
    assert_eq!(f["request_id"], "req-77");
    assert!(f["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{f}");
    let f = &access[1]["fields"];
    assert_eq!(
        (&f["route"], &f["status"], &f["request_id"]),
        (&"unmatched".into(), &404.into(), &"req-78".into())
    );

    // The handler's own line carries the request's id through its span.
    let inside = lines
        .iter()
        .find(|l| l["fields"]["message"] == "inside the handler")
        .expect("the handler's line");
    assert_eq!(inside["span"]["request_id"], "req-77", "{inside}");
    assert_eq!(inside["span"]["route"], "/parcels/{id}", "{inside}");

    let all = lines
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for secret in ["s3cr3t", "4242", "token="] {
        assert!(!all.contains(secret), "{secret} logged:\n{all}");
    }
}
