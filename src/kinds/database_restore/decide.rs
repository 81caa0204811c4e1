//! Decide (pure): what one AuraDatabaseRestore does. It overwrites a
//! database's data, so it is sent at most once: the intent is recorded
//! before the call, and an intent with no answer is never sent again. Aura
//! gives no signal when a database restore ends, so the furthest it goes is
//! Submitted (Ready, with that reason), never "succeeded".

use std::time::Duration;

use crate::api::{AuraDatabaseRestoreStatus, DatabaseRestorePhase as Phase};
use crate::aura::databases::DatabaseBackup;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraDatabaseRestore conditions, defined once.
    pub enum RestoreReason {
        ready: Submitted = "Aura accepted the restore; it gives no signal when a database restore ends",
        idle: Idle,
        not_stalled: NotStalled,
        /// The restore call is being sent.
        Restoring,
        /// The AuraDatabase does not exist or is not Ready.
        WaitingForDatabase,
        /// The AuraDatabaseBackup named is not Completed yet.
        WaitingForBackup,
        CredentialsNotUsable,
        /// Aura is busy with the instance (409): tried again, nothing was sent.
        InstanceBusy,
        /// backupRef names a backup of another database, or one that failed.
        InvalidBackup,
        /// The call was sent and its answer lost: whether it ran cannot be
        /// told, and it is never sent again.
        OutcomeUnknown,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Event: Aura accepted the restore.
        RestoreSubmitted,
    }
}

pub type RestoreSummary = Progress<RestoreReason>;

/// How often a restore waiting on its database, backup or a busy instance looks again.
pub const RETRY: Duration = Duration::from_secs(15);

/// Where a restore stands, from its status alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Aura accepted it: nothing more to do, ever.
    Submitted,
    /// It failed for good: nothing more to do.
    Failed,
    /// Sent, answer lost: never sent again.
    Lost,
    /// Not sent yet.
    Unsent,
}

pub fn stage(status: &AuraDatabaseRestoreStatus) -> Stage {
    match (status.phase, status.requested_at.is_some()) {
        (Some(Phase::Submitted), _) => Stage::Submitted,
        (Some(Phase::Failed), _) => Stage::Failed,
        (_, true) => Stage::Lost,
        (_, false) => Stage::Unsent,
    }
}

/// The AuraDatabaseBackup a restore names, as the restore sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedBackup {
    /// The AuraDatabase it backs up.
    pub database: String,
    pub backup_id: Option<String>,
    pub aura_status: Option<String>,
}

/// The backup id to restore from a backupRef, or why not yet.
pub fn backup_of(
    restore_database: &str,
    name: &str,
    named: Option<&NamedBackup>,
) -> Result<String, (RestoreReason, String)> {
    let Some(b) = named else {
        return Err((
            RestoreReason::WaitingForBackup,
            format!("AuraDatabaseBackup {name} does not exist in this namespace"),
        ));
    };
    if b.database != restore_database {
        return Err((
            RestoreReason::InvalidBackup,
            format!(
                "AuraDatabaseBackup {name} backs up AuraDatabase {}, not {restore_database}",
                b.database
            ),
        ));
    }
    match (b.aura_status.as_deref(), &b.backup_id) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("Completed") => Ok(id.clone()),
        (Some(s), _) if s.eq_ignore_ascii_case("Failed") => Err((
            RestoreReason::InvalidBackup,
            format!("AuraDatabaseBackup {name} failed"),
        )),
        _ => Err((
            RestoreReason::WaitingForBackup,
            format!("AuraDatabaseBackup {name} is not Completed yet"),
        )),
    }
}

/// Whether `backup_id` is a backup of this database as Aura lists it, and
/// Completed: only then is it sent. A backup id of another database (or of
/// another namespace's) is never handed to Aura's restore.
pub fn listed_backup(
    backup_id: &str,
    listed: &[DatabaseBackup],
) -> Result<(), (RestoreReason, String)> {
    match listed.iter().find(|b| b.id == backup_id) {
        None => Err((
            RestoreReason::InvalidBackup,
            format!("Aura lists no backup {backup_id} of this database"),
        )),
        Some(b) if b.status.eq_ignore_ascii_case("Completed") => Ok(()),
        Some(b) if b.status.eq_ignore_ascii_case("Failed") => Err((
            RestoreReason::InvalidBackup,
            format!("Aura reports backup {backup_id} Failed"),
        )),
        Some(_) => Err((
            RestoreReason::WaitingForBackup,
            format!("Aura reports backup {backup_id} not Completed yet"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_sent_is_never_sent_again() {
        let status = |phase: Option<Phase>, requested: bool| AuraDatabaseRestoreStatus {
            phase,
            requested_at: requested.then(|| "2026-01-01T00:00:00Z".to_string()),
            ..Default::default()
        };
        let cases = [
            (None, false, Stage::Unsent),
            (Some(Phase::Pending), false, Stage::Unsent),
            (None, true, Stage::Lost),
            (Some(Phase::Pending), true, Stage::Lost),
            (Some(Phase::Submitted), true, Stage::Submitted),
            (Some(Phase::Failed), true, Stage::Failed),
            (Some(Phase::Failed), false, Stage::Failed),
        ];
        for (phase, requested, want) in cases {
            assert_eq!(
                stage(&status(phase, requested)),
                want,
                "{phase:?} {requested}"
            );
        }
    }

    #[test]
    fn only_a_backup_aura_lists_for_the_database_and_completed_is_sent() {
        let listed = [
            DatabaseBackup {
                id: "b-1".into(),
                status: "Completed".into(),
                ..Default::default()
            },
            DatabaseBackup {
                id: "b-2".into(),
                status: "InProgress".into(),
                ..Default::default()
            },
            DatabaseBackup {
                id: "b-3".into(),
                status: "Failed".into(),
                ..Default::default()
            },
        ];
        let cases = [
            ("b-1", None),
            ("b-2", Some(RestoreReason::WaitingForBackup)),
            ("b-3", Some(RestoreReason::InvalidBackup)),
            ("b-of-another-database", Some(RestoreReason::InvalidBackup)),
        ];
        for (id, want) in cases {
            assert_eq!(listed_backup(id, &listed).err().map(|e| e.0), want, "{id}");
        }
    }

    #[test]
    fn only_a_completed_backup_of_the_same_database_is_restored() {
        let named = |db: &str, id: Option<&str>, s: Option<&str>| NamedBackup {
            database: db.into(),
            backup_id: id.map(str::to_string),
            aura_status: s.map(str::to_string),
        };
        let ok = named("tenant-a", Some("b-1"), Some("Completed"));
        assert_eq!(
            backup_of("tenant-a", "nightly", Some(&ok)),
            Ok("b-1".into())
        );
        let cases = [
            (None, RestoreReason::WaitingForBackup),
            (
                Some(named("tenant-b", Some("b-1"), Some("Completed"))),
                RestoreReason::InvalidBackup,
            ),
            (
                Some(named("tenant-a", Some("b-1"), Some("Failed"))),
                RestoreReason::InvalidBackup,
            ),
            (
                Some(named("tenant-a", Some("b-1"), Some("InProgress"))),
                RestoreReason::WaitingForBackup,
            ),
            (
                Some(named("tenant-a", None, None)),
                RestoreReason::WaitingForBackup,
            ),
        ];
        for (b, want) in cases {
            let got = backup_of("tenant-a", "nightly", b.as_ref()).unwrap_err().0;
            assert_eq!(got, want, "{b:?}");
        }
    }
}
