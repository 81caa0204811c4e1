//! Deleting an AuraCustomerManagedKey: wait while an AuraInstance of the
//! namespace names it, then delete the Aura key (Delete) or leave it
//! (Orphan). Aura refuses to delete a key an instance uses; that is a wait.

use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;

use super::act::{self, Ctx};
use super::decide::{self, Deletion, IN_USE_POLL, KeyReason, KeySummary};
use crate::api::{AuraCustomerManagedKey, AuraInstance};
use crate::aura::AuraClient;
use crate::reconciler::status;
use crate::reconciler::{Cleanup, ReconcileError, Result};

pub async fn cleanup(obj: &AuraCustomerManagedKey, ctx: &Ctx) -> Result<Cleanup> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraCustomerManagedKey> = Api::namespaced(ctx.client.clone(), &ns);
    let mut next = obj.status.clone().unwrap_or_default();
    let named_by = named_by(ctx, obj).await?;
    match decide::deletion(
        obj.deletion_policy(),
        &next,
        obj.spec.id.as_deref(),
        &named_by,
    ) {
        Deletion::Done => Ok(Cleanup::Done),
        Deletion::Wait(summary) => wait(&api, obj, &mut next, &summary).await,
        Deletion::Delete(id) => {
            let aura = match act::client(obj, ctx).await? {
                Ok(aura) => aura,
                Err(summary) => return wait(&api, obj, &mut next, &summary).await,
            };
            delete(obj, ctx, &api, &aura, &mut next, &[id]).await
        }
        Deletion::Search => {
            let aura = match act::client(obj, ctx).await? {
                Ok(aura) => aura,
                Err(summary) => return wait(&api, obj, &mut next, &summary).await,
            };
            let Some(tenant) = next.tenant_id.clone() else {
                return Ok(Cleanup::Done);
            };
            let listed = aura.list_keys(&tenant).await?;
            // The unanswered create's key: of the name, new since the
            // intent, and recorded by no other object.
            let held = act::held_elsewhere(obj, ctx);
            let ids: Vec<String> =
                decide::candidates(&listed, &obj.spec.name, &next.create_prior_ids, &held)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
            delete(obj, ctx, &api, &aura, &mut next, &ids).await
        }
    }
}

async fn delete(
    obj: &AuraCustomerManagedKey,
    ctx: &Ctx,
    api: &Api<AuraCustomerManagedKey>,
    aura: &AuraClient,
    next: &mut crate::api::AuraCustomerManagedKeyStatus,
    ids: &[String],
) -> Result<Cleanup> {
    for id in ids {
        if ctx.config.dry_run {
            ctx.dry_run_skipped(
                obj,
                "delete_key",
                &format!("DELETE /customer-managed-keys/{id}"),
            )
            .await;
            continue;
        }
        match aura.delete_key(id).await {
            Ok(()) => {
                ctx.normal(
                    obj,
                    KeyReason::KeyDeleted,
                    &format!("deleted key {id} in Aura"),
                )
                .await;
            }
            Err(e) if e.key_in_use() => {
                let summary = KeySummary::working(
                    KeyReason::KeyInUse,
                    format!(
                        "Aura still uses key {id} for an instance ({}); deleting waits until that instance is gone",
                        e.message()
                    ),
                );
                return wait(api, obj, next, &summary).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Cleanup::Done)
}

async fn wait(
    api: &Api<AuraCustomerManagedKey>,
    obj: &AuraCustomerManagedKey,
    next: &mut crate::api::AuraCustomerManagedKeyStatus,
    summary: &KeySummary,
) -> Result<Cleanup> {
    status::write_summary(api, obj, next, summary).await?;
    Ok(Cleanup::Again(Action::requeue(IN_USE_POLL)))
}

/// The AuraInstances of the namespace whose customerManagedKeyRef names the
/// object (read from the apiserver: deletion is rare, and must not trust a
/// watch that may not have caught up).
async fn named_by(ctx: &Ctx, obj: &AuraCustomerManagedKey) -> Result<Vec<String>> {
    let ns = obj.namespace().unwrap_or_default();
    let instances: Api<AuraInstance> = Api::namespaced(ctx.client.clone(), &ns);
    let name = obj.name_any();
    let list = instances
        .list(&ListParams::default())
        .await
        .map_err(|e| ReconcileError::kube("list the AuraInstances naming the key", e))?;
    Ok(list
        .items
        .iter()
        .filter(|i| {
            i.spec
                .customer_managed_key_ref
                .as_ref()
                .is_some_and(|r| r.name == name)
        })
        .map(ResourceExt::name_any)
        .collect())
}
