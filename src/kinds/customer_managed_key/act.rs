//! Act: resolves the credentials and the tenant, reads what `decide` names,
//! carries out its step (the create's intent written first, guarded) and
//! writes the status.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;

use super::decide::{self, KeyAction, KeyDecision, KeyObservation, KeyReason, KeySummary, Read};
use crate::api::{AuraCustomerManagedKey, AuraCustomerManagedKeyStatus};
use crate::aura::{AuraClient, AuraErrorKind, CreateKeyRequest, CustomerManagedKey};
use crate::kinds::shared::{own_client, tenant};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, Result, failpoint};

pub type Ctx = Context<AuraCustomerManagedKey>;

pub async fn apply(obj: &AuraCustomerManagedKey, ctx: &Ctx) -> Result<controller::Action> {
    let api = api_of(obj, ctx);
    let mut next = obj.status.clone().unwrap_or_default();
    let aura = match client(obj, ctx).await? {
        Ok(aura) => aura,
        Err(summary) => return finish(&api, obj, &mut next, &summary, None).await,
    };
    let tenant_id = match tenant(obj, ctx, &aura, &next).await? {
        Ok(id) => id,
        Err(summary) => return finish(&api, obj, &mut next, &summary, None).await,
    };
    next.tenant_id = Some(tenant_id.clone());

    let read = decide::first_read(&obj.spec, &next);
    let seen = match &read {
        Read::Key(id) => Some(match aura.get_key(id).await {
            Ok(key) => Some(key),
            Err(e) if e.kind() == AuraErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        }),
        Read::Search | Read::Nothing => None,
    };
    let listed = match read {
        Read::Search => Some(aura.list_keys(&tenant_id).await?),
        Read::Key(_) | Read::Nothing => None,
    };
    let held = held_elsewhere(obj, ctx);
    let decision = decide::decide(&KeyObservation {
        spec: &obj.spec,
        status: &next,
        tenant_id: &tenant_id,
        seen: seen.as_ref().map(Option::as_ref),
        listed: listed.as_deref(),
        held: &held,
        now: Timestamp::now(),
        grace: ctx.config.create_grace,
    });
    if let Some(Some(key)) = &seen {
        mirror(&mut next, key);
    }
    let KeyDecision {
        action,
        mut summary,
        requeue,
    } = decision;
    let mut written = None;
    match action {
        KeyAction::None => {}
        KeyAction::Adopt(id) => {
            next.id = Some(id);
            next.adopted = Some(true);
        }
        KeyAction::Found(id) => {
            next.id = Some(id.clone());
            next.create_requested_at = None;
            next.create_prior_ids.clear();
            ctx.normal(
                obj,
                KeyReason::KeyCreated,
                &format!("found key {id}, made by a create whose answer was lost"),
            )
            .await;
        }
        KeyAction::Create(request) => {
            let (stop, intent) = create(obj, &api, ctx, &aura, &request, &mut next).await?;
            if let Some(stop) = stop {
                summary = stop;
            }
            written = intent;
        }
    }
    // The status write is guarded by the object as last written.
    let obj = written.as_ref().unwrap_or(obj);
    finish(&api, obj, &mut next, &summary, requeue).await
}

fn api_of(obj: &AuraCustomerManagedKey, ctx: &Ctx) -> Api<AuraCustomerManagedKey> {
    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default())
}

/// A client of the object's credentials, or the stall that says why there is none.
pub async fn client(
    obj: &AuraCustomerManagedKey,
    ctx: &Ctx,
) -> Result<std::result::Result<AuraClient, KeySummary>> {
    Ok(own_client::client(ctx, obj).await?.map_err(|problem| {
        KeySummary::stalled(KeyReason::CredentialsNotUsable, problem.to_string())
    }))
}

/// The tenant, or the stall that says why there is none.
async fn tenant(
    obj: &AuraCustomerManagedKey,
    ctx: &Ctx,
    aura: &AuraClient,
    current: &AuraCustomerManagedKeyStatus,
) -> Result<std::result::Result<String, KeySummary>> {
    let chosen = tenant::choose(
        ctx,
        obj,
        aura,
        obj.spec.tenant_id.as_deref(),
        current.tenant_id.as_deref(),
    )
    .await?;
    Ok(chosen.map_err(|message| KeySummary::stalled(KeyReason::TenantNotChosen, message)))
}

