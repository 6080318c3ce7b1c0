//! The FastAPI error contract on every route the OpenAPI document lists:
//! a malformed path id, a malformed or empty JSON body, a wrong content
//! type, a bad query value and a missing token are each answered with JSON
//! whose `detail` is a list of `{loc, msg, type}` for a 422 (a string
//! otherwise), with a status the document lists for that route; never
//! plain text, never a 5xx. The routes are read from `/openapi.json`, so a
//! new route is walked without touching this file. Also: unknown routes,
//! wrong methods, a body over the limit, the token form, and `/redoc`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::common::{Reply, TestApp, app_with_staff_and, token};

/// What a route's operation in the document says about its inputs.
struct Operation {
    method: &'static str,
    template: String,
    doc: Value,
}

impl Operation {
    fn params(&self, place: &str) -> Vec<Value> {
        self.doc["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == place)
            .cloned()
            .collect()
    }

    fn secured(&self) -> bool {
        self.doc["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    }

    fn body_type(&self) -> Option<String> {
        self.doc["requestBody"]["content"]
            .as_object()
            .and_then(|c| c.keys().next().cloned())
    }

    /// The path with every parameter set to `value`.
    fn path_with(&self, value: &str) -> String {
        let mut path = self.template.clone();
        for p in self.params("path") {
            let name = p["name"].as_str().unwrap();
            path = path.replace(&format!("{{{name}}}"), value);
        }
        path
    }

    fn documents(&self, status: u16) -> bool {
        self.doc["responses"].get(status.to_string()).is_some()
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut all = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(op) = item.get(method) {
                all.push(Operation {
                    method: match method {
                        "get" => "GET",
                        "post" => "POST",
                        "put" => "PUT",
                        "patch" => "PATCH",
                        _ => "DELETE",
                    },
                    template: template.clone(),
                    doc: op.clone(),
                });
            }
        }
    }
    all
}

/// The schema `$ref` points at, or the schema itself.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

/// The required top-level fields of a JSON body's schema (through `$ref`
/// and `allOf`; the alternatives of a `oneOf` are not certain).
fn required_fields(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut names: Vec<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(required_fields(doc, part));
    }
    names
}

/// A query value the parameter's schema refuses, if its type has one.
fn bad_query_value(doc: &Value, param: &Value) -> Option<&'static str> {
    let schema = resolve(doc, &param["schema"]);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.iter().any(|t| matches!(*t, "integer" | "number")) {
        Some("not-a-number")
    } else if types.contains(&"boolean") {
        Some("maybe")
    } else if schema["enum"].is_array() {
        Some("NOT_ONE_OF_THEM")
    } else {
        None
    }
}

/// Asserts the contract on one answer: a JSON error body with `detail`
/// (for a 422, a list of `{loc, msg, type}`), a status the route lists,
/// no 5xx. Returns the `detail`.
fn assert_contract(op: &Operation, case: &str, r: &Reply) -> Value {
    let what = format!("{} ({case}) answered {}: {}", op.name(), r.status, r.body);
    assert!(r.status < 500, "{what}");
    assert!((400..500).contains(&r.status), "expected an error: {what}");
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "not JSON ({ct}): {what}"
    );
    assert!(op.documents(r.status), "status not in the document: {what}");
    let detail = r.json()["detail"].clone();
    if r.status == 422 {
        let list = detail.as_array().unwrap_or_else(|| panic!("{what}"));
        assert!(!list.is_empty(), "{what}");
        for e in list {
            assert!(
                e["loc"].as_array().is_some_and(|l| !l.is_empty())
                    && e["msg"].is_string()
                    && e["type"].is_string(),
                "{what}"
            );
        }
    } else {
        assert!(detail.is_string(), "{what}");
    }
    detail
}

fn locs(detail: &Value) -> Vec<Value> {
    detail
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["loc"].clone())
        .collect()
}

async fn send(
    app: &TestApp,
    op: &Operation,
    path: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    if let Some(ct) = content_type {
        headers.push(("Content-Type", ct));
    }
    app.request(op.method, path, &headers, body).await
}

