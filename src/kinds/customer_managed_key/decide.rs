//! Decide (pure): what one AuraCustomerManagedKey does next and what its
//! status says. Aura's create is not idempotent and names need not be unique,
//! so the intent is recorded first (with the ids the name already had) and an
//! unanswered create is found again in the tenant's list, never repeated
//! blindly: the pattern of an instance's create.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AuraCustomerManagedKeySpec, AuraCustomerManagedKeyStatus, DeletionPolicy};
use crate::aura::{CreateKeyRequest, CustomerManagedKey};
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraCustomerManagedKey conditions, defined once.
    pub enum KeyReason {
        ready: KeyReady = "Aura reports the key ready",
        idle: Idle,
        not_stalled: NotStalled,
        /// The create call is being made, or its answer looked for.
        Creating,
        /// Aura has the key but may not use the cloud key yet.
        KeyPending,
        /// Aura reports a status other than pending or ready.
        KeyNotReady,
        CredentialsNotUsable,
        /// No tenant, or several and spec.tenantId names none.
        TenantNotChosen,
        /// Aura does not know the key (recorded or adopted).
        KeyNotFound,
        /// The adopted key's name, provider, region or type differ from the spec.
        KeyMismatch,
        /// Another AuraCustomerManagedKey records the same Aura key.
        KeyHeldElsewhere,
        /// Several keys could be the one an unanswered create made.
        CreateAmbiguous,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Deleting waits until no AuraInstance names the key and Aura no
        /// longer reports it in use.
        KeyInUse,
        /// Event: the create call was made.
        KeyCreated,
        /// Event: the key was deleted in Aura.
        KeyDeleted,
    }
}

pub type KeySummary = Progress<KeyReason>;

/// How often a key Aura has not made ready is looked at again.
pub const PENDING_POLL: Duration = Duration::from_secs(30);
/// How often a deletion that waits on an instance is tried again.
pub const IN_USE_POLL: Duration = Duration::from_secs(20);

/// What the pass reads from Aura, chosen from the status and spec alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The recorded or adopted key, by id.
    Key(String),
    /// The tenant's keys: an unanswered create is looked for by name.
    Search,
    /// Nothing: the next step is the create itself.
    Nothing,
}

pub fn first_read(
    spec: &AuraCustomerManagedKeySpec,
    status: &AuraCustomerManagedKeyStatus,
) -> Read {
    match (&status.id, &spec.id) {
        (Some(id), _) | (None, Some(id)) => Read::Key(id.clone()),
        (None, None) if intent(status).is_some() => Read::Search,
        (None, None) => Read::Nothing,
    }
}

/// When the recorded create intent was written, if one is.
pub fn intent(status: &AuraCustomerManagedKeyStatus) -> Option<Timestamp> {
    status
        .create_requested_at
        .as_deref()
        .and_then(|t| t.parse().ok())
}

