//! Graph Analytics over HTTP, behind the `/v1` gate:
//! - `POST /v1/graph-analytics/sessions`: get or create by name in the
//!   project: 202 with a new session (`Creating`), 200 with the existing one
//!   when the request fits it, 409 when it does not.
//! - `GET /v1/graph-analytics/sessions[?tenantId=&instanceId=]`, `GET` and
//!   `DELETE /v1/graph-analytics/sessions/{id}` (202 `{"data": {"id"}}`,
//!   gone at once; 404 `session with id ... not found`).
//! - `POST /v1/graph-analytics/sessions/sizing` and `POST /v1/instances/sizing`:
//!   estimates computed from the body (see `sizing.rs`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;
use tokio::time::Instant;

use super::catalogue::{optional_str, parse_object};
use super::error::ApiError;
use super::http::{ClientId, data, query_param, require_json};
use super::sessions::parse_session_request;
use super::shared::SimState;
use super::sizing::{SIZED_INSTANCE_TYPES, instance_sizing, parse_shape, session_sizing};
use crate::api::MemorySize;

pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            "/v1/graph-analytics/sessions",
            get(list_sessions).post(get_or_create_session),
        )
        .route("/v1/graph-analytics/sessions/sizing", post(size_session))
        .route(
            "/v1/graph-analytics/sessions/{id}",
            get(get_session).delete(delete_session),
        )
        .route("/v1/instances/sizing", post(size_instance))
}

async fn list_sessions(
    State(st): State<SimState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let param = |k| query_param(q.as_deref(), k).filter(|v| !v.is_empty());
    let (tenant, instance) = (param("tenantId"), param("instanceId"));
    let now = Instant::now();
    let mut w = st.world();
    if let Some(t) = &tenant
        && !w.has_tenant(t)
    {
        return Err(ApiError::tenant_not_found());
    }
    if let Some(i) = &instance {
        w.get(i, now)?;
    }
    let list = w.sessions.list(tenant.as_deref(), instance.as_deref(), now);
    Ok(data(StatusCode::OK, list))
}

async fn get_or_create_session(
    State(st): State<SimState>,
    req: Request,
) -> Result<Response, ApiError> {
    require_json(req.headers())?;
    let user = req
        .extensions()
        .get::<ClientId>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|e| ApiError::unreadable_body(&e))?;
    let request = parse_session_request(&parse_object(&body, false)?)?;
    let (created, session) = st
        .world()
        .get_or_create_session(request, &user, Instant::now())?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(data(status, session))
}

async fn get_session(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let s = st.world().sessions.get(&id, Instant::now())?;
    Ok(data(StatusCode::OK, s))
}

async fn delete_session(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    st.world().sessions.delete(&id)?;
    Ok(data(StatusCode::ACCEPTED, json!({ "id": id })))
}

async fn size_session(headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let shape = parse_shape(&parse_object(&body, false)?)?;
    Ok(data(StatusCode::OK, session_sizing(&shape)))
}

/// For `enterprise-ds` or `professional-ds` (either when not named), within
/// the memory sizes the catalogue offers the type.
async fn size_instance(
    State(st): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let obj = parse_object(&body, false)?;
    let shape = parse_shape(&obj)?;
    let types: Vec<String> = match optional_str(&obj, "instance_type")? {
        Some(t) if SIZED_INSTANCE_TYPES.contains(&t.as_str()) => vec![t],
        Some(t) => {
            return Err(ApiError::field(
                "instance_type",
                format!(
                    "Sizing is available for {} instances, not {t}",
                    SIZED_INSTANCE_TYPES.join(" and ")
                ),
            ));
        }
        None => SIZED_INSTANCE_TYPES.iter().map(|t| t.to_string()).collect(),
    };
    let sizes: Vec<u32> = st
        .world()
        .catalogue
        .iter()
        .filter(|c| types.contains(&c.instance_type))
        .filter_map(|c| MemorySize::parse(&c.memory).map(MemorySize::gigabytes))
        .collect();
    Ok(data(StatusCode::OK, instance_sizing(&shape, &sizes)))
}
