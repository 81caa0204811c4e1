//! Act: where the session runs (an AuraInstance's, or standalone with
//! credentials of its own), the reads `decide` needs, its step, the
//! connection Secret and the status.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;

use super::decide::{
    self, SessionAction, SessionDecision, SessionObservation, SessionReason, SessionSummary,
};
use crate::api::{
    AuraGraphAnalyticsSession, AuraGraphAnalyticsSessionStatus, SESSION_LABEL, SessionSizingStatus,
};
use crate::aura::{AuraClient, AuraErrorKind, Session, SessionRequest};
use crate::kinds::shared::target::{self, Target, TargetProblem};
use crate::kinds::shared::{connection, own_client, tenant};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, ReconcileError, Result};

pub type Ctx = Context<AuraGraphAnalyticsSession>;

/// Where the session runs, and the client that reaches Aura for it.
pub struct Place {
    pub aura: AuraClient,
    pub tenant_id: String,
    /// The AuraInstance an attached session works on.
    pub instance: Option<Target>,
}

pub async fn apply(obj: &AuraGraphAnalyticsSession, ctx: &Ctx) -> Result<controller::Action> {
    let api = api_of(obj, ctx);
    let mut next = obj.status.clone().unwrap_or_default();
    next.name = Some(obj.aura_name());
    let place = match place(obj, ctx, &next).await? {
        Ok(place) => place,
        Err((summary, requeue)) => return finish(&api, obj, &mut next, &summary, requeue).await,
    };
    next.tenant_id = Some(place.tenant_id.clone());
    next.instance_id = place.instance.as_ref().map(|t| t.instance_id.to_string());

    let seen = match &next.id {
        Some(id) if decide::memory(&obj.spec, &next).is_some() => {
            Some(match place.aura.get_session(id).await {
                Ok(s) => Some(s),
                Err(e) if e.kind() == AuraErrorKind::NotFound => None,
                Err(e) => return Err(e.into()),
            })
        }
        _ => None,
    };
    let SessionDecision {
        action,
        mut summary,
        mut requeue,
    } = decide::decide(&SessionObservation {
        spec: &obj.spec,
        status: &next,
        seen: seen.as_ref().map(Option::as_ref),
        now: Timestamp::now(),
    });
    let mut session = seen.flatten();
    match action {
        SessionAction::None => {}
        SessionAction::Size(request) => {
            let sized = place.aura.size_session(&request).await?;
            next.sizing = Some(SessionSizingStatus {
                recommended_size: sized.recommended_size,
                estimated_memory: sized.estimated_memory,
            });
        }
        SessionAction::Create { again } => {
            match create(obj, ctx, &place, &mut next, again).await? {
                Ok(created) => session = Some(created),
                Err(stall) => {
                    summary = stall;
                    requeue = None;
                }
            }
        }
    }
    if let Some(s) = &session {
        mirror(&mut next, s);
        if let Some(host) = s.host.as_deref().filter(|h| !h.is_empty()) {
            write_secret(obj, ctx, &place, &s.id, host).await?;
        }
    }
    finish(&api, obj, &mut next, &summary, requeue).await
}

fn api_of(obj: &AuraGraphAnalyticsSession, ctx: &Ctx) -> Api<AuraGraphAnalyticsSession> {
    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default())
}

/// The instance's place for an attached session, the object's own
/// credentials and tenant for a standalone one; or the status that says
/// what is missing, and when to look again.
pub async fn place(
    obj: &AuraGraphAnalyticsSession,
    ctx: &Ctx,
    current: &AuraGraphAnalyticsSessionStatus,
) -> Result<std::result::Result<Place, (SessionSummary, Option<Duration>)>> {
    let waiting = |message: String| {
        Err((
            SessionSummary::working(SessionReason::WaitingForInstance, message),
            Some(Duration::from_secs(30)),
        ))
    };
    if let Some(instance) = &obj.spec.instance_ref {
        let ns = obj.namespace().unwrap_or_default();
        let target =
            match target::resolve(ctx.state.instances.as_ref(), &ns, &instance.name).await? {
                Ok(t) => t,
                Err(TargetProblem::Credentials(problem)) => {
                    return Ok(Err((
                        SessionSummary::stalled(
                            SessionReason::CredentialsNotUsable,
                            TargetProblem::Credentials(problem).message(),
                        ),
                        None,
                    )));
                }
                Err(problem) => return Ok(waiting(problem.message())),
            };
        let Some(tenant_id) = target
            .object
            .status
            .as_ref()
            .and_then(|s| s.tenant_id.clone())
        else {
            return Ok(waiting(format!(
                "AuraInstance {} does not report its tenant yet",
                instance.name
            )));
        };
        return Ok(Ok(Place {
            aura: target.aura.clone(),
            tenant_id,
            instance: Some(target),
        }));
    }
    let aura = match own_client::client(ctx, obj).await? {
        Ok(aura) => aura,
        Err(problem) => {
            return Ok(Err((
                SessionSummary::stalled(SessionReason::CredentialsNotUsable, problem.to_string()),
                None,
            )));
        }
    };
    let chosen = tenant::choose(
        ctx,
        obj,
        &aura,
        obj.spec.tenant_id.as_deref(),
        current.tenant_id.as_deref(),
    )
    .await?;
    Ok(match chosen {
        Ok(tenant_id) => Ok(Place {
            aura,
            tenant_id,
            instance: None,
        }),
        Err(message) => Err((
            SessionSummary::stalled(SessionReason::TenantNotChosen, message),
            None,
        )),
    })
}

