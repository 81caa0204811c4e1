//! Act: carries out what `decide` chose for a live AuraInstance, then writes
//! the status it chose (through the one status writer).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use tracing::{debug, info, warn};

use super::claims::Claim;
use super::decide::{self, Action, Decision, Observation, Readiness, Reason, Stall, StatusSummary};
use super::observe::{self, Gathered};
use super::schedule;
use super::secret::{self, ConnectionDetails};
use super::status;
use super::transitions;
use super::verify;
use crate::api::{AuraInstance, AuraInstanceStatus, LastSnapshot, MAX_RECREATIONS};
use crate::aura::{AuraClient, AuraErrorKind, CreatedInstance, UpgradeInstanceRequest};
use crate::reconciler::pacing::{self, Transition};
use crate::reconciler::status::Write;
use crate::reconciler::{Context, FIELD_MANAGER, ReconcileError, Result};

type Ctx = Context<AuraInstance>;

/// One pass over a live AuraInstance (its finalizer in place).
pub async fn apply(obj: Arc<AuraInstance>, ctx: &Ctx) -> Result<controller::Action> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraInstance> = Api::namespaced(ctx.client.clone(), &ns);
    match live(&obj, &api, ctx).await {
        Ok(requeue) => Ok(requeue),
        Err(ReconcileError::Aura(e)) if e.kind() == AuraErrorKind::NeedsHuman => {
            stall(&api, &obj, ctx, decide::aura_stall(&e)).await
        }
        // Aura cannot be reached (network, TLS, 5xx): an object that is not
        // Ready says why, once per outage; a Ready one stays Ready, as its
        // database most likely still runs.
        Err(ReconcileError::Aura(e))
            if e.kind() == AuraErrorKind::Transient && ctx.pending_password(&obj).is_none() =>
        {
            let current = obj.status.clone().unwrap_or_default();
            let ready = status::condition(Some(&current), status::READY);
            let said = ready.is_some_and(|c| {
                c.status == "True" || c.reason == Reason::AuraUnreachable.as_str()
            });
            if !said {
                let summary = status::aura_unreachable(current.phase, &e.to_string());
                let next = status::build(&obj, &current, &summary, Some(&current));
                if let Err(write) = write_status(&api, &obj, next).await {
                    debug!(error = %write, "could not say that Aura is unreachable");
                }
            }
            Err(ReconcileError::Aura(e))
        }
        Err(e) => {
            // A first pass normally writes status as part of its work; one that
            // failed early still shows that the object was seen. Not after a
            // create answered: that status holds the intent, which must stay.
            if obj.status.is_none() && ctx.pending_password(&obj).is_none() {
                let first = status::build(
                    &obj,
                    &AuraInstanceStatus::default(),
                    &status::first_sight(),
                    None,
                );
                if let Err(write) = write_status(&api, &obj, first).await {
                    debug!(error = %write, "could not write the first-sight status");
                }
            }
            Err(e)
        }
    }
}

