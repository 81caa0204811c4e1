//! Act: one pass over a project. Observe (credentials, token, tenant), let
//! `decide` say what the status is, write it. The finalizer is held while
//! AuraInstances use the project; it goes only when the apiserver confirms
//! that none does.

use std::time::Duration;

use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::ProjectResource;
use super::decide::{self, ProjectReason, ProjectSummary};
use crate::api::{AuraInstance, AuraProjectStatus};
use tracing::debug;

use crate::aura::{AuraClient, AuraError};
use crate::kinds::shared::organization;
use crate::reconciler::credentials::{self, CredentialsSource};
use crate::reconciler::projects::{ProjectId, user_name};
use crate::reconciler::status;
use crate::reconciler::{Cleanup, Context, Kind, ReconcileError, Result, credentials_finalizer};

/// Held only while used: an unused project can be deleted even with the
/// operator gone (an uninstall, say). Let go only when the apiserver too
/// shows no user (the watches may not have shown every user yet).
pub async fn keeps_finalizer<P: ProjectResource>(obj: &P, ctx: &Context<P>) -> Result<bool> {
    let id = obj.id();
    if !ctx.projects.users_of(&id).is_empty() {
        return Ok(true);
    }
    let held = obj.finalizers().iter().any(|f| f == P::FINALIZER);
    Ok(held && !users_in_apiserver(ctx, &id).await?.is_empty())
}

/// A project being deleted waits for its last user, then lets go of its Secret.
pub async fn cleanup<P: ProjectResource>(obj: &P, ctx: &Context<P>) -> Result<Cleanup> {
    let id = obj.id();
    // The watches may not have shown every user yet (just started, say):
    // the apiserver answers before the finalizer goes.
    let mut users = ctx.projects.users_of(&id);
    if users.is_empty() {
        users = users_in_apiserver(ctx, &id).await?;
    }
    if users.is_empty() {
        release_secret(ctx, obj).await?;
        return Ok(Cleanup::Done);
    }
    let mut next = AuraProjectStatus {
        used_by: count(&users),
        ..obj.status().cloned().unwrap_or_default()
    };
    write(ctx, obj, &mut next, &decide::in_use(&users)).await?;
    // Each user that goes wakes the project; this is only a safety net.
    Ok(Cleanup::Again(Action::requeue(Duration::from_secs(60))))
}

pub async fn apply<P: ProjectResource>(obj: &P, ctx: &Context<P>) -> Result<Action> {
    let id = obj.id();
    let previous = obj.status().cloned().unwrap_or_default();
    let used_by = count(&ctx.projects.users_of(&id));
    let mut with_users = AuraProjectStatus {
        used_by,
        ..previous.clone()
    };
    let source = CredentialsSource::Project {
        project: id.clone(),
        secret: obj.view().secret,
        tenant_id: None,
        organization_id: None,
        allow_unheld_sources: false,
    };
    let creds = match credentials::resolve(&ctx.client, &ctx.secrets, &source, true).await? {
        Ok(c) => c,
        Err(problem) => {
            let (reason, message) = decide::credentials_problem(&problem);
            return stall(ctx, obj, &mut with_users, reason, message, None).await;
        }
    };
    // The client id stays counted while the project holds it, so that its
    // token and limiter are not dropped between passes.
    ctx.note_client(obj, &creds.client_id);
    let aura = ctx.aura.client(&creds);
    let listed = match obj.spec_tenant() {
        Some(_) => None,
        None => match ctx.tenants.list(&aura).await {
            Ok(l) => Some(l),
            Err(e) => return aura_failed(ctx, obj, &mut with_users, e).await,
        },
    };
    let tenant_id = match decide::pick_tenant(obj.spec_tenant(), listed.as_deref()) {
        Ok(t) => t,
        Err((reason, message)) => {
            return stall(ctx, obj, &mut with_users, reason, message, None).await;
        }
    };
    let tenant = match ctx.tenants.tenant(&aura, &tenant_id).await {
        Ok(t) => t,
        Err(e) => return aura_failed(ctx, obj, &mut with_users, e).await,
    };
    let mut found = decide::found(&previous, &tenant, used_by);
    organization(ctx, obj, &aura, &mut found).await;
    // Read once, and on every pass of a project that scrapes it: it seldom changes.
    let integration = if previous.metrics_integration.is_none() || obj.metrics().is_some() {
        super::metrics::integration(&aura, &tenant_id).await
    } else {
        decide::MetricsIntegration::Unknown
    };
    (found.metrics_integration_url, found.metrics_integration) = integration.into_status(&previous);
    super::metrics::scrape(ctx, obj, &mut found).await?;
    write(ctx, obj, &mut found, &ProjectSummary::ready()).await?;
    Ok(Action::requeue(ctx.config.resync_interval))
}

