//! Request extractors that answer bad input as FastAPI does: a 422 whose
//! `detail` lists every invalid field, each with its `loc`, `msg` and
//! `type`, instead of axum's plain-text 400, 415 and 422 rejections.
//!
//! | extractor | reads | `loc` starts with |
//! |---|---|---|
//! | [`ValidJson`] | a JSON body | `body` |
//! | [`ValidForm`] | an `application/x-www-form-urlencoded` body | `body` |
//! | [`ValidQuery`] | the query string | `query` |
//! | [`ValidPath`] | the path parameters | `path` |
//!
//! serde stops at the first error, so on its own it names one field. When
//! serde refuses an input, the extractor also checks the input against the
//! type's OpenAPI schema, the one clients read in `/openapi.json`: every
//! required field that is missing, and every value of the wrong type or
//! outside its enum, at any depth the schema describes. serde stays the
//! judge of what is valid (the schema is consulted only after serde said
//! no, so a schema looser or stricter than the type never refuses a good
//! request); the schema only completes the list. A body that is not JSON
//! at all, or of the wrong content type, is one error at `["body"]`; a body
//! over the size limit is a 413. Text holding a NUL character, which
//! PostgreSQL cannot store (it answered 500 there), is refused at its field
//! on both stores, in bodies, forms, queries and paths alike.

use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, Object, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, Required};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, FieldError};

/// At most this many entries in one 422, however broken the input.
const MAX_ERRORS: usize = 50;

/// How deep the schema check follows nested objects and lists.
const MAX_DEPTH: usize = 32;

/// `type` of a required field that is absent.
const MISSING: &str = "missing";
/// `type` of a field the type does not have (`deny_unknown_fields`).
const EXTRA: &str = "extra_forbidden";
/// `type` of a body that does not parse as JSON.
const JSON_INVALID: &str = "json_invalid";
/// `type` of a value that is present but wrong.
const VALUE: &str = "value_error";

/// A JSON body decoded into `T`; a bad body is a 422 listing every invalid
/// field with its path (`["body", "sender", "phone"]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + ToSchema,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_content_type(&req, "application/json") {
            return Err(one(
                "body",
                "expected a JSON body (Content-Type: application/json)",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        decode_json(&bytes)
            .map(ValidJson)
            .map_err(ApiError::Validation)
    }
}

/// `T` from JSON text, or every invalid field: serde's error (read from the
/// text, so it is the first in the client's order), then what the schema
/// check of the parsed body adds.
fn decode_json<T: DeserializeOwned + ToSchema>(bytes: &[u8]) -> Result<T, Vec<FieldError>> {
    let invalid = |e: &serde_json::Error| FieldError {
        loc: vec!["body".to_owned()],
        msg: format!("not valid JSON: {}", strip_position(&e.to_string())),
        kind: JSON_INVALID,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![FieldError {
            loc: vec!["body".to_owned()],
            msg: "a JSON body is required".to_owned(),
            kind: MISSING,
        }]);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let e = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => {
            de.end().map_err(|e| vec![invalid(&e)])?;
            // A NUL can only come escaped; look closer only then.
            let escaped_nul = bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
            if escaped_nul && let Ok(value) = serde_json::from_slice::<Value>(bytes) {
                let mut check = SchemaCheck::default();
                check.nuls(&value, &mut vec!["body".to_owned()]);
                if !check.found.is_empty() {
                    return Err(check.found);
                }
            }
            return Ok(v);
        }
        Err(e) => e,
    };
    if e.inner().is_syntax() || e.inner().is_eof() {
        return Err(vec![invalid(e.inner())]);
    }
    let first = serde_error("body", e.path(), &e.inner().to_string());
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        // Broken further on: serde's error is all there is to say.
        return Err(vec![first]);
    };
    let mut check = SchemaCheck::of::<T>(false);
    check.walk(&value, &T::schema(), &mut vec!["body".to_owned()], 0);
    check.nuls(&value, &mut vec!["body".to_owned()]);
    Err(check.into_list(first))
}

/// `T` from form or query pairs (`raw`, urlencoded), or every invalid
/// field at `[source, name]`; `check` knows the schemas, `schema` is the
/// one of `T`.
fn decode_pairs<T: DeserializeOwned>(
    source: &str,
    raw: &[u8],
    mut check: SchemaCheck,
    schema: impl FnOnce() -> RefOr<Schema>,
) -> Result<T, Vec<FieldError>> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw));
    let decoded = serde_path_to_error::deserialize::<_, T>(de);
    let nul = raw.contains(&0) || raw.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"));
    match decoded {
        Ok(v) if !nul => Ok(v),
        Ok(v) => {
            check.nuls(&pairs(raw), &mut vec![source.to_owned()]);
            if check.found.is_empty() {
                Ok(v)
            } else {
                Err(check.found)
            }
        }
        Err(e) => {
            let first = serde_error(source, e.path(), &e.inner().to_string());
            let value = pairs(raw);
            check.walk(&value, &schema(), &mut vec![source.to_owned()], 0);
            check.nuls(&value, &mut vec![source.to_owned()]);
            Err(check.into_list(first))
        }
    }
}

