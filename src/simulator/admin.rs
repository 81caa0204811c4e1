//! `/admin/...`: the test tool's side door. No authentication, plain JSON
//! (no `{"data": ...}` wrapper), not counted in the request counters.
//!
//! Data lineage (which data an instance holds, DESIGN §5):
//! - `GET /admin/instances/{id}/lineage`: 200 `{instance_id, data_version,
//!   history: [{at, event, data_version, source_instance_id?,
//!   source_snapshot_id?}]}`, oldest first; `event` is `created`, `write`,
//!   `restore`, `overwrite` or `clone`. 404 `db-not-found` when unknown.
//! - `POST /admin/instances/{id}/write` (no body, or `{}`): writes to a
//!   running instance, a new data version; 200 with the lineage. 409 while an
//!   operation runs, 400 when not running, 404 when unknown.
//! - `GET /admin/snapshot-exportable`, `PUT` with `{"exportable": false}`:
//!   whether snapshots are exportable (default true), for every instance
//!   without its own setting. 200 `{"exportable": bool}`.
//! - `POST /admin/instances/{id}/snapshot-exportable` with
//!   `{"exportable": false}` (`null` goes back to the default): that
//!   instance's own setting. 200 `{"instance_id", "exportable"}` with the value
//!   its snapshots now have; 404 when unknown. Both settings are read when a
//!   snapshot is shown or used, so they also apply to snapshots taken before.
//! - `GET /admin/requests/creates`: the newest 100 `POST /v1/instances`
//!   requests, oldest first: `[{at, status, instance_id?, body}]`, `body`
//!   holding only the documented create fields (none is secret). Cleared with
//!   the counters.
//!
//! `GET /admin/instances[/{id}]` also shows each instance's `data_version`.
//!
//! Customer managed keys:
//! - `POST /admin/customer-managed-keys` with `{"name", "tenant_id", ...}`:
//!   a key made in the console (ready unless `status` says otherwise).
//! - `POST /admin/customer-managed-keys/{id}/grant` (no body): the customer
//!   granted Aura the key in their cloud console: `ready` at once.
//!
//! `POST /admin/graph-analytics/sessions/{id}/expire` (no body): the
//! session is `Expired` at once, as if idle past its time to live.
//!
//! `PUT /admin/tenants/{id}/metrics-integration` with `{"capable": false}`:
//! the tenant's metrics integration answers 400 `tenant-incapable-of-action`.
//!
//! v2beta1 IP filters:
//! - `GET /admin/ip-filters`: every filter of every organization as its
//!   answers show it (bare array).
//! - `POST /admin/ip-filters/{id}/error` with `{"instance_id"}`: the filter's
//!   status on that instance reads `ERROR` until the filter's next PATCH.
//!   200 `{"ip_filter_id", "instance_id", "status": "ERROR"}`; 404
//!   `ip-filter-not-found`; 400 without an `instance_id`.
//!
//! v2beta1 console users and invites (`admin_v2beta1.rs`):
//! - `POST /admin/organizations/{org}/users` with `{"email",
//!   "organization_role"}`: a person who has a console account joins the
//!   organization. 201 `{"user_id"}`; 404 `organization-not-found`, 400
//!   `validation-error` for a role not `organization-*`, 409
//!   `user-already-member` for an email already a user's.
//! - `GET /admin/organizations/{org}/users`: `[{user_id, email,
//!   organization_role, project_roles: {project_id: role}}]`.
//! - `PUT /admin/organizations/{org}/users/{user_id}/projects/{project_id}`
//!   with `{"project_role"}` (`project-*`): a membership made or changed in
//!   the console. 200 with the user as the list shows it; 404
//!   `organization-not-found`, `project-not-found`, `user-not-found`; 400.
//! - `GET /admin/organizations/{org}/invites`: the pending invites as
//!   `GET /v2beta1/.../invites` shows them (bare array).
//! - `POST /admin/organizations/{org}/invites/accept` with `{"email"}`: the
//!   invitee accepts: the invite goes, they become a user with its first
//!   organization role and a member of each project it names
//!   (`namespace-X` becomes `project-X`). 200 `{"user_id"}`; 404
//!   `invite-not-found` when no invite to that email is pending.
//!
//! v2beta1 databases:
//! - `GET /admin/instances/{id}/databases`: `{instance_id, multi_database
//!   (null: made through v1), databases: [{id, name}], backups:
//!   [{database_id, id, timestamp, status, exportable}], restores:
//!   [{database_id, backup_id, at}]}`; 404 `db-not-found` when unknown.
//!   Restores are recorded as asked for (live shows no restore status).
//! - The `database_backup` timing (`/admin/timings`) is how long a backup
//!   takes: `Pending` the first half, `InProgress` the second, then
//!   `Completed`.
//!
//! The counters count every `/v2beta1` request by route template
//! (`by_route`, e.g. `"POST /v2beta1/organizations/{org_id}/invites"`).

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::catalogue::parse_object;
use super::error::ApiError;
use super::faults::Faults;
use super::shared::SimState;
use super::state::{ConsoleUpdate, Timings};

