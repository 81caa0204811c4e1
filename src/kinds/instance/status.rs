//! The AuraInstance's status summary: what `decide` says about phase and the
//! three conditions, and the full status built from it.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::reason::Reason;
use crate::api::{AuraInstance, AuraInstanceStatus, Phase};
use crate::reconciler::status::{self, Summary};

pub use crate::reconciler::status::{READY, RECONCILING, STALLED, conditions};

pub type Readiness = status::Readiness<Reason>;

/// The condition-level summary `decide` produces; `status.rs` turns it into conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSummary {
    pub phase: Phase,
    pub ready: Readiness,
    pub reconciling: Option<(Reason, String)>,
    pub stalled: Option<(Reason, String)>,
}

impl StatusSummary {
    /// A human must act: Stalled=True, Ready=False, no polling.
    pub fn stalled(reason: Reason, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            phase: Phase::Failed,
            ready: Readiness::False {
                reason,
                message: message.clone(),
            },
            reconciling: None,
            stalled: Some((reason, message)),
        }
    }

    /// Aura accepted the create and is building the instance.
    pub fn aura_creating() -> Self {
        Self::in_progress(
            Phase::Creating,
            Reason::Creating,
            "Aura is creating the instance",
        )
    }

    pub fn in_progress(phase: Phase, reason: Reason, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            phase,
            ready: Readiness::False {
                reason,
                message: message.clone(),
            },
            reconciling: Some((reason, message)),
            stalled: None,
        }
    }
}

impl Summary for StatusSummary {
    type Reason = Reason;

    fn readiness(&self) -> &Readiness {
        &self.ready
    }

    fn reconciling(&self) -> Option<&(Reason, String)> {
        self.reconciling.as_ref()
    }

    fn stalled(&self) -> Option<&(Reason, String)> {
        self.stalled.as_ref()
    }
}

/// The first-sight status: Ready=Unknown, Reconciling=True.
pub fn first_sight() -> StatusSummary {
    StatusSummary {
        phase: Phase::Pending,
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
pub fn aura_unreachable(phase: Option<Phase>, error: &str) -> StatusSummary {
    let message = format!("the Aura API cannot be reached; retrying: {error}");
    StatusSummary {
        phase: phase.unwrap_or(Phase::Pending),
        ready: Readiness::Unknown {
            reason: Reason::AuraUnreachable,
            message: message.clone(),
        },
        reconciling: Some((Reason::AuraUnreachable, message)),
        stalled: None,
    }
}

/// The status while Aura destroys the instance.
pub fn deleting(message: &str) -> StatusSummary {
    StatusSummary {
        phase: Phase::Deleting,
        ready: Readiness::False {
            reason: Reason::Deleting,
            message: message.to_string(),
        },
        reconciling: Some((Reason::Deleting, message.to_string())),
        stalled: None,
    }
}

/// The status of a deletion that --dry-run keeps from reaching Aura.
pub fn dry_run_deleting(what: &str) -> StatusSummary {
    let message = format!("dry run: {what}; the object waits until the operator runs for real");
    StatusSummary {
        phase: Phase::Deleting,
        ready: Readiness::False {
            reason: Reason::DryRun,
            message: message.clone(),
        },
        reconciling: Some((Reason::DryRun, message)),
        stalled: None,
    }
}

/// The annotation that stops every Aura call for one object.
pub const RECONCILE_ANNOTATION: &str = "aura-operator.io/reconcile";

/// Whether the object carries `aura-operator.io/reconcile: disabled`.
pub fn reconcile_disabled(obj: &AuraInstance) -> bool {
    obj.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RECONCILE_ANNOTATION))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("disabled"))
}

/// The status while reconciling is disabled: what was known stays as it was
/// (Ready, Stalled, observedGeneration: a spec changed meanwhile shows as not
/// yet observed), and Reconciling says why nothing happens.
pub fn disabled(current: &AuraInstanceStatus, now: Timestamp) -> AuraInstanceStatus {
    let mut next = current.clone();
    let reason = Reason::ReconcileDisabled;
    let already = status::condition(&current.conditions, RECONCILING)
        .filter(|c| c.status == "False" && c.reason == reason.as_str());
    let condition = Condition {
        type_: RECONCILING.into(),
        status: "False".into(),
        reason: reason.as_str().into(),
        message: format!(
            "the annotation {RECONCILE_ANNOTATION}: disabled stops every Aura call for this object; remove it to resume (deleting the object still follows deletionPolicy)"
        ),
        observed_generation: current.observed_generation,
        last_transition_time: already
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)),
    };
    next.conditions.retain(|c| c.type_ != RECONCILING);
    next.conditions.push(condition);
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
    let (value, reason, message) = match drifted {
        Some(fields) if !fields.is_empty() => (
            "True",
            Reason::Drifted,
            format!(
                "the spec and Aura differ (managementPolicy ObserveOnly: nothing is changed): {}",
                fields.join("; ")
            ),
        ),
        _ => (
            "False",
            Reason::InSync,
            "the spec matches what Aura reports".to_string(),
        ),
    };
    let last = status::condition(&status.conditions, DRIFTED)
        .filter(|c| c.status == value)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
    status.conditions.retain(|c| c.type_ != DRIFTED);
    status.conditions.push(Condition {
        type_: DRIFTED.into(),
        status: value.into(),
        reason: reason.as_str().into(),
        message,
        observed_generation: generation,
        last_transition_time: last,
    });
}

/// Drops the Drifted condition (managementPolicy Full).
pub fn clear_drifted(status: &mut AuraInstanceStatus) {
    status.conditions.retain(|c| c.type_ != DRIFTED);
}

/// Looks up a condition.
pub fn condition<'a>(status: Option<&'a AuraInstanceStatus>, type_: &str) -> Option<&'a Condition> {
    status::condition(&status?.conditions, type_)
}

/// The full status for a summary.
pub fn build(
    obj: &AuraInstance,
    fields: &AuraInstanceStatus,
    summary: &StatusSummary,
    previous: Option<&AuraInstanceStatus>,
) -> AuraInstanceStatus {
    let previous_conditions = previous.map(|p| p.conditions.as_slice()).unwrap_or(&[]);
    let mut all = conditions(
        summary,
        previous_conditions,
        obj.metadata.generation,
        Timestamp::now(),
    );
    // Conditions of their own (CredentialsVerified) are kept as they are.
    all.extend(
        fields
            .conditions
            .iter()
            .filter(|c| ![READY, RECONCILING, STALLED].contains(&c.type_.as_str()))
            .cloned(),
    );
    AuraInstanceStatus {
        observed_generation: obj.metadata.generation,
        phase: Some(summary.phase),
        conditions: all,
        ..fields.clone()
    }
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
            phase: Phase::Running,
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
