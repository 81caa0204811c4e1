//! `/v1/customer-managed-keys`: create (202, `pending`), list (summaries,
//! `?tenantId=`), get (the whole key), delete (204; 400 while an instance
//! uses the key). Behind the `/v1` gate like every API route.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::time::Instant;

use super::catalogue::parse_object;
use super::error::ApiError;
use super::http::{data, query_param, require_json};
use super::keys::parse_key_create;
use super::shared::SimState;

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/v1/customer-managed-keys", get(list_keys).post(create_key))
        .route(
            "/v1/customer-managed-keys/{key_id}",
            get(get_key).delete(delete_key),
        )
}

/// Summaries of every key, or of one tenant's (`?tenantId=`; an unknown
/// tenant has none).
async fn list_keys(State(st): State<SimState>, RawQuery(q): RawQuery) -> Response {
    let tenant = query_param(q.as_deref(), "tenantId").filter(|t| !t.is_empty());
    data(StatusCode::OK, st.world().keys.summaries(tenant.as_deref()))
}

/// Not idempotent, as the spec has it: the same body twice makes two keys.
async fn create_key(
    State(st): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let obj = parse_object(&body, false)?;
    let mut w = st.world();
    let spec = parse_key_create(&obj, &w.tenants, &w.catalogue)?;
    let key = w.create_key(spec, Instant::now());
    Ok(data(StatusCode::ACCEPTED, key))
}

async fn get_key(
    State(st): State<SimState>,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    let key = st.world().keys.get(&key_id, Instant::now())?;
    Ok(data(StatusCode::OK, key))
}

async fn delete_key(
    State(st): State<SimState>,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    st.world().delete_key(&key_id, Instant::now())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
