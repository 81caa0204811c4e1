//! Decide (pure): what one AuraDatabase does next, from the databases Aura
//! lists in its instance and what its status records of its own doing. A
//! database's name is unique in its instance, so a create whose answer was
//! lost is found again by name; a database the object did not make is taken
//! over only when its deletionPolicy is set explicitly.

use std::time::Duration;

use jiff::Timestamp;

use crate::aura::databases::Database;
use crate::kinds::shared::lost_create;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraDatabase conditions, defined once.
    pub enum DatabaseReason {
        ready: DatabaseReady = "Aura lists the database and its connection Secret is written",
        idle: Idle,
        not_stalled: NotStalled,
        /// The create call is being made, or its answer looked for.
        Creating,
        /// The AuraInstance does not exist, has no Aura instance yet, or is
        /// not Ready.
        WaitingForInstance,
        CredentialsNotUsable,
        /// The credentials see no Aura organization.
        OrganizationNotFound,
        /// They see several and none holds the instance's tenant.
        OrganizationAmbiguous,
        /// The instance holds one database (it was not created with
        /// spec.multiDatabase): Aura answers multi-db-only.
        NotMultiDatabase,
        /// Aura is busy with the instance (another database operation, or
        /// it is not running): tried again.
        InstanceBusy,
        /// A database of the name exists, not made by this object, and
        /// deletionPolicy is not set explicitly.
        DatabaseExists,
        /// The connection Secret's name is taken by a Secret that is not this object's.
        SecretNotOwned,
        /// The instance's connection Secret (or userRef's) holds no login to copy yet.
        PasswordUnavailable,
        /// An extraKeys template of spec.connectionSecret does not render.
        InvalidTemplate,
        /// userRef names an AuraDatabaseUser of another database.
        UserNotForDatabase,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Event: the database was created.
        DatabaseCreated,
        /// Event: the database was deleted in Aura.
        DatabaseDeleted,
    }
}

pub type DatabaseSummary = Progress<DatabaseReason>;

/// How often a busy instance is tried again.
pub const BUSY_RETRY: Duration = Duration::from_secs(15);
/// How often a waiting database looks at its instance again.
pub const INSTANCE_POLL: Duration = Duration::from_secs(10);
/// How often a stall that may clear by itself is looked at again.
pub const STALL_RETRY: Duration = Duration::from_secs(300);

/// What the status records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record<'a> {
    pub owned: bool,
    pub create_requested_at: Option<&'a str>,
    /// The spec sets deletionPolicy (so a database found may be taken over).
    pub policy_explicit: bool,
}

/// The next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The database is there and the object's.
    Hold {
        id: String,
    },
    /// Create it (intent recorded first).
    Create,
    /// A create was sent and its answer lost: look again after a while.
    Wait(Duration),
    Stall(DatabaseReason, String),
}

/// The next step; `grace`: how long a lost create may take to be listed.
pub fn step(
    name: &str,
    listed: &[Database],
    record: &Record<'_>,
    now: Timestamp,
    grace: Duration,
) -> Step {
    if let Some(db) = listed.iter().find(|d| d.name == name) {
        return if record.owned || record.create_requested_at.is_some() || record.policy_explicit {
            Step::Hold { id: db.id.clone() }
        } else {
            Step::Stall(
                DatabaseReason::DatabaseExists,
                format!(
                    "the instance has a database named {name}, not made by this object; set spec.deletionPolicy to take it over (Orphan keeps it when the object goes, Delete deletes it)"
                ),
            )
        };
    }
    match lost_create::left(record.create_requested_at, now, grace) {
        Some(left) => Step::Wait(left),
        None => Step::Create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(id: &str, name: &str) -> Database {
        Database {
            id: id.into(),
            name: name.into(),
        }
    }

    const GRACE: Duration = Duration::from_secs(30);

    #[test]
    fn each_step_follows_from_the_list_and_the_record() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let listed = [db("d-0", "neo4j"), db("d-1", "tenant-a")];
        let rec = |owned, requested, explicit| Record {
            owned,
            create_requested_at: requested,
            policy_explicit: explicit,
        };
        let cases = [
            (
                "absent: create",
                "tenant-b",
                rec(false, None, false),
                Step::Create,
            ),
            (
                "ours: held",
                "tenant-a",
                rec(true, None, false),
                Step::Hold { id: "d-1".into() },
            ),
            (
                "a lost create found by name: ours",
                "tenant-a",
                rec(false, Some("2026-01-01T00:00:50Z"), false),
                Step::Hold { id: "d-1".into() },
            ),
            (
                "found, explicit policy: taken over",
                "tenant-a",
                rec(false, None, true),
                Step::Hold { id: "d-1".into() },
            ),
            (
                "a lost create not listed yet: wait",
                "tenant-b",
                rec(false, Some("2026-01-01T00:00:50Z"), false),
                Step::Wait(Duration::from_secs(20)),
            ),
            (
                "a lost create long ago, never listed: create",
                "tenant-b",
                rec(false, Some("2026-01-01T00:00:00Z"), false),
                Step::Create,
            ),
            (
                "ours, deleted outside: made again",
                "tenant-b",
                rec(true, None, false),
                Step::Create,
            ),
        ];
        for (what, name, record, want) in cases {
            assert_eq!(step(name, &listed, &record, now, GRACE), want, "{what}");
        }
        match step("tenant-a", &listed, &rec(false, None, false), now, GRACE) {
            Step::Stall(DatabaseReason::DatabaseExists, message) => {
                assert!(message.contains("tenant-a"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
