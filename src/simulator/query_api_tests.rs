//! The Query API's user administration, as a Neo4j 5.26 answers it.
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::http::HeaderValue;
use base64::Engine;

use super::*;
use crate::aura::model::TenantSummary;
use crate::simulator::auth::{SlidingWindow, TokenStore};
use crate::simulator::catalogue::{CreateSpec, default_catalogue};
use crate::simulator::faults::Faults;
use crate::simulator::shared::AuthState;
use crate::simulator::state::{ConsoleUpdate, Timings, World};

const CREATE: &str = "CREATE USER $name SET PASSWORD $password CHANGE NOT REQUIRED";
const ALTER: &str = "ALTER USER $name SET PASSWORD $password CHANGE NOT REQUIRED";
const DROP: &str = "DROP USER $name IF EXISTS";
const SHOW_USERS: &str = "SHOW USERS YIELD user, roles WHERE user IN $names RETURN user, roles";
const SHOW_ROLES: &str = "SHOW ROLES YIELD role WHERE role IN $roles RETURN role";
const GRANT: &str = "GRANT ROLE $role TO $name";
const REVOKE: &str = "REVOKE ROLE $role FROM $name";
const ALTER_CURRENT: &str = "ALTER CURRENT USER SET PASSWORD FROM $old TO $new";

/// A tier without role-based access control, and one with it.
const PLAIN: &str = "professional-db";
const RBAC: &str = "business-critical";

fn sim() -> SimState {
    let world = World::new(
        vec![TenantSummary {
            id: "t".into(),
            name: "T".into(),
        }],
        default_catalogue(),
        Timings::default(),
    );
    let auth = AuthState {
        clients: HashMap::new(),
        tokens: TokenStore::default(),
        requests: SlidingWindow::new(1000, Duration::from_secs(60)),
        token_calls: SlidingWindow::new(1000, Duration::from_secs(3600)),
        token_ttl: Duration::from_secs(3600),
    };
    SimState::new(world, auth, Faults::default())
}

/// A running instance of type `ty`: its id.
fn instance(st: &SimState, ty: &str) -> String {
    let spec = CreateSpec {
        name: "db".into(),
        tenant_id: "t".into(),
        cloud_provider: "gcp".into(),
        region: "europe-west1".into(),
        instance_type: ty.into(),
        version: "5".into(),
        memory: "4GB".into(),
        storage: "8GB".into(),
        vector_optimized: false,
        graph_analytics_plugin: false,
        source_instance_id: None,
        source_snapshot_id: None,
        customer_managed_key_id: None,
    };
    st.world().create(spec, Instant::now(), true).unwrap().id
}

/// The admin's password as the Aura side holds it.
fn admin_password(st: &SimState, id: &str) -> String {
    st.instance(id).unwrap().password
}

fn basic(user: &str, password: &str) -> HeaderMap {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
    );
    h
}

/// Sends a statement to the instance's `database` as `user`.
fn post(
    st: &SimState,
    id: &str,
    (user, password): (&str, &str),
    database: &str,
    statement: &str,
    parameters: Value,
) -> (StatusCode, Value) {
    let body = json!({"statement": statement, "parameters": parameters}).to_string();
    handle(
        st,
        &format!("{id}.databases.neo4j.io"),
        database,
        &basic(user, password),
        body.as_bytes(),
    )
}

/// Sends a statement to `system` as the admin.
fn admin(st: &SimState, id: &str, statement: &str, parameters: Value) -> (StatusCode, Value) {
    let password = admin_password(st, id);
    post(
        st,
        id,
        ("neo4j", &password),
        "system",
        statement,
        parameters,
    )
}

/// An error answer's code and message.
fn error(body: &Value) -> (&str, &str) {
    let e = &body["errors"][0];
    (
        e["code"].as_str().unwrap_or_default(),
        e["message"].as_str().unwrap_or_default(),
    )
}

fn rows(body: &Value) -> &Value {
    &body["data"]["values"]
}

#[test]
fn tokens_drop_whitespace_and_part_punctuation() {
    let cases: &[(&str, &[&str])] = &[
        ("RETURN 1", &["RETURN", "1"]),
        ("  return\n\t1  ", &["return", "1"]),
        (
            "YIELD user,roles WHERE user IN $names",
            &[
                "YIELD", "user", ",", "roles", "WHERE", "user", "IN", "$names",
            ],
        ),
        ("user , roles", &["user", ",", "roles"]),
        ("$a_1$b", &["$a_1", "$b"]),
        ("SET PASSWORD 'x'", &["SET", "PASSWORD", "'", "x", "'"]),
        ("", &[]),
        (" \n ", &[]),
    ];
    for (statement, want) in cases {
        assert_eq!(tokens(statement), *want, "{statement:?}");
    }
}

