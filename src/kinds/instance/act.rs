//! Act: the calls a decision names, and nothing else. Each call's result is
//! handed back as an [`Acted`] (or a [`Scheduled`]) for `finish`, which
//! chooses the status and the events. A create has its protocol of its own
//! (`create.rs`): its intent must be written before the call.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tracing::{debug, info};

use super::decide::{Action, Decision};
use super::finish::{Acted, Event};
use super::observe::{self, Observed};
use super::schedule::{self, Due, Scheduled};
use super::secret;
use super::verify;
use crate::api::AuraInstance;
use crate::aura::{AuraClient, UpgradeInstanceRequest};
use crate::kinds::shared::connection;
use crate::kinds::shared::views::Claim;
use crate::reconciler::{Context, FIELD_MANAGER, ReconcileError, Result};

type Ctx = Context<AuraInstance>;

/// Carries out the decision's action (not a create).
pub async fn act(
    obj: &AuraInstance,
    ctx: &Ctx,
    aura: &AuraClient,
    decision: &Decision,
    observed: &Observed,
) -> Result<Acted> {
    let acted = match &decision.action {
        Action::None | Action::Observe { .. } | Action::DryRun { .. } | Action::Create(_) => {
            Acted::Nothing
        }
        Action::WriteSecret => write_secret(obj, ctx, observed).await?,
        Action::Adopt { instance_id, cause } => match ctx.claims().claim(obj, instance_id).await? {
            Claim::HeldByOther(_) => Acted::AdoptRaced,
            Claim::Held => {
                info!(instance = %instance_id, ?cause, "adopted the instance");
                ctx.record_instance(obj, instance_id);
                Acted::Adopted {
                    instance_id: instance_id.clone(),
                    cause: *cause,
                }
            }
        },
        Action::Recreate { instance_id } => {
            aura.delete_instance(instance_id).await?;
            Acted::Recreated {
                instance_id: instance_id.clone(),
            }
        }
        Action::ForgetInstance { instance_id } => {
            ctx.claims().release(obj, instance_id).await?;
            info!("the instance destroyed for a re-create is gone; creating again");
            ctx.forget_instance(obj);
            ctx.forget_password(obj);
            Acted::Forgot
        }
        Action::SnapshotFirst { name } => Acted::SnapshotFirst {
            name: name.clone(),
            made: schedule::take(&ctx.client, obj, name, None).await?,
        },
        Action::Update {
            instance_id,
            request,
            ..
        } => {
            aura.update_instance(instance_id, request).await?;
            Acted::Sent
        }
        Action::Pause { instance_id, .. } => {
            aura.pause_instance(instance_id).await?;
            Acted::Sent
        }
        Action::Resume { instance_id, .. } => {
            aura.resume_instance(instance_id).await?;
            Acted::Sent
        }
        Action::Upgrade { instance_id, to } => {
            aura.upgrade_instance(instance_id, &UpgradeInstanceRequest::default())
                .await?;
            debug!(to = %to, "upgrade sent");
            Acted::Sent
        }
    };
    if observed.leftover_backup {
        let secrets = secrets_of(obj, ctx);
        delete_backup(
            &secrets,
            &secret::backup_name(&obj.connection_secret_name()),
        )
        .await?;
    }
    Ok(acted)
}

/// What a settled instance does besides: the credential check, and the
/// scheduled snapshot that is due.
pub async fn settled(
    obj: &AuraInstance,
    ctx: &Ctx,
    observed: &Observed,
    ready: bool,
    due: Option<&Due>,
) -> Result<(verify::Check, Slot)> {
    let written = observed.secret.as_ref().map(|p| &p.desired);
    let check = verify::check(obj, ctx, written, ready).await;
    let last = observed.current.last_snapshot.as_ref();
    let scheduled = match due {
        Some(Due::Take { slot }) => {
            Slot::from(schedule::take_slot(&ctx.client, obj, *slot, last).await?)
        }
        Some(Due::Wait(_)) | None => Slot::NotDue,
    };
    Ok((check, scheduled))
}

/// What came of a due slot.
pub enum Slot {
    NotDue,
    Taken(Scheduled),
    /// The previous scheduled snapshot is still being taken: later.
    PreviousTaking,
}

impl From<Option<Scheduled>> for Slot {
    fn from(taken: Option<Scheduled>) -> Self {
        taken.map_or(Self::PreviousTaking, Self::Taken)
    }
}

