//! `/v2beta1` console access: an organization's users, a project's users
//! and the organization's invites (`console_users.rs` holds the rules).
//! Answers in `{"data": ...}`, deletes 204 with no body, errors v2beta1's.
//! A client reaches an organization and its projects as the other
//! `/v2beta1` routes decide (`v2beta1_http.rs`). `GET O/invites/{id}`
//! answers 405, as live.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::console_bodies::{
    parse_invite, parse_org_role, parse_project_member, parse_project_role,
};
use super::http::{ClientId, data};
use super::shared::SimState;
use super::v2beta1::V2Error;
use super::v2beta1_http::{json_object, org_named, org_project, projects};

const ORG: &str = "/v2beta1/organizations/{org_id}";
const PROJECT: &str = "/v2beta1/organizations/{org_id}/projects/{project_id}";

pub fn router() -> Router<SimState> {
    Router::new()
        .route(&format!("{ORG}/users"), get(list_users))
        .route(
            &format!("{ORG}/users/{{user_id}}"),
            get(get_user).patch(patch_user).delete(delete_user),
        )
        .route(
            &format!("{PROJECT}/users"),
            get(list_project_users).post(add_project_user),
        )
        .route(
            &format!("{PROJECT}/users/{{user_id}}"),
            axum::routing::patch(patch_project_user).delete(delete_project_user),
        )
        .route(
            &format!("{ORG}/invites"),
            get(list_invites).post(create_invite),
        )
        .route(
            &format!("{ORG}/invites/{{invite_id}}"),
            get(get_invite).delete(delete_invite),
        )
}

async fn list_users(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path(org): Path<String>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_named(&w, &c.0, &org)?;
    let users = w.console.users(&org);
    w.console.accepted_after_listing(&org);
    Ok(data(StatusCode::OK, users))
}

async fn get_user(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, user)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    let w = st.world();
    org_named(&w, &c.0, &org)?;
    let details = w
        .console
        .user_details(&org, &user, &projects(&w, &c.0, &org))?;
    Ok(data(StatusCode::OK, details))
}

/// 200 with the user and its projects, as the document's
/// `OrganizationUserDetails` (a superset of `OrganizationUser`).
async fn patch_user(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_named(&w, &c.0, &org)?;
    let role = parse_org_role(&json_object(&headers, &body)?)?;
    w.console.set_org_role(&org, &user, &role)?;
    let details = w
        .console
        .user_details(&org, &user, &projects(&w, &c.0, &org))?;
    Ok(data(StatusCode::OK, details))
}

async fn delete_user(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, user)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_named(&w, &c.0, &org)?;
    w.console.remove_user(&org, &user)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_project_users(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    let w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    Ok(data(
        StatusCode::OK,
        w.console.project_users(&org, &project),
    ))
}

async fn add_project_user(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let (user, role) = parse_project_member(&json_object(&headers, &body)?)?;
    let added = w.console.add_to_project(&org, &project, &user, &role)?;
    Ok(data(StatusCode::CREATED, added))
}

async fn patch_project_user(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, user)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let role = parse_project_role(&json_object(&headers, &body)?)?;
    let changed = w.console.set_project_role(&org, &project, &user, &role)?;
    Ok(data(StatusCode::OK, changed))
}

async fn delete_project_user(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, user)): Path<(String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    w.console.remove_from_project(&org, &project, &user)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_invites(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path(org): Path<String>,
) -> Result<Response, V2Error> {
    let w = st.world();
    org_named(&w, &c.0, &org)?;
    Ok(data(StatusCode::OK, w.console.invites(&org)))
}

async fn create_invite(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_named(&w, &c.0, &org)?;
    let write = parse_invite(&json_object(&headers, &body)?)?;
    let seen = projects(&w, &c.0, &org);
    let in_org = |p: &str| seen.iter().any(|n| n.id == p);
    let invite = w.console.invite(&org, write, &in_org, SystemTime::now())?;
    Ok(data(StatusCode::CREATED, invite))
}

/// Live has no GET of one invite: 405, in v2beta1's error shape.
async fn get_invite() -> V2Error {
    V2Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "GET is not allowed on an invite; list the invites instead",
    )
}

async fn delete_invite(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, invite)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_named(&w, &c.0, &org)?;
    w.console.delete_invite(&org, &invite)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
