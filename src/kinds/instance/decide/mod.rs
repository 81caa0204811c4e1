//! The decision: a pure function from what was observed to what to do next and
//! what the status should say. No client in here, so every branch is a table test.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{
    AuraInstanceSpec, AuraInstanceStatus, MAX_RECREATIONS, ManagementPolicy, PasswordRecovery,
    Phase, SecretFormat,
};

pub use super::compare::{
    SpecChange, check_offered, create_request, describe_update, next_operation, placement_mismatch,
    update_request,
};
pub use super::reason::Reason;
pub use super::source::SourceView;
pub use super::status::{Readiness, StatusSummary};
use crate::aura::model::{
    CreateInstanceRequest, Instance, InstanceStatus, InstanceSummary, Tenant, UpdateInstanceRequest,
};

/// Clock skew allowed between our intent timestamp and Aura's `created_at`.
pub const CREATE_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// What the reconciler saw of the world, gathered by `observe`.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub spec: &'a AuraInstanceSpec,
    pub aura_name: &'a str,
    pub status: &'a AuraInstanceStatus,
    pub now: Timestamp,
    pub aura: AuraView<'a>,
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
    },
    /// The recorded instance, as `GET /instances/{id}` returned it.
    Found(&'a Instance),
    /// `GET /instances/{id}` answered 404 for the recorded id.
    Gone,
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

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing to call; write status and requeue.
    None,
    /// Record the create intent in status (with the resourceVersion as precondition),
    /// then send this create.
    Create(CreateInstanceRequest),
    /// A create whose answer was lost produced this instance: claim it and
    /// record its id.
    Adopt { instance_id: String },
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
        } => decide_create(obs, tenant, *listed, claimed),
        AuraView::Found(_) if obs.claimed_elsewhere => decide_gone_or_claimed(obs),
        AuraView::Found(instance) => decide_running(obs, instance),
        AuraView::Gone => decide_gone_or_claimed(obs),
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

fn decide_create(
    obs: &Observation<'_>,
    tenant: &Tenant,
    listed: Option<&[InstanceSummary]>,
    claimed: &[String],
) -> Decision {
    if let Err(message) = check_offered(obs.spec, tenant) {
        return Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::ConfigurationNotOffered, message),
            requeue: LookAgain::Resync,
        };
    }
    let creating =
        |message: &str| StatusSummary::in_progress(Phase::Creating, Reason::Creating, message);
    // A password with nowhere to go is not worth a billed instance.
    if obs.secret.not_owned {
        return secret_not_owned(&obs.secret_name);
    }
    if let Some(stall) = invalid_template(obs.spec) {
        return stall;
    }

    let request = match clone_request(obs, create_request(obs.spec, obs.aura_name, &tenant.id)) {
        Ok(request) => request,
        Err(wait_or_stall) if create_intent(obs.status).is_none() => return *wait_or_stall,
        // An earlier create may have made it: the search below comes first.
        Err(_) => create_request(obs.spec, obs.aura_name, &tenant.id),
    };
    let Some(intent) = create_intent(obs.status) else {
        return Decision {
            action: Action::Create(request),
            // Usually the first status the object gets: Ready=Unknown until Aura answers.
            status: StatusSummary {
                ready: Readiness::Unknown {
                    reason: Reason::Creating,
                    message: "creating the Aura instance".into(),
                },
                ..creating("creating the Aura instance")
            },
            requeue: LookAgain::Poll,
        };
    };

    // An earlier create's outcome is unknown: find it before creating again.
    let requested_name = obs
        .status
        .create_requested_name
        .as_deref()
        .unwrap_or(obs.aura_name);
    let Some(listed) = listed else {
        // observe always lists in this state; be safe if it did not.
        return Decision {
            action: Action::None,
            status: creating("looking for the instance of an unanswered create"),
            requeue: LookAgain::After(Duration::from_secs(5)),
        };
    };
    let candidates = LostCreate {
        name: requested_name,
        intent,
        prior: &obs.status.create_prior_ids,
        claimed,
    };
    if let Some(found) = candidates.find(listed) {
        return Decision {
            action: Action::Adopt {
                instance_id: found.id.clone(),
            },
            status: creating("found the instance of an unanswered create"),
            requeue: LookAgain::Poll,
        };
    }
    let waited = obs.now.duration_since(intent);
    let grace = jiff::SignedDuration::try_from(obs.create_grace).unwrap_or_default();
    if waited < grace {
        let left = (grace - waited).unsigned_abs().min(Duration::from_secs(10));
        return Decision {
            action: Action::None,
            status: creating("waiting to see whether an unanswered create produced an instance"),
            requeue: LookAgain::After(left.max(Duration::from_secs(1))),
        };
    }
    if let Err(wait_or_stall) = clone_request(obs, request.clone()) {
        return *wait_or_stall;
    }
    Decision {
        action: Action::Create(request),
        status: creating("an earlier create produced no instance; creating again"),
        requeue: LookAgain::Poll,
    }
}

