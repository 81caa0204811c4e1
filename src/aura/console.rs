//! Aura API v2beta1 console access: the people of an organization, their
//! project memberships and the invites that bring new people in, read
//! tolerantly, with one method per call.
//!
//! Three role vocabularies meet here (V2BETA1-NOTES 82): organization roles
//! (`organization-*`), project roles (`project-*`) and the project roles of
//! an invite (`namespace-*`); the bodies carry one-item role lists, since
//! the API refuses more. Invites have no GET by id: one is found again by
//! listing.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::AuraClient;
use super::error::{AuraError, AuraErrorKind, Endpoint};
use super::lenient;
use super::v2beta1::{read_one, to_json, v2_call};
use crate::api::{OrganizationRole, ProjectRole};

/// A person of an organization (`GET /organizations/{org}/users[/{id}]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsoleUser {
    #[serde(deserialize_with = "lenient::required_string")]
    pub user_id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub email: String,
    #[serde(default, deserialize_with = "lenient::list")]
    pub organization_roles: Vec<String>,
    /// Only on the GET of one user: the projects they are in. `None` when
    /// the answer has no list (a list, or a GET that left it out): then
    /// their memberships are not known from this answer.
    #[serde(default, deserialize_with = "projects")]
    pub projects: Option<Vec<UserProject>>,
}

fn projects<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<UserProject>>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.is_array().then(|| lenient::read_list(&v).0))
}

/// A project of a person, as the GET of one user lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserProject {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::list")]
    pub project_roles: Vec<String>,
}

/// A member of a project (`GET /organizations/{org}/projects/{p}/users`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProjectUser {
    #[serde(deserialize_with = "lenient::required_string")]
    pub user_id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub email: String,
    #[serde(default, deserialize_with = "lenient::list")]
    pub project_roles: Vec<String>,
}

/// A pending invite (`GET /organizations/{org}/invites`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Invite {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub email: String,
    /// Read back under this name; written as `roles`.
    #[serde(default, deserialize_with = "lenient::list")]
    pub organization_roles: Vec<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub project_invites: Vec<ProjectInvite>,
}

/// The project part of an invite, in the invite vocabulary (`namespace-*`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProjectInvite {
    #[serde(deserialize_with = "lenient::required_string")]
    pub project_id: String,
    #[serde(default, deserialize_with = "lenient::list")]
    pub project_roles: Vec<String>,
}

/// The body of `POST /organizations/{org}/invites`: at least one
/// organization role, and `project_invites` always present (Aura refuses
/// the body without it, even empty).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InviteWrite {
    pub email: String,
    pub roles: Vec<String>,
    pub project_invites: Vec<ProjectInvite>,
}

impl InviteWrite {
    /// An invite into the organization with `role`.
    pub fn to_organization(email: &str, role: OrganizationRole) -> Self {
        Self {
            email: email.to_string(),
            roles: vec![role.as_str().to_string()],
            project_invites: Vec::new(),
        }
    }

    /// An invite into `project` with `role`, as an organization member.
    pub fn to_project(email: &str, project: &str, role: ProjectRole) -> Self {
        Self {
            email: email.to_string(),
            roles: vec![OrganizationRole::Member.as_str().to_string()],
            project_invites: vec![ProjectInvite {
                project_id: project.to_string(),
                project_roles: vec![role.invite_word().to_string()],
            }],
        }
    }
}

