//! v2beta1 console access (V2BETA1-NOTES item 82): an organization's users
//! with their organization role and their project memberships, and the
//! invites pending for people without a console account yet. Three role
//! vocabularies: `organization-*` (users and the invite's `roles`),
//! `project-*` (memberships) and `namespace-*` (an invite's project roles,
//! which become `project-*` when accepted; `console_bodies.rs` reads the
//! request bodies). Pure: the caller says which projects the organization
//! has and what time it is.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::console_bodies::{InviteWrite, ORGANIZATION_ROLES, PROJECT_ROLES, ProjectInvite};
use super::v2beta1::{Named, V2Error};

/// Who `invited_by` names: the API client is no console user, so every
/// invite made through the API names this one fixed id.
pub const API_INVITER_ID: &str = "5b0e6f3c-2d4a-4c1e-9f7b-8a6d5c4b3a21";

/// How long an invite can be accepted.
pub const INVITE_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// `GET O/users` and `PATCH O/users/{id}` (with `projects`, below).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationUser {
    pub user_id: String,
    pub email: String,
    pub organization_roles: Vec<String>,
    pub exempt_from_automatic_removal: bool,
    pub mfa_enrollment_status: String,
    pub mfa_enrolled_methods: Vec<Value>,
    pub last_activity_at: Option<String>,
}

/// A membership as `GET O/users/{id}` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProject {
    pub id: String,
    pub name: String,
    pub project_roles: Vec<String>,
}

/// `GET O/users/{id}` and `PATCH O/users/{id}`: the user and its projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationUserDetails {
    #[serde(flatten)]
    pub user: OrganizationUser,
    pub projects: Vec<UserProject>,
}

/// `GET P/users`, `POST P/users`, `PATCH P/users/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectUser {
    pub user_id: String,
    pub email: String,
    pub project_roles: Vec<String>,
}

/// An invite as every invite answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationInvite {
    pub id: String,
    pub email: String,
    pub organization_id: String,
    /// What the body sent as `roles`.
    pub organization_roles: Vec<String>,
    pub project_invites: Vec<ProjectInvite>,
    /// RFC 1123, as live sends it, not the document's date-time.
    pub expires_at: String,
    pub invited_by: String,
    pub status: String,
}

/// One console user as the test side reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleUserView {
    pub user_id: String,
    pub email: String,
    pub organization_role: String,
    /// Project id to its one role.
    pub project_roles: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    email: String,
    role: String,
    projects: BTreeMap<String, String>,
}

impl User {
    fn org_view(&self) -> OrganizationUser {
        OrganizationUser {
            user_id: self.id.clone(),
            email: self.email.clone(),
            organization_roles: vec![self.role.clone()],
            exempt_from_automatic_removal: false,
            mfa_enrollment_status: "not_enrolled".into(),
            mfa_enrolled_methods: Vec::new(),
            last_activity_at: None,
        }
    }

    fn project_view(&self, project: &str) -> Option<ProjectUser> {
        self.projects.get(project).map(|role| ProjectUser {
            user_id: self.id.clone(),
            email: self.email.clone(),
            project_roles: vec![role.clone()],
        })
    }
}

#[derive(Debug, Default)]
struct Access {
    users: Vec<User>,
    invites: Vec<OrganizationInvite>,
}

