//! What every group of simulator routes shares to answer: the `{"data"}`
//! envelope, the content type a write must carry, query parameters, and the
//! client id the `/v1` gate found. Route files import this, never each other.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::parse_form;
use super::error::ApiError;
use crate::aura::model::Data;

/// The client id behind the bearer token, set by the `/v1` gate.
#[derive(Debug, Clone)]
pub struct ClientId(pub String);

pub fn data<T: Serialize>(status: StatusCode, value: T) -> Response {
    (status, axum::Json(Data { data: value })).into_response()
}

/// POST and PATCH must say `application/json` (parameters and `+json` allowed).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let mime = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type())
    }
}

pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    parse_form(query.unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}
