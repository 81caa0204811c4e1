//! The decision: a pure function from what was observed to what to do next and
//! what the status should say. No client in here, so every branch is a table test.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AuraInstanceSpec, AuraInstanceStatus, MAX_RECREATIONS, PasswordRecovery, Phase};
use crate::aura::lenient::same;

pub use super::reason::Reason;
use crate::aura::model::{
    CreateInstanceRequest, Instance, InstanceConfiguration, InstanceStatus, InstanceSummary,
    Tenant, UpdateInstanceRequest,
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
        requeue: Requeue::Resync,
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
    Adopt {
        instance_id: String,
    },
    /// The instance found after a lost create has no known password and is new
    /// and empty: destroy it (passwordRecovery Recreate), then create again.
    Recreate {
        instance_id: String,
    },
    /// The instance destroyed for a re-create is gone: forget its id, so that
    /// the next pass creates again through the usual intent.
    ForgetInstance,
    /// Write the connection Secret from the observed instance.
    WriteSecret,
    /// `PATCH /instances/{id}`; `drift` says what was changed outside the operator.
    Update {
        request: UpdateInstanceRequest,
        drift: Option<String>,
    },
    Pause {
        drift: Option<String>,
    },
    Resume {
        drift: Option<String>,
    },
    Upgrade {
        to: String,
    },
}

/// The outcome of `decide`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub status: StatusSummary,
    /// When to look again (poll while transitional, resync when stable).
    pub requeue: Requeue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// Something is in flight: poll soon.
    Poll,
    /// Within the grace period of a lost create: look again after this long.
    After(Duration),
    /// Stable or waiting for a human: the slow resync.
    Resync,
}

/// The condition-level summary `decide` produces; `status.rs` turns it into conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSummary {
    pub phase: Phase,
    pub ready: Readiness,
    pub reconciling: Option<(Reason, String)>,
    pub stalled: Option<(Reason, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    True,
    False { reason: Reason, message: String },
    Unknown { reason: Reason, message: String },
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

    fn in_progress(phase: Phase, reason: Reason, message: impl Into<String>) -> Self {
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

/// Decides the next step for one AuraInstance.
pub fn decide(obs: &Observation<'_>) -> Decision {
    match &obs.aura {
        AuraView::NotCreated {
            tenant,
            listed,
            claimed,
        } => decide_create(obs, tenant, *listed, claimed),
        AuraView::Found(instance) if obs.claimed_elsewhere => Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                Reason::InstanceClaimed,
                format!(
                    "Aura instance {} is held by another AuraInstance; this object makes no call to it and deleting it never destroys it",
                    instance.id
                ),
            ),
            requeue: Requeue::Resync,
        },
        AuraView::Found(instance) => decide_running(obs, instance),
        // The instance destroyed for a re-create is gone: start over.
        AuraView::Gone if recreating(obs.status) => Decision {
            action: Action::ForgetInstance,
            status: StatusSummary::in_progress(
                Phase::Creating,
                Reason::Recreating,
                "the instance whose password was lost is gone; creating it again",
            ),
            requeue: Requeue::After(Duration::from_millis(200)),
        },
        AuraView::Gone => Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                Reason::InstanceNotFound,
                format!(
                    "Aura instance {} no longer exists (deleted outside the operator); it is not re-created automatically: delete this object and apply it again to create a new instance",
                    obs.status.instance_id.as_deref().unwrap_or("?")
                ),
            ),
            requeue: Requeue::Resync,
        },
    }
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
            requeue: Requeue::Resync,
        };
    }
    let creating =
        |message: &str| StatusSummary::in_progress(Phase::Creating, Reason::Creating, message);
    // A password with nowhere to go is not worth a billed instance.
    if obs.secret.not_owned {
        return secret_not_owned(&obs.secret_name);
    }

    let Some(intent) = create_intent(obs.status) else {
        return Decision {
            action: Action::Create(create_request(obs.spec, obs.aura_name, &tenant.id)),
            // Usually the first status the object gets: Ready=Unknown until Aura answers.
            status: StatusSummary {
                ready: Readiness::Unknown {
                    reason: Reason::Creating,
                    message: "creating the Aura instance".into(),
                },
                ..creating("creating the Aura instance")
            },
            requeue: Requeue::Poll,
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
            requeue: Requeue::After(Duration::from_secs(5)),
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
            requeue: Requeue::Poll,
        };
    }
    let waited = obs.now.duration_since(intent);
    let grace = jiff::SignedDuration::try_from(obs.create_grace).unwrap_or_default();
    if waited < grace {
        let left = (grace - waited).unsigned_abs().min(Duration::from_secs(10));
        return Decision {
            action: Action::None,
            status: creating("waiting to see whether an unanswered create produced an instance"),
            requeue: Requeue::After(left.max(Duration::from_secs(1))),
        };
    }
    Decision {
        action: Action::Create(create_request(obs.spec, obs.aura_name, &tenant.id)),
        status: creating("an earlier create produced no instance; creating again"),
        requeue: Requeue::Poll,
    }
}

