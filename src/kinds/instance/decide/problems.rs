//! The decisions around the state machine: which instance to look at, which
//! tenant to create in, what a problem means for the status, and what of
//! Aura's answer the status keeps.

use crate::api::{AuraInstanceStatus, InstanceType};
use crate::aura::{AuraError, AuraErrorKind, Instance, InstanceStatus, TenantSummary};
use crate::reconciler::credentials::CredentialsProblem;

use super::{Decision, Reason};

/// A reason for a human to act, with what to tell them.
pub type Stall = (Reason, String);

/// The stall for credentials that cannot be used. Messages name Secrets and
/// projects, never what a Secret holds.
pub fn credentials_stall(problem: &CredentialsProblem) -> Stall {
    let reason = match problem {
        CredentialsProblem::NotConfigured => Reason::CredentialsNotConfigured,
        CredentialsProblem::ProjectNotFound(_) => Reason::ProjectNotFound,
        CredentialsProblem::NamespaceNotAllowed(_) => Reason::NamespaceNotAllowed,
        CredentialsProblem::Unusable { .. } => Reason::CredentialsNotFound,
    };
    (reason, problem.to_string())
}

/// The stall for an Aura answer that retrying will not change. A 404 says
/// what is missing: the tenant only when Aura says so.
pub fn aura_stall(e: &AuraError) -> Stall {
    let reason = match (e.status(), e.reason()) {
        (_, Some("tenant-not-found")) => Reason::TenantNotFound,
        (Some(404), _) => Reason::InstanceNotFound,
        (Some(401), _) => Reason::AuthenticationFailed,
        (Some(403), _) => Reason::Forbidden,
        (Some(400), _) => Reason::AuraRejected,
        _ => Reason::AuraError,
    };
    (reason, e.to_string())
}

/// Whether an error fetching a tenant means the tenant is not there.
pub fn tenant_missing(e: &AuraError) -> Option<Stall> {
    (e.kind() == AuraErrorKind::NotFound || e.reason() == Some("tenant-not-found"))
        .then(|| (Reason::TenantNotFound, e.to_string()))
}

/// The stall for a create Aura answered 404: with a source (a clone), the
/// source instance or snapshot is gone; else what Aura names.
pub fn create_not_found(e: &AuraError, clone: bool) -> Stall {
    match (clone, e.reason()) {
        (_, Some("tenant-not-found")) | (false, _) => aura_stall(e),
        (true, _) => (
            Reason::SourceNotFound,
            format!(
                "the clone's source does not exist in Aura (any more), so nothing was created: {e}; point spec.source at another instance or snapshot (delete and apply the object again: the source cannot change)"
            ),
        ),
    }
}

/// Where to create, when neither spec nor status names a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantChoice {
    /// The spec or an earlier pass named it.
    Known(String),
    /// Ask Aura which tenants the credentials see.
    List,
}

pub fn tenant_choice(spec: Option<&str>, status: &AuraInstanceStatus) -> TenantChoice {
    match spec.or(status.tenant_id.as_deref()) {
        Some(id) => TenantChoice::Known(id.to_string()),
        None => TenantChoice::List,
    }
}

/// The one tenant the credentials see, or why there is none to pick.
pub fn only_tenant(tenants: &[TenantSummary]) -> Result<String, Stall> {
    match tenants {
        [only] => Ok(only.id.clone()),
        [] => Err((
            Reason::NoTenant,
            "the credentials see no Aura tenant".into(),
        )),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|t| format!("{} ({})", t.id, t.name))
                .collect();
            Err((
                Reason::TenantAmbiguous,
                format!(
                    "the credentials see {} tenants; set spec.tenantId to one of: {}",
                    many.len(),
                    list.join(", ")
                ),
            ))
        }
    }
}

/// An instance that does not match the spec, or that another object holds,
/// is never recorded, so deleting this object cannot destroy somebody else's
/// database.
pub fn may_record(decision: &Decision, claimed_elsewhere: bool) -> bool {
    let mismatched = decision
        .status
        .stalled
        .as_ref()
        .is_some_and(|(r, _)| *r == Reason::InstanceMismatch);
    !claimed_elsewhere && !mismatched
}