#[test]
fn forms_ignore_whitespace_and_keyword_case_but_not_names_or_words() {
    let cases: &[(&str, Option<Form>)] = &[
        ("RETURN 1", Some(Form::Return1)),
        ("return   1", Some(Form::Return1)),
        ("RETURN 2", None),
        (
            "show users\n  yield user,roles where user in $names\n  return user , roles",
            Some(Form::ShowUsers),
        ),
        (
            "SHOW USERS YIELD USER, ROLES WHERE USER IN $names RETURN USER, ROLES",
            None,
        ),
        (
            "Show Roles Yield role Where role In $roles Return role",
            Some(Form::ShowRoles),
        ),
        (
            "create user $name set password $password change not required",
            Some(Form::CreateUser),
        ),
        (
            "CREATE USER $NAME SET PASSWORD $password CHANGE NOT REQUIRED",
            None,
        ),
        ("CREATE USER $name SET PASSWORD $password", None),
        (
            "CREATE USER $name SET PASSWORD 'secret' CHANGE NOT REQUIRED",
            None,
        ),
        (
            "CREATE USER $name IF NOT EXISTS SET PASSWORD $password CHANGE NOT REQUIRED",
            None,
        ),
        (
            "alter user $name set password $password change not required",
            Some(Form::AlterUser),
        ),
        ("drop user $name if exists", Some(Form::DropUser)),
        ("DROP USER $name", None),
        ("grant role $role to $name", Some(Form::GrantRole)),
        ("GRANT ROLE $name TO $role", None),
        ("revoke role $role from $name", Some(Form::RevokeRole)),
        ("REVOKE ROLE $role TO $name", None),
        (
            "alter current user set password from $old to $new",
            Some(Form::AlterCurrentUser),
        ),
        ("ALTER CURRENT USER SET PASSWORD FROM $new TO $old", None),
        ("MATCH (n) RETURN n", None),
        ("", None),
    ];
    for (statement, want) in cases {
        assert_eq!(form(statement), *want, "{statement:?}");
    }
    for f in Form::ALL {
        assert_eq!(
            form(f.template()),
            Some(f),
            "{f:?} matches its own template"
        );
    }
}

#[test]
fn missing_parameters_are_named_in_order() {
    let st = sim();
    let id = instance(&st, RBAC);
    let cases: &[(&str, Value, &str)] = &[
        (CREATE, json!({}), "name, password"),
        (CREATE, json!({"name": "a"}), "password"),
        (ALTER, json!({"password": "p"}), "name"),
        (DROP, json!(null), "name"),
        (SHOW_USERS, json!({"roles": []}), "names"),
        (SHOW_ROLES, json!({"names": []}), "roles"),
        (GRANT, json!({"name": "a"}), "role"),
        (REVOKE, json!({"role": "reader"}), "name"),
        (ALTER_CURRENT, json!({"new": "x"}), "old"),
    ];
    for (statement, params, missing) in cases {
        let (status, body) = admin(&st, &id, statement, params.clone());
        assert_eq!(status, StatusCode::BAD_REQUEST, "{statement}");
        assert_eq!(
            error(&body),
            (
                "Neo.ClientError.Statement.ParameterMissing",
                format!("Expected parameter(s): {missing}").as_str()
            ),
            "{statement}"
        );
    }
}

const ARGUMENT: &str = "Neo.ClientError.Statement.ArgumentError";
const UNSUPPORTED: &str = "Neo.ClientError.Statement.UnsupportedAdministrationCommand";
const TYPE_ERROR: &str = "Neo.ClientError.Statement.TypeError";

/// A statement the admin sends and its refusal: (tier, database, statement,
/// parameters, status, code, message; an empty message is not compared).
type Refused<'a> = (&'a str, &'a str, &'a str, Value, u16, &'a str, &'a str);

