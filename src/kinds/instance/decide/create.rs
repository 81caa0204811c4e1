//! The decision while there is no instance yet: create (a clone with its
//! source's ids), or, after a create whose answer was lost, find its
//! instance before any new create.

use std::time::Duration;

use jiff::Timestamp;

use super::{
    Action, AdoptCause, Decision, LookAgain, Observation, Readiness, Reason, SourceView,
    StatusSummary, check_offered, create_request, invalid_template, placement_mismatch,
    secret_not_owned,
};
use crate::api::{Adoption, AuraInstanceSpec, AuraInstanceStatus, Phase};
use crate::aura::model::{
    CreateInstanceRequest, Instance, InstanceStatus, InstanceSummary, Tenant,
};
use crate::kinds::shared::views::KeyFacts;

/// Clock skew allowed between our intent timestamp and Aura's `created_at`.
pub const CREATE_CLOCK_SKEW: Duration = Duration::from_secs(60);

pub(super) fn decide_create(
    obs: &Observation<'_>,
    tenant: &Tenant,
    listed: Option<&[InstanceSummary]>,
    claimed: &[String],
    adoptable: &[Instance],
) -> Decision {
    if let Some(adopt) = adopt_first(obs, listed, claimed, adoptable) {
        return adopt;
    }
    let version = match check_offered(obs.spec, tenant) {
        Ok(version) => version,
        Err(message) => {
            return Decision {
                action: Action::None,
                status: StatusSummary::stalled(Reason::ConfigurationNotOffered, message),
                requeue: LookAgain::Resync,
            };
        }
    };
    let creating =
        |message: &str| StatusSummary::in_progress(Phase::Creating, Reason::Creating, message);
    // A password with nowhere to go is not worth a billed instance.
    if obs.secret.not_owned {
        return secret_not_owned(&obs.secret_name);
    }
    if let Some(stall) = invalid_template(obs.spec) {
        return stall;
    }
    // A project in use is deleted only after its users: the first create
    // through it waits until it holds its finalizer (it is woken then).
    if let Some(project) = &obs.project_not_held
        && create_intent(obs.status).is_none()
    {
        return Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::WaitingForProject,
                format!(
                    "waiting for {project} to count this object among its users before creating"
                ),
            ),
            requeue: LookAgain::After(Duration::from_secs(10)),
        };
    }

    let fresh = || create_request(obs.spec, version, obs.aura_name, &tenant.id);
    let mut request = match clone_request(obs, fresh()) {
        Ok(request) => request,
        Err(wait_or_stall) if create_intent(obs.status).is_none() => return *wait_or_stall,
        // An earlier create may have made it: the search below comes first.
        Err(_) => fresh(),
    };
    let key = with_key(obs, &mut request);
    if let Err(wait_or_stall) = &key
        && create_intent(obs.status).is_none()
    {
        return (**wait_or_stall).clone();
    }
    let Some(intent) = create_intent(obs.status) else {
        return Decision {
            action: Action::Create(request),
            // Usually the first status the object gets: Ready=Unknown until Aura answers.
            status: StatusSummary {
                readiness: Readiness::Unknown {
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
                cause: AdoptCause::LostCreate,
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
    if let Err(wait_or_stall) = key {
        return *wait_or_stall;
    }
    Decision {
        action: Action::Create(request),
        status: creating("an earlier create produced no instance; creating again"),
        requeue: LookAgain::Poll,
    }
}

/// `adoption: AdoptOrCreate`, before this object's first create: the one
/// unheld instance of the same name, type and place is adopted; several
/// stall; none lets the create go on (`None`).
fn adopt_first(
    obs: &Observation<'_>,
    listed: Option<&[InstanceSummary]>,
    claimed: &[String],
    adoptable: &[Instance],
) -> Option<Decision> {
    if obs.spec.adoption.unwrap_or_default() != Adoption::AdoptOrCreate
        || create_intent(obs.status).is_some()
    {
        return None;
    }
    // An adopted instance makes this object a user of its project too: the
    // project holds its finalizer first, as before a create.
    if let Some(project) = &obs.project_not_held {
        return Some(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::WaitingForProject,
                format!(
                    "waiting for {project} to count this object among its users before adopting"
                ),
            ),
            requeue: LookAgain::After(Duration::from_secs(10)),
        });
    }
    if listed.is_none() {
        // observe always lists in this state; be safe if it did not.
        return Some(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::Creating,
                "looking for an instance to adopt (adoption: AdoptOrCreate)",
            ),
            requeue: LookAgain::After(Duration::from_secs(5)),
        });
    }
    match adoption_search(obs.spec, obs.aura_name, adoptable, claimed) {
        AdoptionSearch::Nothing => None,
        AdoptionSearch::One(id) => Some(Decision {
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::Adopted,
                format!(
                    "adopting Aura instance {id}: the one instance named {} of this type and place that no AuraInstance here holds (adoption: AdoptOrCreate)",
                    obs.aura_name
                ),
            ),
            action: Action::Adopt {
                instance_id: id,
                cause: AdoptCause::Rebuild,
            },
            requeue: LookAgain::Poll,
        }),
        AdoptionSearch::Many(ids) => Some(Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                Reason::AdoptionAmbiguous,
                format!(
                    "adoption: AdoptOrCreate found {} unheld instances named {} of this type and place ({}): nothing is adopted or created; set spec.instanceId to the one to adopt, or remove the others",
                    ids.len(),
                    obs.aura_name,
                    ids.join(", ")
                ),
            ),
            requeue: LookAgain::Resync,
        }),
    }
}