/// Emails are compared as people write them: case aside.
pub fn same_email(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl AuraClient {
    /// `GET /organizations/{org}/users`.
    pub async fn list_console_users(&self, org: &str) -> Result<Vec<ConsoleUser>, AuraError> {
        self.list_v2(
            "list_console_users",
            format!("list the users of organization {org}"),
            &["organizations", org, "users"],
        )
        .await
    }

    /// `GET /organizations/{org}/users/{id}`, with the user's projects;
    /// `None` when the organization has no such user.
    pub async fn get_console_user(
        &self,
        org: &str,
        user: &str,
    ) -> Result<Option<ConsoleUser>, AuraError> {
        let label = format!("get user {user} of organization {org}");
        let path = ["organizations", org, "users", user];
        let call = v2_call(
            "get_console_user",
            label.clone(),
            Method::GET,
            &path,
            None,
            Endpoint::Api,
        );
        match self.send(call).await {
            Ok(answer) => read_one(&label, &answer, AuraErrorKind::Transient).map(Some),
            Err(e) if e.kind() == AuraErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PATCH /organizations/{org}/users/{id}` with one organization role.
    pub async fn set_organization_role(
        &self,
        org: &str,
        user: &str,
        role: &str,
    ) -> Result<(), AuraError> {
        let label = format!("set the organization role of user {user} to {role}");
        let path = ["organizations", org, "users", user];
        let body = serde_json::json!({ "organization_roles": [role] });
        self.send(v2_call(
            "set_organization_role",
            label,
            Method::PATCH,
            &path,
            Some(body),
            Endpoint::Api,
        ))
        .await
        .map(drop)
    }

    /// `DELETE /organizations/{org}/users/{id}`; gone already is done.
    pub async fn remove_console_user(&self, org: &str, user: &str) -> Result<(), AuraError> {
        let path = ["organizations", org, "users", user];
        self.delete_v2(
            "remove_console_user",
            format!("remove user {user} from organization {org}"),
            &path,
        )
        .await
    }

    /// `GET /organizations/{org}/projects/{project}/users`.
    pub async fn list_project_users(
        &self,
        org: &str,
        project: &str,
    ) -> Result<Vec<ProjectUser>, AuraError> {
        self.list_v2(
            "list_project_users",
            format!("list the users of project {project}"),
            &["organizations", org, "projects", project, "users"],
        )
        .await
    }

    /// `POST /organizations/{org}/projects/{project}/users`: not retried
    /// (409 when already a member); an unanswered one is settled by listing.
    pub async fn add_project_user(
        &self,
        org: &str,
        project: &str,
        user: &str,
        role: ProjectRole,
    ) -> Result<(), AuraError> {
        let label = format!("add user {user} to project {project} as {role}");
        let path = ["organizations", org, "projects", project, "users"];
        let body = serde_json::json!({ "user_id": user, "project_roles": [role.as_str()] });
        self.send(v2_call(
            "add_project_user",
            label,
            Method::POST,
            &path,
            Some(body),
            Endpoint::Create,
        ))
        .await
        .map(drop)
    }

    /// `PATCH /organizations/{org}/projects/{project}/users/{id}` with one
    /// project role.
    pub async fn set_project_role(
        &self,
        org: &str,
        project: &str,
        user: &str,
        role: &str,
    ) -> Result<(), AuraError> {
        let label = format!("set the role of user {user} in project {project} to {role}");
        let path = ["organizations", org, "projects", project, "users", user];
        let body = serde_json::json!({ "project_roles": [role] });
        self.send(v2_call(
            "set_project_role",
            label,
            Method::PATCH,
            &path,
            Some(body),
            Endpoint::Api,
        ))
        .await
        .map(drop)
    }

    /// `DELETE /organizations/{org}/projects/{project}/users/{id}`; not a
    /// member already is done.
    pub async fn remove_project_user(
        &self,
        org: &str,
        project: &str,
        user: &str,
    ) -> Result<(), AuraError> {
        let path = ["organizations", org, "projects", project, "users", user];
        self.delete_v2(
            "remove_project_user",
            format!("remove user {user} from project {project}"),
            &path,
        )
        .await
    }

    /// `GET /organizations/{org}/invites`: the pending ones.
    pub async fn list_invites(&self, org: &str) -> Result<Vec<Invite>, AuraError> {
        self.list_v2(
            "list_invites",
            format!("list the invites of organization {org}"),
            &["organizations", org, "invites"],
        )
        .await
    }

    /// `POST /organizations/{org}/invites`: not idempotent and never
    /// retried; an unanswered one is found again in the list, by email.
    pub async fn create_invite(&self, org: &str, body: &InviteWrite) -> Result<Invite, AuraError> {
        // The address is the person's: the label names the organization only.
        let label = format!("invite a person to organization {org}");
        let path = ["organizations", org, "invites"];
        let answer = self
            .send(v2_call(
                "create_invite",
                label.clone(),
                Method::POST,
                &path,
                Some(to_json(&label, body)?),
                Endpoint::Create,
            ))
            .await?;
        read_one(&label, &answer, AuraErrorKind::OutcomeUnknown)
    }

    /// `DELETE /organizations/{org}/invites/{id}` (204, then 404
    /// `invite-not-found`: both mean gone).
    pub async fn delete_invite(&self, org: &str, id: &str) -> Result<(), AuraError> {
        let path = ["organizations", org, "invites", id];
        self.delete_v2("delete_invite", format!("delete invite {id}"), &path)
            .await
    }

    /// A DELETE whose 404 means done.
    async fn delete_v2(
        &self,
        name: &'static str,
        label: String,
        path: &[&str],
    ) -> Result<(), AuraError> {
        let call = v2_call(name, label, Method::DELETE, path, None, Endpoint::Api);
        match self.send(call).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == AuraErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_body_carries_one_role_in_each_vocabulary_and_always_project_invites() {
        let org = serde_json::to_value(InviteWrite::to_organization(
            "ada@example.com",
            OrganizationRole::Admin,
        ))
        .unwrap();
        assert_eq!(
            org,
            serde_json::json!({"email": "ada@example.com", "roles": ["organization-admin"], "project_invites": []})
        );
        let project = serde_json::to_value(InviteWrite::to_project(
            "ada@example.com",
            "p-1",
            ProjectRole::Viewer,
        ))
        .unwrap();
        assert_eq!(
            project,
            serde_json::json!({
                "email": "ada@example.com",
                "roles": ["organization-member"],
                "project_invites": [{"project_id": "p-1", "project_roles": ["namespace-viewer"]}],
            })
        );
    }

    #[test]
    fn users_and_invites_read_from_the_documented_and_the_live_shapes() {
        let user: ConsoleUser = serde_json::from_value(serde_json::json!({
            "user_id": "u-1", "email": "ada@example.com", "organization_roles": ["organization-admin"],
            "exempt_from_automatic_removal": false, "mfa_enrolled_methods": null, "last_activity_at": null,
            "projects": [{"id": "p-1", "name": "P", "project_roles": ["project-viewer"]}],
        }))
        .unwrap();
        assert_eq!(user.organization_roles, vec!["organization-admin"]);
        assert_eq!(
            user.projects.as_ref().unwrap()[0].project_roles,
            vec!["project-viewer"]
        );
        // A list of users carries no projects; a null list reads as empty.
        let bare: ConsoleUser = serde_json::from_value(
            serde_json::json!({"user_id": 7, "email": null, "organization_roles": null}),
        )
        .unwrap();
        assert_eq!(bare.user_id, "7");
        assert!(bare.organization_roles.is_empty() && bare.projects.is_none());
        let invite: Invite = serde_json::from_value(serde_json::json!({
            "id": "i-1", "email": "ada@example.com", "expires_at": "Tue, 08 Jul 2026 12:00:00 GMT",
            "organization_roles": ["organization-member"], "status": "active",
            "project_invites": [{"project_id": "p-1", "project_roles": ["namespace-member"]}],
        }))
        .unwrap();
        assert_eq!(
            invite.project_invites[0].project_roles,
            vec!["namespace-member"]
        );
        assert!(same_email(" Ada@Example.com", "ada@example.com"));
        assert!(!same_email("ada@example.com", "bob@example.com"));
    }
}
