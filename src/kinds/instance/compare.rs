//! The spec against what Aura reports: which operation comes next, the PATCH
//! body, whether an instance sits where the spec says, and whether the tenant
//! offers what the spec asks. Pure; a field Aura does not report is never drift.

use crate::api::{AuraInstanceSpec, AuraVersion, CdcMode, InstanceType};
use crate::aura::lenient::same;
use crate::aura::model::{
    CreateInstanceRequest, Instance, InstanceConfiguration, InstanceStatus, Tenant,
    UpdateInstanceRequest,
};

/// The change the spec asks of Aura, one at a time (the next waits until
/// Aura settles); `decide` turns it into an action with its status.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecChange {
    None,
    Pause,
    Resume,
    Upgrade(InstanceType),
    Update(UpdateInstanceRequest),
}

/// The spec held against one answer of Aura, compared once per pass: what
/// the pass reads next and what `decide` does both come from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Compared {
    /// The instance sits elsewhere than the spec says (then nothing else counts).
    pub mismatch: Option<String>,
    /// Every field where Aura differs from the spec.
    pub update: UpdateInstanceRequest,
    /// The operation that comes next.
    pub next: Option<SpecChange>,
}

impl Compared {
    pub fn of(spec: &AuraInstanceSpec, name: &str, instance: &Instance) -> Self {
        let update = update_request(spec, name, instance);
        Self {
            mismatch: placement_mismatch(spec, instance),
            next: Some(next_operation(spec, &update, instance)),
            update,
        }
    }

    /// A memory or storage change is pending (checked against the catalogue first).
    pub fn resizes(&self) -> bool {
        self.update.memory.is_some() || self.update.storage.is_some()
    }

    /// The next operation (none before an instance was seen).
    pub fn next(&self) -> &SpecChange {
        self.next.as_ref().unwrap_or(&SpecChange::None)
    }
}

/// The next operation that brings the instance towards the spec; `update`
/// is [`update_request`]'s answer for it.
pub fn next_operation(
    spec: &AuraInstanceSpec,
    update: &UpdateInstanceRequest,
    instance: &Instance,
) -> SpecChange {
    match instance.status {
        InstanceStatus::Paused if !spec.paused => return SpecChange::Resume,
        InstanceStatus::Running => {}
        _ => return SpecChange::None,
    }
    if spec.paused {
        return SpecChange::Pause;
    }
    // A type Aura does not report is never drift.
    if let Some(have) = instance.instance_type.as_deref()
        && !spec.instance_type.is(have)
    {
        // Admission allows only professional-db -> business-critical.
        return SpecChange::Upgrade(spec.instance_type);
    }
    if *update == UpdateInstanceRequest::default() {
        SpecChange::None
    } else {
        SpecChange::Update(update.clone())
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
        memory: text_differs(spec.memory.as_str(), instance.memory.as_deref())
            .then(|| spec.memory.to_string()),
        storage: spec
            .storage
            .clone()
            .filter(|want| text_differs(want, instance.storage.as_deref())),
        vector_optimized: differs(spec.vector_optimized, instance.vector_optimized),
        graph_analytics_plugin: differs(
            spec.graph_analytics_plugin,
            instance.graph_analytics_plugin,
        ),
        secondaries_count: after_create_differs(
            spec.secondaries_count.map(u64::from),
            instance.secondaries_count,
            0,
        ),
        cdc_enrichment_mode: spec
            .cdc_enrichment_mode
            .filter(|want| {
                let have = instance.cdc_enrichment_mode.as_deref();
                match have.and_then(CdcMode::parse) {
                    Some(h) => h != *want,
                    // A value this build does not know is not drift.
                    None if have.is_some() => false,
                    None => *want != CdcMode::Off,
                }
            })
            .map(|m| m.aura_word().to_string()),
    }
}

/// A setting that Aura applies only by PATCH after the create (secondaries,
/// CDC): what it reports is compared; one it does not report is taken for
/// the default, so that asking for more is sent once (and a type that does
/// not allow it is refused by Aura, which stalls), while asking for the
/// default never starts a loop.
fn after_create_differs<T: PartialEq + Copy>(
    want: Option<T>,
    have: Option<T>,
    default: T,
) -> Option<T> {
    let want = want?;
    (have.unwrap_or(default) != want).then_some(want)
}

