//! The decision: a pure function from what was observed to what to do next and
//! what the status should say. No client in here, so every branch is a table test.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AuraInstanceSpec, AuraInstanceStatus, ManagementPolicy, Phase, ProjectId};

pub use super::compare::{
    Compared, SpecChange, check_offered, create_request, describe_update, next_operation,
    placement_mismatch, update_request,
};
pub use super::reason::Reason;
pub use super::source::SourceView;
pub use super::status::{Readiness, StatusSummary};
pub use super::verify::Distrust;
use crate::aura::model::{
    CreateInstanceRequest, Instance, InstanceSummary, Tenant, UpdateInstanceRequest,
};

/// What the reconciler saw of the world, gathered by `observe`.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub spec: &'a AuraInstanceSpec,
    pub aura_name: &'a str,
    pub status: &'a AuraInstanceStatus,
    pub now: Timestamp,
    pub aura: AuraView<'a>,
    /// The spec held against the instance Aura reported (empty without one).
    pub compared: Compared,
    pub secret: SecretView,
    /// The object's metadata.generation.
    pub generation: Option<i64>,
    /// The tenant's catalogue, fetched only when a resize is pending.
    pub catalogue: Option<&'a Tenant>,
    /// How long after an unanswered create we keep looking for its instance
    /// before a new create is allowed.
    pub create_grace: Duration,
    /// Another AuraInstance holds the claim of the observed instance.
    pub claimed_elsewhere: bool,
    /// The connection Secret's name, for messages about it.
    pub secret_name: String,
    /// --dry-run: mutating calls become [`Action::DryRun`].
    pub dry_run: bool,
    /// An AuraRestore (this one) runs on the instance: phase Updating, no change.
    pub restoring: Option<&'a str>,
    /// A clone's source (`spec.source`), while there is no instance yet.
    pub source: Option<&'a SourceView>,
    /// With `snapshots.beforeChanges` and a resize or upgrade pending: the
    /// AuraSnapshot that goes first, by name, and where it is.
    pub before_change: Option<&'a (String, BeforeChange)>,
    /// The project the credentials come through, while it does not hold its
    /// finalizer yet: nothing is created until it does.
    pub project_not_held: Option<ProjectId>,
    /// While there is no instance yet: the key `customerManagedKeyRef` names.
    pub key: Option<&'a KeyGate>,
}

/// The snapshot taken before a resize or upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforeChange {
    /// Not made yet.
    Missing,
    /// Made, not Completed yet.
    Taking,
    Completed,
    /// Failed: the change waits for a person (turn beforeChanges off, or delete the AuraSnapshot to try again).
    Failed,
}

/// The Aura side of the observation.
#[derive(Debug, Clone)]
pub enum AuraView<'a> {
    /// No instance id is recorded yet. `listed` holds the tenant's instances, fetched
    /// only when an earlier create's outcome is unknown.
    NotCreated {
        tenant: &'a Tenant,
        listed: Option<&'a [InstanceSummary]>,
        /// Ids of listed instances that another AuraInstance already holds.
        claimed: &'a [String],
        /// With `adoption: AdoptOrCreate` and no create yet: the unheld
        /// instances of the same name, as `GET /instances/{id}` shows them.
        adoptable: &'a [Instance],
    },
    /// The recorded instance, as `GET /instances/{id}` returned it.
    Found(&'a Instance),
    /// `GET /instances/{id}` answered 404 for the recorded id.
    Gone,
    /// The status names this instance, and no claim gives it to this object:
    /// not believed, not asked about.
    Unheld(&'a str),
}

/// The connection Secret as observed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretView {
    /// The Secret exists and holds everything the operator would write.
    pub up_to_date: bool,
    /// NEO4J_PASSWORD is present and non-empty (or a password is waiting in memory).
    pub has_password: bool,
    /// A Secret of that name exists and is not this object's (DESIGN 4.12).
    pub not_owned: bool,
    /// A Secret nobody owns names this instance, and is not taken: why.
    pub not_trusted: Option<Distrust>,
}

