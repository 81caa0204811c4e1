//! The decision: a pure function from what was observed to what to do next and
//! what the status should say. No client in here, so every branch is a table test.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AuraInstanceSpec, AuraInstanceStatus, Phase};
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
}

/// The Aura side of the observation.
#[derive(Debug, Clone)]
pub enum AuraView<'a> {
    /// No instance id is recorded yet. `listed` holds the tenant's instances, fetched
    /// only when an earlier create's outcome is unknown.
    NotCreated {
        tenant: &'a Tenant,
        listed: Option<&'a [InstanceSummary]>,
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
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing to call; write status and requeue.
    None,
    /// Record the create intent in status (with the resourceVersion as precondition),
    /// then send this create.
    Create(CreateInstanceRequest),
    /// A create whose answer was lost produced this instance: record its id.
    Adopt {
        instance_id: String,
    },
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
    pub reconciling: Option<(String, String)>,
    pub stalled: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    True,
    False { reason: String, message: String },
    Unknown { reason: String, message: String },
}

impl StatusSummary {
    /// A human must act: Stalled=True, Ready=False, no polling.
    pub fn stalled(reason: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            phase: Phase::Failed,
            ready: Readiness::False {
                reason: reason.to_string(),
                message: message.clone(),
            },
            reconciling: None,
            stalled: Some((reason.to_string(), message)),
        }
    }

    /// Aura accepted the create and is building the instance.
    pub fn aura_creating() -> Self {
        Self::in_progress(Phase::Creating, "Creating", "Aura is creating the instance")
    }

    fn in_progress(phase: Phase, reason: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            phase,
            ready: Readiness::False {
                reason: reason.to_string(),
                message: message.clone(),
            },
            reconciling: Some((reason.to_string(), message)),
            stalled: None,
        }
    }
}