async fn live(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Ctx,
) -> Result<controller::Action> {
    if status::reconcile_disabled(obj) {
        // No Aura call at all, not even a GET; the annotation's removal wakes it.
        let current = obj.status.clone().unwrap_or_default();
        write_status(api, obj, status::disabled(&current, Timestamp::now())).await?;
        return Ok(controller::Action::requeue(ctx.resync_after(0)));
    }
    let ns = obj.namespace().unwrap_or_default();
    let creds = match observe::credentials(obj, ctx).await? {
        Ok(c) => c,
        Err(problem) => return stall(api, obj, ctx, decide::credentials_stall(&problem)).await,
    };
    let aura = ctx.aura.client(&creds);
    let sharing = ctx.note_client(obj, &creds.client_id);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let observed = match observe::observe(obj, ctx, &aura).await? {
        Gathered::Observed(o) => o,
        Gathered::Stall(s) => return stall(api, obj, ctx, s).await,
    };
    let current = &observed.current;
    let aura_view = observed.view();
    let this = ObjectRef::from_obj(obj);
    // A transition seen over teaches how long such transitions take.
    let transition = observed.found().and_then(|i| Transition::of(&i.status));
    if let Some(was) = transitions::recorded(current)
        && observed.found().is_some()
        && transition != Some(was)
    {
        let recorded = transitions::in_transition(current, Timestamp::now());
        ctx.state.transitions.ended(&this, was, recorded);
    }

    let aura_name = obj.aura_name();
    let restoring = ctx.state.restores.running_on(&ns, &obj.name_any(), None);
    let observation = Observation {
        spec: &obj.spec,
        aura_name: &aura_name,
        status: current,
        now: Timestamp::now(),
        aura: aura_view.clone(),
        secret: observed.secret_view(),
        generation: obj.metadata.generation,
        catalogue: observed.catalogue.as_deref(),
        create_grace: ctx.config.create_grace,
        claimed_elsewhere: observed.claimed_elsewhere,
        secret_name: obj.connection_secret_name(),
        dry_run: ctx.config.dry_run,
        restoring: restoring.as_deref(),
        source: observed.source.as_ref(),
        before_change: observed.before_change.as_ref(),
    };
    let decision = decide::decide(&observation);
    let mut next = current.clone();
    let recordable = decide::may_record(&decision, observed.claimed_elsewhere);
    if let (Some(id), Some(found)) = (&observed.instance_id, observed.found())
        && next.instance_id.is_none()
        && recordable
    {
        next.instance_id = Some(id.clone());
        // The first poll after a create records what the create answer would
        // have: a GET that leaves the URL out still gets the instance's own.
        if next.connection_url.is_none() {
            next.connection_url = Some(secret::connection_url(id, found.connection_url.as_deref()));
        }
    }

    match &decision.action {
        Action::None => {}
        Action::WriteSecret => {
            if let Some(plan) = &observed.secret {
                if plan.replace {
                    replace_secret(obj, ctx, &secrets, &plan.desired).await?;
                } else {
                    apply_secret(ctx, &secrets, &plan.desired).await?;
                }
                ctx.forget_password(obj);
                // The Stalled transition announces a missing password (with how to restore it).
            }
        }
        Action::Adopt { instance_id } => {
            if let Claim::HeldByOther(_) = ctx.claims().claim(obj, instance_id).await? {
                // Taken a moment ago by another object's search: look again.
                return Ok(controller::Action::requeue(Duration::from_secs(1)));
            }
            info!(instance = %instance_id, "found the instance of an unanswered create");
            ctx.normal(
                obj,
                "Adopted",
                &format!(
                    "found Aura instance {instance_id} created by an earlier, unanswered create"
                ),
            )
            .await;
            next.instance_id = Some(instance_id.clone());
            next.lost_create_instance_id = Some(instance_id.clone());
            ctx.record_instance(obj, instance_id);
        }
        Action::Recreate { instance_id } => {
            aura.delete_instance(instance_id).await?;
            let done = current.recreations.unwrap_or(0) + 1;
            ctx.warn(
                obj,
                "Recreating",
                &format!(
                    "destroying Aura instance {instance_id}: its password was lost with the create answer and it holds no data; it is created again (re-creation {done} of {MAX_RECREATIONS}, passwordRecovery: Recreate)"
                ),
            )
            .await;
            next.recreations = Some(done);
            next.recreating_instance_id = Some(instance_id.clone());
            next.lost_create_instance_id = None;
        }
        Action::ForgetInstance { instance_id } => {
            ctx.claims().release(obj, instance_id).await?;
            info!("the instance destroyed for a re-create is gone; creating again");
            next.instance_id = None;
            next.recreating_instance_id = None;
            next.connection_url = None;
            next.aura_status = None;
            decide::clear_intent(&mut next);
            ctx.forget_instance(obj);
            ctx.forget_password(obj);
        }
        Action::Create(request) => {
            return create(obj, api, ctx, &aura, &secrets, request, current, &decision).await;
        }
        Action::Observe { .. } => {}
        Action::SnapshotFirst { name } => {
            if schedule::take(&ctx.client, obj, name, None).await? == schedule::Made::NameTaken {
                name_taken(obj, ctx, name).await;
            }
            next.last_snapshot = Some(LastSnapshot {
                name: name.clone(),
                taken_at: Some(Timestamp::now().to_string()),
            });
            ctx.normal(
                obj,
                "SnapshotBeforeChange",
                &format!("made AuraSnapshot {name} before the change"),
            )
            .await;
        }
        Action::DryRun { operation, what } => {
            // Once per change of what would be sent, not at every resync.
            let said = status::condition(Some(current), status::RECONCILING).is_some_and(|c| {
                c.reason == Reason::DryRun.as_str() && c.message.ends_with(what.as_str())
            });
            if !said {
                ctx.dry_run_skipped(obj, operation, what).await;
            }
        }
        Action::Update {
            instance_id,
            request,
            drift,
        } => {
            aura.update_instance(instance_id, request).await?;
            announce_operation(obj, ctx, drift.as_deref(), "Updating", &decision.status).await;
        }
        Action::Pause { instance_id, drift } => {
            aura.pause_instance(instance_id).await?;
            announce_operation(obj, ctx, drift.as_deref(), "Pausing", &decision.status).await;
        }
        Action::Resume { instance_id, drift } => {
            aura.resume_instance(instance_id).await?;
            announce_operation(obj, ctx, drift.as_deref(), "Resuming", &decision.status).await;
        }
        Action::Upgrade { instance_id, to } => {
            aura.upgrade_instance(instance_id, &UpgradeInstanceRequest::default())
                .await?;
            debug!(to = %to, "upgrade sent");
            announce_operation(obj, ctx, None, "Upgrading", &decision.status).await;
        }
    }

    if observed.leftover_backup {
        let name = secret::backup_name(&obj.connection_secret_name());
        delete_backup(&secrets, &name).await?;
    }
    if let Some(i) = observed.found()
        && recordable
    {
        decide::record_observed(&mut next, i);
    }
    // Once Ready, the instance is in use: never re-created for its password.
    if decision.status.ready == Readiness::True {
        next.lost_create_instance_id = None;
    }
    let mut status = status::build(obj, &next, &decision.status, Some(current));
    match &decision.action {
        Action::Observe { drifted } => {
            let before = status::condition(Some(current), status::DRIFTED)
                .filter(|c| c.status == "True")
                .map(|c| c.message.clone());
            status::set_drifted(
                &mut status,
                Some(drifted),
                obj.metadata.generation,
                Timestamp::now(),
            );
            let after = status::condition(Some(&status), status::DRIFTED)
                .filter(|c| c.status == "True")
                .map(|c| c.message.clone());
            if let Some(message) = after.filter(|m| Some(m) != before.as_ref()) {
                ctx.warn(obj, "Drifted", &message).await;
            }
        }
        // The condition belongs to ObserveOnly; writing the Secret keeps it as it was.
        Action::WriteSecret => {}
        _ => status::clear_drifted(&mut status),
    }
    // Nothing of ours in flight and the Secret complete: the login can be asked.
    let ready = decision.status.ready == Readiness::True
        && matches!(decision.action, Action::None | Action::WriteSecret);
    let written = observed.secret.as_ref().map(|p| &p.desired);
    let check_after = verify::run(obj, ctx, written, ready, &mut status).await;
    announce_transition(obj, ctx, current, &status).await;
    let polled = transition.map(|kind| (&this, kind));
    let mut requeue = requeue_for(ctx, &decision, &status, sharing, polled);
    if let Some(after) = check_after {
        requeue = requeue.min(after);
    }
    if ready && let Some(after) = scheduled_snapshot(obj, ctx, &mut status).await? {
        requeue = requeue.min(after);
    }
    write_status(api, obj, status).await?;
    Ok(controller::Action::requeue(requeue))
}

