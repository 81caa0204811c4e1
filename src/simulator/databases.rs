//! v2beta1 databases of one instance (V2BETA1-NOTES items 82, 90): every
//! instance has its default `neo4j` database; only a multi-database
//! instance takes more (else 409 `multi-db-only`), up to
//! [`DATABASE_LIMIT`]. Per database, backups that go `Pending`, then
//! `InProgress`, then `Completed` over the `database_backup` timing, and
//! restores from a completed one, recorded (live shows no restore status).
//! Pure: every call that needs the time takes `now`; the caller says
//! whether the instance is multi-database and running.

use std::time::Duration;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::v2beta1::V2Error;

/// The database every instance starts with; it cannot be deleted.
pub const DEFAULT_DATABASE: &str = "neo4j";

/// The most databases an instance holds, the default one included.
pub const DATABASE_LIMIT: usize = 20;

/// What the v2beta1 create decided about an instance; `None` on an
/// instance made through v1 (its v2beta1 GET answers 500).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceV2 {
    pub multi_database: bool,
    /// `serverless`, `plugin` or `unavailable`.
    pub graph_analytics: String,
}

/// `{id, name}`, as every database answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSummary {
    pub id: String,
    pub name: String,
}

/// A backup as its answers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseBackup {
    pub id: String,
    /// RFC 3339, when it was asked for.
    pub timestamp: String,
    /// `Pending`, `InProgress` or `Completed`.
    pub status: String,
    pub exportable: bool,
}

/// One restore as it was asked for (test side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseRestore {
    pub database_id: String,
    pub backup_id: String,
    /// RFC 3339, when it was asked for.
    pub at: String,
}

#[derive(Debug, Clone)]
struct Backup {
    id: String,
    database_id: String,
    timestamp: String,
    asked_at: Instant,
}

impl Backup {
    /// `Pending` the first half of `takes`, `InProgress` the second, then `Completed`.
    fn status(&self, now: Instant, takes: Duration) -> &'static str {
        let done = self.asked_at.checked_add(takes).unwrap_or(self.asked_at);
        let half = self
            .asked_at
            .checked_add(takes / 2)
            .unwrap_or(self.asked_at);
        if now >= done {
            "Completed"
        } else if now >= half {
            "InProgress"
        } else {
            "Pending"
        }
    }

    fn view(&self, now: Instant, takes: Duration) -> DatabaseBackup {
        DatabaseBackup {
            id: self.id.clone(),
            timestamp: self.timestamp.clone(),
            status: self.status(now, takes).into(),
            exportable: true,
        }
    }
}

/// Neo4j's rules for a database name: 3 to 63 characters, lowercase ASCII
/// letters, digits, dots and dashes, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(ok_char)
}

pub fn database_not_found(id: &str) -> V2Error {
    V2Error::new(
        StatusCode::NOT_FOUND,
        "database-not-found",
        format!("Database not found: {id}"),
    )
}

pub fn backup_not_found(id: &str) -> V2Error {
    V2Error::new(
        StatusCode::NOT_FOUND,
        "backup-not-found",
        format!("Backup not found: {id}"),
    )
}

/// 409 `instance-not-running`: database work needs a running, idle instance.
pub fn not_running(status: &str) -> V2Error {
    V2Error::new(
        StatusCode::CONFLICT,
        "instance-not-running",
        format!("The instance must be running for database operations (status: {status})"),
    )
}

fn unprocessable(reason: &str, message: String) -> V2Error {
    V2Error::new(StatusCode::UNPROCESSABLE_ENTITY, reason, message)
}

/// One instance's databases, backups and restores.
#[derive(Debug, Clone)]
pub struct InstanceDatabases {
    databases: Vec<DatabaseSummary>,
    backups: Vec<Backup>,
    restores: Vec<DatabaseRestore>,
}

impl Default for InstanceDatabases {
    /// The default database alone.
    fn default() -> Self {
        Self {
            databases: vec![DatabaseSummary {
                id: uuid::Uuid::new_v4().to_string(),
                name: DEFAULT_DATABASE.into(),
            }],
            backups: Vec::new(),
            restores: Vec::new(),
        }
    }
}

impl InstanceDatabases {
    pub fn list(&self) -> Vec<DatabaseSummary> {
        self.databases.clone()
    }

    pub fn default_id(&self) -> String {
        self.databases[0].id.clone()
    }