/// An `application/x-www-form-urlencoded` body decoded into `T` (the OAuth2
/// token form); a bad form is a 422 listing every missing or invalid field
/// at `["body", name]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidForm<T>(pub T);

impl<S, T> FromRequest<S> for ValidForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + ToSchema,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_content_type(&req, "application/x-www-form-urlencoded") {
            return Err(one(
                "body",
                "expected a form (Content-Type: application/x-www-form-urlencoded)",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        decode_pairs("body", &bytes, SchemaCheck::of::<T>(true), T::schema)
            .map(ValidForm)
            .map_err(ApiError::Validation)
    }
}

/// Query parameters decoded into `T`; bad ones are a 422 listing each at
/// `["query", name]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + IntoParams,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        let check = SchemaCheck {
            text: true,
            ..SchemaCheck::default()
        };
        decode_pairs("query", raw.as_bytes(), check, || {
            params_schema(T::into_params(|| Some(ParameterIn::Query)))
        })
        .map(ValidQuery)
        .map_err(ApiError::Validation)
    }
}

/// Path parameters decoded into `T` (`ValidPath(id): ValidPath<i64>`); a
/// bad one (`/api/v1/parcels/abc`) is a 422 at `["path", name]` instead of
/// axum's plain-text 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => {
                // As in bodies: no NUL reaches a store.
                if parts.uri.path().contains("%00") {
                    let raw = RawPathParams::from_request_parts(parts, state).await;
                    if let Some((key, _)) = raw
                        .iter()
                        .flat_map(|r| r.iter())
                        .find(|(_, v)| v.contains('\0'))
                    {
                        return Err(ApiError::Validation(vec![FieldError {
                            loc: vec!["path".to_owned(), key.to_owned()],
                            msg: "must not contain the NUL character".to_owned(),
                            kind: VALUE,
                        }]));
                    }
                }
                Ok(ValidPath(v))
            }
            Err(rejection) => {
                let names: Vec<(String, String)> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|raw| {
                        raw.iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                Err(path_error(rejection, &names))
            }
        }
    }
}

/// The 422 (or, for a route whose parameters do not fit its extractor, a
/// programming error, the 500) for a path that did not decode.
fn path_error(
    rejection: axum::extract::rejection::PathRejection,
    names: &[(String, String)],
) -> ApiError {
    use axum::extract::path::ErrorKind;
    use axum::extract::rejection::PathRejection;
    let PathRejection::FailedToDeserializePathParams(e) = rejection else {
        return ApiError::Internal(format!("path parameters: {rejection}"));
    };
    // The parameter whose raw value is `value`: a lone parameter has no key
    // in axum's error.
    let named = |value: &str| {
        names
            .iter()
            .find(|(_, v)| v == value)
            .or(names.first().filter(|_| names.len() == 1))
            .map_or_else(|| "?".to_owned(), |(k, _)| k.clone())
    };
    let (key, msg) = match e.kind() {
        ErrorKind::ParseErrorAtKey {
            key, expected_type, ..
        } => (key.clone(), expected(expected_type)),
        ErrorKind::ParseErrorAtIndex {
            index,
            expected_type,
            ..
        } => (
            names
                .get(*index)
                .map_or_else(|| index.to_string(), |(k, _)| k.clone()),
            expected(expected_type),
        ),
        ErrorKind::ParseError {
            value,
            expected_type,
        } => (named(value), expected(expected_type)),
        ErrorKind::InvalidUtf8InPathParam { key } => {
            (key.clone(), "is not valid UTF-8 once decoded".to_owned())
        }
        ErrorKind::DeserializeError { key, message, .. } => (key.clone(), message.clone()),
        _ => return ApiError::Internal(format!("path parameters: {e}")),
    };
    ApiError::Validation(vec![FieldError {
        loc: vec!["path".to_owned(), key],
        msg,
        kind: VALUE,
    }])
}