/// Whether `operation` needs a snapshot first (a resize or an upgrade with
/// `snapshots.beforeChanges`).
pub fn wants_snapshot_first(spec: &AuraInstanceSpec, operation: &SpecChange) -> bool {
    spec.snapshot_before_changes()
        && match operation {
            SpecChange::Update(r) => r.memory.is_some() || r.storage.is_some(),
            SpecChange::Upgrade(_) => true,
            SpecChange::None | SpecChange::Pause | SpecChange::Resume => false,
        }
}

/// With `snapshots.beforeChanges`, a resize or upgrade waits for its
/// snapshot: made first, then Completed.
fn snapshot_first(obs: &Observation<'_>, operation: &SpecChange) -> Option<Decision> {
    if !wants_snapshot_first(obs.spec, operation) {
        return None;
    }
    let waiting = |message: String| {
        StatusSummary::in_progress(Phase::Updating, Reason::SnapshotBeforeChange, message)
    };
    let Some((name, state)) = obs.before_change else {
        return Some(Decision {
            action: Action::None,
            status: waiting("looking for the snapshot to take before the change".into()),
            requeue: LookAgain::Poll,
        });
    };
    match state {
        BeforeChange::Completed => None,
        BeforeChange::Missing => Some(Decision {
            action: Action::SnapshotFirst { name: name.clone() },
            status: waiting(format!("taking AuraSnapshot {name} before the change")),
            requeue: LookAgain::Poll,
        }),
        BeforeChange::Taking => Some(Decision {
            action: Action::None,
            status: waiting(format!(
                "waiting for AuraSnapshot {name} to complete before the change"
            )),
            requeue: LookAgain::Poll,
        }),
        BeforeChange::Failed => Some(Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                Reason::SnapshotBeforeChange,
                format!(
                    "AuraSnapshot {name}, taken before the change, failed; the change waits (delete that AuraSnapshot to try again, or set snapshots.beforeChanges to false)"
                ),
            ),
            requeue: LookAgain::Resync,
        }),
    }
}

/// The create body of a clone carries its source's ids; until they are
/// known there is nothing to create (a wait, or a stall for a person).
fn clone_request(
    obs: &Observation<'_>,
    mut request: CreateInstanceRequest,
) -> Result<CreateInstanceRequest, Box<Decision>> {
    if obs.spec.source.is_none() {
        return Ok(request);
    }
    match obs.source {
        Some(SourceView::Ready {
            instance_id,
            snapshot_id,
        }) => {
            request.source_instance_id = Some(instance_id.clone());
            request.source_snapshot_id = snapshot_id.clone();
            Ok(request)
        }
        Some(SourceView::Problem(message)) => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::SourceNotFound, message.clone()),
            requeue: LookAgain::After(Duration::from_secs(15)),
        })),
        Some(SourceView::Waiting(message)) => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::WaitingForSource,
                message.clone(),
            ),
            requeue: LookAgain::After(Duration::from_secs(5)),
        })),
        None => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::WaitingForSource,
                "reading the clone's source",
            ),
            requeue: LookAgain::After(Duration::from_secs(5)),
        })),
    }
}

