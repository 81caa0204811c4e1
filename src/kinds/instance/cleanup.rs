//! Deletion, carried out: each step is decided in `decide::deletion`; this
//! file only makes the calls. Orphan (and deletionProtection, whatever the
//! policy) keeps instance and Secret; Delete destroys the instance and removes
//! the Secret only once Aura answers 404.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller;
use serde_json::json;
use tracing::{info, warn};

use super::act::write_status;
use super::claims::Claim;
use super::decide::{self, DeletionPlan, DeletionTarget, DestroyStep, HeldElsewhere};
use super::observe::{self, read_secret};
use super::{secret, status};
use crate::api::{AuraInstance, AuraInstanceStatus};
use crate::aura::{AuraClient, AuraErrorKind};
use crate::reconciler::{Cleanup, Context, ReconcileError, Result};

type Ctx = Context<AuraInstance>;

pub async fn cleanup(obj: &AuraInstance, ctx: &Ctx) -> Result<Cleanup> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraInstance> = Api::namespaced(ctx.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let current = obj.status.clone().unwrap_or_default();

    if let DeletionPlan::Orphan(cause) = decide::deletion_plan(&obj.spec) {
        orphan(obj, ctx, &secrets, &current, cause).await?;
        return Ok(Cleanup::Done);
    }

    let creds = match observe::credentials(obj, ctx).await?.1 {
        Ok(c) => c,
        Err(problem) => {
            let summary = decide::deletion_blocked(decide::credentials_stall(&problem));
            write_status(
                &api,
                obj,
                status::build(obj, &current, &summary, Some(&current)),
            )
            .await?;
            return Ok(Cleanup::Again(controller::Action::requeue(
                ctx.resync_after(0),
            )));
        }
    };
    let aura = ctx
        .aura
        .client(&creds)
        .for_object(crate::reconciler::projects::user_of(obj));
    // Deleting is no longer Ready, even while Aura cannot be reached.
    let ready = crate::reconciler::status::is_true(&current.conditions, status::READY);
    if ready {
        let summary = status::deleting("destroying the Aura instance");
        write_status(
            &api,
            obj,
            status::build(obj, &current, &summary, Some(&current)),
        )
        .await?;
    }

    let instance_id = match target(obj, ctx, &aura, &current).await? {
        Ok(id) => id,
        Err(again) => return Ok(again),
    };
    if let Some(id) = instance_id
        && let Some(again) = destroy(obj, ctx, &api, &aura, &current, &id).await?
    {
        return Ok(again);
    }
    remove_secret(obj, ctx, &secrets).await?;
    Ok(Cleanup::Done)
}

/// Orphan (deletionPolicy, or deletionProtection): instance and Secret kept.
async fn orphan(
    obj: &AuraInstance,
    ctx: &Ctx,
    secrets: &Api<Secret>,
    current: &AuraInstanceStatus,
    cause: decide::OrphanCause,
) -> Result<()> {
    disown_secret(secrets, obj).await?;
    // Let go of the claim: a later AuraInstance may adopt the instance.
    if let Some(id) = &current.instance_id {
        ctx.claims().release(obj, id).await?;
    }
    let kept = decide::orphan_note(
        cause,
        current.instance_id.as_deref(),
        &obj.connection_secret_name(),
    );
    if kept.warning {
        warn!(reason = %kept.reason, note = %kept.note, "a protected object was deleted");
        ctx.warn(obj, kept.reason, &kept.note).await;
    } else {
        ctx.normal(obj, kept.reason, &kept.note).await;
    }
    Ok(())
}

/// The instance to destroy, held by this object (`None`: nothing to
/// destroy); `Err`: when to look again first.
async fn target(
    obj: &AuraInstance,
    ctx: &Ctx,
    aura: &AuraClient,
    current: &AuraInstanceStatus,
) -> Result<std::result::Result<Option<String>, Cleanup>> {
    let again = |after| Err(Cleanup::Again(controller::Action::requeue(after)));
    let pending = ctx.pending_password(obj).map(|p| p.id);
    // A create may have landed without an answer: find it so it is not left billed.
    let listed = match decide::deletion_search(current, pending.as_deref()) {
        Some(tenant) => {
            let listed = aura.list_instances(tenant).await?;
            let claimed = ctx.claims().held_by_others(obj, &listed);
            Some((listed, claimed))
        }
        None => None,
    };
    let held = ctx
        .claims()
        .held_by(obj, current.instance_id.as_deref())
        .await?;
    let target = decide::deletion_target(
        current,
        held.as_deref(),
        pending.as_deref(),
        &obj.aura_name(),
        listed.as_ref().map(|(l, c)| (l.as_slice(), c.as_slice())),
        jiff::Timestamp::now(),
        ctx.config.create_grace,
    );
    Ok(match target {
        DeletionTarget::Wait(after) => again(after),
        DeletionTarget::Nothing => Ok(None),
        DeletionTarget::NotHeld(id) => {
            ctx.warn(
                obj,
                decide::Reason::NotDestroyed,
                &format!(
                    "Aura instance {id}, which the status names, is not held by this object's claim: it is left as it is"
                ),
            )
            .await;
            Ok(None)
        }
        DeletionTarget::Instance {
            id,
            found_by_search,
        } => match ctx.claims().claim(obj, &id).await? {
            Claim::Held => Ok(Some(id)),
            Claim::HeldByOther(_) => match decide::held_elsewhere(found_by_search) {
                HeldElsewhere::LookAgain(after) => again(after),
                HeldElsewhere::LeaveIt => {
                    ctx.warn(
                        obj,
                        decide::Reason::NotDestroyed,
                        &format!(
                            "Aura instance {id} is held by another AuraInstance: it is left as it is"
                        ),
                    )
                    .await;
                    Ok(None)
                }
            },
        },
    })
}