fn decide_running(obs: &Observation<'_>, instance: &Instance) -> Decision {
    if let Some(mismatch) = placement_mismatch(obs.spec, instance) {
        return Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::InstanceMismatch, mismatch),
            requeue: Requeue::Resync,
        };
    }
    if obs.secret.not_owned {
        return secret_not_owned(&obs.secret_name);
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
            requeue: Requeue::Poll,
        };
    }
    if let Some(decision) = recover_password(obs, instance) {
        return decision;
    }
    if !obs.secret.up_to_date {
        return Decision {
            action: Action::WriteSecret,
            status: aura_status_summary(obs, instance),
            requeue: Requeue::Poll,
        };
    }
    let operation = next_operation(obs.spec, obs.aura_name, instance);
    let drift = drift_note(obs, instance, &operation);
    match operation {
        Operation::None => {
            let requeue = if instance.status.is_settled() {
                Requeue::Resync
            } else {
                Requeue::Poll
            };
            Decision {
                action: Action::None,
                status: aura_status_summary(obs, instance),
                requeue,
            }
        }
        Operation::Update(request) => {
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
                        requeue: Requeue::Resync,
                    };
                }
            }
            let what = describe_update(&request);
            Decision {
                action: Action::Update { request, drift },
                status: StatusSummary::in_progress(
                    Phase::Updating,
                    Reason::Updating,
                    format!("changing {what}"),
                ),
                requeue: Requeue::Poll,
            }
        }
        Operation::Pause => Decision {
            action: Action::Pause { drift },
            status: StatusSummary::in_progress(
                Phase::Paused,
                Reason::Pausing,
                "pausing the instance",
            ),
            requeue: Requeue::Poll,
        },
        Operation::Resume => Decision {
            action: Action::Resume { drift },
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Resuming,
                "resuming the instance",
            ),
            requeue: Requeue::Poll,
        },
        Operation::Upgrade(to) => Decision {
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Upgrading,
                format!("upgrading the instance to {to}"),
            ),
            action: Action::Upgrade { to },
            requeue: Requeue::Poll,
        },
    }
}

/// The status that mirrors what Aura reports, with nothing of ours in flight.
fn aura_status_summary(obs: &Observation<'_>, instance: &Instance) -> StatusSummary {
    match &instance.status {
        InstanceStatus::Running if !obs.secret.has_password => Decision::password_unavailable(),
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

/// One Aura operation at a time; the next one waits until Aura settles.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    None,
    Pause,
    Resume,
    Upgrade(String),
    Update(UpdateInstanceRequest),
}

/// The next operation that brings the instance towards the spec.
pub fn next_operation(spec: &AuraInstanceSpec, name: &str, instance: &Instance) -> Operation {
    match instance.status {
        InstanceStatus::Paused if !spec.paused => return Operation::Resume,
        InstanceStatus::Running => {}
        _ => return Operation::None,
    }
    if spec.paused {
        return Operation::Pause;
    }
    // A type Aura does not report is never drift.
    if let Some(have) = instance.instance_type.as_deref()
        && !same(have, &spec.instance_type)
    {
        // Admission allows only professional-db -> business-critical.
        return Operation::Upgrade(spec.instance_type.clone());
    }
    let request = update_request(spec, name, instance);
    if request == UpdateInstanceRequest::default() {
        Operation::None
    } else {
        Operation::Update(request)
    }
}

/// The PATCH body for every field where Aura differs from the spec.
pub fn update_request(
    spec: &AuraInstanceSpec,
    name: &str,
    instance: &Instance,
) -> UpdateInstanceRequest {
    // Only what Aura reports can differ: a field it leaves out is never drift
    // (DESIGN 4.7), so an answer without `storage` (free instances) starts no loop.
    let differs = |want: Option<bool>, have: Option<bool>| match (want, have) {
        (Some(w), Some(h)) if h != w => Some(w),
        _ => None,
    };
    let text_differs = |want: &str, have: Option<&str>| have.is_some_and(|h| !same(h, want));
    UpdateInstanceRequest {
        name: instance
            .name
            .as_deref()
            .is_some_and(|have| have != name)
            .then(|| name.to_string()),
        memory: text_differs(&spec.memory, instance.memory.as_deref()).then(|| spec.memory.clone()),
        storage: spec
            .storage
            .clone()
            .filter(|want| text_differs(want, instance.storage.as_deref())),
        vector_optimized: differs(spec.vector_optimized, instance.vector_optimized),
        graph_analytics_plugin: differs(
            spec.graph_analytics_plugin,
            instance.graph_analytics_plugin,
        ),
    }
}

fn describe_update(r: &UpdateInstanceRequest) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &r.name {
        parts.push(format!("name to {n}"));
    }
    if let Some(m) = &r.memory {
        parts.push(format!("memory to {m}"));
    }
    if let Some(s) = &r.storage {
        parts.push(format!("storage to {s}"));
    }
    if let Some(v) = r.vector_optimized {
        parts.push(format!("vectorOptimized to {v}"));
    }
    if let Some(g) = r.graph_analytics_plugin {
        parts.push(format!("graphAnalyticsPlugin to {g}"));
    }
    parts.join(", ")
}

/// When the spec has not changed since it was last observed, a difference was
/// made outside the operator (the Aura console): say what is put back.
fn drift_note(obs: &Observation<'_>, instance: &Instance, op: &Operation) -> Option<String> {
    let spec_unchanged =
        obs.generation.is_some() && obs.status.observed_generation == obs.generation;
    if !spec_unchanged || obs.status.instance_id.is_none() {
        return None;
    }
    match op {
        Operation::None | Operation::Upgrade(_) => None,
        Operation::Pause => {
            Some("the instance was resumed outside the operator; pausing it again".into())
        }
        Operation::Resume => {
            Some("the instance was paused outside the operator; resuming it".into())
        }
        Operation::Update(r) => {
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
            Some(format!(
                "changed outside the operator ({}); setting {} as the spec says",
                was.join(", "),
                describe_update(r)
            ))
        }
    }
}

