//! Deletion (DESIGN 4.3): Orphan keeps instance and Secret; Delete destroys the
//! instance and removes the Secret only once Aura answers 404.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use serde_json::json;
use tracing::info;

use super::ReconcileError;
use super::claims::Claim;
use super::context::Context;
use super::decide;
use super::reconcile::{Needs, build_status, deleting_summary, load_credentials, write_status};
use super::{secret, status};
use crate::api::{AuraInstance, DeletionPolicy, FINALIZER};
use crate::aura::{AuraErrorKind, InstanceStatus};
use crate::controller::decide::StatusSummary;

type Result<T, E = ReconcileError> = std::result::Result<T, E>;

pub async fn cleanup(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Context,
) -> Result<Requeue> {
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Requeue::await_change());
    }
    let ns = obj.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let current = obj.status.clone().unwrap_or_default();

    if obj.spec.deletion() == DeletionPolicy::Orphan {
        disown_secret(&secrets, obj).await?;
        // Let go of the claim: a later AuraInstance may adopt the instance.
        if let Some(id) = &current.instance_id {
            ctx.claims.release(obj, id).await?;
        }
        ctx.normal(
            obj,
            "Orphaned",
            &format!(
                "Aura instance {} and Secret {} are kept",
                current.instance_id.as_deref().unwrap_or("(none)"),
                obj.connection_secret_name()
            ),
        )
        .await;
        return remove_finalizer(api, obj, ctx).await;
    }

    let creds = match load_credentials(obj, ctx).await? {
        Needs::Ok(c) => c,
        Needs::Human { reason, message } => {
            let summary = StatusSummary::stalled(
                reason,
                format!(
                    "cannot delete the Aura instance: {message}; fix the credentials or set deletionPolicy: Orphan"
                ),
            );
            write_status(
                api,
                obj,
                build_status(obj, &current, &summary, Some(&current)),
            )
            .await?;
            return Ok(Requeue::requeue(ctx.resync_after(0)));
        }
    };
    let aura = ctx.aura.client(&creds);
    // Deleting is no longer Ready, even while Aura cannot be reached.
    let ready =
        status::condition(Some(&current), status::READY).is_some_and(|c| c.status == "True");
    if ready {
        let summary = deleting_summary("destroying the Aura instance");
        write_status(
            api,
            obj,
            build_status(obj, &current, &summary, Some(&current)),
        )
        .await?;
    }

    let mut instance_id = current
        .instance_id
        .clone()
        .or_else(|| ctx.pending_password(obj).map(|p| p.id));
    let mut found_by_search = false;
    if instance_id.is_none()
        && let (Some(intent), Some(tenant)) = (
            decide::create_intent(&current),
            current.tenant_id.as_deref(),
        )
    {
        // A create may have landed without an answer: find it so it is not left billed.
        let listed = aura.list_instances(tenant).await?;
        let name = current
            .create_requested_name
            .clone()
            .unwrap_or_else(|| obj.aura_name());
        let claimed = ctx.claims.held_by_others(obj, &listed);
        let search = decide::LostCreate {
            name: &name,
            intent,
            prior: &current.create_prior_ids,
            claimed: &claimed,
        };
        instance_id = search.find(&listed).map(|i| i.id.clone());
        found_by_search = instance_id.is_some();
        if instance_id.is_none()
            && jiff::Timestamp::now().duration_since(intent)
                < jiff::SignedDuration::try_from(ctx.config.create_grace).unwrap_or_default()
        {
            return Ok(Requeue::requeue(std::time::Duration::from_secs(5)));
        }
    }

    // Only the holder of the claim destroys an instance (DESIGN 4.11). One the
    // search just found and another object's search took meanwhile: look again.
    if let Some(id) = &instance_id
        && let Claim::HeldByOther(_) = ctx.claims.claim(obj, id).await?
    {
        if found_by_search {
            return Ok(Requeue::requeue(std::time::Duration::from_secs(1)));
        }
        ctx.warn(
            obj,
            "NotDestroyed",
            &format!("Aura instance {id} is held by another AuraInstance: it is left as it is"),
        )
        .await;
        instance_id = None;
    }
    if let Some(id) = instance_id {
        match aura.get_instance(&id).await {
            Err(e) if e.kind() == AuraErrorKind::NotFound => {
                info!(instance = %id, "Aura instance is gone");
                ctx.claims.release(obj, &id).await?;
            }
            Err(e) => return Err(e.into()),
            Ok(i) => {
                if i.status != InstanceStatus::Destroying {
                    match aura.delete_instance(&id).await {
                        Ok(()) => {
                            ctx.normal(
                                obj,
                                "Deleting",
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
                let summary =
                    deleting_summary(&format!("waiting for Aura to destroy instance {id}"));
                write_status(api, obj, build_status(obj, &next, &summary, Some(&current))).await?;
                return Ok(Requeue::requeue(ctx.config.poll_interval));
            }
        }
    }

    // Only a Secret of this object's is removed (DESIGN 4.12).
    let name = obj.connection_secret_name();
    let existing = secrets
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::kube("read the connection Secret", e))?;
    if existing
        .as_ref()
        .is_some_and(|s| secret::controlled_by(s, obj))
    {
        match secrets.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube("delete the connection Secret", e)),
        }
    }
    ctx.forget_password(obj);
    ctx.forget_instance(obj);
    ctx.normal(
        obj,
        "Deleted",
        "the Aura instance is gone; the connection Secret was removed",
    )
    .await;
    remove_finalizer(api, obj, ctx).await
}

async fn disown_secret(secrets: &Api<Secret>, obj: &AuraInstance) -> Result<()> {
    let name = obj.connection_secret_name();
    let Some(secret) = secrets
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::kube("read the connection Secret", e))?
    else {
        return Ok(());
    };
    let uid = obj.uid().unwrap_or_default();
    let kept: Vec<_> = secret
        .owner_references()
        .iter()
        .filter(|o| o.uid != uid)
        .cloned()
        .collect();
    if kept.len() == secret.owner_references().len() {
        return Ok(());
    }
    // A JSON patch with a test keeps a concurrent writer's references intact.
    let patch = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": secret.resource_version()},
        {"op": "replace", "path": "/metadata/ownerReferences", "value": kept},
    ]);
    secrets
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::<()>::Json(serde_json::from_value(patch).expect("static patch")),
        )
        .await
        .map_err(|e| ReconcileError::kube("drop the Secret's owner reference", e))?;
    Ok(())
}

async fn remove_finalizer(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    ctx: &Context,
) -> Result<Requeue> {
    let finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(ReconcileError::kube("remove the finalizer", e)),
    }
    let others = ctx.instances_in(&obj.namespace().unwrap_or_default());
    super::credentials_finalizer::release_unused(&ctx.client, obj, &others).await?;
    ctx.forget_client(obj);
    Ok(Requeue::await_change())
}
