//! The keys each connection Secret format carries (DESIGN §2), from one set
//! of connection details.

use crate::api::SecretFormat;

pub const KEY_URI: &str = "NEO4J_URI";
pub const KEY_USERNAME: &str = "NEO4J_USERNAME";
pub const KEY_PASSWORD: &str = "NEO4J_PASSWORD";
pub const KEY_DATABASE: &str = "NEO4J_DATABASE";
pub const KEY_INSTANCE_ID: &str = "AURA_INSTANCEID";
pub const KEY_INSTANCE_NAME: &str = "AURA_INSTANCENAME";

const SPRING_URI: &str = "SPRING_NEO4J_URI";
const SPRING_USERNAME: &str = "SPRING_NEO4J_AUTHENTICATION_USERNAME";
const SPRING_PASSWORD: &str = "SPRING_NEO4J_AUTHENTICATION_PASSWORD";
const SPRING_DATABASE: &str = "SPRING_DATA_NEO4J_DATABASE";

const BINDING_PASSWORD: &str = "password";
const BINDING_USERNAME: &str = "username";
const BINDING_URI: &str = "uri";

/// The Secret type servicebinding.io gives a Neo4j binding.
pub const SERVICE_BINDING_TYPE: &str = "servicebinding.io/neo4j";
pub const OPAQUE_TYPE: &str = "Opaque";

/// The database every Aura instance serves.
pub const DATABASE: &str = "neo4j";
/// Bolt's port, which servicebinding.io wants spelled out.
pub const BOLT_PORT: &str = "7687";

/// Where each format keeps the password, the username and the URI: a Secret
/// is read under every format, since the format may just have changed.
pub const PASSWORD_KEYS: [&str; 2] = [KEY_PASSWORD, BINDING_PASSWORD];
pub const USERNAME_KEYS: [&str; 2] = [KEY_USERNAME, BINDING_USERNAME];
pub const URI_KEYS: [&str; 2] = [KEY_URI, BINDING_URI];
pub const DATABASE_KEYS: [&str; 2] = [KEY_DATABASE, "database"];

/// The connection details a Secret is written from.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub uri: &'a str,
    pub host: &'a str,
    pub username: &'a str,
    /// None when nobody knows it: the key is then left out, never blanked.
    pub password: Option<&'a str>,
    pub database: &'a str,
    pub instance_id: &'a str,
    pub instance_name: &'a str,
}

/// The host of a connection URL (`neo4j+s://<host>[:port]`); the URL itself
/// when it has none.
pub fn host_of(uri: &str) -> String {
    reqwest::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| uri.to_string())
}

/// The keys a format writes, in order, without the password when it is unknown.
pub fn keys(format: SecretFormat, v: &Values<'_>) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, Option<&str>)> = match format {
        SecretFormat::Aura | SecretFormat::SpringBoot => vec![
            (KEY_URI, Some(v.uri)),
            (KEY_USERNAME, Some(v.username)),
            (KEY_PASSWORD, v.password),
            (KEY_DATABASE, Some(v.database)),
            (KEY_INSTANCE_ID, Some(v.instance_id)),
            (KEY_INSTANCE_NAME, Some(v.instance_name)),
        ],
        SecretFormat::ServiceBinding => vec![
            ("type", Some("neo4j")),
            ("provider", Some("aura")),
            (BINDING_URI, Some(v.uri)),
            ("host", Some(v.host)),
            ("port", Some(BOLT_PORT)),
            (BINDING_USERNAME, Some(v.username)),
            (BINDING_PASSWORD, v.password),
            ("database", Some(v.database)),
        ],
    };
    if format == SecretFormat::SpringBoot {
        out.extend([
            (SPRING_URI, Some(v.uri)),
            (SPRING_USERNAME, Some(v.username)),
            (SPRING_PASSWORD, v.password),
            (SPRING_DATABASE, Some(v.database)),
        ]);
    }
    out.into_iter()
        .filter_map(|(k, value)| value.map(|value| (k, value.to_string())))
        .collect()
}

