//! Each instance's Neo4j Query API: `POST /db/{database}/query/v2` with HTTP
//! Basic, answered the way Neo4j 5 (measured against 5.26) answers it. It
//! runs `RETURN 1` (a credential check) and the user administration the
//! operator does: `SHOW USERS`, `SHOW ROLES`, `CREATE USER`, `ALTER USER`,
//! `DROP USER`, `GRANT ROLE`, `REVOKE ROLE` (on `system`, for the admin only)
//! and `ALTER CURRENT USER` (for anyone), over the instance's users (see
//! [`InstanceDatabase`]): the admin, whose password is the instance record's,
//! and the users made here. Logins are checked against them. Statements are
//! matched by their form, whitespace and keyword case aside, with their
//! parameters by name; one of no known form is a syntax error, as a statement
//! the operator got wrong would be to a real Neo4j.
//!
//! The instance is the one the request's host names
//! (`<id>.databases.neo4j.io`, as in its connection URL), either from the
//! `Host` header or, for a client that cannot resolve those names, from the
//! path: `/query-api/{host}/db/{database}/query/v2` (what the operator's
//! `--query-api-url` points at in tests). Not an Aura API call: no token, no
//! rate limit, counted apart (by status, and statements by form).

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::auth::parse_basic;
use super::shared::SimState;
use super::state::InstanceDatabase;
use crate::aura::model::InstanceStatus;

/// The path prefix of the Query API as reached through the simulator's own address.
pub const VIA_PATH: &str = "/query-api/";

/// The database administration commands run against.
const SYSTEM: &str = "system";

/// The databases every instance serves.
const DATABASES: &[&str] = &["neo4j", SYSTEM];

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
    into_response(handle(&st, &host, &database, &headers, &body))
}

async fn by_path(
    State(st): State<SimState>,
    Path((host, database)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    into_response(handle(&st, &host, &database, &headers, &body))
}

fn into_response((status, body): (StatusCode, Value)) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A statement the simulator runs, by its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Return1,
    ShowUsers,
    ShowRoles,
    CreateUser,
    AlterUser,
    DropUser,
    GrantRole,
    RevokeRole,
    AlterCurrentUser,
}

impl Form {
    pub const ALL: [Form; 9] = [
        Form::Return1,
        Form::ShowUsers,
        Form::ShowRoles,
        Form::CreateUser,
        Form::AlterUser,
        Form::DropUser,
        Form::GrantRole,
        Form::RevokeRole,
        Form::AlterCurrentUser,
    ];

    /// The statement as Neo4j takes it. Its uppercase words are keywords
    /// (any case will do); everything else (names, `$parameters`, numbers,
    /// punctuation) must be written as here.
    fn template(self) -> &'static str {
        match self {
            Form::Return1 => "RETURN 1",
            Form::ShowUsers => {
                "SHOW USERS YIELD user, roles WHERE user IN $names RETURN user, roles"
            }
            Form::ShowRoles => "SHOW ROLES YIELD role WHERE role IN $roles RETURN role",
            Form::CreateUser => "CREATE USER $name SET PASSWORD $password CHANGE NOT REQUIRED",
            Form::AlterUser => "ALTER USER $name SET PASSWORD $password CHANGE NOT REQUIRED",
            Form::DropUser => "DROP USER $name IF EXISTS",
            Form::GrantRole => "GRANT ROLE $role TO $name",
            Form::RevokeRole => "REVOKE ROLE $role FROM $name",
            Form::AlterCurrentUser => "ALTER CURRENT USER SET PASSWORD FROM $old TO $new",
        }
    }

    /// Its name in [`super::shared::Counters::query_api_statements`].
    pub fn name(self) -> &'static str {
        match self {
            Form::Return1 => "RETURN 1",
            Form::ShowUsers => "SHOW USERS",
            Form::ShowRoles => "SHOW ROLES",
            Form::CreateUser => "CREATE USER",
            Form::AlterUser => "ALTER USER",
            Form::DropUser => "DROP USER",
            Form::GrantRole => "GRANT ROLE",
            Form::RevokeRole => "REVOKE ROLE",
            Form::AlterCurrentUser => "ALTER CURRENT USER",
        }
    }

    /// The parameters it takes, in the order they appear in it.
    fn parameters(self) -> Vec<&'static str> {
        tokens(self.template())
            .into_iter()
            .filter_map(|t| t.strip_prefix('$'))
            .collect()
    }

    /// An administration command: run on `system`, by the admin only.
    fn is_administration(self) -> bool {
        !matches!(self, Form::Return1 | Form::AlterCurrentUser)
    }
}

