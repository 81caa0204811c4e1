//! Neo4j's Query API: asking a database whether it accepts a username and
//! password (`RETURN 1`, HTTP Basic), and running the administration
//! statements of `admin` as a login. Not the Aura API: no token, no
//! rate-limit budget.
//!
//! Where the request goes is a URL template over `{host}` (of the connection
//! URL) and `{database}`: by default the database's own
//! `https://{host}/db/{database}/query/v2`; behind a proxy that routes by path,
//! for example `https://neo4j-gateway.internal/{host}/db/{database}/query/v2`.

pub mod admin;

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

/// The database's own address.
pub const DEFAULT_URL_TEMPLATE: &str = "https://{host}/db/{database}/query/v2";

/// What the database said about a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the login works.
    Accepted,
    /// 401: wrong username or password.
    Rejected { code: Option<String> },
    /// 403: the login works but may not use the database.
    Forbidden { code: Option<String> },
    /// No answer, or one that says nothing about the login (TLS failure,
    /// connection refused, timeout, 5xx, 404). Carries no secret.
    Unreachable(String),
}

/// A validated URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(String);

impl UrlTemplate {
    /// Accepts a template that gives a valid http(s) URL and names `{host}`
    /// unless it points at one fixed server.
    pub fn parse(template: &str) -> Result<Self, String> {
        let t = Self(template.trim().to_string());
        let url = t
            .render("00000000.databases.neo4j.io", "neo4j")
            .map_err(|e| format!("invalid Query API URL template {template:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the Query API URL template {template:?} must start with https:// (or http://)"
            ));
        }
        // The URL shows in conditions and logs; the login goes in a header.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the Query API URL template must not carry a user or password: the operator sends the connection Secret's login itself, and the URL shows in status".into(),
            );
        }
        Ok(t)
    }

    /// The URL for one database.
    pub fn render(&self, host: &str, database: &str) -> Result<Url, String> {
        let text = self
            .0
            .replace("{host}", host)
            .replace("{database}", database);
        Url::parse(&text).map_err(|e| e.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Query API client: one connection pool for every check.
#[derive(Clone)]
pub struct QueryApi {
    http: reqwest::Client,
    template: UrlTemplate,
}

impl std::fmt::Debug for QueryApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryApi")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

impl QueryApi {
    pub fn new(template: UrlTemplate, user_agent: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent(user_agent)
            // Credentials never follow a redirect to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the Query API client: {e}"))?;
        Ok(Self { http, template })
    }

    /// Where a check for this connection URL goes.
    pub fn endpoint(&self, host: &str, database: &str) -> Result<Url, String> {
        self.template.render(host, database)
    }

    /// Runs `RETURN 1` as `username`.
    pub async fn check(&self, endpoint: &Url, username: &str, password: &str) -> Verdict {
        let sent = self
            .http
            .post(endpoint.clone())
            .basic_auth(username, Some(password))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&json!({"statement": "RETURN 1"}))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Verdict::Unreachable(describe(&e)),
        };
        let status = response.status();
        let code = response
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_string));
        verdict(status, code)
    }
}

impl QueryApi {
    /// Runs `statement` as `username` and returns its rows, or the
    /// database's refusal verbatim (with every password masked).
    pub async fn run(
        &self,
        endpoint: &Url,
        username: &str,
        password: &admin::Password,
        statement: &admin::Statement,
    ) -> Result<admin::Rows, admin::QueryError> {
        let sent = self
            .http
            .post(endpoint.clone())
            .basic_auth(username, Some(password.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&json!({"statement": statement.text, "parameters": statement.parameters}))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Err(admin::QueryError::Unreachable(describe(&e))),
        };
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        answer(statement, status, &body)
    }
}

/// What an answer to `statement` means: rows, or why not.
pub fn answer(
    statement: &admin::Statement,
    status: StatusCode,
    body: &Value,
) -> Result<admin::Rows, admin::QueryError> {
    let error = &body["errors"][0];
    let code = error["code"].as_str().map(str::to_string);
    match (status.as_u16(), code) {
        (200..=299, None) => Ok(admin::Rows::from_answer(body)),
        (401, code) => Err(admin::QueryError::LoginRefused { code }),
        (status, Some(code)) => Err(admin::QueryError::Refused {
            statement: statement.text,
            status,
            code,
            message: statement.scrub(error["message"].as_str().unwrap_or_default()),
        }),
        (status, None) => Err(admin::QueryError::Unreachable(format!("HTTP {status}"))),
    }
}