/// Every route of the document, with every kind of bad input.
async fn every_route_answers_bad_input_with_the_json_contract(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    let doc = app.get("/openapi.json", None).await.json();
    let ops = operations(&doc);
    assert!(ops.len() > 20, "the document lists {} routes", ops.len());
    let mut checked = 0;
    for op in &ops {
        for (code, answer) in op.doc["responses"].as_object().unwrap() {
            assert!(
                answer["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{} lists {code} without a description",
                op.name()
            );
        }
        // Signing out would end the walk's own session.
        if op.template.ends_with("/logout") {
            continue;
        }
        let path_params = op.params("path");
        let ok_path = op.path_with("1");

        // A path id that is not one: 422 at ["path", name] for a number.
        if !path_params.is_empty() {
            for bad in ["abc", "99999999999999999999", "1.5"] {
                let r = send(&app, op, &op.path_with(bad), Some(&admin), None, "").await;
                let detail = assert_contract(op, &format!("path {bad}"), &r);
                for p in &path_params {
                    if resolve(&doc, &p["schema"])["type"] == "integer" {
                        assert_eq!(r.status, 422, "{} with {bad}: {}", op.name(), r.body);
                        let name = p["name"].as_str().unwrap();
                        assert!(
                            locs(&detail).contains(&json!(["path", name])),
                            "{} with {bad}: {detail}",
                            op.name()
                        );
                    }
                }
                checked += 1;
            }
        }

        // Bodies: broken JSON, an empty object (every required field
        // listed), the wrong content type, no body at all.
        if let Some(ct) = op.body_type() {
            let schema = &op.doc["requestBody"]["content"][&ct]["schema"];
            let required = required_fields(&doc, schema);
            let cases: Vec<(&str, &str, &str)> = match ct.as_str() {
                "application/json" => vec![
                    ("malformed JSON", "application/json", "{\"broken"),
                    ("empty object", "application/json", "{}"),
                    ("a string", "application/json", "\"just a string\""),
                    ("wrong content type", "text/plain", "hello"),
                    ("no body", "application/json", ""),
                ],
                "application/x-www-form-urlencoded" => vec![
                    ("empty form", "application/x-www-form-urlencoded", ""),
                    ("JSON for a form", "application/json", "{}"),
                ],
                _ => vec![
                    ("not multipart", "text/plain", "hello"),
                    (
                        "broken multipart",
                        "multipart/form-data; boundary=XYZ",
                        "--XYZ\r\nbroken",
                    ),
                ],
            };
            for (case, content_type, body) in cases {
                // An empty object or form is good input where nothing is
                // required (and would change something).
                if required.is_empty() && case.starts_with("empty") {
                    continue;
                }
                // So is none at all where the body is optional.
                if case == "no body" && op.doc["requestBody"]["required"] != true {
                    continue;
                }
                let r = send(&app, op, &ok_path, Some(&admin), Some(content_type), body).await;
                let detail = assert_contract(op, case, &r);
                if case.starts_with("empty") {
                    for name in &required {
                        assert!(
                            detail.as_array().unwrap().iter().any(|e| e["loc"]
                                == json!(["body", name])
                                && e["type"] == "missing"),
                            "{} ({case}) does not list {name} as missing: {detail}",
                            op.name()
                        );
                    }
                }
                checked += 1;
            }
        }

        // A query value of the wrong type: 422 at ["query", name]. Only on
        // reads, so a route that changes something never runs.
        if op.method == "GET" {
            for p in op.params("query") {
                let Some(bad) = bad_query_value(&doc, &p) else {
                    continue;
                };
                let name = p["name"].as_str().unwrap();
                let path = format!("{ok_path}?{name}={bad}");
                let r = send(&app, op, &path, Some(&admin), None, "").await;
                assert_eq!(r.status, 422, "{} ?{name}={bad}: {}", op.name(), r.body);
                let detail = assert_contract(op, &format!("query {name}"), &r);
                assert!(
                    locs(&detail).contains(&json!(["query", name])),
                    "{} ?{name}={bad}: {detail}",
                    op.name()
                );
                checked += 1;
            }
        }

        // No token where one is needed: 401, listed.
        if op.secured() {
            let r = send(&app, op, &ok_path, None, None, "").await;
            assert_eq!(r.status, 401, "{}: {}", op.name(), r.body);
            assert_contract(op, "no token", &r);
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} cases were walked");

    // A NUL character, which PostgreSQL cannot store (a 500 there once):
    // a 422 naming the field, on both stores.
    let r = app
        .request(
            "POST",
            "/api/v1/auth/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "username=a%00b&password=x",
        )
        .await;
    assert_eq!(
        locs(&assert_json_error(&r, 422)),
        vec![json!(["body", "username"])]
    );
    let r = app
        .post_json(
            "/api/v1/branches",
            Some(&admin),
            &json!({"code": "N\u{0}L", "name": "Nul", "city": "Bogotá"}),
        )
        .await;
    assert_eq!(
        locs(&assert_json_error(&r, 422)),
        vec![json!(["body", "code"])]
    );
    let r = app.get("/api/v1/track/PQ%00", None).await;
    assert_eq!(
        locs(&assert_json_error(&r, 422)),
        vec![json!(["path", "code"])]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_bad_input_with_the_json_contract_on_sqlite() {
    let (app, _) = app_with_staff_and(&[]).await;
    every_route_answers_bad_input_with_the_json_contract(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_bad_input_with_the_json_contract_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, _) = app_with_staff_and(&[
        ("DATABASE_URL", pg.url.clone()),
        (
            "APP_SECRET_KEY",
            "contract-test-secret-0123456789abcdef".to_owned(),
        ),
    ])
    .await;
    every_route_answers_bad_input_with_the_json_contract(app).await;
    pg.drop_now().await;
}

fn assert_json_error(r: &Reply, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{ct}: {}", r.body);
    r.json()["detail"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_wrong_methods_and_big_bodies_answer_json() {
    let (app, _) = app_with_staff_and(&[]).await;
    let admin = token(&app, "admin@example.com").await;
    let auth = format!("Bearer {admin}");

    for path in [
        "/api/v1/nothing-here",
        "/nothing",
        "/api/v1/parcels/1/nothing",
    ] {
        let detail = assert_json_error(&app.get(path, Some(&admin)).await, 404);
        assert_eq!(detail, "Not Found", "{path}");
    }

    // A route that exists, a method it does not serve: 405 with Allow.
    let r = app
        .request("PUT", "/api/v1/parcels", &[("Authorization", &auth)], "")
        .await;
    assert_eq!(assert_json_error(&r, 405), "Method Not Allowed");
    let allow = r.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");

    // Over the body limit (2 MB by default): 413, JSON.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let r = app
        .request(
            "POST",
            "/api/v1/parcels",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &big,
        )
        .await;
    assert!(assert_json_error(&r, 413).is_string());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_form_lists_every_missing_field_as_json() {
    let (app, _) = app_with_staff_and(&[]).await;
    let form = "application/x-www-form-urlencoded";
    let r = app
        .request("POST", "/api/v1/auth/token", &[("Content-Type", form)], "")
        .await;
    let detail = assert_json_error(&r, 422);
    assert_eq!(
        locs(&detail),
        vec![json!(["body", "username"]), json!(["body", "password"])],
        "{detail}"
    );
    assert!(
        detail
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "missing"),
        "{detail}"
    );

    let r = app
        .request(
            "POST",
            "/api/v1/auth/token",
            &[("Content-Type", form)],
            "username=admin%40example.com",
        )
        .await;
    assert_eq!(
        locs(&assert_json_error(&r, 422)),
        vec![json!(["body", "password"])]
    );

    let r = app
        .request(
            "POST",
            "/api/v1/auth/token",
            &[("Content-Type", "application/json")],
            r#"{"username": "a", "password": "b"}"#,
        )
        .await;
    assert_eq!(locs(&assert_json_error(&r, 422)), vec![json!(["body"])]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcel_body_lists_every_missing_and_mistyped_field() {
    let (app, _) = app_with_staff_and(&[]).await;
    let admin = token(&app, "admin@example.com").await;
    let r = app
        .post_json(
            "/api/v1/parcels",
            Some(&admin),
            &json!({"sender": {"name": "Ana"}, "weight_grams": "heavy"}),
        )
        .await;
    let detail = assert_json_error(&r, 422);
    let got = locs(&detail);
    for want in [
        json!(["body", "sender", "phone"]),
        json!(["body", "recipient"]),
        json!(["body", "origin_branch_id"]),
        json!(["body", "destination_branch_id"]),
        json!(["body", "service"]),
        json!(["body", "package_type"]),
        json!(["body", "zone"]),
        json!(["body", "weight_grams"]),
    ] {
        assert!(got.contains(&want), "{want} not in {detail}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redoc_is_served_from_the_app_itself() {
    let (app, _) = app_with_staff_and(&[]).await;
    let page = app.get("/redoc", None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{}",
        page.head
    );
    let script = paqueteria_app::redoc::SCRIPT_PATH;
    assert!(
        page.body.contains(&format!("src=\"{script}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("spec-url=\"/openapi.json\""));
    // Nothing from elsewhere: the page works offline.
    assert!(!page.body.contains("http://") && !page.body.contains("https://"));

    let (status, head, js) = app.get_bytes(script, "").await;
    assert_eq!(status, 200, "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(head.contains("max-age=31536000"), "{head}");
    assert!(js.starts_with(b"/*! For license information please see"));
    assert!(js.len() > 500_000);

    let licence = app.get(paqueteria_app::redoc::LICENSE_PATH, None).await;
    assert_eq!(licence.status, 200);
    app.stop().await;
}

/// Every `$ref` of the OpenAPI document names a schema the document holds
/// (a generated client, or a fuzzer, fails on the first that does not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reference_of_the_openapi_document_resolves() {
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let (app, _) = app_with_staff_and(&[]).await;
    let doc = app.get("/openapi.json", None).await.json();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20, "{found:?}");
    let schemas = &doc["components"]["schemas"];
    let missing: Vec<&str> = found
        .into_iter()
        .filter(|r| {
            r.strip_prefix("#/components/schemas/")
                .is_none_or(|name| schemas.get(name).is_none())
        })
        .collect();
    assert!(missing.is_empty(), "unresolved: {missing:?}");
    app.stop().await;
}