/// An adopted (or recorded) instance must sit where the spec says. Only what
/// Aura reports is compared: a field it leaves out is no mismatch.
pub fn placement_mismatch(spec: &AuraInstanceSpec, instance: &Instance) -> Option<String> {
    let mut diffs = Vec::new();
    let mut compare = |what: &str, have: Option<&str>, want: &str| {
        if let Some(have) = have
            && !same(have, want)
        {
            diffs.push(format!("{what} is {have} in Aura, {want} in the spec"));
        }
    };
    compare(
        "cloudProvider",
        instance.cloud_provider.as_deref(),
        &spec.cloud_provider,
    );
    compare("region", instance.region.as_deref(), &spec.region);
    let upgrading = instance
        .instance_type
        .as_deref()
        .is_some_and(|t| same(t, "professional-db"))
        && spec.instance_type == "business-critical";
    if !upgrading {
        compare(
            "type",
            instance.instance_type.as_deref(),
            &spec.instance_type,
        );
    }
    if let Some(t) = &spec.tenant_id {
        compare("tenant", instance.tenant_id.as_deref(), t);
    }
    (!diffs.is_empty()).then(|| {
        format!(
            "Aura instance {} does not match the spec: {}",
            instance.id,
            diffs.join("; ")
        )
    })
}

impl Decision {
    /// The instance runs but nobody can log in: a human must bring the
    /// password back, so this is Stalled (kstatus Failed) though still Running.
    fn password_unavailable() -> StatusSummary {
        Self::password_unavailable_because(
            "the instance runs but the connection Secret has no NEO4J_PASSWORD, and Aura returns a password only once",
        )
    }

    fn password_unavailable_after(recreations: i32) -> StatusSummary {
        Self::password_unavailable_because(&format!(
            "the instance runs without a known password after {recreations} re-creations (passwordRecovery gives up after {MAX_RECREATIONS})"
        ))
    }