fn decide_running(obs: &Observation<'_>, instance: &Instance) -> Decision {
    if let Some(mismatch) = placement_mismatch(obs.spec, instance) {
        return Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::InstanceMismatch, mismatch),
            requeue: LookAgain::Resync,
        };
    }
    if obs.secret.not_owned {
        return secret_not_owned(&obs.secret_name);
    }
    if let Some(stall) = invalid_template(obs.spec) {
        return stall;
    }
    if let Some(expression) = obs
        .spec
        .snapshots
        .as_ref()
        .and_then(|p| p.schedule.as_deref())
        && let Err(message) = super::schedule::parse(expression)
    {
        return Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::InvalidSchedule, message),
            requeue: LookAgain::Resync,
        };
    }
    if recreating(obs.status) {
        return Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Creating,
                Reason::Recreating,
                format!(
                    "waiting for Aura to destroy instance {} (its password was lost), to create it again",
                    instance.id
                ),
            ),
            requeue: LookAgain::Poll,
        };
    }
    if let Some(restore) = obs.restoring {
        return Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Restoring,
                format!(
                    "AuraRestore {restore} replaces the data (Aura reports the instance {}); nothing else is changed until it ends",
                    instance.status
                ),
            ),
            requeue: LookAgain::Poll,
        };
    }
    if let Some(decision) = recover_password(obs, instance) {
        return decision;
    }
    if !obs.secret.up_to_date {
        return Decision {
            action: Action::WriteSecret,
            status: aura_status_summary(obs, instance),
            requeue: LookAgain::Poll,
        };
    }
    let operation = next_operation(obs.spec, obs.aura_name, instance);
    if let Some(wait) = snapshot_first(obs, &operation) {
        return wait;
    }
    let drift = drift_note(obs, instance, &operation);
    match operation {
        SpecChange::None => {
            let requeue = if instance.status.is_settled() {
                LookAgain::Resync
            } else {
                LookAgain::Poll
            };
            Decision {
                action: Action::None,
                status: aura_status_summary(obs, instance),
                requeue,
            }
        }
        SpecChange::Update(request) => {
            if (request.memory.is_some() || request.storage.is_some())
                && let Some(tenant) = obs.catalogue
            {
                let wanted = AuraInstanceSpec {
                    storage: request.storage.clone().or_else(|| obs.spec.storage.clone()),
                    ..obs.spec.clone()
                };
                if let Err(message) = check_offered(&wanted, tenant) {
                    return Decision {
                        action: Action::None,
                        status: StatusSummary::stalled(Reason::ConfigurationNotOffered, message),
                        requeue: LookAgain::Resync,
                    };
                }
            }
            let what = describe_update(&request);
            Decision {
                action: Action::Update {
                    instance_id: instance.id.clone(),
                    request,
                    drift,
                },
                status: StatusSummary::in_progress(
                    Phase::Updating,
                    Reason::Updating,
                    format!("changing {what}"),
                ),
                requeue: LookAgain::Poll,
            }
        }
        SpecChange::Pause => Decision {
            action: Action::Pause {
                instance_id: instance.id.clone(),
                drift,
            },
            status: StatusSummary::in_progress(
                Phase::Paused,
                Reason::Pausing,
                "pausing the instance",
            ),
            requeue: LookAgain::Poll,
        },
        SpecChange::Resume => Decision {
            action: Action::Resume {
                instance_id: instance.id.clone(),
                drift,
            },
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Resuming,
                "resuming the instance",
            ),
            requeue: LookAgain::Poll,
        },
        SpecChange::Upgrade(to) => Decision {
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Upgrading,
                format!("upgrading the instance to {to}"),
            ),
            action: Action::Upgrade {
                instance_id: instance.id.clone(),
                to,
            },
            requeue: LookAgain::Poll,
        },
    }
}

/// The status that mirrors what Aura reports, with nothing of ours in flight.
fn aura_status_summary(obs: &Observation<'_>, instance: &Instance) -> StatusSummary {
    match &instance.status {
        InstanceStatus::Running if !obs.secret.has_password => {
            Decision::password_unavailable(obs.spec.secret_format())
        }
        InstanceStatus::Running => StatusSummary {
            phase: Phase::Running,
            ready: Readiness::True,
            reconciling: None,
            stalled: None,
        },
        InstanceStatus::Creating => StatusSummary::aura_creating(),
        InstanceStatus::Paused | InstanceStatus::Suspended => StatusSummary {
            phase: Phase::Paused,
            ready: Readiness::False {
                reason: Reason::Paused,
                message: format!("the Aura instance is {}", instance.status),
            },
            reconciling: None,
            stalled: None,
        },
        InstanceStatus::Pausing => StatusSummary::in_progress(
            Phase::Paused,
            Reason::Pausing,
            "Aura is pausing the instance",
        ),
        InstanceStatus::Resuming => StatusSummary::in_progress(
            Phase::Updating,
            Reason::Resuming,
            "Aura is resuming the instance",
        ),
        InstanceStatus::Destroying => StatusSummary::in_progress(
            Phase::Deleting,
            Reason::Destroying,
            "Aura is destroying the instance",
        ),
        InstanceStatus::LoadingFailed => StatusSummary::stalled(
            Reason::LoadingFailed,
            "Aura reports 'loading failed' for this instance; see the Aura console",
        ),
        other => StatusSummary::in_progress(
            Phase::Updating,
            Reason::Updating,
            format!("Aura reports the instance as {other}"),
        ),
    }
}

