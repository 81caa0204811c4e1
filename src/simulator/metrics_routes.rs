//! Metrics integration over HTTP.
//!
//! - `GET /v1/tenants/{tenantId}/metrics-integration` (behind the `/v1`
//!   gate): 200 `{"data": {"endpoint": "<base>/api/v1/<tenant>/metrics"}}`;
//!   404 `tenant-not-found`; 400 `tenant-incapable-of-action` for a tenant
//!   configured without metrics (`metrics_incapable_tenants`).
//! - `GET /api/v1/{tenantId}/metrics` and `/api/v1/{tenantId}/{instanceId}/metrics`:
//!   the endpoints, served by the simulator itself (its own address is the
//!   base), in the Prometheus text format, one series per running instance
//!   of a type metrics are offered for. They take `Authorization: Bearer`
//!   with a token of `/oauth/token` (401 without one, with an unknown or an
//!   expired one; 401 `User doesn't have access to Metrics resources` for an
//!   incapable tenant). The real endpoints are another service than the API:
//!   these do not go through the `/v1` gate, so a scrape neither counts
//!   against the client id's requests per minute nor meets injected faults.
//!   It is counted in the request counters like any other call.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::time::Instant;

use super::auth::parse_bearer;
use super::error::ApiError;
use super::http::data;
use super::metrics::{CONTENT_TYPE, exposition, project_endpoint};
use super::shared::SimState;

/// The API side: behind the `/v1` gate.
pub fn v1_router() -> Router<SimState> {
    Router::new().route(
        "/v1/tenants/{tenant_id}/metrics-integration",
        get(metrics_integration),
    )
}

/// The endpoints themselves: their own bearer check, no rate limit.
pub fn scrape_router() -> Router<SimState> {
    Router::new()
        .route("/api/v1/{tenant_id}/metrics", get(project_metrics))
        .route(
            "/api/v1/{tenant_id}/{instance_id}/metrics",
            get(instance_metrics),
        )
}

#[derive(Debug, Serialize)]
struct Endpoint {
    endpoint: String,
}

fn incapable(tenant_id: &str) -> ApiError {
    ApiError::api(
        StatusCode::BAD_REQUEST,
        "tenant-incapable-of-action",
        format!("Metrics integration is not available for project {tenant_id}"),
    )
}

async fn metrics_integration(
    State(st): State<SimState>,
    Path(tenant_id): Path<String>,
) -> Result<Response, ApiError> {
    let w = st.world();
    if !w.has_tenant(&tenant_id) {
        return Err(ApiError::tenant_not_found());
    }
    if w.metrics_incapable.contains(&tenant_id) {
        return Err(incapable(&tenant_id));
    }
    let endpoint = project_endpoint(&w.metrics_base, &tenant_id);
    Ok(data(StatusCode::OK, Endpoint { endpoint }))
}

/// The bearer token must be one `/oauth/token` issued and still valid.
fn authorize(st: &SimState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_bearer)
        .ok_or_else(|| {
            ApiError::unauthorized("The Authorization header must be 'Bearer <token>'")
        })?;
    st.auth()
        .tokens
        .verify(token, Instant::now())
        .map(drop)
        .map_err(|_| ApiError::unauthorized("The access token is not valid or has expired"))
}

fn scrape(
    st: &SimState,
    headers: &HeaderMap,
    tenant_id: &str,
    instance_id: Option<&str>,
) -> Result<Response, ApiError> {
    authorize(st, headers)?;
    let now = Instant::now();
    let mut w = st.world();
    if !w.has_tenant(tenant_id) {
        return Err(ApiError::tenant_not_found());
    }
    if w.metrics_incapable.contains(tenant_id) {
        return Err(ApiError::unauthorized(
            "User doesn't have access to Metrics resources",
        ));
    }
    if let Some(id) = instance_id {
        // The instance must belong to the project.
        let inst = w.get(id, now)?;
        if inst.tenant_id != tenant_id {
            return Err(ApiError::db_not_found(id));
        }
    }
    let text = exposition(&w.metrics_samples(tenant_id, instance_id, now));
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(resp)
}

async fn project_metrics(
    State(st): State<SimState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    scrape(&st, &headers, &tenant_id, None)
}

async fn instance_metrics(
    State(st): State<SimState>,
    Path((tenant_id, instance_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    scrape(&st, &headers, &tenant_id, Some(&instance_id))
}
