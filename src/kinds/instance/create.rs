//! The create, whose answer holds the only copy of the password and which
//! Aura does not make idempotent: the intent is written first (guarded), then
//! the call, then the claim and the password, before anything else.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;
use tracing::{info, warn};

use super::act::{apply_secret, publish, write_status};
use super::decide::{self, Decision, Reason, StatusSummary};
use super::finish;
use super::secret::{self, ConnectionDetails};
use super::status;
use crate::api::{AuraInstance, AuraInstanceStatus};
use crate::aura::{AuraClient, AuraErrorKind, CreateInstanceRequest, CreatedInstance};
use crate::kinds::shared::organization;
use crate::kinds::shared::views::Claim;
use crate::reconciler::pacing::Transition;
use crate::reconciler::status::Write;
use crate::reconciler::{Context, ReconcileError, Result, memory};

type Ctx = Context<AuraInstance>;

/// Records the intent, sends the create, and stores the password before the id.
pub async fn create(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Ctx,
    aura: &AuraClient,
    request: &CreateInstanceRequest,
    decision: &Decision,
) -> Result<controller::Action> {
    let current = obj.status.clone().unwrap_or_default();
    // 0. No password is made for a Secret that cannot take it.
    if let Err(refused) = secret_fits(obj, ctx).await? {
        let summary = StatusSummary::stalled(
            Reason::SecretRefused,
            format!(
                "Kubernetes refuses the connection Secret this object would write ({refused}): no Aura instance is created until spec.connectionSecret is fixed"
            ),
        );
        let mut events = Vec::new();
        finish::transition(&current, &summary, &mut events);
        publish(obj, ctx, events).await;
        write_status(
            api,
            obj,
            status::build(obj, &current, &summary, Some(&current)),
        )
        .await?;
        return Ok(controller::Action::requeue(ctx.resync_after(0)));
    }
    // A multi-database instance is made through v2beta1, in an organization.
    let organization = if obj.spec.multi_database {
        match organization::choose(ctx, obj, aura, None, Some(&request.tenant_id)).await? {
            Ok(org) => Some(org),
            Err((problem, message)) => {
                let reason = match problem {
                    organization::Problem::NotFound => Reason::OrganizationNotFound,
                    organization::Problem::Ambiguous => Reason::OrganizationAmbiguous,
                };
                let summary = StatusSummary::stalled(reason, message);
                let mut events = Vec::new();
                finish::transition(&current, &summary, &mut events);
                publish(obj, ctx, events).await;
                write_status(
                    api,
                    obj,
                    status::build(obj, &current, &summary, Some(&current)),
                )
                .await?;
                return Ok(controller::Action::requeue(ctx.resync_after(0)));
            }
        }
    } else {
        None
    };
    let Some(intent) = record_intent(obj, api, ctx, aura, request, decision, &current).await?
    else {
        // Another writer got there first: nothing was created.
        return Ok(controller::Action::requeue(Duration::from_millis(500)));
    };

    // 2. The create itself, never retried blindly.
    let sent = match &organization {
        Some(org) => aura.create_multi_database_instance(org, request).await,
        None => aura.create_instance(request).await,
    };
    let created = match sent {
        Ok(c) => c,
        Err(e) if e.kind() == AuraErrorKind::OutcomeUnknown => {
            warn!(error = %e, "create outcome unknown; will look for the instance before creating again");
            ctx.warn(
                obj,
                Reason::CreateOutcomeUnknown,
                &format!("{e}; looking for the instance before any new create"),
            )
            .await;
            return Ok(controller::Action::requeue(Duration::from_secs(2)));
        }
        // A clone's source (or the tenant) is not there: asking again changes nothing.
        Err(e) if e.kind() == AuraErrorKind::NotFound => {
            let mut cleared = intent.clone();
            decide::clear_intent(&mut cleared);
            let clone = request.source_instance_id.is_some();
            let (reason, message) = decide::create_not_found(&e, clone);
            let summary = StatusSummary::stalled(reason, message);
            let mut events = Vec::new();
            finish::transition(&intent, &summary, &mut events);
            publish(obj, ctx, events).await;
            write_status(
                api,
                obj,
                status::build(obj, &cleared, &summary, Some(&intent)),
            )
            .await?;
            return Ok(controller::Action::requeue(ctx.resync_after(0)));
        }
        Err(e) => {
            // Definitely not created: drop the intent so a later create starts clean.
            // (If this write fails too, the intent stays: the next pass searches
            // first and creates only after the grace period.)
            let mut cleared = intent.clone();
            decide::clear_intent(&mut cleared);
            let status = status::build(obj, &cleared, &decision.status, Some(&intent));
            if let Err(write) = write_status(api, obj, status).await {
                tracing::debug!(error = %write, "could not drop the create intent");
            }
            return Err(e.into());
        }
    };
    info!(instance = %created.id, "Aura accepted the create");

    // 3. The claim, so that no other object's search takes the instance; then
    //    the password to the Secret. The password is held in memory until it lands.
    ctx.remember_password(obj, created.clone());
    claim_created(obj, ctx, &created.id).await?;
    if let Err(e) = store_password(obj, ctx, &created).await {
        return password_not_stored(obj, api, ctx, &intent, &created.id, &e).await;
    }

    // 4. The id reaches status with the first poll, in one write with what
    //    that poll sees (usually Ready: the poll is planned for the typical
    //    end of a creation). Until then the Secret holds the id and password,
    //    the claim holds the id, and this process remembers it; a restart finds
    //    the instance by the intent's search (its own claim does not hide it).
    ctx.record_instance(obj, &created.id);
    ctx.normal(
        obj,
        Reason::Created,
        &format!("Aura instance {} is being created", created.id),
    )
    .await;
    let this = memory::key(obj);
    ctx.state.transitions.began(&this, Transition::Creation);
    let first_poll = ctx.state.transitions.next_poll(
        &this,
        Transition::Creation,
        Duration::ZERO,
        ctx.config.poll_interval,
    );
    Ok(controller::Action::requeue(first_poll))
}

