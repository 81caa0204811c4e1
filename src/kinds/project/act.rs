//! Act: one pass over a project. Observe (credentials, token, tenant), let
//! `decide` say what the status is, write it. The finalizer is held while
//! AuraInstances use the project; it goes only when the apiserver confirms
//! that none does.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;

use super::decide::{self, ProjectSummary};
use super::{ProjectContext, ProjectResource};
use crate::api::{AuraInstance, AuraProjectStatus, PROJECT_FINALIZER};
use crate::aura::AuraError;
use crate::reconciler::credentials::{self, CredentialsSource};
use crate::reconciler::projects::{ProjectId, user_name};
use crate::reconciler::{FIELD_MANAGER, Kind, ReconcileError, Result, credentials_finalizer};

pub async fn reconcile<P: ProjectResource>(
    obj: Arc<P>,
    ctx: Arc<ProjectContext>,
) -> Result<Action> {
    let started = std::time::Instant::now();
    let result = pass(obj.as_ref(), &ctx).await;
    let label = if result.is_ok() { "ok" } else { "error" };
    ctx.shared
        .telemetry
        .record_reconcile(label, started.elapsed());
    result
}

async fn pass<P: ProjectResource>(obj: &P, ctx: &ProjectContext) -> Result<Action> {
    let id = obj.id();
    let api = P::api(ctx.shared.client.clone(), obj.namespace().as_deref());
    let previous = obj.project_status().cloned().unwrap_or_default();
    let held = obj.finalizers().iter().any(|f| f == PROJECT_FINALIZER);
    if obj.meta().deletion_timestamp.is_some() {
        if !held {
            return Ok(Action::await_change());
        }
        // The watches may not have shown every user yet (just started, say):
        // the apiserver answers before the finalizer goes.
        let mut users = ctx.shared.projects.users_of(&id);
        if users.is_empty() {
            users = users_in_apiserver(ctx, &id).await?;
        }
        if users.is_empty() {
            release_secret(ctx, obj).await?;
            patch_finalizers(&api, obj, false).await?;
            ctx.release_client(&id);
            return Ok(Action::await_change());
        }
        let status = AuraProjectStatus {
            used_by: count(&users),
            ..previous.clone()
        };
        write_status(&api, obj, status, &ProjectSummary::in_use(&users)).await?;
        // Each user that goes wakes the project; this is only a safety net.
        return Ok(Action::requeue(Duration::from_secs(60)));
    }
    // Held only while used: an unused project can be deleted even with the
    // operator gone (an uninstall, say). Let go only when the apiserver too
    // shows no user (the watches may not have shown every user yet).
    let users = ctx.shared.projects.users_of(&id);
    if !users.is_empty() && !held {
        patch_finalizers(&api, obj, true).await?;
    } else if users.is_empty() && held && users_in_apiserver(ctx, &id).await?.is_empty() {
        patch_finalizers(&api, obj, false).await?;
    }
    let used_by = count(&users);
    let with_users = AuraProjectStatus {
        used_by,
        ..previous.clone()
    };

    let view = obj.view();
    let source = CredentialsSource::Project {
        project: id.clone(),
        secret: view.secret,
        tenant_id: None,
    };
    let creds =
        match credentials::resolve(&ctx.shared.client, &ctx.shared.secrets, &source, true).await? {
            Ok(c) => c,
            Err(problem) => {
                let (reason, message) = decide::credentials_problem(&problem);
                let summary = ProjectSummary::stalled(reason, message);
                write_status(&api, obj, with_users, &summary).await?;
                return Ok(Action::requeue(decide::retry_after(reason, None)));
            }
        };
    ctx.hold_client(&id, &creds.client_id);
    let aura = ctx.shared.aura.client(&creds);
    let tenants = &ctx.shared.tenants;
    let listed = match obj.spec_tenant() {
        Some(_) => None,
        None => match tenants.list(&aura).await {
            Ok(l) => Some(l),
            Err(e) => return aura_failed(&api, obj, with_users, e).await,
        },
    };
    let tenant_id = match decide::pick_tenant(obj.spec_tenant(), listed.as_deref()) {
        Ok(t) => t,
        Err((reason, message)) => {
            write_status(
                &api,
                obj,
                with_users,
                &ProjectSummary::stalled(reason, message),
            )
            .await?;
            return Ok(Action::requeue(decide::retry_after(reason, None)));
        }
    };
    let tenant = match tenants.tenant(&aura, &tenant_id).await {
        Ok(t) => t,
        Err(e) => return aura_failed(&api, obj, with_users, e).await,
    };
    let status = decide::found(&previous, &tenant, used_by);
    write_status(&api, obj, status, &ProjectSummary::ready()).await?;
    Ok(Action::requeue(ctx.shared.config.resync_interval))
}