    pub fn get(&self, id: &str) -> Result<DatabaseSummary, V2Error> {
        self.databases
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| database_not_found(id))
    }

    /// `POST I/databases`. Refusals in this order: 409 `multi-db-only`, 422
    /// `validation-error` (a bad name, or one taken), 422
    /// `database-limit-reached`. The caller checks that the instance runs.
    pub fn create(&mut self, name: &str, multi_database: bool) -> Result<DatabaseSummary, V2Error> {
        if !multi_database {
            return Err(V2Error::new(
                StatusCode::CONFLICT,
                "multi-db-only",
                "This instance is not multi-database: it holds its default database only",
            ));
        }
        if !valid_name(name) {
            let mut e = V2Error::validation(
                "name",
                format!(
                    "'{name}' is not a database name: 3 to 63 lowercase letters, digits, dots \
                     and dashes, starting with a letter"
                ),
            );
            e.status = StatusCode::UNPROCESSABLE_ENTITY;
            return Err(e);
        }
        if self.databases.iter().any(|d| d.name == name) {
            let mut e = V2Error::validation("name", format!("A database named {name} exists"));
            e.status = StatusCode::UNPROCESSABLE_ENTITY;
            return Err(e);
        }
        if self.databases.len() >= DATABASE_LIMIT {
            return Err(unprocessable(
                "database-limit-reached",
                format!("An instance holds at most {DATABASE_LIMIT} databases"),
            ));
        }
        let db = DatabaseSummary {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
        };
        self.databases.push(db.clone());
        Ok(db)
    }

    /// `DELETE D`: gone at once with its backups; the default database
    /// cannot be deleted (409 `default-database-not-deletable`).
    pub fn delete(&mut self, id: &str) -> Result<DatabaseSummary, V2Error> {
        let db = self.get(id)?;
        if db.name == DEFAULT_DATABASE {
            return Err(V2Error::new(
                StatusCode::CONFLICT,
                "default-database-not-deletable",
                "The default database cannot be deleted",
            ));
        }
        self.databases.retain(|d| d.id != id);
        self.backups.retain(|b| b.database_id != id);
        Ok(db)
    }

    /// `POST D/backups`: a new `Pending` backup's id.
    pub fn back_up(
        &mut self,
        database: &str,
        timestamp: String,
        now: Instant,
    ) -> Result<String, V2Error> {
        self.get(database)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.backups.push(Backup {
            id: id.clone(),
            database_id: database.to_string(),
            timestamp,
            asked_at: now,
        });
        Ok(id)
    }

    pub fn backups(
        &self,
        database: &str,
        now: Instant,
        takes: Duration,
    ) -> Result<Vec<DatabaseBackup>, V2Error> {
        self.get(database)?;
        Ok(self
            .backups
            .iter()
            .filter(|b| b.database_id == database)
            .map(|b| b.view(now, takes))
            .collect())
    }

    pub fn backup(
        &self,
        database: &str,
        id: &str,
        now: Instant,
        takes: Duration,
    ) -> Result<DatabaseBackup, V2Error> {
        self.get(database)?;
        self.backups
            .iter()
            .find(|b| b.id == id && b.database_id == database)
            .map(|b| b.view(now, takes))
            .ok_or_else(|| backup_not_found(id))
    }

    /// `POST D/restore`: from a `Completed` backup of this database. 404
    /// `backup-not-found` for a backup of no database of the instance; 400
    /// `validation-error` for one of another database; 400
    /// `backup-not-completed` for one still being taken.
    pub fn restore(
        &mut self,
        database: &str,
        backup_id: &str,
        at: String,
        now: Instant,
        takes: Duration,
    ) -> Result<(), V2Error> {
        self.get(database)?;
        let Some(b) = self.backups.iter().find(|b| b.id == backup_id) else {
            return Err(backup_not_found(backup_id));
        };
        if b.database_id != database {
            return Err(V2Error::validation(
                "backup_id",
                format!(
                    "Backup {backup_id} is of another database ({})",
                    b.database_id
                ),
            ));
        }
        let status = b.status(now, takes);
        if status != "Completed" {
            return Err(V2Error::new(
                StatusCode::BAD_REQUEST,
                "backup-not-completed",
                format!("Backup {backup_id} is {status}, not Completed"),
            ));
        }
        self.restores.push(DatabaseRestore {
            database_id: database.to_string(),
            backup_id: backup_id.to_string(),
            at,
        });
        Ok(())
    }

    pub fn all_backups(&self, now: Instant, takes: Duration) -> Vec<(String, DatabaseBackup)> {
        self.backups
            .iter()
            .map(|b| (b.database_id.clone(), b.view(now, takes)))
            .collect()
    }

    pub fn restores(&self) -> Vec<DatabaseRestore> {
        self.restores.clone()
    }
}

#[cfg(test)]
#[path = "databases_tests.rs"]
mod tests;
