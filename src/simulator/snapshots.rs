//! The snapshots of the simulated account: Pending, then InProgress, then
//! Completed after the snapshot timing. Each keeps the data version its
//! instance had when the snapshot was asked for. Which instance may be
//! snapshotted or restored, and whether its snapshots are exportable, is the
//! account's business (`state.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::error::ApiError;
use crate::api::SnapshotStatus;
use crate::aura::model::Snapshot;

#[derive(Debug, Clone)]
struct SnapshotRecord {
    snapshot_id: String,
    instance_id: String,
    profile: &'static str,
    timestamp: String,
    started: Instant,
    duration: Duration,
    /// What a restore, overwrite or clone from this snapshot brings back.
    data_version: String,
}

impl SnapshotRecord {
    fn status(&self, now: Instant) -> SnapshotStatus {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= self.duration {
            SnapshotStatus::Completed
        } else if elapsed >= self.duration / 2 {
            SnapshotStatus::InProgress
        } else {
            SnapshotStatus::Pending
        }
    }

    fn to_wire(&self, now: Instant, exportable: bool) -> Snapshot {
        Snapshot {
            instance_id: Some(self.instance_id.clone()),
            snapshot_id: self.snapshot_id.clone(),
            profile: Some(self.profile.into()),
            status: Some(self.status(now).to_string()),
            timestamp: Some(self.timestamp.clone()),
            exportable: Some(exportable),
        }
    }
}

/// Snapshots by instance id.
#[derive(Debug, Default)]
pub struct Snapshots(BTreeMap<String, Vec<SnapshotRecord>>);

impl Snapshots {
    /// Starts an on-demand snapshot of data `data_version`; returns its id.
    pub fn take(
        &mut self,
        instance_id: &str,
        data_version: &str,
        timestamp: String,
        now: Instant,
        duration: Duration,
    ) -> String {
        let snapshot_id = uuid::Uuid::new_v4().to_string();
        self.0
            .entry(instance_id.to_string())
            .or_default()
            .push(SnapshotRecord {
                snapshot_id: snapshot_id.clone(),
                instance_id: instance_id.to_string(),
                profile: "AdHoc",
                timestamp,
                started: now,
                duration,
                data_version: data_version.to_string(),
            });
        snapshot_id
    }

    /// An instance's snapshots; `date` (YYYY-MM-DD) filters on the timestamp.
    pub fn list(
        &self,
        instance_id: &str,
        date: Option<&str>,
        now: Instant,
        exportable: bool,
    ) -> Vec<Snapshot> {
        self.0
            .get(instance_id)
            .map(|v| {
                v.iter()
                    .filter(|s| date.is_none_or(|d| s.timestamp.starts_with(d)))
                    .map(|s| s.to_wire(now, exportable))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn record(&self, instance_id: &str, sid: &str) -> Result<&SnapshotRecord, ApiError> {
        self.0
            .get(instance_id)
            .and_then(|v| v.iter().find(|s| s.snapshot_id == sid))
            .ok_or_else(|| ApiError::snapshot_not_found(sid))
    }

    pub fn get(
        &self,
        instance_id: &str,
        sid: &str,
        now: Instant,
        exportable: bool,
    ) -> Result<Snapshot, ApiError> {
        self.record(instance_id, sid)
            .map(|s| s.to_wire(now, exportable))
    }

    /// The instance is gone, and its snapshots with it.
    pub fn forget(&mut self, instance_id: &str) {
        self.0.remove(instance_id);
    }

    /// The data version of a completed snapshot of `instance_id`: a restore,
    /// an overwrite or a clone needs one. A snapshot of another instance is
    /// not found, whatever its id.
    pub fn captured(&self, instance_id: &str, sid: &str, now: Instant) -> Result<String, ApiError> {
        let record = self.record(instance_id, sid)?;
        let status = record.status(now);
        if status == SnapshotStatus::Completed {
            return Ok(record.data_version.clone());
        }
        Err(ApiError::api(
            axum::http::StatusCode::CONFLICT,
            "ongoing-database-operation",
            format!("Snapshot {sid} is not completed yet ({status})"),
        ))
    }
}
