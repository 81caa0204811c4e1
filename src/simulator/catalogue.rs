//! The instance catalogue every simulated tenant offers, and the validation of
//! request bodies against it. Pure: no clock, no I/O.

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::api::{AuraVersion, CloudProvider, InstanceType, MemorySize};
use crate::aura::model::{InstanceConfiguration, TenantSummary};

/// (provider, region, human region name).
const REGIONS: &[(CloudProvider, &str, &str)] = &[
    (CloudProvider::Gcp, "europe-west1", "Belgium (europe-west1)"),
    (CloudProvider::Gcp, "us-central1", "Iowa (us-central1)"),
    (
        CloudProvider::Gcp,
        "asia-southeast1",
        "Singapore (asia-southeast1)",
    ),
    (
        CloudProvider::Aws,
        "us-east-1",
        "US East, N. Virginia (us-east-1)",
    ),
    (
        CloudProvider::Aws,
        "eu-west-1",
        "Europe, Ireland (eu-west-1)",
    ),
    (
        CloudProvider::Aws,
        "ap-southeast-1",
        "Asia Pacific, Singapore (ap-southeast-1)",
    ),
    (
        CloudProvider::Azure,
        "westeurope",
        "Netherlands (westeurope)",
    ),
    (CloudProvider::Azure, "eastus", "Virginia (eastus)"),
    (CloudProvider::Azure, "uksouth", "London (uksouth)"),
];

/// Memory sizes with their default storage (twice the memory), smallest first.
const SIZES: &[(MemorySize, &str)] = &[
    (MemorySize::Gb1, "2GB"),
    (MemorySize::Gb2, "4GB"),
    (MemorySize::Gb4, "8GB"),
    (MemorySize::Gb8, "16GB"),
    (MemorySize::Gb16, "32GB"),
    (MemorySize::Gb24, "48GB"),
    (MemorySize::Gb32, "64GB"),
    (MemorySize::Gb48, "96GB"),
    (MemorySize::Gb64, "128GB"),
    (MemorySize::Gb128, "256GB"),
    (MemorySize::Gb192, "384GB"),
    (MemorySize::Gb256, "512GB"),
    (MemorySize::Gb384, "768GB"),
    (MemorySize::Gb512, "1024GB"),
];

struct Offer {
    instance_type: InstanceType,
    /// Inclusive range of indexes into `SIZES`.
    sizes: (usize, usize),
    versions: &'static [AuraVersion],
    providers: &'static [CloudProvider],
    /// Only this region (free tier).
    only_region: Option<&'static str>,
    /// Also offer 4x storage for each memory size, so a storage-only resize is possible.
    extra_storage: bool,
}

const OFFERS: &[Offer] = &[
    Offer {
        instance_type: InstanceType::EnterpriseDb,
        sizes: (1, 13),
        versions: &[AuraVersion::V4, AuraVersion::V5],
        providers: CloudProvider::ALL,
        only_region: None,
        extra_storage: true,
    },
    Offer {
        instance_type: InstanceType::EnterpriseDs,
        sizes: (3, 13),
        versions: &[AuraVersion::V5],
        providers: &[CloudProvider::Gcp, CloudProvider::Aws],
        only_region: None,
        extra_storage: false,
    },
    Offer {
        instance_type: InstanceType::BusinessCritical,
        sizes: (1, 9),
        versions: &[AuraVersion::V5],
        providers: CloudProvider::ALL,
        only_region: None,
        extra_storage: true,
    },
    Offer {
        instance_type: InstanceType::ProfessionalDb,
        sizes: (0, 8),
        versions: &[AuraVersion::V4, AuraVersion::V5],
        providers: CloudProvider::ALL,
        only_region: None,
        extra_storage: false,
    },
    Offer {
        instance_type: InstanceType::ProfessionalDs,
        sizes: (1, 8),
        versions: &[AuraVersion::V5],
        providers: CloudProvider::ALL,
        only_region: None,
        extra_storage: false,
    },
    Offer {
        instance_type: InstanceType::FreeDb,
        sizes: (0, 0),
        versions: &[AuraVersion::V5],
        providers: &[CloudProvider::Gcp],
        only_region: Some("europe-west1"),
        extra_storage: false,
    },
];

/// The deterministic catalogue given to every tenant unless the config overrides it.
pub fn default_catalogue() -> Vec<InstanceConfiguration> {
    let mut out = Vec::new();
    for &(provider, region, region_name) in REGIONS {
        for offer in OFFERS {
            if !offer.providers.contains(&provider) {
                continue;
            }
            if offer.only_region.is_some_and(|r| r != region) {
                continue;
            }
            for version in offer.versions {
                for &(memory, storage) in &SIZES[offer.sizes.0..=offer.sizes.1] {
                    let mut storages = vec![storage.to_string()];
                    if offer.extra_storage {
                        storages.push(times_gb(memory.as_str(), 4));
                    }
                    for storage in storages {
                        out.push(InstanceConfiguration {
                            cloud_provider: provider.to_string(),
                            region: region.into(),
                            region_name: region_name.into(),
                            instance_type: offer.instance_type.to_string(),
                            memory: memory.to_string(),
                            storage: Some(storage),
                            version: version.to_string(),
                        });
                    }
                }
            }
        }
    }
    out
}