/// The Aura keys the other AuraCustomerManagedKeys record, with who records them.
pub fn held_elsewhere(obj: &AuraCustomerManagedKey, ctx: &Ctx) -> Vec<(String, String)> {
    let me = (obj.namespace(), obj.name_any());
    ctx.all_objects()
        .iter()
        .filter(|o| (o.namespace(), o.name_any()) != me)
        .filter_map(|o| {
            let id = o.status.as_ref()?.id.clone()?;
            Some((
                id,
                format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()),
            ))
        })
        .collect()
}

/// What Aura reports of the key, into the status.
fn mirror(next: &mut AuraCustomerManagedKeyStatus, key: &CustomerManagedKey) {
    next.aura_status = key.status.clone();
    if key.created.is_some() {
        next.created = key.created.clone();
    }
}

/// Records the intent (guarded: a second operator's pass fails here), then
/// creates. An unknown outcome leaves the intent for the search and fails
/// the pass; a refusal clears it and is shown. Returns the status to show
/// instead of the decision's, and the object as the intent's write left it.
async fn create(
    obj: &AuraCustomerManagedKey,
    api: &Api<AuraCustomerManagedKey>,
    ctx: &Ctx,
    aura: &AuraClient,
    request: &CreateKeyRequest,
    next: &mut AuraCustomerManagedKeyStatus,
) -> Result<(Option<KeySummary>, Option<AuraCustomerManagedKey>)> {
    let listed = aura.list_keys(&request.tenant_id).await?;
    next.create_requested_at = Some(Timestamp::now().to_string());
    next.create_prior_ids = decide::prior_ids(&listed, &request.name);
    status::summarize(
        obj,
        next,
        &KeySummary::working(KeyReason::Creating, "creating the key in Aura"),
    );
    let written = status::write(
        api,
        obj,
        next,
        Write::Guarded("record the key's create intent"),
    )
    .await?;
    let latest = written.as_ref().unwrap_or(obj);
    if ctx.config.dry_run {
        ctx.dry_run_skipped(latest, "create_key", "POST /customer-managed-keys")
            .await;
        next.create_requested_at = None;
        next.create_prior_ids.clear();
        let dry = KeySummary::working(KeyReason::Creating, "dry run: the create call was not made");
        return Ok((Some(dry), written));
    }
    failpoint("key-create-sent");
    match aura.create_key(request).await {
        Ok(created) => {
            failpoint("key-create-answered");
            next.id = Some(created.id.clone());
            next.aura_status = created.status.clone();
            next.created = created.created.clone();
            next.create_requested_at = None;
            next.create_prior_ids.clear();
            ctx.normal(
                latest,
                KeyReason::KeyCreated,
                &format!("created key {} in tenant {}", created.id, request.tenant_id),
            )
            .await;
            Ok((None, written))
        }
        Err(e)
            if matches!(
                e.kind(),
                AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
            ) =>
        {
            next.create_requested_at = None;
            next.create_prior_ids.clear();
            ctx.warn(latest, KeyReason::AuraRejected, &e.to_string())
                .await;
            let refused = KeySummary::stalled(KeyReason::AuraRejected, e.to_string());
            Ok((Some(refused), written))
        }
        Err(e) => Err(e.into()),
    }
}

async fn finish(
    api: &Api<AuraCustomerManagedKey>,
    obj: &AuraCustomerManagedKey,
    next: &mut AuraCustomerManagedKeyStatus,
    summary: &KeySummary,
    requeue: Option<Duration>,
) -> Result<controller::Action> {
    status::summarize(obj, next, summary);
    status::write(
        api,
        obj,
        next,
        Write::GuardedIfChanged("write the key's status"),
    )
    .await?;
    Ok(match requeue {
        Some(after) => controller::Action::requeue(after),
        None => controller::Action::await_change(),
    })
}
