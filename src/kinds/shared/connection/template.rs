//! `spec.connectionSecret.extraKeys`: keys rendered from Jinja templates over
//! the connection details. A template is first rendered over placeholder
//! values, so that its error (which may quote what it rendered) never carries
//! a real password.

use std::collections::BTreeMap;
use std::fmt;

use minijinja::{Environment, UndefinedBehavior};

use super::format::{self, Values};
use crate::api::SecretFormat;

/// Enough for any connection string; stops a runaway loop long before the
/// Secret's 1 MiB limit.
const FUEL: u64 = 50_000;
const MAX_RENDERED: usize = 64 * 1024;

/// Why a key could not be rendered. Carries no secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub key: String,
    pub error: String,
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spec.connectionSecret.extraKeys.{}: {}",
            self.key, self.error
        )
    }
}

const PLACEHOLDERS: Values<'static> = Values {
    uri: "neo4j+s://00000000.databases.neo4j.io",
    host: "00000000.databases.neo4j.io",
    username: "neo4j",
    password: Some("placeholder-password"),
    database: format::DATABASE,
    instance_id: "00000000",
    instance_name: "placeholder",
};

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // `{{ pasword }}` is a typo to report, not an empty string to ship.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

fn context(v: &Values<'_>) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("uri", v.uri.to_string()),
        ("host", v.host.to_string()),
        ("username", v.username.to_string()),
        ("password", v.password.unwrap_or_default().to_string()),
        ("database", v.database.to_string()),
        ("instanceId", v.instance_id.to_string()),
        ("instanceName", v.instance_name.to_string()),
    ])
}

fn render_one(env: &Environment<'_>, source: &str, v: &Values<'_>) -> Result<String, String> {
    let out = env.render_str(source, context(v)).map_err(|e| {
        // The kind and the line: the source is in the spec already.
        let mut message = e.to_string();
        if let Some(line) = e.line() {
            message = format!("{message} (line {line})");
        }
        message
    })?;
    if out.len() > MAX_RENDERED {
        return Err(format!(
            "renders to {} bytes, more than {MAX_RENDERED}",
            out.len()
        ));
    }
    Ok(out)
}

/// Checks every template over placeholder values, and the key names against
/// what the format writes (as the CRD's CEL rule does at admission).
pub fn check(
    format: SecretFormat,
    extra: &BTreeMap<String, String>,
) -> Result<(), TemplateProblem> {
    let env = environment();
    for (key, source) in extra {
        if format::reserved(format).contains(&key.as_str()) {
            return Err(TemplateProblem {
                key: key.clone(),
                error: format!("the {format:?} format writes this key itself"),
            });
        }
        render_one(&env, source, &PLACEHOLDERS).map_err(|error| TemplateProblem {
            key: key.clone(),
            error,
        })?;
    }
    Ok(())
}

/// Renders every extra key over the real values. Call [`check`] first: an
/// error here only says which key failed, since its text could quote a value.
pub fn render(
    extra: &BTreeMap<String, String>,
    values: &Values<'_>,
) -> Result<Vec<(String, String)>, TemplateProblem> {
    let env = environment();
    extra
        .iter()
        .map(|(key, source)| {
            render_one(&env, source, values)
                .map(|out| (key.clone(), out))
                .map_err(|_| TemplateProblem {
                    key: key.clone(),
                    error: "renders over placeholder values but not over this instance's connection details".into(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extra(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn values() -> Values<'static> {
        Values {
            uri: "neo4j+s://8f769515.databases.neo4j.io",
            host: "8f769515.databases.neo4j.io",
            username: "neo4j",
            password: Some("p@ss/w:rd"),
            database: "neo4j",
            instance_id: "8f769515",
            instance_name: "orders",
        }
    }

    #[test]
    fn renders_each_variable() {
        let e = extra(&[
            ("DATABASE_URL", "{{ uri }}"),
            (
                "DSN",
                "neo4j+s://{{ username }}:{{ password | urlencode }}@{{ host }}/{{ database }}",
            ),
            ("ID", "{{ instanceId }}-{{ instanceName | upper }}"),
        ]);
        check(SecretFormat::Aura, &e).unwrap();
        let out: BTreeMap<_, _> = render(&e, &values()).unwrap().into_iter().collect();
        assert_eq!(out["DATABASE_URL"], "neo4j+s://8f769515.databases.neo4j.io");
        assert_eq!(
            out["DSN"],
            "neo4j+s://neo4j:p%40ss/w%3Ard@8f769515.databases.neo4j.io/neo4j"
        );
        assert_eq!(out["ID"], "8f769515-ORDERS");
    }

    #[test]
    fn bad_templates_are_reported_by_key_without_values() {
        let cases = [
            ("{{ pasword }}", "undefined"),
            ("{{ uri ", "syntax"),
            ("{% for x in range(100000) %}{{ password }}{% endfor %}", ""),
            ("{{ password | nosuchfilter }}", "filter"),
        ];
        for (source, says) in cases {
            let e = extra(&[("BAD", source)]);
            let problem = check(SecretFormat::Aura, &e).expect_err(source);
            assert_eq!(problem.key, "BAD");
            assert!(
                problem.error.to_lowercase().contains(says),
                "{source}: {}",
                problem.error
            );
            assert!(!problem.to_string().contains("p@ss"), "{problem}");
            assert!(
                problem
                    .to_string()
                    .starts_with("spec.connectionSecret.extraKeys.BAD: ")
            );
        }
    }

    #[test]
    fn a_key_the_format_writes_cannot_be_replaced() {
        let e = extra(&[("NEO4J_PASSWORD", "x")]);
        assert!(check(SecretFormat::Aura, &e).is_err());
        assert!(check(SecretFormat::SpringBoot, &e).is_err());
        // ServiceBinding writes lower-case keys only
        assert!(check(SecretFormat::ServiceBinding, &e).is_ok());
        let e = extra(&[("password", "x")]);
        assert!(check(SecretFormat::ServiceBinding, &e).is_err());
    }
}
