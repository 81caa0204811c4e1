//! A project's metrics: the endpoint Aura reports for it, and the
//! prometheus-operator ScrapeConfig written for `spec.metrics` (what the
//! job says is decided in `scrape` and `decide`, purely).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};

use super::ProjectResource;
use super::decide::{self, MetricsIntegration, ProjectReason, SCRAPE_CONDITION};
use super::scrape;
use crate::api::AuraProjectStatus;
use crate::aura::AuraClient;
use crate::reconciler::status::{self, State};
use crate::reconciler::{Context, FIELD_MANAGER, ReconcileError, Result, credentials};

/// What `spec.metrics` asks for, wherever the kind keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsWanted {
    /// Where the metrics credentials Secret is, and the ScrapeConfig goes.
    pub namespace: String,
    pub secret: String,
    pub interval: Option<String>,
}

/// The project's metrics endpoint; a failure to read it is only logged (the
/// project's own readiness does not hang on it).
pub async fn integration(aura: &AuraClient, tenant_id: &str) -> MetricsIntegration {
    match aura.get_metrics_integration(tenant_id).await {
        Ok(Some(found)) => MetricsIntegration::Offered(found.endpoint),
        Ok(None) => MetricsIntegration::NotOffered,
        Err(e) => {
            tracing::debug!(error = %e, "could not read the metrics integration");
            MetricsIntegration::Unknown
        }
    }
}

fn scrape_configs(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(
        scrape::SCRAPE_CONFIG_GROUP,
        scrape::SCRAPE_CONFIG_VERSION,
        scrape::SCRAPE_CONFIG_KIND,
    );
    let resource = ApiResource::from_gvk_with_plural(&gvk, scrape::SCRAPE_CONFIG_PLURAL);
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// The ScrapeConfig's name: the project's, prefixed.
pub fn scrape_config_name(project: &str) -> String {
    let name = format!("aura-{project}");
    name.chars().take(253).collect()
}

/// Writes (or removes) the ScrapeConfig of `spec.metrics` and sets the
/// project's ScrapeConfigReady condition in `next`.
pub async fn scrape<P: ProjectResource>(
    ctx: &Context<P>,
    obj: &P,
    next: &mut AuraProjectStatus,
) -> Result<()> {
    let name = scrape_config_name(&obj.name_any());
    let wanted = obj.metrics();
    let place = wanted.as_ref().map(|w| format!("{}/{name}", w.namespace));
    // One written before in another namespace (or no longer asked for) goes.
    if let Some(before) = next.scrape_config.clone()
        && Some(&before) != place.as_ref()
    {
        remove(ctx, &before).await?;
        next.scrape_config = None;
    }
    let Some(wanted) = wanted else {
        status::remove(&mut next.conditions, SCRAPE_CONDITION);
        return Ok(());
    };
    let secret = metrics_secret(ctx, &wanted).await?;
    let token_url = format!(
        "{}/oauth/token",
        ctx.aura.config().base_url.trim_end_matches('/')
    );
    let job_name = scrape::job_name(obj.namespace().as_deref(), &obj.name_any());
    let plan = decide::scrape_plan(next, secret, |endpoint| {
        scrape::job(&job_name, endpoint, &token_url, wanted.interval.as_deref())
    });
    let (state, reason, message) = match plan {
        Err((reason, message)) => (State::False, reason, message),
        Ok(job) => match write(ctx, obj, &job, &name, &wanted).await {
            Written::Yes => {
                next.scrape_config = place.clone();
                (
                    State::True,
                    ProjectReason::ScrapeConfigWritten,
                    format!(
                        "ScrapeConfig {} scrapes {}://{}{}",
                        place.unwrap_or_default(),
                        job.scheme,
                        job.target,
                        job.metrics_path
                    ),
                )
            }
            Written::NoCrd => (
                State::False,
                ProjectReason::ScrapeConfigUnavailable,
                "the cluster has no ScrapeConfig resource (monitoring.coreos.com/v1alpha1, prometheus-operator 0.65 or newer): install prometheus-operator, or give Prometheus the job `aura-operator scrape-config` prints".into(),
            ),
            // The project itself stays usable: only its condition says so.
            Written::Failed(message) => (
                State::False,
                ProjectReason::ScrapeConfigUnavailable,
                message,
            ),
        },
    };
    status::set(
        &mut next.conditions,
        status::Set {
            type_: SCRAPE_CONDITION,
            state,
            reason: reason.as_str(),
            message,
            generation: obj.meta().generation,
            now: Timestamp::now(),
        },
    );
    Ok(())
}

/// Whether the metrics credentials Secret holds clientId and clientSecret
/// (the message names the Secret, never what it holds).
async fn metrics_secret<P: ProjectResource>(
    ctx: &Context<P>,
    wanted: &MetricsWanted,
) -> Result<std::result::Result<(), String>> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &wanted.namespace);
    let found = match secrets.get_opt(&wanted.secret).await {
        Ok(found) => found,
        // Not readable (RBAC in that namespace, say): said in the condition.
        Err(e) => {
            return Ok(Err(format!(
                "the metrics credentials Secret {}/{} cannot be read: {e}",
                wanted.namespace, wanted.secret
            )));
        }
    };
    Ok(match found.as_ref().and_then(credentials::read) {
        Some(_) => Ok(()),
        None => Err(format!(
            "no usable metrics credentials in Secret {}/{}: it must exist and hold the keys clientId and clientSecret of a user with the Metrics Integration Reader role",
            wanted.namespace, wanted.secret
        )),
    })
}

/// What writing the ScrapeConfig came to.
enum Written {
    Yes,
    /// The cluster has no ScrapeConfig resource.
    NoCrd,
    /// Refused (RBAC in that namespace, say) or not answered.
    Failed(String),
}

/// Applies the ScrapeConfig.
async fn write<P: ProjectResource>(
    ctx: &Context<P>,
    obj: &P,
    job: &scrape::ScrapeJob,
    name: &str,
    wanted: &MetricsWanted,
) -> Written {
    let Some(mut owner) = obj.controller_owner_ref(&()) else {
        return Written::Failed("the project has no uid yet".into());
    };
    // No blockOwnerDeletion: it would need update on the project's finalizers.
    owner.block_owner_deletion = None;
    let body = scrape::scrape_config(
        job,
        name,
        &wanted.namespace,
        &obj.name_any(),
        &wanted.secret,
        serde_json::to_value(owner).unwrap_or_default(),
    );
    let api = scrape_configs(&ctx.client, &wanted.namespace);
    match api
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
    {
        Ok(_) => Written::Yes,
        Err(kube::Error::Api(s)) if s.code == 404 => Written::NoCrd,
        Err(e) => Written::Failed(format!(
            "writing ScrapeConfig {}/{name} failed: {e}",
            wanted.namespace
        )),
    }
}

/// Deletes a ScrapeConfig written before (`namespace/name`); gone is fine.
async fn remove<P: ProjectResource>(ctx: &Context<P>, place: &str) -> Result<()> {
    let Some((namespace, name)) = place.split_once('/') else {
        return Ok(());
    };
    match scrape_configs(&ctx.client, namespace)
        .delete(name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ReconcileError::kube("delete the ScrapeConfig", e)),
    }
}