/// What the status keeps of Aura's answer. What Aura leaves out keeps what
/// was known before; a create intent is settled by the instance being seen.
pub fn record_observed(status: &mut AuraInstanceStatus, instance: &Instance) {
    status.tenant_id = instance.tenant_id.clone().or(status.tenant_id.take());
    status.connection_url = instance
        .connection_url
        .clone()
        .or(status.connection_url.take());
    status.aura_status = Some(instance.status.to_string());
    status.memory = instance.memory.clone().or(status.memory.take());
    // The rest of what Aura reports, as it reports it (absent: not
    // reported), once the create is over: written with the Ready status,
    // not in a write of its own while Aura creates.
    if instance.status != InstanceStatus::Creating {
        status.aura_name = instance.name.clone();
        status.cloud_provider = instance.cloud_provider.clone();
        status.region = instance.region.clone();
        status.instance_type = instance.instance_type.clone();
        status.tier = instance
            .instance_type
            .as_deref()
            .and_then(InstanceType::parse)
            .and_then(InstanceType::v2_tier)
            .map(str::to_string);
        status.storage = instance.storage.clone();
        status.vector_optimized = instance.vector_optimized;
        status.graph_analytics_plugin = instance.graph_analytics_plugin;
        status.created_at = instance.created_at.clone();
        status.secondaries_count = instance.secondaries_count;
        status.cdc_enrichment_mode = instance.cdc_enrichment_mode.clone();
        status.metrics_integration_url = instance.metrics_integration_url.clone();
        status.customer_managed_key_id = instance.customer_managed_key_id.clone();
    }
    clear_intent(status);
}

/// Drops the create intent.
pub fn clear_intent(status: &mut AuraInstanceStatus) {
    status.create_requested_at = None;
    status.create_requested_name = None;
    status.create_prior_ids = Vec::new();
}

#[cfg(test)]
mod tests {
    use super::super::StatusSummary;
    use super::*;
    use crate::aura::InstanceStatus;
    use crate::reconciler::credentials::SecretKey;
    use crate::reconciler::projects::ProjectId;

    fn tenant(id: &str) -> TenantSummary {
        serde_json::from_value(serde_json::json!({"id": id, "name": format!("t-{id}")})).unwrap()
    }

    #[test]
    fn credentials_problems_stall_without_naming_a_value() {
        let (reason, message) = credentials_stall(&CredentialsProblem::NotConfigured);
        assert_eq!(reason, Reason::CredentialsNotConfigured);
        assert!(message.contains("ClusterAuraProject named default"));
        let shared = ProjectId::cluster("shared");
        let (reason, message) =
            credentials_stall(&CredentialsProblem::NamespaceNotAllowed(shared.clone()));
        assert_eq!(reason, Reason::NamespaceNotAllowed);
        assert!(message.contains("ClusterAuraProject shared"), "{message}");
        let (reason, _) = credentials_stall(&CredentialsProblem::ProjectNotFound(shared.clone()));
        assert_eq!(reason, Reason::ProjectNotFound);
        let (reason, message) = credentials_stall(&CredentialsProblem::Unusable {
            secret: SecretKey::new("aura-operator", "aura-api"),
            project: Some(shared),
        });
        assert_eq!(reason, Reason::CredentialsNotFound);
        // A user of a cluster project learns which project, not where its Secret is.
        assert!(!message.contains("aura-api"), "{message}");
        let (reason, message) = credentials_stall(&CredentialsProblem::Unusable {
            secret: SecretKey::new("team", "api"),
            project: None,
        });
        assert_eq!(reason, Reason::CredentialsNotFound);
        assert!(message.contains("team/api"), "{message}");
    }

    #[test]
    fn one_tenant_is_taken_none_or_many_stall() {
        assert_eq!(only_tenant(&[tenant("a")]), Ok("a".into()));
        assert_eq!(only_tenant(&[]).unwrap_err().0, Reason::NoTenant);
        let (reason, message) = only_tenant(&[tenant("a"), tenant("b")]).unwrap_err();
        assert_eq!(reason, Reason::TenantAmbiguous);
        assert!(message.contains("a (t-a), b (t-b)"), "{message}");
    }

    #[test]
    fn the_tenant_comes_from_the_spec_then_the_status() {
        let mut status = AuraInstanceStatus::default();
        assert_eq!(tenant_choice(None, &status), TenantChoice::List);
        status.tenant_id = Some("from-status".into());
        assert_eq!(
            tenant_choice(None, &status),
            TenantChoice::Known("from-status".into())
        );
        assert_eq!(
            tenant_choice(Some("from-spec"), &status),
            TenantChoice::Known("from-spec".into())
        );
    }