    fn password_unavailable_because(why: &str) -> StatusSummary {
        let message = format!(
            "{why}: write it back with kubectl patch secret <connection secret> --type merge -p '{{\"stringData\":{{\"NEO4J_PASSWORD\":\"...\"}}}}' (or reset it in the Aura console first)"
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
/// created again, at most [`MAX_RECREATIONS`] times. `None`: nothing to recover.
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
        PasswordRecovery::Recreate if done >= MAX_RECREATIONS => Some(Decision {
            action: Action::None,
            status: Decision::password_unavailable_after(done),
            requeue: Requeue::Resync,
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
            requeue: Requeue::Poll,
        }),
    }
}

/// The body of `POST /instances` for this spec.
pub fn create_request(
    spec: &AuraInstanceSpec,
    name: &str,
    tenant_id: &str,
) -> CreateInstanceRequest {
    CreateInstanceRequest {
        version: spec.version.clone(),
        region: spec.region.clone(),
        memory: spec.memory.clone(),
        name: name.to_string(),
        instance_type: spec.instance_type.clone(),
        tenant_id: tenant_id.to_string(),
        cloud_provider: spec.cloud_provider.clone(),
        storage: spec.storage.clone(),
        vector_optimized: spec.vector_optimized,
        graph_analytics_plugin: spec.graph_analytics_plugin,
    }
}

/// Checks the spec against the tenant's catalogue; the error says what is offered.
pub fn check_offered(spec: &AuraInstanceSpec, tenant: &Tenant) -> Result<(), String> {
    let configs = &tenant.instance_configurations;
    let same_place = |c: &&InstanceConfiguration| {
        same(&c.cloud_provider, &spec.cloud_provider)
            && same(&c.region, &spec.region)
            && same(&c.instance_type, &spec.instance_type)
    };
    let offered: Vec<&InstanceConfiguration> = configs.iter().filter(same_place).collect();
    if offered.is_empty() {
        let mut regions: Vec<&str> = configs
            .iter()
            .filter(|c| {
                same(&c.cloud_provider, &spec.cloud_provider)
                    && same(&c.instance_type, &spec.instance_type)
            })
            .map(|c| c.region.as_str())
            .collect();
        regions.sort();
        regions.dedup();
        return Err(if regions.is_empty() {
            format!(
                "tenant {} offers no {} instances on {}",
                tenant.id, spec.instance_type, spec.cloud_provider
            )
        } else {
            format!(
                "tenant {} offers {} on {} in region {} only in: {}",
                tenant.id,
                spec.instance_type,
                spec.cloud_provider,
                spec.region,
                regions.join(", ")
            )
        });
    }
    // A configuration that does not report its storage lets any storage
    // through: Aura itself has the last word.
    let fits = |c: &&&InstanceConfiguration| {
        same(&c.version, &spec.version)
            && same(&c.memory, &spec.memory)
            && spec
                .storage
                .as_ref()
                .is_none_or(|s| c.storage.as_deref().is_none_or(|have| same(have, s)))
    };
    if offered.iter().any(|c| fits(&c)) {
        return Ok(());
    }
    let mut sizes: Vec<String> = offered
        .iter()
        .filter(|c| same(&c.version, &spec.version))
        .map(|c| match &c.storage {
            Some(storage) => format!("{}/{storage}", c.memory),
            None => c.memory.clone(),
        })
        .collect();
    sizes.dedup();
    if sizes.is_empty() {
        let mut versions: Vec<&str> = offered.iter().map(|c| c.version.as_str()).collect();
        versions.sort();
        versions.dedup();
        return Err(format!(
            "version {} is not offered for {} on {} in {}; offered versions: {}",
            spec.version,
            spec.instance_type,
            spec.cloud_provider,
            spec.region,
            versions.join(", ")
        ));
    }
    Err(format!(
        "memory {}{} is not offered for {} version {} on {} in {}; offered memory/storage: {}",
        spec.memory,
        spec.storage
            .as_ref()
            .map(|s| format!(" with storage {s}"))
            .unwrap_or_default(),
        spec.instance_type,
        spec.version,
        spec.cloud_provider,
        spec.region,
        sizes.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AuraInstanceSpec {
        AuraInstanceSpec {
            name: None,
            tenant_id: None,
            instance_id: None,
            cloud_provider: "gcp".into(),
            region: "europe-west1".into(),
            instance_type: "enterprise-db".into(),
            version: "5".into(),
            memory: "8GB".into(),
            storage: None,
            vector_optimized: None,
            graph_analytics_plugin: None,
            paused: false,
            deletion_policy: None,
            credentials_secret_ref: None,
            connection_secret: None,
            password_recovery: None,
        }
    }

    fn config(
        provider: &str,
        region: &str,
        ty: &str,
        memory: &str,
        storage: &str,
    ) -> InstanceConfiguration {
        InstanceConfiguration {
            cloud_provider: provider.into(),
            region: region.into(),
            region_name: region.into(),
            instance_type: ty.into(),
            memory: memory.into(),
            storage: Some(storage.into()),
            version: "5".into(),
        }
    }

    fn tenant() -> Tenant {
        Tenant {
            id: "t-1".into(),
            name: "team".into(),
            instance_configurations: vec![
                config("gcp", "europe-west1", "enterprise-db", "8GB", "16GB"),
                config("gcp", "europe-west1", "enterprise-db", "16GB", "32GB"),
                config("gcp", "us-central1", "professional-db", "4GB", "8GB"),
            ],
        }
    }

    fn instance(status: InstanceStatus) -> Instance {
        Instance {
            id: "8f769515".into(),
            name: Some("orders".into()),
            status,
            connection_url: Some("neo4j+s://8f769515.databases.neo4j.io".into()),
            cloud_provider: Some("gcp".into()),
            tenant_id: Some("t-1".into()),
            memory: Some("8GB".into()),
            storage: Some("16GB".into()),
            region: Some("europe-west1".into()),
            instance_type: Some("enterprise-db".into()),
            created_at: Some("2026-11-27T10:00:00Z".into()),
            vector_optimized: None,
            graph_analytics_plugin: None,
            secondaries_count: None,
            cdc_enrichment_mode: None,
            customer_managed_key_id: None,
            metrics_integration_url: None,
        }
    }

    fn summary(id: &str, name: &str, created_at: &str) -> InstanceSummary {
        InstanceSummary {
            id: id.into(),
            name: Some(name.into()),
            tenant_id: Some("t-1".into()),
            cloud_provider: Some("gcp".into()),
            created_at: Some(created_at.into()),
        }
    }

    fn now() -> Timestamp {
        "2026-11-27T10:05:00Z".parse().unwrap()
    }

    fn obs<'a>(
        spec: &'a AuraInstanceSpec,
        status: &'a AuraInstanceStatus,
        aura: AuraView<'a>,
        secret: SecretView,
    ) -> Observation<'a> {
        Observation {
            spec,
            aura_name: "orders",
            status,
            now: now(),
            aura,
            secret,
            generation: Some(1),
            catalogue: None,
            create_grace: Duration::from_secs(120),
            claimed_elsewhere: false,
            secret_name: "orders-connection".into(),
        }
    }

    fn with_intent(at: &str) -> AuraInstanceStatus {
        AuraInstanceStatus {
            create_requested_at: Some(at.into()),
            create_requested_name: Some("orders".into()),
            ..Default::default()
        }
    }

    #[test]
    fn first_sight_creates_with_the_spec() {
        let (spec, status, tenant) = (spec(), AuraInstanceStatus::default(), tenant());
        let d = decide(&obs(
            &spec,
            &status,
            AuraView::NotCreated {
                tenant: &tenant,
                listed: None,
                claimed: &[],
            },
            SecretView::default(),
        ));
        let Action::Create(req) = d.action else {
            panic!("expected a create, got {:?}", d.action)
        };
        assert_eq!(req.tenant_id, "t-1");
        assert_eq!(req.name, "orders");
        assert_eq!(req.memory, "8GB");
        assert_eq!(d.status.phase, Phase::Creating);
        assert!(d.status.reconciling.is_some());
        // DESIGN 4.4: the first status is Ready=Unknown, Reconciling=True.
        assert!(matches!(d.status.ready, Readiness::Unknown { .. }));
        assert_eq!(d.requeue, Requeue::Poll);
    }

    #[test]
    fn lost_create_outcomes_are_resolved_before_any_new_create() {
        let (spec, tenant) = (spec(), tenant());
        // (intent, listed instances, expected action kind)
        let cases: Vec<(&str, Vec<InstanceSummary>, &str)> = vec![
            // the create landed: adopt it
            (
                "2026-11-27T10:04:00Z",
                vec![summary("aaaa0001", "orders", "2026-11-27T10:04:01Z")],
                "adopt aaaa0001",
            ),
            // same name but created long before the intent: someone else's, not ours
            (
                "2026-11-27T10:04:00Z",
                vec![summary("bbbb0001", "orders", "2026-11-27T09:00:00Z")],
                "wait",
            ),
            // other name: not ours
            (
                "2026-11-27T10:04:00Z",
                vec![summary("cccc0001", "billing", "2026-11-27T10:04:01Z")],
                "wait",
            ),
            // within skew before the intent still counts
            (
                "2026-11-27T10:04:00Z",
                vec![summary("dddd0001", "orders", "2026-11-27T10:03:30Z")],
                "adopt dddd0001",
            ),
            // two slipped through: the earliest is adopted
            (
                "2026-11-27T10:04:00Z",
                vec![
                    summary("eeee0002", "orders", "2026-11-27T10:04:09Z"),
                    summary("eeee0001", "orders", "2026-11-27T10:04:02Z"),
                ],
                "adopt eeee0001",
            ),
            // nothing found after the grace period: a new create is allowed
            ("2026-11-27T10:00:00Z", vec![], "create"),
        ];
        for (intent, listed, expected) in cases {
            let status = with_intent(intent);
            let d = decide(&obs(
                &spec,
                &status,
                AuraView::NotCreated {
                    tenant: &tenant,
                    listed: Some(&listed),
                    claimed: &[],
                },
                SecretView::default(),
            ));
            let got = match &d.action {
                Action::Adopt { instance_id } => format!("adopt {instance_id}"),
                Action::Create(_) => "create".into(),
                Action::None => "wait".into(),
                other => format!("{other:?}"),
            };
            assert_eq!(got, expected, "intent {intent}, listed {listed:?}");
            assert_eq!(d.status.phase, Phase::Creating);
        }
    }

    #[test]
    fn an_unknown_outcome_without_a_list_never_creates() {
        let (spec, tenant) = (spec(), tenant());
        let status = with_intent("2026-11-27T09:00:00Z");
        let d = decide(&obs(
            &spec,
            &status,
            AuraView::NotCreated {
                tenant: &tenant,
                listed: None,
                claimed: &[],
            },
            SecretView::default(),
        ));
        assert_eq!(d.action, Action::None);
    }

    #[test]
    fn configurations_not_offered_stall_before_any_call() {
        let tenant = tenant();
        let cases: Vec<(AuraInstanceSpec, &str)> = vec![
            (
                AuraInstanceSpec {
                    region: "asia-east1".into(),
                    ..spec()
                },
                "only in: europe-west1",
            ),
            (
                AuraInstanceSpec {
                    memory: "4GB".into(),
                    ..spec()
                },
                "offered memory/storage: 8GB/16GB, 16GB/32GB",
            ),
            (
                AuraInstanceSpec {
                    storage: Some("64GB".into()),
                    ..spec()
                },
                "with storage 64GB",
            ),
            (
                AuraInstanceSpec {
                    version: "4".into(),
                    ..spec()
                },
                "offered versions: 5",
            ),
            (
                AuraInstanceSpec {
                    cloud_provider: "aws".into(),
                    ..spec()
                },
                "offers no enterprise-db instances on aws",
            ),
        ];
        for (spec, expected) in cases {
            let status = AuraInstanceStatus::default();
            let d = decide(&obs(
                &spec,
                &status,
                AuraView::NotCreated {
                    tenant: &tenant,
                    listed: None,
                    claimed: &[],
                },
                SecretView::default(),
            ));
            assert_eq!(d.action, Action::None);
            let (reason, message) = d.status.stalled.clone().expect("stalled");
            assert_eq!(reason, "ConfigurationNotOffered");
            assert!(
                message.contains(expected),
                "{message:?} should contain {expected:?}"
            );
            assert_eq!(d.requeue, Requeue::Resync);
        }
    }

    #[test]
    fn status_follows_aura_and_the_secret() {
        let spec = spec();
        let status = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            ..Default::default()
        };
        let full = SecretView {
            up_to_date: true,
            has_password: true,
            not_owned: false,
        };
        let no_password = SecretView {
            up_to_date: true,
            has_password: false,
            not_owned: false,
        };
        let missing = SecretView {
            up_to_date: false,
            has_password: false,
            not_owned: false,
        };
        // (aura status, secret, phase, ready reason or "True", action, requeue)
        let cases = vec![
            (
                InstanceStatus::Creating,
                full,
                Phase::Creating,
                "Creating",
                Action::None,
                Requeue::Poll,
            ),
            (
                InstanceStatus::Running,
                full,
                Phase::Running,
                "True",
                Action::None,
                Requeue::Resync,
            ),
            (
                InstanceStatus::Running,
                no_password,
                Phase::Running,
                "PasswordUnavailable",
                Action::None,
                Requeue::Resync,
            ),
            (
                InstanceStatus::Running,
                missing,
                Phase::Running,
                "PasswordUnavailable",
                Action::WriteSecret,
                Requeue::Poll,
            ),
            (
                InstanceStatus::Updating,
                full,
                Phase::Updating,
                "Updating",
                Action::None,
                Requeue::Poll,
            ),
            (
                InstanceStatus::Other("resizing".into()),
                full,
                Phase::Updating,
                "Updating",
                Action::None,
                Requeue::Poll,
            ),
            // paused in Aura while the spec says run: resume
            (
                InstanceStatus::Paused,
                full,
                Phase::Updating,
                "Resuming",
                Action::Resume { drift: None },
                Requeue::Poll,
            ),
            (
                InstanceStatus::LoadingFailed,
                full,
                Phase::Failed,
                "LoadingFailed",
                Action::None,
                Requeue::Resync,
            ),
        ];
        for (aura_status, secret, phase, ready, action, requeue) in cases {
            let i = instance(aura_status.clone());
            let d = decide(&obs(&spec, &status, AuraView::Found(&i), secret));
            let got_ready = match &d.status.ready {
                Readiness::True => "True".to_string(),
                Readiness::False { reason, .. } | Readiness::Unknown { reason, .. } => {
                    reason.to_string()
                }
            };
            assert_eq!(
                (d.status.phase, got_ready.as_str(), &d.action, d.requeue),
                (phase, ready, &action, requeue),
                "aura {aura_status}, secret {secret:?}"
            );
            // Stalled only when a human must act.
            assert_eq!(
                d.status.stalled.is_some(),
                aura_status == InstanceStatus::LoadingFailed || got_ready == "PasswordUnavailable"
            );
        }
    }

