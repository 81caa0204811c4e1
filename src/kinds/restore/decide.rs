//! Decide (pure): what one AuraRestore does next and what its status says.
//!
//! A restore runs once, like a Job: Pending (waiting for its source, for the
//! target to be free, or for a snapshot taken first) -> Running -> Succeeded
//! or Failed. The restore and overwrite calls are not idempotent, so phase
//! Running is recorded before the call; a pass that finds Running follows the
//! target's status in Aura and never calls again. A finished restore makes
//! no call at all.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::api::{AuraRestoreStatus, RestorePhase, RestoreSource, SnapshotProgress};
use crate::aura::{AuraError, InstanceStatus};
use crate::kinds::shared::target::TargetProblem;
use crate::reconciler::pacing;
use crate::reconciler::status::{self, Progress};

crate::reasons! {
    /// The reasons of AuraRestore conditions, defined once.
    pub enum RestoreReason {
        ready: Succeeded = "the target runs again with the source's data",
        idle: Idle,
        not_stalled: NotStalled,
        /// The target AuraInstance has no Aura instance yet.
        WaitingForInstance,
        /// The source snapshot is not Completed yet, or the source instance has no id yet.
        WaitingForSource,
        /// The target is busy with another operation (Aura reports it so, or answered 409),
        /// or another AuraRestore runs on it.
        InstanceBusy,
        /// Taking the snapshot of the target first (spec.snapshots.beforeChanges).
        SnapshotFirst,
        /// Aura is restoring or overwriting the target.
        Restoring,
        /// The target AuraInstance or its Aura instance does not exist.
        InstanceNotFound,
        /// The AuraSnapshot or AuraInstance named as the source does not exist.
        SourceNotFound,
        CredentialsNotUsable,
        /// The target must not be changed by the operator (ObserveOnly, reconcile
        /// disabled, or another AuraInstance holds its claim).
        InstanceNotManaged,
        /// The AuraSnapshot of the source failed.
        SourceFailed,
        /// The source contradicts itself (a snapshot of another instance than
        /// instanceRef's; the target as its own current-data source).
        InvalidSource,
        /// The snapshot taken first failed: the restore was not run.
        SnapshotFirstFailed,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// The call's answer was lost and Aura never showed the instance busy.
        OutcomeUnknown,
        /// Aura reports the target "loading failed".
        LoadingFailed,
        /// Event: Aura accepted the restore or overwrite call.
        RestoreStarted,
        /// Event: the restore ended with the source's data in place.
        RestoreSucceeded,
        /// Event: the restore failed.
        RestoreFailed,
        /// The source is held by another namespace, or by nobody without the
        /// project's consent (DESIGN 4.13): nothing was called.
        SourceNotAllowed,
        /// The target AuraInstance was deleted while the restore ran: whether
        /// Aura finished it is unknown.
        TargetDeleted,
        /// The restore came with a rebuild (applied before, or soon after, its
        /// target adopted its instance): it may have run in the cluster it was
        /// first applied to, so it waits for a confirmation.
        AwaitingConfirmation,
    }
}

pub type RestoreSummary = Progress<RestoreReason>;

/// The Aura call that replaces the target's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `POST /instances/{instance_id}/snapshots/{snapshot_id}/restore`: a
    /// snapshot of the target itself.
    Restore {
        instance_id: String,
        snapshot_id: String,
    },
    /// `POST /instances/{instance_id}/overwrite`: another instance's current
    /// data, or one of its snapshots.
    Overwrite {
        instance_id: String,
        source_instance_id: String,
        source_snapshot_id: Option<String>,
    },
}

impl Call {
    pub fn instance_id(&self) -> &str {
        match self {
            Self::Restore { instance_id, .. } | Self::Overwrite { instance_id, .. } => instance_id,
        }
    }

    pub fn source_instance_id(&self) -> &str {
        match self {
            Self::Restore { instance_id, .. } => instance_id,
            Self::Overwrite {
                source_instance_id, ..
            } => source_instance_id,
        }
    }

