//! `/v2beta1`: organizations, their projects (v1 tenants), and IP filters
//! with the per-instance status. Behind the `/v1` gate (same tokens, one
//! request budget per client id); a scoped client sees an organization
//! when it sees one of its tenants. IP filter answers are bare, errors are
//! v2beta1's (`v2beta1.rs`), capitalised with the `capitalized_error_keys`
//! quirk.

use std::collections::{BTreeSet, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::http::{ClientId, data};
use super::ip_filters::{Entity, FilterWrite, WriteRules, parse_write};
use super::shared::SimState;
use super::state::World;
use super::v2beta1::{Named, V2Error};
use super::v2beta1_http::{capitalize, json_object, org_named, projects, sees_org};

const ORG: &str = "/v2beta1/organizations/{org_id}";

pub fn router(state: SimState) -> Router<SimState> {
    Router::new()
        .route("/v2beta1/organizations", get(list_orgs))
        .route(ORG, get(get_org))
        .route(&format!("{ORG}/projects"), get(list_projects))
        .route(
            &format!("{ORG}/ip-filters"),
            get(list_filters).post(create_filter),
        )
        .route(
            &format!("{ORG}/ip-filters/{{ip_filter_id}}"),
            get(get_filter).patch(patch_filter).delete(delete_filter),
        )
        .route(
            &format!("{ORG}/projects/{{project_id}}/instances/{{instance_id}}/ip-filters"),
            get(instance_filter),
        )
        .merge(super::console_routes::router())
        .merge(super::database_routes::router())
        .route_layer(middleware::from_fn_with_state(state, capitalize))
}

async fn list_orgs(State(st): State<SimState>, Extension(c): Extension<ClientId>) -> Response {
    let w = st.world();
    let list: Vec<Named> = w
        .orgs
        .all()
        .iter()
        .filter(|o| sees_org(&w, &c.0, &o.id))
        .cloned()
        .collect();
    data(StatusCode::OK, list)
}

async fn get_org(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path(org): Path<String>,
) -> Result<Response, V2Error> {
    Ok(data(StatusCode::OK, org_named(&st.world(), &c.0, &org)?))
}

async fn list_projects(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path(org): Path<String>,
) -> Result<Response, V2Error> {
    let w = st.world();
    org_named(&w, &c.0, &org)?;
    Ok(data(StatusCode::OK, projects(&w, &c.0, &org)))
}

async fn list_filters(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path(org): Path<String>,
) -> Result<Response, V2Error> {
    let w = st.world();
    org_named(&w, &c.0, &org)?;
    Ok(Json(w.ip_filters.list(&org)).into_response())
}

async fn get_filter(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    let w = st.world();
    org_named(&w, &c.0, &org)?;
    Ok(Json(w.ip_filters.get(&org, &id)?).into_response())
}

/// The write as read under the current quirks and faults.
fn read_write(st: &SimState, obj: &Map<String, Value>) -> Result<FilterWrite, V2Error> {
    let faults = st.faults();
    parse_write(
        obj,
        &WriteRules {
            write_names_only: faults.quirks.write_names_only,
            ignored: &faults.ip_filter_ignored_fields,
        },
    )
}

/// What a filter of `org` may name for this client: the organization's
/// projects it sees and their instances.
fn reachable(w: &mut World, client: &str, org: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let projects: BTreeSet<String> = projects(w, client, org).into_iter().map(|p| p.id).collect();
    let tenants: HashMap<String, String> = w.instance_tenants(Instant::now());
    let instances = tenants
        .into_iter()
        .filter(|(_, t)| projects.contains(t))
        .map(|(i, _)| i)
        .collect();
    (instances, projects)
}

fn in_org<'a>(
    (instances, projects): &'a (BTreeSet<String>, BTreeSet<String>),
) -> impl Fn(&Entity) -> bool + 'a {
    move |e| match e {
        Entity::Instance(id) => instances.contains(id),
        Entity::Project(id) => projects.contains(id),
    }
}

async fn create_filter(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    org_named(&st.world(), &c.0, &org)?;
    let obj = json_object(&headers, &body)?;
    let write = read_write(&st, &obj)?;
    let mut w = st.world();
    let reach = reachable(&mut w, &c.0, &org);
    let view = w
        .ip_filters
        .create(&org, write, &in_org(&reach), Instant::now())?;
    Ok(Json(view).into_response())
}

async fn patch_filter(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    org_named(&st.world(), &c.0, &org)?;
    let obj = json_object(&headers, &body)?;
    let write = read_write(&st, &obj)?;
    let mut w = st.world();
    let reach = reachable(&mut w, &c.0, &org);
    let view = w
        .ip_filters
        .patch(&org, &id, write, &in_org(&reach), Instant::now())?;
    Ok(Json(view).into_response())
}

async fn delete_filter(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    let deleted = {
        let mut w = st.world();
        org_named(&w, &c.0, &org)?;
        w.ip_filters.delete(&org, &id)
    };
    // Live answers 500 whether the filter was there or not (notes item 81).
    if st.faults().quirks.delete_answers_500 {
        return Err(V2Error::internal());
    }
    deleted?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn instance_filter(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, instance)): Path<(String, String, String)>,
) -> Result<Response, V2Error> {
    let now = Instant::now();
    let mut w = st.world();
    org_named(&w, &c.0, &org)?;
    if !projects(&w, &c.0, &org).iter().any(|p| p.id == project) {
        return Err(V2Error::project_not_found(&project));
    }
    if w.instance_tenants(now).get(&instance) != Some(&project) {
        return Err(V2Error::instance_not_found(&instance));
    }
    let delay = w.ip_filter_delay();
    match w.ip_filters.applying(&org, &instance, &project, now, delay) {
        Some(s) => Ok(Json(s).into_response()),
        None => Err(V2Error::new(
            StatusCode::NOT_FOUND,
            "ip-filter-not-found",
            format!("No IP filter applies to instance {instance}"),
        )),
    }
}
