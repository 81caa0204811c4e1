//! Decide (pure): which tenant a project uses, what its status says, and
//! whether a project being deleted may go. No client in here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::api::{AuraProjectStatus, Offered};
use crate::aura::{AuraError, AuraErrorKind, InstanceConfiguration, Tenant, TenantSummary};
use crate::reconciler::credentials::CredentialsProblem;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of project conditions, defined once.
    pub enum ProjectReason {
        ready: Ready = "a token was obtained and the tenant is visible",
        idle: Idle,
        not_stalled: NotStalled,
        /// Reconciling: the first token and tenant are being fetched.
        Checking,
        /// Being deleted while AuraInstances still use it.
        InUse,
        CredentialsNotFound,
        AuthenticationFailed,
        Forbidden,
        TenantNotFound,
        TenantAmbiguous,
        NoTenant,
        AuraError,
        /// ScrapeConfigReady=True: the ScrapeConfig of spec.metrics is written.
        ScrapeConfigWritten,
        /// Event: the credentials see several Aura organizations, none holds
        /// the tenant, and spec.organizationId names none.
        OrganizationAmbiguous,
        /// The project's tier has no metrics integration.
        MetricsNotOffered,
        /// The metrics endpoint has not been read from Aura yet.
        MetricsEndpointUnknown,
        /// The endpoint Aura reported is not a URL Prometheus can scrape.
        MetricsEndpointInvalid,
        /// The Secret of spec.metrics.credentialsSecretRef is missing or incomplete.
        MetricsCredentialsNotFound,
        /// The cluster has no ScrapeConfig CRD (prometheus-operator).
        ScrapeConfigUnavailable,
    }
}

/// The project's own condition while spec.metrics is set.
pub const SCRAPE_CONDITION: &str = "ScrapeConfigReady";

/// What `GET /tenants/{id}/metrics-integration` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsIntegration {
    Offered(String),
    NotOffered,
    /// Not read (a transient failure): what the status said stays.
    Unknown,
}

impl MetricsIntegration {
    /// The status fields (url, offered) this gives, from the previous ones when unknown.
    pub fn into_status(self, previous: &AuraProjectStatus) -> (Option<String>, Option<String>) {
        match self {
            Self::Offered(url) => (Some(url), Some("Offered".into())),
            Self::NotOffered => (None, Some("NotOffered".into())),
            Self::Unknown => (
                previous.metrics_integration_url.clone(),
                previous.metrics_integration.clone(),
            ),
        }
    }
}

/// The scrape job of spec.metrics, or why there is none (the condition's
/// reason and message). `secret`: the metrics credentials Secret is usable,
/// or what is wrong with it.
pub fn scrape_plan(
    status: &AuraProjectStatus,
    secret: Result<(), String>,
    job: impl FnOnce(&str) -> Result<super::scrape::ScrapeJob, String>,
) -> Result<super::scrape::ScrapeJob, (ProjectReason, String)> {
    if status.metrics_integration.as_deref() == Some("NotOffered") {
        return Err((
            ProjectReason::MetricsNotOffered,
            "the project's tier has no metrics integration (Business Critical and Virtual Dedicated Cloud have one): nothing to scrape".into(),
        ));
    }
    let Some(endpoint) = status.metrics_integration_url.as_deref() else {
        return Err((
            ProjectReason::MetricsEndpointUnknown,
            "the project's metrics endpoint has not been read from Aura yet".into(),
        ));
    };
    secret.map_err(|m| (ProjectReason::MetricsCredentialsNotFound, m))?;
    job(endpoint).map_err(|m| (ProjectReason::MetricsEndpointInvalid, m))
}

/// The three kstatus conditions of a project.
pub type ProjectSummary = Progress<ProjectReason>;

/// Deleting, held by the objects that still use it.
pub fn in_use(users: &[String]) -> ProjectSummary {
    ProjectSummary::working(
        ProjectReason::InUse,
        format!("being deleted; still used by {}", list_users(users)),
    )
}