/// The Secret the create would lead to, with placeholder values of the
/// sizes Aura's answer has, offered to the apiserver in a dry run: `Err`
/// with the apiserver's words when it refuses it (an invalid label, a Secret
/// over 1 MiB); a passing apiserver problem fails the pass.
async fn secret_fits(obj: &AuraInstance, ctx: &Ctx) -> Result<std::result::Result<(), String>> {
    const PLACEHOLDER_ID: &str = "00000000";
    let url = secret::connection_url(PLACEHOLDER_ID, None);
    let password = "x".repeat(64);
    let name = obj.aura_name();
    let details = ConnectionDetails {
        instance_id: PLACEHOLDER_ID,
        instance_name: &name,
        connection_url: &url,
        username: secret::DEFAULT_USERNAME,
        password: Some(&password),
    };
    let desired = match secret::desired(obj, &details, None, true) {
        Ok(d) => d,
        // `decide` stalls on a template that does not render.
        Err(problem) => return Ok(Err(problem.to_string())),
    };
    let secrets: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    match super::act::apply_secret_dry_run(&secrets, &desired).await {
        Ok(()) => Ok(Ok(())),
        // Invalid, too large, or over the namespace's quota: a person must act.
        Err(kube::Error::Api(s)) if matches!(s.code, 400 | 403 | 413 | 422) => Ok(Err(s.message)),
        Err(e) => Err(ReconcileError::kube(
            "offer the connection Secret in a dry run",
            e,
        )),
    }
}

