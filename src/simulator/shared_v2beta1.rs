//! The test side of `/v2beta1`: console access (people who have a console
//! account, memberships made in the console, invites accepted, what each
//! organization holds) and instances' databases, backups and restores.
//! The `try_` forms answer the refusal the `/admin` routes send; the
//! others are for tests and panic on a mistake.

use tokio::time::Instant;

use super::super::console_users::{ConsoleUserView, OrganizationInvite};
use super::super::databases::{DatabaseBackup, DatabaseRestore, DatabaseSummary};
use super::super::v2beta1::V2Error;
use super::SimState;

impl SimState {
    /// A person with a console account joins `org_id` with `org_role`
    /// (`organization-owner|admin|member`); answers their user id. 404
    /// `organization-not-found`, 400 `validation-error` for a role of
    /// another vocabulary, 409 `user-already-member` for a known email.
    pub fn try_add_console_user(
        &self,
        org_id: &str,
        email: &str,
        org_role: &str,
    ) -> Result<String, V2Error> {
        let mut w = self.world();
        if w.orgs.get(org_id).is_none() {
            return Err(V2Error::organization_not_found(org_id));
        }
        w.console.add_user(org_id, email, org_role)
    }

    /// [`Self::try_add_console_user`], panicking on a refusal (a test's mistake).
    pub fn add_console_user(&self, org_id: &str, email: &str, org_role: &str) -> String {
        self.try_add_console_user(org_id, email, org_role)
            .unwrap_or_else(|e| panic!("add_console_user({org_id}, {email}): {}", e.message))
    }

    /// The user is given (or changed to) `project_role` (`project-*`) in
    /// the project, as done in the console. 404 `organization-not-found`,
    /// `project-not-found` (not a project of the organization),
    /// `user-not-found`; 400 `validation-error` for another vocabulary.
    pub fn try_add_console_project_role(
        &self,
        org_id: &str,
        user_id: &str,
        project_id: &str,
        project_role: &str,
    ) -> Result<(), V2Error> {
        let mut w = self.world();
        if w.orgs.get(org_id).is_none() {
            return Err(V2Error::organization_not_found(org_id));
        }
        if !w.has_tenant(project_id) || w.orgs.of_tenant(project_id) != org_id {
            return Err(V2Error::project_not_found(project_id));
        }
        w.console
            .add_project_role(org_id, user_id, project_id, project_role)
    }

    /// [`Self::try_add_console_project_role`], panicking on a refusal.
    pub fn add_console_project_role(
        &self,
        org_id: &str,
        user_id: &str,
        project_id: &str,
        project_role: &str,
    ) {
        if let Err(e) = self.try_add_console_project_role(org_id, user_id, project_id, project_role)
        {
            panic!(
                "add_console_project_role({org_id}, {user_id}, {project_id}): {}",
                e.message
            );
        }
    }

    /// The invitee accepts the pending invite to `email`: the invite goes,
    /// they are a user with its first organization role and a member of
    /// each project it names (`namespace-X` becomes `project-X`). Their
    /// user id; `None` when no invite to that email is pending.
    pub fn accept_invite(&self, org_id: &str, email: &str) -> Option<String> {
        self.world().console.accept_invite(org_id, email)
    }

    /// The invitee of `email` accepts their invite right after the next
    /// listing of the organization's users that finds it pending (that
    /// answer does not show them yet; the invites listed after it no longer
    /// show the invite).
    pub fn accept_invite_after_users_listing(&self, org_id: &str, email: &str) {
        self.world()
            .console
            .accept_after_users_listing(org_id, email);
    }

    /// The organization's users, each with its role and its project roles.
    pub fn console_users(&self, org_id: &str) -> Vec<ConsoleUserView> {
        self.world().console.views(org_id)
    }

    /// The organization's pending invites, as `GET O/invites` shows them.
    pub fn invites(&self, org_id: &str) -> Vec<OrganizationInvite> {
        self.world().console.invites(org_id)
    }

    /// Whether the instance is multi-database: `Some` for one made by the
    /// v2beta1 create, `None` for one made through v1 (or none at all).
    pub fn multi_database(&self, instance_id: &str) -> Option<bool> {
        self.world().multi_database(instance_id, Instant::now())
    }

    /// The instance's databases, the default `neo4j` first; empty for an
    /// unknown instance.
    pub fn databases(&self, instance_id: &str) -> Vec<DatabaseSummary> {
        self.world()
            .instance_databases(instance_id, Instant::now())
            .map(|d| d.list())
            .unwrap_or_default()
    }

    /// The backups of one database of the instance, oldest first, as their
    /// answers show them now; empty when there is no such database.
    pub fn database_backups(&self, instance_id: &str, database_id: &str) -> Vec<DatabaseBackup> {
        let mut w = self.world();
        let takes = w.database_backup_time();
        let now = Instant::now();
        w.instance_databases(instance_id, now)
            .and_then(|d| d.backups(database_id, now, takes).ok())
            .unwrap_or_default()
    }

    /// Every restore the instance's databases were sent, oldest first.
    pub fn database_restores(&self, instance_id: &str) -> Vec<DatabaseRestore> {
        self.world()
            .instance_databases(instance_id, Instant::now())
            .map(|d| d.restores())
            .unwrap_or_default()
    }
}