/// What the pass saw, for [`decide`].
#[derive(Debug, Clone)]
pub struct KeyObservation<'a> {
    pub spec: &'a AuraCustomerManagedKeySpec,
    pub status: &'a AuraCustomerManagedKeyStatus,
    /// The tenant to create in.
    pub tenant_id: &'a str,
    /// The key `Read::Key` asked for (`None`: Aura answered 404).
    pub seen: Option<Option<&'a CustomerManagedKey>>,
    /// The tenant's keys, after `Read::Search`.
    pub listed: Option<&'a [CustomerManagedKey]>,
    /// Keys other AuraCustomerManagedKeys record: (id, namespace/name).
    pub held: &'a [(String, String)],
    pub now: Timestamp,
    /// How long a created key may take to show in the list.
    pub grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    None,
    /// Record the intent (with the ids the name has now), then create.
    Create(CreateKeyRequest),
    /// The key an unanswered create made, found in the list: record it.
    Found(String),
    /// Record the adopted key's id.
    Adopt(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyDecision {
    pub action: KeyAction,
    pub summary: KeySummary,
    pub requeue: Option<Duration>,
}

impl KeyDecision {
    fn wait(summary: KeySummary, after: Duration) -> Self {
        Self {
            action: KeyAction::None,
            summary,
            requeue: Some(after),
        }
    }

    fn stall(reason: KeyReason, message: String) -> Self {
        Self {
            action: KeyAction::None,
            summary: KeySummary::stalled(reason, message),
            requeue: None,
        }
    }
}

pub fn create_request(spec: &AuraCustomerManagedKeySpec, tenant_id: &str) -> CreateKeyRequest {
    CreateKeyRequest {
        name: spec.name.clone(),
        key_id: spec.key_id.clone(),
        cloud_provider: spec.cloud_provider.as_str().into(),
        region: spec.region.clone(),
        instance_type: spec.instance_type.as_str().into(),
        tenant_id: tenant_id.into(),
    }
}

pub fn decide(obs: &KeyObservation<'_>) -> KeyDecision {
    let recorded = obs.status.id.as_deref();
    if let Some(id) = recorded.or(obs.spec.id.as_deref()) {
        if let Some((_, holder)) = obs.held.iter().find(|(held, _)| held == id) {
            return KeyDecision::stall(
                KeyReason::KeyHeldElsewhere,
                format!("Aura key {id} is already recorded by AuraCustomerManagedKey {holder}"),
            );
        }
        return match obs.seen {
            Some(Some(key)) => seen(obs, key, recorded.is_none()),
            Some(None) => KeyDecision::stall(
                KeyReason::KeyNotFound,
                format!(
                    "Aura has no customer managed key {id}{}",
                    if recorded.is_some() {
                        " any more: it was deleted outside this object; delete the object (its instances keep the key they were made with) or set spec.id to another key"
                    } else {
                        " (spec.id)"
                    }
                ),
            ),
            None => KeyDecision::wait(
                KeySummary::working(KeyReason::Creating, "reading the key"),
                Duration::from_secs(5),
            ),
        };
    }
    let Some(intent) = intent(obs.status) else {
        return KeyDecision {
            action: KeyAction::Create(create_request(obs.spec, obs.tenant_id)),
            summary: KeySummary::working(KeyReason::Creating, "creating the key in Aura"),
            requeue: Some(Duration::from_secs(5)),
        };
    };
    search(obs, intent)
}

/// An unanswered create: its key is the one of the name that was not there
/// before and that no other object records.
fn search(obs: &KeyObservation<'_>, intent: Timestamp) -> KeyDecision {
    let Some(listed) = obs.listed else {
        return KeyDecision::wait(
            KeySummary::working(
                KeyReason::Creating,
                "looking for the key of an unanswered create",
            ),
            Duration::from_secs(5),
        );
    };
    let candidates = candidates(
        listed,
        &obs.spec.name,
        &obs.status.create_prior_ids,
        obs.held,
    );
    match candidates.as_slice() {
        [one] => KeyDecision {
            action: KeyAction::Found((*one).to_string()),
            summary: KeySummary::working(
                KeyReason::Creating,
                "found the key of an unanswered create",
            ),
            requeue: Some(Duration::from_secs(1)),
        },
        [] => {
            let waited = obs.now.duration_since(intent);
            let grace = jiff::SignedDuration::try_from(obs.grace).unwrap_or_default();
            if waited < grace {
                let left = (grace - waited).unsigned_abs().min(Duration::from_secs(10));
                return KeyDecision::wait(
                    KeySummary::working(
                        KeyReason::Creating,
                        "waiting to see whether an unanswered create made a key",
                    ),
                    left.max(Duration::from_secs(1)),
                );
            }
            KeyDecision {
                action: KeyAction::Create(create_request(obs.spec, obs.tenant_id)),
                summary: KeySummary::working(
                    KeyReason::Creating,
                    "an earlier create made no key; creating again",
                ),
                requeue: Some(Duration::from_secs(5)),
            }
        }
        many => KeyDecision::stall(
            KeyReason::CreateAmbiguous,
            format!(
                "keys {} named {:?} appeared after an unanswered create; set spec.id to the one to keep (and delete the others in Aura)",
                many.join(", "),
                obs.spec.name
            ),
        ),
    }
}

/// The keys an unanswered create may have made: of its name, not among the
/// ids the name had before, recorded by no other object.
pub fn candidates<'a>(
    listed: &'a [CustomerManagedKey],
    name: &str,
    prior: &[String],
    held: &[(String, String)],
) -> Vec<&'a str> {
    listed
        .iter()
        .filter(|k| k.name == name)
        .map(|k| k.id.as_str())
        .filter(|id| !prior.iter().any(|p| p == id))
        .filter(|id| !held.iter().any(|(h, _)| h == id))
        .collect()
}