/// Each statement, on a new instance, is refused as given and changes nothing.
fn assert_refused(cases: &[Refused<'_>]) {
    for (tier, database, statement, params, status, code, message) in cases {
        let st = sim();
        let id = instance(&st, tier);
        let password = admin_password(&st, &id);
        let (got, body) = post(
            &st,
            &id,
            ("neo4j", &password),
            database,
            statement,
            params.clone(),
        );
        let what = format!("{tier} {database}: {statement}");
        assert_eq!(got.as_u16(), *status, "{what}: {body}");
        assert_eq!(error(&body).0, *code, "{what}");
        if !message.is_empty() {
            assert_eq!(error(&body).1, *message, "{what}");
        }
        assert_eq!(admin_password(&st, &id), password, "{what} changed nothing");
        assert_eq!(st.database_users(&id).len(), 1, "{what} made no user");
    }
}

#[test]
fn refusals_of_an_unknown_form_another_database_or_a_wrong_type() {
    assert_refused(&[
        (
            PLAIN,
            "system",
            "CREATE USER $name SET PASSWORD $password",
            json!({"name": "a", "password": "p"}),
            400,
            "Neo.ClientError.Statement.SyntaxError",
            "",
        ),
        (
            PLAIN,
            "neo4j",
            CREATE,
            json!({"name": "a", "password": "p"}),
            400,
            "Neo.ClientError.Statement.NotSystemDatabaseError",
            "This is an administration command and it should be executed against the system database",
        ),
        (
            RBAC,
            "neo4j",
            SHOW_USERS,
            json!({"names": []}),
            400,
            "Neo.ClientError.Statement.NotSystemDatabaseError",
            "",
        ),
        (
            PLAIN,
            "system",
            CREATE,
            json!({"name": 5, "password": "p"}),
            400,
            TYPE_ERROR,
            "",
        ),
        (
            PLAIN,
            "system",
            SHOW_USERS,
            json!({"names": "neo4j"}),
            400,
            TYPE_ERROR,
            "",
        ),
    ]);
}

#[test]
fn refusals_of_user_commands() {
    assert_refused(&[
        (
            PLAIN,
            "system",
            CREATE,
            json!({"name": "neo4j", "password": "p"}),
            400,
            ARGUMENT,
            "Failed to create the specified user 'neo4j': User already exists.",
        ),
        (
            PLAIN,
            "system",
            ALTER,
            json!({"name": "ghost", "password": "p"}),
            400,
            ARGUMENT,
            "Failed to alter the specified user 'ghost': User does not exist.",
        ),
        (
            PLAIN,
            "system",
            DROP,
            json!({"name": "neo4j"}),
            400,
            ARGUMENT,
            "Failed to delete the specified user 'neo4j': Deleting yourself is not allowed.",
        ),
        (
            PLAIN,
            "system",
            ALTER_CURRENT,
            json!({"old": "wrong", "new": "next"}),
            400,
            ARGUMENT,
            "User 'neo4j' failed to alter their own password: Invalid principal or credentials.",
        ),
    ]);
}

#[test]
fn refusals_of_role_commands_by_tier() {
    assert_refused(&[
        (
            PLAIN,
            "system",
            "grant role $role  TO $name",
            json!({"role": "reader", "name": "neo4j"}),
            400,
            UNSUPPORTED,
            "Unsupported administration command: grant role $role  TO $name",
        ),
        (
            PLAIN,
            "system",
            REVOKE,
            json!({"role": "reader", "name": "neo4j"}),
            400,
            UNSUPPORTED,
            "Unsupported administration command: REVOKE ROLE $role FROM $name",
        ),
        (
            PLAIN,
            "system",
            SHOW_ROLES,
            json!({"roles": ["reader"]}),
            400,
            UNSUPPORTED,
            "Unsupported administration command: SHOW ROLES YIELD role WHERE role IN $roles RETURN role",
        ),
        (
            RBAC,
            "system",
            GRANT,
            json!({"role": "nope", "name": "neo4j"}),
            400,
            ARGUMENT,
            "Failed to grant role 'nope' to user 'neo4j': Role does not exist.",
        ),
        (
            RBAC,
            "system",
            GRANT,
            json!({"role": "reader", "name": "ghost"}),
            400,
            ARGUMENT,
            "Failed to grant role 'reader' to user 'ghost': User does not exist.",
        ),
        (
            RBAC,
            "system",
            REVOKE,
            json!({"role": "nope", "name": "ghost"}),
            400,
            ARGUMENT,
            "Failed to revoke role 'nope' from user 'ghost': Role does not exist.",
        ),
        (
            RBAC,
            "system",
            REVOKE,
            json!({"role": "reader", "name": "ghost"}),
            400,
            ARGUMENT,
            "Failed to revoke role 'reader' from user 'ghost': User does not exist.",
        ),
    ]);
}

#[test]
fn the_same_password_is_refused_to_alter_current_user() {
    let st = sim();
    let id = instance(&st, PLAIN);
    let password = admin_password(&st, &id);
    let (status, body) = admin(
        &st,
        &id,
        ALTER_CURRENT,
        json!({"old": password, "new": password}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error(&body),
        (
            "Neo.ClientError.Statement.ArgumentError",
            "User 'neo4j' failed to alter their own password: Old password and new password cannot be the same."
        )
    );
}

#[test]
fn only_the_admin_administers_and_anyone_changes_their_own_password() {
    for tier in [PLAIN, RBAC] {
        let st = sim();
        let id = instance(&st, tier);
        let (status, _) = admin(&st, &id, CREATE, json!({"name": "app", "password": "p1"}));
        assert_eq!(status, StatusCode::ACCEPTED);
        let app = ("app", "p1");
        for (statement, params) in [
            (CREATE, json!({"name": "b", "password": "p"})),
            (ALTER, json!({"name": "neo4j", "password": "p"})),
            (DROP, json!({"name": "neo4j"})),
            (SHOW_USERS, json!({"names": ["app"]})),
            (GRANT, json!({"role": "admin", "name": "app"})),
        ] {
            let (status, body) = post(&st, &id, app, "system", statement, params);
            assert_eq!(status, StatusCode::FORBIDDEN, "{tier}: {statement}");
            assert_eq!(
                error(&body),
                ("Neo.ClientError.Security.Forbidden", "Permission denied."),
                "{tier}: {statement}"
            );
        }
        let (status, body) = post(&st, &id, app, "neo4j", "RETURN 1", json!({}));
        assert_eq!((status, rows(&body)), (StatusCode::ACCEPTED, &json!([[1]])));
        // Any database will do for one's own password.
        let (status, body) = post(
            &st,
            &id,
            app,
            "neo4j",
            ALTER_CURRENT,
            json!({"old": "p1", "new": "p2"}),
        );
        assert_eq!(status, StatusCode::ACCEPTED, "{tier}: {body}");
        assert!(st.database_login_works(&id, "app", "p2"));
        assert!(!st.database_login_works(&id, "app", "p1"));
    }
}

#[test]
fn a_user_is_made_logs_in_is_altered_and_dropped() {
    let st = sim();
    let id = instance(&st, PLAIN);
    let (status, body) = admin(
        &st,
        &id,
        "create user $name\n  set password $password\n  change not required",
        json!({"name": "app", "password": "first"}),
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        body,
        json!({"data": {"fields": [], "values": []}, "bookmarks": [format!("FB:sim-{id}")]})
    );
    let (status, body) = post(&st, &id, ("app", "first"), "neo4j", "RETURN 1", json!({}));
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["data"], json!({"fields": ["1"], "values": [[1]]}));
    assert!(st.database_login_works(&id, "app", "first"));

    let (status, body) = admin(&st, &id, CREATE, json!({"name": "app", "password": "x"}));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error(&body).1,
        "Failed to create the specified user 'app': User already exists."
    );
    assert!(
        st.database_login_works(&id, "app", "first"),
        "a refused create changed nothing"
    );

    let (status, _) = admin(
        &st,
        &id,
        ALTER,
        json!({"name": "app", "password": "second"}),
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = post(&st, &id, ("app", "first"), "neo4j", "RETURN 1", json!({}));
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old password is refused"
    );
    assert_eq!(
        error(&body),
        (
            "Neo.ClientError.Security.Unauthorized",
            "Invalid credential."
        )
    );
    let (status, _) = post(&st, &id, ("app", "second"), "neo4j", "RETURN 1", json!({}));
    assert_eq!(status, StatusCode::ACCEPTED);

    let (status, body) = admin(
        &st,
        &id,
        SHOW_USERS,
        json!({"names": ["app", "neo4j", "ghost"]}),
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["data"]["fields"], json!(["user", "roles"]));
    assert_eq!(
        rows(&body),
        &json!([["app", null], ["neo4j", null]]),
        "roles are null without role-based access control"
    );

    for _ in 0..2 {
        let (status, body) = admin(&st, &id, DROP, json!({"name": "app"}));
        assert_eq!(status, StatusCode::ACCEPTED, "dropping is fine when absent");
        assert_eq!(body["data"], json!({"fields": [], "values": []}));
    }
    let (status, _) = post(&st, &id, ("app", "second"), "neo4j", "RETURN 1", json!({}));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(st.database_users(&id), vec![("neo4j".to_string(), None)]);
    let (status, body) = admin(&st, &id, SHOW_USERS, json!({"names": ["app"]}));
    assert_eq!((status, rows(&body)), (StatusCode::ACCEPTED, &json!([])));
}