fn times_gb(size: &str, factor: u32) -> String {
    let gb: u32 = size.trim_end_matches("GB").parse().unwrap_or(0);
    format!("{}GB", gb * factor)
}

/// A validated `POST /instances` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSpec {
    pub name: String,
    pub tenant_id: String,
    pub cloud_provider: String,
    pub region: String,
    pub instance_type: String,
    pub version: String,
    pub memory: String,
    pub storage: String,
    pub vector_optimized: bool,
    pub graph_analytics_plugin: bool,
    /// A clone: the instance whose data (or whose snapshot's) the new one gets.
    pub source_instance_id: Option<String>,
    pub source_snapshot_id: Option<String>,
    pub customer_managed_key_id: Option<String>,
}

/// A validated `POST /instances/{id}/overwrite` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverwriteSpec {
    pub source_instance_id: String,
    pub source_snapshot_id: Option<String>,
}

/// Where an existing instance lives, to validate a resize against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub cloud_provider: String,
    pub region: String,
    pub instance_type: String,
    pub version: String,
    pub memory: String,
    pub storage: String,
}

/// A validated `PATCH /instances/{id}` body; memory and storage are resolved
/// to the full target pair when either changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateSpec {
    pub name: Option<String>,
    pub memory: Option<String>,
    pub storage: Option<String>,
    pub vector_optimized: Option<bool>,
    pub graph_analytics_plugin: Option<bool>,
    /// Read replicas: Virtual Dedicated Cloud (enterprise-db) only.
    pub secondaries_count: Option<u64>,
    /// OFF, DIFF or FULL: enterprise-db and business-critical only.
    pub cdc_enrichment_mode: Option<String>,
}

/// The types whose instances have secondaries, and CDC enrichment.
pub const SECONDARIES_TYPES: &[&str] = &["enterprise-db"];
pub const CDC_TYPES: &[&str] = &["enterprise-db", "business-critical"];
pub const CDC_MODES: &[&str] = &["OFF", "DIFF", "FULL"];

impl UpdateSpec {
    pub fn is_rename_only(&self) -> bool {
        self.name.is_some()
            && self.memory.is_none()
            && self.storage.is_none()
            && self.vector_optimized.is_none()
            && self.graph_analytics_plugin.is_none()
            && self.secondaries_count.is_none()
            && self.cdc_enrichment_mode.is_none()
    }
}

/// A validated upgrade: the new type and the target size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeSpec {
    pub instance_type: String,
    pub memory: String,
    pub storage: String,
}

/// Parses a request body: empty counts as `{}` only when `empty_ok`.
pub fn parse_object(body: &[u8], empty_ok: bool) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok {
            Ok(Map::new())
        } else {
            Err(ApiError::bad_request("The request body is empty"))
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

pub(super) fn required_str(obj: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(ApiError::field(field, format!("{field} is required"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::field(field, format!("{field} must be a string"))),
    }
}

pub(super) fn optional_str(
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field(field, format!("{field} must be a string"))),
    }
}

pub(super) fn optional_bool(
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<bool>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::field(field, format!("{field} must be a boolean"))),
    }
}

/// 1 to 30 characters, no leading or trailing whitespace (the documented
/// rule), and no control characters (NUL, newlines, escapes) anywhere.
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    if len == 0 || len > 30 {
        return Err(ApiError::field(
            "name",
            "name must be between 1 and 30 characters long",
        ));
    }
    if name.trim() != name {
        return Err(ApiError::field(
            "name",
            "name must not have leading or trailing whitespace",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::field(
            "name",
            "name must not contain control characters",
        ));
    }
    Ok(())
}

/// Every field a create body may carry (the schema's, plus `storage`).
pub const CREATE_FIELDS: &[&str] = &[
    "version",
    "region",
    "memory",
    "name",
    "type",
    "tenant_id",
    "cloud_provider",
    "storage",
    "vector_optimized",
    "graph_analytics_plugin",
    "customer_managed_key_id",
    "source_instance_id",
    "source_snapshot_id",
];

