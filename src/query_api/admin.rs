//! The administration statements the operator sends to a database's `system`
//! database, each with its parameters: a user name, a role or a password is
//! never spliced into the Cypher text, so there is no escaping to get wrong.
//! The same texts are what the simulator answers and what the test against
//! a real Neo4j runs.

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

/// The database administration commands run on.
pub const SYSTEM_DATABASE: &str = "system";

/// How long a generated password is.
pub const PASSWORD_LENGTH: usize = 40;

/// A password: shown to nobody. Its `Debug` and `Display` print a mask.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A fresh password: [`PASSWORD_LENGTH`] letters and digits (about 238
    /// bits) from the thread's CSPRNG (ChaCha, seeded by the OS).
    pub fn generate() -> Self {
        Self(
            rand::rng()
                .sample_iter(&Alphanumeric)
                .take(PASSWORD_LENGTH)
                .map(char::from)
                .collect(),
        )
    }

    /// A password read from a Secret.
    pub fn from_secret(value: String) -> Self {
        Self(value)
    }

    /// The value, for the one place it goes (a parameter, a Secret's data).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// One statement and its parameters. `Debug` shows the text only: the
/// parameters may carry passwords.
#[derive(Clone)]
pub struct Statement {
    pub text: &'static str,
    pub parameters: Value,
    /// The values that must never show in an error message.
    secrets: Vec<String>,
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement")
            .field("text", &self.text)
            .finish_non_exhaustive()
    }
}

impl Statement {
    fn new(text: &'static str, parameters: Value) -> Self {
        Self {
            text,
            parameters,
            secrets: Vec::new(),
        }
    }

    fn hiding(mut self, password: &Password) -> Self {
        self.secrets.push(password.0.clone());
        self
    }

    /// `text` with every secret parameter of this statement masked.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets
            .iter()
            .filter(|s| !s.is_empty())
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
    }
}

pub const SHOW_USERS: &str = "SHOW USERS YIELD user, roles WHERE user IN $names RETURN user, roles";
pub const SHOW_ROLES: &str = "SHOW ROLES YIELD role WHERE role IN $roles RETURN role";
pub const CREATE_USER: &str = "CREATE USER $name SET PASSWORD $password CHANGE NOT REQUIRED";
pub const ALTER_USER_PASSWORD: &str = "ALTER USER $name SET PASSWORD $password CHANGE NOT REQUIRED";
pub const DROP_USER: &str = "DROP USER $name IF EXISTS";
pub const GRANT_ROLE: &str = "GRANT ROLE $role TO $name";
pub const REVOKE_ROLE: &str = "REVOKE ROLE $role FROM $name";
pub const ALTER_CURRENT_USER_PASSWORD: &str = "ALTER CURRENT USER SET PASSWORD FROM $old TO $new";

/// Which of `names` exist, with their roles (`null` where the edition has none).
pub fn show_users(names: &[&str]) -> Statement {
    Statement::new(SHOW_USERS, json!({ "names": names }))
}

/// Which of `roles` exist.
pub fn show_roles(roles: &[String]) -> Statement {
    Statement::new(SHOW_ROLES, json!({ "roles": roles }))
}

pub fn create_user(name: &str, password: &Password) -> Statement {
    Statement::new(
        CREATE_USER,
        json!({ "name": name, "password": password.expose() }),
    )
    .hiding(password)
}

pub fn alter_user_password(name: &str, password: &Password) -> Statement {
    Statement::new(
        ALTER_USER_PASSWORD,
        json!({ "name": name, "password": password.expose() }),
    )
    .hiding(password)
}

pub fn drop_user(name: &str) -> Statement {
    Statement::new(DROP_USER, json!({ "name": name }))
}

pub fn grant_role(role: &str, name: &str) -> Statement {
    Statement::new(GRANT_ROLE, json!({ "role": role, "name": name }))
}

pub fn revoke_role(role: &str, name: &str) -> Statement {
    Statement::new(REVOKE_ROLE, json!({ "role": role, "name": name }))
}

/// The login's own password, changed by itself (the admin has no other way).
pub fn alter_current_user_password(old: &Password, new: &Password) -> Statement {
    Statement::new(
        ALTER_CURRENT_USER_PASSWORD,
        json!({ "old": old.expose(), "new": new.expose() }),
    )
    .hiding(old)
    .hiding(new)
}

/// A user as `SHOW USERS` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user: String,
    /// `None` where the edition has no roles (community answers `null`).
    pub roles: Option<Vec<String>>,
}

/// The rows of [`show_users`], read tolerantly: a row without a name is skipped.
pub fn user_rows(rows: &Rows) -> Vec<UserRow> {
    let user = rows.column("user");
    let roles = rows.column("roles");
    rows.values
        .iter()
        .filter_map(|row| {
            let name = row.get(user?)?.as_str()?.to_string();
            let roles = roles.and_then(|i| row.get(i)).and_then(|v| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
            });
            Some(UserRow { user: name, roles })
        })
        .collect()
}

