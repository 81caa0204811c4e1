//! The data side of the account: restore, overwrite, the sources of clones,
//! writes and exportable snapshots. The data version moves when the operation
//! is accepted: the instance is busy until it ends, so the API never shows
//! the data in between.

use tokio::time::Instant;

use super::{After, InstanceStatus, Step, World, now_rfc3339};
use crate::api::{InstanceType, MemorySize};
use crate::aura::model::Instance;
use crate::simulator::catalogue::OverwriteSpec;
use crate::simulator::error::ApiError;
use crate::simulator::lineage::{DataSource, Lineage};

/// Whether memory `a` is smaller than `b`; sizes that do not read never are.
fn smaller(a: &str, b: &str) -> bool {
    match (MemorySize::parse(a), MemorySize::parse(b)) {
        (Some(a), Some(b)) => a.gigabytes() < b.gigabytes(),
        _ => false,
    }
}

impl World {
    /// Whether the instance's snapshots are exportable: its own setting, else
    /// the account's. Read when a snapshot is shown or used, so a setting
    /// changed after a snapshot was taken applies to it too.
    pub(super) fn exportable(&mut self, id: &str, now: Instant) -> Result<bool, ApiError> {
        let own = self.get(id, now)?.snapshots_exportable;
        Ok(own.unwrap_or(self.snapshots_exportable))
    }

    /// Sets (or with `None` clears) an instance's own exportable setting;
    /// answers the value its snapshots now have.
    pub fn set_snapshots_exportable(
        &mut self,
        id: &str,
        exportable: Option<bool>,
        now: Instant,
    ) -> Result<bool, ApiError> {
        self.get_mut(id, now)?.snapshots_exportable = exportable;
        self.exportable(id, now)
    }

    /// The data a clone or an overwrite copies: the source instance's current
    /// data, or a completed, exportable snapshot of that instance.
    pub(super) fn data_source(
        &mut self,
        instance_id: &str,
        snapshot_id: Option<&str>,
        now: Instant,
    ) -> Result<DataSource, ApiError> {
        let current = self.get(instance_id, now)?.data_version().to_string();
        let data_version = match snapshot_id {
            None => current,
            Some(sid) => {
                let captured = self.snapshots.captured(instance_id, sid, now)?;
                if !self.exportable(instance_id, now)? {
                    return Err(ApiError::snapshot_not_exportable(sid));
                }
                captured
            }
        };
        Ok(DataSource {
            instance_id: instance_id.to_string(),
            snapshot_id: snapshot_id.map(str::to_string),
            data_version,
        })
    }

    /// `POST /instances/{id}/snapshots/{sid}/restore`: one of the instance's
    /// own completed snapshots (another instance's is not found).
    pub fn restore(&mut self, id: &str, sid: &str, now: Instant) -> Result<Instance, ApiError> {
        self.get(id, now)?;
        let version = self.snapshots.captured(id, sid, now)?;
        let t = self.timings.restore;
        let wire = self.begin(
            id,
            now,
            Step {
                from: &[InstanceStatus::Running],
                during: InstanceStatus::Restoring,
                after: After::Become(InstanceStatus::Running),
                seconds: t,
                wrong_state: "Only a running instance can be restored",
            },
        )?;
        self.get_mut(id, now)?
            .data
            .restore(now_rfc3339(), sid, version);
        Ok(wire)
    }

    /// `POST /instances/{id}/overwrite`: the target gets the source's data (a
    /// fresh copy of it, or one of its snapshots) while `overwriting`. A
    /// fresh copy goes through a new snapshot of the source (`AdHoc`, the
    /// source's current data), which the source's snapshot list shows.
    pub fn overwrite(
        &mut self,
        id: &str,
        spec: &OverwriteSpec,
        now: Instant,
    ) -> Result<Instance, ApiError> {
        let target = self.get(id, now)?;
        if target.instance_type == InstanceType::FreeDb.as_str() {
            return Err(ApiError::unsupported_for_tier(
                "A free instance cannot be overwritten",
            ));
        }
        let target_memory = target.memory.clone();
        let source = self.data_source(
            &spec.source_instance_id,
            spec.source_snapshot_id.as_deref(),
            now,
        )?;
        let source_memory = self.get(&source.instance_id, now)?.memory.clone();
        // "This is dependant on the allocated instance size, not the size of
        // the actual data" (spec).
        if smaller(&target_memory, &source_memory) {
            return Err(ApiError::size_disparity(
                (&source.instance_id, &source_memory),
                (id, &target_memory),
            ));
        }
        let t = self.timings.overwrite;
        let wire = self.begin(
            id,
            now,
            Step {
                from: &[InstanceStatus::Running],
                during: InstanceStatus::Overwriting,
                after: After::Become(InstanceStatus::Running),
                seconds: t,
                wrong_state: "Only a running instance can be overwritten",
            },
        )?;
        if spec.source_snapshot_id.is_none() {
            // Aura copies a fresh snapshot of the source: the source's list shows it.
            let duration = super::secs(self.timings.snapshot);
            self.snapshots.take(
                &source.instance_id,
                &source.data_version,
                now_rfc3339(),
                now,
                duration,
            );
        }
        self.get_mut(id, now)?.data.overwrite(now_rfc3339(), source);
        Ok(wire)
    }

    /// New data written to a running instance (the test tool's stand-in for
    /// an application writing to the database). 409 while an operation runs.
    pub fn write(&mut self, id: &str, now: Instant) -> Result<Lineage, ApiError> {
        let inst = self.get_mut(id, now)?;
        // The grace period after an operation does not stop applications.
        if inst.transition.is_some() {
            return Err(ApiError::ongoing_operation(inst.status.as_str()));
        }
        if inst.status != InstanceStatus::Running {
            return Err(ApiError::invalid_state(format!(
                "Only a running instance can be written to (status: {})",
                inst.status
            )));
        }
        inst.data.write(now_rfc3339());
        Ok(inst.data.to_lineage(id))
    }

    pub fn lineage(&mut self, id: &str, now: Instant) -> Result<Lineage, ApiError> {
        Ok(self.get(id, now)?.data.to_lineage(id))
    }
}
