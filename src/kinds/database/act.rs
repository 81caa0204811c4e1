//! The AuraDatabase pass: the instance (through the instances' view, with
//! its credentials), its organization, the databases Aura lists in it, the
//! one step `decide` picks, then the connection Secret. The create is not
//! idempotent: its intent is written (guarded) before the call.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::decide::{self, DatabaseReason, DatabaseSummary, Record, Step};
use crate::api::{
    AuraDatabase, AuraDatabaseStatus, AuraInstance, DATABASE_LABEL, DATABASE_USER_LABEL,
};
use crate::aura::{AuraClient, AuraErrorKind};
use crate::kinds::shared::connection::{self, format};
use crate::kinds::shared::organization;
use crate::kinds::shared::target::{self, TargetProblem};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, ReconcileError, Result, failpoint};

pub type Ctx = Context<AuraDatabase>;
type Outcome = (DatabaseSummary, Option<Duration>);

pub async fn apply(obj: &AuraDatabase, ctx: &Ctx) -> Result<Action> {
    let api: Api<AuraDatabase> = crate::reconciler::api(&ctx.client, obj.namespace().as_deref());
    let mut next = obj.status.clone().unwrap_or_default();
    let mut written = None;
    let (summary, requeue) = pass(obj, ctx, &api, &mut next, &mut written).await?;
    status::write_pass(
        &api,
        obj,
        written.as_ref(),
        &mut next,
        &summary,
        "write the database's status",
    )
    .await?;
    Ok(Action::requeue(
        requeue.unwrap_or(ctx.config.resync_interval),
    ))
}

fn stalled(reason: DatabaseReason, message: impl Into<String>) -> Result<Outcome> {
    Ok((
        DatabaseSummary::stalled(reason, message),
        Some(decide::STALL_RETRY),
    ))
}

fn waiting(reason: DatabaseReason, message: impl Into<String>, after: Duration) -> Result<Outcome> {
    Ok((DatabaseSummary::working(reason, message), Some(after)))
}

fn is_ready(instance: &AuraInstance) -> bool {
    instance
        .status
        .as_ref()
        .is_some_and(|s| status::is_true(&s.conditions, "Ready"))
}

async fn pass(
    obj: &AuraDatabase,
    ctx: &Ctx,
    api: &Api<AuraDatabase>,
    next: &mut AuraDatabaseStatus,
    written: &mut Option<AuraDatabase>,
) -> Result<Outcome> {
    let ns = obj.namespace().unwrap_or_default();
    let name = &obj.spec.instance_ref.name;
    let target = match target::resolve(ctx.state.instances.as_ref(), &ns, name).await? {
        Ok(t) => t,
        Err(p @ TargetProblem::Credentials(_)) => {
            return stalled(DatabaseReason::CredentialsNotUsable, p.message());
        }
        Err(p) => {
            return waiting(
                DatabaseReason::WaitingForInstance,
                p.message(),
                decide::INSTANCE_POLL,
            );
        }
    };
    let instance = target.object.as_ref();
    let instance_id = target.instance_id.as_str().to_string();
    let tenant = instance.status.as_ref().and_then(|s| s.tenant_id.clone());
    let Some(tenant) = tenant.filter(|_| is_ready(instance)) else {
        return waiting(
            DatabaseReason::WaitingForInstance,
            format!("AuraInstance {name} is not Ready yet"),
            decide::INSTANCE_POLL,
        );
    };
    next.instance_id = Some(instance_id.clone());
    let aura = &target.aura;
    let recorded = next.organization_id.as_deref();
    let org = match organization::choose(ctx, obj, aura, recorded, Some(&tenant)).await? {
        Ok(org) => org,
        Err((problem, message)) => {
            let reason = match problem {
                organization::Problem::NotFound => DatabaseReason::OrganizationNotFound,
                organization::Problem::Ambiguous => DatabaseReason::OrganizationAmbiguous,
            };
            return stalled(reason, message);
        }
    };
    next.organization_id = Some(org.clone());
    let at = Place {
        aura,
        org: &org,
        tenant: &tenant,
        instance: &instance_id,
    };
    let listed = match aura.list_databases(&org, &tenant, &instance_id).await {
        Ok(listed) => listed,
        Err(e) if e.reason() == Some("multi-db-only") => {
            return stalled(DatabaseReason::NotMultiDatabase, not_multi(name));
        }
        Err(e) => return Err(e.into()),
    };
    let record = Record {
        owned: next.owned,
        create_requested_at: next.create_requested_at.as_deref(),
        policy_explicit: obj.spec.deletion_policy.is_some(),
    };
    let id = match decide::step(
        &obj.spec.name,
        &listed,
        &record,
        Timestamp::now(),
        ctx.config.create_grace,
    ) {
        Step::Hold { id } => id,
        Step::Wait(after) => {
            return waiting(
                DatabaseReason::Creating,
                "looking for the database a create whose answer was lost made",
                after,
            );
        }
        Step::Stall(reason, message) => return stalled(reason, message),
        Step::Create => match create(obj, ctx, api, &at, next, written).await? {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        },
    };
    next.database_id = Some(id);
    next.owned = true;
    next.create_requested_at = None;
    match write_secret(obj, ctx, instance, &instance_id).await? {
        Some(outcome) => Ok(outcome),
        None => Ok((DatabaseSummary::ready(), None)),
    }
}

