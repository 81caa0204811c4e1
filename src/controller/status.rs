//! Turns a decision's summary into the status conditions tools read (kstatus:
//! Ready, Reconciling, Stalled), keeping transition times when nothing changed.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::decide::{Readiness, StatusSummary};
use super::reason::Reason;
use crate::api::AuraInstanceStatus;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// The conditions for `summary`, reusing `previous` transition times where a
/// condition keeps its status.
pub fn conditions(
    summary: &StatusSummary,
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let (ready_status, ready_reason, ready_message) = match &summary.ready {
        Readiness::True => (
            "True",
            Reason::Ready,
            "the instance is running and its connection Secret is complete".to_string(),
        ),
        Readiness::False { reason, message } => ("False", *reason, message.clone()),
        Readiness::Unknown { reason, message } => ("Unknown", *reason, message.clone()),
    };
    let flag = |value: &Option<(Reason, String)>, idle_reason: Reason| match value {
        Some((reason, message)) => ("True", *reason, message.clone()),
        None => ("False", idle_reason, String::new()),
    };
    let (rec_status, rec_reason, rec_message) = flag(&summary.reconciling, Reason::Idle);
    let (st_status, st_reason, st_message) = flag(&summary.stalled, Reason::NotStalled);
    [
        (READY, ready_status, ready_reason, ready_message),
        (RECONCILING, rec_status, rec_reason, rec_message),
        (STALLED, st_status, st_reason, st_message),
    ]
    .into_iter()
    .map(|(type_, status, reason, message)| {
        let last = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.as_str().to_string(),
            message: truncate(message, 1024),
            observed_generation: generation,
            last_transition_time: last,
        }
    })
    .collect()
}

/// The first-sight status: Ready=Unknown, Reconciling=True.
pub fn first_sight() -> StatusSummary {
    StatusSummary {
        phase: crate::api::Phase::Pending,
        ready: Readiness::Unknown {
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
pub fn aura_unreachable(phase: Option<crate::api::Phase>, error: &str) -> StatusSummary {
    let message = format!("the Aura API cannot be reached; retrying: {error}");
    StatusSummary {
        phase: phase.unwrap_or(crate::api::Phase::Pending),
        ready: Readiness::Unknown {
            reason: Reason::AuraUnreachable,
            message: message.clone(),
        },
        reconciling: Some((Reason::AuraUnreachable, message)),
        stalled: None,
    }
}

/// True when writing `desired` over `current` would change anything.
pub fn differs(current: Option<&AuraInstanceStatus>, desired: &AuraInstanceStatus) -> bool {
    current != Some(desired)
}

/// Looks up a condition.
pub fn condition<'a>(status: Option<&'a AuraInstanceStatus>, type_: &str) -> Option<&'a Condition> {
    status?.conditions.iter().find(|c| c.type_ == type_)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_the_status_changes() {
        let creating = StatusSummary {
            phase: crate::api::Phase::Creating,
            ready: Readiness::False {
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
            phase: crate::api::Phase::Running,
            ready: Readiness::True,
            reconciling: None,
            stalled: None,
        };
        let later = conditions(&running, &again, Some(1), t("2026-01-01T00:10:00Z"));
        let ready = later.iter().find(|c| c.type_ == READY).unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(ready.last_transition_time, Time(t("2026-01-01T00:10:00Z")));
        let stalled = later.iter().find(|c| c.type_ == STALLED).unwrap();
        assert_eq!(stalled.status, "False");
        assert_eq!(
            stalled.last_transition_time,
            Time(t("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn first_sight_is_unknown_and_reconciling() {
        let c = conditions(&first_sight(), &[], Some(1), t("2026-01-01T00:00:00Z"));
        let get = |ty: &str| c.iter().find(|c| c.type_ == ty).unwrap().status.clone();
        assert_eq!(get(READY), "Unknown");
        assert_eq!(get(RECONCILING), "True");
        assert_eq!(get(STALLED), "False");
    }
}
