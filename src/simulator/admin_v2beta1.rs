//! `/admin` for `/v2beta1`'s console access and databases (documented in `admin.rs`'s
//! header): plain JSON, errors in the API's v1 shape as the rest of
//! `/admin` answers them, not counted.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::catalogue::parse_object;
use super::error::ApiError;
use super::shared::SimState;
use super::v2beta1::V2Error;

pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            "/admin/organizations/{org}/users",
            get(users).post(add_user),
        )
        .route(
            "/admin/organizations/{org}/users/{user}/projects/{project}",
            put(put_project_role),
        )
        .route("/admin/organizations/{org}/invites", get(invites))
        .route(
            "/admin/organizations/{org}/invites/accept",
            post(accept_invite),
        )
        .route("/admin/instances/{id}/databases", get(databases))
}

/// `{instance_id, multi_database, databases, backups, restores}`; 404
/// `db-not-found` for an unknown instance.
async fn databases(
    State(st): State<SimState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = tokio::time::Instant::now();
    let mut w = st.world();
    let multi = w.multi_database(&id, now);
    let takes = w.database_backup_time();
    let Some(d) = w.instance_databases(&id, now) else {
        return Err(ApiError::db_not_found(&id));
    };
    let backups: Vec<Value> = d
        .all_backups(now, takes)
        .into_iter()
        .map(|(database_id, b)| {
            let mut v = serde_json::to_value(b).unwrap_or(Value::Null);
            v["database_id"] = database_id.into();
            v
        })
        .collect();
    Ok(Json(json!({
        "instance_id": id,
        "multi_database": multi,
        "databases": d.list(),
        "backups": backups,
        "restores": d.restores(),
    }))
    .into_response())
}

/// A v2beta1 refusal in the shape the rest of `/admin` answers.
pub fn v1(e: V2Error) -> ApiError {
    let mut out = ApiError::api(e.status, &e.reason, e.message);
    if let (Some((field, _)), super::error::ErrorBody::Api(d)) = (e.errors.first(), &mut out.body) {
        d.field = Some(field.clone());
    }
    out
}

fn text(obj: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ApiError::field(key, format!("{key} is required"))),
    }
}

async fn users(State(st): State<SimState>, Path(org): Path<String>) -> Response {
    Json(st.console_users(&org)).into_response()
}

async fn add_user(
    State(st): State<SimState>,
    Path(org): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = parse_object(&body, false)?;
    let id = st
        .try_add_console_user(
            &org,
            &text(&obj, "email")?,
            &text(&obj, "organization_role")?,
        )
        .map_err(v1)?;
    Ok((StatusCode::CREATED, Json(json!({"user_id": id}))).into_response())
}

async fn put_project_role(
    State(st): State<SimState>,
    Path((org, user, project)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = parse_object(&body, false)?;
    let role = text(&obj, "project_role")?;
    st.try_add_console_project_role(&org, &user, &project, &role)
        .map_err(v1)?;
    let view = st
        .console_users(&org)
        .into_iter()
        .find(|u| u.user_id == user);
    Ok(Json(view).into_response())
}

async fn invites(State(st): State<SimState>, Path(org): Path<String>) -> Response {
    Json(st.invites(&org)).into_response()
}

async fn accept_invite(
    State(st): State<SimState>,
    Path(org): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = parse_object(&body, false)?;
    let email = text(&obj, "email")?;
    match st.accept_invite(&org, &email) {
        Some(id) => Ok(Json(json!({"user_id": id})).into_response()),
        None => Err(ApiError::api(
            StatusCode::NOT_FOUND,
            "invite-not-found",
            format!("No pending invite to {email} in organization {org}"),
        )),
    }
}