/// `snapshots.schedule`: makes the AuraSnapshot of a slot that is due
/// (once, whatever was missed), prunes beyond `keep`, and says when the
/// next slot comes.
async fn scheduled_snapshot(
    obj: &AuraInstance,
    ctx: &Ctx,
    status: &mut AuraInstanceStatus,
) -> Result<Option<Duration>> {
    let Some(policy) = &obj.spec.snapshots else {
        return Ok(None);
    };
    let Some(cron) = policy
        .schedule
        .as_deref()
        .and_then(|e| schedule::parse(e).ok())
    else {
        return Ok(None);
    };
    let created = obj
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_else(Timestamp::now);
    let now = Timestamp::now();
    let last = schedule::last_slot(status.last_snapshot.as_ref());
    match schedule::due(&cron, last, created, now) {
        schedule::Due::Wait(after) => Ok(Some(after)),
        schedule::Due::Take { slot } => {
            let name = schedule::slot_name(&obj.name_any(), slot);
            if schedule::take(&ctx.client, obj, &name, Some(slot)).await?
                == schedule::Made::NameTaken
            {
                name_taken(obj, ctx, &name).await;
            }
            status.last_snapshot = Some(LastSnapshot {
                name: name.clone(),
                taken_at: Some(slot.to_string()),
            });
            let pruned = schedule::prune(&ctx.client, obj, policy.keep).await?;
            let note = if pruned.is_empty() {
                format!("made AuraSnapshot {name} for the slot of {slot}")
            } else {
                format!(
                    "made AuraSnapshot {name} for the slot of {slot}; pruned {}",
                    pruned.join(", ")
                )
            };
            ctx.normal(obj, "SnapshotScheduled", &note).await;
            Ok(match schedule::due(&cron, Some(slot), created, now) {
                schedule::Due::Wait(after) => Some(after),
                schedule::Due::Take { .. } => Some(Duration::from_secs(1)),
            })
        }
    }
}

