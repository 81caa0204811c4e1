//! The `/v1` gate's part for tenants scoped per client id (`scope.rs` says
//! what a request names): a scoped client reaching a tenant, instance, key
//! or session of another tenant gets the 404 of a thing that does not
//! exist, and its lists hold only its tenants' entries.

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::time::Instant;

use super::error::ApiError;
use super::scope::{Named, named_by_body, named_by_path};
use super::sessions::session_not_found;
use super::shared::SimState;

/// The request, checked (its body buffered and put back), or the refusal.
pub async fn check(st: &SimState, client: &str, req: Request) -> Result<Request, Response> {
    let mut named = named_by_path(req.uri().path(), req.uri().query());
    let req = if matches!(*req.method(), Method::POST | Method::PATCH) {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .map_err(|e| ApiError::unreadable_body(&e).into_response())?;
        if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
            named.extend(named_by_body(&json));
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        req
    };
    let mut w = st.world();
    let now = Instant::now();
    for thing in named {
        let tenant = match &thing {
            Named::Tenant(t) => Some(t.clone()),
            Named::Instance(id) => w.get(id, now).ok().map(|i| i.tenant_id.clone()),
            Named::Key(id) => w.keys.get(id, now).ok().map(|k| k.tenant_id),
            Named::Session(id) => w
                .sessions
                .list(None, None, now)
                .into_iter()
                .find(|s| &s.id == id)
                .map(|s| s.tenant_id),
        };
        // Unknown things are the handler's to refuse, in its own words.
        let Some(tenant) = tenant else { continue };
        if !w.scopes.sees(client, &tenant) {
            let refusal = match &thing {
                Named::Tenant(_) => ApiError::tenant_not_found(),
                Named::Instance(id) => ApiError::db_not_found(id),
                Named::Key(id) => ApiError::encryption_key_not_found(id),
                Named::Session(id) => session_not_found(id),
            };
            return Err(refusal.into_response());
        }
    }
    Ok(req)
}

/// A list answered to a scoped client: only the entries of its tenants
/// (`GET /tenants` by `id`, the others by `tenant_id`).
pub async fn filter(st: &SimState, client: &str, path: &str, resp: Response) -> Response {
    let key = match path.trim_end_matches('/') {
        "/v1/tenants" => "id",
        "/v1/instances" | "/v1/customer-managed-keys" | "/v1/graph-analytics/sessions" => {
            "tenant_id"
        }
        _ => return resp,
    };
    if !resp.status().is_success() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return ApiError::internal().into_response();
    };
    let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let scopes = st.world().scopes.clone();
    if let Some(list) = json.get_mut("data").and_then(Value::as_array_mut) {
        list.retain(|e| {
            e.get(key)
                .and_then(Value::as_str)
                .is_none_or(|t| scopes.sees(client, t))
        });
    }
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json.to_string()))
}