    pub fn source_snapshot_id(&self) -> Option<&str> {
        match self {
            Self::Restore { snapshot_id, .. } => Some(snapshot_id),
            Self::Overwrite {
                source_snapshot_id, ..
            } => source_snapshot_id.as_deref(),
        }
    }

    /// The source in words, for status.source.
    pub fn words(&self) -> String {
        match self {
            Self::Restore { snapshot_id, .. } => format!("snapshot {snapshot_id}"),
            Self::Overwrite {
                source_instance_id,
                source_snapshot_id: None,
                ..
            } => format!("instance {source_instance_id}"),
            Self::Overwrite {
                source_instance_id,
                source_snapshot_id: Some(sid),
                ..
            } => format!("snapshot {sid} of instance {source_instance_id}"),
        }
    }

    /// What the call does, for messages and events.
    pub fn describe(&self) -> String {
        match self {
            Self::Restore {
                instance_id,
                snapshot_id,
            } => format!("restore instance {instance_id} from its snapshot {snapshot_id}"),
            Self::Overwrite { instance_id, .. } => {
                format!("overwrite instance {instance_id} with {}", self.words())
            }
        }
    }

    /// The call as the status recorded it (phase Running).
    pub fn recorded(status: &AuraRestoreStatus) -> Option<Self> {
        let instance_id = status.instance_id.clone()?;
        let source = status.source_instance_id.clone()?;
        Some(if source == instance_id {
            Self::Restore {
                instance_id,
                snapshot_id: status.source_snapshot_id.clone()?,
            }
        } else {
            Self::Overwrite {
                instance_id,
                source_instance_id: source,
                source_snapshot_id: status.source_snapshot_id.clone(),
            }
        })
    }
}

/// An object named by the spec, as read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Seen<T> {
    /// The spec names none (or it was not read).
    #[default]
    NotNamed,
    Missing,
    Found(T),
}

/// The source objects, as read.
#[derive(Debug, Clone, Copy)]
pub struct SourceSeen<'a> {
    /// The AuraSnapshot of source.snapshotRef: its status (default when it has none).
    pub snapshot: Seen<&'a crate::api::AuraSnapshotStatus>,
    /// The AuraInstance of source.instanceRef: its Aura instance id, once it has one.
    pub instance: Seen<Option<&'a str>>,
}

/// Why the target may not be touched by the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandsOff {
    ObserveOnly,
    ReconcileDisabled,
    /// Another AuraInstance holds the instance's claim (DESIGN 4.11).
    ClaimedElsewhere,
}

/// The target side of the observation.
#[derive(Debug, Clone, Copy)]
pub enum TargetView<'a> {
    Ready(Target<'a>),
    Problem(&'a TargetProblem),
}

#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The AuraInstance's name.
    pub name: &'a str,
    pub instance_id: &'a str,
    /// What Aura reports: `None` when not read; `Some(None)` when Aura answered 404.
    pub aura: Option<Option<&'a InstanceStatus>>,
    /// spec.snapshots.beforeChanges.
    pub snapshot_first: bool,
    pub hands_off: Option<&'a HandsOff>,
    /// When the target adopted its instance (adoption: AdoptOrCreate), as
    /// its status.adoptedAt says.
    pub adopted_at: Option<&'a str>,
}

/// What the act step saw, for `decide`.
#[derive(Debug, Clone)]
pub struct RestoreObservation<'a> {
    /// The AuraRestore's own name (the snapshot taken first is `<name>-before`).
    pub name: &'a str,
    pub source: &'a RestoreSource,
    pub status: &'a AuraRestoreStatus,
    pub target: TargetView<'a>,
    pub sources: SourceSeen<'a>,
    /// The snapshot taken first (status.beforeSnapshot), as read.
    pub before: Seen<&'a crate::api::AuraSnapshotStatus>,
    /// Another AuraRestore that runs on the target now.
    pub other_running: Option<&'a str>,
    pub now: Timestamp,
    /// The first poll interval (--poll-interval); a long operation is polled
    /// more slowly.
    pub poll: Duration,
    /// How long a Running restore whose call's answer was lost waits for a
    /// sign of the operation before it gives up (Failed, OutcomeUnknown).
    pub grace: Duration,
    /// The AuraRestore's metadata.creationTimestamp.
    pub created: Option<Timestamp>,
    /// The value of its annotation [`CONFIRM_ANNOTATION`].
    pub confirmation: Option<&'a str>,
}

