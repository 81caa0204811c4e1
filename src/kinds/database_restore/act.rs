//! The AuraDatabaseRestore pass: the database and the backup, the intent
//! written (guarded) before the one call, and an honest end: Submitted when
//! Aura accepted it, Failed when it refused or its answer was lost.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::decide::{self, NamedBackup, RestoreReason, RestoreSummary, Stage};
use crate::api::{AuraDatabaseRestore, AuraDatabaseRestoreStatus, DatabaseRestorePhase as Phase};
use crate::aura::AuraErrorKind;
use crate::kinds::shared::database_target::{self, DatabaseProblem, DatabaseTarget};
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, Result, failpoint};

pub type Ctx = Context<AuraDatabaseRestore>;

pub async fn apply(obj: &AuraDatabaseRestore, ctx: &Ctx) -> Result<Action> {
    let mut next = obj.status.clone().unwrap_or_default();
    let mut written = None;
    let (summary, requeue) = match decide::stage(&next) {
        // Ended: nothing is sent or written again.
        Stage::Submitted | Stage::Failed => return Ok(Action::await_change()),
        Stage::Lost => lost(&mut next),
        Stage::Unsent => send(obj, ctx, &mut next, &mut written).await?,
    };
    let api: Api<AuraDatabaseRestore> =
        crate::reconciler::api(&ctx.client, obj.namespace().as_deref());
    status::write_pass(
        &api,
        obj,
        written.as_ref(),
        &mut next,
        &summary,
        "write the restore's status",
    )
    .await?;
    Ok(match requeue {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}

fn lost(next: &mut AuraDatabaseRestoreStatus) -> (RestoreSummary, Option<Duration>) {
    next.phase = Some(Phase::Failed);
    let at = next.requested_at.clone().unwrap_or_default();
    (
        RestoreSummary::stalled(
            RestoreReason::OutcomeUnknown,
            format!(
                "the restore was sent at {at} and its answer was lost; Aura gives no signal for a database restore, so whether it ran cannot be told: check the data. It is not sent again; make a new AuraDatabaseRestore to run it again"
            ),
        ),
        None,
    )
}

/// The backup to restore: the spec's id or its AuraDatabaseBackup's, and
/// only one Aura lists as this database's and Completed (DESIGN 4.13: a
/// backup id of another database, or another namespace's, is never sent).
async fn backup(
    obj: &AuraDatabaseRestore,
    ctx: &Ctx,
    at: &DatabaseTarget,
) -> Result<std::result::Result<String, (RestoreReason, String)>> {
    let ns = obj.namespace().unwrap_or_default();
    let db = &obj.spec.database_ref.name;
    let id = match (&obj.spec.backup_id, &obj.spec.backup_ref) {
        (Some(id), _) => id.clone(),
        (None, Some(r)) => {
            let named = ctx.state.backups.find(&ns, &r.name).map(|b| NamedBackup {
                database: b.spec.database_ref.name.clone(),
                backup_id: b.status.as_ref().and_then(|s| s.backup_id.clone()),
                aura_status: b.status.as_ref().and_then(|s| s.aura_status.clone()),
            });
            match decide::backup_of(db, &r.name, named.as_ref()) {
                Ok(id) => id,
                Err(why) => return Ok(Err(why)),
            }
        }
        // Admission asks for one; an object from before that rule stalls.
        (None, None) => {
            return Ok(Err((
                RestoreReason::InvalidBackup,
                "set backupRef or backupId".into(),
            )));
        }
    };
    let listed = at.aura.list_database_backups(&at.path()).await?;
    Ok(decide::listed_backup(&id, &listed).map(|()| id))
}

async fn send(
    obj: &AuraDatabaseRestore,
    ctx: &Ctx,
    next: &mut AuraDatabaseRestoreStatus,
    written: &mut Option<AuraDatabaseRestore>,
) -> Result<(RestoreSummary, Option<Duration>)> {
    let ns = obj.namespace().unwrap_or_default();
    let db = &obj.spec.database_ref.name;
    let state = &ctx.state;
    let wait =
        |reason, why: String| Ok((RestoreSummary::working(reason, why), Some(decide::RETRY)));
    let at =
        match database_target::resolve(state.databases.as_ref(), state.instances.as_ref(), &ns, db)
            .await?
        {
            Ok(at) => at,
            Err(DatabaseProblem::Waiting(why)) => {
                return wait(RestoreReason::WaitingForDatabase, why);
            }
            Err(DatabaseProblem::Credentials(why)) => {
                return Ok((
                    RestoreSummary::stalled(RestoreReason::CredentialsNotUsable, why),
                    Some(decide::RETRY),
                ));
            }
        };
    let backup_id = match backup(obj, ctx, &at).await? {
        Ok(id) => id,
        Err((RestoreReason::InvalidBackup, why)) => {
            next.phase = Some(Phase::Failed);
            return Ok((
                RestoreSummary::stalled(RestoreReason::InvalidBackup, why),
                None,
            ));
        }
        Err((reason, why)) => return wait(reason, why),
    };
    if ctx.config.dry_run {
        ctx.dry_run_skipped(obj, "restore_database", "POST .../databases/{db}/restore")
            .await;
        return Ok((
            RestoreSummary::working(
                RestoreReason::Restoring,
                "dry run: the restore was not sent",
            ),
            None,
        ));
    }
    // The intent, before the one call that overwrites data.
    next.phase = Some(Phase::Pending);
    next.backup_id = Some(backup_id.clone());
    next.requested_at = Some(Timestamp::now().to_string());
    let api: Api<AuraDatabaseRestore> = crate::reconciler::api(&ctx.client, Some(&ns));
    status::summarize(
        obj,
        next,
        &RestoreSummary::working(RestoreReason::Restoring, "sending the restore to Aura"),
    );
    *written = status::write(
        &api,
        obj,
        next,
        Write::Guarded("record the restore's intent"),
    )
    .await?;
    let latest = written.clone().unwrap_or_else(|| obj.clone());
    failpoint("database-restore-sent");
    match at.aura.restore_database(&at.path(), &backup_id).await {
        Ok(()) => {
            failpoint("database-restore-answered");
            next.phase = Some(Phase::Submitted);
            next.submitted_at = Some(Timestamp::now().to_string());
            ctx.normal(
                &latest,
                RestoreReason::RestoreSubmitted,
                &format!("Aura accepted the restore of database {db} from backup {backup_id}"),
            )
            .await;
            Ok((RestoreSummary::ready(), None))
        }
        Err(e) if e.kind() == AuraErrorKind::OutcomeUnknown => Ok(lost(next)),
        Err(e) => {
            // Refused: it did not run.
            next.requested_at = None;
            match e.kind() {
                AuraErrorKind::Conflict => Ok((
                    RestoreSummary::working(RestoreReason::InstanceBusy, e.to_string()),
                    Some(decide::RETRY),
                )),
                AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound => {
                    next.phase = Some(Phase::Failed);
                    ctx.warn(&latest, RestoreReason::AuraRejected, &e.to_string())
                        .await;
                    Ok((
                        RestoreSummary::stalled(RestoreReason::AuraRejected, e.to_string()),
                        None,
                    ))
                }
                _ => Err(e.into()),
            }
        }
    }
}