pub fn describe_update(r: &UpdateInstanceRequest) -> String {
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
    if let Some(n) = r.secondaries_count {
        parts.push(format!("secondariesCount to {n}"));
    }
    if let Some(m) = &r.cdc_enrichment_mode {
        parts.push(format!("cdcEnrichmentMode to {m}"));
    }
    parts.join(", ")
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
        spec.cloud_provider.as_str(),
    );
    compare("region", instance.region.as_deref(), &spec.region);
    // A v1 name and a tier name of the same type are no mismatch.
    let reported = instance.instance_type.as_deref();
    let fits = reported
        .and_then(InstanceType::parse)
        .is_some_and(|have| have == spec.instance_type || have.upgrades_to(spec.instance_type));
    if !fits {
        compare("type", reported, spec.instance_type.as_str());
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

/// The body of `POST /instances` for this spec.
pub fn create_request(
    spec: &AuraInstanceSpec,
    version: AuraVersion,
    name: &str,
    tenant_id: &str,
) -> CreateInstanceRequest {
    CreateInstanceRequest {
        version: version.to_string(),
        region: spec.region.clone(),
        memory: spec.memory.to_string(),
        name: name.to_string(),
        instance_type: spec.instance_type.to_string(),
        tenant_id: tenant_id.to_string(),
        cloud_provider: spec.cloud_provider.to_string(),
        storage: spec.storage.clone(),
        vector_optimized: spec.vector_optimized,
        graph_analytics_plugin: spec.graph_analytics_plugin,
        customer_managed_key_id: spec.customer_managed_key_id.clone(),
        source_instance_id: None,
        source_snapshot_id: None,
    }
}

/// Checks the spec against the tenant's catalogue; the error says what is
/// offered. Answers the version to create: the spec's, or without one the
/// newest the fitting configurations offer (Aura's v1 create needs one).
pub fn check_offered(spec: &AuraInstanceSpec, tenant: &Tenant) -> Result<AuraVersion, String> {
    let wanted_version = |c: &InstanceConfiguration| spec.version.is_none_or(|v| v.is(&c.version));
    let configs = &tenant.instance_configurations;
    let same_place = |c: &&InstanceConfiguration| {
        spec.cloud_provider.is(&c.cloud_provider)
            && same(&c.region, &spec.region)
            && spec.instance_type.is(&c.instance_type)
    };
    let offered: Vec<&InstanceConfiguration> = configs.iter().filter(same_place).collect();
    if offered.is_empty() {
        let mut regions: Vec<&str> = configs
            .iter()
            .filter(|c| {
                spec.cloud_provider.is(&c.cloud_provider) && spec.instance_type.is(&c.instance_type)
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
        wanted_version(c)
            && spec.memory.is(&c.memory)
            && spec
                .storage
                .as_ref()
                .is_none_or(|s| c.storage.as_deref().is_none_or(|have| same(have, s)))
    };
    let fitting: Vec<&&InstanceConfiguration> = offered.iter().filter(|c| fits(c)).collect();
    if !fitting.is_empty() {
        let newest = fitting
            .iter()
            .filter_map(|c| AuraVersion::parse(&c.version))
            .max();
        // A catalogue naming no version this build knows: the newest it knows.
        let fallback = AuraVersion::ALL[AuraVersion::ALL.len() - 1];
        return Ok(spec.version.or(newest).unwrap_or(fallback));
    }
    let mut sizes: Vec<String> = offered
        .iter()
        .filter(|c| wanted_version(c))
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
            spec.version.map_or("(any)", AuraVersion::as_str),
            spec.instance_type,
            spec.cloud_provider,
            spec.region,
            versions.join(", ")
        ));
    }
    Err(format!(
        "memory {}{} is not offered for {}{} on {} in {}; offered memory/storage: {}",
        spec.memory,
        spec.storage
            .as_ref()
            .map(|s| format!(" with storage {s}"))
            .unwrap_or_default(),
        spec.instance_type,
        spec.version
            .map(|v| format!(" version {v}"))
            .unwrap_or_default(),
        spec.cloud_provider,
        spec.region,
        sizes.join(", ")
    ))
}
