//! The data side of the account: restore, writes and exportable snapshots.
//! The data version moves when the operation is accepted: the instance is
//! busy until it ends, so the API never shows the data in between.

use tokio::time::Instant;

use super::{After, InstanceStatus, Step, World, now_rfc3339};
use crate::aura::model::Instance;
use crate::simulator::error::ApiError;
use crate::simulator::lineage::Lineage;

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
