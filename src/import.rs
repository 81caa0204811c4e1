//! `aura-operator import`: AuraInstance manifests for the Aura instances a set
//! of API credentials can see (issue 18), printed on stdout as multi-document
//! YAML, ready for `kubectl apply -f -` or a Git repository.
//!
//! Every manifest adopts its instance read-only (`managementPolicy:
//! ObserveOnly`, `deletionPolicy: Orphan`). [`render`] is pure: it turns what
//! Aura answered into the text to print, and is table-tested below. [`run`]
//! only lists and reads (`GET /tenants`, `GET /instances?tenantId=`,
//! `GET /instances/{id}`), never a mutating call.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use futures::{StreamExt, TryStreamExt};
use serde_yaml::{Mapping, Value};

use crate::api::{CdcMode, CloudProvider, InstanceType, MemorySize};
use crate::aura::{
    AuraClients, AuraError, AuraErrorKind, ClientConfig, Credentials, Instance, InstanceStatus,
    InstanceSummary, TenantSummary,
};

/// The longest metadata.name made from an Aura name (the limit of an Aura
/// name, and of metadata.name when spec.name is not set).
const MAX_NAME: usize = 30;

/// Instances read at once (the client's rate limiter paces them anyway).
const READS_AT_ONCE: usize = 4;

/// `aura-operator import` flags.
#[derive(Clone, clap::Args)]
pub struct ImportArgs {
    /// Base URL of the Aura API.
    #[arg(long, env = "AURA_BASE_URL", default_value = "https://api.neo4j.io")]
    pub aura_base_url: String,

    /// Aura API client id.
    #[arg(long, env = "AURA_CLIENT_ID")]
    pub client_id: String,

    /// Aura API client secret. Prefer the environment variable: a flag shows
    /// in the process list. Never printed.
    #[arg(long, env = "AURA_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: String,

    /// Only this tenant (a "project" in the Aura console); every tenant the
    /// credentials see when omitted.
    #[arg(long, env = "AURA_TENANT_ID")]
    pub tenant_id: Option<String>,

    /// metadata.namespace of every manifest; omitted, kubectl's namespace applies.
    #[arg(long, env = "AURA_IMPORT_NAMESPACE", value_parser = parse_namespace)]
    pub namespace: Option<String>,

    /// Secret in that namespace with the keys clientId and clientSecret,
    /// written as spec.credentialsSecretRef.name; omitted, the operator's
    /// default credentials are used.
    #[arg(long, env = "AURA_IMPORT_CREDENTIALS_SECRET", value_parser = parse_secret_name)]
    pub credentials_secret: Option<String>,
}

impl fmt::Debug for ImportArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportArgs")
            .field("aura_base_url", &self.aura_base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("tenant_id", &self.tenant_id)
            .field("namespace", &self.namespace)
            .field("credentials_secret", &self.credentials_secret)
            .finish()
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn parse_namespace(s: &str) -> Result<String, String> {
    if is_dns_label(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a namespace name (a DNS label: at most 63 lower-case letters, digits and '-')"
        ))
    }
}

fn parse_secret_name(s: &str) -> Result<String, String> {
    if s.len() <= 253 && s.split('.').all(is_dns_label) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a Secret name (a DNS subdomain: lower-case letters, digits, '-' and '.')"
        ))
    }
}

// ---- what Aura answered, and what to print (pure) ----

/// What [`run`] read from Aura.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The tenants listed, as `GET /tenants` names them.
    pub tenants: Vec<TenantSummary>,
    /// One tenant was asked for (`--tenant-id`), not every tenant.
    pub one_tenant: bool,
    /// Each instance read, with the id of the tenant it was listed under.
    pub instances: Vec<(String, Instance)>,
    /// Listed, but gone (404) before it could be read.
    pub gone: Vec<(String, InstanceSummary)>,
}

/// What the flags add to every manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub namespace: Option<String>,
    pub credentials_secret: Option<String>,
}

/// The text to print and what it left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The header, the manifests and the commented-out refused ones.
    pub yaml: String,
    /// Manifests printed.
    pub printed: usize,
    /// Instances printed as comments only, with the reasons.
    pub skipped: Vec<Skipped>,
    /// Listed instances that were gone before they could be read.
    pub gone: usize,
}

/// An instance whose manifest the operator's CRD would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub instance_id: String,
    pub aura_name: String,
    pub tenant_id: String,
    pub reasons: Vec<String>,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} (tenant {}): {}",
            self.instance_id,
            self.aura_name,
            self.tenant_id,
            self.reasons.join("; ")
        )
    }
}

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

fn dns_fragment(text: &str, max: usize) -> String {
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
    match mode {
        CdcMode::Off => "Off",
        CdcMode::Diff => "Diff",
        CdcMode::Full => "Full",
    }
}