/// One step of destroying `id`; `None` once Aura no longer has it.
async fn destroy(
    obj: &AuraInstance,
    ctx: &Ctx,
    api: &Api<AuraInstance>,
    aura: &AuraClient,
    current: &AuraInstanceStatus,
    id: &str,
) -> Result<Option<Cleanup>> {
    let observed = match aura.get_instance(id).await {
        Ok(i) => Some(i),
        Err(e) if e.kind() == AuraErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let step = decide::destroy_step(observed.as_ref());
    if step == DestroyStep::Gone {
        info!(instance = %id, "Aura instance is gone");
        ctx.claims().release(obj, id).await?;
        return Ok(None);
    }
    if step == DestroyStep::Delete && ctx.config.dry_run {
        // The finalizer stays: the instance is still billed, and
        // a real run must still find this object to destroy it.
        let what = format!("would delete Aura instance {id}: DELETE /instances/{id}");
        ctx.dry_run_skipped(obj, "delete", &what).await;
        let summary = status::dry_run_deleting(&what);
        write_status(
            api,
            obj,
            status::build(obj, current, &summary, Some(current)),
        )
        .await?;
        return Ok(Some(Cleanup::Again(controller::Action::requeue(
            ctx.resync_after(0),
        ))));
    }
    if step == DestroyStep::Delete {
        match aura.delete_instance(id).await {
            Ok(()) => {
                ctx.normal(
                    obj,
                    decide::Reason::Deleting,
                    &format!("asked Aura to destroy instance {id}"),
                )
                .await
            }
            Err(e) if e.kind() == AuraErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut next = current.clone();
    next.aura_status = Some("destroying".into());
    let summary = status::deleting(&format!("waiting for Aura to destroy instance {id}"));
    write_status(api, obj, status::build(obj, &next, &summary, Some(current))).await?;
    Ok(Some(Cleanup::Again(controller::Action::requeue(
        ctx.config.poll_interval,
    ))))
}

/// The instance is gone: its Secret goes too.
async fn remove_secret(obj: &AuraInstance, ctx: &Ctx, secrets: &Api<Secret>) -> Result<()> {
    // Only a Secret of this object's is removed (DESIGN 4.12).
    let name = obj.connection_secret_name();
    let existing = read_secret(secrets, &name).await?;
    if let Some(existing) = existing.as_ref().filter(|s| secret::controlled_by(s, obj)) {
        release_protection(secrets, existing).await?;
        match secrets.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube("delete the connection Secret", e)),
        }
    }
    ctx.normal(
        obj,
        decide::Reason::Deleted,
        "the Aura instance is gone; the connection Secret was removed",
    )
    .await;
    Ok(())
}

async fn disown_secret(secrets: &Api<Secret>, obj: &AuraInstance) -> Result<()> {
    let name = obj.connection_secret_name();
    let Some(secret) = read_secret(secrets, &name).await? else {
        return Ok(());
    };
    let uid = obj.uid().unwrap_or_default();
    let kept: Vec<_> = secret
        .owner_references()
        .iter()
        .filter(|o| o.uid != uid)
        .cloned()
        .collect();
    if kept.len() == secret.owner_references().len() && !secret::held_for_protection(&secret) {
        return Ok(());
    }
    // A JSON patch with a test keeps a concurrent writer's references intact.
    // The kept Secret is the user's now: nothing of ours holds it.
    let patch = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": secret.resource_version()},
        {"op": "add", "path": "/metadata/ownerReferences", "value": kept},
        {"op": "add", "path": "/metadata/finalizers", "value": without_protection(&secret)},
    ]);
    let patch = serde_json::from_value(patch)
        .map_err(|_| ReconcileError::Invariant("the owner-reference patch"))?;
    secrets
        .patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .map_err(|e| ReconcileError::kube("drop the Secret's owner reference", e))?;
    Ok(())
}

fn without_protection(secret: &Secret) -> Vec<String> {
    secret
        .finalizers()
        .iter()
        .filter(|f| *f != secret::PROTECTED_FINALIZER)
        .cloned()
        .collect()
}

/// Protection lifted and the instance gone: the Secret may go too.
async fn release_protection(secrets: &Api<Secret>, secret: &Secret) -> Result<()> {
    if !secret::held_for_protection(secret) {
        return Ok(());
    }
    let patch = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": secret.resource_version()},
        {"op": "add", "path": "/metadata/finalizers", "value": without_protection(secret)},
    ]);
    let patch = serde_json::from_value(patch)
        .map_err(|_| ReconcileError::Invariant("the finalizer patch"))?;
    match secrets
        .patch(
            &secret.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ReconcileError::kube(
            "release the connection Secret's protection",
            e,
        )),
    }
}
