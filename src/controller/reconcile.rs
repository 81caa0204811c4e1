//! One reconcile: observe (Kubernetes and Aura) -> decide (pure) -> act -> status.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use super::claims::Claim;
use super::context::Context;
use super::credentials_finalizer;
use super::decide::{
    self, Action, AuraView, Decision, Observation, Readiness, Reason, SecretView, StatusSummary,
};
use super::secret::{self, ConnectionDetails};
use super::{FIELD_MANAGER, ReconcileError};
use super::{pacing, status};
use crate::api::{AuraInstance, AuraInstanceStatus, FINALIZER, MAX_RECREATIONS, Phase};
use crate::aura::{
    AuraClient, AuraError, AuraErrorKind, CreatedInstance, Credentials, Instance, Tenant,
    UpgradeInstanceRequest,
};

type Result<T, E = ReconcileError> = std::result::Result<T, E>;

/// Either a value or the reason a human must act.
pub(super) enum Needs<T> {
    Ok(T),
    Human { reason: Reason, message: String },
}

/// Reconciles one AuraInstance.
pub async fn reconcile(mut obj: Arc<AuraInstance>, ctx: Arc<Context>) -> Result<Requeue> {
    let ns = obj.namespace().ok_or(ReconcileError::Invariant(
        "AuraInstance without a namespace",
    ))?;
    let api: Api<AuraInstance> = Api::namespaced(ctx.client.clone(), &ns);

    if obj.meta().deletion_timestamp.is_some() {
        return super::cleanup::cleanup(&obj, &api, &ctx).await;
    }
    // Later steps guard on the resourceVersion: carry on with what each write returned.
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        obj = Arc::new(add_finalizer(&api, &obj).await?);
    }

    let outcome = reconcile_live(&obj, &api, &ctx).await;
    match outcome {
        Ok(requeue) => {
            ctx.reset_failures(&obj);
            Ok(requeue)
        }
        Err(ReconcileError::Aura(e)) if e.kind() == AuraErrorKind::NeedsHuman => {
            let (reason, message) = stall_reason(&e);
            stall(&api, &obj, &ctx, reason, &message).await
        }
        // Aura cannot be reached (network, TLS, 5xx): an object that is not
        // Ready says why, once per outage; a Ready one stays Ready, as its
        // database most likely still runs.
        Err(ReconcileError::Aura(e))
            if e.kind() == AuraErrorKind::Transient && ctx.pending_password(&obj).is_none() =>
        {
            let current = obj.status.clone().unwrap_or_default();
            let ready = status::condition(Some(&current), status::READY);
            let said = ready.is_some_and(|c| {
                c.status == "True" || c.reason == Reason::AuraUnreachable.as_str()
            });
            if !said {
                let summary = status::aura_unreachable(current.phase, &e.to_string());
                let next = build_status(&obj, &current, &summary, Some(&current));
                let _ = write_status(&api, &obj, next).await;
            }
            Err(ReconcileError::Aura(e))
        }
        Err(e) => {
            // A first pass normally writes status as part of its work; one that
            // failed early still shows that the object was seen. Not after a
            // create answered: that status holds the intent, which must stay.
            if obj.status.is_none() && ctx.pending_password(&obj).is_none() {
                let first = build_status(
                    &obj,
                    &AuraInstanceStatus::default(),
                    &status::first_sight(),
                    None,
                );
                let _ = write_status(&api, &obj, first).await;
            }
            Err(e)
        }
    }
}