/// The key Aura reports: it must be what the spec says; then its status.
fn seen(obs: &KeyObservation<'_>, key: &CustomerManagedKey, adopting: bool) -> KeyDecision {
    if let Some(differs) = mismatch(obs.spec, key) {
        return KeyDecision::stall(
            KeyReason::KeyMismatch,
            format!("Aura key {} does not match the spec: {differs}", key.id),
        );
    }
    let status = key.status.as_deref().unwrap_or_default();
    let action = if adopting {
        KeyAction::Adopt(key.id.clone())
    } else {
        KeyAction::None
    };
    if status.eq_ignore_ascii_case("ready") {
        return KeyDecision {
            action,
            summary: KeySummary::ready(),
            requeue: None,
        };
    }
    let summary = if status.eq_ignore_ascii_case("pending") {
        KeySummary::working(KeyReason::KeyPending, pending_message(obs.spec))
    } else {
        KeySummary::working(
            KeyReason::KeyNotReady,
            format!(
                "Aura reports key {} as {:?}",
                key.id,
                if status.is_empty() {
                    "(no status)"
                } else {
                    status
                }
            ),
        )
    };
    KeyDecision {
        action,
        summary,
        requeue: Some(PENDING_POLL),
    }
}

/// What a person must do for a pending key.
pub fn pending_message(spec: &AuraCustomerManagedKeySpec) -> String {
    format!(
        "Aura has the key but cannot use {} yet: in the {} console, grant Aura's service account access to it as Aura's customer managed key documentation describes; the key becomes ready once Aura can use it",
        spec.key_id,
        spec.cloud_provider.as_str().to_uppercase()
    )
}

/// What differs between the spec and Aura's key, in words; `None` when they
/// agree (fields Aura did not send are not held against it).
pub fn mismatch(spec: &AuraCustomerManagedKeySpec, key: &CustomerManagedKey) -> Option<String> {
    let mut differs = Vec::new();
    if !key.name.is_empty() && key.name != spec.name {
        differs.push(format!("name {:?} (spec {:?})", key.name, spec.name));
    }
    let checks = [
        (
            "cloudProvider",
            key.cloud_provider.as_deref(),
            spec.cloud_provider.as_str(),
        ),
        ("region", key.region.as_deref(), spec.region.as_str()),
        (
            "instanceType",
            key.instance_type.as_deref(),
            spec.instance_type.as_str(),
        ),
        ("keyId", key.key_id.as_deref(), spec.key_id.as_str()),
    ];
    for (field, aura, wanted) in checks {
        if let Some(aura) = aura
            && !aura.eq_ignore_ascii_case(wanted)
        {
            differs.push(format!("{field} {aura:?} (spec {wanted:?})"));
        }
    }
    (!differs.is_empty()).then(|| differs.join(", "))
}

/// The ids of the keys named `name` in a list: the create intent's prior ids.
pub fn prior_ids(listed: &[CustomerManagedKey], name: &str) -> Vec<String> {
    let mut ids: Vec<String> = listed
        .iter()
        .filter(|k| k.name == name)
        .map(|k| k.id.clone())
        .collect();
    ids.sort();
    ids
}

/// What deleting the object does.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    /// Nothing in Aura to do (Orphan, or no key was ever made).
    Done,
    /// AuraInstances of the namespace still name the object.
    Wait(KeySummary),
    /// Delete this key in Aura.
    Delete(String),
    /// An unanswered create: look for its key, to delete it.
    Search,
}

pub fn deletion(
    policy: DeletionPolicy,
    status: &AuraCustomerManagedKeyStatus,
    spec_id: Option<&str>,
    named_by: &[String],
) -> Deletion {
    if !named_by.is_empty() {
        return Deletion::Wait(KeySummary::working(
            KeyReason::KeyInUse,
            format!(
                "deleting waits until no AuraInstance names this key: {}",
                named_by.join(", ")
            ),
        ));
    }
    if policy == DeletionPolicy::Orphan {
        return Deletion::Done;
    }
    match (status.id.as_deref().or(spec_id), intent(status)) {
        (Some(id), _) => Deletion::Delete(id.to_string()),
        (None, Some(_)) => Deletion::Search,
        (None, None) => Deletion::Done,
    }
}

#[cfg(test)]
#[path = "decide/tests.rs"]
mod tests;