fn same_email(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

pub fn user_not_found(id: &str) -> V2Error {
    V2Error::new(
        StatusCode::NOT_FOUND,
        "user-not-found",
        format!("User not found: {id}"),
    )
}

pub fn invite_not_found(id: &str) -> V2Error {
    V2Error::new(
        StatusCode::NOT_FOUND,
        "invite-not-found",
        format!("Invite not found: {id}"),
    )
}

fn already_member(what: &str) -> V2Error {
    V2Error::new(
        StatusCode::CONFLICT,
        "user-already-member",
        format!("{what} is already a member"),
    )
}

/// Every organization's users and pending invites.
#[derive(Debug, Default)]
pub struct ConsoleAccess {
    orgs: BTreeMap<String, Access>,
    /// (organization, email): the invitee accepts right after the next
    /// listing of the organization's users that finds their invite pending.
    accept_after_listing: BTreeSet<(String, String)>,
}

impl ConsoleAccess {
    fn users_of(&self, org: &str) -> &[User] {
        self.orgs.get(org).map_or(&[], |a| a.users.as_slice())
    }

    fn user(&self, org: &str, id: &str) -> Result<&User, V2Error> {
        self.users_of(org)
            .iter()
            .find(|u| u.id == id)
            .ok_or_else(|| user_not_found(id))
    }

    fn user_mut(&mut self, org: &str, id: &str) -> Result<&mut User, V2Error> {
        self.orgs
            .get_mut(org)
            .and_then(|a| a.users.iter_mut().find(|u| u.id == id))
            .ok_or_else(|| user_not_found(id))
    }

    pub fn users(&self, org: &str) -> Vec<OrganizationUser> {
        self.users_of(org).iter().map(User::org_view).collect()
    }

    /// The user with its memberships in `projects` (those the caller sees), in their order.
    pub fn user_details(
        &self,
        org: &str,
        id: &str,
        projects: &[Named],
    ) -> Result<OrganizationUserDetails, V2Error> {
        let u = self.user(org, id)?;
        Ok(OrganizationUserDetails {
            user: u.org_view(),
            projects: projects
                .iter()
                .filter_map(|p| {
                    u.projects.get(&p.id).map(|role| UserProject {
                        id: p.id.clone(),
                        name: p.name.clone(),
                        project_roles: vec![role.clone()],
                    })
                })
                .collect(),
        })
    }

    pub fn set_org_role(&mut self, org: &str, id: &str, role: &str) -> Result<(), V2Error> {
        self.user_mut(org, id)?.role = role.to_string();
        Ok(())
    }

    /// Removes the user and so its memberships.
    pub fn remove_user(&mut self, org: &str, id: &str) -> Result<(), V2Error> {
        self.user(org, id)?;
        if let Some(a) = self.orgs.get_mut(org) {
            a.users.retain(|u| u.id != id);
        }
        Ok(())
    }

    pub fn project_users(&self, org: &str, project: &str) -> Vec<ProjectUser> {
        self.users_of(org)
            .iter()
            .filter_map(|u| u.project_view(project))
            .collect()
    }

    /// `POST P/users`: `user_id` must be an organization user's (an email is
    /// not): 404 `user-not-found`; a member already: 409 `user-already-member`.
    pub fn add_to_project(
        &mut self,
        org: &str,
        project: &str,
        id: &str,
        role: &str,
    ) -> Result<ProjectUser, V2Error> {
        let u = self.user_mut(org, id)?;
        if u.projects.contains_key(project) {
            return Err(already_member(&format!("User {id} of project {project}")));
        }
        u.projects.insert(project.to_string(), role.to_string());
        Ok(u.project_view(project).expect("just added"))
    }

    /// 404 `user-not-found` unless a member of the project.
    pub fn set_project_role(
        &mut self,
        org: &str,
        project: &str,
        id: &str,
        role: &str,
    ) -> Result<ProjectUser, V2Error> {
        let u = self.user_mut(org, id)?;
        let Some(slot) = u.projects.get_mut(project) else {
            return Err(user_not_found(id));
        };
        *slot = role.to_string();
        Ok(u.project_view(project).expect("a member"))
    }

    pub fn remove_from_project(
        &mut self,
        org: &str,
        project: &str,
        id: &str,
    ) -> Result<(), V2Error> {
        match self.user_mut(org, id)?.projects.remove(project) {
            Some(_) => Ok(()),
            None => Err(user_not_found(id)),
        }
    }

    /// The pending invites.
    pub fn invites(&self, org: &str) -> Vec<OrganizationInvite> {
        self.orgs
            .get(org)
            .map(|a| a.invites.clone())
            .unwrap_or_default()
    }

    /// `POST O/invites`: each project must be one of the organization's
    /// (`in_org`), else 400; the email of a user already: 409
    /// `user-already-member`; of a pending invite: 409 `invite-already-exists`.
    pub fn invite(
        &mut self,
        org: &str,
        w: InviteWrite,
        in_org: &dyn Fn(&str) -> bool,
        now: SystemTime,
    ) -> Result<OrganizationInvite, V2Error> {
        for (i, p) in w.project_invites.iter().enumerate() {
            if !in_org(&p.project_id) {
                let f = format!("project_invites[{i}].project_id");
                return Err(V2Error::validation(
                    &f,
                    format!("{f}: project {} is not in this organization", p.project_id),
                ));
            }
        }
        let a = self.orgs.entry(org.to_string()).or_default();
        if a.users.iter().any(|u| same_email(&u.email, &w.email)) {
            return Err(already_member(&w.email));
        }
        if a.invites.iter().any(|i| same_email(&i.email, &w.email)) {
            return Err(V2Error::new(
                StatusCode::CONFLICT,
                "invite-already-exists",
                format!("{} has a pending invite", w.email),
            ));
        }
        let invite = OrganizationInvite {
            id: uuid::Uuid::new_v4().to_string(),
            email: w.email,
            organization_id: org.to_string(),
            organization_roles: w.roles,
            project_invites: w.project_invites,
            expires_at: httpdate::fmt_http_date(now + INVITE_VALIDITY),
            invited_by: API_INVITER_ID.into(),
            status: "active".into(),
        };
        a.invites.push(invite.clone());
        Ok(invite)
    }

    pub fn delete_invite(&mut self, org: &str, id: &str) -> Result<(), V2Error> {
        let a = self.orgs.get_mut(org).ok_or_else(|| invite_not_found(id))?;
        let at = a
            .invites
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| invite_not_found(id))?;
        a.invites.remove(at);
        Ok(())
    }

    /// A person with a console account joins the organization (test side).
    /// Refuses an unknown role (400) and an email already of a user (409).
    pub fn add_user(&mut self, org: &str, email: &str, role: &str) -> Result<String, V2Error> {
        if !ORGANIZATION_ROLES.contains(&role) {
            return Err(V2Error::validation(
                "organization_role",
                format!("{role} is not one of {}", ORGANIZATION_ROLES.join(", ")),
            ));
        }
        if !email.contains('@') {
            return Err(V2Error::validation("email", "email must be an address"));
        }
        let a = self.orgs.entry(org.to_string()).or_default();
        if a.users.iter().any(|u| same_email(&u.email, email)) {
            return Err(already_member(email));
        }
        let id = uuid::Uuid::new_v4().to_string();
        a.users.push(User {
            id: id.clone(),
            email: email.trim().to_string(),
            role: role.to_string(),
            projects: BTreeMap::new(),
        });
        Ok(id)
    }

    /// A membership made (or changed) in the console (test side); the
    /// caller checks that the project is the organization's.
    pub fn add_project_role(
        &mut self,
        org: &str,
        id: &str,
        project: &str,
        role: &str,
    ) -> Result<(), V2Error> {
        if !PROJECT_ROLES.contains(&role) {
            return Err(V2Error::validation(
                "project_role",
                format!("{role} is not one of {}", PROJECT_ROLES.join(", ")),
            ));
        }
        let u = self.user_mut(org, id)?;
        u.projects.insert(project.to_string(), role.to_string());
        Ok(())
    }

    /// The invitee accepts: the invite goes; the person is a user with its
    /// first organization role (an existing user keeps theirs) and a
    /// member of each project it names, `namespace-X` becoming `project-X`.
    /// `None`: no pending invite for that email.
    pub fn accept_invite(&mut self, org: &str, email: &str) -> Option<String> {
        let a = self.orgs.get_mut(org)?;
        let at = a.invites.iter().position(|i| same_email(&i.email, email))?;
        let invite = a.invites.remove(at);
        let idx = match a.users.iter().position(|u| same_email(&u.email, email)) {
            Some(i) => i,
            None => {
                a.users.push(User {
                    id: uuid::Uuid::new_v4().to_string(),
                    email: invite.email.clone(),
                    role: invite
                        .organization_roles
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "organization-member".into()),
                    projects: BTreeMap::new(),
                });
                a.users.len() - 1
            }
        };
        let u = &mut a.users[idx];
        for p in &invite.project_invites {
            if let Some(role) = p.project_roles.first() {
                let role = role.replacen("namespace-", "project-", 1);
                u.projects.insert(p.project_id.clone(), role);
            }
        }
        Some(u.id.clone())
    }

    /// Arms [`Self::accepted_after_listing`] for `email` in `org`.
    pub fn accept_after_users_listing(&mut self, org: &str, email: &str) {
        self.accept_after_listing
            .insert((org.to_string(), email.to_string()));
    }

    /// After a listing of `org`'s users has been answered: each armed
    /// invitee whose invite is pending accepts it now, so that the answer
    /// just given does not show them and the next listing of the invites
    /// does not show the invite. An armed invitee with no invite yet waits
    /// for a later listing.
    pub fn accepted_after_listing(&mut self, org: &str) {
        let armed: Vec<(String, String)> = self
            .accept_after_listing
            .iter()
            .filter(|(o, _)| o == org)
            .cloned()
            .collect();
        for (o, email) in armed {
            if self.accept_invite(&o, &email).is_some() {
                self.accept_after_listing.remove(&(o, email));
            }
        }
    }

    pub fn views(&self, org: &str) -> Vec<ConsoleUserView> {
        self.users_of(org)
            .iter()
            .map(|u| ConsoleUserView {
                user_id: u.id.clone(),
                email: u.email.clone(),
                organization_role: u.role.clone(),
                project_roles: u.projects.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "console_users_tests.rs"]
mod tests;