/// The stall for a connection Secret that belongs to somebody else. Says
/// nothing of what the Secret holds.
fn secret_not_owned(name: &str) -> Decision {
    Decision {
        action: Action::None,
        status: StatusSummary::stalled(
            Reason::SecretNotOwned,
            format!(
                "Secret {name} exists and was not written for this AuraInstance; the operator never changes or deletes a Secret it does not own: set spec.connectionSecret.name to a free name, or remove that Secret"
            ),
        ),
        requeue: LookAgain::Resync,
    }
}

/// Why an instance is adopted: it decides what the status records, and
/// whether passwordRecovery may ever destroy it (never after a rebuild).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdoptCause {
    /// This object's own create, whose answer was lost.
    LostCreate,
    /// `adoption: AdoptOrCreate` found it (a rebuild from Git).
    Rebuild,
}

/// The stall for a Secret nobody owns that is not taken over: it is never
/// written, deleted or believed. Says why, never what it holds.
fn secret_not_trusted(name: &str, why: Distrust) -> Decision {
    Decision {
        action: Action::None,
        status: StatusSummary::stalled(
            Reason::SecretNotTrusted,
            format!(
                "Secret {name} was not written for this AuraInstance and is not taken over: {}; it is never changed or deleted. Write the instance's own login into it, or remove it so that the operator writes one",
                why.why()
            ),
        ),
        requeue: LookAgain::Resync,
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing to call; write status and requeue.
    None,
    /// Record the create intent in status (with the resourceVersion as precondition),
    /// then send this create.
    Create(CreateInstanceRequest),
    /// Claim this instance and record its id: the instance of a create whose
    /// answer was lost, or the one `adoption: AdoptOrCreate` found.
    Adopt {
        instance_id: String,
        cause: AdoptCause,
    },
    /// The instance found after a lost create has no known password and is new
    /// and empty: destroy it (passwordRecovery Recreate), then create again.
    Recreate { instance_id: String },
    /// The instance destroyed for a re-create is gone: forget its id, so that
    /// the next pass creates again through the usual intent.
    ForgetInstance { instance_id: String },
    /// Write the connection Secret from the observed instance.
    WriteSecret,
    /// `PATCH /instances/{id}`; `drift` says what was changed outside the operator.
    Update {
        instance_id: String,
        request: UpdateInstanceRequest,
        drift: Option<String>,
    },
    Pause {
        instance_id: String,
        drift: Option<String>,
    },
    Resume {
        instance_id: String,
        drift: Option<String>,
    },
    Upgrade {
        instance_id: String,
        to: crate::api::InstanceType,
    },
    /// `snapshots.beforeChanges`: make this AuraSnapshot before the change.
    SnapshotFirst { name: String },
    /// managementPolicy ObserveOnly: nothing to call; report these
    /// differences between the spec and Aura (empty: in sync).
    Observe { drifted: Vec<String> },
    /// --dry-run: this mutating call is skipped and reported instead.
    DryRun {
        operation: &'static str,
        what: String,
    },
}

/// The outcome of `decide`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub status: StatusSummary,
    /// When to look again (poll while transitional, resync when stable).
    pub requeue: LookAgain,
}