/// What a path parameter of `ty` (a Rust type name) must look like.
fn expected(ty: &str) -> String {
    let range = |lo: i128, hi: i128| format!("must be a whole number from {lo} to {hi}");
    match ty {
        "i64" => range(i64::MIN.into(), i64::MAX.into()),
        "i32" => range(i32::MIN.into(), i32::MAX.into()),
        "u64" => range(0, u64::MAX.into()),
        "u32" => range(0, u32::MAX.into()),
        "u16" => range(0, u16::MAX.into()),
        "usize" => range(0, u64::MAX.into()),
        "bool" => "must be true or false".to_owned(),
        other => format!("must be a valid {other}"),
    }
}

/// Whether the request says its body is `mime`.
fn has_content_type(req: &Request, mime: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
}

/// The whole body, within the route's body limit (a 413 past it).
async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge("the request body is larger than this route accepts".to_owned())
            } else {
                one("body", e.body_text())
            }
        })
}

/// A 422 with one entry at `[source]`.
fn one(source: &str, msg: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError {
        loc: vec![source.to_owned()],
        msg: msg.into(),
        kind: VALUE,
    }])
}

/// Form or query pairs as a JSON object of strings (the last value of a
/// repeated name wins), for the schema check.
fn pairs(raw: &[u8]) -> Value {
    Value::Object(
        form_urlencoded::parse(raw)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
    )
}