/// Whether `/admin` (unauthenticated, serving every password) is reachable
/// from beyond this host: the simulator listens on anything but loopback.
pub fn exposed(listen: SocketAddr) -> bool {
    !listen.ip().to_canonical().is_loopback()
}

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/admin/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/admin/counters", get(counters).delete(reset_counters))
        .route("/admin/counters/reset", post(reset_counters))
        .route(
            "/admin/faults",
            get(faults).put(put_faults).patch(patch_faults),
        )
        .route(
            "/admin/timings",
            get(timings).put(put_timings).patch(patch_timings),
        )
        .route("/admin/limits", get(limits).put(put_limits))
        .route("/admin/limits/reset", post(reset_limits))
        .route("/admin/tokens/expire", post(expire_tokens))
        .route("/admin/instances", get(instances).post(console_create))
        .route("/admin/customer-managed-keys", post(add_key))
        .route("/admin/customer-managed-keys/{id}/grant", post(grant_key))
        .route(
            "/admin/graph-analytics/sessions/{id}/expire",
            post(expire_session),
        )
        .route(
            "/admin/tenants/{id}/metrics-integration",
            axum::routing::put(put_metrics_capable),
        )
        .route(
            "/admin/instances/{id}",
            get(instance).patch(console_update).delete(console_delete),
        )
        .route("/admin/instances/{id}/lineage", get(lineage))
        .route("/admin/instances/{id}/write", post(write))
        .route(
            "/admin/instances/{id}/snapshot-exportable",
            post(instance_exportable),
        )
        .route(
            "/admin/snapshot-exportable",
            get(default_exportable).put(put_default_exportable),
        )
        .route("/admin/requests/creates", get(recent_creates))
        .route("/admin/ip-filters", get(ip_filters))
        .route("/admin/ip-filters/{id}/error", post(ip_filter_error))
        .merge(super::admin_v2beta1::router())
}

async fn ip_filters(State(st): State<SimState>) -> Response {
    Json(st.ip_filters()).into_response()
}

async fn ip_filter_error(
    State(st): State<SimState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = parse_object(&body, false)?;
    let Some(instance) = obj
        .get("instance_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::field("instance_id", "instance_id is required"));
    };
    if !st.set_ip_filter_error(&id, instance) {
        return Err(ApiError::api(
            StatusCode::NOT_FOUND,
            "ip-filter-not-found",
            format!("IP filter not found: {id}"),
        ));
    }
    Ok(
        Json(json!({"ip_filter_id": id, "instance_id": instance, "status": "ERROR"}))
            .into_response(),
    )
}

