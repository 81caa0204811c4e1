//! Decide (pure): what one AuraGraphAnalyticsSession does next and what its
//! status says. Aura's create is get-or-create by name, so it is safe to
//! repeat: no intent is recorded. An ended session is started again only
//! when the spec asks for it.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AuraGraphAnalyticsSessionSpec, AuraGraphAnalyticsSessionStatus};
use crate::aura::{Session, SessionSizingRequest};
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraGraphAnalyticsSession conditions, defined once.
    pub enum SessionReason {
        ready: SessionReady = "Aura reports the session Ready",
        idle: Idle,
        not_stalled: NotStalled,
        /// The AuraInstance is missing or has no Aura instance yet.
        WaitingForInstance,
        /// Aura is asked for the memory spec.sizing needs.
        Sizing,
        /// The session is being created.
        Creating,
        /// Aura ended the session after its ttl idle (or no longer has it).
        Expired,
        /// Aura reports the session Failed.
        SessionFailed,
        /// A session of this name exists in Aura with other parameters.
        SessionConflict,
        CredentialsNotUsable,
        /// No tenant, or several and spec.tenantId names none.
        TenantNotChosen,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Event: a new session was started after one expired.
        SessionRecreated,
        /// Event: the session was deleted in Aura.
        SessionDeleted,
    }
}

pub type SessionSummary = Progress<SessionReason>;

/// How often a session being created is looked at.
pub const CREATING_POLL: Duration = Duration::from_secs(10);
/// The longest a Ready session goes unseen (its expiry is looked for).
pub const READY_POLL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAction {
    None,
    /// Ask Aura what memory spec.sizing needs.
    Size(SessionSizingRequest),
    /// Get or create the session (again, after one ended, with `again`).
    Create {
        again: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionDecision {
    pub action: SessionAction,
    pub summary: SessionSummary,
    pub requeue: Option<Duration>,
}

/// What the pass saw.
#[derive(Debug, Clone)]
pub struct SessionObservation<'a> {
    pub spec: &'a AuraGraphAnalyticsSessionSpec,
    pub status: &'a AuraGraphAnalyticsSessionStatus,
    /// The recorded session as Aura reports it (`None`: 404); not read
    /// without a recorded id.
    pub seen: Option<Option<&'a Session>>,
    pub now: Timestamp,
}

/// The memory the create asks for: the spec's, or Aura's answer to sizing.
pub fn memory(
    spec: &AuraGraphAnalyticsSessionSpec,
    status: &AuraGraphAnalyticsSessionStatus,
) -> Option<String> {
    match (&spec.memory, &status.sizing) {
        (Some(m), _) => Some(m.as_str().to_string()),
        (None, Some(sized)) => Some(sized.recommended_size.clone()),
        (None, None) => None,
    }
}

/// The sizing body of spec.sizing.
pub fn sizing_request(spec: &AuraGraphAnalyticsSessionSpec) -> Option<SessionSizingRequest> {
    spec.sizing.as_ref().map(|s| SessionSizingRequest {
        node_count: s.node_count,
        relationship_count: s.relationship_count,
        node_property_count: s.node_property_count,
        node_label_count: s.node_label_count,
        relationship_property_count: s.relationship_property_count,
        algorithm_categories: s.algorithm_categories.clone(),
    })
}

pub fn decide(obs: &SessionObservation<'_>) -> SessionDecision {
    if memory(obs.spec, obs.status).is_none()
        && let Some(request) = sizing_request(obs.spec)
    {
        return SessionDecision {
            action: SessionAction::Size(request),
            summary: SessionSummary::working(
                SessionReason::Sizing,
                "asking Aura for the memory the graph needs",
            ),
            requeue: Some(Duration::from_secs(1)),
        };
    }
    let Some(id) = obs.status.id.as_deref() else {
        return create(false);
    };
    let session = match obs.seen {
        None => {
            return SessionDecision {
                action: SessionAction::None,
                summary: SessionSummary::working(SessionReason::Creating, "reading the session"),
                requeue: Some(CREATING_POLL),
            };
        }
        Some(None) => return ended(obs, &format!("Aura no longer has session {id}")),
        Some(Some(s)) => s,
    };
    match session.status.as_deref().unwrap_or_default() {
        s if s.eq_ignore_ascii_case("Ready") => SessionDecision {
            action: SessionAction::None,
            summary: SessionSummary::ready(),
            requeue: Some(ready_poll(session.expiry_date.as_deref(), obs.now)),
        },
        s if s.eq_ignore_ascii_case("Expired") => ended(
            obs,
            &format!("Aura ended session {id} after it was idle for its ttl"),
        ),
        s if s.eq_ignore_ascii_case("Failed") => SessionDecision {
            action: SessionAction::None,
            summary: SessionSummary::stalled(
                SessionReason::SessionFailed,
                format!("Aura reports session {id} Failed: delete the object and create it again"),
            ),
            requeue: None,
        },
        _ => SessionDecision {
            action: SessionAction::None,
            summary: SessionSummary::working(
                SessionReason::Creating,
                format!("Aura is creating session {id}"),
            ),
            requeue: Some(CREATING_POLL),
        },
    }
}

fn create(again: bool) -> SessionDecision {
    SessionDecision {
        action: SessionAction::Create { again },
        summary: SessionSummary::working(SessionReason::Creating, "creating the session"),
        requeue: Some(CREATING_POLL),
    }
}

/// The session ended: a new one with recreateOnExpiry, else a stall.
fn ended(obs: &SessionObservation<'_>, what: &str) -> SessionDecision {
    if obs.spec.recreate_on_expiry {
        return create(true);
    }
    SessionDecision {
        action: SessionAction::None,
        summary: SessionSummary::stalled(
            SessionReason::Expired,
            format!("{what}; set recreateOnExpiry to start a new one, or delete the object"),
        ),
        requeue: None,
    }
}

/// Until the session's expiry (when Aura may end it), at most READY_POLL,
/// at least 30 s.
pub fn ready_poll(expiry: Option<&str>, now: Timestamp) -> Duration {
    let until = expiry
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map(|t| {
            let left = t.duration_since(now);
            if left.is_negative() {
                Duration::ZERO
            } else {
                left.unsigned_abs()
            }
        })
        .unwrap_or(READY_POLL);
    until.clamp(Duration::from_secs(30), READY_POLL)
}

#[cfg(test)]
#[path = "decide/tests.rs"]
mod tests;