/// serde's error as a field error: where (`source`, then serde's path, then
/// the field a missing or unknown-field error names), what, and its kind.
fn serde_error(source: &str, path: &serde_path_to_error::Path, msg: &str) -> FieldError {
    use serde_path_to_error::Segment;
    let mut loc = vec![source.to_owned()];
    for segment in path {
        match segment {
            Segment::Map { key } => loc.push(key.clone()),
            Segment::Seq { index } => loc.push(index.to_string()),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let quoted = || msg.split('`').nth(1).map(str::to_owned);
    let (kind, name) = if msg.starts_with("missing field") {
        (MISSING, quoted())
    } else if msg.starts_with("unknown field") {
        (EXTRA, quoted())
    } else {
        (VALUE, None)
    };
    if let Some(name) = name
        && loc.last() != Some(&name)
    {
        loc.push(name);
    }
    FieldError {
        loc,
        msg: if kind == MISSING {
            "field required".to_owned()
        } else {
            strip_position(msg)
        },
        kind,
    }
}

/// serde_json ends messages with " at line 1 column 42": noise for a client.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The query parameters of an `IntoParams` type as one object schema.
fn params_schema(params: Vec<Parameter>) -> RefOr<Schema> {
    let mut object = Object::new();
    for p in params {
        if matches!(p.required, Required::True) {
            object.required.push(p.name.clone());
        }
        if let Some(schema) = p.schema {
            object.properties.insert(p.name, schema);
        }
    }
    RefOr::T(Schema::Object(object))
}

/// The walk of an input against a schema, collecting what is missing or
/// of the wrong type.
#[derive(Default)]
struct SchemaCheck {
    /// The named schemas `$ref`s point at.
    defs: std::collections::HashMap<String, RefOr<Schema>>,
    /// Scalars arrive as text (forms, queries) and are parsed, not typed.
    text: bool,
    found: Vec<FieldError>,
}

impl SchemaCheck {
    /// A check of `T` with the schemas it refers to.
    fn of<T: ToSchema>(text: bool) -> Self {
        let mut named = Vec::new();
        T::schemas(&mut named);
        Self {
            defs: named.into_iter().collect(),
            text,
            found: Vec::new(),
        }
    }

    /// serde's error first (it is certain), then what the schema adds at
    /// other places.
    fn into_list(self, first: FieldError) -> Vec<FieldError> {
        let mut all = vec![first];
        for e in self.found {
            if !all.iter().any(|a| a.loc == e.loc) {
                all.push(e);
            }
        }
        all
    }

    fn push(&mut self, loc: &[String], msg: String, kind: &'static str) {
        if self.found.len() < MAX_ERRORS {
            self.found.push(FieldError {
                loc: loc.to_vec(),
                msg,
                kind,
            });
        }
    }

    /// Every text holding a NUL character: PostgreSQL cannot store one, so
    /// it is refused on both stores, before any database work.
    fn nuls(&mut self, value: &Value, loc: &mut Vec<String>) {
        match value {
            Value::String(s) if s.contains('\0') => self.push(
                loc,
                "must not contain the NUL character (\\u0000)".to_owned(),
                VALUE,
            ),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    loc.push(i.to_string());
                    self.nuls(v, loc);
                    loc.pop();
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    loc.push(k.clone());
                    self.nuls(v, loc);
                    loc.pop();
                }
            }
            _ => {}
        }
    }

    fn walk(&mut self, value: &Value, schema: &RefOr<Schema>, loc: &mut Vec<String>, depth: usize) {
        if depth > MAX_DEPTH || self.found.len() >= MAX_ERRORS {
            return;
        }
        match schema {
            RefOr::Ref(r) => {
                let name = r.ref_location.rsplit('/').next().unwrap_or_default();
                if let Some(target) = self.defs.get(name).cloned() {
                    self.walk(value, &target, loc, depth + 1);
                }
            }
            RefOr::T(Schema::Object(o)) => self.object(value, o, loc, depth),
            RefOr::T(Schema::AllOf(all)) => {
                for item in &all.items {
                    self.walk(value, item, loc, depth + 1);
                }
            }
            RefOr::T(Schema::Array(a)) => match value {
                Value::Array(items) => {
                    if let ArrayItems::RefOrSchema(item) = &a.items {
                        for (i, v) in items.iter().enumerate() {
                            loc.push(i.to_string());
                            self.walk(v, item, loc, depth + 1);
                            loc.pop();
                        }
                    }
                }
                Value::Null if allows(&a.schema_type, Type::Null) => {}
                _ if !self.text => self.push(loc, "must be a list".to_owned(), VALUE),
                _ => {}
            },
            // Which alternative was meant is serde's call.
            _ => {}
        }
    }

    fn object(&mut self, value: &Value, o: &Object, loc: &mut Vec<String>, depth: usize) {
        if value.is_null() && allows(&o.schema_type, Type::Null) {
            return;
        }
        let is_object = !o.properties.is_empty()
            || !o.required.is_empty()
            || matches!(&o.schema_type, SchemaType::Type(Type::Object));
        if is_object {
            let Value::Object(map) = value else {
                self.push(loc, "must be an object".to_owned(), VALUE);
                return;
            };
            for name in &o.required {
                if !map.contains_key(name) {
                    loc.push(name.clone());
                    self.push(loc, "field required".to_owned(), MISSING);
                    loc.pop();
                }
            }
            for (name, sub) in &o.properties {
                if let Some(v) = map.get(name) {
                    loc.push(name.clone());
                    self.walk(v, sub, loc, depth + 1);
                    loc.pop();
                }
            }
            return;
        }
        if let Some(expected) = self.scalar_mismatch(value, &o.schema_type) {
            self.push(loc, expected, VALUE);
        } else if let Some(allowed) = &o.enum_values {
            let as_text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let matches = allowed
                .iter()
                .any(|a| a == value || (self.text && as_text(a) == as_text(value)));
            if !matches && !value.is_null() {
                let names: Vec<String> = allowed.iter().map(as_text).collect();
                self.push(loc, format!("must be one of: {}", names.join(", ")), VALUE);
            }
        }
    }

    /// What the value should have been, when its type is not one the schema
    /// allows; `None` when it fits (or the schema says nothing).
    fn scalar_mismatch(&self, value: &Value, ty: &SchemaType) -> Option<String> {
        let types: Vec<Type> = match ty {
            SchemaType::Type(t) => vec![t.clone()],
            SchemaType::Array(ts) => ts.clone(),
            SchemaType::AnyValue => return None,
        };
        let fits = |t: &Type| match (t, value) {
            (Type::Null, Value::Null) => true,
            (Type::String, Value::String(_)) => true,
            (Type::String, _) => false,
            (Type::Boolean, Value::Bool(_)) => true,
            (Type::Boolean, Value::String(s)) => self.text && (s == "true" || s == "false"),
            (Type::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Type::Integer, Value::String(s)) => {
                self.text && (s.parse::<i64>().is_ok() || s.parse::<u64>().is_ok())
            }
            (Type::Number, Value::Number(_)) => true,
            (Type::Number, Value::String(s)) => self.text && s.parse::<f64>().is_ok(),
            (Type::Array, Value::Array(_)) | (Type::Object, Value::Object(_)) => true,
            _ => false,
        };
        if types.iter().any(fits) {
            return None;
        }
        let names: Vec<&str> = types
            .iter()
            .filter(|t| **t != Type::Null)
            .map(|t| match t {
                Type::String => "a string",
                Type::Integer => "a whole number",
                Type::Number => "a number",
                Type::Boolean => "true or false",
                Type::Array => "a list",
                Type::Object | Type::Null => "an object",
            })
            .collect();
        (!names.is_empty()).then(|| format!("must be {}", names.join(" or ")))
    }
}

