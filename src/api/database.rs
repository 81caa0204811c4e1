//! AuraDatabase: a database inside a multi-database AuraInstance (Aura API
//! v2beta1), with a connection Secret that names it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::refs::LocalRef;
use super::{ConnectionSecret, DeletionPolicy};

/// The finalizer of an AuraDatabase: held until the database is deleted in
/// Aura (or orphaned).
pub const DATABASE_FINALIZER: &str = "aura-operator.io/database";

/// The label on an AuraDatabase's connection Secret: the object's name.
pub const DATABASE_LABEL: &str = "aura-operator.io/auradatabase";

/// A database inside a multi-database AuraInstance of this namespace
/// (spec.multiDatabase: true). Ready when Aura lists it; its connection
/// Secret carries the instance's URI and admin login with the database
/// named. An instance of one database answers multi-db-only: Stalled
/// NotMultiDatabase.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraDatabase",
    namespaced,
    status = "AuraDatabaseStatus",
    shortname = "auradb",
    category = "all",
    printcolumn(
        name = "Instance",
        type_ = "string",
        json_path = ".spec.instanceRef.name"
    ),
    printcolumn(name = "Database", type_ = "string", json_path = ".spec.name"),
    printcolumn(name = "Id", type_ = "string", json_path = ".status.databaseId"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseSpec {
    /// The multi-database AuraInstance of this namespace that holds the
    /// database. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("instanceRef is immutable").reason(Reason::FieldValueForbidden))]
    pub instance_ref: LocalRef,

    /// The database's name: 3 to 63 characters, lowercase letters, digits,
    /// dots and dashes, starting with a letter; not system or neo4j (the
    /// instance's own). Immutable.
    #[schemars(length(min = 3, max = 63), regex(pattern = r"^[a-z][a-z0-9.-]*$"))]
    #[x_kube(
        validation = Rule::new("self != 'system' && self != 'neo4j'").message("system and neo4j are the instance's own databases").reason(Reason::FieldValueForbidden),
        validation = Rule::new("self == oldSelf").message("name is immutable").reason(Reason::FieldValueForbidden),
    )]
    pub name: String,

    /// What deleting this object does to the database and its data. Delete
    /// (default): deletes it in Aura. Orphan: leaves it. A database of that
    /// name that exists before the object is taken over only when this is
    /// set explicitly (else Stalled DatabaseExists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// An AuraDatabaseUser of this namespace (whose spec.database is this
    /// database's name) whose login the connection Secret carries; without
    /// it, the instance's admin login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<LocalRef>,

    /// The connection Secret, as an AuraInstance's: its name (default
    /// <metadata.name>-database), format, extra keys, labels and annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret: Option<ConnectionSecret>,
}

/// What the operator knows of the database.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseStatus {
    /// The database's id in Aura.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_id: Option<String>,
    /// The Aura instance that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The Aura organization of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// When the operator sent a create whose answer it has not seen: a
    /// database of the name found later is this object's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// Whether this object created the database (or was told to take it
    /// over with an explicit deletionPolicy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub owned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (Aura lists the database and its Secret is written),
    /// Reconciling and Stalled, with kstatus semantics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl AuraDatabase {
    /// What deleting the object does to the database (default Delete).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or(DeletionPolicy::Delete)
    }

    /// The connection Secret's name.
    pub fn secret_name(&self) -> String {
        let named = self.spec.connection_secret.as_ref();
        named.and_then(|c| c.name.clone()).unwrap_or_else(|| {
            format!(
                "{}-database",
                self.metadata.name.as_deref().unwrap_or_default()
            )
        })
    }
}

/// The finalizer name of AuraDatabaseBackup and AuraDatabaseRestore, which
/// hold none: removing the object removes nothing in Aura (it has no delete
/// for either).
pub const DATABASE_OPERATION_FINALIZER: &str = "aura-operator.io/database-operation";

/// A backup of an AuraDatabase of this namespace, taken once. Ready when
/// Aura reports it Completed; Failed stalls. Deleting the object leaves the
/// backup in Aura (it goes with its database).
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraDatabaseBackup",
    namespaced,
    status = "AuraDatabaseBackupStatus",
    shortname = "auradbb",
    category = "all",
    printcolumn(
        name = "Database",
        type_ = "string",
        json_path = ".spec.databaseRef.name"
    ),
    printcolumn(name = "Backup", type_ = "string", json_path = ".status.backupId"),
    printcolumn(
        name = "Aura status",
        type_ = "string",
        json_path = ".status.auraStatus"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseBackupSpec {
    /// The AuraDatabase of this namespace to back up. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("databaseRef is immutable").reason(Reason::FieldValueForbidden))]
    pub database_ref: LocalRef,
}

/// What the operator knows of the backup.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseBackupStatus {
    /// The backup's id in Aura.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// Pending, InProgress, Completed or Failed, as Aura reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aura_status: Option<String>,
    /// When Aura took it (as Aura reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
    /// When the operator sent a create whose answer it has not seen: a
    /// backup listed later, not among `createPriorIds`, is this object's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// The database's backups before that create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_prior_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (Completed), Reconciling and Stalled, with kstatus semantics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Overwrites an AuraDatabase of this namespace with one of its backups,
/// once. Aura gives no signal when a database restore ends: the object says
/// Submitted once Aura accepted it (Ready, with that reason), never that it
/// succeeded. A restore whose answer was lost is never sent again (Stalled
/// OutcomeUnknown): make a new object to run it again.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraDatabaseRestore",
    namespaced,
    status = "AuraDatabaseRestoreStatus",
    shortname = "auradbr",
    category = "all",
    printcolumn(
        name = "Database",
        type_ = "string",
        json_path = ".spec.databaseRef.name"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self == oldSelf")
        .message("an AuraDatabaseRestore runs once: its spec is immutable; make a new one")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("has(self.backupRef) != has(self.backupId)")
        .message("set exactly one of backupRef and backupId")
        .reason(Reason::FieldValueInvalid),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseRestoreSpec {
    /// The AuraDatabase of this namespace whose data is overwritten.
    pub database_ref: LocalRef,
    /// An AuraDatabaseBackup of this namespace, of the same AuraDatabase,
    /// Completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_ref: Option<LocalRef>,
    /// A backup id of the same database in Aura.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub backup_id: Option<String>,
}

/// Where an AuraDatabaseRestore stands.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DatabaseRestorePhase {
    /// Not sent, or sent and its answer not seen yet.
    Pending,
    /// Aura accepted it; it gives no signal when a database restore ends.
    Submitted,
    /// Refused, or sent with its answer lost: never sent again.
    Failed,
}

/// What the operator knows of the restore.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseRestoreStatus {
    /// Pending, Submitted (Aura accepted it; it gives no signal when it
    /// ends) or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DatabaseRestorePhase>,
    /// The backup restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// When the operator sent the restore (written before the call): a
    /// restore is never sent twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
    /// When Aura accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (Submitted), Reconciling and Stalled, with kstatus semantics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