/// The normaliser: a statement as its tokens, whitespace gone. A token is a
/// word (letters, digits, `_`), a parameter (`$` and a word) or any other
/// single character.
pub fn tokens(statement: &str) -> Vec<&str> {
    let word_len = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut out = Vec::new();
    let mut rest = statement.trim_start();
    while let Some(c) = rest.chars().next() {
        let len = if c == '$' {
            1 + word_len(&rest[1..])
        } else if c.is_alphanumeric() || c == '_' {
            word_len(rest)
        } else {
            c.len_utf8()
        };
        out.push(&rest[..len]);
        rest = rest[len..].trim_start();
    }
    out
}

/// A keyword of a template: a word of uppercase letters.
fn is_keyword(token: &str) -> bool {
    token.chars().all(|c| c.is_ascii_uppercase())
}

/// The form a statement has, if any: the same tokens as its template,
/// keywords in any case.
pub fn form(statement: &str) -> Option<Form> {
    let got = tokens(statement);
    Form::ALL.into_iter().find(|f| {
        let want = tokens(f.template());
        got.len() == want.len()
            && got.iter().zip(&want).all(|(g, w)| {
                if is_keyword(w) {
                    g.eq_ignore_ascii_case(w)
                } else {
                    g == w
                }
            })
    })
}

/// A refusal, as Neo4j's Query API sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

fn argument_error(message: String) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        "Neo.ClientError.Statement.ArgumentError",
        message,
    )
}

/// What community-like tiers (no role-based access control) answer to role commands.
fn unsupported(statement: &str) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        "Neo.ClientError.Statement.UnsupportedAdministrationCommand",
        format!("Unsupported administration command: {statement}"),
    )
}

fn type_error(name: &str, want: &str) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        "Neo.ClientError.Statement.TypeError",
        format!("Expected parameter ${name} to be a {want}"),
    )
}

/// What a statement returns: its fields and rows (none for a command).
pub type Rows = (Vec<&'static str>, Vec<Vec<Value>>);

fn no_rows() -> Rows {
    (Vec::new(), Vec::new())
}

/// A string parameter (its presence is checked before).
fn text<'a>(params: &'a Value, name: &str) -> Result<&'a str, Refusal> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| type_error(name, "String"))
}

/// A list parameter's strings (its presence is checked before).
fn strings<'a>(params: &'a Value, name: &str) -> Result<BTreeSet<&'a str>, Refusal> {
    let list = params
        .get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| type_error(name, "List"))?;
    Ok(list.iter().filter_map(Value::as_str).collect())
}

/// Runs one statement for `login` (logged in already) on `database` (one
/// that exists), as Neo4j 5 would.
pub fn run(
    db: &mut InstanceDatabase<'_>,
    login: &str,
    database: &str,
    statement: &str,
    params: &Value,
) -> Result<Rows, Refusal> {
    let Some(form) = form(statement) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Neo.ClientError.Statement.SyntaxError",
            format!("Invalid input: the simulator knows no statement of this form: {statement}"),
        ));
    };
    if form.is_administration() {
        if database != SYSTEM {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "Neo.ClientError.Statement.NotSystemDatabaseError",
                "This is an administration command and it should be executed against the system database",
            ));
        }
        if !db.is_admin(login) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "Neo.ClientError.Security.Forbidden",
                "Permission denied.",
            ));
        }
    }
    if matches!(form, Form::ShowRoles | Form::GrantRole | Form::RevokeRole) && !db.rbac {
        return Err(unsupported(statement));
    }
    let missing: Vec<&str> = form
        .parameters()
        .into_iter()
        .filter(|p| params.get(p).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Neo.ClientError.Statement.ParameterMissing",
            format!("Expected parameter(s): {}", missing.join(", ")),
        ));
    }
    match form {
        Form::Return1 => Ok((vec!["1"], vec![vec![json!(1)]])),
        Form::ShowUsers => {
            let names = strings(params, "names")?;
            let rows = db
                .users()
                .into_iter()
                .filter(|(user, _)| names.contains(user.as_str()))
                .map(|(user, roles)| vec![json!(user), json!(roles)])
                .collect();
            Ok((vec!["user", "roles"], rows))
        }
        Form::ShowRoles => {
            let rows = strings(params, "roles")?
                .into_iter()
                .filter(|r| db.has_role(r))
                .map(|r| vec![json!(r)])
                .collect();
            Ok((vec!["role"], rows))
        }
        Form::CreateUser => {
            let (name, password) = (text(params, "name")?, text(params, "password")?);
            if !db.create_user(name, password) {
                return Err(argument_error(format!(
                    "Failed to create the specified user '{name}': User already exists."
                )));
            }
            Ok(no_rows())
        }
        Form::AlterUser => {
            let (name, password) = (text(params, "name")?, text(params, "password")?);
            if !db.set_password(name, password) {
                return Err(argument_error(format!(
                    "Failed to alter the specified user '{name}': User does not exist."
                )));
            }
            Ok(no_rows())
        }
        Form::DropUser => {
            let name = text(params, "name")?;
            if name == login {
                return Err(argument_error(format!(
                    "Failed to delete the specified user '{name}': Deleting yourself is not allowed."
                )));
            }
            db.drop_user(name);
            Ok(no_rows())
        }
        Form::GrantRole | Form::RevokeRole => {
            let (role, name) = (text(params, "role")?, text(params, "name")?);
            let grant = form == Form::GrantRole;
            let what = if grant {
                format!("Failed to grant role '{role}' to user '{name}'")
            } else {
                format!("Failed to revoke role '{role}' from user '{name}'")
            };
            if !db.has_role(role) {
                return Err(argument_error(format!("{what}: Role does not exist.")));
            }
            if !db.set_role(name, role, grant) {
                return Err(argument_error(format!("{what}: User does not exist.")));
            }
            Ok(no_rows())
        }
        Form::AlterCurrentUser => {
            let (old, new) = (text(params, "old")?, text(params, "new")?);
            let failed = |why: &str| {
                argument_error(format!(
                    "User '{login}' failed to alter their own password: {why}"
                ))
            };
            if !db.logs_in(login, old) {
                return Err(failed("Invalid principal or credentials."));
            }
            if old == new {
                return Err(failed("Old password and new password cannot be the same."));
            }
            db.set_password(login, new);
            Ok(no_rows())
        }
    }
}