/// Gets or creates the session; a 409 (same name, other parameters) and a
/// refusal are stalls, returned as such.
async fn create(
    obj: &AuraGraphAnalyticsSession,
    ctx: &Ctx,
    place: &Place,
    next: &mut AuraGraphAnalyticsSessionStatus,
    again: bool,
) -> Result<std::result::Result<Session, SessionSummary>> {
    let Some(memory) = decide::memory(&obj.spec, next) else {
        return Err(ReconcileError::Invariant(
            "a session created without its memory",
        ));
    };
    let request = SessionRequest {
        name: obj.aura_name(),
        memory,
        tenant_id: place.tenant_id.clone(),
        ttl: obj.spec.ttl.clone(),
        instance_id: place.instance.as_ref().map(|t| t.instance_id.to_string()),
        cloud_provider: obj.spec.cloud_provider.map(|p| p.as_str().to_string()),
        region: obj.spec.region.clone(),
    };
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            obj,
            "get_or_create_session",
            "POST /graph-analytics/sessions",
        )
        .await;
        return Ok(Err(SessionSummary::working(
            SessionReason::Creating,
            "dry run: the session was not created",
        )));
    }
    match place.aura.get_or_create_session(&request).await {
        Ok(session) => {
            if again {
                next.recreations += 1;
                ctx.normal(
                    obj,
                    SessionReason::SessionRecreated,
                    &format!(
                        "started session {} after session {} ended",
                        session.id,
                        next.id.as_deref().unwrap_or("?")
                    ),
                )
                .await;
            }
            next.id = Some(session.id.clone());
            Ok(Ok(session))
        }
        Err(e) if e.kind() == AuraErrorKind::Conflict => Ok(Err(SessionSummary::stalled(
            SessionReason::SessionConflict,
            format!(
                "{e}: a session of this name exists with other parameters; delete it in Aura, or delete this object and create one of another name"
            ),
        ))),
        Err(e) if e.kind() == AuraErrorKind::NeedsHuman => {
            ctx.warn(obj, SessionReason::AuraRejected, &e.to_string())
                .await;
            Ok(Err(SessionSummary::stalled(
                SessionReason::AuraRejected,
                e.to_string(),
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// What Aura reports of the session, into the status.
fn mirror(next: &mut AuraGraphAnalyticsSessionStatus, s: &Session) {
    next.id = Some(s.id.clone());
    next.aura_status = s.status.clone();
    next.host = s
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .or(next.host.take());
    next.memory = s.memory.clone().or(next.memory.take());
    next.expires_at = s.expiry_date.clone();
}

/// The session's connection details; for an attached session also the
/// instance's login (as the Graph Data Science client needs both).
async fn write_secret(
    obj: &AuraGraphAnalyticsSession,
    ctx: &Ctx,
    place: &Place,
    id: &str,
    host: &str,
) -> Result<()> {
    let ns = obj.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let mut data = BTreeMap::from([
        ("SESSION_ID".to_string(), id.to_string()),
        ("SESSION_HOST".to_string(), host.to_string()),
        ("SESSION_URI".to_string(), format!("neo4j+s://{host}")),
    ]);
    if let Some(target) = &place.instance {
        data.insert("AURA_INSTANCEID".into(), target.instance_id.to_string());
        let name = target.object.connection_secret_name();
        let instance_secret = secrets
            .get_opt(&name)
            .await
            .map_err(|e| ReconcileError::kube("read the instance's connection Secret", e))?;
        if let Some(secret) = instance_secret {
            if let Some(uri) = connection::uri(&secret) {
                data.insert("NEO4J_URI".into(), uri);
            }
            if let Some((username, password)) = connection::login(&secret) {
                data.insert("NEO4J_USERNAME".into(), username);
                data.insert("NEO4J_PASSWORD".into(), password);
            }
        }
    }
    let desired = desired_secret(obj, data);
    connection::apply(&secrets, &desired)
        .await
        .map_err(|e| ReconcileError::kube("write the session's Secret", e))?;
    Ok(())
}

fn desired_secret(obj: &AuraGraphAnalyticsSession, data: BTreeMap<String, String>) -> Secret {
    use kube::Resource;
    let data = data
        .into_iter()
        .map(|(k, v)| (k, k8s_openapi::ByteString(v.into_bytes())))
        .collect();
    let mut secret = Secret {
        data: Some(data),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    secret.metadata.name = Some(obj.secret_name());
    secret.metadata.namespace = obj.namespace();
    secret.metadata.labels = Some(BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".into(),
            "aura-operator".into(),
        ),
        (
            SESSION_LABEL.into(),
            connection::label_value(&obj.name_any()),
        ),
    ]));
    secret.metadata.owner_references = obj.controller_owner_ref(&()).map(|mut o| {
        o.block_owner_deletion = None;
        vec![o]
    });
    secret
}

async fn finish(
    api: &Api<AuraGraphAnalyticsSession>,
    obj: &AuraGraphAnalyticsSession,
    next: &mut AuraGraphAnalyticsSessionStatus,
    summary: &SessionSummary,
    requeue: Option<Duration>,
) -> Result<controller::Action> {
    status::summarize(obj, next, summary);
    status::write(
        api,
        obj,
        next,
        Write::GuardedIfChanged("write the session's status"),
    )
    .await?;
    Ok(match requeue {
        Some(after) => controller::Action::requeue(after),
        None => controller::Action::await_change(),
    })
}