#[test]
fn roles_where_the_tier_has_them() {
    let st = sim();
    let id = instance(&st, RBAC);
    assert!(st.add_database_role(&id, "analyst"));
    assert!(!st.add_database_role(&id, "analyst"), "exists already");
    assert!(!st.add_database_role(&id, "reader"), "built in");
    admin(&st, &id, CREATE, json!({"name": "app", "password": "p"}));
    for role in ["reader", "analyst", "reader"] {
        let (status, body) = admin(&st, &id, GRANT, json!({"role": role, "name": "app"}));
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let (status, body) = admin(&st, &id, SHOW_USERS, json!({"names": ["neo4j", "app"]}));
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        rows(&body),
        &json!([
            ["app", ["PUBLIC", "analyst", "reader"]],
            ["neo4j", ["PUBLIC", "admin"]],
        ])
    );
    let (status, body) = admin(
        &st,
        &id,
        SHOW_ROLES,
        json!({"roles": ["reader", "nope", "analyst", "PUBLIC", "admin", "reader", 3]}),
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["data"]["fields"], json!(["role"]));
    assert_eq!(
        rows(&body),
        &json!([["PUBLIC"], ["admin"], ["analyst"], ["reader"]])
    );
    let (status, _) = admin(&st, &id, REVOKE, json!({"role": "reader", "name": "app"}));
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = admin(&st, &id, REVOKE, json!({"role": "editor", "name": "app"}));
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "revoking a role not held is fine"
    );
    assert_eq!(
        st.database_users(&id),
        vec![
            (
                "app".to_string(),
                Some(vec!["PUBLIC".to_string(), "analyst".to_string()])
            ),
            (
                "neo4j".to_string(),
                Some(vec!["PUBLIC".to_string(), "admin".to_string()])
            ),
        ]
    );
}