/// What `adoption: AdoptOrCreate` found among the tenant's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdoptionSearch {
    Nothing,
    One(String),
    /// Sorted ids.
    Many(Vec<String>),
}

/// The instances `adoption: AdoptOrCreate` may adopt: the exact Aura name,
/// held by no AuraInstance here, not being destroyed, and nowhere else than
/// the spec says (a field Aura does not report is no difference, DESIGN 4.7).
pub fn adoption_search(
    spec: &AuraInstanceSpec,
    aura_name: &str,
    candidates: &[Instance],
    claimed: &[String],
) -> AdoptionSearch {
    let mut ids: Vec<String> = candidates
        .iter()
        .filter(|i| i.name.as_deref() == Some(aura_name))
        .filter(|i| !claimed.contains(&i.id))
        .filter(|i| i.status != InstanceStatus::Destroying)
        .filter(|i| placement_mismatch(spec, i).is_none())
        .map(|i| i.id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    match ids.len() {
        0 => AdoptionSearch::Nothing,
        1 => AdoptionSearch::One(ids.remove(0)),
        _ => AdoptionSearch::Many(ids),
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
            request.source_instance_id = Some(instance_id.to_string());
            request.source_snapshot_id = snapshot_id.clone();
            Ok(request)
        }
        Some(SourceView::Problem(message)) => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::SourceNotFound, message.clone()),
            requeue: LookAgain::After(Duration::from_secs(15)),
        })),
        Some(SourceView::NotAllowed(message)) => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::SourceNotAllowed, message.clone()),
            requeue: LookAgain::Resync,
        })),
        Some(SourceView::Waiting(message)) => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::WaitingForSource,
                message.clone(),
            ),
            // Woken when the source changes; the slow look is a safety net.
            requeue: LookAgain::After(Duration::from_secs(60)),
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

/// The AuraCustomerManagedKey a create names (`customerManagedKeyRef`), as
/// far as the create is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyGate {
    /// Ready: the create carries this Aura key id.
    Ready(String),
    /// Missing or not Ready yet: the create waits.
    Waiting(String),
    /// The key cannot encrypt this instance: a person must act.
    Mismatch(String),
}

/// Whether the key `name` (as the watch shows it, `None`: no such object)
/// lets the create go.
pub fn key_gate(spec: &AuraInstanceSpec, name: &str, key: Option<&KeyFacts>) -> KeyGate {
    let Some(key) = key else {
        return KeyGate::Waiting(format!(
            "waiting for AuraCustomerManagedKey {name} (spec.customerManagedKeyRef), which does not exist in this namespace"
        ));
    };
    let mut differs = Vec::new();
    if key.cloud_provider != spec.cloud_provider {
        differs.push(format!(
            "its cloudProvider is {}, the instance's {}",
            key.cloud_provider, spec.cloud_provider
        ));
    }
    if key.region != spec.region {
        differs.push(format!(
            "its region is {}, the instance's {}",
            key.region, spec.region
        ));
    }
    if key.instance_type != spec.instance_type {
        differs.push(format!(
            "it is for {} instances, this one is {}",
            key.instance_type, spec.instance_type
        ));
    }
    if !differs.is_empty() {
        return KeyGate::Mismatch(format!(
            "AuraCustomerManagedKey {name} cannot encrypt this instance: {}",
            differs.join("; ")
        ));
    }
    match (&key.id, key.ready, key.deleting) {
        (_, _, true) => KeyGate::Waiting(format!(
            "AuraCustomerManagedKey {name} is being deleted; the create waits"
        )),
        (Some(id), true, false) => KeyGate::Ready(id.clone()),
        _ => KeyGate::Waiting(format!(
            "waiting for AuraCustomerManagedKey {name} to be Ready (see its status)"
        )),
    }
}

/// The key's id into the create, or the wait or stall while it cannot be.
fn with_key(
    obs: &Observation<'_>,
    request: &mut CreateInstanceRequest,
) -> Result<(), Box<Decision>> {
    match obs.key {
        None if obs.spec.customer_managed_key_ref.is_none() => Ok(()),
        None => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::WaitingForKey,
                "reading the customer managed key",
            ),
            requeue: LookAgain::After(Duration::from_secs(5)),
        })),
        Some(KeyGate::Ready(id)) => {
            request.customer_managed_key_id = Some(id.clone());
            Ok(())
        }
        Some(KeyGate::Waiting(message)) => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Pending,
                Reason::WaitingForKey,
                message.clone(),
            ),
            // Woken when the key changes; the slow look is a safety net.
            requeue: LookAgain::After(Duration::from_secs(60)),
        })),
        Some(KeyGate::Mismatch(message)) => Err(Box::new(Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::KeyMismatch, message.clone()),
            requeue: LookAgain::After(Duration::from_secs(60)),
        })),
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