/// Overlays the keys of a JSON object on the current value, then re-validates.
fn merge<T: Serialize + DeserializeOwned>(current: &T, body: &[u8]) -> Result<T, ApiError> {
    let patch = parse_object(body, false)?;
    let mut v = serde_json::to_value(current).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.extend(patch);
    }
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn replace<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let obj = parse_object(body, false)?;
    serde_json::from_value(Value::Object(obj)).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Adds a customer managed key as the console would: `{"name",
/// "tenant_id", "id"?, "cloud_provider"?, "region"?, "type"? (or
/// "instance_type"), "status"?, "key_id"?}` (a new UUID, gcp,
/// europe-west1, enterprise-db, ready and a made-up key id by default).
/// 201 with the key as `GET /v1/customer-managed-keys/{id}` shows it.
async fn add_key(State(st): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    let mut obj = parse_object(&body, false)?;
    obj.entry("id")
        .or_insert_with(|| Value::String(uuid::Uuid::new_v4().to_string()));
    let key_id = match obj.remove("key_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(ApiError::field("key_id", "key_id must be a string")),
    };
    let key: super::state::CustomerManagedKey = serde_json::from_value(Value::Object(obj))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = tokio::time::Instant::now();
    let view = st
        .world()
        .keys
        .add(key, key_id, super::state::now_rfc3339(), now);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `POST /admin/customer-managed-keys/{id}/grant` (no body): the customer
/// granted Aura the use of the key in their cloud console; `ready` at once.
/// 200 with the key; 404 `encryption-key-not-found`.
async fn grant_key(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(st.grant_customer_managed_key(&id)?).into_response())
}

/// `PUT /admin/tenants/{id}/metrics-integration` with `{"capable": bool}`:
/// whether the tenant's metrics integration is available. 200 with the
/// setting; 404 `tenant-not-found`.
async fn put_metrics_capable(
    State(st): State<SimState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = parse_object(&body, false)?;
    let Some(capable) = obj.get("capable").and_then(Value::as_bool) else {
        return Err(ApiError::field("capable", "capable must be a boolean"));
    };
    if !st.world().has_tenant(&id) {
        return Err(ApiError::tenant_not_found());
    }
    st.set_metrics_capable(&id, capable);
    Ok(Json(json!({"tenant_id": id, "capable": capable})).into_response())
}

/// `POST /admin/graph-analytics/sessions/{id}/expire` (no body): the
/// session is `Expired` now. 200 with it; 404 when unknown.
async fn expire_session(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = tokio::time::Instant::now();
    Ok(Json(st.world().sessions.expire(&id, now)?).into_response())
}

async fn counters(State(st): State<SimState>) -> Response {
    Json(st.counters()).into_response()
}

/// Answers the counters as they were just before the reset.
async fn reset_counters(State(st): State<SimState>) -> Response {
    let before = st.counters();
    st.reset_counters();
    Json(before).into_response()
}

async fn faults(State(st): State<SimState>) -> Response {
    Json(st.faults()).into_response()
}

fn set_faults(st: &SimState, f: Faults) -> Result<Response, ApiError> {
    f.validate().map_err(ApiError::bad_request)?;
    st.set_faults(f.clone());
    Ok(Json(f).into_response())
}

async fn put_faults(State(st): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    set_faults(&st, replace(&body)?)
}

async fn patch_faults(State(st): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    set_faults(&st, merge(&st.faults(), &body)?)
}

async fn timings(State(st): State<SimState>) -> Response {
    Json(st.timings()).into_response()
}

/// Refuses timings that are negative, not finite or over a day, naming the field.
fn set_timings(st: &SimState, t: Timings) -> Result<Response, ApiError> {
    t.validate()?;
    st.set_timings(t.clone());
    Ok(Json(t).into_response())
}

async fn put_timings(State(st): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    set_timings(&st, replace(&body)?)
}

async fn patch_timings(State(st): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    set_timings(&st, merge(&st.timings(), &body)?)
}

#[derive(Debug, Serialize, serde::Deserialize)]
struct Limits {
    requests_per_minute: u32,
    tokens_per_hour: u32,
}

fn current_limits(st: &SimState) -> Limits {
    let a = st.auth();
    Limits {
        requests_per_minute: a.requests.limit,
        tokens_per_hour: a.token_calls.limit,
    }
}

async fn limits(State(st): State<SimState>) -> Response {
    Json(current_limits(&st)).into_response()
}

async fn put_limits(State(st): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    let l: Limits = merge(&current_limits(&st), &body)?;
    st.set_limits(l.requests_per_minute, l.tokens_per_hour);
    Ok(Json(l).into_response())
}

async fn reset_limits(State(st): State<SimState>) -> StatusCode {
    st.reset_limits();
    StatusCode::NO_CONTENT
}

async fn expire_tokens(State(st): State<SimState>) -> StatusCode {
    st.expire_tokens();
    StatusCode::NO_CONTENT
}

async fn instances(State(st): State<SimState>) -> Response {
    Json(st.instances()).into_response()
}

async fn instance(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    st.instance(&id)
        .map(|i| Json(i).into_response())
        .ok_or_else(|| ApiError::db_not_found(&id))
}

async fn console_create(State(st): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    let obj = parse_object(&body, false)?;
    let created = st.console_create_value(&Value::Object(obj))?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn console_update(
    State(st): State<SimState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let change: ConsoleUpdate = replace(&body)?;
    Ok(Json(st.console_update(&id, &change)?).into_response())
}

async fn console_delete(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.console_delete(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::db_not_found(&id))
    }
}

async fn lineage(State(st): State<SimState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    st.lineage(&id)
        .map(|l| Json(l).into_response())
        .ok_or_else(|| ApiError::db_not_found(&id))
}

async fn write(
    State(st): State<SimState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    parse_object(&body, true)?;
    Ok(Json(st.write(&id)?).into_response())
}

/// `{"exportable": bool}`, or `null` for "follow the default" where allowed.
#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Exportable {
    exportable: Option<bool>,
}

async fn default_exportable(State(st): State<SimState>) -> Response {
    Json(json!({"exportable": st.snapshots_exportable()})).into_response()
}

async fn put_default_exportable(
    State(st): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Exportable { exportable } = replace(&body)?;
    let Some(exportable) = exportable else {
        return Err(ApiError::field(
            "exportable",
            "exportable must be a boolean",
        ));
    };
    st.set_snapshots_exportable(exportable);
    Ok(Json(json!({"exportable": exportable})).into_response())
}

async fn instance_exportable(
    State(st): State<SimState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = parse_object(&body, false)?;
    if !obj.contains_key("exportable") {
        return Err(ApiError::field("exportable", "exportable is required"));
    }
    let Exportable { exportable } = serde_json::from_value(Value::Object(obj))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = st.set_instance_snapshots_exportable(&id, exportable)?;
    Ok(Json(json!({"instance_id": id, "exportable": now})).into_response())
}

async fn recent_creates(State(st): State<SimState>) -> Response {
    Json(st.recent_creates()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_exposed_beyond_loopback() {
        for local in [
            "127.0.0.1:8080",
            "127.0.0.2:0",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(!exposed(local.parse().unwrap()), "{local}");
        }
        for open in [
            "0.0.0.0:8080",
            "[::]:8080",
            "10.0.0.5:8080",
            "[2001:db8::1]:80",
        ] {
            assert!(exposed(open.parse().unwrap()), "{open}");
        }
    }
}
