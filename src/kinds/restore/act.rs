//! Act: reads what `decide` needs (the target in Aura, the source objects,
//! the snapshot taken first), carries out its step, and writes the status
//! (phase Running first, guarded, through the one status writer).

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;

use super::decide::{
    self, Call, HandsOff, RestoreAction, RestoreDecision, RestoreObservation, RestoreReason,
    RestoreSummary, Seen, SourceSeen, Step, Target, TargetView,
};
use crate::api::{
    AuraInstance, AuraRestore, AuraRestoreStatus, AuraSnapshot, AuraSnapshotStatus,
    ManagementPolicy, RestorePhase,
};
use crate::aura::{AuraErrorKind, InstanceStatus, Reachable};
use crate::kinds::shared::access;
use crate::kinds::shared::snapshots::{self, Made};
use crate::kinds::shared::target::{self, TargetProblem};
use crate::kinds::shared::views::{Claim, RestoreView};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, ReconcileError, Result};

type Ctx = Context<AuraRestore>;

pub async fn apply(obj: &AuraRestore, ctx: &Ctx) -> Result<controller::Action> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraRestore> = Api::namespaced(ctx.client.clone(), &ns);
    let mut next = obj.status.clone().unwrap_or_default();
    let step = decide::first_step(&next);
    let target_name = obj.spec.instance_ref.name.as_str();
    let name = obj.name_any();

    // A finished restore reads nothing, not even its instance.
    let resolved = match step {
        Step::Finished => Err(TargetProblem::NotFound(target_name.to_string())),
        _ => target::resolve(ctx.state.instances.as_ref(), &ns, target_name).await?,
    };
    // The instance the target AuraInstance holds the claim of: the status
    // records the call, and the operator never takes its own status's word.
    let instance_id = resolved.as_ref().ok().map(|t| t.instance_id.to_string());
    let aura = resolved.as_ref().ok().map(|t| &t.aura);
    let mut seen_status: Option<Option<InstanceStatus>> = None;
    if let (Some(aura), Some(id), false) = (aura, &instance_id, step == Step::Finished) {
        seen_status = Some(match aura.get_instance(id).await {
            Ok(i) => Some(i.status),
            Err(e) if e.kind() == AuraErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        });
    }

    let prepared = match (step, &resolved) {
        (Step::Prepare, resolved) => prepare(obj, ctx, &next, resolved.as_ref().ok()).await?,
        _ => Prepared::default(),
    };
    let Prepared {
        source_snapshot,
        source_instance,
        before,
        hands_off,
        other_running,
    } = prepared;

    let target_view = match &resolved {
        Ok(t) => TargetView::Ready(Target {
            name: target_name,
            instance_id: t.instance_id.as_str(),
            aura: seen_status.as_ref().map(Option::as_ref),
            snapshot_first: t.object.spec.snapshot_before_changes(),
            hands_off: hands_off.as_ref(),
            adopted_at: t
                .object
                .status
                .as_ref()
                .and_then(|s| s.adopted_at.as_deref()),
        }),
        Err(problem) => TargetView::Problem(problem),
    };
    let decision = decide::decide(&RestoreObservation {
        name: &name,
        source: &obj.spec.source,
        status: &next,
        target: target_view,
        sources: SourceSeen {
            snapshot: borrow(&source_snapshot),
            instance: match &source_instance {
                Seen::NotNamed => Seen::NotNamed,
                Seen::Missing => Seen::Missing,
                Seen::Found(id) => Seen::Found(id.as_deref()),
            },
        },
        before: borrow(&before),
        other_running: other_running.as_deref(),
        now: Timestamp::now(),
        poll: ctx.config.poll_interval,
        grace: ctx.config.create_grace,
        created: obj.metadata.creation_timestamp.as_ref().map(|t| t.0),
        confirmation: obj
            .annotations()
            .get(decide::CONFIRM_ANNOTATION)
            .map(String::as_str),
    });

    if step == Step::Prepare
        && let Some(call) = &decision.call
    {
        record_call(&mut next, call);
    }
    if step == Step::Follow
        && decision.phase == RestorePhase::Running
        && let Some(Some(s)) = &seen_status
    {
        next.aura_status = Some(s.as_str().to_string());
    }
    let mut outcome = Outcome::from(&decision);
    // The object as last written in this pass: the status write at the end is
    // guarded by its resourceVersion.
    let mut latest: Option<AuraRestore> = None;
    match &decision.action {
        RestoreAction::None | RestoreAction::Finish => {}
        RestoreAction::SnapshotFirst { name: before_name } => {
            if let Some(stop) = snapshot_first(obj, &ctx.client, before_name).await? {
                outcome = stop;
            } else {
                next.before_snapshot = Some(before_name.clone());
                ctx.normal(
                    obj,
                    RestoreReason::SnapshotFirst,
                    &format!(
                        "taking AuraSnapshot {before_name} of {target_name} before the restore (spec.snapshots.beforeChanges)"
                    ),
                )
                .await;
            }
        }
        RestoreAction::Start(call) => {
            let target = resolved
                .as_ref()
                .map_err(|_| ReconcileError::Invariant("a restore started without its target"))?;
            let (stop, written) =
                start(obj, &api, ctx, target, call, &mut next, &decision.summary).await?;
            latest = written;
            if let Some(stop) = stop {
                outcome = stop;
            }
        }
    }
    next.phase = Some(outcome.phase);
    conclude(obj, latest.as_ref(), &api, ctx, &mut next, &outcome).await?;
    Ok(match outcome.requeue {
        Some(after) => controller::Action::requeue(after),
        None => controller::Action::await_change(),
    })
}

