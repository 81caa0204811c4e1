//! One AuraInstance manifest per Aura instance, and the whole output around
//! them: pure, from what Aura answered.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_yaml::{Mapping, Value};

use super::yaml::{comment, yaml_of};
use super::{Listing, MAX_NAME, Options, Output, Skipped};
use crate::api::{AuraInstance, CdcMode, CloudProvider, InstanceType, MemorySize};
use crate::aura::{Instance, InstanceStatus, TenantSummary};
use kube::Resource as _;

/// metadata.name made from an Aura name: lower-case ASCII letters and digits,
/// every run of other characters one '-', trimmed, at most 30 characters;
/// `aura-<id>` when nothing is left.
pub fn base_name(aura_name: &str, id: &str) -> String {
    let name = dns_fragment(aura_name, MAX_NAME);
    if !name.is_empty() {
        return name;
    }
    match dns_fragment(id, 52) {
        id if id.is_empty() => "aura-instance".to_string(),
        id => format!("aura-{id}"),
    }
}

pub(super) fn dns_fragment(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// One metadata.name per (Aura name, id), in order: a name already given
/// gets `-<id>` appended (and a counter, should that be taken too), so that
/// the names of one output are unique.
pub fn object_names<'a>(instances: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut used = BTreeSet::new();
    let mut names = Vec::new();
    for (aura_name, id) in instances {
        let base = base_name(aura_name, id);
        let mut name = base.clone();
        if used.contains(&name) {
            let suffix = match dns_fragment(id, 52) {
                s if s.is_empty() => "instance".to_string(),
                s => s,
            };
            name = format!("{base}-{suffix}");
            let mut n = 2;
            while used.contains(&name) {
                name = format!("{base}-{suffix}-{n}");
                n += 1;
            }
        }
        used.insert(name.clone());
        names.push(name);
    }
    names
}

/// Aura's CDC mode as a manifest writes it (`OFF` reads `Off`).
pub fn cdc_mode_word(mode: CdcMode) -> &'static str {
    mode.as_str()
}

/// A storage size as the CRD takes it (`16GB`), whatever the letter case.
pub(super) fn storage_size(text: &str) -> Option<String> {
    let digits = text
        .strip_suffix("GB")
        .or_else(|| text.strip_suffix("gb"))
        .or_else(|| text.strip_suffix("Gb"))
        .or_else(|| text.strip_suffix("gB"))?;
    let ok = !digits.is_empty()
        && !digits.starts_with('0')
        && digits.len() <= 6
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("{digits}GB"))
}