/// "N AuraInstances: a, b, c (and M more)", short enough for a condition.
pub fn list_users(users: &[String]) -> String {
    const SHOWN: usize = 10;
    let names: Vec<&str> = users
        .iter()
        .take(SHOWN)
        .map(|u| u.split_once(' ').map_or(u.as_str(), |(_, name)| name))
        .collect();
    let more = users.len().saturating_sub(SHOWN);
    let plural = if users.len() == 1 { "" } else { "s" };
    let mut text = format!("{} AuraInstance{plural}: {}", users.len(), names.join(", "));
    if more > 0 {
        text.push_str(&format!(" (and {more} more)"));
    }
    text
}

/// The tenant a project uses: its spec's, else the only one the credentials see.
pub fn pick_tenant(
    spec: Option<&str>,
    listed: Option<&[TenantSummary]>,
) -> Result<String, (ProjectReason, String)> {
    if let Some(id) = spec {
        return Ok(id.to_string());
    }
    match listed.unwrap_or_default() {
        [only] => Ok(only.id.clone()),
        [] => Err((
            ProjectReason::NoTenant,
            "the credentials see no Aura tenant".into(),
        )),
        many => {
            let ids: Vec<String> = many
                .iter()
                .map(|t| format!("{} ({})", t.id, t.name))
                .collect();
            Err((
                ProjectReason::TenantAmbiguous,
                format!(
                    "the credentials see {} tenants; set spec.tenantId to one of: {}",
                    many.len(),
                    ids.join(", ")
                ),
            ))
        }
    }
}

/// What went wrong on the way to the tenant, as the status says it. A
/// transient failure is not a stall: `None`, and the pass is retried.
pub fn aura_problem(e: &AuraError) -> Option<(ProjectReason, String)> {
    let reason = match (e.kind(), e.status(), e.reason()) {
        (AuraErrorKind::Transient | AuraErrorKind::Conflict, _, _) => return None,
        (_, _, Some("tenant-not-found")) | (AuraErrorKind::NotFound, _, _) => {
            ProjectReason::TenantNotFound
        }
        (_, Some(401), _) => ProjectReason::AuthenticationFailed,
        (_, Some(403), _) => ProjectReason::Forbidden,
        _ => ProjectReason::AuraError,
    };
    Some((reason, e.to_string()))
}

/// The stall for credentials a project cannot read.
pub fn credentials_problem(problem: &CredentialsProblem) -> (ProjectReason, String) {
    let secret = match problem {
        CredentialsProblem::Unusable { secret, .. } => secret.to_string(),
        other => format!("{other:?}"),
    };
    (
        ProjectReason::CredentialsNotFound,
        format!(
            "no usable Aura API credentials in Secret {secret}: it must exist and hold the keys clientId and clientSecret"
        ),
    )
}

/// When a project whose pass failed is looked at again: after the token's own
/// backoff when Aura refused the credentials (so no token is spent meanwhile),
/// else a few minutes.
pub fn retry_after(reason: ProjectReason, aura_backoff: Option<Duration>) -> Duration {
    // A Secret that is not there yet costs no Aura call to look for again.
    let floor = match reason {
        ProjectReason::CredentialsNotFound => Duration::from_secs(20),
        _ => Duration::from_secs(60),
    };
    aura_backoff.map_or(floor, |b| b.max(floor))
}