fn count(users: &[String]) -> u32 {
    u32::try_from(users.len()).unwrap_or(u32::MAX)
}

/// A refusal stalls (and waits out the token's backoff, so that failing
/// credentials spend no token); anything transient is retried.
async fn aura_failed<P: ProjectResource>(
    api: &Api<P>,
    obj: &P,
    status: AuraProjectStatus,
    error: AuraError,
) -> Result<Action> {
    match decide::aura_problem(&error) {
        Some((reason, message)) => {
            write_status(api, obj, status, &ProjectSummary::stalled(reason, message)).await?;
            Ok(Action::requeue(decide::retry_after(
                reason,
                error.retry_after(),
            )))
        }
        None => Err(error.into()),
    }
}

/// The AuraInstances that use the project, as the apiserver lists them.
async fn users_in_apiserver(ctx: &ProjectContext, id: &ProjectId) -> Result<Vec<String>> {
    let client = &ctx.shared.client;
    let scopes: Vec<Api<AuraInstance>> = match (&id.namespace, &ctx.shared.config.namespaces) {
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
            let source = ctx.shared.projects.source(&ns, o.wanted_credentials());
            if source.project() == Some(id) {
                users.push(user_name("AuraInstance", &ns, &o.name_any()));
            }
        }
    }
    Ok(users)
}

/// Lets go of the project's Secret unless another project, or an
/// AuraInstance of that namespace, still names it.
async fn release_secret<P: ProjectResource>(ctx: &ProjectContext, obj: &P) -> Result<()> {
    let secret = obj.view().secret;
    let mut named = ctx
        .shared
        .projects
        .secrets_named_in_except(&secret.namespace, &obj.id());
    // AuraInstances of a namespace the operator does not watch are not its
    // own, and its RBAC may not even list them there.
    let watched = &ctx.shared.config.namespaces;
    if watched.is_empty() || watched.contains(&secret.namespace) {
        let instances: Api<AuraInstance> =
            Api::namespaced(ctx.shared.client.clone(), &secret.namespace);
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
    credentials_finalizer::release_unused(
        &ctx.shared.client,
        &secret.namespace,
        &secret.name,
        &named,
    )
    .await
}

async fn patch_finalizers<P: ProjectResource>(api: &Api<P>, obj: &P, hold: bool) -> Result<()> {
    let mut finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != PROJECT_FINALIZER)
        .cloned()
        .collect();
    if hold {
        finalizers.push(PROJECT_FINALIZER.to_string());
    }
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    let step = if hold {
        "add the project finalizer"
    } else {
        "remove the project finalizer"
    };
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 && !hold => Ok(()),
        Err(e) => Err(ReconcileError::kube(step, e)),
    }
}

/// The one status writer for projects: server-side apply with the operator's
/// field manager, only when something changed.
async fn write_status<P: ProjectResource>(
    api: &Api<P>,
    obj: &P,
    mut status: AuraProjectStatus,
    summary: &ProjectSummary,
) -> Result<()> {
    let previous = obj.project_status();
    let generation = obj.meta().generation;
    status.observed_generation = generation;
    status.conditions = crate::reconciler::status::conditions(
        summary,
        previous
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default(),
        generation,
        Timestamp::now(),
    );
    if previous == Some(&status) {
        return Ok(());
    }
    let body = json!({
        "apiVersion": P::api_version(&()),
        "kind": P::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map(|_| ())
    .map_err(|e| ReconcileError::kube("write the project status", e))
}