pub(super) fn is_instance_id(id: &str) -> bool {
    id.len() == 8
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(super) fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

pub(super) fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Mapping(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// One instance, ready to be built.
pub(super) struct Entry<'a> {
    listed_tenant: &'a str,
    tenant_name: &'a str,
    instance: &'a Instance,
    aura_name: &'a str,
}

/// The manifest of one instance and what the CRD would refuse in it. A
/// refused value is written as Aura reported it, never fixed.
pub(super) fn manifest(e: &Entry, name: &str, opts: &Options) -> (Value, Vec<String>) {
    let mut spec = Spec::default();
    spec.put("managementPolicy", s("ObserveOnly"));
    spec.identity(e);
    spec.placement(e.instance);
    spec.name(e, name);
    spec.settings(e.instance, name, opts);
    let mut metadata = Mapping::new();
    metadata.insert(s("name"), s(name));
    if let Some(ns) = &opts.namespace {
        metadata.insert(s("namespace"), s(ns));
    }
    let doc = map([
        ("apiVersion", s(&AuraInstance::api_version(&()))),
        ("kind", s("AuraInstance")),
        ("metadata", Value::Mapping(metadata)),
        ("spec", Value::Mapping(spec.fields)),
    ]);
    (doc, spec.problems)
}

/// A spec being written, and what the CRD would refuse in it.
#[derive(Default)]
struct Spec {
    fields: Mapping,
    problems: Vec<String>,
}

impl Spec {
    fn put(&mut self, key: &str, value: Value) {
        self.fields.insert(s(key), value);
    }

    /// A value of one of the CRD's words, or as Aura reported it with the
    /// problem `refused` words; `what` names it when Aura reports none.
    fn word<T>(
        &mut self,
        (key, what): (&str, &str),
        reported: Option<&str>,
        parse: impl Fn(&str) -> Option<T>,
        word: impl Fn(&T) -> &'static str,
        refused: impl Fn(&str) -> String,
    ) -> Option<T> {
        let Some(text) = reported else {
            self.problems.push(format!("Aura reports no {what}"));
            return None;
        };
        match parse(text) {
            Some(value) => {
                self.put(key, s(word(&value)));
                Some(value)
            }
            None => {
                self.problems.push(refused(text));
                self.put(key, s(text));
                None
            }
        }
    }

    /// Which instance, in which tenant.
    fn identity(&mut self, e: &Entry) {
        let i = e.instance;
        if !is_instance_id(&i.id) {
            self.problems.push(format!(
                "instance id {:?} is not 8 lower-case hex characters, as instanceId must be",
                i.id
            ));
        }
        self.put("instanceId", s(&i.id));
        let tenant = i.tenant_id.as_deref().unwrap_or(e.listed_tenant);
        if !is_uuid(tenant) {
            self.problems.push(format!(
                "tenant id {tenant:?} is not a UUID, as tenantId must be"
            ));
        }
        self.put("tenantId", s(tenant));
    }

    /// The Aura name, where it differs from the object's.
    fn name(&mut self, e: &Entry, name: &str) {
        if e.aura_name.is_empty() {
            self.problems.push(format!(
                "Aura reports no name: spec.name cannot be empty, and without it the \
                 operator would rename the instance to {name:?} once managed fully"
            ));
        } else if e.aura_name != name {
            if e.aura_name.chars().count() > MAX_NAME {
                self.problems.push(format!(
                    "name {:?} is longer than 30 characters, the most spec.name allows",
                    e.aura_name
                ));
            }
            self.put("name", s(e.aura_name));
        }
    }

    /// Where it runs and how big it is.
    fn placement(&mut self, i: &Instance) {
        self.word(
            ("cloudProvider", "cloud provider"),
            i.cloud_provider.as_deref(),
            CloudProvider::parse,
            |p| p.as_str(),
            |text| {
                format!(
                    "cloud provider {text:?} is not one the CRD allows ({})",
                    CloudProvider::words().join(", ")
                )
            },
        );
        match i.region.as_deref() {
            None => self.problems.push("Aura reports no region".into()),
            Some(text) => {
                if text.chars().count() > 64 {
                    self.problems.push(format!(
                        "region {text:?} is longer than 64 characters, the most the CRD allows"
                    ));
                }
                self.put("region", s(text));
            }
        }
        let instance_type = self.word(
            ("type", "type"),
            i.instance_type.as_deref(),
            InstanceType::parse,
            |t| t.as_str(),
            |text| {
                format!(
                    "type {text:?} is not one the CRD allows ({})",
                    InstanceType::words().join(", ")
                )
            },
        );
        self.word(
            ("memory", "memory size"),
            i.memory.as_deref(),
            MemorySize::parse,
            |m| m.as_str(),
            |text| {
                format!(
                    "memory {text:?} is not a size the CRD allows ({})",
                    MemorySize::words().join(", ")
                )
            },
        );
        // Aura sizes free instances itself, and the CRD refuses storage for them.
        if let Some(text) = i.storage.as_deref()
            && instance_type != Some(InstanceType::FreeDb)
        {
            match storage_size(text) {
                Some(size) => self.put("storage", s(&size)),
                None => {
                    self.problems.push(format!(
                        "storage {text:?} is not a size like 16GB, as the CRD requires"
                    ));
                    self.put("storage", s(text));
                }
            }
        }
    }

    /// Its settings, and how the object keeps it (Orphan, ObserveOnly).
    fn settings(&mut self, i: &Instance, name: &str, opts: &Options) {
        if let Some(v) = i.vector_optimized {
            self.put("vectorOptimized", Value::Bool(v));
        }
        if let Some(v) = i.graph_analytics_plugin {
            self.put("graphAnalyticsPlugin", Value::Bool(v));
        }
        if let Some(n) = i.secondaries_count {
            self.put("secondariesCount", Value::Number(n.into()));
        }
        if let Some(text) = i.cdc_enrichment_mode.as_deref() {
            match CdcMode::parse(text) {
                Some(mode) => self.put("cdcEnrichmentMode", s(cdc_mode_word(mode))),
                None => {
                    self.problems.push(format!(
                        "CDC enrichment mode {text:?} is not one the CRD allows (Aura's {})",
                        CdcMode::words().join(", ")
                    ));
                    self.put("cdcEnrichmentMode", s(text));
                }
            }
        }
        if let Some(key) = i.customer_managed_key_id.as_deref() {
            self.put("customerManagedKeyId", s(key));
        }
        // A paused instance stays paused once the object manages it fully.
        if matches!(i.status, InstanceStatus::Paused | InstanceStatus::Pausing) {
            self.put("paused", Value::Bool(true));
        }
        self.put("deletionPolicy", s("Orphan"));
        if let Some(secret) = &opts.credentials_secret {
            self.put("credentialsSecretRef", map([("name", s(secret))]));
        }
        self.put(
            "connectionSecret",
            map([("name", s(&format!("{name}-connection")))]),
        );
    }
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The patch command that writes the password of `name`.
pub(super) fn password_command(namespace: &str, name: &str) -> String {
    format!(
        "kubectl -n {namespace} patch secret {name}-connection --type merge -p '{{\"stringData\":{{\"NEO4J_PASSWORD\":\"...\"}}}}'"
    )
}

/// The whole output for what Aura answered: a header, then one manifest per
/// instance (by tenant id, Aura name, instance id) or, where the CRD would
/// refuse a value, the manifest as a comment with the reasons.
pub fn render(listing: &Listing, opts: &Options) -> Output {
    let tenant_name = |id: &str| -> &str {
        listing
            .tenants
            .iter()
            .find(|t| t.id == id)
            .map_or("", |t| t.name.as_str())
    };
    let mut entries: Vec<Entry> = listing
        .instances
        .iter()
        .map(|(tenant, instance)| Entry {
            listed_tenant: tenant,
            tenant_name: tenant_name(tenant),
            instance,
            aura_name: instance.name.as_deref().unwrap_or(""),
        })
        .collect();
    entries.sort_by(|a, b| {
        (a.listed_tenant, a.aura_name, &a.instance.id).cmp(&(
            b.listed_tenant,
            b.aura_name,
            &b.instance.id,
        ))
    });
    let names = object_names(
        entries
            .iter()
            .map(|e| (e.aura_name, e.instance.id.as_str())),
    );
    let namespace = opts.namespace.as_deref().unwrap_or("<namespace>");

    let mut body = String::new();
    let mut printed = 0;
    let mut skipped = Vec::new();
    for (e, name) in entries.iter().zip(&names) {
        let (doc, problems) = manifest(e, name, opts);
        let tenant = match e.tenant_name {
            "" => e.listed_tenant.to_string(),
            n => format!("{n} ({})", e.listed_tenant),
        };
        let about = format!(
            "Aura instance {:?} ({}) in tenant {tenant}, status {}",
            e.aura_name, e.instance.id, e.instance.status
        );
        if problems.is_empty() {
            printed += 1;
            body.push_str("---\n");
            comment(&mut body, &about);
            comment(
                &mut body,
                &format!("Password: {}", password_command(namespace, name)),
            );
            body.push_str(&yaml_of(&doc));
        } else {
            body.push('\n');
            comment(
                &mut body,
                &format!("SKIPPED {about}: the operator's CRD would refuse its manifest:"),
            );
            for p in &problems {
                comment(&mut body, &format!("  - {p}"));
            }
            comment(
                &mut body,
                "The manifest as Aura reports it, for a person to correct:",
            );
            comment(&mut body, &yaml_of(&doc));
            body.push('\n');
            skipped.push(Skipped {
                instance_id: e.instance.id.clone(),
                aura_name: e.aura_name.to_string(),
                tenant_id: e.listed_tenant.to_string(),
                reasons: problems,
            });
        }
    }

    let header = header(listing, opts, printed, skipped.len(), namespace);
    Output {
        yaml: header + &body,
        printed,
        skipped,
        gone: listing.gone.len(),
    }
}

pub(super) fn header(
    listing: &Listing,
    opts: &Options,
    printed: usize,
    skipped: usize,
    namespace: &str,
) -> String {
    let mut tenants: Vec<&TenantSummary> = listing.tenants.iter().collect();
    tenants.sort_by(|a, b| a.id.cmp(&b.id));
    let total = listing.instances.len();
    let mut h = String::new();
    let _ = writeln!(
        h,
        "AuraInstance objects for Neo4j Aura instances made outside the operator,\n\
         written by `aura-operator import`.\n"
    );
    if listing.one_tenant {
        h.push_str("Listed: one tenant (--tenant-id):\n");
    } else {
        let _ = writeln!(
            h,
            "Listed: every tenant these credentials see ({}):",
            tenants.len()
        );
    }
    for t in &tenants {
        let count = listing
            .instances
            .iter()
            .filter(|(id, _)| *id == t.id)
            .count();
        let name = if t.name.is_empty() {
            t.id.clone()
        } else {
            format!("{} ({})", t.name, t.id)
        };
        let _ = writeln!(h, "  {name}: {}", plural(count, "instance", "instances"));
    }
    let _ = writeln!(
        h,
        "{} in all: {} below, {}.",
        plural(total, "instance", "instances"),
        plural(printed, "manifest", "manifests"),
        match skipped {
            0 => "none skipped".to_string(),
            n => format!(
                "{n} skipped (the operator's CRD would refuse a value; each is below \
                 as a comment, with the reason)"
            ),
        }
    );
    if !listing.gone.is_empty() {
        let ids: Vec<&str> = listing.gone.iter().map(|(_, s)| s.id.as_str()).collect();
        let _ = writeln!(
            h,
            "Listed but gone before they could be read: {}.",
            ids.join(", ")
        );
    }
    h.push_str(
        "\nEach object only watches its instance: managementPolicy: ObserveOnly\n\
         means the operator reads the instance and never makes a mutating call\n\
         (no resize, rename, pause, resume or delete), and deletionPolicy: Orphan\n\
         means deleting the object never destroys the instance. To let the\n\
         operator manage an instance fully, change its managementPolicy to Full:\n\
         from then on the operator makes the instance match the spec.\n\
         \n\
         Passwords: Aura returns an instance's password only once, in the answer\n\
         to its creation, so the operator cannot put NEO4J_PASSWORD into these\n\
         instances' connection Secrets. After `kubectl apply`, the operator\n\
         creates each Secret <name>-connection itself and owns it; the object\n\
         stalls (reason PasswordUnavailable) until a person writes the password:\n",
    );
    let _ = writeln!(h, "  {}", password_command(namespace, "<name>"));
    h.push_str(
        "The object's CredentialsVerified condition then says whether the\n\
         database accepts it. Each manifest repeats the command with its names.\n",
    );
    if total > 0 {
        h.push_str(
            "\nVersion: Aura does not report an instance's Neo4j version, so\n\
             spec.version is left out; it matters only to a create, and these\n\
             instances exist already.\n",
        );
    }
    if opts.namespace.is_none() {
        h.push_str("\nNo metadata.namespace: apply with kubectl -n <namespace> apply -f -.\n");
    }
    if opts.credentials_secret.is_none() {
        h.push_str(
            "\nNo credentialsSecretRef: these objects use the ClusterAuraProject named\n\
             default, which must allow their namespace and whose credentials must see\n\
             these tenants.\n",
        );
    }
    let mut out = String::new();
    comment(&mut out, &h);
    out
}