    #[test]
    fn what_aura_leaves_out_keeps_what_was_known() {
        let mut status = AuraInstanceStatus {
            tenant_id: Some("t".into()),
            connection_url: Some("neo4j+s://known".into()),
            memory: Some("8GB".into()),
            create_requested_at: Some("2026-01-01T00:00:00Z".into()),
            create_requested_name: Some("db".into()),
            create_prior_ids: vec!["old".into()],
            ..Default::default()
        };
        let instance: Instance =
            serde_json::from_value(serde_json::json!({"id": "i", "status": "running"})).unwrap();
        record_observed(&mut status, &instance);
        assert_eq!(status.tenant_id.as_deref(), Some("t"));
        assert_eq!(status.connection_url.as_deref(), Some("neo4j+s://known"));
        assert_eq!(status.memory.as_deref(), Some("8GB"));
        assert_eq!(status.aura_status.as_deref(), Some("running"));
        assert!(status.create_requested_at.is_none() && status.create_prior_ids.is_empty());

        let reported: Instance = serde_json::from_value(serde_json::json!({
            "id": "i", "status": "paused", "tenant_id": "t2", "memory": "16GB",
            "connection_url": "neo4j+s://new"
        }))
        .unwrap();
        record_observed(&mut status, &reported);
        assert_eq!(status.memory.as_deref(), Some("16GB"));
        assert_eq!(status.connection_url.as_deref(), Some("neo4j+s://new"));
        assert_eq!(reported.status, InstanceStatus::Paused);
    }

    #[test]
    fn a_mismatched_or_claimed_instance_is_never_recorded() {
        let ok = Decision {
            action: super::super::Action::None,
            status: crate::kinds::instance::status::aura_creating(),
            requeue: super::super::LookAgain::Poll,
        };
        let mismatch = Decision {
            status: StatusSummary::stalled(Reason::InstanceMismatch, "m"),
            ..ok.clone()
        };
        let other_stall = Decision {
            status: StatusSummary::stalled(Reason::LoadingFailed, "m"),
            ..ok.clone()
        };
        let table = [
            (&ok, false, true),
            (&ok, true, false),
            (&mismatch, false, false),
            (&other_stall, false, true),
        ];
        for (decision, claimed, want) in table {
            assert_eq!(may_record(decision, claimed), want);
        }
    }

    #[test]
    fn what_aura_reports_is_recorded_once_the_create_is_over() {
        let reported = |status: &str| -> Instance {
            serde_json::from_value(serde_json::json!({
                "id": "8f769515", "name": "orders", "status": status, "tenant_id": "t",
                "cloud_provider": "gcp", "region": "europe-west1", "type": "enterprise-db",
                "memory": "8GB", "storage": "16GB", "created_at": "2026-12-01T10:00:00Z",
                "vector_optimized": false, "graph_analytics_plugin": true,
                "secondaries_count": 1, "cdc_enrichment_mode": "DIFF",
                "metrics_integration_url": "https://m/x", "customer_managed_key_id": "k"
            }))
            .unwrap()
        };
        let mut s = AuraInstanceStatus::default();
        record_observed(&mut s, &reported("creating"));
        assert_eq!(s.aura_status.as_deref(), Some("creating"));
        assert_eq!(s.memory.as_deref(), Some("8GB"));
        // A poll while Aura creates adds nothing the create's own write lacks.
        assert_eq!(s.storage, None);
        assert_eq!(s.secondaries_count, None);
        record_observed(&mut s, &reported("running"));
        assert_eq!(s.aura_name.as_deref(), Some("orders"));
        assert_eq!(s.cloud_provider.as_deref(), Some("gcp"));
        assert_eq!(s.region.as_deref(), Some("europe-west1"));
        assert_eq!(s.instance_type.as_deref(), Some("enterprise-db"));
        assert_eq!(s.tier.as_deref(), Some("virtual-dedicated-cloud"));
        assert_eq!(s.storage.as_deref(), Some("16GB"));
        assert_eq!(s.vector_optimized, Some(false));
        assert_eq!(s.graph_analytics_plugin, Some(true));
        assert_eq!(s.created_at.as_deref(), Some("2026-12-01T10:00:00Z"));
        assert_eq!(s.secondaries_count, Some(1));
        assert_eq!(s.cdc_enrichment_mode.as_deref(), Some("DIFF"));
        assert_eq!(s.metrics_integration_url.as_deref(), Some("https://m/x"));
        assert_eq!(s.customer_managed_key_id.as_deref(), Some("k"));
        // A field the next answer leaves out is no longer claimed.
        let mut without: Instance = reported("running");
        without.secondaries_count = None;
        record_observed(&mut s, &without);
        assert_eq!(s.secondaries_count, None);
    }
}
