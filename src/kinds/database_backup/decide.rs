//! Decide (pure): what one AuraDatabaseBackup shows from the backup Aura
//! reports, and, after a create whose answer was lost, which listed backup
//! is its own. Aura answers a backup's create with its id only and reports
//! an empty status until it starts: empty is not done.

use std::time::Duration;

use jiff::Timestamp;

use crate::aura::databases::DatabaseBackup;
use crate::kinds::shared::lost_create;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraDatabaseBackup conditions, defined once.
    pub enum BackupReason {
        ready: Completed = "Aura reports the backup Completed",
        idle: Idle,
        not_stalled: NotStalled,
        /// Aura is taking it, or the create's answer is looked for.
        Taking,
        /// The AuraDatabase does not exist or is not Ready.
        WaitingForDatabase,
        CredentialsNotUsable,
        /// Aura is busy with the instance (409): tried again.
        InstanceBusy,
        /// Aura reports the backup Failed.
        BackupFailed,
        /// The backup recorded is gone from Aura (its database was deleted).
        BackupNotFound,
        /// Several listed backups could be the one an unanswered create made.
        CreateAmbiguous,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Event: the backup was asked for.
        BackupRequested,
    }
}

pub type BackupSummary = Progress<BackupReason>;

/// How often a backup being taken is looked at.
pub const POLL: Duration = Duration::from_secs(5);
/// How often a busy instance or a missing database is tried again.
pub const RETRY: Duration = Duration::from_secs(15);
/// How often a stall that may clear by itself is looked at again.
pub const STALL_RETRY: Duration = Duration::from_secs(300);

/// The status of a backup Aura reports, and when to look again.
pub fn progress(backup: &DatabaseBackup) -> (BackupSummary, Option<Duration>) {
    match backup.status.to_ascii_lowercase().as_str() {
        "completed" => (BackupSummary::ready(), None),
        "failed" => (
            BackupSummary::stalled(
                BackupReason::BackupFailed,
                format!(
                    "Aura reports backup {} Failed; make a new AuraDatabaseBackup",
                    backup.id
                ),
            ),
            Some(STALL_RETRY),
        ),
        "" => (
            BackupSummary::working(BackupReason::Taking, "Aura has not started the backup yet"),
            Some(POLL),
        ),
        other => (
            BackupSummary::working(
                BackupReason::Taking,
                format!("Aura reports the backup {other}"),
            ),
            Some(POLL),
        ),
    }
}

pub use crate::kinds::shared::lost_create::Search;

/// The backups listed that were not there before the create and that no
/// other object records: the one an unanswered create made.
pub fn search(
    listed: &[DatabaseBackup],
    prior: &[String],
    held_elsewhere: &[String],
    requested_at: &str,
    now: Timestamp,
    grace: Duration,
) -> Search {
    let new: Vec<&str> = listed
        .iter()
        .map(|b| b.id.as_str())
        .filter(|id| !prior.iter().any(|p| p == id) && !held_elsewhere.iter().any(|h| h == id))
        .collect();
    let Ok(intent) = requested_at.parse::<Timestamp>() else {
        return Search::CreateAgain;
    };
    lost_create::search(&new, intent, now, grace, |ids| {
        format!(
            "several backups could be the one an unanswered create made: {ids}; set this object aside and make a new one"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(id: &str, status: &str) -> DatabaseBackup {
        DatabaseBackup {
            id: id.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_status_follows_what_aura_reports_and_empty_is_not_done() {
        let cases = [
            ("Completed", true, None),
            ("COMPLETED", true, None),
            ("Failed", false, Some(BackupReason::BackupFailed)),
            ("", false, None),
            ("InProgress", false, None),
            ("Pending", false, None),
        ];
        for (status, ready, stalled) in cases {
            let (summary, _) = progress(&backup("b-1", status));
            assert_eq!(summary.is_ready(), ready, "{status}");
            assert_eq!(summary.stalled.map(|(r, _)| r), stalled, "{status}");
        }
    }

    const GRACE: Duration = Duration::from_secs(30);

    #[test]
    fn a_lost_create_is_found_among_the_new_backups_only() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let listed = [
            backup("b-0", "Completed"),
            backup("b-1", ""),
            backup("b-2", ""),
        ];
        let recent = "2026-01-01T00:00:50Z";
        let old = "2026-01-01T00:00:00Z";
        let prior = vec!["b-0".to_string()];
        let cases = [
            (
                "one new",
                &listed[..2],
                vec![],
                recent,
                Search::Found("b-1".into()),
            ),
            (
                "one new, the other another object's",
                &listed[..],
                vec!["b-2".to_string()],
                recent,
                Search::Found("b-1".into()),
            ),
            (
                "none new yet",
                &listed[..1],
                vec![],
                recent,
                Search::Wait(Duration::from_secs(20)),
            ),
            (
                "none new after the grace",
                &listed[..1],
                vec![],
                old,
                Search::CreateAgain,
            ),
        ];
        for (what, listed, elsewhere, at, want) in cases {
            assert_eq!(
                search(listed, &prior, &elsewhere, at, now, GRACE),
                want,
                "{what}"
            );
        }
        assert!(matches!(
            search(&listed, &prior, &[], recent, now, GRACE),
            Search::Ambiguous(m) if m.contains("b-1, b-2")
        ));
    }
}
