//! The database an AuraDatabaseBackup or AuraDatabaseRestore acts on: an
//! AuraDatabase of the object's namespace that is Ready, in the instance its
//! AuraInstance still holds, with that instance's credentials (these kinds
//! have none of their own).

use super::target::{self, TargetProblem};
use super::views::{DatabaseView, InstanceView};
use crate::aura::AuraClient;
use crate::aura::databases::DatabasePath;
use crate::reconciler::Result;

/// A database that exists in Aura, and a client that may call it.
pub struct DatabaseTarget {
    pub aura: AuraClient,
    pub org: String,
    pub tenant: String,
    pub instance: String,
    pub database: String,
}

impl DatabaseTarget {
    pub fn path(&self) -> DatabasePath<'_> {
        DatabasePath {
            org: &self.org,
            tenant: &self.tenant,
            instance: &self.instance,
            database: &self.database,
        }
    }
}

/// Why the database cannot be acted on yet.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseProblem {
    /// Not there or not Ready yet: the words say which.
    Waiting(String),
    /// Its instance's credentials cannot be used.
    Credentials(String),
}

/// The AuraDatabase `name` of `namespace`, as a target.
pub async fn resolve(
    databases: &dyn DatabaseView,
    instances: &dyn InstanceView,
    namespace: &str,
    name: &str,
) -> Result<std::result::Result<DatabaseTarget, DatabaseProblem>> {
    let waiting = |why: String| Ok(Err(DatabaseProblem::Waiting(why)));
    let Some(db) = databases.find(namespace, name) else {
        return waiting(format!(
            "AuraDatabase {name} does not exist in this namespace"
        ));
    };
    let status = db.status.clone().unwrap_or_default();
    let ready = crate::reconciler::status::is_true(&status.conditions, "Ready");
    let (Some(database), Some(org), Some(recorded), true) = (
        status.database_id,
        status.organization_id,
        status.instance_id,
        ready,
    ) else {
        return waiting(format!("AuraDatabase {name} is not Ready yet"));
    };
    let instance_name = &db.spec.instance_ref.name;
    let target = match target::resolve(instances, namespace, instance_name).await? {
        Ok(t) => t,
        Err(p @ TargetProblem::Credentials(_)) => {
            return Ok(Err(DatabaseProblem::Credentials(p.message())));
        }
        Err(p) => return waiting(p.message()),
    };
    // The instance the database was made in must still be the one held.
    if target.instance_id.as_str() != recorded {
        return waiting(format!(
            "AuraInstance {instance_name} no longer holds instance {recorded}, where AuraDatabase {name} is"
        ));
    }
    let Some(tenant) = target
        .object
        .status
        .as_ref()
        .and_then(|s| s.tenant_id.clone())
    else {
        return waiting(format!("AuraInstance {instance_name} has no tenant yet"));
    };
    Ok(Ok(DatabaseTarget {
        aura: target.aura,
        org,
        tenant,
        instance: recorded,
        database,
    }))
}
