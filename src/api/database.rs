//! AuraDatabase: a database inside a multi-database AuraInstance (Aura API
//! v2beta1), with a connection Secret that names it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DeletionPolicy;
use super::refs::LocalRef;

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

    /// The connection Secret's name in this namespace. Default
    /// <metadata.name>-database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub connection_secret_name: Option<String>,
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
        self.spec.connection_secret_name.clone().unwrap_or_else(|| {
            format!(
                "{}-database",
                self.metadata.name.as_deref().unwrap_or_default()
            )
        })
    }
}