/// The organization (API v2beta1), read when the status has none or the spec
/// names another: the spec's, the only one the credentials see, or the one
/// holding the tenant. Never a stall: the project's v1 work goes on, an event
/// says when several leave it open, and what needs one says why it has none.
async fn organization<P: ProjectResource>(
    ctx: &Context<P>,
    obj: &P,
    aura: &AuraClient,
    found: &mut AuraProjectStatus,
) {
    let spec = obj.spec_organization();
    if !organization::must_list(
        spec,
        found.organization_id.as_deref(),
        found.organization_name.as_deref(),
    ) {
        return;
    }
    if let Some(id) = spec {
        (found.organization_id, found.organization_name) = match aura.list_organizations().await {
            Ok(listed) => organization::named(id, &listed),
            Err(e) => {
                debug!(error = %e, "the project's organizations could not be read");
                (Some(id.to_string()), None)
            }
        };
        return;
    }
    match organization::find(aura, found.tenant_id.as_deref()).await {
        Ok(Ok(o)) => {
            found.organization_name = Some(o.name).filter(|n| !n.is_empty());
            found.organization_id = Some(o.id);
        }
        Ok(Err((organization::Problem::Ambiguous, message))) => {
            ctx.warn(obj, ProjectReason::OrganizationAmbiguous, &message)
                .await;
        }
        Ok(Err((organization::Problem::NotFound, _))) => {}
        Err(e) => debug!(error = %e, "the project's organizations could not be read"),
    }
}

fn count(users: &[String]) -> u32 {
    u32::try_from(users.len()).unwrap_or(u32::MAX)
}

/// Stalled with `reason`; looked at again after the retry that fits it.
async fn stall<P: ProjectResource>(
    ctx: &Context<P>,
    obj: &P,
    next: &mut AuraProjectStatus,
    reason: ProjectReason,
    message: String,
    aura_backoff: Option<Duration>,
) -> Result<Action> {
    write(ctx, obj, next, &ProjectSummary::stalled(reason, message)).await?;
    Ok(Action::requeue(decide::retry_after(reason, aura_backoff)))
}

/// A refusal stalls (and waits out the token's backoff, so that failing
/// credentials spend no token); anything transient is retried.
async fn aura_failed<P: ProjectResource>(
    ctx: &Context<P>,
    obj: &P,
    next: &mut AuraProjectStatus,
    error: AuraError,
) -> Result<Action> {
    match decide::aura_problem(&error) {
        Some((reason, message)) => {
            stall(ctx, obj, next, reason, message, error.retry_after()).await
        }
        None => Err(error.into()),
    }
}

async fn write<P: ProjectResource>(
    ctx: &Context<P>,
    obj: &P,
    next: &mut AuraProjectStatus,
    summary: &ProjectSummary,
) -> Result<()> {
    let api: Api<P> = crate::reconciler::api(&ctx.client, obj.namespace().as_deref());
    status::write_summary(&api, obj, next, summary)
        .await
        .map(drop)
}

/// The AuraInstances that use the project, as the apiserver lists them.
async fn users_in_apiserver<P: ProjectResource>(
    ctx: &Context<P>,
    id: &ProjectId,
) -> Result<Vec<String>> {
    let client = &ctx.client;
    let scopes: Vec<Api<AuraInstance>> = match (&id.namespace, &ctx.config.namespaces) {
        (Some(ns), _) => vec![Api::namespaced(client.clone(), ns)],
        (None, watched) if watched.is_empty() => vec![Api::all(client.clone())],
        (None, watched) => watched
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect(),
    };
    let mut users = Vec::new();
    for api in scopes {
        let listed = api
            .list(&ListParams::default())
            .await
            .map_err(|e| ReconcileError::kube("list the project's AuraInstances", e))?;
        for o in listed.items {
            let ns = o.namespace().unwrap_or_default();
            let source = ctx.projects.source(&ns, o.wanted_credentials());
            if source.project() == Some(id) {
                users.push(user_name(&AuraInstance::kind(&()), &ns, &o.name_any()));
            }
        }
    }
    Ok(users)
}

/// Lets go of the project's Secret unless another project, or an
/// AuraInstance of that namespace, still names it.
async fn release_secret<P: ProjectResource>(ctx: &Context<P>, obj: &P) -> Result<()> {
    let secret = obj.view().secret;
    let mut named = ctx
        .projects
        .secrets_named_in_except(&secret.namespace, &obj.id());
    // AuraInstances of a namespace the operator does not watch are not its
    // own, and its RBAC may not even list them there.
    let watched = &ctx.config.namespaces;
    if watched.is_empty() || watched.contains(&secret.namespace) {
        let instances: Api<AuraInstance> = Api::namespaced(ctx.client.clone(), &secret.namespace);
        let listed = instances
            .list(&ListParams::default())
            .await
            .map_err(|e| ReconcileError::kube("list the AuraInstances naming the Secret", e))?;
        named.extend(
            listed
                .items
                .iter()
                .filter_map(|o| o.spec.credentials_secret_ref.as_ref())
                .map(|r| r.name.clone()),
        );
    }
    credentials_finalizer::release_unused(&ctx.client, &secret.namespace, &secret.name, &named)
        .await
}
