//! managementPolicy ObserveOnly: the decision that reads and reports, and the
//! list of differences between the spec and Aura.

use super::{
    Action, AuraView, Decision, LookAgain, Observation, Reason, StatusSummary, aura_status_summary,
    decide_gone_or_claimed, invalid_template, secret_not_owned, update_request,
};
use crate::api::AuraInstanceSpec;
use crate::aura::model::{Instance, InstanceStatus, UpdateInstanceRequest};

/// managementPolicy ObserveOnly: read, report, write the Secret (a
/// Kubernetes object), never a mutating Aura call.
pub(super) fn decide_observe_only(obs: &Observation<'_>) -> Decision {
    let instance = match &obs.aura {
        AuraView::Found(instance) if !obs.claimed_elsewhere => instance,
        // Claimed elsewhere, gone, or (CEL prevents it) no instanceId: as for Full,
        // none of which calls Aura.
        AuraView::Found(_) | AuraView::Gone | AuraView::Unheld(_) => {
            return decide_gone_or_claimed(obs);
        }
        AuraView::NotCreated { .. } => {
            return Decision {
                action: Action::None,
                status: StatusSummary::stalled(
                    Reason::InstanceNotFound,
                    "managementPolicy ObserveOnly needs spec.instanceId: it observes an existing instance and never creates one",
                ),
                requeue: LookAgain::Resync,
            };
        }
    };
    if let Some(mismatch) = obs.compared.mismatch.clone() {
        return Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::InstanceMismatch, mismatch),
            requeue: LookAgain::Resync,
        };
    }
    if obs.secret.not_owned {
        return secret_not_owned(&obs.secret_name);
    }
    if let Some(stall) = invalid_template(obs.spec) {
        return stall;
    }
    if !obs.secret.up_to_date {
        return Decision {
            action: Action::WriteSecret,
            status: aura_status_summary(obs, instance),
            requeue: LookAgain::Poll,
        };
    }
    let requeue = if instance.status.is_settled() {
        LookAgain::Resync
    } else {
        LookAgain::Poll
    };
    Decision {
        action: Action::Observe {
            drifted: differences(obs.spec, &obs.compared.update, instance),
        },
        status: aura_status_summary(obs, instance),
        requeue,
    }
}

/// Where the spec and Aura differ, each as "field: spec X, Aura Y". Only what
/// Aura reports counts (a field it leaves out is never drift).
pub fn observed_differences(
    spec: &AuraInstanceSpec,
    aura_name: &str,
    instance: &Instance,
) -> Vec<String> {
    differences(spec, &update_request(spec, aura_name, instance), instance)
}

/// [`observed_differences`] for the fields `r` (the update the spec asks) names.
fn differences(
    spec: &AuraInstanceSpec,
    r: &UpdateInstanceRequest,
    instance: &Instance,
) -> Vec<String> {
    let mut out = Vec::new();
    let shown = |v: &Option<String>| v.clone().unwrap_or_default();
    if let Some(have) = instance.instance_type.as_deref()
        && !spec.instance_type.is(have)
    {
        out.push(format!("type: spec {}, Aura {have}", spec.instance_type));
    }
    let paused = matches!(
        instance.status,
        InstanceStatus::Paused | InstanceStatus::Suspended | InstanceStatus::Pausing
    );
    let running = matches!(
        instance.status,
        InstanceStatus::Running | InstanceStatus::Resuming
    );
    if (spec.paused && running) || (!spec.paused && paused) {
        out.push(format!(
            "paused: spec {}, Aura {}",
            spec.paused, instance.status
        ));
    }
    if let Some(n) = &r.name {
        out.push(format!("name: spec {n}, Aura {}", shown(&instance.name)));
    }
    if let Some(m) = &r.memory {
        out.push(format!(
            "memory: spec {m}, Aura {}",
            shown(&instance.memory)
        ));
    }
    if let Some(st) = &r.storage {
        out.push(format!(
            "storage: spec {st}, Aura {}",
            shown(&instance.storage)
        ));
    }
    if let Some(v) = r.vector_optimized {
        out.push(format!(
            "vectorOptimized: spec {v}, Aura {}",
            instance.vector_optimized.unwrap_or(false)
        ));
    }
    if let Some(g) = r.graph_analytics_plugin {
        out.push(format!(
            "graphAnalyticsPlugin: spec {g}, Aura {}",
            instance.graph_analytics_plugin.unwrap_or(false)
        ));
    }
    if let Some(n) = r.secondaries_count {
        out.push(format!(
            "secondariesCount: spec {n}, Aura {}",
            instance
                .secondaries_count
                .map(|c| c.to_string())
                .unwrap_or_else(|| "not reported".into())
        ));
    }
    if let Some(m) = spec.cdc_enrichment_mode
        && r.cdc_enrichment_mode.is_some()
    {
        out.push(format!(
            "cdcEnrichmentMode: spec {m}, Aura {}",
            instance
                .cdc_enrichment_mode
                .clone()
                .unwrap_or_else(|| "not reported".into())
        ));
    }
    if let (Some(want), Some(have)) = (
        spec.customer_managed_key_id.as_deref(),
        instance.customer_managed_key_id.as_deref(),
    ) && want != have
    {
        out.push(format!("customerManagedKeyId: spec {want}, Aura {have}"));
    }
    out
}