    #[test]
    fn an_instance_deleted_outside_is_not_recreated() {
        let spec = spec();
        let status = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            ..Default::default()
        };
        let d = decide(&obs(&spec, &status, AuraView::Gone, SecretView::default()));
        assert_eq!(d.action, Action::None);
        assert_eq!(
            d.status.stalled.as_ref().map(|s| s.0.as_str()),
            Some("InstanceNotFound")
        );
    }

    #[test]
    fn one_operation_at_a_time_towards_the_spec() {
        let running = |f: fn(&mut Instance)| {
            let mut i = instance(InstanceStatus::Running);
            f(&mut i);
            i
        };
        // (spec change, instance, expected operation)
        let cases: Vec<(AuraInstanceSpec, Instance, Operation)> = vec![
            (spec(), running(|_| {}), Operation::None),
            (
                AuraInstanceSpec {
                    memory: "16GB".into(),
                    ..spec()
                },
                running(|_| {}),
                Operation::Update(UpdateInstanceRequest {
                    memory: Some("16GB".into()),
                    ..Default::default()
                }),
            ),
            (
                AuraInstanceSpec {
                    name: Some("renamed".into()),
                    ..spec()
                },
                running(|_| {}),
                Operation::Update(UpdateInstanceRequest {
                    name: Some("renamed".into()),
                    ..Default::default()
                }),
            ),
            (
                AuraInstanceSpec {
                    vector_optimized: Some(true),
                    ..spec()
                },
                running(|i| i.vector_optimized = Some(false)),
                Operation::Update(UpdateInstanceRequest {
                    vector_optimized: Some(true),
                    ..Default::default()
                }),
            ),
            // a flag Aura does not report is not assumed off (DESIGN 4.7)
            (
                AuraInstanceSpec {
                    vector_optimized: Some(true),
                    ..spec()
                },
                running(|i| i.vector_optimized = None),
                Operation::None,
            ),
            // an unset feature flag is left as Aura has it
            (
                spec(),
                running(|i| i.vector_optimized = Some(true)),
                Operation::None,
            ),
            (
                AuraInstanceSpec {
                    paused: true,
                    memory: "16GB".into(),
                    ..spec()
                },
                running(|_| {}),
                Operation::Pause,
            ),
            (spec(), instance(InstanceStatus::Paused), Operation::Resume),
            (
                AuraInstanceSpec {
                    paused: true,
                    ..spec()
                },
                instance(InstanceStatus::Paused),
                Operation::None,
            ),
            // nothing is sent while Aura is busy
            (
                AuraInstanceSpec {
                    memory: "16GB".into(),
                    ..spec()
                },
                instance(InstanceStatus::Updating),
                Operation::None,
            ),
            (
                AuraInstanceSpec {
                    paused: true,
                    ..spec()
                },
                instance(InstanceStatus::Resuming),
                Operation::None,
            ),
            (
                AuraInstanceSpec {
                    instance_type: "business-critical".into(),
                    ..spec()
                },
                running(|i| i.instance_type = Some("professional-db".into())),
                Operation::Upgrade("business-critical".into()),
            ),
            // what Aura does not report is never drift (DESIGN 4.7)
            (
                AuraInstanceSpec {
                    storage: Some("32GB".into()),
                    ..spec()
                },
                running(|i| i.storage = None),
                Operation::None,
            ),
            (
                AuraInstanceSpec {
                    instance_type: "free-db".into(),
                    memory: "1GB".into(),
                    storage: Some("2GB".into()),
                    ..spec()
                },
                running(|i| {
                    i.instance_type = Some("free-db".into());
                    i.memory = Some("1GB".into());
                    i.storage = None;
                }),
                Operation::None,
            ),
            (
                AuraInstanceSpec {
                    instance_type: "business-critical".into(),
                    memory: "16GB".into(),
                    vector_optimized: Some(true),
                    ..spec()
                },
                running(|i| {
                    i.instance_type = None;
                    i.memory = None;
                    i.name = None;
                    i.vector_optimized = None;
                }),
                Operation::None,
            ),
            // letter case is no difference either
            (
                spec(),
                running(|i| {
                    i.memory = Some("8gb".into());
                    i.instance_type = Some("Enterprise-DB".into());
                }),
                Operation::None,
            ),
            (
                spec(),
                running(|i| i.status = InstanceStatus::parse("Running")),
                Operation::None,
            ),
            (
                AuraInstanceSpec {
                    paused: true,
                    ..spec()
                },
                running(|i| i.status = InstanceStatus::parse("RUNNING")),
                Operation::Pause,
            ),
        ];
        for (spec, instance, expected) in cases {
            let name = spec.name.clone().unwrap_or_else(|| "orders".into());
            assert_eq!(
                next_operation(&spec, &name, &instance),
                expected,
                "spec {spec:?} instance {:?}",
                instance.status
            );
        }
    }

    #[test]
    fn a_console_change_is_corrected_and_named() {
        let spec = spec();
        let status = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            observed_generation: Some(1),
            ..Default::default()
        };
        let mut changed = instance(InstanceStatus::Running);
        changed.memory = Some("16GB".into());
        let full = SecretView {
            up_to_date: true,
            has_password: true,
            not_owned: false,
        };
        let tenant = tenant();
        let mut o = obs(&spec, &status, AuraView::Found(&changed), full);
        o.catalogue = Some(&tenant);
        let d = decide(&o);
        let Action::Update { request, drift } = &d.action else {
            panic!("{:?}", d.action)
        };
        assert_eq!(request.memory.as_deref(), Some("8GB"));
        let note = drift.as_deref().expect("a drift note");
        assert!(
            note.contains("memory 16GB") && note.contains("memory to 8GB"),
            "{note}"
        );
        assert_eq!(d.status.phase, Phase::Updating);

        // The same difference after a manifest edit is no drift.
        let edited = AuraInstanceStatus {
            observed_generation: Some(0),
            ..status.clone()
        };
        let d = decide(&obs(&spec, &edited, AuraView::Found(&changed), full));
        assert!(
            matches!(&d.action, Action::Update { drift: None, .. }),
            "{:?}",
            d.action
        );
    }

    #[test]
    fn a_resize_not_offered_stalls_before_any_call() {
        let spec = AuraInstanceSpec {
            memory: "4GB".into(),
            ..spec()
        };
        let status = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            ..Default::default()
        };
        let running = instance(InstanceStatus::Running);
        let tenant = tenant();
        let mut o = obs(
            &spec,
            &status,
            AuraView::Found(&running),
            SecretView {
                up_to_date: true,
                has_password: true,
                not_owned: false,
            },
        );
        o.catalogue = Some(&tenant);
        let d = decide(&o);
        assert_eq!(d.action, Action::None);
        assert_eq!(
            d.status.stalled.as_ref().map(|s| s.0.as_str()),
            Some("ConfigurationNotOffered")
        );
    }

    #[test]
    fn an_adopted_instance_must_match_the_spec() {
        let spec = AuraInstanceSpec {
            tenant_id: Some("t-1".into()),
            ..spec()
        };
        let mut other = instance(InstanceStatus::Running);
        other.region = Some("us-central1".into());
        other.instance_type = Some("professional-db".into());
        let message = placement_mismatch(&spec, &other).expect("a mismatch");
        assert!(
            message.contains("region is us-central1 in Aura, europe-west1 in the spec"),
            "{message}"
        );
        assert!(message.contains("type is professional-db"), "{message}");
        assert_eq!(
            placement_mismatch(&spec, &instance(InstanceStatus::Running)),
            None
        );
        let status = AuraInstanceStatus::default();
        let d = decide(&obs(
            &spec,
            &status,
            AuraView::Found(&other),
            SecretView::default(),
        ));
        assert_eq!(
            d.status.stalled.as_ref().map(|s| s.0.as_str()),
            Some("InstanceMismatch")
        );
        assert_eq!(
            d.action,
            Action::None,
            "nothing is written for a mismatched instance"
        );
    }

    #[test]
    fn what_aura_leaves_out_is_no_mismatch() {
        let spec = AuraInstanceSpec {
            tenant_id: Some("t-1".into()),
            ..spec()
        };
        let mut bare = instance(InstanceStatus::Running);
        bare.region = None;
        bare.cloud_provider = None;
        bare.instance_type = None;
        bare.tenant_id = None;
        assert_eq!(placement_mismatch(&spec, &bare), None);
        bare.cloud_provider = Some("GCP".into());
        assert_eq!(placement_mismatch(&spec, &bare), None);
    }

    #[test]
    fn the_lost_create_search_skips_what_it_cannot_place() {
        let intent: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
        let mut nameless = summary("aaaa0001", "orders", "2026-11-27T10:00:05Z");
        nameless.name = None;
        let mut timeless = summary("aaaa0002", "orders", "2026-11-27T10:00:05Z");
        timeless.created_at = None;
        let good = summary("aaaa0003", "orders", "2026-11-27T10:00:07Z");
        let listed = [nameless, timeless, good];
        assert_eq!(
            LostCreate {
                name: "orders",
                intent,
                prior: &[],
                claimed: &[],
            }
            .find(&listed)
            .map(|i| i.id.as_str()),
            Some("aaaa0003")
        );
    }

    #[test]
    fn a_catalogue_without_storage_lets_the_spec_through() {
        let mut tenant = tenant();
        for c in &mut tenant.instance_configurations {
            c.storage = None;
        }
        let spec = AuraInstanceSpec {
            storage: Some("64GB".into()),
            ..spec()
        };
        assert_eq!(check_offered(&spec, &tenant), Ok(()));
        let wrong = AuraInstanceSpec {
            memory: "3GB".into(),
            ..spec
        };
        let message = check_offered(&wrong, &tenant).unwrap_err();
        assert!(message.contains("8GB, 16GB"), "{message}");
    }

    #[test]
    fn the_lost_create_search_skips_prior_and_claimed_instances() {
        let intent: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
        let listed = [
            summary("aaaa0001", "orders", "2026-11-27T09:59:50Z"),
            summary("aaaa0002", "orders", "2026-11-27T10:00:01Z"),
            summary("aaaa0003", "orders", "2026-11-27T10:00:03Z"),
        ];
        let find = |prior: &[String], claimed: &[String]| {
            LostCreate {
                name: "orders",
                intent,
                prior,
                claimed,
            }
            .find(&listed)
            .map(|i| i.id.clone())
        };
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(find(&[], &[]).as_deref(), Some("aaaa0001"));
        assert_eq!(find(&ids(&["aaaa0001"]), &[]).as_deref(), Some("aaaa0002"));
        assert_eq!(
            find(&ids(&["aaaa0001"]), &ids(&["aaaa0002"])).as_deref(),
            Some("aaaa0003")
        );
        assert_eq!(
            find(&ids(&["aaaa0001"]), &ids(&["aaaa0002", "aaaa0003"])),
            None
        );
        assert_eq!(
            same_named(&listed[..2], "orders"),
            ids(&["aaaa0001", "aaaa0002"])
        );
        assert!(same_named(&listed, "other").is_empty());
    }

    #[test]
    fn an_instance_held_elsewhere_is_never_touched() {
        let spec = AuraInstanceSpec {
            instance_id: Some("8f769515".into()),
            paused: true,
            memory: "16GB".into(),
            ..spec()
        };
        let status = AuraInstanceStatus::default();
        let found = instance(InstanceStatus::Running);
        let mut o = obs(
            &spec,
            &status,
            AuraView::Found(&found),
            SecretView::default(),
        );
        o.claimed_elsewhere = true;
        let d = decide(&o);
        assert_eq!(d.action, Action::None);
        let (reason, message) = d.status.stalled.expect("stalled");
        assert_eq!(reason, "InstanceClaimed");
        assert!(!message.contains("namespace"), "{message}");
    }

    #[test]
    fn password_recovery_only_for_a_new_instance_found_by_its_own_lost_create() {
        use PasswordRecovery::*;
        let no_password = SecretView {
            up_to_date: true,
            has_password: false,
            not_owned: false,
        };
        let with_password = SecretView {
            up_to_date: true,
            has_password: true,
            not_owned: false,
        };
        // (policy, found by lost create, adopted by id, recreations, Aura status, secret, expected)
        type Case = (
            Option<PasswordRecovery>,
            bool,
            bool,
            i32,
            InstanceStatus,
            SecretView,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                None,
                true,
                false,
                0,
                InstanceStatus::Running,
                no_password,
                "recreate",
            ),
            (
                Some(Recreate),
                true,
                false,
                2,
                InstanceStatus::Running,
                no_password,
                "recreate",
            ),
            (
                Some(Recreate),
                true,
                false,
                3,
                InstanceStatus::Running,
                no_password,
                "stall PasswordUnavailable",
            ),
            (
                Some(Manual),
                true,
                false,
                0,
                InstanceStatus::Running,
                no_password,
                "stall PasswordUnavailable",
            ),
            // not found by the search: an adoption or a created instance
            (
                None,
                false,
                false,
                0,
                InstanceStatus::Running,
                no_password,
                "stall PasswordUnavailable",
            ),
            (
                None,
                true,
                true,
                0,
                InstanceStatus::Running,
                no_password,
                "stall PasswordUnavailable",
            ),
            // a person wrote the password: Ready, nothing destroyed
            (
                None,
                true,
                false,
                0,
                InstanceStatus::Running,
                with_password,
                "ready",
            ),
            // Aura still creates it: wait
            (
                None,
                true,
                false,
                0,
                InstanceStatus::Creating,
                no_password,
                "wait",
            ),
        ];
        for (policy, found, by_id, recreations, aura, secret, expected) in cases {
            let spec = AuraInstanceSpec {
                password_recovery: policy,
                instance_id: by_id.then(|| "8f769515".to_string()),
                ..spec()
            };
            let status = AuraInstanceStatus {
                instance_id: Some("8f769515".into()),
                lost_create_instance_id: found.then(|| "8f769515".to_string()),
                recreations: Some(recreations),
                ..Default::default()
            };
            let i = instance(aura.clone());
            let d = decide(&obs(&spec, &status, AuraView::Found(&i), secret));
            let got = match (&d.action, &d.status.stalled, &d.status.ready) {
                (Action::Recreate { instance_id }, _, _) => {
                    assert_eq!(instance_id, "8f769515");
                    "recreate".to_string()
                }
                (Action::None, Some((r, _)), _) => format!("stall {r}"),
                (Action::None, None, Readiness::True) => "ready".into(),
                (Action::None, None, _) => "wait".into(),
                (other, _, _) => format!("{other:?}"),
            };
            assert_eq!(
                got, expected,
                "policy {policy:?} found {found} by id {by_id} recreations {recreations} {aura:?}"
            );
        }
    }

    #[test]
    fn a_recreate_waits_for_the_instance_to_go_then_starts_over() {
        let spec = spec();
        let status = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            recreating_instance_id: Some("8f769515".into()),
            recreations: Some(1),
            ..Default::default()
        };
        let destroying = instance(InstanceStatus::Destroying);
        let full = SecretView {
            up_to_date: true,
            has_password: false,
            not_owned: false,
        };
        let d = decide(&obs(&spec, &status, AuraView::Found(&destroying), full));
        assert_eq!(d.action, Action::None);
        assert_eq!(d.status.phase, Phase::Creating);
        assert_eq!(d.requeue, Requeue::Poll);
        let d = decide(&obs(&spec, &status, AuraView::Gone, full));
        assert_eq!(d.action, Action::ForgetInstance);
        // Gone without a re-create under way is somebody else's doing: stall.
        let plain = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            ..Default::default()
        };
        let d = decide(&obs(&spec, &plain, AuraView::Gone, full));
        assert_eq!(
            d.status.stalled.map(|s| s.0),
            Some(Reason::InstanceNotFound)
        );
    }

    #[test]
    fn a_secret_of_somebody_else_stops_everything() {
        let spec = spec();
        let taken = SecretView {
            up_to_date: false,
            has_password: false,
            not_owned: true,
        };
        let tenant = tenant();
        let fresh = AuraInstanceStatus::default();
        let created = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            ..Default::default()
        };
        let running = instance(InstanceStatus::Running);
        let views = [
            (
                &fresh,
                AuraView::NotCreated {
                    tenant: &tenant,
                    listed: None,
                    claimed: &[],
                },
            ),
            (&created, AuraView::Found(&running)),
        ];
        for (status, view) in views {
            let d = decide(&obs(&spec, status, view, taken));
            assert_eq!(d.action, Action::None, "no create, no write, no call");
            let (reason, message) = d.status.stalled.expect("stalled");
            assert_eq!(reason, "SecretNotOwned");
            assert!(message.contains("orders-connection"), "{message}");
        }
    }
}
