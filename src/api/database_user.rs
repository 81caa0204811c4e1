//! AuraDatabaseUser: one database login per application, made in an
//! AuraInstance's database by the operator (with the instance's admin login),
//! written into a connection Secret, and rotated without downtime by
//! alternating between two users.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::refs::LocalRef;
use super::{ConnectionSecret, DeletionPolicy, SecretFormat};

/// The finalizer of an AuraDatabaseUser: held until its users are dropped.
pub const DATABASE_USER_FINALIZER: &str = "aura-operator.io/database-user";

/// Set to a new value (any) to rotate now: on an AuraDatabaseUser its
/// password, on an AuraInstance the admin password.
pub const ROTATE_ANNOTATION: &str = "aura-operator.io/rotate";

/// The label on a connection Secret written for an AuraDatabaseUser: its name.
pub const DATABASE_USER_LABEL: &str = "aura-operator.io/auradatabaseuser";

/// The suffix of the second user a rotation alternates with.
pub const ALTERNATE_SUFFIX: &str = "_b";

/// A database user (a login of the Neo4j database of an AuraInstance in this
/// namespace), its password in a connection Secret. Rotation alternates two
/// users, <username> and <username>_b: the idle one gets a fresh password,
/// the Secret switches to it (username and password in one write), and the
/// previous login keeps working for gracePeriod before its password is
/// replaced by one nobody knows. Applications must read both the username and
/// the password from the Secret. Set the annotation aura-operator.io/rotate
/// to a new value to rotate now.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1alpha1",
    kind = "AuraDatabaseUser",
    namespaced,
    status = "AuraDatabaseUserStatus",
    shortname = "auradbuser",
    category = "all",
    printcolumn(
        name = "Instance",
        type_ = "string",
        json_path = ".spec.instanceRef.name"
    ),
    printcolumn(name = "Login", type_ = "string", json_path = ".status.username"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Rotated",
        type_ = "string",
        json_path = ".status.passwordChangedAt"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    validation = Rule::new("has(self.spec.username) || (size(self.metadata.name) <= 60 && self.metadata.name.matches('^[a-z][-a-z0-9]*$'))")
        .message("metadata.name does not make a database user name (a letter, then letters, digits and '-', at most 60): set spec.username")
        .reason(Reason::FieldValueInvalid)
        .field_path(".spec.username"),
)]
#[x_kube(
    validation = Rule::new("self.instanceRef == oldSelf.instanceRef")
        .message("instanceRef is immutable: a user lives in one instance's database")
        .reason(Reason::FieldValueForbidden)
        .field_path(".instanceRef"),
    validation = Rule::new("has(self.username) == has(oldSelf.username) && (!has(self.username) || self.username == oldSelf.username)")
        .message("username is immutable: delete the object and make a new one")
        .reason(Reason::FieldValueForbidden)
        .field_path(".username"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseUserSpec {
    /// The AuraInstance (in this namespace) whose database holds the user. Immutable.
    pub instance_ref: LocalRef,

    /// The database user's name: a letter, then letters, digits and '_' (at
    /// most 60). Default: metadata.name with '-' as '_'. Immutable. The
    /// rotation's second user is this name with "_b" appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 60), regex(pattern = r"^[A-Za-z][A-Za-z0-9_]*$"))]
    pub username: Option<String>,

    /// Roles granted to the user (built-in such as reader, editor, publisher,
    /// architect, or custom roles that exist). Only on tiers with role-based
    /// access control (business-critical, enterprise-db, virtual dedicated
    /// cloud); on the others every user has full rights and naming roles
    /// stalls the object with reason RolesNotSupported, without any call.
    /// Roles the user holds and this list does not name are revoked (PUBLIC stays).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[schemars(extend("items" = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z][A-Za-z0-9_]*$"}))]
    pub roles: Vec<String>,

    /// The database the Secret names (NEO4J_DATABASE). Default neo4j.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9][a-z0-9.-]*$"))]
    pub database: Option<String>,

    /// When the password rotates, and how long the previous login keeps working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,

    /// The Secret the login is written to, with the same shapes as an
    /// AuraInstance's connection Secret (format, extraKeys, labels,
    /// annotations). Default name: <metadata.name>-db. Owned by this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret: Option<ConnectionSecret>,

    /// What deleting this object does to the database users it made. Delete
    /// (default): drops them (a user adopted with adopt: true is kept).
    /// Orphan: keeps them and the Secret (which loses its owner reference).
    /// When the AuraInstance itself is gone or going, nothing is dropped
    /// (its database goes with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Take over a user of this name that exists in the database and was
    /// not made for this object (it gets a new password at once). Without
    /// it such a user stalls the object with reason UserExists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<bool>,
}

/// When a database user's password rotates.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// A cron expression in UTC, five fields (minute hour day month weekday)
    /// or six with seconds first, for example "0 3 1 * *", at most hourly.
    /// A slot missed while the operator was down rotates once at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 9, max = 128),
        regex(pattern = r"^\s*([0-9]{1,2}\s+)?[0-9]{1,2}\s+\S+\s+\S+\s+\S+\s+\S+\s*$")
    )]
    pub schedule: Option<String>,
    /// How long the previous login keeps working after a rotation, so that
    /// Pods that read the Secret at start have time to roll: hours, minutes
    /// and seconds such as 1h, 30m or 1h30m (at most 168h). Default 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 16),
        regex(pattern = r"^([0-9]{1,3}h)?([0-9]{1,4}m)?([0-9]{1,6}s)?$")
    )]
    pub grace_period: Option<String>,
}