fn neo4j_error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"errors": [{"code": code, "message": message}]}),
    )
}

/// Answers one request and counts it: by status, and its statement (other
/// than `RETURN 1`, once logged in) by instance and form.
fn handle(
    st: &SimState,
    host: &str,
    database: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Value) {
    let (answer, counted) = respond(st, host, database, headers, body);
    st.count(|c| {
        *c.query_api
            .entry(answer.0.as_u16().to_string())
            .or_default() += 1;
        if let Some((id, form)) = counted {
            *c.query_api_statements
                .entry(id)
                .or_default()
                .entry(form.to_string())
                .or_default() += 1;
        }
    });
    answer
}

/// The answer, and the instance and statement form to count, if any.
type Responded = ((StatusCode, Value), Option<(String, &'static str)>);

fn respond(
    st: &SimState,
    host: &str,
    database: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Responded {
    // `<id>.databases.neo4j.io[:port]`: the instance id is the first label.
    let id = host.split(['.', ':']).next().unwrap_or_default();
    let login = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(parse_basic);
    let request = serde_json::from_slice::<Value>(body).ok();
    let statement = request.as_ref().and_then(|v| v.get("statement")?.as_str());
    let params = request
        .as_ref()
        .and_then(|v| v.get("parameters"))
        .cloned()
        .unwrap_or(Value::Null);
    // A multi-database instance also serves the databases made in it (v2beta1).
    let made: Vec<String> = st.databases(id).into_iter().map(|d| d.name).collect();
    let answered = st.world().instance_database(id, Instant::now(), |db| {
        if *db.status != InstanceStatus::Running {
            return (
                neo4j_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Neo.TransientError.General.DatabaseUnavailable",
                    "the database is not running",
                ),
                None,
            );
        }
        let Some((user, _)) = login.filter(|(u, p)| db.logs_in(u, p)) else {
            return (
                neo4j_error(
                    StatusCode::UNAUTHORIZED,
                    "Neo.ClientError.Security.Unauthorized",
                    "Invalid credential.",
                ),
                None,
            );
        };
        if !DATABASES.contains(&database) && !made.iter().any(|m| m == database) {
            return (
                neo4j_error(
                    StatusCode::NOT_FOUND,
                    "Neo.ClientError.Database.DatabaseNotFound",
                    &format!("Graph not found: {database}"),
                ),
                None,
            );
        }
        let Some(statement) = statement else {
            return (
                neo4j_error(
                    StatusCode::BAD_REQUEST,
                    "Neo.ClientError.Request.Invalid",
                    "the body must be a JSON object with a statement",
                ),
                None,
            );
        };
        let counted = match form(statement) {
            Some(Form::Return1) => None,
            Some(f) => Some((id.to_string(), f.name())),
            None => Some((id.to_string(), "(unknown)")),
        };
        let answer = match run(db, &user, database, statement, &params) {
            Ok((fields, values)) => (
                StatusCode::ACCEPTED,
                json!({
                    "data": {"fields": fields, "values": values},
                    "bookmarks": [format!("FB:sim-{id}")],
                }),
            ),
            Err(r) => neo4j_error(r.status, r.code, &r.message),
        };
        (answer, counted)
    });
    // Where the real name would not resolve.
    answered.unwrap_or_else(|| {
        (
            neo4j_error(
                StatusCode::BAD_GATEWAY,
                "Neo.TransientError.General.DatabaseUnavailable",
                "no database answers at this host",
            ),
            None,
        )
    })
}

#[cfg(test)]
#[path = "query_api_tests.rs"]
mod tests;
