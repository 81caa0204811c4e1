//! Decide (pure): what one AuraSnapshot does next and what its status says.
//! The snapshot call is not idempotent, so its intent is recorded first and an
//! unanswered call is found again in the instance's snapshots, never repeated
//! blindly (the same pattern as an instance's create).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

use crate::api::{AuraSnapshot, AuraSnapshotStatus, SnapshotProgress};
use crate::aura::{AuraError, Snapshot};
use crate::kinds::shared::target::TargetProblem;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraSnapshot conditions, defined once.
    pub enum SnapshotReason {
        ready: Completed = "Aura reports the snapshot Completed",
        idle: Idle,
        not_stalled: NotStalled,
        /// The AuraInstance has no Aura instance yet.
        WaitingForInstance,
        /// The snapshot call is being made, or Aura is taking it.
        Taking,
        /// A call whose answer was lost: looking for its snapshot.
        Searching,
        /// Aura is busy with another operation on the instance.
        InstanceBusy,
        InstanceNotFound,
        CredentialsNotUsable,
        /// Aura reports the snapshot Failed (or Cancelled).
        SnapshotFailed,
        /// Aura no longer knows the recorded snapshot.
        SnapshotNotFound,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Event: the snapshot call was made.
        SnapshotRequested,
        /// Event: Aura refused the snapshot call.
        SnapshotRefused,
    }
}

pub type SnapshotSummary = Progress<SnapshotReason>;

/// The instance side of the observation.
#[derive(Debug, Clone, Copy)]
pub enum TargetView<'a> {
    /// The AuraInstance holds this Aura instance id and its credentials work.
    Ready(&'a str),
    Problem(&'a TargetProblem),
}

/// What the act step saw, for `decide`.
#[derive(Debug, Clone)]
pub struct SnapshotObservation<'a> {
    pub status: &'a AuraSnapshotStatus,
    pub target: TargetView<'a>,
    /// The recorded snapshot, as Aura reports it (`None`: Aura answered 404).
    pub snapshot: Option<Option<&'a Snapshot>>,
    /// The instance's snapshots of the intent's day, listed only after an
    /// unanswered call.
    pub listed: Option<&'a [Snapshot]>,
    pub now: Timestamp,
    /// How long after an unanswered call a new call is allowed.
    pub grace: Duration,
    /// The other AuraSnapshots of the namespace, as the watch shows them.
    pub others: Others<'a>,
}