impl Decision {
    /// Nothing of ours in flight and the Secret complete: the login can be
    /// checked and a scheduled snapshot taken.
    pub fn settles(&self) -> bool {
        self.status.is_ready() && matches!(self.action, Action::None | Action::WriteSecret)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookAgain {
    /// Something is in flight: poll soon.
    Poll,
    /// Within the grace period of a lost create: look again after this long.
    After(Duration),
    /// Stable or waiting for a human: the slow resync.
    Resync,
}

/// Decides the next step for one AuraInstance.
pub fn decide(obs: &Observation<'_>) -> Decision {
    let decision = decide_live(obs);
    if obs.dry_run {
        skip_in_dry_run(obs, decision)
    } else {
        decision
    }
}

fn decide_live(obs: &Observation<'_>) -> Decision {
    if obs.spec.policy() == ManagementPolicy::ObserveOnly {
        return decide_observe_only(obs);
    }
    match &obs.aura {
        AuraView::NotCreated {
            tenant,
            listed,
            claimed,
            adoptable,
        } => decide_create(obs, tenant, *listed, claimed, adoptable),
        AuraView::Found(_) if obs.claimed_elsewhere => decide_gone_or_claimed(obs),
        AuraView::Found(instance) => decide_running(obs, instance),
        AuraView::Gone | AuraView::Unheld(_) => decide_gone_or_claimed(obs),
    }
}

/// An instance another object holds, or one Aura no longer has.
fn decide_gone_or_claimed(obs: &Observation<'_>) -> Decision {
    match &obs.aura {
        AuraView::Found(instance) => Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                Reason::InstanceClaimed,
                format!(
                    "Aura instance {} is held by another AuraInstance; this object makes no call to it and deleting it never destroys it",
                    instance.id
                ),
            ),
            requeue: LookAgain::Resync,
        },
        AuraView::Unheld(id) if !recreating(obs.status) => Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                Reason::InstanceNotClaimed,
                format!(
                    "status.instanceId names Aura instance {id}, but this object holds no claim on it: the operator believes its claims (AuraInstanceClaim), never a status field, and makes no call about it; if {id} is this object's instance, adopt it with spec.instanceId: {id} and a deletionPolicy"
                ),
            ),
            requeue: LookAgain::Resync,
        },
        // Gone, or the instance this object destroyed for a re-create after
        // its claim was let go (no call is made about it).
        _ => match obs.status.instance_id.as_deref() {
            // The instance destroyed for a re-create is gone: start over.
            Some(id) if recreating(obs.status) => Decision {
                action: Action::ForgetInstance {
                    instance_id: id.to_string(),
                },
                status: StatusSummary::in_progress(
                    Phase::Creating,
                    Reason::Recreating,
                    "the instance whose password was lost is gone; creating it again",
                ),
                requeue: LookAgain::After(Duration::from_millis(200)),
            },
            _ => Decision {
                action: Action::None,
                status: StatusSummary::stalled(
                    Reason::InstanceNotFound,
                    format!(
                        "Aura instance {} no longer exists (deleted outside the operator); it is not re-created automatically: delete this object and apply it again to create a new instance",
                        obs.status.instance_id.as_deref().unwrap_or("?")
                    ),
                ),
                requeue: LookAgain::Resync,
            },
        },
    }
}

/// The stall for an extraKeys template that does not render: before a
/// create (a password with an unwritable Secret is not worth a billed
/// instance) and before any Secret write.
fn invalid_template(spec: &AuraInstanceSpec) -> Option<Decision> {
    let problem = super::secret::template::check(spec.secret_format(), spec.extra_keys()?).err()?;
    Some(Decision {
        action: Action::None,
        status: StatusSummary::stalled(
            Reason::InvalidTemplate,
            format!(
                "{problem}; the connection Secret is left as it was until the template is fixed"
            ),
        ),
        requeue: LookAgain::Resync,
    })
}

mod create;
mod deletion;
mod dry_run;
mod observe_only;
mod problems;
mod running;

use create::decide_create;
pub use create::{
    AdoptionSearch, CREATE_CLOCK_SKEW, KeyGate, LostCreate, adoption_search, create_intent,
    key_gate, same_named,
};
pub use deletion::*;
use dry_run::skip_in_dry_run;
use observe_only::decide_observe_only;
pub use observe_only::observed_differences;
pub use problems::*;
use running::{aura_status_summary, decide_running};
pub use running::{recreating, wants_snapshot_first};

#[cfg(test)]
mod tests;