/// The snapshot's name is held by an object that is not this instance's.
async fn name_taken(obj: &AuraInstance, ctx: &Ctx, name: &str) {
    let note = format!(
        "AuraSnapshot {name} exists and is not this instance's: no snapshot was made under that name; delete or rename that object"
    );
    warn!(note, "snapshot name taken");
    ctx.warn(obj, "SnapshotNameTaken", &note).await;
}

async fn announce_operation(
    obj: &AuraInstance,
    ctx: &Ctx,
    drift: Option<&str>,
    reason: &str,
    summary: &StatusSummary,
) {
    let what = summary
        .reconciling
        .as_ref()
        .map(|(_, m)| m.as_str())
        .unwrap_or(reason);
    match drift {
        Some(note) => {
            info!(note, "correcting drift");
            ctx.normal(obj, "DriftCorrected", note).await;
        }
        None => {
            info!(what, "sent an operation to Aura");
            ctx.normal(obj, reason, what).await;
        }
    }
}

/// Records the intent, sends the create, and stores the password before the id.
#[allow(clippy::too_many_arguments)]
async fn create(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Ctx,
    aura: &AuraClient,
    secrets: &Api<Secret>,
    request: &crate::aura::CreateInstanceRequest,
    current: &AuraInstanceStatus,
    decision: &Decision,
) -> Result<controller::Action> {
    // 1. The intent, guarded by the resourceVersion we decided on: if another
    //    writer got there first, this write fails and nothing is created.
    //    Same-named instances there before it are never taken for its own.
    let before = ctx
        .tenants
        .recent_instances(aura, &request.tenant_id)
        .await?;
    let mut intent = current.clone();
    intent.create_requested_at = Some(Timestamp::now().to_string());
    intent.create_requested_name = Some(request.name.clone());
    intent.create_prior_ids = decide::same_named(&before, &request.name);
    intent.tenant_id = Some(request.tenant_id.clone());
    let intent_status = status::build(obj, &intent, &decision.status, Some(current));
    match crate::reconciler::status::write(
        api,
        obj,
        &intent_status,
        Write::Guarded("record the create intent"),
    )
    .await
    {
        Ok(_) => {}
        Err(ReconcileError::Kube {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 409 => {
            return Ok(controller::Action::requeue(Duration::from_millis(500)));
        }
        Err(e) => return Err(e),
    }

    // 2. The create itself, never retried blindly.
    let created = match aura.create_instance(request).await {
        Ok(c) => c,
        Err(e) if e.kind() == AuraErrorKind::OutcomeUnknown => {
            warn!(error = %e, "create outcome unknown; will look for the instance before creating again");
            ctx.warn(
                obj,
                "CreateOutcomeUnknown",
                &format!("{e}; looking for the instance before any new create"),
            )
            .await;
            return Ok(controller::Action::requeue(Duration::from_secs(2)));
        }
        Err(e) => {
            // Definitely not created: drop the intent so a later create starts clean.
            // (If this write fails too, the intent stays: the next pass searches
            // first and creates only after the grace period.)
            let mut cleared = intent.clone();
            decide::clear_intent(&mut cleared);
            let status = status::build(obj, &cleared, &decision.status, Some(&intent));
            if let Err(write) = write_status(api, obj, status).await {
                debug!(error = %write, "could not drop the create intent");
            }
            return Err(e.into());
        }
    };
    info!(instance = %created.id, "Aura accepted the create");

    // 3. The claim, so that no other object's search takes the instance; then
    //    the password to the Secret. The password is held in memory until it lands.
    ctx.remember_password(obj, created.clone());
    claim_created(obj, ctx, &created.id).await?;
    if let Err(e) = store_password(obj, ctx, secrets, &created).await {
        // The intent stays until the password is stored, so that a restart
        // finds this instance instead of creating another.
        let summary = StatusSummary::stalled(
            Reason::SecretWriteFailed,
            format!(
                "Aura instance {} was created but its connection Secret could not be written ({e}); the password is held in memory and written as soon as Kubernetes accepts it",
                created.id
            ),
        );
        let status = status::build(obj, &intent, &summary, Some(&intent));
        announce_transition(obj, ctx, &intent_status, &status).await;
        write_status(api, obj, status).await?;
        return Ok(controller::Action::requeue(Duration::from_secs(10)));
    }

    // 4. The id reaches status with the first poll, in one write with what
    //    that poll sees (usually Ready: the poll is planned for the typical
    //    end of a creation). Until then the Secret holds the id and password,
    //    the claim holds the id, and this process remembers it; a restart finds
    //    the instance by the intent's search (its own claim does not hide it).
    ctx.record_instance(obj, &created.id);
    ctx.normal(
        obj,
        "Created",
        &format!("Aura instance {} is being created", created.id),
    )
    .await;
    let this = ObjectRef::from_obj(obj);
    ctx.state.transitions.began(&this, Transition::Creation);
    let first_poll = ctx.state.transitions.next_poll(
        &this,
        Transition::Creation,
        Duration::ZERO,
        ctx.config.poll_interval,
    );
    Ok(controller::Action::requeue(first_poll))
}

/// Claims a just-created instance, retrying briefly: nobody else can hold a
/// fresh id, so only the apiserver can be in the way.
async fn claim_created(obj: &AuraInstance, ctx: &Ctx, id: &str) -> Result<()> {
    match retry_holding_password("claim the new instance", || ctx.claims().claim(obj, id)).await? {
        Claim::Held => Ok(()),
        Claim::HeldByOther(_) => Err(ReconcileError::Invariant(
            "a just-created instance is claimed by another object",
        )),
    }
}

/// A few attempts with a doubling pause, for the steps between a create's
/// answer and its password landing in the Secret: a passing apiserver
/// problem must not cost the password, which is only in memory meanwhile.
async fn retry_holding_password<T, F, Fut>(step: &'static str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(200);
    let mut last = None;
    for _ in 0..6 {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => {
                warn!(step, error = %e, "failed; retrying (the password is held in memory)");
                last = Some(e);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    Err(last.unwrap_or(ReconcileError::Invariant("retried without an attempt")))
}

async fn store_password(
    obj: &AuraInstance,
    ctx: &Ctx,
    secrets: &Api<Secret>,
    created: &CreatedInstance,
) -> Result<()> {
    let name = created.name.clone().unwrap_or_else(|| obj.aura_name());
    let url = secret::connection_url(&created.id, created.connection_url.as_deref());
    let details = ConnectionDetails {
        instance_id: &created.id,
        instance_name: &name,
        connection_url: &url,
        username: created
            .username
            .as_deref()
            .unwrap_or(secret::DEFAULT_USERNAME),
        password: Some(&created.password),
    };
    // The password is known here, so there is nothing to carry over from an
    // existing Secret: no read before each attempt. A template that fails
    // over the real values must not keep the password from landing: the
    // format's keys are written, and the next pass stalls on the template.
    let desired = secret::desired(obj, &details, None, true)
        .or_else(|problem| {
            warn!(%problem, "writing the password without the extra keys");
            secret::build(obj, &details, None, true, secret::Extras::FormatOnly)
        })
        .map_err(|_| ReconcileError::Invariant("a format's own keys always render"))?;
    retry_holding_password("write the connection Secret", || {
        apply_secret(ctx, secrets, &desired)
    })
    .await?;
    ctx.forget_password(obj);
    Ok(())
}

pub(super) async fn apply_secret(ctx: &Ctx, secrets: &Api<Secret>, desired: &Secret) -> Result<()> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let mut body = serde_json::to_value(desired)
        .map_err(|_| ReconcileError::Invariant("secret serialisation"))?;
    body["apiVersion"] = json!("v1");
    body["kind"] = json!("Secret");
    let written = secrets
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| ReconcileError::kube("write the connection Secret", e))?;
    ctx.secrets.wrote(&written);
    Ok(())
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
        let params = kube::api::DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: old.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match secrets.delete(&name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube("replace the connection Secret", e)),
        }
    }
    apply_secret(ctx, secrets, desired).await?;
    delete_backup(secrets, &backup_name).await?;
    info!(secret = %name, "connection Secret replaced for its new type");
    ctx.normal(
        obj,
        "SecretReplaced",
        &format!(
            "Secret {name} was replaced: its new format needs Secret type {}",
            desired.type_.as_deref().unwrap_or_default()
        ),
    )
    .await;
    Ok(())
}

