//! One pass over a live AuraInstance, in phases: plan what to read and read
//! it (`plan`, `observe`), decide (`decide`, pure), make the calls (`act`,
//! or `create` for a create), finish (`finish`, pure: status, events,
//! requeue), then write the status and send the events.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;
use tracing::debug;

use super::act::{self, publish, write_status};
use super::admin_rotation;
use super::decide::{self, Action, Decision, LookAgain, Reason};
use super::finish::{self, Acted, Finish, Finishing};
use super::observe::{self, Gathered, Observed};
use super::schedule;
use super::status;
use super::transitions;
use crate::api::{AuraInstance, AuraInstanceStatus};
use crate::aura::AuraErrorKind;
use crate::reconciler::pacing::{self, Transition};
use crate::reconciler::projects::user_of;
use crate::reconciler::{Context, ReconcileError, Result, memory};

type Ctx = Context<AuraInstance>;

/// One pass over a live AuraInstance (its finalizer in place).
pub async fn apply(obj: &AuraInstance, ctx: &Ctx) -> Result<controller::Action> {
    let api: Api<AuraInstance> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    match live(obj, &api, ctx).await {
        Ok(requeue) => Ok(requeue),
        Err(ReconcileError::Aura(e)) if e.kind() == AuraErrorKind::NeedsHuman => {
            let (reason, message) = decide::aura_stall(&e);
            stall(&api, obj, ctx, reason, message).await
        }
        // Aura cannot be reached (network, TLS, 5xx): said once per outage.
        Err(ReconcileError::Aura(e))
            if e.kind() == AuraErrorKind::Transient && ctx.pending_password(obj).is_none() =>
        {
            if let Some(mut next) = finish::unreachable(obj, &e.to_string())
                && let Err(write) = {
                    ctx.keep_adoption(obj, &mut next);
                    write_status(&api, obj, next).await
                }
            {
                debug!(error = %write, "could not say that Aura is unreachable");
            }
            Err(ReconcileError::Aura(e))
        }
        Err(e) => {
            // A first pass normally writes status as part of its work; one that
            // failed early still shows that the object was seen. Not after a
            // create answered: that status holds the intent, which must stay.
            if obj.status.is_none() && ctx.pending_password(obj).is_none() {
                let first = status::build(
                    obj,
                    &AuraInstanceStatus::default(),
                    &status::first_sight(),
                    None,
                );
                if let Err(write) = write_status(&api, obj, first).await {
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
    if obj.reconcile_disabled() {
        // No Aura call at all, not even a GET; the annotation's removal wakes it.
        let current = obj.status.clone().unwrap_or_default();
        let mut next = status::disabled(&current, Timestamp::now());
        ctx.keep_adoption(obj, &mut next);
        write_status(api, obj, next).await?;
        return Ok(controller::Action::requeue(ctx.resync_after(0)));
    }
    let (source, creds) = observe::credentials(obj, ctx).await?;
    let creds = match creds {
        Ok(c) => c,
        Err(problem) => {
            let (reason, message) = decide::credentials_stall(&problem);
            return stall(api, obj, ctx, reason, message).await;
        }
    };
    let aura = ctx.aura.client(&creds).for_object(user_of(obj));
    let sharing = ctx.note_client(obj, &creds.client_id);
    let mut observed = match observe::observe(obj, ctx, &aura, &source).await? {
        Gathered::Observed(o) => o,
        Gathered::Stall((reason, message)) => return stall(api, obj, ctx, reason, message).await,
    };
    let transition = learn(obj, ctx, &observed);

    let aura_name = obj.aura_name();
    let ns = obj.namespace().unwrap_or_default();
    let restoring = ctx.state.restores.running_on(&ns, &obj.name_any(), None);
    let decision =
        decide::decide(&observed.observation(obj, &aura_name, ctx, restoring.as_deref()));
    if let Action::Create(request) = &decision.action {
        return super::create::create(obj, api, ctx, &aura, request, &decision).await;
    }
    let acted = act::act(obj, ctx, &aura, &decision, &observed).await?;
    if acted == Acted::AdoptRaced {
        // Taken a moment ago by another object's search: look again.
        return Ok(controller::Action::requeue(Duration::from_secs(1)));
    }
    // Nothing of ours in flight and the Secret complete: the login can be
    // asked, and a scheduled snapshot taken.
    let settled = decision.settles();
    let due = settled
        .then(|| {
            schedule::plan(
                obj,
                observed.current.last_snapshot.as_ref(),
                Timestamp::now(),
            )
        })
        .flatten();
    // A rotation of the admin password (or one cut short) goes before the
    // login is checked, so that the check asks about the password in place.
    let remembered = ctx
        .memory
        .peek(obj, |e| e.kind.admin_rotated.as_deref().cloned())
        .flatten();
    admin_rotation::remembered(&mut observed.current, remembered.as_ref());
    let rotated = admin_rotation::run(obj, ctx, &observed, settled).await?;
    match &rotated {
        admin_rotation::Outcome::Rotated => {
            let made = admin_rotation::rotated(obj, Timestamp::now());
            ctx.memory
                .with(obj, |e| e.kind.admin_rotated = Some(Box::new(made)));
            ctx.normal(
                obj,
                Reason::AdminPasswordRotated,
                "the admin password was rotated; the connection Secret holds the new one",
            )
            .await;
        }
        admin_rotation::Outcome::Stuck(why) => {
            ctx.warn(obj, Reason::AdminPasswordRotationStuck, why).await;
        }
        admin_rotation::Outcome::Nothing => {}
    }
    // The Secret this pass read holds the password just replaced: the next
    // pass (a second from now) checks the new one.
    let rotated_now = rotated == admin_rotation::Outcome::Rotated;
    let (check, scheduled) =
        act::settled(obj, ctx, &observed, settled && !rotated_now, due.as_ref()).await?;

    let mut finished = finish::finish(&Finishing {
        obj,
        current: &observed.current,
        decision: &decision,
        acted: &acted,
        found: observed.found(),
        instance_id: observed.instance_id.as_deref(),
        claimed_elsewhere: observed.claimed_elsewhere,
        check: &check,
        verify_interval: ctx.config.verify_credentials_interval,
        scheduled: scheduled.taken(),
        now: Timestamp::now(),
    });
    admin_rotation::record(obj, &mut finished.status, &rotated, Timestamp::now());
    finished.status.ip_filters = ctx
        .state
        .filters
        .names_for(&obj.namespace().unwrap_or_default(), &obj.name_any());
    let rotation_due = match admin_rotation::due(obj, &finished.status, Timestamp::now()) {
        admin_rotation::Due::Later(after) => Some(after),
        admin_rotation::Due::Now => Some(Duration::from_secs(1)),
        admin_rotation::Due::No if rotated_now => Some(Duration::from_secs(1)),
        admin_rotation::Due::No => None,
    };
    let waits = match (due, &scheduled) {
        (Some(schedule::Due::Wait(after)), _) => Some(after),
        (_, act::Slot::PreviousTaking) => Some(Duration::from_secs(60)),
        _ => None,
    };
    let requeue = requeue_for(ctx, obj, &decision, &finished, sharing, transition)
        .min(waits.unwrap_or(Duration::MAX))
        .min(rotation_due.unwrap_or(Duration::MAX));
    end(api, obj, ctx, finished).await?;
    Ok(controller::Action::requeue(requeue))
}

/// A transition seen over teaches how long such transitions take; returns
/// the transition Aura reports the instance in now.
fn learn(obj: &AuraInstance, ctx: &Ctx, observed: &Observed) -> Option<Transition> {
    let found = observed.found()?;
    let now = Transition::of(&found.status);
    if let Some(was) = transitions::recorded(&observed.current)
        && now != Some(was)
    {
        let took = transitions::in_transition(&observed.current, Timestamp::now());
        ctx.state.transitions.ended(&memory::key(obj), was, took);
    }
    now
}

/// Sends the events, counts time to Ready, writes the status.
async fn end(api: &Api<AuraInstance>, obj: &AuraInstance, ctx: &Ctx, f: Finish) -> Result<()> {
    if f.first_ready
        && let Some(created) = obj.metadata.creation_timestamp.as_ref()
    {
        let age = Timestamp::now().duration_since(created.0);
        ctx.telemetry.record_time_to_ready(age.unsigned_abs());
    }
    if obj.status.as_ref().and_then(|s| s.phase) != f.status.phase {
        tracing::info!(phase = ?f.status.phase, "phase changed");
    }
    publish(obj, ctx, f.events).await;
    let mut status = f.status;
    ctx.keep_adoption(obj, &mut status);
    write_status(api, obj, status).await.map(drop)
}

/// Stops for a person: the stall and its event, then the slow resync.
async fn stall(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    ctx: &Ctx,
    reason: Reason,
    message: String,
) -> Result<controller::Action> {
    end(api, obj, ctx, finish::stalled(obj, reason, message)).await?;
    ctx.memory.reset_failures(obj);
    Ok(controller::Action::requeue(ctx.resync_after(0)))
}

/// When to look again: the decision's kind of wait, learned polls while Aura
/// is in a transition, and anything `finish` wants sooner.
fn requeue_for(
    ctx: &Ctx,
    obj: &AuraInstance,
    decision: &Decision,
    finished: &Finish,
    sharing: usize,
    transition: Option<Transition>,
) -> Duration {
    let requeue = match decision.requeue {
        LookAgain::Poll => {
            let since = transitions::in_transition(&finished.status, Timestamp::now());
            let base = ctx.config.poll_interval;
            match transition {
                Some(kind) => {
                    let this = memory::key(obj);
                    let learned = &ctx.state.transitions;
                    let since = learned.in_transition(&this, kind, since);
                    learned.next_poll(&this, kind, since, base)
                }
                None => pacing::poll_delay(base, since),
            }
        }
        LookAgain::After(t) => t,
        LookAgain::Resync => ctx.resync_after(sharing),
    };
    finished.sooner.map_or(requeue, |s| requeue.min(s))
}
