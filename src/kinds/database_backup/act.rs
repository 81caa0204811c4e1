//! The AuraDatabaseBackup pass: the database (through the databases' view,
//! with its instance's credentials), then the backup recorded, found again
//! after a lost answer, or asked for (the intent written, guarded, first).

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::decide::{self, BackupReason, BackupSummary, Search};
use crate::api::{AuraDatabaseBackup, AuraDatabaseBackupStatus};
use crate::aura::AuraErrorKind;
use crate::kinds::shared::database_target::{self, DatabaseProblem, DatabaseTarget};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, Result, failpoint};

pub type Ctx = Context<AuraDatabaseBackup>;
type Outcome = (BackupSummary, Option<Duration>);

pub async fn apply(obj: &AuraDatabaseBackup, ctx: &Ctx) -> Result<Action> {
    let api: Api<AuraDatabaseBackup> =
        crate::reconciler::api(&ctx.client, obj.namespace().as_deref());
    let mut next = obj.status.clone().unwrap_or_default();
    let mut written = None;
    let (summary, requeue) = pass(obj, ctx, &api, &mut next, &mut written).await?;
    status::write_pass(
        &api,
        obj,
        written.as_ref(),
        &mut next,
        &summary,
        "write the backup's status",
    )
    .await?;
    let settled = summary.is_ready() || summary.stalled.is_some();
    Ok(match requeue {
        Some(after) => Action::requeue(after),
        // A Completed backup changes no more.
        None if settled => Action::await_change(),
        None => Action::requeue(ctx.config.resync_interval),
    })
}

async fn pass(
    obj: &AuraDatabaseBackup,
    ctx: &Ctx,
    api: &Api<AuraDatabaseBackup>,
    next: &mut AuraDatabaseBackupStatus,
    written: &mut Option<AuraDatabaseBackup>,
) -> Result<Outcome> {
    if next.aura_status.as_deref() == Some("Completed") {
        return Ok((BackupSummary::ready(), None));
    }
    let ns = obj.namespace().unwrap_or_default();
    let db = &obj.spec.database_ref.name;
    let state = &ctx.state;
    let at =
        match database_target::resolve(state.databases.as_ref(), state.instances.as_ref(), &ns, db)
            .await?
        {
            Ok(at) => at,
            Err(DatabaseProblem::Waiting(why)) => {
                return Ok((
                    BackupSummary::working(BackupReason::WaitingForDatabase, why),
                    Some(decide::RETRY),
                ));
            }
            Err(DatabaseProblem::Credentials(why)) => {
                return Ok((
                    BackupSummary::stalled(BackupReason::CredentialsNotUsable, why),
                    Some(decide::STALL_RETRY),
                ));
            }
        };
    if let Some(id) = next.backup_id.clone() {
        return poll(&at, &id, next).await;
    }
    if let Some(requested) = next.create_requested_at.clone() {
        let listed = at.aura.list_database_backups(&at.path()).await?;
        match decide::search(
            &listed,
            &next.create_prior_ids,
            &held_elsewhere(obj, ctx),
            &requested,
            Timestamp::now(),
            ctx.config.create_grace,
        ) {
            Search::Found(id) => {
                next.backup_id = Some(id.clone());
                next.create_requested_at = None;
                next.create_prior_ids.clear();
                return poll(&at, &id, next).await;
            }
            Search::Wait(after) => {
                return Ok((
                    BackupSummary::working(
                        BackupReason::Taking,
                        "looking for the backup an unanswered create made",
                    ),
                    Some(after),
                ));
            }
            Search::Ambiguous(message) => {
                return Ok((
                    BackupSummary::stalled(BackupReason::CreateAmbiguous, message),
                    Some(decide::STALL_RETRY),
                ));
            }
            Search::CreateAgain => {}
        }
    }
    create(obj, ctx, api, &at, next, written).await
}

async fn poll(
    at: &DatabaseTarget,
    id: &str,
    next: &mut AuraDatabaseBackupStatus,
) -> Result<Outcome> {
    let backup = match at.aura.get_database_backup(&at.path(), id).await {
        Ok(b) => b,
        Err(e) if e.kind() == AuraErrorKind::NotFound => {
            return Ok((
                BackupSummary::stalled(
                    BackupReason::BackupNotFound,
                    format!("Aura no longer has backup {id} (its database may be gone)"),
                ),
                Some(decide::STALL_RETRY),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    next.aura_status = (!backup.status.is_empty()).then(|| backup.status.clone());
    next.timestamp = (!backup.timestamp.is_empty()).then(|| backup.timestamp.clone());
    next.exportable = backup.exportable;
    Ok(decide::progress(&backup))
}

async fn create(
    obj: &AuraDatabaseBackup,
    ctx: &Ctx,
    api: &Api<AuraDatabaseBackup>,
    at: &DatabaseTarget,
    next: &mut AuraDatabaseBackupStatus,
    written: &mut Option<AuraDatabaseBackup>,
) -> Result<Outcome> {
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            obj,
            "create_database_backup",
            "POST .../databases/{db}/backups",
        )
        .await;
        return Ok((
            BackupSummary::working(BackupReason::Taking, "dry run: no backup was asked for"),
            None,
        ));
    }
    let listed = at.aura.list_database_backups(&at.path()).await?;
    next.create_prior_ids = listed.into_iter().map(|b| b.id).collect();
    next.create_requested_at = Some(Timestamp::now().to_string());
    status::summarize(
        obj,
        next,
        &BackupSummary::working(BackupReason::Taking, "asking Aura for the backup"),
    );
    *written = status::write(
        api,
        obj,
        next,
        Write::Guarded("record the backup's create intent"),
    )
    .await?;
    let latest = written.clone().unwrap_or_else(|| obj.clone());
    failpoint("database-backup-sent");
    match at.aura.create_database_backup(&at.path()).await {
        Ok(made) => {
            failpoint("database-backup-answered");
            next.backup_id = Some(made.id.clone());
            next.create_requested_at = None;
            next.create_prior_ids.clear();
            ctx.normal(
                &latest,
                BackupReason::BackupRequested,
                &format!(
                    "Aura is taking backup {} of database {}",
                    made.id, at.database
                ),
            )
            .await;
            Ok((
                BackupSummary::working(BackupReason::Taking, "Aura has not started the backup yet"),
                Some(Duration::from_secs(1)),
            ))
        }
        Err(e) if e.kind() == AuraErrorKind::OutcomeUnknown => Ok((
            BackupSummary::working(BackupReason::Taking, e.to_string()),
            Some(Duration::from_secs(2)),
        )),
        Err(e) => {
            next.create_requested_at = None;
            next.create_prior_ids.clear();
            if e.kind() == AuraErrorKind::Conflict {
                return Ok((
                    BackupSummary::working(BackupReason::InstanceBusy, e.to_string()),
                    Some(decide::RETRY),
                ));
            }
            if matches!(
                e.kind(),
                AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
            ) {
                ctx.warn(&latest, BackupReason::AuraRejected, &e.to_string())
                    .await;
                return Ok((
                    BackupSummary::stalled(BackupReason::AuraRejected, e.to_string()),
                    Some(decide::STALL_RETRY),
                ));
            }
            Err(e.into())
        }
    }
}

/// The backups the other AuraDatabaseBackups of the namespace record.
fn held_elsewhere(obj: &AuraDatabaseBackup, ctx: &Ctx) -> Vec<String> {
    let me = obj.name_any();
    ctx.objects_in(&obj.namespace().unwrap_or_default())
        .iter()
        .filter(|o| o.name_any() != me)
        .filter_map(|o| o.status.as_ref()?.backup_id.clone())
        .collect()
}
