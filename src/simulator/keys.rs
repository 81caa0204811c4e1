//! Customer managed keys (`/customer-managed-keys`): created `pending`, made
//! `ready` by the simulated grant (the customer letting Aura use the key in
//! their cloud console) or after a configured time, deleted only while no
//! instance uses them. Kept per tenant: a key is found for an instance only
//! in the instance's own tenant. Pure: every call takes `now`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::catalogue::{required_str, validate_name};
use super::error::ApiError;
use crate::api::CloudProvider;
use crate::aura::model::{InstanceConfiguration, TenantSummary};

/// The instance types a key can be made for (the schema's enum of the key's
/// `instance_type`; the spec: Virtual Dedicated Cloud and AuraDS Enterprise).
pub const KEY_INSTANCE_TYPES: &[&str] = &["enterprise-db", "enterprise-ds"];

const PENDING: &str = "pending";
const READY: &str = "ready";

/// A customer managed key as a test adds it in process (as if made in the
/// console). `status` is kept as given; `ready` keys are usable at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerManagedKey {
    pub id: String,
    pub name: String,
    pub tenant_id: String,
    #[serde(default = "default_key_provider")]
    pub cloud_provider: String,
    #[serde(default = "default_key_region")]
    pub region: String,
    #[serde(rename = "type", alias = "instance_type", default = "default_key_type")]
    pub instance_type: String,
    #[serde(default = "default_key_status")]
    pub status: String,
}

fn default_key_provider() -> String {
    "gcp".into()
}
fn default_key_region() -> String {
    "europe-west1".into()
}
fn default_key_type() -> String {
    "enterprise-db".into()
}
fn default_key_status() -> String {
    READY.into()
}

/// A validated `POST /customer-managed-keys` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub name: String,
    pub tenant_id: String,
    pub cloud_provider: String,
    pub region: String,
    pub instance_type: String,
    /// The key's id in the customer's cloud (an ARN on AWS).
    pub key_id: String,
}

/// `GET /customer-managed-keys/{id}`: every field of the schema, plus `type`
/// (the documented examples carry it beside `instance_type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub created: String,
    pub cloud_provider: String,
    pub key_id: String,
    pub region: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant_id: String,
    pub status: String,
    pub instance_type: String,
}

/// `GET /customer-managed-keys`: one summary per key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySummary {
    pub id: String,
    pub name: String,
    pub tenant_id: String,
}

/// Where a key stands on its way to `ready`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyState {
    /// Ready at the instant, if any; else only once granted.
    Pending {
        ready_at: Option<Instant>,
    },
    Ready,
    /// A status a test set by hand (e.g. `error`), kept until a grant.
    Fixed(String),
}

#[derive(Debug, Clone)]
struct KeyRecord {
    id: String,
    spec: KeySpec,
    created: String,
    state: KeyState,
}

impl KeyRecord {
    fn status(&self, now: Instant) -> &str {
        match &self.state {
            KeyState::Ready => READY,
            KeyState::Pending { ready_at: Some(t) } if now >= *t => READY,
            KeyState::Pending { .. } => PENDING,
            KeyState::Fixed(s) => s,
        }
    }

    fn view(&self, now: Instant) -> KeyView {
        KeyView {
            id: self.id.clone(),
            name: self.spec.name.clone(),
            created: self.created.clone(),
            cloud_provider: self.spec.cloud_provider.clone(),
            key_id: self.spec.key_id.clone(),
            region: self.spec.region.clone(),
            kind: self.spec.instance_type.clone(),
            tenant_id: self.spec.tenant_id.clone(),
            status: self.status(now).to_string(),
            instance_type: self.spec.instance_type.clone(),
        }
    }
}

/// Where an instance is to be made, for the key it names to be checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse<'a> {
    pub tenant_id: &'a str,
    pub cloud_provider: &'a str,
    pub region: &'a str,
    pub instance_type: &'a str,
}

/// Every key of the account, in creation order.
#[derive(Debug, Default)]
pub struct Keys {
    records: Vec<KeyRecord>,
}

impl Keys {
    /// A key made through the API: `pending`, ready after `ready_after`
    /// (`None`: only once granted). Not idempotent: names may repeat.
    pub fn create(
        &mut self,
        spec: KeySpec,
        created: String,
        now: Instant,
        ready_after: Option<Duration>,
    ) -> KeyView {
        let ready_at = ready_after.map(|d| now.checked_add(d).unwrap_or(now));
        let record = KeyRecord {
            id: uuid::Uuid::new_v4().to_string(),
            spec,
            created,
            state: KeyState::Pending { ready_at },
        };
        let view = record.view(now);
        self.records.push(record);
        view
    }

    /// A key added out of band, with the status it was given (`key_id`
    /// made up when not given). Replaces a key of the same id.
    pub fn add(
        &mut self,
        key: CustomerManagedKey,
        key_id: Option<String>,
        created: String,
        now: Instant,
    ) -> KeyView {
        let state = match key.status.as_str() {
            READY => KeyState::Ready,
            PENDING => KeyState::Pending { ready_at: None },
            other => KeyState::Fixed(other.to_string()),
        };
        let key_id = key_id.unwrap_or_else(|| format!("simulated/{}", key.id));
        let record = KeyRecord {
            id: key.id,
            spec: KeySpec {
                name: key.name,
                tenant_id: key.tenant_id,
                cloud_provider: key.cloud_provider,
                region: key.region,
                instance_type: key.instance_type,
                key_id,
            },
            created,
            state,
        };
        let view = record.view(now);
        self.records.retain(|r| r.id != record.id);
        self.records.push(record);
        view
    }