/// Observed state, written by the operator only. No password is ever here.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraDatabaseUserStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The login the Secret holds now (<username> or <username>_b).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The database users this object made or adopted, recorded before the
    /// statement that makes one: only these are ever changed or dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Users adopted with adopt: true (kept when the object is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<String>,
    /// The Aura instance whose database holds the users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// When the Secret's login last got a new password (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<String>,
    /// When the schedule rotates next (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_at: Option<String>,
    /// How many rotations were made.
    #[serde(default)]
    pub rotations: u32,
    /// The value of the aura-operator.io/rotate annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_requested: Option<String>,
    /// The previous login, which works until `until` and then gets a
    /// password nobody knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring: Option<RetiringLogin>,
    /// Ready (the user exists, the Secret is written and its login was
    /// accepted), Reconciling and Stalled, with kstatus semantics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A login replaced by a rotation, still working for its grace period.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetiringLogin {
    pub username: String,
    /// RFC 3339.
    pub until: String,
}

impl AuraDatabaseUser {
    /// The database user's name: spec.username, else metadata.name with '-' as '_'.
    pub fn username(&self) -> String {
        self.spec.username.clone().unwrap_or_else(|| {
            self.metadata
                .name
                .clone()
                .unwrap_or_default()
                .replace('-', "_")
        })
    }

    /// The two users a rotation alternates between.
    pub fn usernames(&self) -> [String; 2] {
        let first = self.username();
        let second = format!("{first}{ALTERNATE_SUFFIX}");
        [first, second]
    }

    pub fn database(&self) -> &str {
        self.spec.database.as_deref().unwrap_or("neo4j")
    }

    pub fn secret_name(&self) -> String {
        self.spec
            .connection_secret
            .as_ref()
            .and_then(|c| c.name.clone())
            .unwrap_or_else(|| format!("{}-db", self.metadata.name.as_deref().unwrap_or_default()))
    }

    pub fn secret_format(&self) -> SecretFormat {
        self.spec
            .connection_secret
            .as_ref()
            .and_then(|c| c.format)
            .unwrap_or_default()
    }

    pub fn deletion(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or_default()
    }

    pub fn adopts(&self) -> bool {
        self.spec.adopt == Some(true)
    }

    /// The rotate annotation's value, if set.
    pub fn rotate_requested(&self) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(ROTATE_ANNOTATION)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}
