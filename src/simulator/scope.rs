//! Tenants scoped per client id: a client id given tenants of its own sees
//! and acts in those only, as a real Aura API credential belongs to its
//! projects; one given none sees every tenant (what the simulator did before,
//! and still does unless configured). Pure: what a request names, and
//! whether a client may see a tenant; the gate looks the names up.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Which tenants each scoped client id sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantScopes(BTreeMap<String, BTreeSet<String>>);

impl TenantScopes {
    /// From (client id, tenant id) pairs.
    pub fn new(pairs: &[(String, String)]) -> Self {
        let mut scopes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (client, tenant) in pairs {
            scopes
                .entry(client.clone())
                .or_default()
                .insert(tenant.clone());
        }
        Self(scopes)
    }

    /// Whether the client sees only some tenants.
    pub fn is_scoped(&self, client: &str) -> bool {
        self.0.contains_key(client)
    }

    pub fn sees(&self, client: &str, tenant: &str) -> bool {
        self.0.get(client).is_none_or(|t| t.contains(tenant))
    }
}

/// Something a request names whose tenant decides whether the client may
/// reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Tenant(String),
    Instance(String),
    Key(String),
    Session(String),
}

/// What a `/v1` request's path and query name.
pub fn named_by_path(path: &str, query: Option<&str>) -> Vec<Named> {
    let segments: Vec<&str> = path
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut named = match segments.as_slice() {
        ["tenants", tenant, ..] => vec![Named::Tenant((*tenant).to_string())],
        ["instances", "sizing"] => vec![],
        ["instances", id, ..] => vec![Named::Instance((*id).to_string())],
        ["customer-managed-keys", id, ..] => vec![Named::Key((*id).to_string())],
        ["graph-analytics", "sessions", "sizing"] => vec![],
        ["graph-analytics", "sessions", id, ..] => vec![Named::Session((*id).to_string())],
        _ => vec![],
    };
    if let Some(tenant) = query.and_then(|q| {
        super::auth::parse_form(q)
            .into_iter()
            .find(|(k, _)| k == "tenantId")
            .map(|(_, v)| v)
    }) {
        named.push(Named::Tenant(tenant));
    }
    named
}

/// What a write's JSON body names: its tenant, the instance a session
/// attaches to, the source of a clone or an overwrite.
pub fn named_by_body(body: &Value) -> Vec<Named> {
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut named = Vec::new();
    if let Some(t) = text("tenant_id") {
        named.push(Named::Tenant(t));
    }
    for field in ["instance_id", "source_instance_id"] {
        if let Some(id) = text(field) {
            named.push(Named::Instance(id));
        }
    }
    named
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_scoped_client_sees_its_tenants_only_and_others_see_all() {
        let scopes = TenantScopes::new(&[("a".into(), "t-1".into()), ("a".into(), "t-2".into())]);
        assert!(scopes.is_scoped("a") && !scopes.is_scoped("b"));
        assert!(scopes.sees("a", "t-1") && scopes.sees("a", "t-2"));
        assert!(!scopes.sees("a", "t-3"));
        assert!(
            scopes.sees("b", "t-3"),
            "an unscoped client sees every tenant"
        );
    }

    #[test]
    fn paths_queries_and_bodies_name_what_they_reach() {
        let t = |s: &str| Named::Tenant(s.into());
        let i = |s: &str| Named::Instance(s.into());
        let cases: Vec<(&str, Option<&str>, Vec<Named>)> = vec![
            ("/v1/tenants", None, vec![]),
            ("/v1/tenants/t-1", None, vec![t("t-1")]),
            ("/v1/tenants/t-1/metrics-integration", None, vec![t("t-1")]),
            ("/v1/instances", Some("tenantId=t-2"), vec![t("t-2")]),
            (
                "/v1/instances/abcd1234/snapshots/s",
                None,
                vec![i("abcd1234")],
            ),
            ("/v1/instances/sizing", None, vec![]),
            (
                "/v1/customer-managed-keys/k-1",
                None,
                vec![Named::Key("k-1".into())],
            ),
            (
                "/v1/customer-managed-keys",
                Some("tenantId=t-3"),
                vec![t("t-3")],
            ),
            (
                "/v1/graph-analytics/sessions/s-1",
                None,
                vec![Named::Session("s-1".into())],
            ),
            ("/v1/graph-analytics/sessions/sizing", None, vec![]),
        ];
        for (path, query, want) in cases {
            assert_eq!(named_by_path(path, query), want, "{path} {query:?}");
        }
        let body = json!({"tenant_id": "t-1", "source_instance_id": "abcd1234", "instance_id": ""});
        assert_eq!(named_by_body(&body), vec![t("t-1"), i("abcd1234")]);
        assert!(named_by_body(&json!({"name": "x"})).is_empty());
    }
}