impl Slot {
    pub fn taken(&self) -> Option<&Scheduled> {
        match self {
            Self::Taken(s) => Some(s),
            Self::NotDue | Self::PreviousTaking => None,
        }
    }
}

fn secrets_of(obj: &AuraInstance, ctx: &Ctx) -> Api<Secret> {
    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default())
}

async fn write_secret(obj: &AuraInstance, ctx: &Ctx, observed: &Observed) -> Result<Acted> {
    let Some(plan) = &observed.secret else {
        return Ok(Acted::Nothing);
    };
    let secrets = secrets_of(obj, ctx);
    let replaced = if plan.replace {
        replace_secret(obj, ctx, &secrets, &plan.desired).await?;
        Some(plan.desired.type_.clone().unwrap_or_default())
    } else {
        apply_secret(ctx, &secrets, &plan.desired).await?;
        None
    };
    ctx.forget_password(obj);
    Ok(Acted::SecretWritten { replaced })
}

pub(super) async fn apply_secret(ctx: &Ctx, secrets: &Api<Secret>, desired: &Secret) -> Result<()> {
    ctx.secrets.writing(desired);
    let written = connection::apply(secrets, desired).await.map_err(|e| {
        ctx.secrets.not_written(desired);
        ReconcileError::kube("write the connection Secret", e)
    })?;
    ctx.secrets.wrote(&written);
    Ok(())
}

/// [`apply_secret`] as a dry run: what the apiserver says of the Secret, nothing stored.
pub(super) async fn apply_secret_dry_run(
    secrets: &Api<Secret>,
    desired: &Secret,
) -> std::result::Result<(), kube::Error> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let mut body = serde_json::to_value(desired).unwrap_or_default();
    body["apiVersion"] = json!("v1");
    body["kind"] = json!("Secret");
    secrets
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force().dry_run(),
            &Patch::Apply(body),
        )
        .await
        .map(drop)
}

/// A Secret's type cannot change, so a new format's type means a new Secret.
/// The password is first copied into a backup Secret (owned, labelled, found
/// again by `observe` if this is cut short), then the old Secret goes (only
/// the one read: uid precondition), the new one is written, the backup goes.
async fn replace_secret(
    obj: &AuraInstance,
    ctx: &Ctx,
    secrets: &Api<Secret>,
    desired: &Secret,
) -> Result<()> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let backup_name = secret::backup_name(&name);
    let existing = observe::read_secret(secrets, &name).await?;
    let backup_existing = observe::read_secret(secrets, &backup_name).await?;
    if backup_existing
        .as_ref()
        .is_some_and(|b| !secret::controlled_by(b, obj))
    {
        return Err(ReconcileError::Invariant(
            "the format-change backup Secret's name is taken by a Secret of somebody else",
        ));
    }
    let mut backup = desired.clone();
    backup.metadata.name = Some(backup_name.clone());
    backup.type_ = Some(secret::format::OPAQUE_TYPE.into());
    apply_secret(ctx, secrets, &backup).await?;
    if let Some(old) = existing {
        connection::delete(secrets, &name, old.metadata.uid.clone())
            .await
            .map_err(|e| ReconcileError::kube("replace the connection Secret", e))?;
    }
    apply_secret(ctx, secrets, desired).await?;
    delete_backup(secrets, &backup_name).await?;
    info!(secret = %name, "connection Secret replaced for its new type");
    Ok(())
}

async fn delete_backup(secrets: &Api<Secret>, backup_name: &str) -> Result<()> {
    connection::delete(secrets, backup_name, None)
        .await
        .map_err(|e| ReconcileError::kube("delete the format-change backup Secret", e))
}

/// Sends the events `finish` chose, in order.
pub async fn publish(obj: &AuraInstance, ctx: &Ctx, events: Vec<Event>) {
    for event in events {
        match event {
            Event::Normal(reason, note) => ctx.normal(obj, reason, &note).await,
            Event::Warning(reason, note) => {
                tracing::info!(%reason, note, "warning event");
                ctx.warn(obj, reason, &note).await;
            }
            Event::DryRun { operation, what } => ctx.dry_run_skipped(obj, operation, &what).await,
        }
    }
}

/// Writes status when it changed; returns the object as written.
pub(super) async fn write_status(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    status: crate::api::AuraInstanceStatus,
) -> Result<Option<AuraInstance>> {
    crate::reconciler::status::write(
        api,
        obj,
        &status,
        crate::reconciler::status::Write::IfChanged,
    )
    .await
}