/// When the spec has not changed since it was last observed, a difference was
/// made outside the operator (the Aura console): say what is put back.
fn drift_note(obs: &Observation<'_>, instance: &Instance, op: &SpecChange) -> Option<String> {
    let spec_unchanged =
        obs.generation.is_some() && obs.status.observed_generation == obs.generation;
    if !spec_unchanged || obs.status.instance_id.is_none() {
        return None;
    }
    match op {
        SpecChange::None | SpecChange::Upgrade(_) => None,
        SpecChange::Pause => {
            Some("the instance was resumed outside the operator; pausing it again".into())
        }
        SpecChange::Resume => {
            Some("the instance was paused outside the operator; resuming it".into())
        }
        SpecChange::Update(r) => {
            let mut was = Vec::new();
            let reported = |v: &Option<String>| v.clone().unwrap_or_default();
            if r.name.is_some() {
                was.push(format!("name {}", reported(&instance.name)));
            }
            if r.memory.is_some() {
                was.push(format!("memory {}", reported(&instance.memory)));
            }
            if r.storage.is_some() {
                was.push(format!("storage {}", reported(&instance.storage)));
            }
            if r.vector_optimized.is_some() {
                was.push(format!(
                    "vectorOptimized {}",
                    instance.vector_optimized.unwrap_or(false)
                ));
            }
            if r.graph_analytics_plugin.is_some() {
                was.push(format!(
                    "graphAnalyticsPlugin {}",
                    instance.graph_analytics_plugin.unwrap_or(false)
                ));
            }
            // Settings applied after the create are drift only once they
            // were as the spec says (the last status saw them so).
            let had_secondaries =
                obs.status.secondaries_count == obs.spec.secondaries_count.map(u64::from);
            if r.secondaries_count.is_some() && had_secondaries {
                was.push(format!(
                    "secondariesCount {}",
                    instance.secondaries_count.unwrap_or(0)
                ));
            }
            let had_cdc = obs.spec.cdc_enrichment_mode.is_some_and(|want| {
                obs.status
                    .cdc_enrichment_mode
                    .as_deref()
                    .is_some_and(|seen| want.is(seen))
            });
            if r.cdc_enrichment_mode.is_some() && had_cdc {
                was.push(format!(
                    "cdcEnrichmentMode {}",
                    instance.cdc_enrichment_mode.as_deref().unwrap_or("OFF")
                ));
            }
            if was.is_empty() {
                return None;
            }
            Some(format!(
                "changed outside the operator ({}); setting {} as the spec says",
                was.join(", "),
                describe_update(r)
            ))
        }
    }
}

impl Decision {
    /// The instance runs but nobody can log in: a human must bring the
    /// password back, so this is Stalled (kstatus Failed) though still Running.
    fn password_unavailable(format: SecretFormat) -> StatusSummary {
        let key = super::secret::password_key(format);
        Self::password_unavailable_because(
            &format!(
                "the instance runs but the connection Secret has no {key}, and Aura returns a password only once"
            ),
            format,
        )
    }

    fn password_unavailable_after(recreations: i32, format: SecretFormat) -> StatusSummary {
        Self::password_unavailable_because(
            &format!(
                "the instance runs without a known password after {recreations} re-creations (passwordRecovery gives up after {MAX_RECREATIONS})"
            ),
            format,
        )
    }

    fn password_unavailable_because(why: &str, format: SecretFormat) -> StatusSummary {
        let key = super::secret::password_key(format);
        let message = format!(
            "{why}: write it back with kubectl patch secret <connection secret> --type merge -p '{{\"stringData\":{{\"{key}\":\"...\"}}}}' (or reset it in the Aura console first)"
        );
        StatusSummary {
            phase: Phase::Running,
            ready: Readiness::False {
                reason: Reason::PasswordUnavailable,
                message: message.clone(),
            },
            reconciling: None,
            stalled: Some((Reason::PasswordUnavailable, message)),
        }
    }
}

/// The recorded create intent, if any.
pub fn create_intent(status: &AuraInstanceStatus) -> Option<Timestamp> {
    status
        .create_requested_at
        .as_deref()
        .and_then(|t| t.parse().ok())
}