/// Decides the next step for one AuraInstance.
pub fn decide(obs: &Observation<'_>) -> Decision {
    match &obs.aura {
        AuraView::NotCreated { tenant, listed } => decide_create(obs, tenant, *listed),
        AuraView::Found(instance) => decide_running(obs, instance),
        AuraView::Gone => Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                "InstanceNotFound",
                format!(
                    "Aura instance {} no longer exists (deleted outside the operator); it is not re-created automatically: delete this object, or remove status.instanceId to create a new instance",
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
) -> Decision {
    if let Err(message) = check_offered(obs.spec, tenant) {
        return Decision {
            action: Action::None,
            status: StatusSummary::stalled("ConfigurationNotOffered", message),
            requeue: Requeue::Resync,
        };
    }
    let creating = |message: &str| StatusSummary::in_progress(Phase::Creating, "Creating", message);

    let Some(intent) = create_intent(obs.status) else {
        return Decision {
            action: Action::Create(create_request(obs.spec, obs.aura_name, &tenant.id)),
            // Usually the first status the object gets: Ready=Unknown until Aura answers.
            status: StatusSummary {
                ready: Readiness::Unknown {
                    reason: "Creating".into(),
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
    if let Some(found) = find_created(listed, requested_name, intent) {
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
            status: StatusSummary::stalled("InstanceMismatch", mismatch),
            requeue: Requeue::Resync,
        };
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
                        status: StatusSummary::stalled("ConfigurationNotOffered", message),
                        requeue: Requeue::Resync,
                    };
                }
            }
            let what = describe_update(&request);
            Decision {
                action: Action::Update { request, drift },
                status: StatusSummary::in_progress(
                    Phase::Updating,
                    "Updating",
                    format!("changing {what}"),
                ),
                requeue: Requeue::Poll,
            }
        }
        Operation::Pause => Decision {
            action: Action::Pause { drift },
            status: StatusSummary::in_progress(Phase::Paused, "Pausing", "pausing the instance"),
            requeue: Requeue::Poll,
        },
        Operation::Resume => Decision {
            action: Action::Resume { drift },
            status: StatusSummary::in_progress(
                Phase::Updating,
                "Resuming",
                "resuming the instance",
            ),
            requeue: Requeue::Poll,
        },
        Operation::Upgrade(to) => Decision {
            status: StatusSummary::in_progress(
                Phase::Updating,
                "Upgrading",
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
                reason: "Paused".into(),
                message: format!("the Aura instance is {}", instance.status),
            },
            reconciling: None,
            stalled: None,
        },
        InstanceStatus::Pausing => {
            StatusSummary::in_progress(Phase::Paused, "Pausing", "Aura is pausing the instance")
        }
        InstanceStatus::Resuming => {
            StatusSummary::in_progress(Phase::Updating, "Resuming", "Aura is resuming the instance")
        }
        InstanceStatus::Destroying => StatusSummary::in_progress(
            Phase::Deleting,
            "Destroying",
            "Aura is destroying the instance",
        ),
        InstanceStatus::LoadingFailed => StatusSummary::stalled(
            "LoadingFailed",
            "Aura reports 'loading failed' for this instance; see the Aura console",
        ),
        other => StatusSummary::in_progress(
            Phase::Updating,
            "Updating",
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
    if spec.instance_type != instance.instance_type {
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
    let differs = |want: Option<bool>, have: Option<bool>| match want {
        Some(w) if have.unwrap_or(false) != w => Some(w),
        _ => None,
    };
    UpdateInstanceRequest {
        name: (instance.name != name).then(|| name.to_string()),
        memory: (instance.memory != spec.memory).then(|| spec.memory.clone()),
        storage: spec.storage.clone().filter(|s| *s != instance.storage),
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
            if r.name.is_some() {
                was.push(format!("name {}", instance.name));
            }
            if r.memory.is_some() {
                was.push(format!("memory {}", instance.memory));
            }
            if r.storage.is_some() {
                was.push(format!("storage {}", instance.storage));
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

/// An adopted (or recorded) instance must sit where the spec says.
pub fn placement_mismatch(spec: &AuraInstanceSpec, instance: &Instance) -> Option<String> {
    let mut diffs = Vec::new();
    if instance.cloud_provider != spec.cloud_provider {
        diffs.push(format!(
            "cloudProvider is {} in Aura, {} in the spec",
            instance.cloud_provider, spec.cloud_provider
        ));
    }
    if instance.region != spec.region {
        diffs.push(format!(
            "region is {} in Aura, {} in the spec",
            instance.region, spec.region
        ));
    }
    let upgrading =
        instance.instance_type == "professional-db" && spec.instance_type == "business-critical";
    if instance.instance_type != spec.instance_type && !upgrading {
        diffs.push(format!(
            "type is {} in Aura, {} in the spec",
            instance.instance_type, spec.instance_type
        ));
    }
    if let Some(t) = &spec.tenant_id
        && *t != instance.tenant_id
    {
        diffs.push(format!(
            "tenant is {} in Aura, {} in the spec",
            instance.tenant_id, t
        ));
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
        let message = "the instance runs but the connection Secret has no NEO4J_PASSWORD, and Aura returns a password only once: write it back with kubectl patch secret <connection secret> --type merge -p '{\"stringData\":{\"NEO4J_PASSWORD\":\"...\"}}' (or reset it in the Aura console first)".to_string();
        StatusSummary {
            phase: Phase::Running,
            ready: Readiness::False {
                reason: "PasswordUnavailable".into(),
                message: message.clone(),
            },
            reconciling: None,
            stalled: Some(("PasswordUnavailable".into(), message)),
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

/// The instance an unanswered create produced: exact name, created at or after the
/// intent (less clock skew). The earliest wins if a duplicate slipped through.
pub fn find_created<'a>(
    listed: &'a [InstanceSummary],
    name: &str,
    intent: Timestamp,
) -> Option<&'a InstanceSummary> {
    let skew = jiff::SignedDuration::try_from(CREATE_CLOCK_SKEW).unwrap_or_default();
    let earliest = intent - skew;
    listed
        .iter()
        .filter(|i| i.name == name)
        .filter_map(|i| i.created_at.parse::<Timestamp>().ok().map(|t| (t, i)))
        .filter(|(t, _)| *t >= earliest)
        .min_by_key(|(t, _)| *t)
        .map(|(_, i)| i)
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
        c.cloud_provider == spec.cloud_provider
            && c.region == spec.region
            && c.instance_type == spec.instance_type
    };
    let offered: Vec<&InstanceConfiguration> = configs.iter().filter(same_place).collect();
    if offered.is_empty() {
        let mut regions: Vec<&str> = configs
            .iter()
            .filter(|c| {
                c.cloud_provider == spec.cloud_provider && c.instance_type == spec.instance_type
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
    let fits = |c: &&&InstanceConfiguration| {
        c.version == spec.version
            && c.memory == spec.memory
            && spec.storage.as_ref().is_none_or(|s| *s == c.storage)
    };
    if offered.iter().any(|c| fits(&c)) {
        return Ok(());
    }
    let mut sizes: Vec<String> = offered
        .iter()
        .filter(|c| c.version == spec.version)
        .map(|c| format!("{}/{}", c.memory, c.storage))
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
    use crate::api::DeletionPolicy;

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
            deletion_policy: DeletionPolicy::Delete,
            credentials_secret_ref: None,
            connection_secret: None,
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
            storage: storage.into(),
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
            name: "orders".into(),
            status,
            connection_url: "neo4j+s://8f769515.databases.neo4j.io".into(),
            cloud_provider: "gcp".into(),
            tenant_id: "t-1".into(),
            memory: "8GB".into(),
            storage: "16GB".into(),
            region: "europe-west1".into(),
            instance_type: "enterprise-db".into(),
            created_at: "2026-11-27T10:00:00Z".into(),
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
            name: name.into(),
            tenant_id: "t-1".into(),
            cloud_provider: "gcp".into(),
            created_at: created_at.into(),
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
        };
        let no_password = SecretView {
            up_to_date: true,
            has_password: false,
        };
        let missing = SecretView {
            up_to_date: false,
            has_password: false,
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
                    reason.clone()
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
                running(|_| {}),
                Operation::Update(UpdateInstanceRequest {
                    vector_optimized: Some(true),
                    ..Default::default()
                }),
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
                running(|i| i.instance_type = "professional-db".into()),
                Operation::Upgrade("business-critical".into()),
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
        changed.memory = "16GB".into();
        let full = SecretView {
            up_to_date: true,
            has_password: true,
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
        other.region = "us-central1".into();
        other.instance_type = "professional-db".into();
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
}