/// Validates a create body against the tenants and the catalogue.
pub fn parse_create(
    obj: &Map<String, Value>,
    tenants: &[TenantSummary],
    catalogue: &[InstanceConfiguration],
) -> Result<CreateSpec, ApiError> {
    // Required fields in the order the schema lists them.
    let version = required_str(obj, "version")?;
    let region = required_str(obj, "region")?;
    let memory = required_str(obj, "memory")?;
    let name = required_str(obj, "name")?;
    let instance_type = required_str(obj, "type")?;
    let tenant_id = required_str(obj, "tenant_id")?;
    let cloud_provider = required_str(obj, "cloud_provider")?;
    let storage = optional_str(obj, "storage")?;
    let vector_optimized = optional_bool(obj, "vector_optimized")?.unwrap_or(false);
    let graph_analytics_plugin = optional_bool(obj, "graph_analytics_plugin")?.unwrap_or(false);
    let source_instance_id = optional_str(obj, "source_instance_id")?;
    let source_snapshot_id = optional_str(obj, "source_snapshot_id")?;
    if source_snapshot_id.is_some() && source_instance_id.is_none() {
        // The spec: "`source_instance_id` must also be provided".
        return Err(ApiError::field(
            "source_instance_id",
            "source_instance_id is required with source_snapshot_id",
        ));
    }
    let customer_managed_key_id = optional_str(obj, "customer_managed_key_id")?;
    validate_name(&name)?;

    if !tenants.iter().any(|t| t.id == tenant_id) {
        return Err(ApiError::tenant_not_found());
    }
    let storage = resolve_size(
        catalogue,
        &cloud_provider,
        &instance_type,
        &region,
        &version,
        &memory,
        storage.as_deref(),
    )?;
    Ok(CreateSpec {
        name,
        tenant_id,
        cloud_provider,
        region,
        instance_type,
        version,
        memory,
        storage,
        vector_optimized,
        graph_analytics_plugin,
        source_instance_id,
        source_snapshot_id,
        customer_managed_key_id,
    })
}

/// Validates an overwrite body: `source_instance_id` is required.
pub fn parse_overwrite(obj: &Map<String, Value>) -> Result<OverwriteSpec, ApiError> {
    let source_instance_id = required_str(obj, "source_instance_id")?;
    if source_instance_id.trim().is_empty() {
        return Err(ApiError::field(
            "source_instance_id",
            "source_instance_id must not be empty",
        ));
    }
    let source_snapshot_id = optional_str(obj, "source_snapshot_id")?;
    Ok(OverwriteSpec {
        source_instance_id,
        source_snapshot_id,
    })
}

/// Narrows the catalogue one field at a time so the 400 names the first field
/// that makes the combination impossible; returns the storage to use.
fn resolve_size(
    catalogue: &[InstanceConfiguration],
    cloud_provider: &str,
    instance_type: &str,
    region: &str,
    version: &str,
    memory: &str,
    storage: Option<&str>,
) -> Result<String, ApiError> {
    // The service takes its words exactly as written.
    let exact = |words: Vec<&str>, have: &str| words.contains(&have);
    if !exact(CloudProvider::words(), cloud_provider) {
        return Err(ApiError::field(
            "cloud_provider",
            format!(
                "cloud_provider must be one of {}, got '{cloud_provider}'",
                CloudProvider::words().join(", ")
            ),
        ));
    }
    if !exact(InstanceType::words(), instance_type) {
        return Err(ApiError::field(
            "type",
            format!("Unknown instance type '{instance_type}'"),
        ));
    }
    let m: Vec<&InstanceConfiguration> = catalogue
        .iter()
        .filter(|c| c.cloud_provider == cloud_provider && c.instance_type == instance_type)
        .collect();
    if m.is_empty() {
        return Err(ApiError::field(
            "type",
            format!("Instance type {instance_type} is not available on {cloud_provider}"),
        ));
    }
    let m: Vec<_> = m.into_iter().filter(|c| c.region == region).collect();
    if m.is_empty() {
        return Err(ApiError::field(
            "region",
            format!("Region {region} is not available for {instance_type} on {cloud_provider}"),
        ));
    }
    let m: Vec<_> = m.into_iter().filter(|c| c.version == version).collect();
    if m.is_empty() {
        return Err(ApiError::field(
            "version",
            format!("Version '{version}' is not available for {instance_type} in {region}"),
        ));
    }
    let m: Vec<_> = m.into_iter().filter(|c| c.memory == memory).collect();
    let Some(first) = m.first() else {
        return Err(ApiError::field(
            "memory",
            format!("Memory {memory} is not available for {instance_type} in {region}"),
        ));
    };
    match storage {
        // A row that names no storage takes any, and defaults to twice the memory.
        None => Ok(first.storage.clone().unwrap_or_else(|| times_gb(memory, 2))),
        Some(s)
            if m.iter()
                .any(|c| c.storage.as_deref().is_none_or(|have| have == s)) =>
        {
            Ok(s.to_string())
        }
        Some(s) => Err(ApiError::field(
            "storage",
            format!("Storage {s} is not available with memory {memory} for {instance_type}"),
        )),
    }
}

