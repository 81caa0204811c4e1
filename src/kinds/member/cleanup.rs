//! Deleting a member object undoes what it did, and only that: the person
//! it added is removed (Delete) or kept (Orphan), its pending invite is
//! deleted (Delete), and an adopted membership gets its original role back
//! whatever the policy.

use std::time::Duration;

use kube::runtime::controller::Action;

use super::decide::{self, Leave, MemberReason, Record};
use super::{MemberObject, Place, act};
use crate::api::MembershipOrigin;
use crate::kinds::shared::own_client;
use crate::reconciler::{Cleanup, Context, Result};

pub async fn cleanup<K: MemberObject>(obj: &K, ctx: &Context<K>) -> Result<Cleanup> {
    let current = obj.status().cloned().unwrap_or_default();
    let record = Record::of(&current);
    let nothing_done = record.origin.is_none() && !record.requested && record.invite_id.is_none();
    let kept = obj.deletion_policy() == crate::api::DeletionPolicy::Orphan
        && record.origin != Some(MembershipOrigin::Adopted);
    let Some(org) = current.organization_id.clone() else {
        return Ok(Cleanup::Done);
    };
    if nothing_done || kept {
        return Ok(Cleanup::Done);
    }
    let place = match current.project_id.clone() {
        Some(project) if obj.in_project() => Place::Project { org, project },
        _ => Place::Organization { org },
    };
    let aura = match own_client::client(ctx, obj).await? {
        Ok(aura) => aura,
        Err(problem) => {
            ctx.warn(
                obj,
                MemberReason::CredentialsNotUsable,
                &format!("cannot undo the membership yet: {problem}"),
            )
            .await;
            return Ok(Cleanup::Again(Action::requeue(Duration::from_secs(30))));
        }
    };
    let by_id = current
        .user_id
        .clone()
        .or(obj.spec_user_id().map(str::to_string));
    let seen = act::observe_settled(&aura, &place, by_id.as_deref(), obj.email(), &record).await?;
    for step in decide::leave(obj.deletion_policy(), &record, &seen) {
        let (operation, what) = match &step {
            Leave::Remove { user_id } => ("remove_member", format!("remove user {user_id}")),
            Leave::Restore { user_id, role } => (
                "restore_role",
                format!("give user {user_id} back the role {role}"),
            ),
            Leave::DeleteInvite { id } => ("delete_invite", format!("delete invite {id}")),
        };
        if ctx.config.dry_run {
            ctx.dry_run_skipped(obj, operation, &what).await;
            continue;
        }
        let (result, reason) = match &step {
            Leave::Remove { user_id } => (
                match &place {
                    Place::Organization { org } => aura.remove_console_user(org, user_id).await,
                    Place::Project { org, project } => {
                        aura.remove_project_user(org, project, user_id).await
                    }
                },
                MemberReason::MemberRemoved,
            ),
            Leave::Restore { user_id, role } => (
                match &place {
                    Place::Organization { org } => {
                        aura.set_organization_role(org, user_id, role).await
                    }
                    Place::Project { org, project } => {
                        aura.set_project_role(org, project, user_id, role).await
                    }
                },
                MemberReason::RoleRestored,
            ),
            Leave::DeleteInvite { id } => (
                aura.delete_invite(place.org(), id).await,
                MemberReason::InviteDeleted,
            ),
        };
        match result {
            Ok(()) => ctx.normal(obj, reason, &what).await,
            Err(e) if e.is_transient() => {
                return Ok(Cleanup::Again(Action::requeue(
                    e.retry_after().unwrap_or(Duration::from_secs(10)),
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Cleanup::Done)
}
