//! What every `/v2beta1` route file shares: which organizations and
//! projects a client sees (a scoped client sees an organization when it
//! sees one of its tenants), the JSON object a write must carry, and the
//! `capitalized_error_keys` quirk's layer. Route files import this and
//! `http.rs`, never each other.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::http::require_json;
use super::shared::SimState;
use super::state::World;
use super::v2beta1::{Named, V2Error, capitalize_error_keys};

pub fn sees_org(w: &World, client: &str, org: &str) -> bool {
    !w.scopes.is_scoped(client)
        || w.tenants
            .iter()
            .any(|t| w.orgs.of_tenant(&t.id) == org && w.scopes.sees(client, &t.id))
}

/// The organization, if it exists and the client sees it; else the 404 of one that does not.
pub fn org_named(w: &World, client: &str, org: &str) -> Result<Named, V2Error> {
    match w.orgs.get(org) {
        Some(o) if sees_org(w, client, org) => Ok(o.clone()),
        _ => Err(V2Error::organization_not_found(org)),
    }
}

/// The organization's tenants the client sees.
pub fn projects(w: &World, client: &str, org: &str) -> Vec<Named> {
    w.tenants
        .iter()
        .filter(|t| w.orgs.of_tenant(&t.id) == org && w.scopes.sees(client, &t.id))
        .map(|t| Named {
            id: t.id.clone(),
            name: t.name.clone(),
        })
        .collect()
}

/// The organization and one of its projects the client sees, or the 404
/// of the first that is not.
pub fn org_project(w: &World, client: &str, org: &str, project: &str) -> Result<Named, V2Error> {
    org_named(w, client, org)?;
    projects(w, client, org)
        .into_iter()
        .find(|p| p.id == project)
        .ok_or_else(|| V2Error::project_not_found(project))
}

pub fn json_object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, V2Error> {
    require_json(headers).map_err(|_| {
        V2Error::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "The Content-Type header must be application/json",
        )
    })?;
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(V2Error::bad_request(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(V2Error::bad_request(format!(
            "The request body is not JSON: {e}"
        ))),
    }
}

/// Error bodies are small; anything bigger is passed on as it is.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// With the `capitalized_error_keys` quirk, error bodies say `Message` and `Reason`.
pub async fn capitalize(State(st): State<SimState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let failed = resp.status().is_client_error() || resp.status().is_server_error();
    if !failed || !st.faults().quirks.capitalized_error_keys {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return V2Error::internal().into_response();
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    capitalize_error_keys(&mut v);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(v.to_string()))
}
