//! The request bodies of v2beta1 console access, read as live reads them:
//! role bodies (`PATCH O/users/{id}`, `POST`/`PATCH P/users`) carry
//! exactly one role of their own vocabulary and no other key (the
//! document's `additionalProperties: false`); an invite needs at least one
//! `organization-*` role in `roles` and `project_invites` present (empty
//! is fine), each with `namespace-*` roles. Every refusal is a 400
//! `validation-error` naming the field. Pure.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::v2beta1::V2Error;

pub const ORGANIZATION_ROLES: &[&str] = &[
    "organization-owner",
    "organization-admin",
    "organization-member",
];

pub const PROJECT_ROLES: &[&str] = &[
    "project-admin",
    "project-member",
    "project-viewer",
    "project-metrics-integration-reader",
];

/// The project roles an invite body names; accepting one turns
/// `namespace-X` into `project-X`.
pub const INVITE_PROJECT_ROLES: &[&str] = &[
    "namespace-viewer",
    "namespace-member",
    "namespace-admin",
    "namespace-metrics-integration-reader",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInvite {
    pub project_id: String,
    pub project_roles: Vec<String>,
}

/// A parsed `POST O/invites` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteWrite {
    pub email: String,
    pub roles: Vec<String>,
    pub project_invites: Vec<ProjectInvite>,
}

/// Only `allowed` keys (the document's `additionalProperties: false`).
fn only_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), V2Error> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(V2Error::validation(
            k,
            format!("{k} is not allowed here (allowed: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A list of role names, each of `vocabulary`; `exactly_one`: one item.
fn role_list(
    obj: &Map<String, Value>,
    key: &str,
    vocabulary: &[&str],
    exactly_one: bool,
) -> Result<Vec<String>, V2Error> {
    let Some(Value::Array(items)) = obj.get(key) else {
        return Err(V2Error::validation(
            key,
            format!("{key} is required: a list of roles"),
        ));
    };
    if items.is_empty() || (exactly_one && items.len() != 1) {
        let want = if exactly_one {
            "exactly one"
        } else {
            "at least one"
        };
        return Err(V2Error::validation(
            key,
            format!("{key} must hold {want} role, got {}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v.as_str() {
            Some(r) if vocabulary.contains(&r) => Ok(r.to_string()),
            _ => Err(V2Error::validation(
                &format!("{key}[{i}]"),
                format!(
                    "{key}[{i}] must be one of {}, got {v}",
                    vocabulary.join(", ")
                ),
            )),
        })
        .collect()
}

/// `PATCH O/users/{id}`: `{"organization_roles": [one]}`.
pub fn parse_org_role(obj: &Map<String, Value>) -> Result<String, V2Error> {
    only_keys(obj, &["organization_roles"])?;
    Ok(role_list(obj, "organization_roles", ORGANIZATION_ROLES, true)?.remove(0))
}

/// `PATCH P/users/{id}`: `{"project_roles": [one]}`.
pub fn parse_project_role(obj: &Map<String, Value>) -> Result<String, V2Error> {
    only_keys(obj, &["project_roles"])?;
    Ok(role_list(obj, "project_roles", PROJECT_ROLES, true)?.remove(0))
}

/// `POST P/users`: `{"user_id", "project_roles": [one]}`.
pub fn parse_project_member(obj: &Map<String, Value>) -> Result<(String, String), V2Error> {
    only_keys(obj, &["user_id", "project_roles"])?;
    let user = match obj.get("user_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(V2Error::validation("user_id", "user_id is required")),
    };
    let role = role_list(obj, "project_roles", PROJECT_ROLES, true)?.remove(0);
    Ok((user, role))
}

/// `POST O/invites`: `{email, roles: [organization-*, ...], project_invites:
/// [{project_id, project_roles: [namespace-*, ...]}]}`, `project_invites`
/// present (empty is fine). Other keys are ignored, as live ignores them.
pub fn parse_invite(obj: &Map<String, Value>) -> Result<InviteWrite, V2Error> {
    let email = match obj.get("email") {
        Some(Value::String(s)) if s.contains('@') => s.trim().to_string(),
        _ => return Err(V2Error::validation("email", "email must be an address")),
    };
    let roles = role_list(obj, "roles", ORGANIZATION_ROLES, false)?;
    let Some(Value::Array(items)) = obj.get("project_invites") else {
        return Err(V2Error::validation(
            "project_invites",
            "project_invites is required (it may be empty)",
        ));
    };
    let mut project_invites: Vec<ProjectInvite> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("project_invites[{i}]");
        let Some(o) = item.as_object() else {
            return Err(V2Error::validation(&f, format!("{f} must be an object")));
        };
        let project_id = match o.get("project_id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                let f = format!("{f}.project_id");
                return Err(V2Error::validation(&f, format!("{f} is required")));
            }
        };
        if project_invites.iter().any(|p| p.project_id == project_id) {
            return Err(V2Error::validation(
                &f,
                format!("{f}: project {project_id} is named twice"),
            ));
        }
        let project_roles = role_list(o, "project_roles", INVITE_PROJECT_ROLES, false)
            .map_err(|e| V2Error::validation(&format!("{f}.{}", e.errors[0].0), e.message))?;
        project_invites.push(ProjectInvite {
            project_id,
            project_roles,
        });
    }
    Ok(InviteWrite {
        email,
        roles,
        project_invites,
    })
}

#[cfg(test)]
#[path = "console_bodies_tests.rs"]
mod tests;