/// A storage size as the CRD takes it (`16GB`), whatever the letter case.
fn storage_size(text: &str) -> Option<String> {
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

fn is_instance_id(id: &str) -> bool {
    id.len() == 8
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Mapping(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// One instance, ready to be built.
struct Entry<'a> {
    listed_tenant: &'a str,
    tenant_name: &'a str,
    instance: &'a Instance,
    aura_name: &'a str,
}

/// The manifest of one instance and what the CRD would refuse in it. A
/// refused value is written as Aura reported it, never fixed.
fn manifest(e: &Entry, name: &str, opts: &Options) -> (Value, Vec<String>) {
    let i = e.instance;
    let mut problems = Vec::new();
    let mut spec = Mapping::new();
    let mut put = |key: &str, value: Value| {
        spec.insert(s(key), value);
    };
    put("managementPolicy", s("ObserveOnly"));

    if !is_instance_id(&i.id) {
        problems.push(format!(
            "instance id {:?} is not 8 lower-case hex characters, as instanceId must be",
            i.id
        ));
    }
    put("instanceId", s(&i.id));

    let tenant = i.tenant_id.as_deref().unwrap_or(e.listed_tenant);
    if !is_uuid(tenant) {
        problems.push(format!(
            "tenant id {tenant:?} is not a UUID, as tenantId must be"
        ));
    }
    put("tenantId", s(tenant));

    match i.cloud_provider.as_deref() {
        None => problems.push("Aura reports no cloud provider".into()),
        Some(text) => match CloudProvider::parse(text) {
            Some(p) => put("cloudProvider", s(p.as_str())),
            None => {
                problems.push(format!(
                    "cloud provider {text:?} is not one the CRD allows ({})",
                    CloudProvider::words().join(", ")
                ));
                put("cloudProvider", s(text));
            }
        },
    }

    match i.region.as_deref() {
        None => problems.push("Aura reports no region".into()),
        Some(text) => {
            if text.chars().count() > 64 {
                problems.push(format!(
                    "region {text:?} is longer than 64 characters, the most the CRD allows"
                ));
            }
            put("region", s(text));
        }
    }

    let instance_type = match i.instance_type.as_deref() {
        None => {
            problems.push("Aura reports no type".into());
            None
        }
        Some(text) => match InstanceType::parse(text) {
            Some(t) => {
                put("type", s(t.as_str()));
                Some(t)
            }
            None => {
                problems.push(format!(
                    "type {text:?} is not one the CRD allows ({})",
                    InstanceType::words().join(", ")
                ));
                put("type", s(text));
                None
            }
        },
    };

    match i.memory.as_deref() {
        None => problems.push("Aura reports no memory size".into()),
        Some(text) => match MemorySize::parse(text) {
            Some(m) => put("memory", s(m.as_str())),
            None => {
                problems.push(format!(
                    "memory {text:?} is not a size the CRD allows ({})",
                    MemorySize::words().join(", ")
                ));
                put("memory", s(text));
            }
        },
    }

    // Aura sizes free instances itself, and the CRD refuses storage for them.
    if let Some(text) = i.storage.as_deref()
        && instance_type != Some(InstanceType::FreeDb)
    {
        match storage_size(text) {
            Some(size) => put("storage", s(&size)),
            None => {
                problems.push(format!(
                    "storage {text:?} is not a size like 16GB, as the CRD requires"
                ));
                put("storage", s(text));
            }
        }
    }

    if e.aura_name.is_empty() {
        problems.push(format!(
            "Aura reports no name: spec.name cannot be empty, and without it the \
             operator would rename the instance to {name:?} once managed fully"
        ));
    } else if e.aura_name != name {
        if e.aura_name.chars().count() > MAX_NAME {
            problems.push(format!(
                "name {:?} is longer than 30 characters, the most spec.name allows",
                e.aura_name
            ));
        }
        put("name", s(e.aura_name));
    }

    if let Some(v) = i.vector_optimized {
        put("vectorOptimized", Value::Bool(v));
    }
    if let Some(v) = i.graph_analytics_plugin {
        put("graphAnalyticsPlugin", Value::Bool(v));
    }
    if let Some(n) = i.secondaries_count {
        put("secondariesCount", Value::Number(n.into()));
    }
    if let Some(text) = i.cdc_enrichment_mode.as_deref() {
        match CdcMode::parse(text) {
            Some(mode) => put("cdcEnrichmentMode", s(cdc_mode_word(mode))),
            None => {
                problems.push(format!(
                    "CDC enrichment mode {text:?} is not one the CRD allows (Aura's {})",
                    CdcMode::words().join(", ")
                ));
                put("cdcEnrichmentMode", s(text));
            }
        }
    }
    if let Some(key) = i.customer_managed_key_id.as_deref() {
        put("customerManagedKeyId", s(key));
    }
    // A paused instance stays paused once the object manages it fully.
    if matches!(i.status, InstanceStatus::Paused | InstanceStatus::Pausing) {
        put("paused", Value::Bool(true));
    }
    put("deletionPolicy", s("Orphan"));
    if let Some(secret) = &opts.credentials_secret {
        put("credentialsSecretRef", map([("name", s(secret))]));
    }
    put(
        "connectionSecret",
        map([("name", s(&format!("{name}-connection")))]),
    );

    let mut metadata = Mapping::new();
    metadata.insert(s("name"), s(name));
    if let Some(ns) = &opts.namespace {
        metadata.insert(s("namespace"), s(ns));
    }
    let doc = map([
        ("apiVersion", s("aura-operator.io/v1alpha1")),
        ("kind", s("AuraInstance")),
        ("metadata", Value::Mapping(metadata)),
        ("spec", Value::Mapping(spec)),
    ]);
    (doc, problems)
}

/// A manifest as YAML that every reader takes the same way. kubectl reads
/// YAML 1.1, where a plain `Off`, `yes` or `on` is a boolean and `1234e100`
/// a number, so such strings are quoted here (serde_yaml writes YAML 1.2 and
/// leaves them plain).
fn yaml_of(doc: &Value) -> String {
    let mut out = String::new();
    if let Value::Mapping(m) = doc {
        emit_mapping(&mut out, m, 0);
    }
    out
}

fn emit_mapping(out: &mut String, m: &Mapping, indent: usize) {
    for (k, v) in m {
        let key = scalar(k);
        match v {
            Value::Mapping(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{:indent$}{key}:", "");
                emit_mapping(out, inner, indent + 2);
            }
            Value::Mapping(_) => {
                let _ = writeln!(out, "{:indent$}{key}: {{}}", "");
            }
            v => {
                let _ = writeln!(out, "{:indent$}{key}: {}", "", scalar(v));
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(text) if is_plain(text) => text.clone(),
        // A JSON string is a YAML double-quoted scalar, escapes included.
        Value::String(text) => serde_json::to_string(text).expect("a string serialises"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_else(|_| "null".into()),
    }
}

/// Whether `text` reads back as this very string, unquoted, in YAML 1.1
/// and 1.2: letters, digits and `-./`, starting with a letter or digit; no
/// boolean or null word; and, starting with a digit, a letter other than an
/// exponent's and no `0x`, `0o` or `0b` prefix (so `8GB` and `0a1b2c3d` stay
/// plain, `00012345`, `1234e100` and `0x1f` do not).
fn is_plain(text: &str) -> bool {
    const WORDS: [&str; 9] = ["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    let Some(first) = text.chars().next() else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/'))
        && !WORDS.iter().any(|w| w.eq_ignore_ascii_case(text))
        && (!first.is_ascii_digit()
            || (text
                .chars()
                .any(|c| c.is_ascii_alphabetic() && !"eE".contains(c))
                && !["0x", "0o", "0b"]
                    .iter()
                    .any(|p| text.get(..2).is_some_and(|h| h.eq_ignore_ascii_case(p)))))
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The patch command that writes the password of `name`.
fn password_command(namespace: &str, name: &str) -> String {
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

fn header(
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
             spec.version is left out and defaults to \"5\". Set version: \"4\" on an\n\
             instance that runs Neo4j 4 before changing its managementPolicy to Full.\n",
        );
    }
    if opts.namespace.is_none() {
        h.push_str("\nNo metadata.namespace: apply with kubectl -n <namespace> apply -f -.\n");
    }
    if opts.credentials_secret.is_none() {
        h.push_str(
            "\nNo credentialsSecretRef: the operator's default credentials\n\
             (--default-credentials) must see these tenants.\n",
        );
    }
    let mut out = String::new();
    comment(&mut out, &h);
    out
}

/// `text` with every occurrence of `secret` replaced: the client secret is
/// never printed, whatever an answer echoed.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "<redacted>")
    }
}

/// The stderr summary of an output.
pub fn summary(out: &Output) -> String {
    let mut s = format!(
        "aura-operator import: {} printed",
        plural(out.printed, "manifest", "manifests")
    );
    if out.skipped.is_empty() {
        s.push_str(", none skipped");
    } else {
        let _ = write!(
            s,
            "; {} skipped, because the operator's CRD would refuse a value \
             (each is printed as a comment with the reason):",
            plural(out.skipped.len(), "instance", "instances")
        );
        for k in &out.skipped {
            let _ = write!(s, "\n  - {k}");
        }
    }
    if out.gone > 0 {
        let _ = write!(
            s,
            "\n{} listed but gone before {} could be read",
            plural(out.gone, "instance was", "instances were"),
            if out.gone == 1 { "it" } else { "they" }
        );
    }
    s
}

// ---- the I/O ----

/// An Aura failure, naming the step of the import it stopped.
fn failed(step: &str, e: &AuraError) -> String {
    format!("import stopped while {step}: {e}")
}

/// The first call's failure: a refusal there is most likely the credentials.
fn failed_first(e: &AuraError, client_id: &str) -> String {
    let mut msg = failed("listing the tenants", e);
    if e.kind() == AuraErrorKind::NeedsHuman && matches!(e.status(), Some(400 | 401 | 403)) {
        let _ = write!(
            msg,
            "\n(Aura refused client {client_id:?}: check --client-id and --client-secret, \
             or AURA_CLIENT_ID and AURA_CLIENT_SECRET)"
        );
    }
    msg
}

/// Lists the tenants, their instances and reads each instance.
async fn list(args: &ImportArgs) -> Result<Listing, String> {
    let clients = AuraClients::try_new(ClientConfig {
        base_url: args.aura_base_url.clone(),
        ..Default::default()
    })?;
    let aura = clients.client(&Credentials::new(&args.client_id, &args.client_secret));
    let visible = aura
        .list_tenants()
        .await
        .map_err(|e| failed_first(&e, &args.client_id))?;
    let tenants = match &args.tenant_id {
        None => visible.clone(),
        Some(id) => vec![
            visible
                .iter()
                .find(|t| t.id == *id)
                .cloned()
                .unwrap_or(TenantSummary {
                    id: id.clone(),
                    name: String::new(),
                }),
        ],
    };

    let mut wanted: Vec<(String, InstanceSummary)> = Vec::new();
    let mut seen = BTreeSet::new();
    for t in &tenants {
        let step = format!("listing the instances of tenant {}", t.id);
        let list = aura.list_instances(&t.id).await.map_err(|e| {
            let mut msg = failed(&step, &e);
            if args.tenant_id.is_some() {
                let ids: Vec<String> = visible
                    .iter()
                    .map(|t| format!("{} ({})", t.id, t.name))
                    .collect();
                let _ = write!(
                    msg,
                    "\n(the tenants these credentials see: {})",
                    if ids.is_empty() {
                        "none".to_string()
                    } else {
                        ids.join(", ")
                    }
                );
            }
            msg
        })?;
        for summary in list {
            if seen.insert(summary.id.clone()) {
                wanted.push((t.id.clone(), summary));
            }
        }
    }

    // Each listed instance with what its GET said (None: gone, a 404).
    let reads: Vec<(String, InstanceSummary, Option<Instance>)> = futures::stream::iter(wanted)
        .map(|(tenant, summary)| {
            let aura = aura.clone();
            async move {
                match aura.get_instance(&summary.id).await {
                    Ok(instance) => Ok((tenant, summary, Some(instance))),
                    Err(e) if e.kind() == AuraErrorKind::NotFound => Ok((tenant, summary, None)),
                    Err(e) => Err(failed(
                        &format!("reading instance {} of tenant {tenant}", summary.id),
                        &e,
                    )),
                }
            }
        })
        .buffered(READS_AT_ONCE)
        .try_collect()
        .await?;

    let mut listing = Listing {
        tenants,
        one_tenant: args.tenant_id.is_some(),
        ..Listing::default()
    };
    for (tenant, summary, read) in reads {
        match read {
            Some(instance) => listing.instances.push((tenant, instance)),
            None => listing.gone.push((tenant, summary)),
        }
    }
    Ok(listing)
}

/// `aura-operator import`: the manifests on stdout, a summary on stderr.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let secret = args.client_secret.clone();
    let listing = match list(&args).await {
        Ok(listing) => listing,
        Err(msg) => anyhow::bail!("{}", redact(&msg, &secret)),
    };
    let out = render(
        &listing,
        &Options {
            namespace: args.namespace.clone(),
            credentials_secret: args.credentials_secret.clone(),
        },
    );
    print!("{}", redact(&out.yaml, &secret));
    eprintln!("{}", redact(&summary(&out), &secret));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize as _;
    use serde_json::{Value as Json, json};

    use super::*;

    const TENANT_A: &str = "ad69ee24-1b2c-4d5e-8f90-123456789abc";
    const TENANT_B: &str = "c3b1a7e0-9d8f-4e6a-b5c4-abcdefabcdef";
    const SECRET: &str = "s3cr3t-Zq8vX2pL-never-shown";

    /// An instance as `GET /instances/{id}` reports it, read by the client's
    /// tolerant reader; `changes` replace (or, as null, remove) fields.
    fn instance(id: &str, name: &str, changes: Json) -> Instance {
        let mut wire = json!({
            "id": id, "name": name, "status": "running", "tenant_id": TENANT_A,
            "cloud_provider": "gcp", "region": "europe-west1", "type": "enterprise-db",
            "memory": "8GB", "storage": "16GB",
            "connection_url": format!("neo4j+s://{id}.databases.neo4j.io"),
            "created_at": "2024-01-02T03:04:05Z",
        });
        for (k, v) in changes.as_object().expect("an object of changes") {
            if v.is_null() {
                wire.as_object_mut().unwrap().remove(k);
            } else {
                wire[k] = v.clone();
            }
        }
        serde_json::from_value(wire).expect("the tolerant reader reads it")
    }

    fn listing(instances: Vec<Instance>) -> Listing {
        Listing {
            tenants: vec![
                TenantSummary {
                    id: TENANT_B.into(),
                    name: "Team B".into(),
                },
                TenantSummary {
                    id: TENANT_A.into(),
                    name: "Team A".into(),
                },
            ],
            one_tenant: false,
            instances: instances
                .into_iter()
                .map(|i| (i.tenant_id.clone().unwrap_or_default(), i))
                .collect(),
            gone: Vec::new(),
        }
    }

    fn opts() -> Options {
        Options {
            namespace: Some("team-a".into()),
            credentials_secret: Some("aura-api".into()),
        }
    }

    /// The documents of an output, as JSON (comment-only parts are no documents).
    fn documents(yaml: &str) -> Vec<Json> {
        serde_yaml::Deserializer::from_str(yaml)
            .map(|d| {
                let v = serde_yaml::Value::deserialize(d).expect("valid YAML");
                serde_json::to_value(v).unwrap()
            })
            .filter(|v| !v.is_null())
            .collect()
    }

    fn spec_of(i: Instance) -> Json {
        let out = render(&listing(vec![i]), &opts());
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        let docs = documents(&out.yaml);
        assert_eq!(docs.len(), 1, "{}", out.yaml);
        docs[0]["spec"].clone()
    }

    #[test]
    fn names_from_aura_names() {
        let cases = [
            ("orders", "orders"),
            ("Orders", "orders"),
            ("My  Graph (prod)!", "my-graph-prod"),
            ("--x--", "x"),
            ("orders.prod_v2", "orders-prod-v2"),
            ("Café Ünïcode", "caf-n-code"),
            ("数据库", "aura-0a1b2c3d"),
            ("!!!", "aura-0a1b2c3d"),
            ("", "aura-0a1b2c3d"),
            ("   ", "aura-0a1b2c3d"),
            (
                "a-very-long-instance-name-that-goes-on",
                "a-very-long-instance-name-that",
            ),
            // Cut at 30 characters, then trimmed again.
            (
                "abcdefghijklmnopqrstuvwxyz123 tail",
                "abcdefghijklmnopqrstuvwxyz123",
            ),
            ("123 numbers first", "123-numbers-first"),
        ];
        for (aura, want) in cases {
            let got = base_name(aura, "0a1b2c3d");
            assert_eq!(got, want, "{aura:?}");
            assert!(got.len() <= 30 || got.starts_with("aura-"), "{got}");
            assert!(is_dns_label(&got), "{got} is a DNS label");
        }
    }

    #[test]
    fn names_that_collide_get_the_id_of_the_later_ones() {
        type Case = (
            &'static [(&'static str, &'static str)],
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (&[("orders", "0000000a")], &["orders"]),
            (
                &[
                    ("Orders", "0000000a"),
                    ("orders", "0000000b"),
                    ("ORDERS!", "0000000c"),
                ],
                &["orders", "orders-0000000b", "orders-0000000c"],
            ),
            // Two Aura names with nothing usable: their ids tell them apart.
            (
                &[("!!!", "0000000a"), ("???", "0000000b")],
                &["aura-0000000a", "aura-0000000b"],
            ),
            // A name another instance already took with its suffix.
            (
                &[
                    ("orders", "0000000a"),
                    ("orders", "0000000b"),
                    ("orders-0000000b", "0000000c"),
                ],
                &["orders", "orders-0000000b", "orders-0000000b-0000000c"],
            ),
            // Long names cut to the same 30 characters.
            (
                &[
                    ("a-very-long-instance-name-that-goes-on", "0000000a"),
                    ("a-very-long-instance-name-that-stops", "0000000b"),
                ],
                &[
                    "a-very-long-instance-name-that",
                    "a-very-long-instance-name-that-0000000b",
                ],
            ),
        ];
        for (input, want) in cases {
            let got = object_names(input.iter().copied());
            assert_eq!(got, *want, "{input:?}");
        }
    }

    #[test]
    fn collisions_across_tenants_keep_every_aura_name() {
        let out = render(
            &listing(vec![
                instance("0000000b", "Orders", json!({"tenant_id": TENANT_B})),
                instance("0000000a", "orders", json!({})),
                instance("0000000c", "Orders", json!({})),
            ]),
            &opts(),
        );
        let docs = documents(&out.yaml);
        let got: Vec<(&str, Option<&str>, &str)> = docs
            .iter()
            .map(|d| {
                (
                    d["metadata"]["name"].as_str().unwrap(),
                    d["spec"]["name"].as_str(),
                    d["spec"]["connectionSecret"]["name"].as_str().unwrap(),
                )
            })
            .collect();
        // Tenant A first ("Orders" sorts before "orders"), then tenant B.
        assert_eq!(
            got,
            [
                ("orders", Some("Orders"), "orders-connection"),
                (
                    "orders-0000000a",
                    Some("orders"),
                    "orders-0000000a-connection"
                ),
                (
                    "orders-0000000b",
                    Some("Orders"),
                    "orders-0000000b-connection"
                ),
            ]
        );
    }

    #[test]
    fn a_full_manifest() {
        let out = render(
            &listing(vec![instance("0a1b2c3d", "orders", json!({}))]),
            &opts(),
        );
        let docs = documents(&out.yaml);
        assert_eq!(
            docs,
            [json!({
                "apiVersion": "aura-operator.io/v1alpha1",
                "kind": "AuraInstance",
                "metadata": {"name": "orders", "namespace": "team-a"},
                "spec": {
                    "managementPolicy": "ObserveOnly",
                    "instanceId": "0a1b2c3d",
                    "tenantId": TENANT_A,
                    "cloudProvider": "gcp",
                    "region": "europe-west1",
                    "type": "enterprise-db",
                    "memory": "8GB",
                    "storage": "16GB",
                    "deletionPolicy": "Orphan",
                    "credentialsSecretRef": {"name": "aura-api"},
                    "connectionSecret": {"name": "orders-connection"},
                },
            })]
        );
        // The order a person reads it in: policy and identity first.
        let text = &out.yaml[out.yaml.find("apiVersion").unwrap()..];
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
            .map(|l| l.trim().split(':').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "name",
                "namespace",
                "managementPolicy",
                "instanceId",
                "tenantId",
                "cloudProvider",
                "region",
                "type",
                "memory",
                "storage",
                "deletionPolicy",
                "credentialsSecretRef",
                "connectionSecret",
            ]
        );
        assert_eq!(out.printed, 1);
        assert!(out.skipped.is_empty());
    }

    #[test]
    fn optional_fields_present_and_absent() {
        // (what Aura reports, keys expected with their values, keys expected absent)
        let cases: Vec<(Json, Json, &[&str])> = vec![
            (
                json!({}),
                json!({"storage": "16GB"}),
                &[
                    "name",
                    "vectorOptimized",
                    "graphAnalyticsPlugin",
                    "secondariesCount",
                    "cdcEnrichmentMode",
                    "customerManagedKeyId",
                    "paused",
                    "version",
                ],
            ),
            (json!({"storage": null}), json!({}), &["storage"]),
            (json!({"storage": "64gb"}), json!({"storage": "64GB"}), &[]),
            // Free instances: Aura's storage is never written (the CRD refuses it).
            (
                json!({"type": "free-db", "memory": "1GB", "storage": "2GB"}),
                json!({"type": "free-db", "memory": "1GB"}),
                &["storage"],
            ),
            (
                json!({"vector_optimized": true, "graph_analytics_plugin": false}),
                json!({"vectorOptimized": true, "graphAnalyticsPlugin": false}),
                &[],
            ),
            (
                json!({"vector_optimized": "False", "graph_analytics_plugin": 1}),
                json!({"vectorOptimized": false, "graphAnalyticsPlugin": true}),
                &[],
            ),
            (
                json!({"secondaries_count": 2}),
                json!({"secondariesCount": 2}),
                &[],
            ),
            (
                json!({"secondaries_count": "0"}),
                json!({"secondariesCount": 0}),
                &[],
            ),
            (
                json!({"secondaries_count": null, "cdc_enrichment_mode": null}),
                json!({}),
                &["secondariesCount", "cdcEnrichmentMode"],
            ),
            (
                json!({"customer_managed_key_id": "key-1"}),
                json!({"customerManagedKeyId": "key-1"}),
                &[],
            ),
            (
                json!({"customer_managed_key_id": ""}),
                json!({}),
                &["customerManagedKeyId"],
            ),
            // Never part of the spec.
            (
                json!({"metrics_integration_url": "https://example.test/metrics"}),
                json!({}),
                &["metricsIntegrationUrl"],
            ),
            (json!({"status": "paused"}), json!({"paused": true}), &[]),
            (json!({"status": "Pausing"}), json!({"paused": true}), &[]),
            (json!({"status": "suspended"}), json!({}), &["paused"]),
            (json!({"status": null}), json!({}), &["paused"]),
            // Aura's words in any case, written as the CRD spells them.
            (
                json!({"type": "Professional-DB", "cloud_provider": "AWS", "region": "us-east-1", "memory": "4gb"}),
                json!({"type": "professional-db", "cloudProvider": "aws", "region": "us-east-1", "memory": "4GB"}),
                &[],
            ),
            // Unknown fields are ignored.
            (
                json!({"shiny_new_field": {"a": 1}}),
                json!({}),
                &["shinyNewField"],
            ),
        ];
        for (changes, present, absent) in cases {
            let spec = spec_of(instance("0a1b2c3d", "orders", changes.clone()));
            for (k, v) in present.as_object().unwrap() {
                assert_eq!(&spec[k], v, "{k} for {changes}: {spec}");
            }
            for k in absent {
                assert!(spec.get(k).is_none(), "{k} for {changes}: {spec}");
            }
            assert_eq!(spec["managementPolicy"], "ObserveOnly");
            assert_eq!(spec["deletionPolicy"], "Orphan");
        }
    }

    #[test]
    fn spec_name_only_when_it_differs() {
        for (aura, want) in [
            ("orders", None),
            ("Orders", Some("Orders")),
            ("orders prod", Some("orders prod")),
            ("!!!", Some("!!!")),
            ("Orders: \"prod\" #1", Some("Orders: \"prod\" #1")),
            ("Café — prod", Some("Café — prod")),
            ("'quoted' & {braces}", Some("'quoted' & {braces}")),
            ("- dash first", Some("- dash first")),
        ] {
            let spec = spec_of(instance("0a1b2c3d", aura, json!({})));
            assert_eq!(spec["name"].as_str(), want, "{aura:?}");
        }
    }

    #[test]
    fn plain_only_where_every_yaml_reader_agrees() {
        let cases = [
            ("orders", true),
            ("europe-west1", true),
            ("8GB", true),
            ("0a1b2c3d", true),
            ("aura-operator.io/v1alpha1", true),
            ("ObserveOnly", true),
            ("", false),
            ("Off", false),
            ("ON", false),
            ("yes", false),
            ("n", false),
            ("True", false),
            ("null", false),
            ("00012345", false),
            ("1234e100", false),
            ("0x1f", false),
            ("0b1010", false),
            ("0O17", false),
            ("0000000b", true),
            ("1_000", false),
            ("12.5", false),
            ("1:20", false),
            ("a b", false),
            ("-a", false),
            ("a#b", false),
            ("é", false),
        ];
        for (text, plain) in cases {
            assert_eq!(is_plain(text), plain, "{text:?}");
            // Either way, it reads back as the same string.
            let yaml = format!("k: {}\n", scalar(&s(text)));
            let back: Json = serde_yaml::from_str(&yaml).unwrap();
            assert_eq!(back["k"], text, "{yaml}");
        }
    }

    #[test]
    fn the_cdc_mode_as_a_manifest_writes_it() {
        for (aura, want) in [
            ("OFF", "Off"),
            ("DIFF", "Diff"),
            ("FULL", "Full"),
            ("off", "Off"),
            ("Diff", "Diff"),
        ] {
            let spec = spec_of(instance(
                "0a1b2c3d",
                "orders",
                json!({"cdc_enrichment_mode": aura}),
            ));
            assert_eq!(spec["cdcEnrichmentMode"], want, "{aura}");
        }
        let out = render(
            &listing(vec![instance(
                "0a1b2c3d",
                "orders",
                json!({"cdc_enrichment_mode": "PARTIAL"}),
            )]),
            &opts(),
        );
        assert_eq!(out.skipped.len(), 1);
        assert!(
            out.skipped[0].reasons[0].contains("\"PARTIAL\""),
            "{:?}",
            out.skipped
        );
    }

    #[test]
    fn words_that_yaml_1_1_reads_otherwise_are_quoted() {
        // kubectl reads YAML 1.1: unquoted Off is false, 1234e100 a number.
        let out = render(
            &listing(vec![
                instance("1234e100", "yes", json!({"cdc_enrichment_mode": "OFF"})),
                instance("00012345", "on", json!({})),
            ]),
            &opts(),
        );
        for line in [
            "cdcEnrichmentMode: \"Off\"",
            "instanceId: \"1234e100\"",
            "instanceId: \"00012345\"",
            "  name: \"yes\"",
            "  name: \"on\"",
            "memory: 8GB",
            "region: europe-west1",
        ] {
            assert!(out.yaml.contains(line), "{line} in\n{}", out.yaml);
        }
        let docs = documents(&out.yaml);
        assert_eq!(docs[0]["spec"]["instanceId"], "00012345");
        assert_eq!(docs[1]["spec"]["cdcEnrichmentMode"], "Off");
    }

    #[test]
    fn refused_values_are_printed_as_comments_with_the_reason() {
        let cases: &[(&str, Json, &str)] = &[
            (
                "memory",
                json!({"memory": "3GB"}),
                "memory \"3GB\" is not a size",
            ),
            ("memory", json!({"memory": "8 GiB"}), "memory \"8 GiB\""),
            ("memory", json!({"memory": null}), "no memory size"),
            (
                "type",
                json!({"type": "enterprise-xl"}),
                "type \"enterprise-xl\"",
            ),
            ("type", json!({"type": null}), "no type"),
            (
                "provider",
                json!({"cloud_provider": "oracle"}),
                "cloud provider \"oracle\"",
            ),
            (
                "provider",
                json!({"cloud_provider": null}),
                "no cloud provider",
            ),
            ("region", json!({"region": null}), "no region"),
            ("storage", json!({"storage": "16TB"}), "storage \"16TB\""),
            (
                "tenant",
                json!({"tenant_id": "not-a-uuid"}),
                "tenant id \"not-a-uuid\"",
            ),
            (
                "name",
                json!({"name": "a name far longer than thirty characters"}),
                "longer than 30",
            ),
            ("name", json!({"name": null}), "no name"),
            ("cdc", json!({"cdc_enrichment_mode": "MAYBE"}), "\"MAYBE\""),
        ];
        for (what, changes, reason) in cases {
            let bad = instance("0000000b", "bad", changes.clone());
            let tenant = bad.tenant_id.clone().unwrap_or(TENANT_A.into());
            let mut l = listing(vec![instance("0000000a", "good", json!({}))]);
            l.instances.push((tenant, bad));
            let out = render(&l, &opts());
            assert_eq!(out.printed, 1, "{what}");
            assert_eq!(out.skipped.len(), 1, "{what}");
            assert!(
                out.skipped[0].reasons.iter().any(|r| r.contains(reason)),
                "{what}: {:?}",
                out.skipped[0].reasons
            );
            // Only the good one is a document; the bad one is all comments,
            // with the refused value as Aura reported it.
            let docs = documents(&out.yaml);
            assert_eq!(docs.len(), 1, "{what}");
            assert_eq!(docs[0]["spec"]["instanceId"], "0000000a");
            let block: Vec<&str> = out
                .yaml
                .lines()
                .skip_while(|l| !l.starts_with("# SKIPPED"))
                .take_while(|l| l.starts_with('#'))
                .collect();
            assert!(block[0].contains("0000000b"), "{what}: {block:?}");
            assert!(
                block.iter().any(|l| l.contains(reason)),
                "{what}: {block:?}"
            );
            assert!(
                block.iter().any(|l| l.contains("instanceId: 0000000b")),
                "{what}"
            );
            if let Some(value) = changes
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_str()
            {
                assert!(block.iter().any(|l| l.contains(value)), "{what}: {block:?}");
            }
            let s = summary(&out);
            assert!(s.contains("1 instance skipped"), "{s}");
            assert!(s.contains("0000000b") && s.contains(reason), "{s}");
            assert!(
                out.yaml
                    .contains("1 skipped (the operator's CRD would refuse"),
                "{what}"
            );
        }
    }

    #[test]
    fn order_is_by_tenant_then_aura_name_then_id() {
        let out = render(
            &listing(vec![
                instance("0000000c", "b", json!({"tenant_id": TENANT_B})),
                instance("0000000f", "b", json!({})),
                instance("0000000e", "a", json!({})),
                instance("0000000d", "b", json!({})),
                instance("0000000a", "a", json!({"tenant_id": TENANT_B})),
            ]),
            &opts(),
        );
        let ids: Vec<String> = documents(&out.yaml)
            .iter()
            .map(|d| d["spec"]["instanceId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            ids,
            ["0000000e", "0000000d", "0000000f", "0000000a", "0000000c"]
        );
        // The same answers in another order print the same text.
        let mut l = listing(Vec::new());
        l.instances = listing(vec![
            instance("0000000a", "a", json!({"tenant_id": TENANT_B})),
            instance("0000000d", "b", json!({})),
            instance("0000000e", "a", json!({})),
            instance("0000000f", "b", json!({})),
            instance("0000000c", "b", json!({"tenant_id": TENANT_B})),
        ])
        .instances;
        assert_eq!(render(&l, &opts()).yaml, out.yaml);
    }

    #[test]
    fn the_header_says_what_was_listed_and_how_to_fill_the_password() {
        let mut l = listing(vec![
            instance("0000000a", "orders", json!({})),
            instance("0000000b", "billing", json!({})),
            instance("0000000c", "legacy", json!({"tenant_id": TENANT_B})),
        ]);
        l.gone.push((
            TENANT_A.into(),
            serde_json::from_value(json!({"id": "0000000d"})).unwrap(),
        ));
        let out = render(&l, &opts());
        let header: String = out
            .yaml
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        for want in [
            "every tenant these credentials see (2):",
            &format!("Team A ({TENANT_A}): 2 instances"),
            &format!("Team B ({TENANT_B}): 1 instance"),
            "3 instances in all: 3 manifests below, none skipped.",
            "gone before they could be read: 0000000d",
            "managementPolicy: ObserveOnly",
            "never makes a mutating call",
            "change its managementPolicy to Full",
            "returns an instance's password only once",
            "creates each Secret <name>-connection itself and owns it",
            "kubectl -n team-a patch secret <name>-connection --type merge -p '{\"stringData\":{\"NEO4J_PASSWORD\":\"...\"}}'",
            "CredentialsVerified",
            "defaults to \"5\"",
        ] {
            assert!(header.contains(want), "{want:?} in\n{header}");
        }
        assert!(!header.contains("No metadata.namespace"));
        assert!(!header.contains("No credentialsSecretRef"));
        // Each manifest has its own command.
        assert!(out.yaml.contains(
            "# Password: kubectl -n team-a patch secret billing-connection --type merge"
        ));
        assert_eq!(out.gone, 1);
        assert!(summary(&out).contains("1 instance was listed but gone"));

        let mut one = listing(vec![instance("0000000a", "orders", json!({}))]);
        one.one_tenant = true;
        one.tenants.retain(|t| t.id == TENANT_A);
        let out = render(&one, &Options::default());
        for want in [
            "one tenant (--tenant-id)",
            "kubectl -n <namespace> patch secret <name>-connection",
            "No metadata.namespace",
            "No credentialsSecretRef",
        ] {
            assert!(out.yaml.contains(want), "{want:?} in\n{}", out.yaml);
        }
        let doc = &documents(&out.yaml)[0];
        assert!(doc["metadata"].get("namespace").is_none());
        assert!(doc["spec"].get("credentialsSecretRef").is_none());

        let out = render(&listing(Vec::new()), &opts());
        assert!(out.yaml.contains("0 instances in all"));
        assert!(!out.yaml.contains("defaults to \"5\""));
        assert!(documents(&out.yaml).is_empty());
    }

    #[test]
    fn flags_are_checked() {
        assert!(parse_namespace("team-a").is_ok());
        for bad in ["", "Team", "-a", "a_b", &"a".repeat(64)] {
            assert!(parse_namespace(bad).is_err(), "{bad:?}");
        }
        assert!(parse_secret_name("aura-api").is_ok());
        assert!(parse_secret_name("aura.api").is_ok());
        for bad in ["", "Aura", "a..b", "a/b"] {
            assert!(parse_secret_name(bad).is_err(), "{bad:?}");
        }
    }

    fn args(base_url: String, secret: &str) -> ImportArgs {
        ImportArgs {
            aura_base_url: base_url,
            client_id: "ops-client".into(),
            client_secret: secret.into(),
            tenant_id: None,
            namespace: None,
            credentials_secret: None,
        }
    }

    #[test]
    fn the_client_secret_is_never_shown() {
        let a = args("https://api.neo4j.io".into(), SECRET);
        assert!(!format!("{a:?}").contains(SECRET));
        assert!(format!("{a:?}").contains("ops-client"));
        assert_eq!(
            redact(&format!("Aura said: bad secret {SECRET}!"), SECRET),
            "Aura said: bad secret <redacted>!"
        );
        assert_eq!(redact("nothing to hide", ""), "nothing to hide");
        // An instance named after the secret (absurd, but it must not print).
        let out = render(
            &listing(vec![instance("0000000a", SECRET, json!({}))]),
            &opts(),
        );
        assert!(!redact(&out.yaml, SECRET).contains(SECRET));
        assert!(!redact(&summary(&out), SECRET).contains(SECRET));
    }

    /// The I/O against the in-process simulator: a refused secret stops at
    /// the first step, with Aura's answer and without the secret.
    #[tokio::test]
    async fn errors_name_the_step_and_never_the_secret() {
        use crate::simulator::{Simulator, SimulatorConfig};
        let sim = Simulator::start(SimulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            clients: vec![("ops-client".into(), SECRET.into())],
            tenants: vec![(TENANT_A.into(), "Team A".into())],
            ..SimulatorConfig::default()
        })
        .await
        .expect("start the simulator");

        let wrong = format!("{SECRET}-wrong");
        let err = list(&args(sim.base_url(), &wrong)).await.unwrap_err();
        assert!(err.contains("listing the tenants"), "{err}");
        assert!(
            err.contains("get token") && err.contains("HTTP 401"),
            "{err}"
        );
        assert!(
            err.contains("check --client-id and --client-secret"),
            "{err}"
        );
        assert!(!err.contains(&wrong) && !err.contains(SECRET), "{err}");

        let mut unknown = args(sim.base_url(), SECRET);
        unknown.tenant_id = Some(TENANT_B.into());
        let err = list(&unknown).await.unwrap_err();
        assert!(
            err.contains(&format!("listing the instances of tenant {TENANT_B}")),
            "{err}"
        );
        assert!(err.contains("HTTP 404"), "{err}");
        assert!(err.contains(&format!("see: {TENANT_A} (Team A)")), "{err}");
        assert!(!err.contains(SECRET), "{err}");

        let listing = list(&args(sim.base_url(), SECRET)).await.expect("lists");
        assert_eq!(listing.tenants.len(), 1);
        assert!(listing.instances.is_empty());
        sim.shutdown().await;
    }
}
