//! The v2beta1 side of the account: an instance made by the v2beta1 create
//! (the v1 create, with what only v2beta1 keeps), and each instance's
//! databases, reached through its project. Database work needs the
//! instance running and idle: 409 `instance-not-running` otherwise.

use super::*;
use crate::simulator::databases::not_running;
use crate::simulator::v2beta1::V2Error;

impl World {
    /// The v1 create, marked as made through v2beta1; also its default
    /// database's id.
    pub fn create_v2(
        &mut self,
        spec: CreateSpec,
        facts: InstanceV2,
        now: Instant,
    ) -> Result<(CreatedInstance, String), ApiError> {
        let created = self.create(spec, now, false)?;
        if let Some(rec) = self.instances.get_mut(&created.id) {
            rec.v2 = Some(facts);
        }
        let default = self
            .databases
            .entry(created.id.clone())
            .or_default()
            .default_id();
        Ok((created, default))
    }

    /// The instance if it is in `project`; else 404 `instance-not-found`.
    pub fn project_instance(
        &mut self,
        project: &str,
        id: &str,
        now: Instant,
    ) -> Result<&InstanceRecord, V2Error> {
        self.settle(now);
        self.instances
            .get(id)
            .filter(|i| i.tenant_id == project)
            .ok_or_else(|| V2Error::instance_not_found(id))
    }

    /// The databases of an instance of `project`, whether it is
    /// multi-database (made so by the v2beta1 create), and why database
    /// work cannot start now, if it cannot.
    pub fn databases_of(
        &mut self,
        project: &str,
        id: &str,
        now: Instant,
    ) -> Result<(&mut InstanceDatabases, bool, Option<V2Error>), V2Error> {
        let inst = self.project_instance(project, id, now)?;
        let multi = inst.v2.as_ref().is_some_and(|v| v.multi_database);
        let refusal = (inst.status != InstanceStatus::Running || inst.is_busy(now))
            .then(|| not_running(inst.status.as_str()));
        let dbs = self.databases.entry(id.to_string()).or_default();
        Ok((dbs, multi, refusal))
    }

    /// How long a database backup takes.
    pub fn database_backup_time(&self) -> Duration {
        secs(self.timings.database_backup)
    }

    /// `Some` for an instance made through v2beta1.
    pub fn multi_database(&mut self, id: &str, now: Instant) -> Option<bool> {
        self.get(id, now)
            .ok()
            .and_then(|i| i.v2.as_ref())
            .map(|v| v.multi_database)
    }

    /// An instance's databases (test side); `None` when there is no such instance.
    pub fn instance_databases(&mut self, id: &str, now: Instant) -> Option<&InstanceDatabases> {
        self.get(id, now).ok()?;
        Some(self.databases.entry(id.to_string()).or_default())
    }
}
