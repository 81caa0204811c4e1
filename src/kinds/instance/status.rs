//! The AuraInstance's status summary: what `decide` says about phase and the
//! three conditions, and the full status built from it.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::reconciler::status::State;

use super::reason::Reason;
use crate::api::{AuraInstance, AuraInstanceStatus, Phase};
use crate::reconciler::status::{self, Phasing, Progress};

pub use crate::reconciler::status::{READY, RECONCILING, STALLED, conditions};

crate::kind_status!(AuraInstanceStatus);

pub type Readiness = status::Readiness<Reason>;

/// The condition-level summary `decide` produces, with the phase; `build`
/// turns it into the status.
pub type StatusSummary = Progress<Reason, Phase>;

impl Phasing for Phase {
    const READY: Self = Phase::Running;
    const STALLED: Self = Phase::Failed;
}

/// Aura accepted the create and is building the instance.
pub fn aura_creating() -> StatusSummary {
    StatusSummary::in_progress(
        Phase::Creating,
        Reason::Creating,
        "Aura is creating the instance",
    )
}

/// The first-sight status: Ready=Unknown, Reconciling=True.
pub fn first_sight() -> StatusSummary {
    StatusSummary {
        phase: Phase::Pending,
        readiness: Readiness::Unknown {
            reason: Reason::Reconciling,
            message: "the operator has not yet observed this object".into(),
        },
        reconciling: Some((Reason::Reconciling, "first reconcile".into())),
        stalled: None,
    }
}

/// Aura cannot be reached: still in progress (retried with backoff), Ready
/// Unknown with the error, so that a wrong CA or a closed firewall shows in
/// `kubectl get` instead of a silent wait.
pub fn aura_unreachable(phase: Option<Phase>, error: &str) -> StatusSummary {
    let message = format!("the Aura API cannot be reached; retrying: {error}");
    StatusSummary {
        phase: phase.unwrap_or(Phase::Pending),
        readiness: Readiness::Unknown {
            reason: Reason::AuraUnreachable,
            message: message.clone(),
        },
        reconciling: Some((Reason::AuraUnreachable, message)),
        stalled: None,
    }
}

/// The status while Aura destroys the instance.
pub fn deleting(message: &str) -> StatusSummary {
    StatusSummary::in_progress(Phase::Deleting, Reason::Deleting, message)
}

/// The status of a deletion that --dry-run keeps from reaching Aura.
pub fn dry_run_deleting(what: &str) -> StatusSummary {
    StatusSummary::in_progress(
        Phase::Deleting,
        Reason::DryRun,
        format!("dry run: {what}; the object waits until the operator runs for real"),
    )
}

pub use crate::api::RECONCILE_ANNOTATION;

/// The status while reconciling is disabled: what was known stays as it was
/// (Ready, Stalled, observedGeneration: a spec changed meanwhile shows as not
/// yet observed), and Reconciling says why nothing happens.
pub fn disabled(current: &AuraInstanceStatus, now: Timestamp) -> AuraInstanceStatus {
    let mut next = current.clone();
    status::set(
        &mut next.conditions,
        status::Set {
            type_: RECONCILING,
            state: State::False,
            reason: Reason::ReconcileDisabled.as_str(),
            message: format!(
                "the annotation {RECONCILE_ANNOTATION}: disabled stops every Aura call for this object; remove it to resume (deleting the object still follows deletionPolicy)"
            ),
            generation: current.observed_generation,
            now,
        },
    );
    next
}

/// The Drifted condition of an ObserveOnly object (None: in sync).
pub const DRIFTED: &str = "Drifted";

pub fn set_drifted(
    status: &mut AuraInstanceStatus,
    drifted: Option<&[String]>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let (state, reason, message) = match drifted {
        Some(fields) if !fields.is_empty() => (
            State::True,
            Reason::Drifted,
            format!(
                "the spec and Aura differ (managementPolicy ObserveOnly: nothing is changed): {}",
                fields.join("; ")
            ),
        ),
        _ => (
            State::False,
            Reason::InSync,
            "the spec matches what Aura reports".to_string(),
        ),
    };
    status::set(
        &mut status.conditions,
        status::Set {
            type_: DRIFTED,
            state,
            reason: reason.as_str(),
            message,
            generation,
            now,
        },
    );
}

/// Drops the Drifted condition (managementPolicy Full).
pub fn clear_drifted(status: &mut AuraInstanceStatus) {
    status::remove(&mut status.conditions, DRIFTED);
}

/// Looks up a condition.
pub fn condition<'a>(status: Option<&'a AuraInstanceStatus>, type_: &str) -> Option<&'a Condition> {
    status::condition(&status?.conditions, type_)
}

/// The full status for a summary: `fields` with the summary's phase and
/// conditions (transition times kept from `previous`).
pub fn build(
    obj: &AuraInstance,
    fields: &AuraInstanceStatus,
    summary: &StatusSummary,
    previous: Option<&AuraInstanceStatus>,
) -> AuraInstanceStatus {
    let mut next = AuraInstanceStatus {
        phase: Some(summary.phase),
        ..fields.clone()
    };
    let previous = previous.map(|p| p.conditions.as_slice()).unwrap_or(&[]);
    status::apply_summary(
        &mut next,
        summary,
        previous,
        obj.metadata.generation,
        Timestamp::now(),
    );
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_the_status_changes() {
        let creating = StatusSummary {
            phase: Phase::Creating,
            readiness: Readiness::False {
                reason: Reason::Creating,
                message: "m".into(),
            },
            reconciling: Some((Reason::Creating, "m".into())),
            stalled: None,
        };
        let first = conditions(&creating, &[], Some(1), t("2026-01-01T00:00:00Z"));
        let again = conditions(&creating, &first, Some(1), t("2026-01-01T00:05:00Z"));
        assert_eq!(
            first, again,
            "an unchanged summary must give identical conditions"
        );

        let running = StatusSummary {
            phase: Phase::Running,
            readiness: Readiness::True,
            reconciling: None,
            stalled: None,
        };
        let later = conditions(&running, &again, Some(1), t("2026-01-01T00:10:00Z"));
        let ready = later.iter().find(|c| c.type_ == READY).unwrap();
        assert_eq!(State::of(ready), State::True);
        assert_eq!(ready.last_transition_time, Time(t("2026-01-01T00:10:00Z")));
        let stalled = later.iter().find(|c| c.type_ == STALLED).unwrap();
        assert_eq!(State::of(stalled), State::False);
        assert_eq!(
            stalled.last_transition_time,
            Time(t("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn first_sight_is_unknown_and_reconciling() {
        let c = conditions(&first_sight(), &[], Some(1), t("2026-01-01T00:00:00Z"));
        let get = |ty: &str| crate::reconciler::status::state(&c, ty);
        assert_eq!(get(READY), Some(State::Unknown));
        assert_eq!(get(RECONCILING), Some(State::True));
        assert_eq!(get(STALLED), Some(State::False));
    }
}
