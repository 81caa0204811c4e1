//! Act: resolves the credentials, the organization and the named
//! AuraInstances; creates or changes the Aura filter (the create's intent
//! written first, guarded), reads back what Aura kept, reads the filter's
//! state on each instance, and writes the status.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;

use super::decide::{self, FilterReason, FilterSummary, Other, Search, Target};
use crate::api::{AuraIPFilter, AuraIPFilterStatus, FilterApplied};
use crate::aura::{AuraClient, AuraErrorKind, IpFilter, IpFilterWrite};
use crate::kinds::shared::views::Claim;
use crate::kinds::shared::{organization, own_client};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, Result, failpoint};

pub type Ctx = Context<AuraIPFilter>;

/// What a pass ends with: the status to show and when to look again.
type Outcome = (FilterSummary, Option<Duration>);

pub async fn apply(obj: &AuraIPFilter, ctx: &Ctx) -> Result<controller::Action> {
    let api = api_of(obj, ctx);
    let mut next = obj.status.clone().unwrap_or_default();
    let (summary, requeue, written) = pass(obj, ctx, &api, &mut next).await?;
    let obj = written.as_ref().unwrap_or(obj);
    status::summarize(obj, &mut next, &summary);
    status::write(
        &api,
        obj,
        &next,
        Write::GuardedIfChanged("write the IP filter's status"),
    )
    .await?;
    Ok(match requeue {
        Some(after) => controller::Action::requeue(after),
        None => controller::Action::requeue(ctx.config.resync_interval),
    })
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
    let org = match organization::choose(ctx, obj, &aura, next.organization_id.as_deref()).await? {
        Ok(org) => org,
        Err(message) => return stall(FilterReason::OrganizationNotChosen, message),
    };
    next.organization_id = Some(org.clone());

    let targets = targets(obj, ctx).await?;
    if let Some(message) = decide::conflict(&me(obj), &others(obj, ctx)) {
        return stall(FilterReason::FilterConflict, message);
    }
    let ids: Vec<String> = targets
        .iter()
        .filter_map(|(_, t)| match t {
            Target::Instance { id, .. } => Some(id.clone()),
            Target::Waiting(_) => None,
        })
        .collect();
    let wanted = decide::desired(&obj.spec, &org, &ids);

    let mut written = None;
    let filter_id = match ensure(obj, ctx, api, &aura, &org, &wanted, next, &mut written).await? {
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

/// Makes Aura's filter what `wanted` says: found, created or changed, each
/// write read back. `Ok(Ok(id))`: the filter is as wanted; `Ok(Err(..))`:
/// the status to show instead.
#[allow(clippy::too_many_arguments)]
async fn ensure(
    obj: &AuraIPFilter,
    ctx: &Ctx,
    api: &Api<AuraIPFilter>,
    aura: &AuraClient,
    org: &str,
    wanted: &IpFilterWrite,
    next: &mut AuraIPFilterStatus,
    written: &mut Option<AuraIPFilter>,
) -> Result<std::result::Result<String, Outcome>> {
    if let Some(id) = next.id.clone() {
        let seen = match aura.get_ip_filter(org, &id).await {
            Ok(f) => Some(f),
            Err(e) if e.kind() == AuraErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let Some(seen) = seen else {
            // Removed outside this object: a filter holds no data, so it is
            // made again rather than left off.
            ctx.warn(
                obj,
                FilterReason::FilterRecreated,
                &format!("Aura IP filter {id} is gone; creating it again"),
            )
            .await;
            next.id = None;
            return create(obj, ctx, api, aura, org, wanted, next, written).await;
        };
        if wanted.not_kept(&seen).is_empty() {
            return Ok(Ok(id));
        }
        if ctx.config.dry_run {
            ctx.dry_run_skipped(
                obj,
                "update_ip_filter",
                "PATCH /organizations/{org}/ip-filters/{id}",
            )
            .await;
            return Ok(Err((
                FilterSummary::working(
                    FilterReason::FilterSubmitted,
                    "dry run: the change was not made",
                ),
                None,
            )));
        }
        return match aura.update_ip_filter(org, &id, wanted).await {
            Ok(_) => {
                ctx.normal(
                    obj,
                    FilterReason::FilterUpdated,
                    &format!("changed Aura IP filter {id} to match the spec"),
                )
                .await;
                read_back(aura, org, &id, wanted).await
            }
            Err(e) => refused(obj, ctx, e).await,
        };
    }
    if let Some(intent) = decide::intent(next) {
        let listed = aura.list_ip_filters(org).await?;
        let candidates = decide::candidates(
            &listed,
            &wanted.name,
            &next.create_prior_ids,
            &held_elsewhere(obj, ctx),
        );
        match decide::search(
            &candidates,
            intent,
            Timestamp::now(),
            ctx.config.create_grace,
        ) {
            Search::Found(id) => {
                next.id = Some(id.clone());
                next.create_requested_at = None;
                next.create_prior_ids.clear();
                ctx.normal(
                    obj,
                    FilterReason::FilterCreated,
                    &format!("found IP filter {id}, made by a create whose answer was lost"),
                )
                .await;
                // Found as it was sent then; the next pass brings it in line.
                return Ok(Err((
                    FilterSummary::working(
                        FilterReason::Creating,
                        "found the filter of an unanswered create",
                    ),
                    Some(Duration::from_secs(1)),
                )));
            }
            Search::Wait(after) => {
                return Ok(Err((
                    FilterSummary::working(
                        FilterReason::Creating,
                        "waiting to see whether an unanswered create made a filter",
                    ),
                    Some(after),
                )));
            }
            Search::Ambiguous(message) => {
                return Ok(Err((
                    FilterSummary::stalled(FilterReason::CreateAmbiguous, message),
                    Some(decide::STALL_RETRY),
                )));
            }
            Search::CreateAgain => {}
        }
    }
    create(obj, ctx, api, aura, org, wanted, next, written).await
}

/// Records the intent (guarded: a second operator's pass fails here), then
/// creates, then reads back what Aura kept.
#[allow(clippy::too_many_arguments)]
async fn create(
    obj: &AuraIPFilter,
    ctx: &Ctx,
    api: &Api<AuraIPFilter>,
    aura: &AuraClient,
    org: &str,
    wanted: &IpFilterWrite,
    next: &mut AuraIPFilterStatus,
    written: &mut Option<AuraIPFilter>,
) -> Result<std::result::Result<String, Outcome>> {
    let listed = aura.list_ip_filters(org).await?;
    next.create_requested_at = Some(Timestamp::now().to_string());
    next.create_prior_ids = decide::prior_ids(&listed, &wanted.name);
    status::summarize(
        obj,
        next,
        &FilterSummary::working(FilterReason::Creating, "creating the filter in Aura"),
    );
    *written = status::write(
        api,
        obj,
        next,
        Write::Guarded("record the IP filter's create intent"),
    )
    .await?;
    let latest = written.clone().unwrap_or_else(|| obj.clone());
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            &latest,
            "create_ip_filter",
            "POST /organizations/{org}/ip-filters",
        )
        .await;
        next.create_requested_at = None;
        next.create_prior_ids.clear();
        return Ok(Err((
            FilterSummary::working(
                FilterReason::Creating,
                "dry run: the create call was not made",
            ),
            None,
        )));
    }
    failpoint("ip-filter-create-sent");
    match aura.create_ip_filter(org, wanted).await {
        Ok(created) => {
            next.id = Some(created.id.clone());
            next.create_requested_at = None;
            next.create_prior_ids.clear();
            ctx.normal(
                &latest,
                FilterReason::FilterCreated,
                &format!("created IP filter {} in organization {org}", created.id),
            )
            .await;
            read_back(aura, org, &created.id, wanted).await
        }
        Err(e) => {
            if matches!(
                e.kind(),
                AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
            ) {
                next.create_requested_at = None;
                next.create_prior_ids.clear();
            }
            refused(&latest, ctx, e).await
        }
    }
}

/// A write is done only when a read shows Aura kept it.
async fn read_back(
    aura: &AuraClient,
    org: &str,
    id: &str,
    wanted: &IpFilterWrite,
) -> Result<std::result::Result<String, Outcome>> {
    let kept: IpFilter = aura.get_ip_filter(org, id).await?;
    let lost = wanted.not_kept(&kept);
    if lost.is_empty() {
        Ok(Ok(id.to_string()))
    } else {
        Ok(Err((decide::not_applied(&lost), Some(decide::STALL_RETRY))))
    }
}

/// Aura's refusal as a stall (a filter already on an instance is a
/// conflict); anything else fails the pass, to be retried.
async fn refused(
    obj: &AuraIPFilter,
    ctx: &Ctx,
    e: crate::aura::AuraError,
) -> Result<std::result::Result<String, Outcome>> {
    let reason = if e.filter_exists() {
        FilterReason::FilterConflict
    } else if matches!(
        e.kind(),
        AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
    ) {
        FilterReason::AuraRejected
    } else {
        return Err(e.into());
    };
    ctx.warn(obj, reason, &e.to_string()).await;
    Ok(Err((
        FilterSummary::stalled(reason, e.to_string()),
        Some(decide::STALL_RETRY),
    )))
}

fn api_of(obj: &AuraIPFilter, ctx: &Ctx) -> Api<AuraIPFilter> {
    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default())
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
                match (status.instance_id, status.tenant_id) {
                    (Some(id), Some(tenant)) => match view.claim(&instance, &id).await? {
                        Claim::Held => Target::Instance { id, tenant },
                        Claim::HeldByOther(holder) => Target::Waiting(format!(
                            "AuraInstance {} records instance {id}, which {holder:?} holds",
                            r.name
                        )),
                    },
                    _ => {
                        Target::Waiting(format!("AuraInstance {} has no Aura instance yet", r.name))
                    }
                }
            }
        };
        out.push((r.name.clone(), target));
    }
    Ok(out)
}