#[test]
fn role_based_access_follows_the_instance_type() {
    let cases = [
        ("professional-db", false),
        ("professional-ds", false),
        ("free-db", false),
        ("business-critical", true),
        ("enterprise-db", true),
        ("enterprise-ds", true),
        ("not-a-type", false),
    ];
    for (ty, rbac) in cases {
        let st = sim();
        let id = instance(&st, ty);
        assert_eq!(st.add_database_role(&id, "custom"), rbac, "{ty}");
        let roles = st.database_users(&id)[0].1.clone();
        assert_eq!(roles.is_some(), rbac, "{ty}");
        let (status, body) = admin(&st, &id, SHOW_ROLES, json!({"roles": ["custom"]}));
        let want = if rbac {
            StatusCode::ACCEPTED
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, want, "{ty}: {body}");
    }
}

#[test]
fn the_admin_password_is_the_instance_record_s() {
    let st = sim();
    let id = instance(&st, PLAIN);
    let first = admin_password(&st, &id);
    // As the operator rotates it.
    let (status, body) = admin(
        &st,
        &id,
        ALTER_CURRENT,
        json!({"old": first, "new": "second"}),
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(admin_password(&st, &id), "second");
    assert!(st.database_login_works(&id, "neo4j", "second"));
    assert!(!st.database_login_works(&id, "neo4j", &first));
    // As an administrator would reset it.
    let (status, _) = admin(
        &st,
        &id,
        ALTER,
        json!({"name": "neo4j", "password": "third"}),
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(admin_password(&st, &id), "third");
    // As the console would.
    st.console_update(
        &id,
        &ConsoleUpdate {
            password: Some("fourth".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(st.database_login_works(&id, "neo4j", "fourth"));
    let (status, _) = post(&st, &id, ("neo4j", "third"), "neo4j", "RETURN 1", json!({}));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn hosts_states_logins_and_databases() {
    let st = sim();
    let id = instance(&st, PLAIN);
    let password = admin_password(&st, &id);
    let body = json!({"statement": "RETURN 1"}).to_string();
    let ask = |host: &str, database: &str, headers: &HeaderMap| {
        handle(&st, host, database, headers, body.as_bytes())
    };
    let host = format!("{id}.databases.neo4j.io:443");
    let good = basic("neo4j", &password);
    let cases: &[(&str, &str, HeaderMap, u16, &str)] = &[
        (&host, "neo4j", good.clone(), 202, ""),
        (&host, "system", good.clone(), 202, ""),
        (
            &host,
            "other",
            good.clone(),
            404,
            "Neo.ClientError.Database.DatabaseNotFound",
        ),
        (
            &host,
            "neo4j",
            basic("neo4j", "wrong"),
            401,
            "Neo.ClientError.Security.Unauthorized",
        ),
        (
            &host,
            "neo4j",
            basic("ghost", &password),
            401,
            "Neo.ClientError.Security.Unauthorized",
        ),
        (
            &host,
            "neo4j",
            HeaderMap::new(),
            401,
            "Neo.ClientError.Security.Unauthorized",
        ),
        (
            "ffffffff.databases.neo4j.io",
            "neo4j",
            good.clone(),
            502,
            "Neo.TransientError.General.DatabaseUnavailable",
        ),
    ];
    for (host, database, headers, status, code) in cases {
        let (got, body) = ask(host, database, headers);
        assert_eq!(got.as_u16(), *status, "{host} {database}: {body}");
        if !code.is_empty() {
            assert_eq!(error(&body).0, *code, "{host} {database}");
        }
    }
    let (_, body) = ask(&host, "other", &good);
    assert_eq!(error(&body).1, "Graph not found: other");
    let (_, body) = ask(&host, "neo4j", &basic("neo4j", "wrong"));
    assert_eq!(error(&body).1, "Invalid credential.");

    st.console_update(
        &id,
        &ConsoleUpdate {
            paused: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let (status, body) = ask(&host, "neo4j", &good);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        error(&body).0,
        "Neo.TransientError.General.DatabaseUnavailable"
    );
    assert!(
        st.database_login_works(&id, "neo4j", &password),
        "a paused instance keeps its users"
    );
}

#[test]
fn statements_are_counted_by_instance_and_form() {
    let st = sim();
    let (id, other) = (instance(&st, PLAIN), instance(&st, PLAIN));
    admin(&st, &id, "RETURN 1", json!({}));
    assert!(
        st.query_api_statements(&id).is_empty(),
        "RETURN 1 is no statement to count"
    );
    admin(&st, &id, CREATE, json!({"name": "a", "password": "p"}));
    admin(&st, &id, CREATE, json!({"name": "a", "password": "p"}));
    admin(&st, &id, GRANT, json!({"role": "reader", "name": "a"}));
    admin(&st, &id, "CREATE USR $name", json!({}));
    post(
        &st,
        &id,
        ("a", "wrong"),
        "system",
        DROP,
        json!({"name": "a"}),
    );
    post(&st, &id, ("a", "p"), "system", DROP, json!({"name": "a"}));
    let want: BTreeMap<String, u64> = [
        ("CREATE USER", 2),
        ("GRANT ROLE", 1),
        ("DROP USER", 1),
        ("(unknown)", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(
        st.query_api_statements(&id),
        want,
        "refused ones count, those of no login do not"
    );
    assert!(st.query_api_statements(&other).is_empty());
    assert_eq!(st.counters().query_api.get("202"), Some(&2));
    st.reset_counters();
    assert!(st.query_api_statements(&id).is_empty());
}

#[test]
fn users_go_with_the_instance_and_debug_shows_no_password() {
    let st = sim();
    let (kept, gone) = (instance(&st, PLAIN), instance(&st, PLAIN));
    for id in [&kept, &gone] {
        admin(
            &st,
            id,
            CREATE,
            json!({"name": "app", "password": "s3cret-pw"}),
        );
    }
    let printed = format!("{:?}", st.world());
    assert!(printed.contains("DatabaseUser"), "{printed}");
    assert!(printed.contains(&kept), "{printed}");
    for password in ["s3cret-pw", &admin_password(&st, &kept)] {
        assert!(!printed.contains(password), "{printed}");
    }
    let logged = st
        .world()
        .instance_database(&kept, Instant::now(), |db| format!("{db:?}"))
        .unwrap();
    assert!(!logged.contains("s3cret-pw") && !logged.contains(&admin_password(&st, &kept)));

    assert!(st.console_delete(&gone));
    assert!(!st.world().has_user_table(&gone));
    assert!(st.database_users(&gone).is_empty());
    assert!(!st.database_login_works(&gone, "app", "s3cret-pw"));
    assert!(!st.add_database_role(&gone, "x"));
    assert!(st.database_login_works(&kept, "app", "s3cret-pw"));

    // Destroyed through the API: gone once the destroy ends.
    let now = Instant::now();
    st.world().delete(&kept, now).unwrap();
    st.world().settle(now + Duration::from_secs(5));
    assert!(!st.world().has_user_table(&kept));
}