/// What is read before the call: the source objects, the snapshot taken
/// first, whether the target may be touched at all.
#[derive(Default)]
struct Prepared {
    source_snapshot: Seen<AuraSnapshotStatus>,
    source_instance: Seen<Option<String>>,
    before: Seen<AuraSnapshotStatus>,
    hands_off: Option<HandsOff>,
    other_running: Option<String>,
}

async fn prepare(
    obj: &AuraRestore,
    ctx: &Ctx,
    status: &AuraRestoreStatus,
    target: Option<&target::Target>,
) -> Result<Prepared> {
    let ns = obj.namespace().unwrap_or_default();
    let snapshots: Api<AuraSnapshot> = Api::namespaced(ctx.client.clone(), &ns);
    let mut prepared = Prepared::default();
    if let Some(r) = &obj.spec.source.snapshot_ref {
        prepared.source_snapshot =
            read_snapshot(&snapshots, &r.name, "read the source AuraSnapshot").await?;
    }
    if let Some(r) = &obj.spec.source.instance_ref {
        prepared.source_instance = match ctx.state.instances.find(&ns, &r.name) {
            Some(o) => Seen::Found(ctx.state.instances.held_by(&o).await?),
            None => Seen::Missing,
        };
    }
    if let Some(b) = &status.before_snapshot {
        prepared.before = read_snapshot(&snapshots, b, "read the AuraSnapshot taken first").await?;
    }
    if let Some(t) = target {
        prepared.hands_off = hands_off_of(ctx, &t.object, t.instance_id.as_str()).await?;
    }
    prepared.other_running =
        ctx.state
            .running
            .running_on(&ns, &obj.spec.instance_ref.name, Some(&obj.name_any()));
    Ok(prepared)
}

/// A deleted AuraRestore: the instance it ran on looks again at once.
pub fn forget(obj: &AuraRestore, ctx: &Ctx) {
    if obj.status.as_ref().and_then(|s| s.phase) == Some(RestorePhase::Running) {
        ctx.state.running.wake(
            &obj.namespace().unwrap_or_default(),
            &obj.spec.instance_ref.name,
        );
    }
}

/// Where the pass ends: the phase, the conditions and when to look again.
struct Outcome {
    phase: RestorePhase,
    summary: RestoreSummary,
    requeue: Option<Duration>,
}

impl From<&RestoreDecision> for Outcome {
    fn from(d: &RestoreDecision) -> Self {
        Self {
            phase: d.phase,
            summary: d.summary.clone(),
            requeue: d.requeue,
        }
    }
}

impl From<RestoreDecision> for Outcome {
    fn from(d: RestoreDecision) -> Self {
        Self::from(&d)
    }
}

fn borrow<T>(seen: &Seen<T>) -> Seen<&T> {
    match seen {
        Seen::NotNamed => Seen::NotNamed,
        Seen::Missing => Seen::Missing,
        Seen::Found(t) => Seen::Found(t),
    }
}

async fn read_snapshot(
    api: &Api<AuraSnapshot>,
    name: &str,
    step: &'static str,
) -> Result<Seen<AuraSnapshotStatus>> {
    Ok(
        match api
            .get_opt(name)
            .await
            .map_err(|e| ReconcileError::kube(step, e))?
        {
            Some(s) => Seen::Found(s.status.unwrap_or_default()),
            None => Seen::Missing,
        },
    )
}