fn me(obj: &AuraIPFilter) -> Other {
    other(obj)
}

fn other(o: &AuraIPFilter) -> Other {
    let ns = o.namespace().unwrap_or_default();
    Other {
        key: format!("{ns}/{}", o.name_any()),
        namespace: ns,
        created: o.metadata.creation_timestamp.as_ref().map(|t| t.0),
        instance_names: o
            .spec
            .instance_refs
            .iter()
            .map(|r| r.name.clone())
            .collect(),
        id: o.status.as_ref().and_then(|s| s.id.clone()),
    }
}

/// The other AuraIPFilters, live ones only (one being deleted lets go).
fn others(obj: &AuraIPFilter, ctx: &Ctx) -> Vec<Other> {
    let me = (obj.namespace(), obj.name_any());
    ctx.all_objects()
        .iter()
        .filter(|o| (o.namespace(), o.name_any()) != me)
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .map(|o| other(o))
        .collect()
}

/// The Aura filters the other AuraIPFilters record.
pub fn held_elsewhere(obj: &AuraIPFilter, ctx: &Ctx) -> Vec<String> {
    let me = (obj.namespace(), obj.name_any());
    ctx.all_objects()
        .iter()
        .filter(|o| (o.namespace(), o.name_any()) != me)
        .filter_map(|o| o.status.as_ref()?.id.clone())
        .collect()
}
