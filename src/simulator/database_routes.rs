//! `/v2beta1` instances and their databases: the create (the v1 create
//! underneath, `v2_instances.rs`), the list and GET of a project's
//! instances, and per instance its databases, their backups and restores
//! (`databases.rs`). Answers in `{"data": ...}`; a restore answers 202 with
//! no body. A client reaches a project as the other `/v2beta1` routes
//! decide (`v2beta1_http.rs`); an instance of another project is 404
//! `instance-not-found`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::catalogue::parse_create;
use super::http::{ClientId, data};
use super::shared::{CreateRecord, SimState};
use super::v2_instances::{create_response, details, from_v1, parse_v2_create};
use super::v2beta1::V2Error;
use super::v2beta1_http::{json_object, org_project};

const INSTANCES: &str = "/v2beta1/organizations/{org_id}/projects/{project_id}/instances";

pub fn router() -> Router<SimState> {
    let i = format!("{INSTANCES}/{{instance_id}}");
    let d = format!("{i}/databases/{{database_id}}");
    Router::new()
        .route(INSTANCES, get(list_instances).post(create_instance))
        .route(&i, get(get_instance))
        .route(
            &format!("{i}/databases"),
            get(list_databases).post(create_database),
        )
        .route(&d, get(get_database).delete(delete_database))
        .route(
            &format!("{d}/backups"),
            get(list_backups).post(create_backup),
        )
        .route(&format!("{d}/backups/{{backup_id}}"), get(get_backup))
        .route(&format!("{d}/restore"), post(restore))
}

/// `InstanceSummary`: what `GET P/instances` lists.
#[derive(Debug, Serialize)]
struct Summary {
    id: String,
    name: String,
    cloud_provider: String,
    created_at: String,
}

async fn list_instances(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let list: Vec<Summary> = w
        .list(Some(&project), Instant::now())
        .into_iter()
        .map(|i| Summary {
            id: i.id.clone(),
            name: i.name.clone(),
            cloud_provider: i.cloud_provider.clone(),
            created_at: i.created_at.clone(),
        })
        .collect();
    Ok(data(StatusCode::OK, list))
}

/// 202 with the created instance; counted and recorded as a v1 create is
/// (`creates_committed`, `GET /admin/requests/creates`, with the v1 body
/// it was read into).
async fn create_instance(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    org_project(&st.world(), &c.0, &org, &project)?;
    let obj = json_object(&headers, &body)?;
    let now = Instant::now();
    let mut recorded: Map<String, Value> = obj.clone();
    let result = {
        let mut w = st.world();
        parse_v2_create(&obj, &project, &w.catalogue).and_then(|v2| {
            recorded = v2.v1_body.clone();
            let spec = parse_create(&v2.v1_body, &w.tenants, &w.catalogue).map_err(from_v1)?;
            let (created, default) = w.create_v2(spec, v2.facts, now).map_err(from_v1)?;
            let rec = w.get(&created.id, now).map_err(from_v1)?;
            Ok(create_response(&created, rec, default))
        })
    };
    let status = match &result {
        Ok(_) => StatusCode::ACCEPTED,
        Err(e) => e.status,
    };
    let id = result.as_ref().ok().map(|r| r.id.clone());
    if id.is_some() {
        st.count(|c| c.creates_committed += 1);
    }
    st.record_create(CreateRecord::new(
        &recorded,
        status.as_u16().to_string(),
        id,
    ));
    Ok(data(StatusCode::ACCEPTED, result?))
}

/// 500 for an instance made through v1, as live answers.
async fn get_instance(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id)): Path<(String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let rec = w.project_instance(&project, &id, Instant::now())?;
    Ok(data(StatusCode::OK, details(rec)?))
}

async fn list_databases(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id)): Path<(String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let (dbs, _, _) = w.databases_of(&project, &id, Instant::now())?;
    Ok(data(StatusCode::OK, dbs.list()))
}

/// `{"name"}` (other keys ignored). 409 `multi-db-only` on a
/// single-database instance, whatever its state; then 409
/// `instance-not-running`; then the name's 422s.
async fn create_database(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let obj = json_object(&headers, &body)?;
    let Some(name) = obj.get("name").and_then(Value::as_str) else {
        return Err(V2Error::validation("name", "name is required"));
    };
    let (dbs, multi, refusal) = w.databases_of(&project, &id, Instant::now())?;
    if multi && let Some(e) = refusal {
        return Err(e);
    }
    Ok(data(StatusCode::CREATED, dbs.create(name, multi)?))
}

async fn get_database(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id, db)): Path<(String, String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let (dbs, _, _) = w.databases_of(&project, &id, Instant::now())?;
    Ok(data(StatusCode::OK, dbs.get(&db)?))
}

/// 202 with the database, gone at once.
async fn delete_database(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id, db)): Path<(String, String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let (dbs, _, refusal) = w.databases_of(&project, &id, Instant::now())?;
    dbs.get(&db)?;
    if let Some(e) = refusal {
        return Err(e);
    }
    Ok(data(StatusCode::ACCEPTED, dbs.delete(&db)?))
}

/// No body (any is ignored). 202 `{"id"}`.
async fn create_backup(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id, db)): Path<(String, String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let now = Instant::now();
    let (dbs, _, refusal) = w.databases_of(&project, &id, now)?;
    dbs.get(&db)?;
    if let Some(e) = refusal {
        return Err(e);
    }
    let backup = dbs.back_up(&db, super::state::now_rfc3339(), now)?;
    Ok(data(StatusCode::ACCEPTED, json!({"id": backup})))
}

async fn list_backups(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id, db)): Path<(String, String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let takes = w.database_backup_time();
    let now = Instant::now();
    let (dbs, _, _) = w.databases_of(&project, &id, now)?;
    Ok(data(StatusCode::OK, dbs.backups(&db, now, takes)?))
}

async fn get_backup(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id, db, backup)): Path<(String, String, String, String, String)>,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let takes = w.database_backup_time();
    let now = Instant::now();
    let (dbs, _, _) = w.databases_of(&project, &id, now)?;
    Ok(data(StatusCode::OK, dbs.backup(&db, &backup, now, takes)?))
}

/// The backup's id as `backup_id` (the document) or `id` (what live took,
/// notes item 82); both naming different backups is a 400.
fn backup_named(obj: &Map<String, Value>) -> Result<String, V2Error> {
    let field = |k: &str| match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(V2Error::validation(k, format!("{k} must be a backup id"))),
    };
    match (field("backup_id")?, field("id")?) {
        (Some(a), Some(b)) if a != b => Err(V2Error::validation(
            "backup_id",
            "backup_id and id name different backups",
        )),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(V2Error::validation("backup_id", "backup_id is required")),
    }
}

/// 202 with no body; the restore is recorded (live shows no restore status).
async fn restore(
    State(st): State<SimState>,
    Extension(c): Extension<ClientId>,
    Path((org, project, id, db)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V2Error> {
    let mut w = st.world();
    org_project(&w, &c.0, &org, &project)?;
    let backup = backup_named(&json_object(&headers, &body)?)?;
    let takes = w.database_backup_time();
    let now = Instant::now();
    let (dbs, _, refusal) = w.databases_of(&project, &id, now)?;
    dbs.get(&db)?;
    if let Some(e) = refusal {
        return Err(e);
    }
    dbs.restore(&db, &backup, super::state::now_rfc3339(), now, takes)?;
    Ok(StatusCode::ACCEPTED.into_response())
}
