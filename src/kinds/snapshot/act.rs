//! Act: reads what `decide` needs from Aura, carries out its step, and writes
//! the status (intent first, through the one status writer).

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;

use super::decide::{
    self, Others, SnapshotAction, SnapshotObservation, SnapshotSummary, Step, TargetView,
};
use crate::api::{AuraSnapshot, AuraSnapshotStatus};
use crate::aura::{AuraClient, AuraErrorKind, Reachable, Snapshot};
use crate::kinds::shared::target::{self, TargetProblem};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, ReconcileError, Result};

type Ctx = Context<AuraSnapshot>;

pub async fn apply(obj: &AuraSnapshot, ctx: &Ctx) -> Result<controller::Action> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraSnapshot> = Api::namespaced(ctx.client.clone(), &ns);
    let mut next = obj.status.clone().unwrap_or_default();
    let step = decide::first_step(&next);

    // A settled snapshot needs nothing from Aura, not even its instance.
    let resolved = match step {
        Step::Settled => Err(TargetProblem::NotFound(obj.spec.instance_ref.name.clone())),
        _ => {
            target::resolve(
                ctx.state.instances.as_ref(),
                &ns,
                &obj.spec.instance_ref.name,
            )
            .await?
        }
    };
    let target_view = match &resolved {
        Ok(t) => TargetView::Ready(t.instance_id.as_str()),
        Err(problem) => TargetView::Problem(problem),
    };
    let aura = resolved.as_ref().ok().map(|t| &t.aura);
    // Aura is asked about the instance the AuraInstance holds the claim of,
    // whatever the status says: the operator owns its status fields.
    let instance_id = resolved.as_ref().ok().map(|t| &t.instance_id);
    if let Some(id) = instance_id
        && next.instance_id.is_some()
    {
        next.instance_id = Some(id.to_string());
    }

    let mut seen: Option<Option<Snapshot>> = None;
    let mut listed: Option<Vec<Snapshot>> = None;
    if let (Some(aura), Some(instance_id)) = (aura, instance_id) {
        match step {
            Step::Poll => {
                let sid = next.snapshot_id.as_deref().unwrap_or_default();
                seen = Some(match aura.get_snapshot(instance_id, sid).await {
                    Ok(s) => Some(s),
                    Err(e) if e.kind() == AuraErrorKind::NotFound => None,
                    Err(e) => return Err(e.into()),
                });
            }
            Step::Search => {
                listed = Some(intent_days(aura, instance_id, next.requested_at.as_deref()).await?);
            }
            Step::Take | Step::Settled => {}
        }
    }

    let (recorded, unanswered) =
        decide::others(obj, &ctx.objects_in(&obj.namespace().unwrap_or_default()));
    let name = obj.name_any();
    let decision = decide::decide(&SnapshotObservation {
        status: &next,
        target: target_view,
        snapshot: seen.as_ref().map(Option::as_ref),
        listed: listed.as_deref(),
        now: Timestamp::now(),
        grace: ctx.config.create_grace,
        others: Others {
            recorded: &recorded,
            unanswered: &unanswered,
            name: &name,
        },
    });
    if let Some(Some(s)) = &seen {
        decide::mirror(&mut next, s);
    }
    let mut summary = decision.summary.clone();
    let mut requeue = decision.requeue;
    match decision.action {
        SnapshotAction::None | SnapshotAction::Poll | SnapshotAction::Search { .. } => {}
        SnapshotAction::Adopt { snapshot_id } => {
            next.snapshot_id = Some(snapshot_id);
        }
        SnapshotAction::Take { .. } => {
            let (Some(aura), Some(instance_id)) = (aura, instance_id) else {
                return Err(ReconcileError::Invariant(
                    "a snapshot taken without its instance",
                ));
            };
            match take(obj, &api, ctx, aura, instance_id, &mut next).await? {
                Some(stop) => {
                    summary = stop;
                    requeue = Some(std::time::Duration::from_secs(15));
                }
                None => {
                    ctx.normal(
                        obj,
                        decide::SnapshotReason::SnapshotRequested,
                        &format!("asked Aura for a snapshot of instance {instance_id}"),
                    )
                    .await;
                }
            }
        }
    }
    write(&api, obj, &mut next, &summary).await?;
    Ok(match requeue {
        Some(after) => controller::Action::requeue(after),
        None => controller::Action::await_change(),
    })
}

/// The instance's snapshots of the intent's day (and of today, when that is another day).
async fn intent_days(
    aura: &AuraClient,
    instance_id: &Reachable,
    requested_at: Option<&str>,
) -> Result<Vec<Snapshot>> {
    let today = day(Timestamp::now());
    let intent_day = requested_at
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map(day)
        .unwrap_or_else(|| today.clone());
    let mut all = aura.list_snapshots(instance_id, Some(&intent_day)).await?;
    if intent_day != today {
        all.extend(aura.list_snapshots(instance_id, Some(&today)).await?);
    }
    Ok(all)
}

fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// Records the intent, then calls. Returns the status to show instead when
/// Aura refused or is busy; an unknown outcome leaves the intent for the
/// search and fails the pass.
async fn take(
    obj: &AuraSnapshot,
    api: &Api<AuraSnapshot>,
    ctx: &Ctx,
    aura: &AuraClient,
    instance_id: &Reachable,
    next: &mut AuraSnapshotStatus,
) -> Result<Option<SnapshotSummary>> {
    let now = Timestamp::now();
    let existing = aura.list_snapshots(instance_id, Some(&day(now))).await?;
    next.instance_id = Some(instance_id.to_string());
    next.requested_at = Some(now.to_string());
    next.prior_snapshot_ids = decide::prior_ids(&existing, now);
    next.snapshot_id = None;
    next.aura_status = None;
    next.observed_generation = obj.metadata.generation;
    let intent =
        status::write(api, obj, next, Write::Guarded("record the snapshot intent")).await?;
    let obj = intent.as_ref().unwrap_or(obj);
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            obj,
            "snapshot",
            &format!("POST /instances/{instance_id}/snapshots"),
        )
        .await;
        return Ok(Some(SnapshotSummary::working(
            decide::SnapshotReason::Taking,
            "dry run: the snapshot call was not made",
        )));
    }
    match aura.create_snapshot(instance_id).await {
        Ok(created) => {
            if let Some(id) = created.snapshot_id.filter(|id| !id.is_empty()) {
                next.snapshot_id = Some(id);
                next.aura_status = Some("Pending".into());
            }
            Ok(None)
        }
        Err(e) if e.kind() == AuraErrorKind::Conflict => {
            // Nothing was taken: the next pass takes it without a search.
            next.requested_at = None;
            next.prior_snapshot_ids.clear();
            Ok(Some(decide::busy(instance_id.as_str())))
        }
        Err(e)
            if matches!(
                e.kind(),
                AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
            ) =>
        {
            next.requested_at = None;
            next.prior_snapshot_ids.clear();
            ctx.warn(obj, decide::SnapshotReason::SnapshotRefused, &e.to_string())
                .await;
            Ok(Some(decide::refused(&e)))
        }
        Err(e) => Err(e.into()),
    }
}

async fn write(
    api: &Api<AuraSnapshot>,
    obj: &AuraSnapshot,
    next: &mut AuraSnapshotStatus,
    summary: &SnapshotSummary,
) -> Result<()> {
    status::write_summary(api, obj, next, summary)
        .await
        .map(drop)
}
