//! `aura-operator import`: AuraInstance manifests for the Aura instances a set
//! of API credentials can see (issue 18), printed on stdout as multi-document
//! YAML, ready for `kubectl apply -f -` or a Git repository.
//!
//! Every manifest adopts its instance read-only (`managementPolicy:
//! ObserveOnly`, `deletionPolicy: Orphan`). [`render`] is pure: it turns what
//! Aura answered into the text to print, and is table-tested below. [`run`]
//! only lists and reads (`GET /tenants`, `GET /instances?tenantId=`,
//! `GET /instances/{id}`), never a mutating call.
//!
//! `manifest.rs` builds each manifest and the output (pure), `yaml.rs` writes
//! YAML that YAML 1.1 readers (kubectl) take the same way, this file holds the
//! flags and the calls.

mod manifest;
mod yaml;

use manifest::plural;
pub use manifest::{base_name, cdc_mode_word, object_names, render};

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use futures::{StreamExt, TryStreamExt};

use crate::aura::{
    AuraClients, AuraError, AuraErrorKind, ClientConfig, Credentials, Instance, InstanceSummary,
    TenantSummary,
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
    /// written as spec.credentialsSecretRef.name; omitted, the objects use the
    /// ClusterAuraProject named default.
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
mod tests;