/// The tenant's catalogue compacted to one row per provider and region.
pub fn offered(configurations: &[InstanceConfiguration]) -> Vec<Offered> {
    let mut rows: BTreeMap<(String, String), (BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    for c in configurations {
        let (types, memory) = rows
            .entry((c.cloud_provider.to_lowercase(), c.region.clone()))
            .or_default();
        types.insert(c.instance_type.clone());
        memory.insert(c.memory.clone());
    }
    rows.into_iter()
        .map(|((cloud_provider, region), (types, memory))| {
            let mut memory: Vec<String> = memory.into_iter().collect();
            memory.sort_by_key(|m| (gigabytes(m), m.clone()));
            Offered {
                cloud_provider,
                region,
                types: types.into_iter().collect(),
                memory,
            }
        })
        .collect()
}

/// "8GB" -> 8; what does not read sorts last.
fn gigabytes(memory: &str) -> u64 {
    let digits: String = memory.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(u64::MAX)
}

/// The status of a project that found its tenant.
pub fn found(previous: &AuraProjectStatus, tenant: &Tenant, used_by: u32) -> AuraProjectStatus {
    AuraProjectStatus {
        tenant_id: Some(tenant.id.clone()),
        tenant_name: Some(tenant.name.clone()).filter(|n| !n.is_empty()),
        offered: offered(&tenant.instance_configurations),
        used_by,
        ..previous.clone()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aura::AuraError;
    use crate::aura::Endpoint;
    use crate::reconciler::credentials::SecretKey;

    fn config(provider: &str, region: &str, kind: &str, memory: &str) -> InstanceConfiguration {
        serde_json::from_value(json!({
            "cloud_provider": provider, "region": region, "region_name": region,
            "type": kind, "memory": memory, "version": "5",
        }))
        .unwrap()
    }

    fn tenants(ids: &[&str]) -> Vec<TenantSummary> {
        ids.iter()
            .map(|id| serde_json::from_value(json!({"id": id, "name": format!("T {id}")})).unwrap())
            .collect()
    }

    #[test]
    fn the_catalogue_is_one_row_per_provider_and_region() {
        let rows = offered(&[
            config("gcp", "europe-west1", "enterprise-db", "16GB"),
            config("gcp", "europe-west1", "enterprise-db", "8GB"),
            config("gcp", "europe-west1", "professional-db", "8GB"),
            config("GCP", "europe-west1", "enterprise-db", "128GB"),
            config("aws", "us-east-1", "enterprise-db", "2GB"),
        ]);
        assert_eq!(
            rows,
            vec![
                Offered {
                    cloud_provider: "aws".into(),
                    region: "us-east-1".into(),
                    types: vec!["enterprise-db".into()],
                    memory: vec!["2GB".into()],
                },
                Offered {
                    cloud_provider: "gcp".into(),
                    region: "europe-west1".into(),
                    types: vec!["enterprise-db".into(), "professional-db".into()],
                    memory: vec!["8GB".into(), "16GB".into(), "128GB".into()],
                },
            ]
        );
        assert!(offered(&[]).is_empty());
    }

    #[test]
    fn the_tenant_is_the_specs_or_the_only_one() {
        let one = tenants(&["t1"]);
        let two = tenants(&["t1", "t2"]);
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a [TenantSummary]>,
            Result<&'a str, ProjectReason>,
        );
        let table: Vec<Case<'_>> = vec![
            (Some("t9"), None, Ok("t9")),
            (Some("t9"), Some(&two), Ok("t9")),
            (None, Some(&one), Ok("t1")),
            (None, Some(&two), Err(ProjectReason::TenantAmbiguous)),
            (None, Some(&[]), Err(ProjectReason::NoTenant)),
        ];
        for (spec, listed, want) in table {
            let got = pick_tenant(spec, listed);
            match want {
                Ok(id) => assert_eq!(got, Ok(id.to_string())),
                Err(reason) => assert_eq!(got.map_err(|(r, _)| r), Err(reason)),
            }
        }
        let (_, message) = pick_tenant(None, Some(&two)).unwrap_err();
        assert!(
            message.contains("t1 (T t1)") && message.contains("t2"),
            "{message}"
        );
    }

    #[test]
    fn aura_failures_stall_or_retry() {
        let tenant_gone = r#"{"errors":[{"message":"gone","reason":"tenant-not-found"}]}"#;
        let table = [
            (
                Endpoint::Token,
                401,
                r#"{"error":"invalid_client"}"#,
                Some(ProjectReason::AuthenticationFailed),
            ),
            (Endpoint::Api, 403, "{}", Some(ProjectReason::Forbidden)),
            (
                Endpoint::Tenant,
                404,
                tenant_gone,
                Some(ProjectReason::TenantNotFound),
            ),
            (Endpoint::Api, 503, "{}", None),
            (Endpoint::Token, 429, "{}", None),
        ];
        let table = table.map(|(endpoint, status, body, want)| {
            (
                AuraError::http("list tenants", endpoint, status, body, None, None),
                want,
            )
        });
        for (error, want) in table {
            assert_eq!(aura_problem(&error).map(|(r, _)| r), want, "{error}");
        }
    }

    #[test]
    fn a_refused_credential_waits_for_the_tokens_backoff() {
        assert_eq!(
            retry_after(
                ProjectReason::AuthenticationFailed,
                Some(Duration::from_secs(600))
            ),
            Duration::from_secs(600)
        );
        assert_eq!(
            retry_after(ProjectReason::AuthenticationFailed, None),
            Duration::from_secs(60)
        );
        assert_eq!(
            retry_after(ProjectReason::CredentialsNotFound, None),
            Duration::from_secs(20)
        );
    }

    #[test]
    fn users_are_listed_briefly() {
        let users: Vec<String> = (0..12)
            .map(|i| format!("AuraInstance team/db-{i}"))
            .collect();
        let text = list_users(&users);
        assert!(
            text.starts_with("12 AuraInstances: team/db-0, team/db-1"),
            "{text}"
        );
        assert!(text.ends_with("(and 2 more)"), "{text}");
        assert_eq!(list_users(&users[..1]), "1 AuraInstance: team/db-0");
    }

    #[test]
    fn a_missing_secret_is_named_without_its_contents() {
        let (reason, message) = credentials_problem(&CredentialsProblem::Unusable {
            secret: SecretKey::new("ops", "aura-api"),
            project: None,
        });
        assert_eq!(reason, ProjectReason::CredentialsNotFound);
        assert!(message.contains("ops/aura-api"));
    }

    #[test]
    fn reasons_are_unique_words() {
        crate::reconciler::status::assert_reason_words::<ProjectReason>();
    }

    #[test]
    fn the_scrape_plan_says_why_there_is_no_job() {
        let offered = AuraProjectStatus {
            metrics_integration_url: Some("https://m.example/api/v1/t/metrics".into()),
            metrics_integration: Some("Offered".into()),
            ..Default::default()
        };
        let not_offered = AuraProjectStatus {
            metrics_integration: Some("NotOffered".into()),
            ..Default::default()
        };
        let unknown = AuraProjectStatus::default();
        let ok = |e: &str| super::super::scrape::job("j", e, "https://t/oauth/token", None);
        let bad = |_: &str| Err::<super::super::scrape::ScrapeJob, _>("not a URL".to_string());
        let missing = || Err("no Secret aura-metrics".to_string());
        type Case<'a> = (
            &'a AuraProjectStatus,
            Result<(), String>,
            bool,
            Option<ProjectReason>,
        );
        let cases: Vec<Case<'_>> = vec![
            (&offered, Ok(()), true, None),
            (
                &not_offered,
                Ok(()),
                true,
                Some(ProjectReason::MetricsNotOffered),
            ),
            (
                &unknown,
                Ok(()),
                true,
                Some(ProjectReason::MetricsEndpointUnknown),
            ),
            (
                &offered,
                missing(),
                true,
                Some(ProjectReason::MetricsCredentialsNotFound),
            ),
            (
                &offered,
                Ok(()),
                false,
                Some(ProjectReason::MetricsEndpointInvalid),
            ),
            // Not offered wins over a missing Secret: nothing to scrape at all.
            (
                &not_offered,
                missing(),
                true,
                Some(ProjectReason::MetricsNotOffered),
            ),
        ];
        for (status, secret, good, want) in cases {
            let got = if good {
                scrape_plan(status, secret, ok)
            } else {
                scrape_plan(status, secret, bad)
            };
            match (got, want) {
                (Ok(job), None) => assert_eq!(job.target, "m.example"),
                (Err((reason, _)), Some(want)) => assert_eq!(reason, want),
                (got, want) => panic!("{status:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn an_unread_integration_keeps_what_the_status_said() {
        let before = AuraProjectStatus {
            metrics_integration_url: Some("https://m/x".into()),
            metrics_integration: Some("Offered".into()),
            ..Default::default()
        };
        assert_eq!(
            MetricsIntegration::Unknown.into_status(&before),
            (Some("https://m/x".into()), Some("Offered".into()))
        );
        assert_eq!(
            MetricsIntegration::NotOffered.into_status(&before),
            (None, Some("NotOffered".into()))
        );
        assert_eq!(
            MetricsIntegration::Offered("https://m/y".into()).into_status(&before),
            (Some("https://m/y".into()), Some("Offered".into()))
        );
    }
}