/// The first column's strings (the roles [`show_roles`] found).
pub fn first_column(rows: &Rows) -> Vec<String> {
    rows.values
        .iter()
        .filter_map(|row| row.first()?.as_str().map(str::to_string))
        .collect()
}

/// What a statement returned: the Query API's `data`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub fields: Vec<String>,
    pub values: Vec<Vec<Value>>,
}

impl Rows {
    pub fn from_answer(body: &Value) -> Self {
        let data = &body["data"];
        Self {
            fields: data["fields"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            values: data["values"]
                .as_array()
                .map(|rows| rows.iter().filter_map(|r| r.as_array().cloned()).collect())
                .unwrap_or_default(),
        }
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f == name)
    }
}

/// Neo4j's error codes the operator tells apart; every other code is `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Neo4jCode {
    /// The edition or tier does not have the command (roles without RBAC).
    Unsupported,
    /// A bad argument: a user that exists or not, a role that does not exist, a wrong old password.
    Argument,
    /// The login was refused.
    Unauthorized,
    Other(String),
}

impl Neo4jCode {
    pub fn of(code: &str) -> Self {
        match code {
            "Neo.ClientError.Statement.UnsupportedAdministrationCommand" => Self::Unsupported,
            "Neo.ClientError.Statement.ArgumentError" => Self::Argument,
            "Neo.ClientError.Security.Unauthorized" => Self::Unauthorized,
            other => Self::Other(other.to_string()),
        }
    }
}

/// Why a statement did not run. Carries no password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// 401: the database refused the login.
    #[error("the database refused the login ({})", code.as_deref().unwrap_or("HTTP 401"))]
    LoginRefused { code: Option<String> },
    /// The database refused the statement: its code and message, verbatim
    /// (secrets masked).
    #[error("the database refused {statement:?}: {code}: {message} (HTTP {status})")]
    Refused {
        statement: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// No answer, or one that says nothing.
    #[error("the database did not answer: {0}")]
    Unreachable(String),
}

impl QueryError {
    /// The Neo4j code of a refusal.
    pub fn code(&self) -> Option<Neo4jCode> {
        match self {
            Self::Refused { code, .. } => Some(Neo4jCode::of(code)),
            Self::LoginRefused { .. } => Some(Neo4jCode::Unauthorized),
            Self::Unreachable(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_never_printed() {
        let a = Password::generate();
        let b = Password::generate();
        assert_eq!(a.expose().len(), PASSWORD_LENGTH);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "Password(***)");
        let s = create_user("app", &a);
        assert!(!format!("{s:?}").contains(a.expose()));
        assert_eq!(s.parameters["password"], a.expose());
        assert_eq!(s.scrub(&format!("bad {} here", a.expose())), "bad *** here");
        let both = alter_current_user_password(&a, &b);
        assert_eq!(
            both.scrub(&format!("{} {}", a.expose(), b.expose())),
            "*** ***"
        );
    }

    #[test]
    fn statements_carry_names_as_parameters_only() {
        let p = Password::generate();
        for s in [
            show_users(&["x'y"]),
            create_user("x'y", &p),
            alter_user_password("x'y", &p),
            drop_user("x'y"),
            grant_role("r", "x'y"),
            revoke_role("r", "x'y"),
        ] {
            assert!(!s.text.contains("x'y"), "{}", s.text);
            assert!(s.parameters.to_string().contains("x'y"));
        }
    }

    #[test]
    fn rows_are_read_tolerantly() {
        let body = json!({"data": {"fields": ["user", "roles"], "values": [
            ["app", null], ["app_b", ["reader", "PUBLIC"]], [null, []], ["odd"]
        ]}});
        let rows = Rows::from_answer(&body);
        assert_eq!(
            user_rows(&rows),
            vec![
                UserRow {
                    user: "app".into(),
                    roles: None
                },
                UserRow {
                    user: "app_b".into(),
                    roles: Some(vec!["reader".into(), "PUBLIC".into()])
                },
                UserRow {
                    user: "odd".into(),
                    roles: None
                },
            ]
        );
        assert_eq!(Rows::from_answer(&json!({})), Rows::default());
        let roles =
            Rows::from_answer(&json!({"data": {"fields": ["role"], "values": [["reader"]]}}));
        assert_eq!(first_column(&roles), vec!["reader".to_string()]);
    }

    #[test]
    fn codes() {
        for (code, want) in [
            (
                "Neo.ClientError.Statement.UnsupportedAdministrationCommand",
                Neo4jCode::Unsupported,
            ),
            (
                "Neo.ClientError.Statement.ArgumentError",
                Neo4jCode::Argument,
            ),
            (
                "Neo.ClientError.Security.Unauthorized",
                Neo4jCode::Unauthorized,
            ),
            (
                "Neo.DatabaseError.Statement.ExecutionFailed",
                Neo4jCode::Other("Neo.DatabaseError.Statement.ExecutionFailed".into()),
            ),
        ] {
            assert_eq!(Neo4jCode::of(code), want);
        }
    }
}