fn not_multi(instance: &str) -> String {
    format!(
        "Aura answers multi-db-only: AuraInstance {instance} holds one database (only an instance created with spec.multiDatabase: true holds several)"
    )
}

/// Where the database lives.
struct Place<'a> {
    aura: &'a AuraClient,
    org: &'a str,
    tenant: &'a str,
    instance: &'a str,
}

/// Records the intent (guarded), then creates. `Ok(Err(..))`: the status
/// to show instead.
async fn create(
    obj: &AuraDatabase,
    ctx: &Ctx,
    api: &Api<AuraDatabase>,
    at: &Place<'_>,
    next: &mut AuraDatabaseStatus,
    written: &mut Option<AuraDatabase>,
) -> Result<std::result::Result<String, Outcome>> {
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            obj,
            "create_database",
            "POST /organizations/{org}/projects/{project}/instances/{id}/databases",
        )
        .await;
        return Ok(Err((
            DatabaseSummary::working(DatabaseReason::Creating, "dry run: the create was not made"),
            None,
        )));
    }
    next.create_requested_at = Some(Timestamp::now().to_string());
    status::summarize(
        obj,
        next,
        &DatabaseSummary::working(DatabaseReason::Creating, "creating the database in Aura"),
    );
    *written = status::write(
        api,
        obj,
        next,
        Write::Guarded("record the database's create intent"),
    )
    .await?;
    let latest = written.clone().unwrap_or_else(|| obj.clone());
    failpoint("database-create-sent");
    let name = &obj.spec.name;
    match at
        .aura
        .create_database(at.org, at.tenant, at.instance, name)
        .await
    {
        Ok(db) => {
            failpoint("database-create-answered");
            ctx.normal(
                &latest,
                DatabaseReason::DatabaseCreated,
                &format!(
                    "created database {name} ({}) in instance {}",
                    db.id, at.instance
                ),
            )
            .await;
            Ok(Ok(db.id))
        }
        Err(e) if e.kind() == AuraErrorKind::OutcomeUnknown => Ok(Err((
            DatabaseSummary::working(DatabaseReason::Creating, e.to_string()),
            Some(Duration::from_secs(2)),
        ))),
        Err(e) => {
            // Definitely not created: the intent goes.
            next.create_requested_at = None;
            let instance = &obj.spec.instance_ref.name;
            let (reason, message, after) = if e.reason() == Some("multi-db-only") {
                (DatabaseReason::NotMultiDatabase, not_multi(instance), None)
            } else if e.kind() == AuraErrorKind::Conflict {
                (
                    DatabaseReason::InstanceBusy,
                    e.to_string(),
                    Some(decide::BUSY_RETRY),
                )
            } else if matches!(
                e.kind(),
                AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
            ) {
                (DatabaseReason::AuraRejected, e.to_string(), None)
            } else {
                return Err(e.into());
            };
            ctx.warn(&latest, reason, &message).await;
            Ok(Err(match after {
                Some(after) => (DatabaseSummary::working(reason, message), Some(after)),
                None => (
                    DatabaseSummary::stalled(reason, message),
                    Some(decide::STALL_RETRY),
                ),
            }))
        }
    }
}

