//! The error answers of the simulated API, in the shapes the real one uses.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::aura::model::{ApiErrorBody, ApiErrorDetail, MiddlewareErrorBody};

/// Which of the two documented error bodies an answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    /// `{"errors": [{"message", "reason", "field"?}]}` from the API itself.
    Api(ApiErrorDetail),
    /// `{"error": "...", "error_description"?}` from the gateway or the OAuth server.
    Middleware(MiddlewareErrorBody),
}

/// An error answer: status, body and an optional `Retry-After` in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn api(status: StatusCode, reason: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::Api(ApiErrorDetail {
                message: message.into(),
                reason: Some(reason.to_string()),
                field: None,
            }),
            retry_after: None,
        }
    }

    pub fn middleware(status: StatusCode, error: &str, description: Option<&str>) -> Self {
        Self {
            status,
            body: ErrorBody::Middleware(MiddlewareErrorBody {
                error: error.to_string(),
                error_description: description.map(str::to_string),
            }),
            retry_after: None,
        }
    }

    /// Malformed body, not an object, nothing to do.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::api(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    /// A 400 naming the request field at fault.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::api(StatusCode::BAD_REQUEST, "invalid-field", message);
        if let ErrorBody::Api(d) = &mut e.body {
            d.field = Some(field.to_string());
        }
        e
    }

    pub fn db_not_found(id: &str) -> Self {
        Self::api(
            StatusCode::NOT_FOUND,
            "db-not-found",
            format!("DB not found: {id}"),
        )
    }

    pub fn tenant_not_found() -> Self {
        Self::api(
            StatusCode::NOT_FOUND,
            "tenant-not-found",
            "The tenant you specified could not be found",
        )
    }

    pub fn snapshot_not_found(id: &str) -> Self {
        Self::api(
            StatusCode::NOT_FOUND,
            "snapshot-not-found",
            format!("Snapshot not found: {id}"),
        )
    }

    /// 400: a snapshot that is not exportable cannot seed another instance
    /// (clone or overwrite). The spec says a clone needs an exportable
    /// snapshot but not how a refusal reads: reason and text are unsure.
    pub fn snapshot_not_exportable(id: &str) -> Self {
        Self::api(
            StatusCode::BAD_REQUEST,
            "snapshot-not-exportable",
            format!(
                "Snapshot {id} is not exportable: only an exportable snapshot can be copied to another instance"
            ),
        )
    }

    /// 404 for a key that does not exist, in the documented words.
    pub fn encryption_key_not_found(id: &str) -> Self {
        Self::api(
            StatusCode::NOT_FOUND,
            "encryption-key-not-found",
            format!("Encryption Key not found: {id}"),
        )
    }

    /// 400: a key an instance still uses cannot be deleted (documented words).
    pub fn encryption_key_is_active(id: &str) -> Self {
        Self::api(
            StatusCode::BAD_REQUEST,
            "encryption-key-is-active",
            format!("Can not delete encryption key {id}. The key is linked to an active instance."),
        )
    }

    /// 400 for a create naming a key it cannot use; the field is named.
    /// The spec documents no reason for this: ours are made up.
    pub fn key_refused(reason: &str, message: String) -> Self {
        let mut e = Self::api(StatusCode::BAD_REQUEST, reason, message);
        if let ErrorBody::Api(d) = &mut e.body {
            d.field = Some("customer_managed_key_id".to_string());
        }
        e
    }

    /// The documented answer to an overwrite of an instance smaller than its
    /// source: a 500 "DB Overwrite Size Disparity" reading `Cannot clone
    /// database <ID_1> into smaller database <ID_2>.` (spec text); the sizes
    /// are added for the reader. The spec documents no reason: none is sent
    /// (an empty one, as its other examples without a reason have).
    pub fn size_disparity(source: (&str, &str), target: (&str, &str)) -> Self {
        Self::api(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            format!(
                "Cannot clone database {} into smaller database {}. (memory {} into {})",
                source.0, target.0, source.1, target.1
            ),
        )
    }

    /// 420: the documented answer to an overwrite of a free instance (reason unsure).
    pub fn unsupported_for_tier(message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(420).unwrap_or(StatusCode::BAD_REQUEST);
        Self::api(status, "unsupported-action", message)
    }

    /// 409 while another operation runs; the text mirrors the documented example.
    pub fn ongoing_operation(status: &str) -> Self {
        Self::api(
            StatusCode::CONFLICT,
            "ongoing-database-operation",
            format!("The database is current undergoing an operation: {status}"),
        )
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::api(StatusCode::BAD_REQUEST, "invalid-instance-state", message)
    }

    pub fn unsupported_media_type() -> Self {
        Self::api(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "The Content-Type header must be application/json",
        )
    }

    /// 413: the body is over the size the simulator reads.
    pub fn payload_too_large() -> Self {
        Self::api(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "The request body is too large",
        )
    }

    /// A body that could not be read: 413 when it was over the limit, else 400.
    pub fn unreadable_body(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut cause = Some(err);
        while let Some(e) = cause {
            if e.to_string().contains("length limit exceeded") {
                return Self::payload_too_large();
            }
            cause = e.source();
        }
        Self::bad_request("The request body could not be read")
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::api(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn token_expired() -> Self {
        Self::api(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The access token has expired",
        )
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::api(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limit-exceeded",
            "Rate limit exceeded, retry later",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    pub fn internal() -> Self {
        Self::api(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-server-error",
            "An internal error occurred, retry later",
        )
    }

    /// The `reason` of an API-shaped body (tests and logs).
    pub fn reason(&self) -> Option<&str> {
        match &self.body {
            ErrorBody::Api(d) => d.reason.as_deref(),
            ErrorBody::Middleware(_) => None,
        }
    }

    /// The `field` of an API-shaped body.
    pub fn field_name(&self) -> Option<&str> {
        match &self.body {
            ErrorBody::Api(d) => d.field.as_deref(),
            ErrorBody::Middleware(_) => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let json = match self.body {
            ErrorBody::Api(d) => serde_json::to_vec(&ApiErrorBody { errors: vec![d] }),
            ErrorBody::Middleware(m) => serde_json::to_vec(&m),
        }
        .unwrap_or_else(|_| b"{\"error\":\"internal\"}".to_vec());
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// `reason` for an error the simulator did not word itself: the status's
/// canonical phrase in kebab case (`payload-too-large`, `method-not-allowed`).
fn reason_for(status: StatusCode) -> String {
    status
        .canonical_reason()
        .map(|r| r.to_ascii_lowercase().replace(' ', "-"))
        .unwrap_or_else(|| "error".to_string())
}

/// OAuth 2 `error` code for an error of the token endpoint.
fn oauth_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "invalid_client",
        503 => "temporarily_unavailable",
        s if s >= 500 => "server_error",
        _ => "invalid_request",
    }
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
}

/// Error bodies are small; anything bigger is not read back.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Middleware: every error answer carries a documented JSON error body, even
/// those the simulator did not write itself (axum's rejections: 413 for an
/// oversized body, 400 for a bad path, ...). `/oauth/token` answers in the
/// OAuth shape `{"error", "error_description"}` (its 429 keeps the gateway's
/// `{"errors": [...]}`); everything else in the API shape `{"errors": [...]}`.
/// JSON error bodies are left alone, status and headers are kept.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let oauth = matches!(req.uri().path(), "/oauth/token" | "/v2beta1/oauth/token");
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let json = is_json(&resp);
    if json && (!oauth || status == StatusCode::TOO_MANY_REQUESTS) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let mut message = String::from_utf8_lossy(&bytes).trim().to_string();
    if json {
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if v.get("error").is_some_and(Value::is_string) {
            // Already the OAuth shape.
            return Response::from_parts(parts, Body::from(bytes));
        }
        message = v["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    }
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("Error").to_string();
    }
    let error = if oauth {
        ApiError::middleware(status, oauth_code(status), Some(&message))
    } else {
        ApiError::api(status, &reason_for(status), message)
    };
    let shaped = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if oauth {
        parts
            .headers
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Response::from_parts(parts, shaped.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_oauth_codes_follow_the_status() {
        assert_eq!(
            reason_for(StatusCode::PAYLOAD_TOO_LARGE),
            "payload-too-large"
        );
        assert_eq!(
            reason_for(StatusCode::METHOD_NOT_ALLOWED),
            "method-not-allowed"
        );
        assert_eq!(reason_for(StatusCode::BAD_REQUEST), "bad-request");
        assert_eq!(oauth_code(StatusCode::PAYLOAD_TOO_LARGE), "invalid_request");
        assert_eq!(
            oauth_code(StatusCode::INTERNAL_SERVER_ERROR),
            "server_error"
        );
    }

    #[tokio::test]
    async fn an_over_limit_body_is_413() {
        let e = axum::body::to_bytes(Body::from(vec![b'x'; 10]), 5)
            .await
            .unwrap_err();
        assert_eq!(ApiError::unreadable_body(&e).status, 413);
        let e = axum::Error::new(std::io::Error::other("connection reset"));
        assert_eq!(ApiError::unreadable_body(&e).status, 400);
    }
}