async fn reconcile_live(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Context,
) -> Result<Requeue> {
    let ns = obj.namespace().unwrap_or_default();
    let creds = match load_credentials(obj, ctx).await? {
        Needs::Ok(c) => c,
        Needs::Human { reason, message } => return stall(api, obj, ctx, reason, &message).await,
    };
    let aura = ctx.aura.client(&creds);
    let sharing = ctx.note_client(obj, &creds.client_id);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let current = obj.status.clone().unwrap_or_default();

    // A password received but not yet stored wins over everything else.
    let pending = ctx.pending_password(obj);
    let instance_id = current
        .instance_id
        .clone()
        .or_else(|| pending.as_ref().map(|p| p.id.clone()))
        .or_else(|| ctx.recorded_instance(obj))
        .or_else(|| obj.spec.instance_id.clone());

    let observed_instance: Option<Instance>;
    let tenant: Option<Arc<Tenant>>;
    let listed;
    let claimed_listed: Vec<String>;
    let aura_view = match &instance_id {
        Some(id) => match aura.get_instance(id).await {
            Ok(i) => {
                observed_instance = Some(i);
                AuraView::Found(observed_instance.as_ref().expect("just set"))
            }
            Err(e) if e.kind() == AuraErrorKind::NotFound => AuraView::Gone,
            Err(e) => return Err(e.into()),
        },
        None => {
            tenant = match resolve_tenant(ctx, &aura, obj, &current).await? {
                Needs::Ok(t) => Some(t),
                Needs::Human { reason, message } => {
                    return stall(api, obj, ctx, reason, &message).await;
                }
            };
            let tenant_ref = tenant.as_ref().expect("just set");
            listed = if decide::create_intent(&current).is_some() {
                Some(aura.list_instances(&tenant_ref.id).await?)
            } else {
                None
            };
            claimed_listed = ctx
                .claims
                .held_by_others(obj, listed.as_deref().unwrap_or_default());
            AuraView::NotCreated {
                tenant: tenant_ref,
                listed: listed.as_deref(),
                claimed: &claimed_listed,
            }
        }
    };

    // Nothing is recorded, written or sent for an instance without its claim;
    // an instance that sits elsewhere than the spec says is never claimed.
    let claimed_elsewhere = match &aura_view {
        AuraView::Found(i) if decide::placement_mismatch(&obj.spec, i).is_none() => {
            matches!(ctx.claims.claim(obj, &i.id).await?, Claim::HeldByOther(_))
        }
        _ => false,
    };

    // The connection Secret: only the operator's own is ever written (DESIGN
    // 4.12), checked before a create too, so that no password is made for a
    // Secret that cannot take it.
    let name = obj.connection_secret_name();
    let mut not_owned = false;
    let desired = match &aura_view {
        AuraView::Found(i) if !claimed_elsewhere => {
            // The watch's copy can tell that nothing needs writing; anything
            // else is decided on a live read.
            let cached = ctx
                .secrets
                .owned(&ns, &name)
                .filter(|s| secret::may_write(Some(s), obj, Some(&i.id)))
                .and_then(|s| {
                    let desired = desired_secret(obj, &current, i, pending.as_ref(), Some(&s));
                    secret_matches(&s, &desired).then_some(desired)
                });
            match cached {
                Some(desired) => Some((desired, true)),
                None => {
                    let existing = read_secret(&secrets, &name).await?;
                    if secret::may_write(existing.as_ref(), obj, Some(&i.id)) {
                        let desired =
                            desired_secret(obj, &current, i, pending.as_ref(), existing.as_ref());
                        let up_to_date = existing
                            .as_ref()
                            .is_some_and(|s| secret_matches(s, &desired));
                        Some((desired, up_to_date))
                    } else {
                        not_owned = true;
                        None
                    }
                }
            }
        }
        AuraView::NotCreated { .. } => {
            let ours = ctx
                .secrets
                .owned(&ns, &name)
                .is_some_and(|s| secret::may_write(Some(&s), obj, None));
            if !ours {
                let existing = read_secret(&secrets, &name).await?;
                not_owned = !secret::may_write(existing.as_ref(), obj, None);
            }
            None
        }
        _ => None,
    };
    let secret_view = match (&aura_view, &desired) {
        (AuraView::Found(i), Some((desired, up_to_date))) => SecretView {
            up_to_date: *up_to_date,
            has_password: secret::has_password(Some(desired), &i.id),
            not_owned,
        },
        _ => SecretView {
            not_owned,
            ..SecretView::default()
        },
    };

    // A resize is checked against the tenant's catalogue before it is sent.
    let catalogue = match &aura_view {
        AuraView::Found(i) if resize_pending(obj, i) => {
            match i.tenant_id.as_deref().or(current.tenant_id.as_deref()) {
                Some(tenant_id) => Some(ctx.tenant(&aura, tenant_id).await?),
                // Without a known tenant the resize goes to Aura unchecked.
                None => None,
            }
        }
        _ => None,
    };

    let aura_name = obj.aura_name();
    let now = Timestamp::now();
    let observation = Observation {
        spec: &obj.spec,
        aura_name: &aura_name,
        status: &current,
        now,
        aura: aura_view.clone(),
        secret: secret_view,
        generation: obj.metadata.generation,
        catalogue: catalogue.as_deref(),
        create_grace: ctx.config.create_grace,
        claimed_elsewhere,
        secret_name: name.clone(),
    };
    let decision = decide::decide(&observation);
    let mut next = current.clone();
    // An instance that does not match the spec is never recorded, so deleting
    // this object cannot destroy somebody else's database.
    let mismatched = claimed_elsewhere
        || decision
            .status
            .stalled
            .as_ref()
            .is_some_and(|(r, _)| *r == Reason::InstanceMismatch);
    if let Some(id) = &instance_id
        && next.instance_id.is_none()
        && !mismatched
        && matches!(aura_view, AuraView::Found(_))
    {
        next.instance_id = Some(id.clone());
    }

    match &decision.action {
        Action::None => {}
        Action::WriteSecret => {
            if let Some((desired, _)) = &desired {
                apply_secret(ctx, &secrets, desired).await?;
                ctx.forget_password(obj);
                // The Stalled transition announces a missing password (with how to restore it).
            }
        }
        Action::Adopt { instance_id } => {
            if let Claim::HeldByOther(_) = ctx.claims.claim(obj, instance_id).await? {
                // Taken a moment ago by another object's search: look again.
                return Ok(Requeue::requeue(Duration::from_secs(1)));
            }
            info!(instance = %instance_id, "found the instance of an unanswered create");
            ctx.normal(
                obj,
                "Adopted",
                &format!(
                    "found Aura instance {instance_id} created by an earlier, unanswered create"
                ),
            )
            .await;
            next.instance_id = Some(instance_id.clone());
            next.lost_create_instance_id = Some(instance_id.clone());
            ctx.record_instance(obj, instance_id);
        }
        Action::Recreate { instance_id } => {
            aura.delete_instance(instance_id).await?;
            let done = current.recreations.unwrap_or(0) + 1;
            ctx.warn(
                obj,
                "Recreating",
                &format!(
                    "destroying Aura instance {instance_id}: its password was lost with the create answer and it holds no data; it is created again (re-creation {done} of {MAX_RECREATIONS}, passwordRecovery: Recreate)"
                ),
            )
            .await;
            next.recreations = Some(done);
            next.recreating_instance_id = Some(instance_id.clone());
            next.lost_create_instance_id = None;
        }
        Action::ForgetInstance => {
            if let Some(id) = &current.instance_id {
                ctx.claims.release(obj, id).await?;
            }
            info!("the instance destroyed for a re-create is gone; creating again");
            next.instance_id = None;
            next.recreating_instance_id = None;
            next.connection_url = None;
            next.aura_status = None;
            next.create_requested_at = None;
            next.create_requested_name = None;
            next.create_prior_ids = Vec::new();
            ctx.forget_instance(obj);
            ctx.forget_password(obj);
        }
        Action::Create(request) => {
            return create(obj, api, ctx, &aura, &secrets, request, &current, &decision).await;
        }
        Action::Update { request, drift } => {
            let id = next.instance_id.clone().unwrap_or_default();
            aura.update_instance(&id, request).await?;
            announce_operation(obj, ctx, drift.as_deref(), "Updating", &decision.status).await;
        }
        Action::Pause { drift } => {
            let id = next.instance_id.clone().unwrap_or_default();
            aura.pause_instance(&id).await?;
            announce_operation(obj, ctx, drift.as_deref(), "Pausing", &decision.status).await;
        }
        Action::Resume { drift } => {
            let id = next.instance_id.clone().unwrap_or_default();
            aura.resume_instance(&id).await?;
            announce_operation(obj, ctx, drift.as_deref(), "Resuming", &decision.status).await;
        }
        Action::Upgrade { to } => {
            let id = next.instance_id.clone().unwrap_or_default();
            aura.upgrade_instance(&id, &UpgradeInstanceRequest::default())
                .await?;
            debug!(to = %to, "upgrade sent");
            announce_operation(obj, ctx, None, "Upgrading", &decision.status).await;
        }
    }

    if let AuraView::Found(i) = &aura_view
        && !mismatched
    {
        // What Aura leaves out keeps what was known before.
        next.tenant_id = i.tenant_id.clone().or(next.tenant_id);
        next.connection_url = i.connection_url.clone().or(next.connection_url);
        next.aura_status = Some(i.status.to_string());
        next.memory = i.memory.clone().or(next.memory);
        next.create_requested_at = None;
        next.create_requested_name = None;
        next.create_prior_ids = Vec::new();
    }
    // Once Ready, the instance is in use: never re-created for its password.
    if decision.status.ready == Readiness::True {
        next.lost_create_instance_id = None;
    }
    let status = build_status(obj, &next, &decision.status, Some(&current));
    announce_transition(obj, ctx, &current, &status).await;
    let requeue = requeue_for(ctx, &decision, &status, sharing);
    write_status(api, obj, status).await?;
    Ok(requeue)
}

