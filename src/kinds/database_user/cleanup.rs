//! Deleting an AuraDatabaseUser: drop the users it made (Delete), or let
//! them and the Secret go on without it (Orphan). Never waits on a database
//! that is gone: an AuraInstance gone or going, or a namespace being
//! deleted, takes the users with it.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;

use super::act::{self, Database};
use super::decide::{self, Deletion, UserReason};
use crate::api::{AuraDatabaseUser, DeletionPolicy};
use crate::query_api::admin;
use crate::reconciler::status;
use crate::reconciler::{Cleanup, Context, ReconcileError, Result};

type Ctx = Context<AuraDatabaseUser>;

pub async fn cleanup(obj: &AuraDatabaseUser, ctx: &Ctx) -> Result<Cleanup> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraDatabaseUser> = Api::namespaced(ctx.client.clone(), &ns);
    let mut next = obj.status.clone().unwrap_or_default();
    let (instance, gate) = act::instance_gate(obj, ctx).await?;
    let namespace_going = namespace_going(ctx, &ns).await?;
    let orphan = obj.deletion() == DeletionPolicy::Orphan;
    match decide::deletion(orphan, &gate, namespace_going, &next) {
        Deletion::Orphan => {
            disown_secret(ctx, obj).await?;
            Ok(Cleanup::Done)
        }
        Deletion::Nothing => Ok(Cleanup::Done),
        Deletion::Wait(summary) => {
            status::write_summary(&api, obj, &mut next, &summary).await?;
            Ok(Cleanup::Again(Action::requeue(decide::WAIT)))
        }
        Deletion::Drop(users) => {
            let Some(instance) = instance else {
                return Err(ReconcileError::Invariant("a drop without its instance"));
            };
            let db = match Database::of(ctx, &instance, obj.database()).await? {
                Ok(db) => db,
                Err(summary) => {
                    status::write_summary(&api, obj, &mut next, &summary).await?;
                    return Ok(Cleanup::Again(Action::requeue(decide::WAIT)));
                }
            };
            for user in &users {
                if let Err(e) = db.admin(ctx, &admin::drop_user(user)).await {
                    let (summary, requeue) = act::refusal(&e);
                    status::write_summary(&api, obj, &mut next, &summary).await?;
                    ctx.warn(obj, UserReason::Dropping, &e.to_string()).await;
                    return Ok(Cleanup::Again(Action::requeue(requeue)));
                }
            }
            ctx.normal(
                obj,
                UserReason::UsersDropped,
                &format!("dropped {}", users.join(", ")),
            )
            .await;
            Ok(Cleanup::Done)
        }
    }
}

/// Whether the namespace is being deleted (then nothing waits on a database).
async fn namespace_going(ctx: &Ctx, ns: &str) -> Result<bool> {
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    match namespaces.get_metadata_opt(ns).await {
        Ok(found) => Ok(found.is_none_or(|n| n.metadata.deletion_timestamp.is_some())),
        // Without rights to read namespaces, go on as if it stays.
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(false),
        Err(e) => Err(ReconcileError::kube("read the namespace", e)),
    }
}

/// Orphan: the Secret loses its owner reference, so it outlives the object.
async fn disown_secret(ctx: &Ctx, obj: &AuraDatabaseUser) -> Result<()> {
    let ns = obj.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let name = obj.secret_name();
    let Some(secret) = secrets
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::kube("read the Secret", e))?
    else {
        return Ok(());
    };
    let uid = obj.uid();
    let kept: Vec<_> = secret
        .owner_references()
        .iter()
        .filter(|o| Some(&o.uid) != uid.as_ref())
        .cloned()
        .collect();
    if kept.len() == secret.owner_references().len() {
        return Ok(());
    }
    secrets
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"ownerReferences": kept,
                "resourceVersion": secret.resource_version()}})),
        )
        .await
        .map_err(|e| ReconcileError::kube("disown the Secret", e))?;
    Ok(())
}