/// Why the operator may not change the target's instance, if it may not.
async fn hands_off_of(
    ctx: &Ctx,
    object: &AuraInstance,
    instance_id: &str,
) -> Result<Option<HandsOff>> {
    if object.spec.policy() == ManagementPolicy::ObserveOnly {
        return Ok(Some(HandsOff::ObserveOnly));
    }
    if object.reconcile_disabled() {
        return Ok(Some(HandsOff::ReconcileDisabled));
    }
    // The instance's claim is in the watch's store when the AuraInstance holds it.
    Ok(
        match ctx.state.instances.claim(object, instance_id).await? {
            Claim::Held => None,
            Claim::HeldByOther(_) => Some(HandsOff::ClaimedElsewhere),
        },
    )
}

/// The ids and words of the call, in status.
fn record_call(status: &mut AuraRestoreStatus, call: &Call) {
    status.instance_id = Some(call.instance_id().to_string());
    status.source = Some(call.words());
    status.source_instance_id = Some(call.source_instance_id().to_string());
    status.source_snapshot_id = call.source_snapshot_id().map(str::to_string);
}

/// Creates the AuraSnapshot taken first, owned by the restore. Returns the
/// status to show instead when a snapshot of that name is somebody else's.
async fn snapshot_first(
    obj: &AuraRestore,
    client: &kube::Client,
    name: &str,
) -> Result<Option<Outcome>> {
    let ns = obj.namespace().unwrap_or_default();
    let target = &obj.spec.instance_ref.name;
    let made = snapshots::make(client, &ns, name, target, snapshots::owned_by(obj), None).await?;
    Ok(match made {
        Made::Ours => None,
        Made::NameTaken => Some(Outcome {
            phase: RestorePhase::Pending,
            summary: RestoreSummary::stalled(
                RestoreReason::SnapshotFirst,
                format!(
                    "AuraSnapshot {name} exists and was not made by this AuraRestore: the snapshot before the restore cannot be taken under that name; delete it, or make the AuraRestore under another name"
                ),
            ),
            requeue: Some(Duration::from_secs(60)),
        }),
    })
}

/// Records phase Running (guarded), then calls. Returns the status to show
/// instead when Aura refused or is busy (an unknown outcome leaves Running
/// recorded, so the next pass follows the instance, and fails the pass), and
/// the object as written.
async fn start(
    obj: &AuraRestore,
    api: &Api<AuraRestore>,
    ctx: &Ctx,
    target: &target::Target,
    call: &Call,
    next: &mut AuraRestoreStatus,
    running: &RestoreSummary,
) -> Result<(Option<Outcome>, Option<AuraRestore>)> {
    // DESIGN 4.13, asked at the moment of the call: the target is the one its
    // AuraInstance holds; a source another namespace holds is never read.
    let source = match reach(obj, ctx, target, call).await? {
        Ok(source) => source,
        Err(refused) => {
            let outcome = Outcome {
                phase: RestorePhase::Failed,
                summary: RestoreSummary::stalled(
                    RestoreReason::SourceNotAllowed,
                    refused.message(),
                ),
                requeue: None,
            };
            return Ok((Some(outcome), None));
        }
    };
    let aura = &target.aura;
    let what = match call {
        Call::Restore {
            instance_id,
            snapshot_id,
        } => format!("POST /instances/{instance_id}/snapshots/{snapshot_id}/restore"),
        Call::Overwrite { instance_id, .. } => {
            format!("POST /instances/{instance_id}/overwrite ({})", call.words())
        }
    };
    if ctx.config.dry_run {
        ctx.dry_run_skipped(obj, "restore", &what).await;
        let outcome = Outcome {
            phase: RestorePhase::Pending,
            summary: RestoreSummary::working(
                RestoreReason::Restoring,
                format!("dry run: the call was not made ({what})"),
            ),
            requeue: Some(Duration::from_secs(60)),
        };
        return Ok((Some(outcome), None));
    }
    record_call(next, call);
    next.phase = Some(RestorePhase::Running);
    next.started_at = Some(Timestamp::now().to_string());
    next.accepted_at = None;
    next.aura_status = None;
    next.completed_at = None;
    status::summarize(obj, next, running);
    let written =
        status::write(api, obj, next, Write::Guarded("record the restore's start")).await?;
    let ns = obj.namespace().unwrap_or_default();
    // The instance shows Updating from now on, before Aura says so.
    ctx.state.running.wake(&ns, &obj.spec.instance_ref.name);
    let answer = match (call, &source) {
        (Call::Restore { snapshot_id, .. }, _) => {
            aura.restore_snapshot(&target.instance_id, snapshot_id)
                .await
        }
        (
            Call::Overwrite {
                source_snapshot_id, ..
            },
            Some(source),
        ) => {
            aura.overwrite_instance(&target.instance_id, source, source_snapshot_id.as_deref())
                .await
        }
        (Call::Overwrite { .. }, None) => {
            return Err(ReconcileError::Invariant("an overwrite without its source"));
        }
    };
    let outcome = match answer {
        Ok(()) => {
            next.accepted_at = Some(Timestamp::now().to_string());
            ctx.normal(
                obj,
                RestoreReason::RestoreStarted,
                &format!("Aura accepted the call to {}", call.describe()),
            )
            .await;
            None
        }
        // Nothing was started: Pending until the instance is free.
        Err(e) if e.kind() == AuraErrorKind::Conflict => {
            next.started_at = None;
            Some(Outcome {
                phase: RestorePhase::Pending,
                summary: decide::busy(call.instance_id()),
                requeue: Some(Duration::from_secs(10)),
            })
        }
        Err(e)
            if matches!(
                e.kind(),
                AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
            ) =>
        {
            Some(decide::refused(&e).into())
        }
        Err(e) => return Err(e.into()),
    };
    Ok((outcome, written))
}