async fn read_secret(secrets: &Api<Secret>, name: &str) -> Result<Option<Secret>> {
    secrets
        .get_opt(name)
        .await
        .map_err(|e| ReconcileError::kube("read the connection Secret", e))
}

fn resize_pending(obj: &AuraInstance, instance: &Instance) -> bool {
    let request = decide::update_request(&obj.spec, &obj.aura_name(), instance);
    request.memory.is_some() || request.storage.is_some()
}

async fn announce_operation(
    obj: &AuraInstance,
    ctx: &Context,
    drift: Option<&str>,
    reason: &str,
    summary: &StatusSummary,
) {
    let what = summary
        .reconciling
        .as_ref()
        .map(|(_, m)| m.as_str())
        .unwrap_or(reason);
    match drift {
        Some(note) => {
            info!(note, "correcting drift");
            ctx.normal(obj, "DriftCorrected", note).await;
        }
        None => {
            info!(what, "sent an operation to Aura");
            ctx.normal(obj, reason, what).await;
        }
    }
}

/// Records the intent, sends the create, and stores the password before the id.
#[allow(clippy::too_many_arguments)]
async fn create(
    obj: &AuraInstance,
    api: &Api<AuraInstance>,
    ctx: &Context,
    aura: &AuraClient,
    secrets: &Api<Secret>,
    request: &crate::aura::CreateInstanceRequest,
    current: &AuraInstanceStatus,
    decision: &Decision,
) -> Result<Requeue> {
    // 1. The intent, guarded by the resourceVersion we decided on: if another
    //    writer got there first, this write fails and nothing is created.
    //    Same-named instances there before it are never taken for its own.
    let before = ctx.recent_instances(aura, &request.tenant_id).await?;
    let mut intent = current.clone();
    intent.create_requested_at = Some(Timestamp::now().to_string());
    intent.create_requested_name = Some(request.name.clone());
    intent.create_prior_ids = decide::same_named(&before, &request.name);
    intent.tenant_id = Some(request.tenant_id.clone());
    let intent_status = build_status(obj, &intent, &decision.status, Some(current));
    match write_status_guarded(api, obj, &intent_status).await {
        Ok(()) => {}
        Err(ReconcileError::Kube {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 409 => {
            return Ok(Requeue::requeue(Duration::from_millis(500)));
        }
        Err(e) => return Err(e),
    }

    // 2. The create itself, never retried blindly.
    let created = match aura.create_instance(request).await {
        Ok(c) => c,
        Err(e) if e.kind() == AuraErrorKind::OutcomeUnknown => {
            warn!(error = %e, "create outcome unknown; will look for the instance before creating again");
            ctx.warn(
                obj,
                "CreateOutcomeUnknown",
                &format!("{e}; looking for the instance before any new create"),
            )
            .await;
            return Ok(Requeue::requeue(Duration::from_secs(2)));
        }
        Err(e) => {
            // Definitely not created: drop the intent so a later create starts clean.
            let mut cleared = intent.clone();
            cleared.create_requested_at = None;
            cleared.create_requested_name = None;
            cleared.create_prior_ids = Vec::new();
            let _ = write_status(
                api,
                obj,
                build_status(obj, &cleared, &decision.status, Some(&intent)),
            )
            .await;
            return Err(e.into());
        }
    };
    info!(instance = %created.id, "Aura accepted the create");

    // 3. The claim, so that no other object's search takes the instance; then
    //    the password to the Secret. The password is held in memory until it lands.
    ctx.remember_password(obj, created.clone());
    claim_created(obj, ctx, &created.id).await?;
    if let Err(e) = store_password(obj, ctx, secrets, &created).await {
        // The intent stays until the password is stored, so that a restart
        // finds this instance instead of creating another.
        let summary = StatusSummary::stalled(
            Reason::SecretWriteFailed,
            format!(
                "Aura instance {} was created but its connection Secret could not be written ({e}); the password is held in memory and written as soon as Kubernetes accepts it",
                created.id
            ),
        );
        let status = build_status(obj, &intent, &summary, Some(&intent));
        announce_transition(obj, ctx, &intent_status, &status).await;
        write_status(api, obj, status).await?;
        return Ok(Requeue::requeue(Duration::from_secs(10)));
    }

    // 4. Only now the instance id.
    // The intent is settled by the id, in the same write.
    let mut done = intent.clone();
    done.create_requested_at = None;
    done.create_requested_name = None;
    done.create_prior_ids = Vec::new();
    done.instance_id = Some(created.id.clone());
    ctx.record_instance(obj, &created.id);
    done.connection_url = Some(connection_url(
        &created.id,
        created.connection_url.as_deref(),
    ));
    done.tenant_id = Some(
        created
            .tenant_id
            .clone()
            .unwrap_or_else(|| request.tenant_id.clone()),
    );
    done.aura_status = Some("creating".into());
    done.memory = Some(request.memory.clone());
    // Worded as the polls will see it, so the first poll has nothing to write.
    let status = build_status(obj, &done, &StatusSummary::aura_creating(), Some(&intent));
    ctx.normal(
        obj,
        "Created",
        &format!("Aura instance {} is being created", created.id),
    )
    .await;
    write_status(api, obj, status).await?;
    Ok(Requeue::requeue(ctx.config.poll_interval))
}

/// Claims a just-created instance, retrying briefly: nobody else can hold a
/// fresh id, so only the apiserver can be in the way.
async fn claim_created(obj: &AuraInstance, ctx: &Context, id: &str) -> Result<()> {
    match retry_holding_password("claim the new instance", || ctx.claims.claim(obj, id)).await? {
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

async fn store_password(
    obj: &AuraInstance,
    ctx: &Context,
    secrets: &Api<Secret>,
    created: &CreatedInstance,
) -> Result<()> {
    let name = created.name.clone().unwrap_or_else(|| obj.aura_name());
    let url = connection_url(&created.id, created.connection_url.as_deref());
    let details = ConnectionDetails {
        instance_id: &created.id,
        instance_name: &name,
        connection_url: &url,
        username: created.username.as_deref().unwrap_or(DEFAULT_USERNAME),
        password: Some(&created.password),
    };
    // The password is known here, so there is nothing to carry over from an
    // existing Secret: no read before each attempt.
    let desired = secret::desired(obj, &details, None, true);
    retry_holding_password("write the connection Secret", || {
        apply_secret(ctx, secrets, &desired)
    })
    .await?;
    ctx.forget_password(obj);
    Ok(())
}

/// Aura's documented username, when an answer does not name one.
const DEFAULT_USERNAME: &str = "neo4j";

/// The connection URL Aura reported, else the documented form for the id
/// (`neo4j+s://<id>.databases.neo4j.io`): an answer without it must not leave
/// the Secret without a URI.
fn connection_url(id: &str, reported: Option<&str>) -> String {
    reported
        .map(str::to_string)
        .unwrap_or_else(|| format!("neo4j+s://{id}.databases.neo4j.io"))
}

fn desired_secret(
    obj: &AuraInstance,
    current: &AuraInstanceStatus,
    i: &Instance,
    pending: Option<&CreatedInstance>,
    existing: Option<&Secret>,
) -> Secret {
    let pending = pending.filter(|p| p.id == i.id);
    let username = pending
        .and_then(|p| p.username.as_deref())
        .unwrap_or(DEFAULT_USERNAME);
    let name = i.name.clone().unwrap_or_else(|| obj.aura_name());
    let url = connection_url(
        &i.id,
        i.connection_url
            .as_deref()
            .or(current.connection_url.as_deref()),
    );
    let details = ConnectionDetails {
        instance_id: &i.id,
        instance_name: &name,
        connection_url: &url,
        username,
        password: pending.map(|p| p.password.as_str()),
    };
    secret::desired(obj, &details, existing, true)
}

/// The existing Secret already holds what we would write (data and owner).
fn secret_matches(existing: &Secret, desired: &Secret) -> bool {
    let data_ok = desired.data.as_ref().is_none_or(|want| {
        want.iter()
            .all(|(k, v)| existing.data.as_ref().and_then(|d| d.get(k)) == Some(v))
    });
    let owner_ok = desired
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(|want| {
            existing
                .metadata
                .owner_references
                .as_ref()
                .is_some_and(|have| want.iter().all(|w| have.iter().any(|h| h.uid == w.uid)))
        });
    // Our labels are how the watch finds the Secret again.
    let labels_ok = desired.metadata.labels.as_ref().is_none_or(|want| {
        want.iter()
            .all(|(k, v)| existing.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
    });
    data_ok && owner_ok && labels_ok
}

pub(super) async fn apply_secret(
    ctx: &Context,
    secrets: &Api<Secret>,
    desired: &Secret,
) -> Result<()> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let mut body = serde_json::to_value(desired)
        .map_err(|_| ReconcileError::Invariant("secret serialisation"))?;
    body["apiVersion"] = json!("v1");
    body["kind"] = json!("Secret");
    let written = secrets
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| ReconcileError::kube("write the connection Secret", e))?;
    ctx.secrets.wrote(&written);
    Ok(())
}

pub(super) async fn load_credentials(
    obj: &AuraInstance,
    ctx: &Context,
) -> Result<Needs<Credentials>> {
    let (ns, name) = match (
        &obj.spec.credentials_secret_ref,
        &ctx.config.default_credentials,
    ) {
        (Some(r), _) => (obj.namespace().unwrap_or_default(), r.name.clone()),
        (None, Some((ns, name))) => (ns.clone(), name.clone()),
        (None, None) => {
            return Ok(Needs::Human {
                reason: Reason::CredentialsNotConfigured,
                message: "spec.credentialsSecretRef is not set and the operator has no default credentials (--default-credentials)".into(),
            });
        }
    };
    if let Some(creds) = ctx.secrets.credentials(&ns, &name) {
        return Ok(Needs::Ok(creds));
    }
    // One message whether the Secret is absent or incomplete: a person who
    // may not read Secrets learns nothing about them from the status.
    let unusable = || Needs::Human {
        reason: Reason::CredentialsNotFound,
        message: format!(
            "no usable Aura API credentials in Secret {ns}/{name}: it must exist and hold the keys clientId and clientSecret"
        ),
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(mut s) = secrets
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::kube("read the credentials Secret", e))?
    else {
        return Ok(unusable());
    };
    let id = secret::read_key(&s, "clientId").filter(|v| !v.trim().is_empty());
    let secret_value = secret::read_key(&s, "clientSecret").filter(|v| !v.trim().is_empty());
    let (Some(client_id), Some(client_secret)) = (id, secret_value) else {
        return Ok(unusable());
    };
    let creds = Credentials {
        client_id: client_id.trim().to_string(),
        client_secret: client_secret.trim().to_string(),
    };
    // Credentials in the object's own namespace outlive their users (DESIGN
    // 4.12): deleting the namespace destroys the instances first.
    if obj.spec.credentials_secret_ref.is_some() {
        s = credentials_finalizer::hold(&secrets, s).await?;
    }
    if let Some(rv) = s.resource_version() {
        ctx.secrets.remember_credentials(&ns, &name, rv, &creds);
    }
    Ok(Needs::Ok(creds))
}

async fn resolve_tenant(
    ctx: &Context,
    aura: &AuraClient,
    obj: &AuraInstance,
    current: &AuraInstanceStatus,
) -> Result<Needs<Arc<Tenant>>> {
    let id = match obj
        .spec
        .tenant_id
        .clone()
        .or_else(|| current.tenant_id.clone())
    {
        Some(id) => id,
        None => {
            let tenants = ctx.tenant_list(aura).await?;
            match tenants.as_slice() {
                [only] => only.id.clone(),
                [] => {
                    return Ok(Needs::Human {
                        reason: Reason::NoTenant,
                        message: "the credentials see no Aura tenant".into(),
                    });
                }
                many => {
                    let list: Vec<String> = many
                        .iter()
                        .map(|t| format!("{} ({})", t.id, t.name))
                        .collect();
                    return Ok(Needs::Human {
                        reason: Reason::TenantAmbiguous,
                        message: format!(
                            "the credentials see {} tenants; set spec.tenantId to one of: {}",
                            many.len(),
                            list.join(", ")
                        ),
                    });
                }
            }
        }
    };
    match ctx.tenant(aura, &id).await {
        Ok(t) => Ok(Needs::Ok(t)),
        Err(e) if e.kind() == AuraErrorKind::NotFound || e.reason() == Some("tenant-not-found") => {
            Ok(Needs::Human {
                reason: Reason::TenantNotFound,
                message: format!("{e}"),
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn stall_reason(e: &AuraError) -> (Reason, String) {
    let reason = match (e.status(), e.reason()) {
        (_, Some("tenant-not-found")) | (Some(404), _) => Reason::TenantNotFound,
        (Some(401), _) => Reason::AuthenticationFailed,
        (Some(403), _) => Reason::Forbidden,
        (Some(400), _) => Reason::AuraRejected,
        _ => Reason::AuraError,
    };
    (reason, e.to_string())
}

async fn stall(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    ctx: &Context,
    reason: Reason,
    message: &str,
) -> Result<Requeue> {
    let current = obj.status.clone().unwrap_or_default();
    let summary = StatusSummary::stalled(reason, message);
    let status = build_status(obj, &current, &summary, Some(&current));
    announce_transition(obj, ctx, &current, &status).await;
    write_status(api, obj, status).await?;
    ctx.reset_failures(obj);
    Ok(Requeue::requeue(ctx.resync_after(0)))
}

fn requeue_for(
    ctx: &Context,
    d: &Decision,
    status: &AuraInstanceStatus,
    sharing: usize,
) -> Requeue {
    match d.requeue {
        decide::Requeue::Poll => {
            // Time in the current transition, from the Reconciling condition.
            let since = status::condition(Some(status), status::RECONCILING)
                .filter(|c| c.status == "True")
                .map(|c| Timestamp::now().duration_since(c.last_transition_time.0))
                .and_then(|d| Duration::try_from(d).ok())
                .unwrap_or_default();
            Requeue::requeue(pacing::poll_delay(ctx.config.poll_interval, since))
        }
        decide::Requeue::After(t) => Requeue::requeue(t),
        decide::Requeue::Resync => Requeue::requeue(ctx.resync_after(sharing)),
    }
}

/// The full status for a summary.
pub(super) fn build_status(
    obj: &AuraInstance,
    fields: &AuraInstanceStatus,
    summary: &StatusSummary,
    previous: Option<&AuraInstanceStatus>,
) -> AuraInstanceStatus {
    let previous_conditions = previous.map(|p| p.conditions.as_slice()).unwrap_or(&[]);
    AuraInstanceStatus {
        observed_generation: obj.metadata.generation,
        phase: Some(summary.phase),
        conditions: status::conditions(
            summary,
            previous_conditions,
            obj.metadata.generation,
            Timestamp::now(),
        ),
        ..fields.clone()
    }
}

async fn announce_transition(
    obj: &AuraInstance,
    ctx: &Context,
    before: &AuraInstanceStatus,
    after: &AuraInstanceStatus,
) {
    // Every new reason for a human to act gets one Warning event.
    let stalled = |s: &AuraInstanceStatus| {
        status::condition(Some(s), status::STALLED)
            .filter(|c| c.status == "True")
            .map(|c| (c.reason.clone(), c.message.clone()))
    };
    if let Some((reason, message)) = stalled(after)
        && stalled(before).map(|(r, _)| r) != Some(reason.clone())
    {
        warn!(reason, message, "stalled: needs a human");
        ctx.warn(obj, &reason, &message).await;
    }
    let ready = |s: &AuraInstanceStatus| {
        status::condition(Some(s), status::READY).map(|c| (c.status.clone(), c.reason.clone()))
    };
    let (before_ready, after_ready) = (ready(before), ready(after));
    if after_ready.as_ref().is_some_and(|(s, _)| s == "True")
        && before_ready.as_ref().is_none_or(|(s, _)| s != "True")
    {
        // Time to Ready counts the first time only, not a recovery.
        let recovered = matches!(
            before_ready.as_ref().map(|(_, r)| r.as_str()),
            Some(r) if r == Reason::PasswordUnavailable.as_str() || r == Reason::Paused.as_str()
        );
        if !recovered && let Some(created) = obj.metadata.creation_timestamp.as_ref() {
            let age = Timestamp::now().duration_since(created.0);
            ctx.telemetry.record_time_to_ready(age.unsigned_abs());
        }
        ctx.normal(
            obj,
            "Ready",
            "the instance is running and its connection Secret is complete",
        )
        .await;
    }
    if before.phase != after.phase
        && let Some(p) = after.phase
    {
        info!(phase = ?p, "phase changed");
    }
}

/// Writes status (server-side apply, one field manager) when it changed;
/// returns the object as written.
pub(super) async fn write_status(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    status: AuraInstanceStatus,
) -> Result<Option<AuraInstance>> {
    if !status::differs(obj.status.as_ref(), &status) {
        return Ok(None);
    }
    apply_status(api, obj, &status, false, "write status")
        .await
        .map(Some)
}

/// A status write that fails with 409 if the object changed since we read it.
async fn write_status_guarded(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    status: &AuraInstanceStatus,
) -> Result<()> {
    apply_status(api, obj, status, true, "record the create intent")
        .await
        .map(|_| ())
}

async fn apply_status(
    api: &Api<AuraInstance>,
    obj: &AuraInstance,
    status: &AuraInstanceStatus,
    guarded: bool,
    step: &'static str,
) -> Result<AuraInstance> {
    let mut body = json!({
        "apiVersion": AuraInstance::api_version(&()),
        "kind": AuraInstance::kind(&()),
        "status": status,
    });
    if guarded {
        body["metadata"] = json!({ "resourceVersion": obj.resource_version() });
    }
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map_err(|e| ReconcileError::kube(step, e))
}

async fn add_finalizer(api: &Api<AuraInstance>, obj: &AuraInstance) -> Result<AuraInstance> {
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await
    .map_err(|e| ReconcileError::kube("add the finalizer", e))
}

/// The status while Aura destroys the instance.
pub(super) fn deleting_summary(message: &str) -> StatusSummary {
    StatusSummary {
        phase: Phase::Deleting,
        ready: Readiness::False {
            reason: Reason::Deleting,
            message: message.to_string(),
        },
        reconciling: Some((Reason::Deleting, message.to_string())),
        stalled: None,
    }
}