/// Writes the connection Secret when absent or different; `Some`: the
/// status to show instead (a Secret of that name not this object's, or an
/// instance Secret with no login to copy).
async fn write_secret(
    obj: &AuraDatabase,
    ctx: &Ctx,
    instance: &AuraInstance,
    instance_id: &str,
) -> Result<Option<Outcome>> {
    let ns = obj.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let source = match &obj.spec.user_ref {
        Some(user) => match user_secret(&secrets, &user.name, &obj.spec.name).await? {
            Ok(found) => found,
            Err(outcome) => return Ok(Some(outcome)),
        },
        None => secrets
            .get_opt(&instance.connection_secret_name())
            .await
            .map_err(|e| ReconcileError::kube("read the instance's connection Secret", e))?,
    };
    let login = source.as_ref().and_then(connection::login);
    let uri = source.as_ref().and_then(connection::uri);
    let (Some((user, password)), Some(uri)) = (login, uri) else {
        let whose = match &obj.spec.user_ref {
            Some(u) => format!("AuraDatabaseUser {}", u.name),
            None => format!("AuraInstance {}", instance.name_any()),
        };
        return Ok(Some((
            DatabaseSummary::working(
                DatabaseReason::PasswordUnavailable,
                format!("the connection Secret of {whose} holds no login yet"),
            ),
            Some(decide::INSTANCE_POLL),
        )));
    };
    let existing = secrets
        .get_opt(&obj.secret_name())
        .await
        .map_err(|e| ReconcileError::kube("read the database's connection Secret", e))?;
    if let Some(found) = &existing
        && !connection::controlled_by(found, obj.uid().as_deref())
    {
        return Ok(Some((
            DatabaseSummary::stalled(
                DatabaseReason::SecretNotOwned,
                format!(
                    "Secret {} exists and is not this object's: it is never changed; set spec.connectionSecret.name to a free name",
                    obj.secret_name()
                ),
            ),
            Some(decide::STALL_RETRY),
        )));
    }
    let host = format::host_of(&uri);
    let values = format::Values {
        uri: &uri,
        host: &host,
        username: &user,
        password: Some(&password),
        database: &obj.spec.name,
        instance_id,
        instance_name: &instance.aura_name(),
    };
    let target = connection::Target {
        name: obj.secret_name(),
        namespace: obj.namespace(),
        label: (DATABASE_LABEL, connection::label_value(&obj.name_any())),
        owner: connection::controller_ref(obj),
    };
    let desired = match connection::build(obj.spec.connection_secret.as_ref(), &values, target) {
        Ok(desired) => desired,
        Err(problem) => {
            return Ok(Some((
                DatabaseSummary::stalled(DatabaseReason::InvalidTemplate, problem.to_string()),
                Some(decide::STALL_RETRY),
            )));
        }
    };
    let same = existing.as_ref().is_some_and(|s| {
        s.data == desired.data
            && s.type_ == desired.type_
            && s.metadata.labels == desired.metadata.labels
            && s.metadata.annotations.clone().unwrap_or_default()
                == desired.metadata.annotations.clone().unwrap_or_default()
    });
    if !same {
        connection::write(&secrets, existing.as_ref(), &desired)
            .await
            .map_err(|(step, e)| ReconcileError::kube(step, e))?;
    }
    Ok(None)
}

/// The connection Secret an AuraDatabaseUser of this namespace wrote (by
/// its label and controller reference: the operator's own), if its login
/// is for `database`.
async fn user_secret(
    secrets: &Api<Secret>,
    user: &str,
    database: &str,
) -> Result<std::result::Result<Option<Secret>, Outcome>> {
    let label = format!("{DATABASE_USER_LABEL}={}", connection::label_value(user));
    let listed = secrets
        .list(&kube::api::ListParams::default().labels(&label))
        .await
        .map_err(|e| ReconcileError::kube("read the database user's connection Secret", e))?;
    let found = listed.items.into_iter().find(|s| {
        s.owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.kind == "AuraDatabaseUser" && o.name == user)
    });
    let named = found
        .as_ref()
        .and_then(|s| connection::read_any(s, &format::DATABASE_KEYS));
    match named {
        Some(theirs) if theirs != database => Ok(Err((
            DatabaseSummary::stalled(
                DatabaseReason::UserNotForDatabase,
                format!(
                    "AuraDatabaseUser {user} is a login for database {theirs}, not {database}: set its spec.database to {database}"
                ),
            ),
            Some(decide::STALL_RETRY),
        ))),
        _ => Ok(Ok(found)),
    }
}

/// Deletes the database (Delete, and only one this object owns); an
/// instance gone took its databases with it.
pub async fn delete(obj: &AuraDatabase, ctx: &Ctx) -> Result<bool> {
    let current = obj.status.clone().unwrap_or_default();
    let (Some(id), Some(org), true) = (
        current.database_id.clone(),
        current.organization_id.clone(),
        current.owned,
    ) else {
        return Ok(true);
    };
    let ns = obj.namespace().unwrap_or_default();
    let name = &obj.spec.instance_ref.name;
    let target = match target::resolve(ctx.state.instances.as_ref(), &ns, name).await? {
        Ok(t) => t,
        // No AuraInstance, or it holds no instance any more: nothing left to delete.
        Err(TargetProblem::NotFound(_) | TargetProblem::NotCreated(_)) => return Ok(true),
        Err(p) => {
            ctx.warn(
                obj,
                DatabaseReason::CredentialsNotUsable,
                &format!("cannot delete the database yet: {}", p.message()),
            )
            .await;
            return Ok(false);
        }
    };
    if current.instance_id.as_deref() != Some(target.instance_id.as_str()) {
        return Ok(true);
    }
    let Some(tenant) = target
        .object
        .status
        .as_ref()
        .and_then(|s| s.tenant_id.clone())
    else {
        return Ok(true);
    };
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            obj,
            "delete_database",
            &format!(
                "DELETE database {id} of instance {}",
                target.instance_id.as_str()
            ),
        )
        .await;
        return Ok(true);
    }
    target
        .aura
        .delete_database(&org, &tenant, target.instance_id.as_str(), &id)
        .await?;
    ctx.normal(
        obj,
        DatabaseReason::DatabaseDeleted,
        &format!("deleted database {} ({id}) in Aura", obj.spec.name),
    )
    .await;
    Ok(true)
}