async fn delete_backup(secrets: &Api<Secret>, backup_name: &str) -> Result<()> {
    match secrets.delete(backup_name, &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ReconcileError::kube(
            "delete the format-change backup Secret",
            e,
        )),
    }
}

pub(super) async fn stall(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    ctx: &Ctx,
    (reason, message): Stall,
) -> Result<controller::Action> {
    let current = obj.status.clone().unwrap_or_default();
    let summary = StatusSummary::stalled(reason, message);
    let status = status::build(obj, &current, &summary, Some(&current));
    announce_transition(obj, ctx, &current, &status).await;
    write_status(api, obj, status).await?;
    ctx.memory.reset_failures(obj);
    Ok(controller::Action::requeue(ctx.resync_after(0)))
}

/// When to look again; `polled`: the object and the transition Aura reports it in.
fn requeue_for(
    ctx: &Ctx,
    d: &Decision,
    status: &AuraInstanceStatus,
    sharing: usize,
    polled: Option<(&ObjectRef<AuraInstance>, Transition)>,
) -> Duration {
    match d.requeue {
        decide::LookAgain::Poll => {
            let since = transitions::in_transition(status, Timestamp::now());
            let base = ctx.config.poll_interval;
            match polled {
                Some((this, kind)) => {
                    let learned = &ctx.state.transitions;
                    let since = learned.in_transition(this, kind, since);
                    learned.next_poll(this, kind, since, base)
                }
                None => pacing::poll_delay(base, since),
            }
        }
        decide::LookAgain::After(t) => t,
        decide::LookAgain::Resync => ctx.resync_after(sharing),
    }
}