/// What the search for an unanswered create's instance goes by.
#[derive(Debug, Clone, Copy)]
pub struct LostCreate<'a> {
    /// The Aura name the create used.
    pub name: &'a str,
    /// When the intent was recorded.
    pub intent: Timestamp,
    /// Same-named instances that existed before the create.
    pub prior: &'a [String],
    /// Instances another AuraInstance already holds.
    pub claimed: &'a [String],
}

impl LostCreate<'_> {
    /// The instance the create produced: exact name, unclaimed, not there
    /// before the create, created at or after the intent (less clock skew).
    /// The earliest wins if a duplicate slipped through.
    pub fn find<'l>(&self, listed: &'l [InstanceSummary]) -> Option<&'l InstanceSummary> {
        let skew = jiff::SignedDuration::try_from(CREATE_CLOCK_SKEW).unwrap_or_default();
        let earliest = self.intent - skew;
        let taken = |id: &String| self.prior.contains(id) || self.claimed.contains(id);
        // An entry without a name or a readable creation time cannot be told
        // apart from somebody else's instance: it is never adopted.
        listed
            .iter()
            .filter(|i| i.name.as_deref() == Some(self.name))
            .filter(|i| !taken(&i.id))
            .filter_map(|i| {
                let created: Timestamp = i.created_at.as_deref()?.parse().ok()?;
                Some((created, i))
            })
            .filter(|(t, _)| *t >= earliest)
            .min_by_key(|(t, _)| *t)
            .map(|(_, i)| i)
    }
}

/// The ids of same-named instances in `listed`: recorded with a create's intent.
pub fn same_named(listed: &[InstanceSummary], name: &str) -> Vec<String> {
    listed
        .iter()
        .filter(|i| i.name.as_deref() == Some(name))
        .map(|i| i.id.clone())
        .collect()
}

/// The instance found after a lost create was destroyed to be created again,
/// and Aura has not yet reported it gone.
pub fn recreating(status: &AuraInstanceStatus) -> bool {
    status.recreating_instance_id.is_some() && status.recreating_instance_id == status.instance_id
}

/// passwordRecovery (DESIGN 2): an instance this object found after its own
/// lost create, never Ready, whose password nobody knows, is destroyed and
/// created again, at most [`MAX_RECREATIONS`] times, unless it is protected
/// (deletionProtection). `None`: nothing to recover.
fn recover_password(obs: &Observation<'_>, instance: &Instance) -> Option<Decision> {
    let found_by_lost_create = obs.status.lost_create_instance_id.as_deref() == Some(&instance.id);
    let adopted_by_id = obs.spec.instance_id.as_deref() == Some(&instance.id);
    if obs.secret.has_password || !found_by_lost_create || adopted_by_id {
        return None;
    }
    // Aura refuses a delete while it creates: wait for the instance to run.
    if instance.status != InstanceStatus::Running {
        return None;
    }
    let done = obs.status.recreations.unwrap_or(0);
    match obs.spec.password_recovery.unwrap_or_default() {
        PasswordRecovery::Manual => None,
        // DESIGN 4.8: a protected object is never destroyed, not even to
        // recover a password.
        PasswordRecovery::Recreate if obs.spec.protected() => Some(Decision {
            action: Action::None,
            status: Decision::password_unavailable_because(
                "the instance runs without a known password (the create answer was lost), and passwordRecovery: Recreate never destroys a protected instance (deletionProtection: true)",
                obs.spec.secret_format(),
            ),
            requeue: LookAgain::Resync,
        }),
        PasswordRecovery::Recreate if done >= MAX_RECREATIONS => Some(Decision {
            action: Action::None,
            status: Decision::password_unavailable_after(done, obs.spec.secret_format()),
            requeue: LookAgain::Resync,
        }),
        PasswordRecovery::Recreate => Some(Decision {
            action: Action::Recreate {
                instance_id: instance.id.clone(),
            },
            status: StatusSummary::in_progress(
                Phase::Creating,
                Reason::Recreating,
                format!(
                    "destroying instance {}, whose password was lost with its create answer, to create it again (passwordRecovery: Recreate)",
                    instance.id
                ),
            ),
            requeue: LookAgain::Poll,
        }),
    }
}

mod deletion;
mod dry_run;
mod observe_only;
mod problems;

pub use deletion::*;
use dry_run::skip_in_dry_run;
use observe_only::decide_observe_only;
pub use observe_only::observed_differences;
pub use problems::*;

#[cfg(test)]
mod tests;
