//! The ClusterAuraIPFilter pass: the organization of the first project's
//! credentials, the Aura project (tenant) of each named ClusterAuraProject
//! (all in that organization), then the writes both kinds share. Ready once
//! Aura kept what was written: Aura reports a filter's state per instance
//! only.

use kube::api::Api;
use kube::runtime::controller;

use super::FilterObject;
use super::decide::{self, FilterReason, FilterSummary};
use super::write;
use crate::api::{AuraIPFilterStatus, ClusterAuraIPFilter, FilterOnProject};
use crate::kinds::shared::{organization, own_client};
use crate::reconciler::projects::ProjectId;
use crate::reconciler::{Context, Result};

pub type Ctx = Context<ClusterAuraIPFilter>;

pub async fn apply(obj: &ClusterAuraIPFilter, ctx: &Ctx) -> Result<controller::Action> {
    let api: Api<ClusterAuraIPFilter> = crate::reconciler::api(&ctx.client, None);
    let mut next = obj.status.clone().unwrap_or_default();
    let (summary, requeue, written) = pass(obj, ctx, &api, &mut next).await?;
    write::finish(
        ctx,
        written.as_ref().unwrap_or(obj),
        &mut next,
        &summary,
        requeue,
    )
    .await
}

type Passed = (
    FilterSummary,
    Option<std::time::Duration>,
    Option<ClusterAuraIPFilter>,
);

async fn pass(
    obj: &ClusterAuraIPFilter,
    ctx: &Ctx,
    api: &Api<ClusterAuraIPFilter>,
    next: &mut AuraIPFilterStatus,
) -> Result<Passed> {
    let stall = |reason, message: String| {
        Ok((
            FilterSummary::stalled(reason, message),
            Some(decide::STALL_RETRY),
            None,
        ))
    };
    let aura = match own_client::client(ctx, obj).await? {
        Ok(aura) => aura,
        Err(problem) => return stall(FilterReason::CredentialsNotUsable, problem.to_string()),
    };
    let views: Vec<_> = obj
        .spec
        .project_refs
        .iter()
        .map(|r| (r, ctx.projects.view(&ProjectId::cluster(&r.name))))
        .collect();
    // The first project's tenant tells the organization among several.
    let tenant = views
        .first()
        .and_then(|(_, v)| v.as_ref()?.tenant_id.clone());
    let recorded = next.organization_id.as_deref();
    let org = match organization::choose(ctx, obj, &aura, recorded, tenant.as_deref()).await? {
        Ok(org) => org,
        Err((problem, message)) => {
            let summary = decide::no_organization(problem, message);
            return Ok((summary, Some(decide::ORGANIZATION_RETRY), None));
        }
    };
    next.organization_id = Some(org.clone());

    let mut applied = Vec::new();
    let mut waiting = Vec::new();
    let mut elsewhere = Vec::new();
    for (r, view) in views {
        let tenant = view.as_ref().and_then(|v| v.tenant_id.clone());
        match (&view, &tenant) {
            (None, _) => waiting.push(format!("no ClusterAuraProject {}", r.name)),
            (Some(_), None) => {
                waiting.push(format!(
                    "ClusterAuraProject {} has no Aura project yet",
                    r.name
                ));
            }
            (Some(v), Some(_)) => {
                if let Some(other) = v.organization_id.as_deref().filter(|o| *o != org) {
                    elsewhere.push(format!("{} (organization {other})", r.name));
                }
            }
        }
        applied.push(FilterOnProject {
            project: r.name.clone(),
            project_id: tenant,
        });
    }
    next.applied_to_projects = applied;
    if !elsewhere.is_empty() {
        return stall(
            FilterReason::OrganizationMismatch,
            format!(
                "an IP filter lives in one organization ({org}, the first project's); these projects are in another: {}",
                elsewhere.join(", ")
            ),
        );
    }
    if let Some(message) = decide::conflict(&obj.as_other(), &write::others(obj, ctx)) {
        return stall(FilterReason::FilterConflict, message);
    }
    let ids: Vec<String> = next
        .applied_to_projects
        .iter()
        .filter_map(|p| p.project_id.clone())
        .collect();
    let spec = &obj.spec;
    let wanted = decide::desired(
        &spec.name,
        &spec.allow_list,
        spec.filtering_disabled,
        &org,
        decide::on_projects(&ids),
    );
    let mut written = None;
    if let Err((summary, requeue)) =
        write::ensure(obj, ctx, api, &aura, &org, &wanted, next, &mut written).await?
    {
        return Ok((summary, requeue, written));
    }
    let summary = if waiting.is_empty() {
        (FilterSummary::ready(), None)
    } else {
        (
            FilterSummary::working(FilterReason::WaitingForProject, waiting.join("; ")),
            Some(decide::INSTANCE_POLL),
        )
    };
    Ok((summary.0, summary.1, written))
}
