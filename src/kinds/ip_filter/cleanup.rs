//! Deleting an AuraIPFilter or a ClusterAuraIPFilter removes the filter in Aura (Delete) or leaves it
//! (Orphan). Aura answers a DELETE that removed the filter with 500 at times:
//! the client confirms with a GET before it calls that a failure.

use std::time::Duration;

use kube::runtime::controller::Action;

use super::FilterObject;
use super::decide::{self, FilterReason};
use super::write;
use crate::api::DeletionPolicy;
use crate::kinds::shared::own_client;
use crate::reconciler::{Cleanup, Context, Result};

pub async fn cleanup<K: FilterObject>(obj: &K, ctx: &Context<K>) -> Result<Cleanup> {
    if obj.deletion_policy() == DeletionPolicy::Orphan {
        return Ok(Cleanup::Done);
    }
    let current = obj.status().cloned().unwrap_or_default();
    let (Some(org), known) = (current.organization_id.clone(), current.id.clone()) else {
        // No organization was ever chosen: nothing was created.
        return Ok(Cleanup::Done);
    };
    if known.is_none() && decide::intent(&current).is_none() {
        return Ok(Cleanup::Done);
    }
    let aura = match own_client::client(ctx, obj).await? {
        Ok(aura) => aura,
        Err(problem) => {
            ctx.warn(
                obj,
                FilterReason::CredentialsNotUsable,
                &format!("cannot remove the Aura filter yet: {problem}"),
            )
            .await;
            return Ok(Cleanup::Again(Action::requeue(Duration::from_secs(30))));
        }
    };
    let ids = match known {
        Some(id) => vec![id],
        // An unanswered create: its filter, if it made one, is removed too.
        None => {
            let listed = aura.list_ip_filters(&org).await?;
            decide::candidates(
                &listed,
                obj.aura_name(),
                &current.create_prior_ids,
                &write::held_elsewhere(obj, ctx),
            )
            .into_iter()
            .map(str::to_string)
            .collect()
        }
    };
    for id in ids {
        if ctx.config.dry_run {
            ctx.dry_run_skipped(
                obj,
                "delete_ip_filter",
                &format!("DELETE /organizations/{org}/ip-filters/{id}"),
            )
            .await;
            continue;
        }
        match aura.delete_ip_filter(&org, &id).await {
            Ok(()) => {
                ctx.normal(
                    obj,
                    FilterReason::FilterDeleted,
                    &format!("removed IP filter {id} in Aura"),
                )
                .await;
            }
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
