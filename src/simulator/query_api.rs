//! Each instance's Neo4j Query API, enough for a credential check: `POST
//! /db/{database}/query/v2` with HTTP Basic and `RETURN 1`, answered the way
//! Neo4j 5 answers it. The instance is the one the request's host names
//! (`<id>.databases.neo4j.io`, as in its connection URL), either from the
//! `Host` header or, for a client that cannot resolve those names, from the
//! path: `/query-api/{host}/db/{database}/query/v2` (what the operator's
//! `--query-api-url` points at in tests). Not an Aura API call: no token, no
//! rate limit, counted apart.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::auth::parse_basic;
use super::shared::SimState;
use crate::aura::model::InstanceStatus;

/// The path prefix of the Query API as reached through the simulator's own address.
pub const VIA_PATH: &str = "/query-api/";

/// Whether a request path is the Query API's (not counted as an Aura call).
pub fn is_query_api(path: &str) -> bool {
    path.starts_with(VIA_PATH) || path.starts_with("/db/")
}

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/db/{database}/query/v2", post(by_host_header))
        .route("/query-api/{host}/db/{database}/query/v2", post(by_path))
}

async fn by_host_header(
    State(st): State<SimState>,
    Path(database): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    answer(&st, &host, &database, &headers, &body)
}

async fn by_path(
    State(st): State<SimState>,
    Path((host, database)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&st, &host, &database, &headers, &body)
}

fn neo4j_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}

fn answer(st: &SimState, host: &str, database: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let response = respond(st, host, database, headers, body);
    let status = response.status().as_u16().to_string();
    st.count(|c| *c.query_api.entry(status).or_default() += 1);
    response
}

fn respond(
    st: &SimState,
    host: &str,
    database: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    // `<id>.databases.neo4j.io[:port]`: the instance id is the first label.
    let id = host.split(['.', ':']).next().unwrap_or_default();
    let Some(instance) = st.instance(id) else {
        // Where the real name would not resolve.
        return neo4j_error(
            StatusCode::BAD_GATEWAY,
            "Neo.TransientError.General.DatabaseUnavailable",
            "no database answers at this host",
        );
    };
    if instance.instance.status != InstanceStatus::Running {
        return neo4j_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Neo.TransientError.General.DatabaseUnavailable",
            "the database is not running",
        );
    }
    let login = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(parse_basic);
    match login {
        Some((user, password)) if user == instance.username && password == instance.password => {}
        _ => {
            return neo4j_error(
                StatusCode::UNAUTHORIZED,
                "Neo.ClientError.Security.Unauthorized",
                "Invalid credential.",
            );
        }
    }
    if database != "neo4j" {
        return neo4j_error(
            StatusCode::NOT_FOUND,
            "Neo.ClientError.Database.DatabaseNotFound",
            &format!("Graph not found: {database}"),
        );
    }
    let statement = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("statement")?.as_str().map(str::to_string));
    match statement.as_deref().map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("RETURN 1") => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "data": {"fields": ["1"], "values": [[1]]},
                "bookmarks": [format!("FB:sim-{id}")],
            })),
        )
            .into_response(),
        Some(_) => neo4j_error(
            StatusCode::BAD_REQUEST,
            "Neo.ClientError.Statement.SyntaxError",
            "the simulator runs RETURN 1 only",
        ),
        None => neo4j_error(
            StatusCode::BAD_REQUEST,
            "Neo.ClientError.Request.Invalid",
            "the body must be a JSON object with a statement",
        ),
    }
}
