//! Act: resolves the credentials, the organization and the named
//! AuraInstances; creates or changes the Aura filter (the create's intent
//! written first, guarded), reads back what Aura kept, reads the filter's
//! state on each instance, and writes the status.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;

use super::FilterObject;
use super::decide::{self, FilterReason, FilterSummary, Target};
use super::write;
use crate::api::{AuraIPFilter, AuraIPFilterStatus, FilterApplied};
use crate::kinds::shared::views::Claim;
use crate::kinds::shared::{organization, own_client};
use crate::reconciler::{Context, Result};

pub type Ctx = Context<AuraIPFilter>;

pub async fn apply(obj: &AuraIPFilter, ctx: &Ctx) -> Result<controller::Action> {
    let api = api_of(obj, ctx);
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

async fn pass(
    obj: &AuraIPFilter,
    ctx: &Ctx,
    api: &Api<AuraIPFilter>,
    next: &mut AuraIPFilterStatus,
) -> Result<(FilterSummary, Option<Duration>, Option<AuraIPFilter>)> {
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
    let targets = targets(obj, ctx).await?;
    // The instances' tenant tells the organization among several.
    let tenant = targets.iter().find_map(|(_, t)| match t {
        Target::Instance { tenant, .. } => Some(tenant.as_str()),
        Target::Waiting(_) => None,
    });
    let recorded = next.organization_id.as_deref();
    let org = match organization::choose(ctx, obj, &aura, recorded, tenant).await? {
        Ok(org) => org,
        Err((problem, message)) => {
            let summary = decide::no_organization(problem, message);
            return Ok((summary, Some(decide::ORGANIZATION_RETRY), None));
        }
    };
    next.organization_id = Some(org.clone());
    if let Some(message) = decide::conflict(&obj.as_other(), &write::others(obj, ctx)) {
        return stall(FilterReason::FilterConflict, message);
    }
    let ids: Vec<String> = targets
        .iter()
        .filter_map(|(_, t)| match t {
            Target::Instance { id, .. } => Some(id.clone()),
            Target::Waiting(_) => None,
        })
        .collect();
    let spec = &obj.spec;
    let wanted = decide::desired(
        &spec.name,
        &spec.allow_list,
        spec.filtering_disabled,
        &org,
        decide::on_instances(&ids),
    );

    let mut written = None;
    let filter_id =
        match write::ensure(obj, ctx, api, &aura, &org, &wanted, next, &mut written).await? {
            Ok(id) => id,
            Err((summary, requeue)) => return Ok((summary, requeue, written)),
        };
    // What Aura reports on each instance.
    let mut applied = Vec::new();
    let mut waiting = Vec::new();
    for (name, target) in &targets {
        match target {
            Target::Waiting(why) => {
                waiting.push(why.clone());
                applied.push(FilterApplied {
                    instance: name.clone(),
                    instance_id: None,
                    state: "Pending".into(),
                });
            }
            Target::Instance { id, tenant } => {
                let read = aura.instance_ip_filter(&org, tenant, id).await?;
                applied.push(FilterApplied {
                    instance: name.clone(),
                    instance_id: Some(id.clone()),
                    state: decide::state_on(&filter_id, read.as_ref()),
                });
            }
        }
    }
    next.applied_to = applied;
    let (summary, requeue) = decide::summary(&next.applied_to, &waiting);
    Ok((summary, requeue, written))
}

fn api_of(obj: &AuraIPFilter, ctx: &Ctx) -> Api<AuraIPFilter> {
    crate::reconciler::api(&ctx.client, obj.namespace().as_deref())
}

/// Each named AuraInstance of the namespace: its Aura instance when it
/// holds one, else why it is waited for.
async fn targets(obj: &AuraIPFilter, ctx: &Ctx) -> Result<Vec<(String, Target)>> {
    let ns = obj.namespace().unwrap_or_default();
    let view = &ctx.state.instances;
    let mut out = Vec::new();
    for r in &obj.spec.instance_refs {
        let target = match view.find(&ns, &r.name) {
            None => Target::Waiting(format!("no AuraInstance {} in this namespace", r.name)),
            Some(instance) => {
                let status = instance.status.clone().unwrap_or_default();
                let recorded = status.instance_id.zip(status.tenant_id);
                // Asked now, at the pass that writes the entities.
                let held = match &recorded {
                    Some((id, _)) => Some(view.claim(&instance, id).await? == Claim::Held),
                    None => None,
                };
                decide::target(&r.name, recorded, held)
            }
        };
        out.push((r.name.clone(), target));
    }
    Ok(out)
}