/// The keys extraKeys may not replace under `format` (the CRD's CEL rule says
/// the same at admission).
pub fn reserved(format: SecretFormat) -> &'static [&'static str] {
    match format {
        SecretFormat::Aura | SecretFormat::SpringBoot => &[
            KEY_URI,
            KEY_USERNAME,
            KEY_PASSWORD,
            KEY_DATABASE,
            KEY_INSTANCE_ID,
            KEY_INSTANCE_NAME,
            SPRING_URI,
            SPRING_USERNAME,
            SPRING_PASSWORD,
            SPRING_DATABASE,
        ],
        SecretFormat::ServiceBinding => &[
            "type",
            "provider",
            BINDING_URI,
            "host",
            "port",
            BINDING_USERNAME,
            BINDING_PASSWORD,
            "database",
        ],
    }
}

/// The Secret type of a format.
pub fn secret_type(format: SecretFormat) -> &'static str {
    match format {
        SecretFormat::ServiceBinding => SERVICE_BINDING_TYPE,
        SecretFormat::Aura | SecretFormat::SpringBoot => OPAQUE_TYPE,
    }
}

/// The key a person writes the password into, for messages.
pub fn password_key(format: SecretFormat) -> &'static str {
    match format {
        SecretFormat::ServiceBinding => BINDING_PASSWORD,
        SecretFormat::Aura | SecretFormat::SpringBoot => KEY_PASSWORD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(password: Option<&str>) -> Values<'_> {
        Values {
            uri: "neo4j+s://8f769515.databases.neo4j.io",
            host: "8f769515.databases.neo4j.io",
            username: "neo4j",
            password,
            database: DATABASE,
            instance_id: "8f769515",
            instance_name: "orders",
        }
    }

    fn names(format: SecretFormat, password: Option<&str>) -> Vec<&'static str> {
        let mut k: Vec<_> = keys(format, &values(password))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn each_format_has_exactly_its_keys() {
        let cases: &[(SecretFormat, &[&str])] = &[
            (
                SecretFormat::Aura,
                &[
                    "AURA_INSTANCEID",
                    "AURA_INSTANCENAME",
                    "NEO4J_DATABASE",
                    "NEO4J_PASSWORD",
                    "NEO4J_URI",
                    "NEO4J_USERNAME",
                ],
            ),
            (
                SecretFormat::SpringBoot,
                &[
                    "AURA_INSTANCEID",
                    "AURA_INSTANCENAME",
                    "NEO4J_DATABASE",
                    "NEO4J_PASSWORD",
                    "NEO4J_URI",
                    "NEO4J_USERNAME",
                    "SPRING_DATA_NEO4J_DATABASE",
                    "SPRING_NEO4J_AUTHENTICATION_PASSWORD",
                    "SPRING_NEO4J_AUTHENTICATION_USERNAME",
                    "SPRING_NEO4J_URI",
                ],
            ),
            (
                SecretFormat::ServiceBinding,
                &[
                    "database", "host", "password", "port", "provider", "type", "uri", "username",
                ],
            ),
        ];
        for (format, want) in cases {
            assert_eq!(names(*format, Some("pw")), *want, "{format:?}");
            // every key a format writes is one extraKeys may not replace
            for k in *want {
                assert!(reserved(*format).contains(k), "{format:?} {k}");
            }
        }
    }

    #[test]
    fn an_unknown_password_leaves_every_password_key_out() {
        for format in [
            SecretFormat::Aura,
            SecretFormat::SpringBoot,
            SecretFormat::ServiceBinding,
        ] {
            let k = keys(format, &values(None));
            assert!(
                k.iter()
                    .all(|(k, _)| !k.to_lowercase().contains("password")),
                "{format:?}: {k:?}"
            );
        }
    }

    #[test]
    fn service_binding_values() {
        let k: std::collections::BTreeMap<_, _> =
            keys(SecretFormat::ServiceBinding, &values(Some("pw")))
                .into_iter()
                .collect();
        assert_eq!(k["type"], "neo4j");
        assert_eq!(k["provider"], "aura");
        assert_eq!(k["port"], "7687");
        assert_eq!(k["host"], "8f769515.databases.neo4j.io");
        assert_eq!(k["database"], "neo4j");
        assert_eq!(
            secret_type(SecretFormat::ServiceBinding),
            "servicebinding.io/neo4j"
        );
        assert_eq!(secret_type(SecretFormat::SpringBoot), "Opaque");
    }

    #[test]
    fn hosts() {
        for (uri, host) in [
            (
                "neo4j+s://8f769515.databases.neo4j.io",
                "8f769515.databases.neo4j.io",
            ),
            ("neo4j+s://db.example.com:7687", "db.example.com"),
            ("bolt://127.0.0.1:7687", "127.0.0.1"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(host_of(uri), host, "{uri}");
        }
    }
}