/// The source an overwrite reads, as the claims say now (`None` for a
/// restore of the target's own snapshot); the call's target must be the
/// instance the target AuraInstance holds.
async fn reach(
    obj: &AuraRestore,
    ctx: &Ctx,
    target: &target::Target,
    call: &Call,
) -> Result<std::result::Result<Option<Reachable>, access::Refusal>> {
    if call.instance_id() != target.instance_id.as_str() {
        return Err(ReconcileError::Invariant(
            "a restore's call names another instance than its target's",
        ));
    }
    let Call::Overwrite {
        source_instance_id, ..
    } = call
    else {
        return Ok(Ok(None));
    };
    let view = ctx.state.instances.as_ref();
    let unheld = view.unheld_sources_allowed(&target.object);
    let ns = obj.namespace().unwrap_or_default();
    Ok(access::source(view, &ns, source_instance_id, unheld)
        .await?
        .map(Some))
}

/// A restore that just ended: completedAt, and an event that says how.
/// The end of a pass: the status written (guarded by the object as last
/// written, else as read), then the end told, and the target woken when the
/// restore starts or stops running.
async fn conclude(
    obj: &AuraRestore,
    latest: Option<&AuraRestore>,
    api: &Api<AuraRestore>,
    ctx: &Ctx,
    next: &mut AuraRestoreStatus,
    outcome: &Outcome,
) -> Result<()> {
    let ended = finish(obj, next, outcome);
    write(api, latest.unwrap_or(obj), next, &outcome.summary).await?;
    match ended {
        Some(Ended::Succeeded(message)) => {
            ctx.normal(obj, RestoreReason::RestoreSucceeded, &message)
                .await;
        }
        Some(Ended::Failed(message)) => {
            ctx.warn(obj, RestoreReason::RestoreFailed, &message).await;
        }
        None => {}
    }
    let before_phase = obj.status.as_ref().and_then(|s| s.phase);
    if before_phase != next.phase
        && (before_phase == Some(RestorePhase::Running)
            || next.phase == Some(RestorePhase::Running))
    {
        let ns = obj.namespace().unwrap_or_default();
        ctx.state.running.wake(&ns, &obj.spec.instance_ref.name);
    }
    Ok(())
}

/// How a restore ended, with what its event says.
enum Ended {
    Succeeded(String),
    Failed(String),
}

/// A restore that ends now: records when, and returns what its event says
/// (told only once the status is written).
fn finish(obj: &AuraRestore, next: &mut AuraRestoreStatus, outcome: &Outcome) -> Option<Ended> {
    let was = obj.status.as_ref().and_then(|s| s.phase);
    if was == Some(outcome.phase) {
        return None;
    }
    match outcome.phase {
        RestorePhase::Succeeded => {
            next.completed_at = Some(Timestamp::now().to_string());
            let words = next.source.clone().unwrap_or_else(|| "the source".into());
            let id = next.instance_id.clone().unwrap_or_default();
            Some(Ended::Succeeded(format!(
                "instance {id} runs again with the data of {words}"
            )))
        }
        RestorePhase::Failed => {
            next.completed_at = Some(Timestamp::now().to_string());
            let message = outcome.summary.message().unwrap_or_default();
            Some(Ended::Failed(message.to_string()))
        }
        RestorePhase::Pending | RestorePhase::Running => None,
    }
}

/// Writes the status when it changed, guarded by the resourceVersion of the
/// object this pass read or wrote: a restore that had just failed, still
/// seen Running by a pass that read it too early, is never written back.
async fn write(
    api: &Api<AuraRestore>,
    obj: &AuraRestore,
    next: &mut AuraRestoreStatus,
    summary: &RestoreSummary,
) -> Result<()> {
    status::summarize(obj, next, summary);
    let how = Write::GuardedIfChanged("write the restore's status");
    status::write(api, obj, next, how).await.map(drop)
}