/// The verdict for an answer's status and Neo4j error code.
pub fn verdict(status: StatusCode, code: Option<String>) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Accepted,
        401 => Verdict::Rejected { code },
        403 => Verdict::Forbidden { code },
        other => Verdict::Unreachable(match code {
            Some(code) => format!("HTTP {other} ({code})"),
            None => format!("HTTP {other}"),
        }),
    }
}

/// An error and its causes on one line (reqwest's own text stops at the first).
fn describe(e: &reqwest::Error) -> String {
    let mut message = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let t = UrlTemplate::parse(DEFAULT_URL_TEMPLATE).unwrap();
        assert_eq!(
            t.render("8f769515.databases.neo4j.io", "neo4j")
                .unwrap()
                .as_str(),
            "https://8f769515.databases.neo4j.io/db/neo4j/query/v2"
        );
        let proxy =
            UrlTemplate::parse("http://127.0.0.1:8080/query-api/{host}/db/{database}/query/v2")
                .unwrap();
        assert_eq!(
            proxy
                .render("8f769515.databases.neo4j.io", "neo4j")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/query-api/8f769515.databases.neo4j.io/db/neo4j/query/v2"
        );
        for bad in [
            "",
            "not a url",
            "ftp://{host}/x",
            "https://",
            "https://user:pw@proxy/{host}/db/{database}/query/v2",
        ] {
            assert!(UrlTemplate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_to_statements() {
        use admin::{Password, QueryError};
        let p = Password::generate();
        let s = admin::create_user("app", &p);
        let rows = answer(
            &s,
            StatusCode::ACCEPTED,
            &json!({"data": {"fields": [], "values": []}}),
        );
        assert_eq!(rows, Ok(admin::Rows::default()));
        let refused = answer(
            &s,
            StatusCode::BAD_REQUEST,
            &json!({"errors": [{"code": "Neo.ClientError.Statement.ArgumentError",
                "message": format!("Failed for '{}': User already exists.", p.expose())}]}),
        )
        .unwrap_err();
        assert_eq!(refused.code(), Some(admin::Neo4jCode::Argument));
        assert!(!refused.to_string().contains(p.expose()), "{refused}");
        assert!(refused.to_string().contains("User already exists."));
        assert_eq!(
            answer(&s, StatusCode::UNAUTHORIZED, &Value::Null),
            Err(QueryError::LoginRefused { code: None })
        );
        assert_eq!(
            answer(&s, StatusCode::BAD_GATEWAY, &Value::Null),
            Err(QueryError::Unreachable("HTTP 502".into()))
        );
        // A 2xx that carries an error is the error (the Query API can do that).
        assert!(
            answer(
                &s,
                StatusCode::ACCEPTED,
                &json!({"errors": [{"code": "Neo.DatabaseError.General.UnknownError", "message": "x"}]})
            )
            .is_err()
        );
    }

    #[test]
    fn verdicts() {
        let code = || Some("Neo.ClientError.Security.Unauthorized".to_string());
        assert_eq!(verdict(StatusCode::ACCEPTED, None), Verdict::Accepted);
        assert_eq!(verdict(StatusCode::OK, None), Verdict::Accepted);
        assert_eq!(
            verdict(StatusCode::UNAUTHORIZED, code()),
            Verdict::Rejected { code: code() }
        );
        assert!(matches!(
            verdict(StatusCode::FORBIDDEN, None),
            Verdict::Forbidden { .. }
        ));
        assert_eq!(
            verdict(StatusCode::SERVICE_UNAVAILABLE, None),
            Verdict::Unreachable("HTTP 503".into())
        );
        assert_eq!(
            verdict(
                StatusCode::NOT_FOUND,
                Some("Neo.ClientError.Database.DatabaseNotFound".into())
            ),
            Verdict::Unreachable("HTTP 404 (Neo.ClientError.Database.DatabaseNotFound)".into())
        );
    }
}
