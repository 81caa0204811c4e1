//! The writes both filter kinds make, generic over them: the filter found,
//! created (the intent written first, guarded) or changed, and every write
//! read back, since Aura answers 2xx to fields it does not keep.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::FilterObject;
use super::decide::{self, FilterReason, FilterSummary, Search};
use crate::api::AuraIPFilterStatus;
use crate::aura::{AuraClient, AuraErrorKind, IpFilter, IpFilterWrite};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, Result, failpoint};

/// A status to show instead, and when to look again.
pub type Outcome = (FilterSummary, Option<Duration>);

/// Writes the status (guarded, only when changed) and says when to look again.
pub async fn finish<K: FilterObject>(
    ctx: &Context<K>,
    obj: &K,
    next: &mut AuraIPFilterStatus,
    summary: &FilterSummary,
    requeue: Option<Duration>,
) -> Result<Action> {
    let api: Api<K> = crate::reconciler::api(&ctx.client, obj.namespace().as_deref());
    status::summarize(obj, next, summary);
    status::write(
        &api,
        obj,
        next,
        Write::GuardedIfChanged("write the IP filter's status"),
    )
    .await?;
    Ok(Action::requeue(
        requeue.unwrap_or(ctx.config.resync_interval),
    ))
}

/// Makes Aura's filter what `wanted` says: found, created or changed, each
/// write read back. `Ok(Ok(id))`: the filter is as wanted; `Ok(Err(..))`:
/// the status to show instead.
#[allow(clippy::too_many_arguments)]
pub async fn ensure<K: FilterObject>(
    obj: &K,
    ctx: &Context<K>,
    api: &Api<K>,
    aura: &AuraClient,
    org: &str,
    wanted: &IpFilterWrite,
    next: &mut AuraIPFilterStatus,
    written: &mut Option<K>,
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
async fn create<K: FilterObject>(
    obj: &K,
    ctx: &Context<K>,
    api: &Api<K>,
    aura: &AuraClient,
    org: &str,
    wanted: &IpFilterWrite,
    next: &mut AuraIPFilterStatus,
    written: &mut Option<K>,
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
            failpoint("ip-filter-create-answered");
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
async fn refused<K: FilterObject>(
    obj: &K,
    ctx: &Context<K>,
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

/// The other live objects of the kind (one being deleted lets go), as the
/// conflict check sees them.
pub fn others<K: FilterObject>(obj: &K, ctx: &Context<K>) -> Vec<decide::Other> {
    let me = (obj.namespace(), obj.name_any());
    ctx.all_objects()
        .iter()
        .filter(|o| (o.namespace(), o.name_any()) != me)
        .filter(|o| o.meta().deletion_timestamp.is_none())
        .map(|o| o.as_other())
        .collect()
}

/// The Aura filters the other objects of the kind record.
pub fn held_elsewhere<K: FilterObject>(obj: &K, ctx: &Context<K>) -> Vec<String> {
    let me = (obj.namespace(), obj.name_any());
    ctx.all_objects()
        .iter()
        .filter(|o| (o.namespace(), o.name_any()) != me)
        .filter_map(|o| o.status()?.id.clone())
        .collect()
}