/// What the other AuraSnapshots say: one Aura snapshot, one object.
#[derive(Debug, Clone, Copy, Default)]
pub struct Others<'a> {
    /// Snapshot ids other objects recorded: never this object's.
    pub recorded: &'a [String],
    /// Calls of the same instance still unanswered (their intents), other
    /// than this object's: (requested at, object name).
    pub unanswered: &'a [(String, String)],
    /// This object's name, to rank it among the unanswered.
    pub name: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotAction {
    /// Nothing to call.
    None,
    /// Record the intent (with the snapshots that exist now), then call.
    Take { instance_id: String },
    /// Read the recorded snapshot.
    Poll,
    /// Search the instance's snapshots for the one an unanswered call made.
    Search { instance_id: String },
    /// The unanswered call made this snapshot: record it.
    Adopt { snapshot_id: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotDecision {
    pub action: SnapshotAction,
    pub summary: SnapshotSummary,
    /// When to look again; `None`: only on a change.
    pub requeue: Option<Duration>,
}

const POLL: Duration = Duration::from_secs(5);
const WAIT: Duration = Duration::from_secs(15);

/// Which step comes first, before anything is called: a settled snapshot
/// needs no call at all.
pub fn first_step(status: &AuraSnapshotStatus) -> Step {
    match (&status.snapshot_id, &status.requested_at) {
        (Some(_), _) if settled(status) => Step::Settled,
        (Some(_), _) => Step::Poll,
        (None, Some(_)) => Step::Search,
        (None, None) => Step::Take,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Settled,
    Poll,
    Search,
    Take,
}

fn settled(status: &AuraSnapshotStatus) -> bool {
    status.progress() != SnapshotProgress::Taking
}

pub fn decide(obs: &SnapshotObservation<'_>) -> SnapshotDecision {
    match first_step(obs.status) {
        Step::Settled => settled_decision(obs.status),
        Step::Poll => poll(obs),
        Step::Search => search(obs),
        Step::Take => match obs.target {
            // Another object's call of this instance is unanswered: its search
            // must not meet this one's snapshot (one snapshot, one object).
            TargetView::Ready(_) if !obs.others.unanswered.is_empty() => SnapshotDecision {
                action: SnapshotAction::None,
                summary: SnapshotSummary::working(
                    SnapshotReason::InstanceBusy,
                    format!(
                        "waiting for AuraSnapshot {} to find the snapshot of its unanswered call first",
                        obs.others.unanswered[0].1
                    ),
                ),
                requeue: Some(WAIT),
            },
            TargetView::Ready(id) => SnapshotDecision {
                action: SnapshotAction::Take {
                    instance_id: id.to_string(),
                },
                summary: SnapshotSummary::working(
                    SnapshotReason::Taking,
                    format!("taking a snapshot of instance {id}"),
                ),
                requeue: Some(POLL),
            },
            TargetView::Problem(problem) => target_problem(problem),
        },
    }
}

fn settled_decision(status: &AuraSnapshotStatus) -> SnapshotDecision {
    let summary = match status.progress() {
        SnapshotProgress::Completed => SnapshotSummary::ready(),
        SnapshotProgress::Failed | SnapshotProgress::Taking => failed(
            status.snapshot_id.as_deref().unwrap_or("?"),
            status.aura_status.as_deref(),
        ),
    };
    SnapshotDecision {
        action: SnapshotAction::None,
        summary,
        requeue: None,
    }
}

fn failed(snapshot_id: &str, aura_status: Option<&str>) -> SnapshotSummary {
    SnapshotSummary::stalled(
        SnapshotReason::SnapshotFailed,
        format!(
            "Aura reports snapshot {snapshot_id} {}; make a new AuraSnapshot to try again",
            aura_status.unwrap_or("Failed")
        ),
    )
}

fn poll(obs: &SnapshotObservation<'_>) -> SnapshotDecision {
    let id = obs.status.snapshot_id.as_deref().unwrap_or("?");
    match obs.snapshot {
        None => match obs.target {
            TargetView::Ready(_) => SnapshotDecision {
                action: SnapshotAction::Poll,
                summary: taking(id, obs.status.aura_status.as_deref()),
                requeue: Some(POLL),
            },
            TargetView::Problem(problem) => target_problem(problem),
        },
        Some(None) => SnapshotDecision {
            action: SnapshotAction::None,
            summary: SnapshotSummary::stalled(
                SnapshotReason::SnapshotNotFound,
                format!("Aura no longer knows snapshot {id}"),
            ),
            requeue: None,
        },
        Some(Some(snapshot)) => {
            let status = snapshot.status.as_deref();
            match SnapshotProgress::of(status) {
                SnapshotProgress::Completed => SnapshotDecision {
                    action: SnapshotAction::None,
                    summary: SnapshotSummary::ready(),
                    requeue: None,
                },
                SnapshotProgress::Failed => SnapshotDecision {
                    action: SnapshotAction::None,
                    summary: failed(id, status),
                    requeue: None,
                },
                // Pending, InProgress, or a value we do not know: transient.
                SnapshotProgress::Taking => SnapshotDecision {
                    action: SnapshotAction::None,
                    summary: taking(id, status),
                    requeue: Some(POLL),
                },
            }
        }
    }
}

fn taking(id: &str, status: Option<&str>) -> SnapshotSummary {
    SnapshotSummary::working(
        SnapshotReason::Taking,
        format!("Aura reports snapshot {id} {}", status.unwrap_or("Pending")),
    )
}

fn search(obs: &SnapshotObservation<'_>) -> SnapshotDecision {
    let instance_id = match (obs.target, obs.status.instance_id.as_deref()) {
        (_, Some(id)) | (TargetView::Ready(id), None) => id,
        (TargetView::Problem(problem), None) => return target_problem(problem),
    };
    let searching = |message: &str| SnapshotSummary::working(SnapshotReason::Searching, message);
    let Some(listed) = obs.listed else {
        return SnapshotDecision {
            action: SnapshotAction::Search {
                instance_id: instance_id.to_string(),
            },
            summary: searching("looking for the snapshot of an unanswered snapshot call"),
            requeue: Some(POLL),
        };
    };
    if let Some(found) = lost_snapshot(obs.status, instance_id, listed, &obs.others) {
        return SnapshotDecision {
            action: SnapshotAction::Adopt {
                snapshot_id: found.snapshot_id.clone(),
            },
            summary: SnapshotSummary::working(
                SnapshotReason::Taking,
                format!(
                    "found snapshot {} of the unanswered call",
                    found.snapshot_id
                ),
            ),
            requeue: Some(POLL),
        };
    }
    let intent = obs
        .status
        .requested_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    let waited = intent.map(|t| obs.now.duration_since(t));
    let grace = jiff::SignedDuration::try_from(obs.grace).unwrap_or_default();
    match waited {
        Some(waited) if waited < grace => SnapshotDecision {
            action: SnapshotAction::None,
            summary: searching(
                "waiting to see whether an unanswered snapshot call made a snapshot",
            ),
            requeue: Some(
                (grace - waited)
                    .unsigned_abs()
                    .clamp(Duration::from_secs(1), Duration::from_secs(10)),
            ),
        },
        _ => match obs.target {
            TargetView::Ready(id) => SnapshotDecision {
                action: SnapshotAction::Take {
                    instance_id: id.to_string(),
                },
                summary: SnapshotSummary::working(
                    SnapshotReason::Taking,
                    "an earlier snapshot call made no snapshot; calling again",
                ),
                requeue: Some(POLL),
            },
            TargetView::Problem(problem) => target_problem(problem),
        },
    }
}

/// The snapshot an unanswered call made: of this instance, on-demand, not
/// one that existed before the intent nor one taken well before it, not one
/// another object recorded; when several objects' calls of the instance are
/// unanswered at once, the n-th intent (by time, then name) takes the n-th
/// such snapshot, so that no two objects take the same one.
pub fn lost_snapshot<'a>(
    status: &AuraSnapshotStatus,
    instance_id: &str,
    listed: &'a [Snapshot],
    others: &Others<'_>,
) -> Option<&'a Snapshot> {
    let prior: BTreeSet<&str> = status
        .prior_snapshot_ids
        .iter()
        .chain(others.recorded)
        .map(String::as_str)
        .collect();
    let intent = status
        .requested_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    let earliest = intent.map(|t| t - SKEW);
    let mut candidates: Vec<&Snapshot> = listed
        .iter()
        .filter(|s| !prior.contains(s.snapshot_id.as_str()))
        .filter(|s| s.instance_id.as_deref().is_none_or(|i| i == instance_id))
        .filter(|s| {
            s.profile
                .as_deref()
                .is_none_or(|p| p.eq_ignore_ascii_case("AdHoc"))
        })
        .filter(|s| match (earliest, taken_at(s)) {
            (Some(earliest), Some(at)) => at >= earliest,
            _ => true,
        })
        .collect();
    candidates.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
    let mine = (
        status.requested_at.clone().unwrap_or_default(),
        others.name.to_string(),
    );
    let rank = others.unanswered.iter().filter(|o| **o < mine).count();
    match others.unanswered.is_empty() {
        // Alone: the newest, as before.
        true => candidates.last().copied(),
        false => candidates.get(rank).copied(),
    }
}

/// Clock skew allowed between the intent's time and Aura's snapshot time.
const SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

fn taken_at(s: &Snapshot) -> Option<Timestamp> {
    s.timestamp.as_deref()?.parse().ok()
}

/// The ids recorded before a call: only those a search could take for the
/// call's own (taken within the skew of `now`, or of unknown time), at most
/// [`MAX_PRIOR`], so that the status stays small however many snapshots the
/// day has.
pub fn prior_ids(existing: &[Snapshot], now: Timestamp) -> Vec<String> {
    let mut recent: Vec<&Snapshot> = existing
        .iter()
        .filter(|s| taken_at(s).is_none_or(|at| at >= now - SKEW))
        .collect();
    recent.sort_by(|a, b| b.timestamp.cmp(&a.timestamp));
    recent
        .into_iter()
        .take(MAX_PRIOR)
        .map(|s| s.snapshot_id.clone())
        .collect()
}

/// The most snapshot ids a status records from before its call.
pub const MAX_PRIOR: usize = 32;

fn target_problem(problem: &TargetProblem) -> SnapshotDecision {
    let (summary, requeue) = match problem {
        TargetProblem::NotCreated(_) => (
            SnapshotSummary::working(SnapshotReason::WaitingForInstance, problem.message()),
            Some(WAIT),
        ),
        // It may be applied a moment later (GitOps applies both at once).
        TargetProblem::NotFound(_) => (
            SnapshotSummary::stalled(SnapshotReason::InstanceNotFound, problem.message()),
            Some(WAIT),
        ),
        TargetProblem::Credentials(_) => (
            SnapshotSummary::stalled(SnapshotReason::CredentialsNotUsable, problem.message()),
            Some(WAIT),
        ),
    };
    SnapshotDecision {
        action: SnapshotAction::None,
        summary,
        requeue,
    }
}

/// An Aura refusal of the snapshot call: a person must act.
pub fn refused(e: &AuraError) -> SnapshotSummary {
    SnapshotSummary::stalled(SnapshotReason::AuraRejected, e.to_string())
}

/// Aura is busy: wait.
pub fn busy(instance_id: &str) -> SnapshotSummary {
    SnapshotSummary::working(
        SnapshotReason::InstanceBusy,
        format!("instance {instance_id} is busy with another operation; waiting"),
    )
}

/// The status fields that follow Aura's view of the snapshot.
pub fn mirror(status: &mut AuraSnapshotStatus, snapshot: &Snapshot) {
    status.aura_status = snapshot.status.clone().or(status.aura_status.take());
    status.exportable = snapshot.exportable.or(status.exportable);
    status.profile = snapshot.profile.clone().or(status.profile.take());
    status.taken_at = snapshot.timestamp.clone().or(status.taken_at.take());
    if status.instance_id.is_none() {
        status.instance_id = snapshot.instance_id.clone();
    }
}

/// Of `objects` (the namespace's AuraSnapshots, as the watch shows them): the
/// snapshot ids the others of the same instance recorded, and their
/// unanswered calls (intent's time and name), sorted. Only the same
/// instance's: a search lists that instance's snapshots alone, and copying
/// every id of the namespace on every pass cost memory and work in proportion
/// to the namespace (issue 34). The same instance is the same `instanceRef`,
/// or the same Aura instance id once both have one.
pub fn others(
    obj: &AuraSnapshot,
    objects: &[Arc<AuraSnapshot>],
) -> (Vec<String>, Vec<(String, String)>) {
    let me = obj.name_any();
    let my_instance = obj.status.as_ref().and_then(|s| s.instance_id.as_deref());
    let mut recorded = Vec::new();
    let mut unanswered = Vec::new();
    for other in objects {
        let Some(status) = &other.status else {
            continue;
        };
        let same_instance = other.spec.instance_ref == obj.spec.instance_ref
            || (my_instance.is_some() && status.instance_id.as_deref() == my_instance);
        if !same_instance || other.name_any() == me {
            continue;
        }
        match (&status.snapshot_id, &status.requested_at) {
            (Some(id), _) => recorded.push(id.clone()),
            (None, Some(at)) => unanswered.push((at.clone(), other.name_any())),
            _ => {}
        }
    }
    unanswered.sort();
    (recorded, unanswered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, status: &str, at: &str) -> Snapshot {
        Snapshot {
            snapshot_id: id.into(),
            instance_id: Some("0a1b2c3d".into()),
            profile: Some("AdHoc".into()),
            status: Some(status.into()),
            timestamp: Some(at.into()),
            exportable: Some(true),
        }
    }

    /// An AuraSnapshot named `name` of the AuraInstance `instance`, with what
    /// its status recorded: (Aura instance id, snapshot id, intent's time).
    fn object(
        name: &str,
        instance: &str,
        recorded: Option<(&str, Option<&str>, Option<&str>)>,
    ) -> Arc<AuraSnapshot> {
        let mut o: AuraSnapshot = serde_json::from_value(serde_json::json!({
            "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraSnapshot",
            "metadata": {"name": name, "namespace": "team"},
            "spec": {"instanceRef": {"name": instance}},
        }))
        .unwrap();
        o.status = recorded.map(|(instance_id, snapshot_id, at)| AuraSnapshotStatus {
            instance_id: Some(instance_id.into()),
            snapshot_id: snapshot_id.map(Into::into),
            requested_at: at.map(Into::into),
            ..Default::default()
        });
        Arc::new(o)
    }

    #[test]
    fn others_are_the_same_instances_snapshots_only() {
        let me = object("me", "orders", Some(("i-1", None, Some("t3"))));
        let namespace = [
            me.clone(),
            object("taken", "orders", Some(("i-1", Some("s-1"), Some("t1")))),
            object("asking", "orders", Some(("i-1", None, Some("t2")))),
            object("early", "orders", Some(("i-1", None, Some("t0")))),
            object("new", "orders", None),
            // Another AuraInstance of the namespace: never met by a search of i-1.
            object("elsewhere", "billing", Some(("i-2", Some("s-2"), None))),
            object(
                "elsewhere-asking",
                "billing",
                Some(("i-2", None, Some("t1"))),
            ),
            // Another name for the same Aura instance (renamed reference).
            object("renamed", "orders-old", Some(("i-1", Some("s-3"), None))),
        ];
        let (recorded, unanswered) = others(&me, &namespace);
        assert_eq!(recorded, ["s-1", "s-3"]);
        assert_eq!(
            unanswered,
            [
                ("t0".to_string(), "early".to_string()),
                ("t2".to_string(), "asking".to_string())
            ]
        );
        // Before its instance id is known, only the same reference counts.
        let fresh = object("fresh", "orders-old", None);
        let (recorded, unanswered) = others(&fresh, &namespace);
        assert_eq!(recorded, ["s-3"]);
        assert!(unanswered.is_empty());
    }

    fn obs<'a>(status: &'a AuraSnapshotStatus, target: TargetView<'a>) -> SnapshotObservation<'a> {
        SnapshotObservation {
            status,
            target,
            snapshot: None,
            listed: None,
            now: "2026-12-01T12:00:00Z".parse().unwrap(),
            grace: Duration::from_secs(60),
            others: Others::default(),
        }
    }

    fn recorded(id: &str, aura: Option<&str>) -> AuraSnapshotStatus {
        AuraSnapshotStatus {
            snapshot_id: Some(id.into()),
            instance_id: Some("0a1b2c3d".into()),
            requested_at: Some("2026-12-01T11:59:00Z".into()),
            aura_status: aura.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn first_steps() {
        let rows: &[(AuraSnapshotStatus, Step)] = &[
            (AuraSnapshotStatus::default(), Step::Take),
            (
                AuraSnapshotStatus {
                    requested_at: Some("2026-12-01T11:59:00Z".into()),
                    ..Default::default()
                },
                Step::Search,
            ),
            (recorded("s1", None), Step::Poll),
            (recorded("s1", Some("InProgress")), Step::Poll),
            (recorded("s1", Some("weird")), Step::Poll),
            (recorded("s1", Some("completed")), Step::Settled),
            (recorded("s1", Some("Failed")), Step::Settled),
        ];
        for (status, step) in rows {
            assert_eq!(first_step(status), *step, "{status:?}");
        }
    }

    #[test]
    fn a_new_object_takes_a_snapshot_once_its_instance_exists() {
        let status = AuraSnapshotStatus::default();
        let d = decide(&obs(&status, TargetView::Ready("0a1b2c3d")));
        assert_eq!(
            d.action,
            SnapshotAction::Take {
                instance_id: "0a1b2c3d".into()
            }
        );
        let waiting = TargetProblem::NotCreated("orders".into());
        let d = decide(&obs(&status, TargetView::Problem(&waiting)));
        assert_eq!(d.action, SnapshotAction::None);
        assert_eq!(d.summary.reason(), Some(SnapshotReason::WaitingForInstance));
        assert!(d.summary.stalled.is_none());
        let missing = TargetProblem::NotFound("orders".into());
        let d = decide(&obs(&status, TargetView::Problem(&missing)));
        assert_eq!(d.summary.reason(), Some(SnapshotReason::InstanceNotFound));
        assert!(d.summary.stalled.is_some());
    }

    #[test]
    fn polling_follows_aura_until_it_settles() {
        let status = recorded("s1", Some("Pending"));
        let rows: &[(&str, Option<SnapshotReason>, bool)] = &[
            ("Pending", Some(SnapshotReason::Taking), false),
            ("InProgress", Some(SnapshotReason::Taking), false),
            ("SomethingNew", Some(SnapshotReason::Taking), false),
            ("COMPLETED", None, false),
            ("Failed", Some(SnapshotReason::SnapshotFailed), true),
            ("Cancelled", Some(SnapshotReason::SnapshotFailed), true),
        ];
        for (aura, reason, stalled) in rows {
            let s = snap("s1", aura, "2026-12-01T11:59:01Z");
            let mut o = obs(&status, TargetView::Ready("0a1b2c3d"));
            o.snapshot = Some(Some(&s));
            let d = decide(&o);
            assert_eq!(d.summary.reason(), *reason, "{aura}");
            assert_eq!(d.summary.stalled.is_some(), *stalled, "{aura}");
            assert_eq!(
                d.requeue.is_some(),
                reason == &Some(SnapshotReason::Taking),
                "{aura}"
            );
        }
        let mut o = obs(&status, TargetView::Ready("0a1b2c3d"));
        o.snapshot = Some(None);
        assert_eq!(
            decide(&o).summary.reason(),
            Some(SnapshotReason::SnapshotNotFound)
        );
    }

    #[test]
    fn a_settled_snapshot_makes_no_call_even_without_its_instance() {
        let gone = TargetProblem::NotFound("orders".into());
        let status = recorded("s1", Some("Completed"));
        let d = decide(&obs(&status, TargetView::Problem(&gone)));
        assert_eq!(d.action, SnapshotAction::None);
        assert_eq!(d.summary, SnapshotSummary::ready());
        assert_eq!(d.requeue, None);
    }

    #[test]
    fn an_unanswered_call_is_found_again_not_repeated() {
        let status = AuraSnapshotStatus {
            instance_id: Some("0a1b2c3d".into()),
            requested_at: Some("2026-12-01T11:59:30Z".into()),
            prior_snapshot_ids: vec!["old".into()],
            ..Default::default()
        };
        let target = TargetView::Ready("0a1b2c3d");
        let d = decide(&obs(&status, target));
        assert_eq!(
            d.action,
            SnapshotAction::Search {
                instance_id: "0a1b2c3d".into()
            }
        );
        // Only the old one: wait within the grace, call again after it.
        let listed = vec![snap("old", "Completed", "2026-12-01T01:00:00Z")];
        let mut o = obs(&status, target);
        o.listed = Some(&listed);
        assert_eq!(decide(&o).action, SnapshotAction::None);
        o.now = "2026-12-01T12:01:00Z".parse().unwrap();
        assert_eq!(
            decide(&o).action,
            SnapshotAction::Take {
                instance_id: "0a1b2c3d".into()
            }
        );
        // A new one: adopted.
        let listed = vec![
            snap("old", "Completed", "2026-12-01T01:00:00Z"),
            snap("new", "Pending", "2026-12-01T11:59:31Z"),
        ];
        let mut o = obs(&status, target);
        o.listed = Some(&listed);
        assert_eq!(
            decide(&o).action,
            SnapshotAction::Adopt {
                snapshot_id: "new".into()
            }
        );
    }

    #[test]
    fn scheduled_snapshots_and_other_instances_are_never_adopted() {
        let status = AuraSnapshotStatus::default();
        let mut scheduled = snap("sched", "Completed", "2026-12-01T11:59:31Z");
        scheduled.profile = Some("Scheduled".into());
        let mut other = snap("other", "Completed", "2026-12-01T11:59:31Z");
        other.instance_id = Some("ffffffff".into());
        assert_eq!(
            lost_snapshot(&status, "0a1b2c3d", &[scheduled, other], &Others::default()),
            None
        );
    }

    #[test]
    fn every_reason_has_its_own_word() {
        crate::reconciler::status::assert_reason_words::<SnapshotReason>();
    }

    #[test]
    fn two_unanswered_calls_at_once_never_take_the_same_snapshot() {
        let intent = |at: &str| AuraSnapshotStatus {
            instance_id: Some("0a1b2c3d".into()),
            requested_at: Some(at.into()),
            ..Default::default()
        };
        let (a, b) = (
            intent("2026-12-01T11:59:30Z"),
            intent("2026-12-01T11:59:31Z"),
        );
        let listed = vec![
            snap("s-a", "Pending", "2026-12-01T11:59:32Z"),
            snap("s-b", "Pending", "2026-12-01T11:59:33Z"),
        ];
        let a_sees = [("2026-12-01T11:59:31Z".to_string(), "b".to_string())];
        let b_sees = [("2026-12-01T11:59:30Z".to_string(), "a".to_string())];
        let found = |status, unanswered: &[(String, String)], name| {
            let others = Others {
                recorded: &[],
                unanswered,
                name,
            };
            lost_snapshot(status, "0a1b2c3d", &listed, &others).map(|s| s.snapshot_id.clone())
        };
        assert_eq!(found(&a, &a_sees, "a").as_deref(), Some("s-a"));
        assert_eq!(found(&b, &b_sees, "b").as_deref(), Some("s-b"));
        // Once a recorded its own, b's search never meets it.
        let recorded = ["s-a".to_string()];
        let others = Others {
            recorded: &recorded,
            unanswered: &[],
            name: "b",
        };
        assert_eq!(
            lost_snapshot(&b, "0a1b2c3d", &listed, &others).map(|s| s.snapshot_id.as_str()),
            Some("s-b")
        );
        let only_a = [snap("s-a", "Pending", "2026-12-01T11:59:32Z")];
        assert_eq!(lost_snapshot(&b, "0a1b2c3d", &only_a, &others), None);
        // A snapshot from well before the intent is never the call's.
        let old = [snap("s-old", "Completed", "2026-12-01T11:00:00Z")];
        assert_eq!(
            lost_snapshot(&a, "0a1b2c3d", &old, &Others::default()),
            None
        );
    }

    #[test]
    fn a_call_waits_while_another_object_of_the_instance_is_unanswered() {
        let status = AuraSnapshotStatus::default();
        let unanswered = [("2026-12-01T11:59:30Z".to_string(), "nightly".to_string())];
        let mut o = obs(&status, TargetView::Ready("0a1b2c3d"));
        o.others.unanswered = &unanswered;
        let d = decide(&o);
        assert_eq!(d.action, SnapshotAction::None);
        assert_eq!(d.summary.reason(), Some(SnapshotReason::InstanceBusy));
        o.others.unanswered = &[];
        assert!(matches!(decide(&o).action, SnapshotAction::Take { .. }));
    }

    #[test]
    fn the_ids_recorded_before_a_call_stay_few() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let mut existing: Vec<Snapshot> = (0..200)
            .map(|i| snap(&format!("day-{i}"), "Completed", "2026-12-01T01:00:00Z"))
            .collect();
        existing.push(snap("just-now", "Completed", "2026-12-01T11:59:50Z"));
        let mut unknown = snap("unknown", "Completed", "");
        unknown.timestamp = None;
        existing.push(unknown);
        let prior = prior_ids(&existing, now);
        assert_eq!(prior.len(), 2, "{prior:?}");
        assert!(prior.contains(&"just-now".to_string()));
        let many: Vec<Snapshot> = (0..100)
            .map(|i| snap(&format!("burst-{i}"), "Completed", "2026-12-01T11:59:59Z"))
            .collect();
        assert_eq!(prior_ids(&many, now).len(), MAX_PRIOR);
    }
}
