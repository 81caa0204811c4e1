//! The error answers of the simulated API, in the shapes the real one uses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
                reason: reason.to_string(),
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
            ErrorBody::Api(d) => Some(&d.reason),
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