/// Whether a schema's type admits `t`.
fn allows(ty: &SchemaType, t: Type) -> bool {
    match ty {
        SchemaType::Type(x) => *x == t,
        SchemaType::Array(ts) => ts.contains(&t),
        SchemaType::AnyValue => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, utoipa::ToSchema)]
    #[allow(dead_code)]
    struct Person {
        name: String,
        age: u32,
    }

    #[derive(Debug, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Pair {
        first: Person,
        second: Person,
        #[serde(default)]
        note: Option<String>,
        weight: i64,
    }

    fn errors<T: DeserializeOwned + ToSchema + std::fmt::Debug>(
        text: &str,
    ) -> Vec<(Vec<String>, &'static str)> {
        let all = decode_json::<T>(text.as_bytes()).unwrap_err();
        all.into_iter().map(|e| (e.loc, e.kind)).collect()
    }

    fn loc(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_missing_field_is_listed_at_every_depth() {
        let got = errors::<Pair>(r#"{"first": {"age": 3}}"#);
        assert_eq!(
            got,
            vec![
                (loc(&["body", "first", "name"]), MISSING),
                (loc(&["body", "second"]), MISSING),
                (loc(&["body", "weight"]), MISSING),
            ]
        );
    }

    #[test]
    fn wrong_types_are_listed_beside_serdes_first_error() {
        let got = errors::<Pair>(
            r#"{"first": {"name": 1, "age": "x"}, "second": {"name": "b", "age": -1}, "weight": 1.5}"#,
        );
        assert_eq!(got[0], (loc(&["body", "first", "name"]), VALUE));
        assert!(
            got.contains(&(loc(&["body", "first", "age"]), VALUE)),
            "{got:?}"
        );
        assert!(got.contains(&(loc(&["body", "weight"]), VALUE)), "{got:?}");
        // Only serde knows that an age is never negative: one error at most
        // per place, and no invented ones.
        assert_eq!(got.len(), 3, "{got:?}");
    }

    #[test]
    fn an_unknown_field_is_extra_forbidden() {
        let got = errors::<Pair>(
            r#"{"first": {"name": "a", "age": 1}, "second": {"name": "b", "age": 2}, "weight": 1, "colour": "red"}"#,
        );
        assert_eq!(got, vec![(loc(&["body", "colour"]), EXTRA)]);
    }

    #[derive(Debug, Deserialize, utoipa::IntoParams)]
    #[allow(dead_code)]
    struct Page {
        q: String,
        page: Option<u32>,
        flag: Option<bool>,
    }

    #[test]
    fn query_values_are_parsed_as_text_and_missing_ones_listed() {
        let check = SchemaCheck {
            text: true,
            ..SchemaCheck::default()
        };
        let all = decode_pairs::<Page>("query", b"page=abc&flag=maybe", check, || {
            params_schema(Page::into_params(|| Some(ParameterIn::Query)))
        })
        .unwrap_err();
        let mut locs: Vec<Vec<String>> = all.into_iter().map(|e| e.loc).collect();
        locs.sort();
        assert_eq!(
            locs,
            vec![
                loc(&["query", "flag"]),
                loc(&["query", "page"]),
                loc(&["query", "q"])
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_json_or_is_empty_is_one_error_at_body() {
        assert_eq!(
            errors::<Pair>(r#"{"first": "#),
            vec![(loc(&["body"]), JSON_INVALID)]
        );
        assert_eq!(errors::<Pair>("  "), vec![(loc(&["body"]), MISSING)]);
        let ok =
            r#"{"first": {"name": "a", "age": 1}, "second": {"name": "b", "age": 2}, "weight": 1}"#;
        assert!(decode_json::<Pair>(ok.as_bytes()).is_ok());
        assert_eq!(
            errors::<Pair>(&format!("{ok} trailing")),
            vec![(loc(&["body"]), JSON_INVALID)]
        );
    }

    #[test]
    fn a_nul_character_is_refused_wherever_it_hides() {
        let body = r#"{"first": {"name": "a\u0000b", "age": 1}, "second": {"name": "b", "age": 2}, "weight": 1}"#;
        assert_eq!(
            errors::<Pair>(body),
            vec![(loc(&["body", "first", "name"]), VALUE)]
        );
        let form = decode_pairs::<Page>("body", b"q=a%00b&page=2", SchemaCheck::default(), || {
            params_schema(Page::into_params(|| Some(ParameterIn::Query)))
        })
        .unwrap_err();
        assert_eq!(form[0].loc, loc(&["body", "q"]));
        assert!(
            decode_pairs::<Page>("query", b"q=ab", SchemaCheck::default(), || {
                params_schema(Vec::new())
            })
            .is_ok()
        );
    }

    #[test]
    fn a_path_parameter_is_named_with_its_range() {
        assert_eq!(
            expected("i64"),
            "must be a whole number from -9223372036854775808 to 9223372036854775807"
        );
    }
}