    /// Summaries, of one tenant or of all.
    pub fn summaries(&self, tenant: Option<&str>) -> Vec<KeySummary> {
        self.records
            .iter()
            .filter(|r| tenant.is_none_or(|t| r.spec.tenant_id == t))
            .map(|r| KeySummary {
                id: r.id.clone(),
                name: r.spec.name.clone(),
                tenant_id: r.spec.tenant_id.clone(),
            })
            .collect()
    }

    fn record(&self, id: &str) -> Result<&KeyRecord, ApiError> {
        self.records
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError::encryption_key_not_found(id))
    }

    pub fn get(&self, id: &str, now: Instant) -> Result<KeyView, ApiError> {
        Ok(self.record(id)?.view(now))
    }

    /// Deletes a key no instance uses (`in_use` says whether one does).
    pub fn delete(&mut self, id: &str, in_use: bool) -> Result<(), ApiError> {
        self.record(id)?;
        if in_use {
            return Err(ApiError::encryption_key_is_active(id));
        }
        self.records.retain(|r| r.id != id);
        Ok(())
    }

    /// The customer granted Aura the use of the key: ready at once.
    pub fn grant(&mut self, id: &str, now: Instant) -> Result<KeyView, ApiError> {
        let record = self
            .records
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError::encryption_key_not_found(id))?;
        record.state = KeyState::Ready;
        Ok(record.view(now))
    }

    /// Whether a create may encrypt its instance with key `id`: the key
    /// must be in the instance's tenant, ready, and made for the instance's
    /// provider, region and type. The 400 says which.
    pub fn check_use(&self, id: &str, at: KeyUse<'_>, now: Instant) -> Result<(), ApiError> {
        let Some(r) = self
            .records
            .iter()
            .find(|r| r.id == id && r.spec.tenant_id == at.tenant_id)
        else {
            return Err(ApiError::key_refused(
                "encryption-key-not-found",
                format!("Customer managed key {id} not found in this project"),
            ));
        };
        let status = r.status(now);
        if status != READY {
            return Err(ApiError::key_refused(
                "encryption-key-not-ready",
                format!(
                    "Customer managed key {id} is not ready (status: {status}): Aura must be granted the use of the key in the cloud provider's console first"
                ),
            ));
        }
        let s = &r.spec;
        if (
            s.cloud_provider.as_str(),
            s.region.as_str(),
            s.instance_type.as_str(),
        ) != (at.cloud_provider, at.region, at.instance_type)
        {
            return Err(ApiError::key_refused(
                "encryption-key-mismatch",
                format!(
                    "Customer managed key {id} is for {} instances on {} in {}, not for {} on {} in {}",
                    s.instance_type,
                    s.cloud_provider,
                    s.region,
                    at.instance_type,
                    at.cloud_provider,
                    at.region
                ),
            ));
        }
        Ok(())
    }
}

/// Validates a `POST /customer-managed-keys` body: the required fields in
/// the order the schema lists them, the name's 1 to 30 characters, a key
/// type, a known tenant, and a region the catalogue offers for the provider
/// and type.
pub fn parse_key_create(
    obj: &Map<String, Value>,
    tenants: &[TenantSummary],
    catalogue: &[InstanceConfiguration],
) -> Result<KeySpec, ApiError> {
    let key_id = required_str(obj, "key_id")?;
    let region = required_str(obj, "region")?;
    let name = required_str(obj, "name")?;
    let instance_type = required_str(obj, "instance_type")?;
    let tenant_id = required_str(obj, "tenant_id")?;
    let cloud_provider = required_str(obj, "cloud_provider")?;
    if key_id.trim().is_empty() {
        return Err(ApiError::field("key_id", "key_id must not be empty"));
    }
    validate_name(&name)?;
    if !CloudProvider::words().contains(&cloud_provider.as_str()) {
        return Err(ApiError::field(
            "cloud_provider",
            format!(
                "cloud_provider must be one of {}, got '{cloud_provider}'",
                CloudProvider::words().join(", ")
            ),
        ));
    }
    if !KEY_INSTANCE_TYPES.contains(&instance_type.as_str()) {
        return Err(ApiError::field(
            "instance_type",
            format!(
                "instance_type must be one of {}, got '{instance_type}'",
                KEY_INSTANCE_TYPES.join(", ")
            ),
        ));
    }
    if !tenants.iter().any(|t| t.id == tenant_id) {
        return Err(ApiError::tenant_not_found());
    }
    let offered = catalogue.iter().any(|c| {
        c.cloud_provider == cloud_provider && c.instance_type == instance_type && c.region == region
    });
    if !offered {
        return Err(ApiError::field(
            "region",
            format!("Region {region} is not available for {instance_type} on {cloud_provider}"),
        ));
    }
    Ok(KeySpec {
        name,
        tenant_id,
        cloud_provider,
        region,
        instance_type,
        key_id,
    })
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
