//! What `/v2beta1` adds to the account: organizations (a v2beta1 project is
//! a v1 tenant, same id), and the error answers v2beta1 sends, which are not
//! v1's: a bare `{"message","reason"}`, or for validation v1's list beside
//! them (V2BETA1-NOTES "Conventions"). Pure: no HTTP state.

use std::collections::BTreeMap;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `{id, name}` of an organization or a project, as v2beta1 lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// The organization there is when none is configured (fixed so scripts can use it).
pub const DEMO_ORGANIZATION_ID: &str = "3d1a6c2e-8b4f-4e0a-9c57-1f2e3d4c5b6a";
pub const DEMO_ORGANIZATION_NAME: &str = "Demo organization";

/// The organizations and which one holds each tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizations {
    orgs: Vec<Named>,
    /// Tenant id to organization id; tenants not named here are in the first organization.
    tenant_org: BTreeMap<String, String>,
}

impl Default for Organizations {
    /// The demo organization holding every tenant.
    fn default() -> Self {
        Self {
            orgs: vec![Named {
                id: DEMO_ORGANIZATION_ID.into(),
                name: DEMO_ORGANIZATION_NAME.into(),
            }],
            tenant_org: BTreeMap::new(),
        }
    }
}

impl Organizations {
    /// `orgs` empty: the demo organization alone.
    /// A mapping naming an unknown organization is refused.
    pub fn new(
        orgs: &[(String, String)],
        tenant_orgs: &[(String, String)],
    ) -> Result<Self, String> {
        let orgs: Vec<Named> = if orgs.is_empty() {
            Self::default().orgs
        } else {
            orgs.iter()
                .map(|(id, name)| Named {
                    id: id.clone(),
                    name: name.clone(),
                })
                .collect()
        };
        let mut tenant_org = BTreeMap::new();
        for (tenant, org) in tenant_orgs {
            if !orgs.iter().any(|o| &o.id == org) {
                return Err(format!(
                    "tenant {tenant} is mapped to organization {org}, which is not configured"
                ));
            }
            tenant_org.insert(tenant.clone(), org.clone());
        }
        Ok(Self { orgs, tenant_org })
    }

    pub fn all(&self) -> &[Named] {
        &self.orgs
    }

    pub fn get(&self, id: &str) -> Option<&Named> {
        self.orgs.iter().find(|o| o.id == id)
    }

    /// The organization holding a tenant (every tenant is in one).
    pub fn of_tenant(&self, tenant: &str) -> &str {
        self.tenant_org
            .get(tenant)
            .map(String::as_str)
            .unwrap_or(self.orgs[0].id.as_str())
    }
}

/// A v2beta1 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Error {
    pub status: StatusCode,
    pub message: String,
    pub reason: String,
    /// `(field, message)`: only validation errors carry them.
    pub errors: Vec<(String, String)>,
}

impl V2Error {
    pub fn new(status: StatusCode, reason: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            reason: reason.into(),
            errors: Vec::new(),
        }
    }

    /// 400 `validation-error` naming the field (`allow_list[0].ip_range`).
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            errors: vec![(field.to_string(), message.clone())],
            message,
            reason: "validation-error".into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    pub fn organization_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "organization-not-found",
            format!("Organization not found: {id}"),
        )
    }

    pub fn project_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "project-not-found",
            format!("Project not found: {id}"),
        )
    }

    pub fn instance_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "instance-not-found",
            format!("Instance not found: {id}"),
        )
    }

    pub fn ip_filter_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ip-filter-not-found",
            format!("IP filter not found: {id}"),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-server-error",
            "An internal error occurred",
        )
    }

    pub fn body(&self) -> Value {
        let mut v = json!({"message": self.message, "reason": self.reason});
        if !self.errors.is_empty() {
            v["errors"] = self
                .errors
                .iter()
                .map(|(field, message)| json!({"field": field, "message": message}))
                .collect();
        }
        v
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body().to_string(),
        )
            .into_response()
    }
}

/// Live v2beta1 has been seen to send `{"Message","Reason"}`: the top-level
/// keys of an error body renamed so, whatever else it holds.
pub fn capitalize_error_keys(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    for (from, to) in [("message", "Message"), ("reason", "Reason")] {
        if let Some(x) = o.remove(from) {
            o.insert(to.into(), x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_fall_to_the_first_organization_unless_mapped() {
        let orgs = vec![
            ("o1".to_string(), "One".to_string()),
            ("o2".into(), "Two".into()),
        ];
        let o = Organizations::new(&orgs, &[("t2".into(), "o2".into())]).unwrap();
        assert_eq!(o.of_tenant("t1"), "o1");
        assert_eq!(o.of_tenant("t2"), "o2");
        assert!(Organizations::new(&orgs, &[("t".into(), "nope".into())]).is_err());
        let demo = Organizations::new(&[], &[]).unwrap();
        assert_eq!(demo.of_tenant("t1"), DEMO_ORGANIZATION_ID);
        assert!(Organizations::new(&[], &[("t".into(), "o1".into())]).is_err());
    }

    #[test]
    fn error_bodies_and_their_capitalised_form() {
        let e = V2Error::validation("name", "name must not be empty");
        assert_eq!(
            e.body(),
            json!({"message": "name must not be empty", "reason": "validation-error",
                "errors": [{"field": "name", "message": "name must not be empty"}]})
        );
        let mut v = V2Error::ip_filter_not_found("x").body();
        assert_eq!(
            v,
            json!({"message": "IP filter not found: x", "reason": "ip-filter-not-found"})
        );
        capitalize_error_keys(&mut v);
        assert_eq!(
            v,
            json!({"Message": "IP filter not found: x", "Reason": "ip-filter-not-found"})
        );
    }
}