/// The annotation that lets a restore held by [`adoption_gate`] run: its
/// value must be the target's status.adoptedAt, so that a confirmation kept
/// in Git expires with the adoption it was given for, and a later rebuild
/// asks again.
pub const CONFIRM_ANNOTATION: &str = "aura-operator.io/run-after-adoption";

/// How long after its target's adoption an AuraRestore still counts as
/// applied with the rebuild (GitOps applies in waves, after health checks).
pub const ADOPTION_WINDOW: Duration = Duration::from_secs(3600);

/// Whether a restore that has not started may run, as far as its target's
/// adoption goes: `Err` holds the message of the wait for a confirmation.
pub fn adoption_gate(
    created: Option<Timestamp>,
    adopted_at: Option<&str>,
    confirmation: Option<&str>,
) -> Result<(), String> {
    let Some(adopted_word) = adopted_at else {
        return Ok(());
    };
    // An adoption time that does not read holds the restore, as one would.
    let adopted: Option<Timestamp> = adopted_word.parse().ok();
    let window = SignedDuration::try_from(ADOPTION_WINDOW).unwrap_or_default();
    let after_the_rebuild = match (created, adopted) {
        (Some(created), Some(adopted)) => created > adopted + window,
        _ => false,
    };
    if after_the_rebuild || confirmation == Some(adopted_word) {
        return Ok(());
    }
    Err(format!(
        "not run: this AuraRestore was applied with a rebuild (its target adopted its instance at {adopted_word}, adoption: AdoptOrCreate), so it may already have run in the cluster it was first applied to, and running it again would overwrite live data. To run it, annotate it: kubectl annotate aurarestore <name> {CONFIRM_ANNOTATION}={adopted_word}; if it ran before, delete it or leave it"
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreAction {
    /// Nothing to call.
    None,
    /// Create the AuraSnapshot `name` of the target and record it in status.beforeSnapshot.
    SnapshotFirst { name: String },
    /// Record phase Running with startedAt and the ids (guarded by the
    /// resourceVersion), then make the call.
    Start(Call),
    /// Record completedAt (the phase says how it ended) and tell it in an event.
    Finish,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RestoreDecision {
    pub action: RestoreAction,
    pub phase: RestorePhase,
    pub summary: RestoreSummary,
    /// The call, once the source resolved (before Running: recorded in status
    /// for people to see).
    pub call: Option<Call>,
    /// When to look again; `None`: only on a change.
    pub requeue: Option<Duration>,
}

const WAIT: Duration = Duration::from_secs(15);
const SLOW: Duration = Duration::from_secs(60);
/// An accepted call whose operation was never seen (it finished between two
/// polls) counts as done once the target runs this long after the call.
pub const SETTLE: Duration = Duration::from_secs(10);

/// What the pass needs to read, decided before anything is read: a finished
/// restore reads nothing, a Running one only the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Finished,
    Follow,
    Prepare,
}

pub fn first_step(status: &AuraRestoreStatus) -> Step {
    match status.phase {
        Some(RestorePhase::Succeeded | RestorePhase::Failed) => Step::Finished,
        Some(RestorePhase::Running) => Step::Follow,
        Some(RestorePhase::Pending) | None => Step::Prepare,
    }
}

/// The name of the AuraSnapshot an AuraRestore takes first.
pub fn before_name(restore: &str) -> String {
    format!("{restore}-before")
}

pub fn decide(obs: &RestoreObservation<'_>) -> RestoreDecision {
    match first_step(obs.status) {
        Step::Finished => finished(obs.status),
        Step::Follow => follow(obs),
        Step::Prepare => prepare(obs),
    }
}

/// A finished restore: the status stays as it was written.
fn finished(status: &AuraRestoreStatus) -> RestoreDecision {
    let phase = status.phase.unwrap_or(RestorePhase::Failed);
    let summary = match phase {
        RestorePhase::Succeeded => RestoreSummary::ready(),
        _ => {
            let stalled = status::condition(&status.conditions, status::STALLED);
            let reason = stalled
                .and_then(|c| RestoreReason::parse(&c.reason))
                .unwrap_or(RestoreReason::AuraRejected);
            let message = stalled
                .map(|c| c.message.clone())
                .unwrap_or_else(|| "the restore failed".into());
            RestoreSummary::stalled(reason, message)
        }
    };
    RestoreDecision {
        action: RestoreAction::None,
        phase,
        summary,
        call: None,
        requeue: None,
    }
}

fn pending(summary: RestoreSummary, requeue: Duration) -> RestoreDecision {
    RestoreDecision {
        action: RestoreAction::None,
        phase: RestorePhase::Pending,
        summary,
        call: None,
        requeue: Some(requeue),
    }
}

/// Failed: a person must act; the restore is never retried.
fn failed(reason: RestoreReason, message: impl Into<String>) -> RestoreDecision {
    RestoreDecision {
        action: RestoreAction::Finish,
        phase: RestorePhase::Failed,
        summary: RestoreSummary::stalled(reason, message),
        call: None,
        requeue: None,
    }
}

fn target_problem(problem: &TargetProblem) -> (RestoreSummary, Duration) {
    match problem {
        TargetProblem::NotCreated(_) => (
            RestoreSummary::working(RestoreReason::WaitingForInstance, problem.message()),
            WAIT,
        ),
        // It may be applied a moment later (GitOps applies both at once).
        TargetProblem::NotFound(_) => (
            RestoreSummary::stalled(RestoreReason::InstanceNotFound, problem.message()),
            WAIT,
        ),
        TargetProblem::Credentials(_) => (
            RestoreSummary::stalled(RestoreReason::CredentialsNotUsable, problem.message()),
            WAIT,
        ),
    }
}

/// Why a source cannot be used (yet).
#[derive(Debug, Clone, PartialEq)]
pub enum SourceProblem {
    /// It will resolve itself: Pending.
    Waiting(String),
    /// It is not there (it may be applied a moment later): Pending and Stalled.
    Missing(String),
    /// It can never be used: Failed.
    Invalid(RestoreReason, String),
}

/// The call a source means, for the target `target_id`: a snapshot of the
/// target itself is restored, anything else overwrites the target.
pub fn resolve_source(
    source: &RestoreSource,
    target_id: &str,
    seen: &SourceSeen<'_>,
) -> Result<Call, SourceProblem> {
    let restore = |sid: &str| Call::Restore {
        instance_id: target_id.to_string(),
        snapshot_id: sid.to_string(),
    };
    let from = |src: &str, sid: Option<&str>| match sid {
        Some(sid) if src == target_id => restore(sid),
        _ => Call::Overwrite {
            instance_id: target_id.to_string(),
            source_instance_id: src.to_string(),
            source_snapshot_id: sid.map(str::to_string),
        },
    };
    // The instance of instanceRef, when named.
    let source_instance = match (&source.instance_ref, seen.instance) {
        (None, _) => None,
        (Some(r), Seen::Found(Some(id))) => Some((r.name.as_str(), id)),
        (Some(r), Seen::Found(None)) => {
            return Err(SourceProblem::Waiting(format!(
                "waiting for the source AuraInstance {} to have an Aura instance",
                r.name
            )));
        }
        (Some(r), Seen::Missing | Seen::NotNamed) => {
            return Err(SourceProblem::Missing(format!(
                "the source AuraInstance {} does not exist in this namespace",
                r.name
            )));
        }
    };
    if let Some(r) = &source.snapshot_ref {
        let snapshot = match seen.snapshot {
            Seen::Found(s) => s,
            Seen::Missing | Seen::NotNamed => {
                return Err(SourceProblem::Missing(format!(
                    "the source AuraSnapshot {} does not exist in this namespace",
                    r.name
                )));
            }
        };
        let aura = snapshot.aura_status.as_deref();
        match snapshot.progress() {
            SnapshotProgress::Completed => {}
            SnapshotProgress::Failed => {
                return Err(SourceProblem::Invalid(
                    RestoreReason::SourceFailed,
                    format!(
                        "the source AuraSnapshot {} is {}: it cannot be restored; make a new AuraRestore from another source",
                        r.name,
                        aura.unwrap_or("Failed")
                    ),
                ));
            }
            SnapshotProgress::Taking => {
                return Err(SourceProblem::Waiting(format!(
                    "waiting for the source AuraSnapshot {} to complete (Aura reports it {})",
                    r.name,
                    aura.unwrap_or("not taken yet")
                )));
            }
        }
        let (Some(sid), Some(of)) = (
            snapshot.snapshot_id.as_deref(),
            snapshot.instance_id.as_deref(),
        ) else {
            return Err(SourceProblem::Waiting(format!(
                "waiting for the source AuraSnapshot {} to report its ids",
                r.name
            )));
        };
        return match source_instance {
            Some((name, id)) if id != of => Err(SourceProblem::Invalid(
                RestoreReason::InvalidSource,
                format!(
                    "the source AuraSnapshot {} is of instance {of}, not of the source AuraInstance {name} (instance {id})",
                    r.name
                ),
            )),
            _ => Ok(from(of, Some(sid))),
        };
    }
    match (source_instance, source.snapshot_id.as_deref()) {
        (None, Some(sid)) => Ok(restore(sid)),
        (Some((_, id)), sid @ Some(_)) => Ok(from(id, sid)),
        (Some((name, id)), None) if id == target_id => Err(SourceProblem::Invalid(
            RestoreReason::InvalidSource,
            format!(
                "the source AuraInstance {name} is the target itself (instance {id}): name one of its snapshots (snapshotRef or snapshotId)"
            ),
        )),
        (Some((_, id)), None) => Ok(from(id, None)),
        (None, None) => Err(SourceProblem::Invalid(
            RestoreReason::InvalidSource,
            "the source names nothing: set one of snapshotRef, snapshotId or instanceRef".into(),
        )),
    }
}

/// Before the call: the target, the source, a snapshot first, then Start.
fn prepare(obs: &RestoreObservation<'_>) -> RestoreDecision {
    let target = match obs.target {
        TargetView::Ready(t) => t,
        TargetView::Problem(problem) => {
            let (summary, requeue) = target_problem(problem);
            return pending(summary, requeue);
        }
    };
    if let Err(message) = adoption_gate(obs.created, target.adopted_at, obs.confirmation) {
        return pending(
            RestoreSummary::stalled(RestoreReason::AwaitingConfirmation, message),
            SLOW,
        );
    }
    if let Some(why) = target.hands_off {
        let message = match why {
            HandsOff::ObserveOnly => format!(
                "AuraInstance {} has managementPolicy ObserveOnly: the operator makes no change to its instance; the restore waits",
                target.name
            ),
            HandsOff::ReconcileDisabled => format!(
                "AuraInstance {} has the annotation aura-operator.io/reconcile: disabled; the restore waits until it is removed",
                target.name
            ),
            HandsOff::ClaimedElsewhere => format!(
                "instance {} is held by another AuraInstance than {}: nothing is restored without the claim",
                target.instance_id, target.name
            ),
        };
        return pending(
            RestoreSummary::stalled(RestoreReason::InstanceNotManaged, message),
            SLOW,
        );
    }
    let call = match resolve_source(obs.source, target.instance_id, &obs.sources) {
        Ok(call) => call,
        // Woken when the source changes; the slow look is a safety net.
        Err(SourceProblem::Waiting(message)) => {
            return pending(
                RestoreSummary::working(RestoreReason::WaitingForSource, message),
                SLOW,
            );
        }
        Err(SourceProblem::Missing(message)) => {
            return pending(
                RestoreSummary::stalled(RestoreReason::SourceNotFound, message),
                WAIT,
            );
        }
        Err(SourceProblem::Invalid(reason, message)) => return failed(reason, message),
    };
    let with_call = |mut d: RestoreDecision| {
        d.call = Some(call.clone());
        d
    };
    if let Some(other) = obs.other_running {
        return with_call(pending(
            RestoreSummary::working(
                RestoreReason::InstanceBusy,
                format!(
                    "waiting for the instance to be free: AuraRestore {other} runs on {}",
                    target.name
                ),
            ),
            WAIT,
        ));
    }
    match target.aura {
        None => {
            return with_call(pending(
                RestoreSummary::working(RestoreReason::InstanceBusy, "reading the instance"),
                obs.poll,
            ));
        }
        Some(None) => {
            return with_call(pending(
                RestoreSummary::stalled(
                    RestoreReason::InstanceNotFound,
                    format!("Aura does not know instance {}", target.instance_id),
                ),
                WAIT,
            ));
        }
        Some(Some(InstanceStatus::Running)) => {}
        Some(Some(status @ (InstanceStatus::Paused | InstanceStatus::Suspended))) => {
            return with_call(pending(
                RestoreSummary::working(
                    RestoreReason::InstanceBusy,
                    format!(
                        "waiting for the instance to run: Aura reports it {status} (resume it with spec.paused: false)"
                    ),
                ),
                WAIT,
            ));
        }
        Some(Some(status)) => {
            return with_call(pending(
                RestoreSummary::working(
                    RestoreReason::InstanceBusy,
                    format!("waiting for the instance to be free: Aura reports it {status}"),
                ),
                obs.poll,
            ));
        }
    }
    if let Some(decision) = snapshot_first(obs, &target) {
        return with_call(decision);
    }
    RestoreDecision {
        action: RestoreAction::Start(call.clone()),
        phase: RestorePhase::Running,
        summary: RestoreSummary::working(RestoreReason::Restoring, call.describe()),
        call: Some(call),
        requeue: Some(obs.poll),
    }
}

/// spec.snapshots.beforeChanges: an AuraSnapshot of the target, Completed,
/// before the call. `None`: nothing to wait for.
fn snapshot_first(obs: &RestoreObservation<'_>, target: &Target<'_>) -> Option<RestoreDecision> {
    let recorded = obs.status.before_snapshot.as_deref();
    if !target.snapshot_first && recorded.is_none() {
        return None;
    }
    let name = recorded
        .map(str::to_string)
        .unwrap_or_else(|| before_name(obs.name));
    let take = || RestoreDecision {
        action: RestoreAction::SnapshotFirst { name: name.clone() },
        phase: RestorePhase::Pending,
        summary: RestoreSummary::working(
            RestoreReason::SnapshotFirst,
            format!(
                "taking AuraSnapshot {name} of {} first (spec.snapshots.beforeChanges)",
                target.name
            ),
        ),
        call: None,
        requeue: Some(obs.poll),
    };
    let snapshot = match (recorded, obs.before) {
        (None, _) | (Some(_), Seen::Missing | Seen::NotNamed) => return Some(take()),
        (Some(_), Seen::Found(s)) => s,
    };
    let aura = snapshot.aura_status.as_deref();
    match snapshot.progress() {
        SnapshotProgress::Completed => None,
        SnapshotProgress::Failed => Some(failed(
            RestoreReason::SnapshotFirstFailed,
            format!(
                "AuraSnapshot {name}, taken first (spec.snapshots.beforeChanges), is {}: the restore was not run; see that snapshot, then make a new AuraRestore",
                aura.unwrap_or("Failed")
            ),
        )),
        SnapshotProgress::Taking => Some(pending(
            RestoreSummary::working(
                RestoreReason::SnapshotFirst,
                format!(
                    "waiting for AuraSnapshot {name}, taken first (spec.snapshots.beforeChanges), to complete (Aura reports it {})",
                    aura.unwrap_or("not taken yet")
                ),
            ),
            obs.poll,
        )),
    }
}

/// Running: follow the target in Aura until it runs again.
fn follow(obs: &RestoreObservation<'_>) -> RestoreDecision {
    let doing = Call::recorded(obs.status)
        .map(|c| c.describe())
        .unwrap_or_else(|| "restoring".into());
    let running = |summary: RestoreSummary, requeue: Duration| RestoreDecision {
        action: RestoreAction::None,
        phase: RestorePhase::Running,
        summary,
        call: None,
        requeue: Some(requeue),
    };
    let succeeded = || RestoreDecision {
        action: RestoreAction::Finish,
        phase: RestorePhase::Succeeded,
        summary: RestoreSummary::ready(),
        call: None,
        requeue: None,
    };
    let since = |t: Option<&str>| {
        t.and_then(|t| t.parse::<Timestamp>().ok())
            .map(|t| obs.now.duration_since(t))
            .unwrap_or(SignedDuration::MAX)
    };
    // A long operation is polled more slowly.
    let poll = pacing::poll_delay(
        obs.poll,
        Duration::try_from(since(obs.status.started_at.as_deref())).unwrap_or(Duration::ZERO),
    );
    let target = match obs.target {
        TargetView::Ready(t) => t,
        // Nobody is left to tell the outcome to, and nothing will ever tell
        // it: it ends, saying so, rather than show Running for ever.
        TargetView::Problem(TargetProblem::NotFound(name)) => {
            return failed(
                RestoreReason::TargetDeleted,
                format!(
                    "AuraInstance {name} was deleted while this restore ran ({doing}): whether Aura finished it is unknown"
                ),
            );
        }
        TargetView::Problem(problem) => {
            // Aura carries on without us; the answer comes once the target is back.
            let summary = RestoreSummary::working(
                RestoreReason::Restoring,
                format!(
                    "{doing}: cannot follow the instance ({})",
                    problem.message()
                ),
            );
            return running(summary, WAIT);
        }
    };
    let longer = |d: SignedDuration, limit: Duration| {
        d >= SignedDuration::try_from(limit).unwrap_or(SignedDuration::MAX)
    };
    match target.aura {
        None => running(
            RestoreSummary::working(RestoreReason::Restoring, doing),
            poll,
        ),
        Some(None) => failed(
            RestoreReason::InstanceNotFound,
            format!(
                "Aura no longer knows instance {} (it was deleted while being restored)",
                target.instance_id
            ),
        ),
        Some(Some(InstanceStatus::LoadingFailed)) => failed(
            RestoreReason::LoadingFailed,
            format!(
                "Aura reports 'loading failed' for instance {} after: {doing}; see the Aura console",
                target.instance_id
            ),
        ),
        Some(Some(InstanceStatus::Running)) => {
            let seen_busy = obs
                .status
                .aura_status
                .as_deref()
                .is_some_and(|s| InstanceStatus::parse(s) != InstanceStatus::Running);
            if seen_busy {
                return succeeded();
            }
            if obs.status.accepted_at.is_some() {
                // The simulator and a quick restore may finish between two polls.
                if longer(since(obs.status.accepted_at.as_deref()), SETTLE) {
                    return succeeded();
                }
                return running(
                    RestoreSummary::working(
                        RestoreReason::Restoring,
                        format!("{doing}: Aura accepted the call"),
                    ),
                    obs.poll,
                );
            }
            // The call's answer was lost: it may never have reached Aura.
            if longer(since(obs.status.started_at.as_deref()), obs.grace) {
                return failed(
                    RestoreReason::OutcomeUnknown,
                    format!(
                        "the answer to the call to {doing} was lost, and Aura has not shown the instance busy since {}: the data may or may not have been replaced. Check it; make a new AuraRestore to run it again",
                        obs.status.started_at.as_deref().unwrap_or("the call")
                    ),
                );
            }
            running(
                RestoreSummary::working(
                    RestoreReason::Restoring,
                    format!(
                        "{doing}: the call's answer was lost; watching the instance for the operation"
                    ),
                ),
                poll,
            )
        }
        Some(Some(status)) => running(
            RestoreSummary::working(
                RestoreReason::Restoring,
                format!("{doing}: Aura reports the instance {status}"),
            ),
            poll,
        ),
    }
}

/// Aura refused the call: Failed, with Aura's message (and request id).
pub fn refused(e: &AuraError) -> RestoreDecision {
    failed(RestoreReason::AuraRejected, e.to_string())
}

/// Aura answered 409: nothing was started; Pending until the target is free.
pub fn busy(instance_id: &str) -> RestoreSummary {
    RestoreSummary::working(
        RestoreReason::InstanceBusy,
        format!(
            "waiting for the instance to be free: instance {instance_id} is busy with another operation"
        ),
    )
}

#[cfg(test)]
mod tests;