async fn announce_transition(
    obj: &AuraInstance,
    ctx: &Ctx,
    before: &AuraInstanceStatus,
    after: &AuraInstanceStatus,
) {
    // Every new reason for a human to act gets one Warning event.
    let stalled = |s: &AuraInstanceStatus| {
        status::condition(Some(s), status::STALLED)
            .filter(|c| c.status == "True")
            .map(|c| (c.reason.clone(), c.message.clone()))
    };
    if let Some((reason, message)) = stalled(after)
        && stalled(before).map(|(r, _)| r) != Some(reason.clone())
    {
        warn!(reason, message, "stalled: needs a human");
        ctx.warn(obj, &reason, &message).await;
    }
    let ready = |s: &AuraInstanceStatus| {
        status::condition(Some(s), status::READY).map(|c| (c.status.clone(), c.reason.clone()))
    };
    let (before_ready, after_ready) = (ready(before), ready(after));
    if after_ready.as_ref().is_some_and(|(s, _)| s == "True")
        && before_ready.as_ref().is_none_or(|(s, _)| s != "True")
    {
        // Time to Ready counts the first time only, not a recovery.
        let recovered = matches!(
            before_ready.as_ref().and_then(|(_, r)| Reason::parse(r)),
            Some(Reason::PasswordUnavailable | Reason::Paused)
        );
        if !recovered && let Some(created) = obj.metadata.creation_timestamp.as_ref() {
            let age = Timestamp::now().duration_since(created.0);
            ctx.telemetry.record_time_to_ready(age.unsigned_abs());
        }
        ctx.normal(
            obj,
            "Ready",
            "the instance is running and its connection Secret is complete",
        )
        .await;
    }
    if before.phase != after.phase
        && let Some(p) = after.phase
    {
        info!(phase = ?p, "phase changed");
    }
}

/// Writes status when it changed; returns the object as written.
pub(super) async fn write_status(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    status: AuraInstanceStatus,
) -> Result<Option<AuraInstance>> {
    crate::reconciler::status::write(api, obj, &status, Write::IfChanged).await
}