/// Validates a PATCH body against the instance's placement.
pub fn parse_update(
    obj: &Map<String, Value>,
    at: &Placement,
    catalogue: &[InstanceConfiguration],
) -> Result<UpdateSpec, ApiError> {
    let name = optional_str(obj, "name")?;
    if let Some(n) = &name {
        validate_name(n)?;
    }
    let memory = optional_str(obj, "memory")?;
    let storage = optional_str(obj, "storage")?;
    let vector_optimized = optional_bool(obj, "vector_optimized")?;
    let graph_analytics_plugin = optional_bool(obj, "graph_analytics_plugin")?;
    let secondaries_count = match obj.get("secondaries_count") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            ApiError::field(
                "secondaries_count",
                "secondaries_count must be a whole number",
            )
        })?),
    };
    if secondaries_count.is_some() && !SECONDARIES_TYPES.contains(&at.instance_type.as_str()) {
        return Err(ApiError::field(
            "secondaries_count",
            format!(
                "Secondaries are only available for Virtual Dedicated Cloud instances, this one is {}",
                at.instance_type
            ),
        ));
    }
    let cdc_enrichment_mode = optional_str(obj, "cdc_enrichment_mode")?;
    if let Some(mode) = &cdc_enrichment_mode {
        if !CDC_MODES.contains(&mode.as_str()) {
            return Err(ApiError::field(
                "cdc_enrichment_mode",
                "cdc_enrichment_mode must be one of OFF, DIFF, FULL",
            ));
        }
        if !CDC_TYPES.contains(&at.instance_type.as_str()) {
            return Err(ApiError::field(
                "cdc_enrichment_mode",
                format!(
                    "CDC enrichment is only available for Virtual Dedicated Cloud and Business Critical instances, this one is {}",
                    at.instance_type
                ),
            ));
        }
    }

    let (memory, storage) = if memory.is_some() || storage.is_some() {
        let target_memory = memory.clone().unwrap_or_else(|| at.memory.clone());
        let resolved = match (&memory, &storage) {
            // A memory-only resize keeps the storage if still offered, else the default.
            (Some(_), None) => resolve_size(
                catalogue,
                &at.cloud_provider,
                &at.instance_type,
                &at.region,
                &at.version,
                &target_memory,
                Some(&at.storage),
            )
            .or_else(|_| {
                resolve_size(
                    catalogue,
                    &at.cloud_provider,
                    &at.instance_type,
                    &at.region,
                    &at.version,
                    &target_memory,
                    None,
                )
            })?,
            _ => resolve_size(
                catalogue,
                &at.cloud_provider,
                &at.instance_type,
                &at.region,
                &at.version,
                &target_memory,
                storage.as_deref(),
            )?,
        };
        (Some(target_memory), Some(resolved))
    } else {
        (None, None)
    };
    let spec = UpdateSpec {
        name,
        memory,
        storage,
        vector_optimized,
        graph_analytics_plugin,
        secondaries_count,
        cdc_enrichment_mode,
    };
    if spec == UpdateSpec::default() {
        return Err(ApiError::bad_request(
            "The request body contains no change to apply",
        ));
    }
    Ok(spec)
}

/// Validates an upgrade body: only professional-db may become business-critical;
/// memory and storage are optional but come together.
pub fn parse_upgrade(
    obj: &Map<String, Value>,
    at: &Placement,
    catalogue: &[InstanceConfiguration],
) -> Result<UpgradeSpec, ApiError> {
    let target =
        optional_str(obj, "type")?.unwrap_or_else(|| InstanceType::BusinessCritical.to_string());
    if target != InstanceType::BusinessCritical.as_str() {
        return Err(ApiError::field(
            "type",
            "Instances can only be upgraded to business-critical",
        ));
    }
    let memory = optional_str(obj, "memory")?;
    let storage = optional_str(obj, "storage")?;
    match (&memory, &storage) {
        (Some(_), None) => return Err(ApiError::field("storage", "storage must come with memory")),
        (None, Some(_)) => return Err(ApiError::field("memory", "memory must come with storage")),
        _ => {}
    }
    if at.instance_type != InstanceType::ProfessionalDb.as_str() {
        return Err(ApiError::api(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported-upgrade",
            format!(
                "Only professional-db instances can be upgraded, this one is {}",
                at.instance_type
            ),
        ));
    }
    let memory = memory.unwrap_or_else(|| at.memory.clone());
    let storage = storage.unwrap_or_else(|| at.storage.clone());
    let storage = resolve_size(
        catalogue,
        &at.cloud_provider,
        &target,
        &at.region,
        &at.version,
        &memory,
        Some(&storage),
    )?;
    Ok(UpgradeSpec {
        instance_type: target,
        memory,
        storage,
    })
}

#[cfg(test)]
#[path = "catalogue_tests.rs"]
mod tests;
