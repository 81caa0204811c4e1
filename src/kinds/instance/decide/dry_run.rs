//! --dry-run: every mutating action becomes a report of what would have been
//! sent, decided here after the real decision, so that both are table-tested.

use super::{
    Action, AuraView, Decision, LookAgain, Observation, Phase, Readiness, Reason, StatusSummary,
};
use super::{aura_status_summary, describe_update};

impl Action {
    /// The mutating Aura call this action makes, as a metric label, and what
    /// it would send (bodies carry no secret).
    pub fn mutation(&self) -> Option<(&'static str, String)> {
        let json = |v: &dyn erased::Body| v.to_json();
        match self {
            Action::Create(r) => Some((
                "create",
                format!(
                    "would create Aura instance {:?}: POST /instances {}",
                    r.name,
                    json(r)
                ),
            )),
            Action::Update {
                instance_id,
                request,
                ..
            } => Some((
                "update",
                format!(
                    "would change {}: PATCH /instances/{instance_id} {}",
                    describe_update(request),
                    json(request)
                ),
            )),
            Action::Pause { instance_id, .. } => Some((
                "pause",
                format!("would pause: POST /instances/{instance_id}/pause"),
            )),
            Action::Resume { instance_id, .. } => Some((
                "resume",
                format!("would resume: POST /instances/{instance_id}/resume"),
            )),
            Action::Upgrade { instance_id, to } => Some((
                "upgrade",
                format!("would upgrade to {to}: POST /instances/{instance_id}/upgrade"),
            )),
            Action::Recreate { instance_id } => Some((
                "delete",
                format!(
                    "would destroy instance {instance_id} (its password was lost) to create it again: DELETE /instances/{instance_id}"
                ),
            )),
            Action::None
            | Action::Adopt { .. }
            | Action::ForgetInstance { .. }
            | Action::WriteSecret
            | Action::SnapshotFirst { .. }
            | Action::Observe { .. }
            | Action::DryRun { .. } => None,
        }
    }
}

mod erased {
    /// A request body shown in a dry-run event.
    pub trait Body {
        fn to_json(&self) -> String;
    }

    impl<T: serde::Serialize> Body for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

/// --dry-run: a mutating call becomes an event and a status that says so;
/// the status otherwise reports Aura as it is (nothing was asked of it).
pub(super) fn skip_in_dry_run(obs: &Observation<'_>, decision: Decision) -> Decision {
    let Some((operation, what)) = decision.action.mutation() else {
        return decision;
    };
    let what = if super::wants_snapshot_first(obs.spec, obs.compared.next()) {
        format!("would take a snapshot first (snapshots.beforeChanges), then {what}")
    } else {
        what
    };
    let message = format!("dry run: {what}");
    let status = match &obs.aura {
        AuraView::Found(instance) => StatusSummary {
            reconciling: Some((Reason::DryRun, message)),
            ..aura_status_summary(obs, instance)
        },
        AuraView::NotCreated { .. } | AuraView::Gone | AuraView::Unheld(_) => StatusSummary {
            phase: Phase::Pending,
            readiness: Readiness::Unknown {
                reason: Reason::DryRun,
                message: message.clone(),
            },
            reconciling: Some((Reason::DryRun, message)),
            stalled: None,
        },
    };
    Decision {
        action: Action::DryRun { operation, what },
        status,
        requeue: LookAgain::Resync,
    }
}