/// 1. The intent, guarded by the resourceVersion we decided on: if another
///    writer got there first, this write fails and nothing is created
///    (`None`). Same-named instances there before it are never taken for its own.
async fn record_intent(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Ctx,
    aura: &AuraClient,
    request: &CreateInstanceRequest,
    decision: &Decision,
    current: &AuraInstanceStatus,
) -> Result<Option<AuraInstanceStatus>> {
    let before = ctx
        .tenants
        .recent_instances(aura, &request.tenant_id)
        .await?;
    let mut intent = current.clone();
    intent.create_requested_at = Some(Timestamp::now().to_string());
    intent.create_requested_name = Some(request.name.clone());
    intent.create_prior_ids = decide::same_named(&before, &request.name);
    intent.tenant_id = Some(request.tenant_id.clone());
    let intent_status = status::build(obj, &intent, &decision.status, Some(current));
    match crate::reconciler::status::write(
        api,
        obj,
        &intent_status,
        Write::Guarded("record the create intent"),
    )
    .await
    {
        Ok(_) => Ok(Some(intent)),
        Err(ReconcileError::Kube {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

/// The instance exists but its Secret could not be written: the intent stays
/// until the password is stored, so that a restart finds this instance
/// instead of creating another.
async fn password_not_stored(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Ctx,
    intent: &AuraInstanceStatus,
    id: &str,
    error: &ReconcileError,
) -> Result<controller::Action> {
    let summary = StatusSummary::stalled(
        Reason::SecretWriteFailed,
        format!(
            "Aura instance {id} was created but its connection Secret could not be written ({error}); the password is held in memory and written as soon as Kubernetes accepts it"
        ),
    );
    let mut events = Vec::new();
    finish::transition(intent, &summary, &mut events);
    publish(obj, ctx, events).await;
    write_status(api, obj, status::build(obj, intent, &summary, Some(intent))).await?;
    Ok(controller::Action::requeue(Duration::from_secs(10)))
}

/// Claims a just-created instance, retrying briefly: nobody else can hold a
/// fresh id, so only the apiserver can be in the way.
async fn claim_created(obj: &AuraInstance, ctx: &Ctx, id: &str) -> Result<()> {
    match retry_holding_password("claim the new instance", || ctx.claims().claim(obj, id)).await? {
        Claim::Held => Ok(()),
        Claim::HeldByOther(_) => Err(ReconcileError::Invariant(
            "a just-created instance is claimed by another object",
        )),
    }
}

/// A few attempts with a doubling pause, for the steps between a create's
/// answer and its password landing in the Secret: a passing apiserver
/// problem must not cost the password, which is only in memory meanwhile.
async fn retry_holding_password<T, F, Fut>(step: &'static str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(200);
    let mut last = None;
    for _ in 0..6 {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => {
                warn!(step, error = %e, "failed; retrying (the password is held in memory)");
                last = Some(e);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    Err(last.unwrap_or(ReconcileError::Invariant("retried without an attempt")))
}

async fn store_password(obj: &AuraInstance, ctx: &Ctx, created: &CreatedInstance) -> Result<()> {
    let secrets: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let name = created.name.clone().unwrap_or_else(|| obj.aura_name());
    let url = secret::connection_url(&created.id, created.connection_url.as_deref());
    let details = ConnectionDetails {
        instance_id: &created.id,
        instance_name: &name,
        connection_url: &url,
        username: created
            .username
            .as_deref()
            .unwrap_or(secret::DEFAULT_USERNAME),
        password: Some(&created.password),
    };
    // The password is known here, so there is nothing to carry over from an
    // existing Secret: no read before each attempt. A template that fails
    // over the real values must not keep the password from landing: the
    // format's keys are written, and the next pass stalls on the template.
    let desired = secret::desired(obj, &details, None, true)
        .or_else(|problem| {
            warn!(%problem, "writing the password without the extra keys");
            secret::build(obj, &details, None, true, secret::Extras::FormatOnly)
        })
        .map_err(|_| ReconcileError::Invariant("a format's own keys always render"))?;
    retry_holding_password("write the connection Secret", || {
        apply_secret(ctx, &secrets, &desired)
    })
    .await?;
    ctx.forget_password(obj);
    Ok(())
}
