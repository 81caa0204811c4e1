use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::enums::{AuraVersion, CdcMode, CloudProvider, InstanceType, MemorySize};
use super::refs::{LocalRef, ProjectRef, SecretRef};

/// The finalizer that holds an AuraInstance until its Aura instance is gone (or orphaned).
pub const FINALIZER: &str = "aura-operator.io/finalizer";

/// A Neo4j Aura database, declared. The operator creates it through the Aura API,
/// waits until it runs and writes its connection details into a Secret.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1beta1",
    kind = "AuraInstance",
    namespaced,
    status = "AuraInstanceStatus",
    shortname = "aura",
    category = "all",
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Instance ID", type_ = "string", json_path = ".status.instanceId"),
    printcolumn(name = "Memory", type_ = "string", json_path = ".spec.memory"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.connectionUrl"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("has(self.spec.name) || size(self.metadata.name) <= 30")
        .message("metadata.name is longer than 30 characters, the limit of an Aura instance name: set spec.name (1-30 characters)")
        .reason(Reason::FieldValueInvalid)
        .field_path(".spec.name"),
)]
#[x_kube(
    validation = Rule::new("!has(oldSelf.tenantId) || (has(self.tenantId) && self.tenantId == oldSelf.tenantId)")
        .message("tenantId is immutable once set")
        .reason(Reason::FieldValueForbidden)
        .field_path(".tenantId"),
    validation = Rule::new("!has(oldSelf.instanceId) || (has(self.instanceId) && self.instanceId == oldSelf.instanceId)")
        .message("instanceId is immutable once set")
        .reason(Reason::FieldValueForbidden)
        .field_path(".instanceId"),
    validation = Rule::new("!has(self.instanceId) || has(self.deletionPolicy)")
        .message("instanceId needs an explicit deletionPolicy: Orphan keeps the adopted instance when this object is deleted, Delete destroys it")
        .reason(Reason::FieldValueRequired)
        .field_path(".deletionPolicy"),
    validation = Rule::new("!has(self.adoption) || self.adoption != 'AdoptOrCreate' || has(self.deletionPolicy)")
        .message("adoption: AdoptOrCreate needs an explicit deletionPolicy: the instance it adopts may not be one this manifest made (Orphan keeps it when this object is deleted, Delete destroys it)")
        .reason(Reason::FieldValueRequired)
        .field_path(".deletionPolicy"),
    validation = Rule::new("!(has(self.projectRef) && has(self.credentialsSecretRef))")
        .message("set at most one of projectRef and credentialsSecretRef")
        .reason(Reason::FieldValueForbidden)
        .field_path(".projectRef"),
    validation = Rule::new("!has(self.managementPolicy) || self.managementPolicy != 'ObserveOnly' || has(self.instanceId)")
        .message("managementPolicy ObserveOnly needs instanceId: it observes an existing instance and never creates one")
        .reason(Reason::FieldValueRequired)
        .field_path(".instanceId"),
    validation = Rule::new("has(self.customerManagedKeyId) == has(oldSelf.customerManagedKeyId) && (!has(self.customerManagedKeyId) || self.customerManagedKeyId == oldSelf.customerManagedKeyId)")
        .message("customerManagedKeyId is create-only: it cannot be set, changed or removed after the object is created")
        .reason(Reason::FieldValueForbidden)
        .field_path(".customerManagedKeyId"),
    validation = Rule::new("has(self.customerManagedKeyRef) == has(oldSelf.customerManagedKeyRef) && (!has(self.customerManagedKeyRef) || self.customerManagedKeyRef == oldSelf.customerManagedKeyRef)")
        .message("customerManagedKeyRef is create-only: it cannot be set, changed or removed after the object is created")
        .reason(Reason::FieldValueForbidden)
        .field_path(".customerManagedKeyRef"),
    validation = Rule::new("!(has(self.customerManagedKeyRef) && has(self.customerManagedKeyId))")
        .message("set at most one of customerManagedKeyRef and customerManagedKeyId")
        .reason(Reason::FieldValueForbidden)
        .field_path(".customerManagedKeyRef"),
    validation = Rule::new("has(self.source) == has(oldSelf.source) && (!has(self.source) || self.source == oldSelf.source)")
        .message("source is create-only: it cannot be set, changed or removed after the object is created")
        .reason(Reason::FieldValueForbidden)
        .field_path(".source"),
    validation = Rule::new("!(has(self.source) && has(self.instanceId))")
        .message("source clones into a new instance; it cannot be combined with instanceId, which adopts an existing one")
        .reason(Reason::FieldValueForbidden)
        .field_path(".source"),
    validation = Rule::new("(has(self.multiDatabase) && self.multiDatabase) == (has(oldSelf.multiDatabase) && oldSelf.multiDatabase)")
        .message("multiDatabase is create-only: Aura fixes it when the instance is created")
        .reason(Reason::FieldValueForbidden)
        .field_path(".multiDatabase"),
    validation = Rule::new(format!("!has(self.multiDatabase) || !self.multiDatabase || {}", type_in("self.type", |t| t.offers_multi_database())))
        .message("multiDatabase is offered for business-critical and enterprise-db (Virtual Dedicated Cloud) instances only")
        .reason(Reason::FieldValueForbidden)
        .field_path(".multiDatabase"),
    validation = Rule::new("!has(self.multiDatabase) || !self.multiDatabase || (!has(self.customerManagedKeyId) && !has(self.customerManagedKeyRef) && !has(self.source) && !has(self.storage) && (!has(self.version) || self.version == '5'))")
        .message("a multiDatabase instance is created through Aura API v2beta1, which takes no customer managed key, source, storage or version 4 (it would ignore them): remove them")
        .reason(Reason::FieldValueForbidden)
        .field_path(".multiDatabase"),
    validation = Rule::new(format!("!({}) || !has(self.storage)", type_in("self.type", |t| t == InstanceType::FreeDb)))
        .message("storage cannot be set for a free-db instance: Aura sizes free instances itself and does not report their storage")
        .reason(Reason::FieldValueForbidden)
        .field_path(".storage"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraInstanceSpec {
    /// Display name of the Aura instance, 1 to 30 characters. Defaults to metadata.name
    /// (which must then be at most 30 characters). Editing it renames the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 30))]
    pub name: Option<String>,

    /// Aura tenant (called "project" in the console) to create the instance in, a
    /// UUID. May be omitted when the credentials see exactly one tenant. Immutable
    /// once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub tenant_id: Option<String>,

    /// Id of an existing Aura instance to adopt instead of creating one (8 hex
    /// characters). Its provider, region and type must match this spec. The
    /// operator cannot know its password: write it into the connection Secret's
    /// NEO4J_PASSWORD key. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 8, max = 8), regex(pattern = r"^[0-9a-f]{8}$"))]
    pub instance_id: Option<String>,

    /// Cloud provider hosting the instance: gcp, aws or azure. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("cloudProvider is immutable").reason(Reason::FieldValueForbidden))]
    pub cloud_provider: CloudProvider,

    /// Cloud region, for example europe-west1 or us-east-1; the tenant's instance
    /// configurations list the regions offered. Immutable.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable").reason(Reason::FieldValueForbidden))]
    pub region: String,

    /// Aura instance type, under its Aura API v1 name or its tier name (what
    /// Aura's console and CLI say): enterprise-db or virtual-dedicated-cloud,
    /// business-critical, professional-db or professional, free-db or free.
    /// professional-ds and enterprise-ds (AuraDS, no longer offered by Aura)
    /// are admitted with a warning. Immutable, except the upgrade from
    /// professional-db to business-critical; the other name of the same type
    /// is no change.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new(type_change_rule()).message("type is immutable, except the upgrade from professional-db to business-critical").reason(Reason::FieldValueForbidden))]
    pub instance_type: InstanceType,

    /// Neo4j major version, "4" or "5" (5 is the latest calendar version).
    /// Optional: without it the create asks for the newest version the
    /// tenant offers for this type, place and memory, as Aura's own tools
    /// do. Sent when given. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("version is immutable").reason(Reason::FieldValueForbidden))]
    pub version: Option<AuraVersion>,

    /// Memory size, for example 8GB. Editing it resizes the instance.
    pub memory: MemorySize,

    /// Storage size, for example 16GB. Optional: Aura picks the size that goes with the
    /// memory. Not allowed for free-db.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 8), regex(pattern = r"^[1-9][0-9]*GB$"))]
    pub storage: Option<String>,

    /// Turns on Aura's vector optimisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_optimized: Option<bool>,

    /// Turns on the Graph Analytics plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_analytics_plugin: Option<bool>,

    /// Creates the instance with room for several databases (its databases
    /// are AuraDatabase objects). business-critical and enterprise-db
    /// (Virtual Dedicated Cloud) only, Neo4j 5, and not with
    /// customerManagedKeyId, customerManagedKeyRef, source or storage: the
    /// instance is created through Aura API v2beta1, which has none of those
    /// and ignores what it does not know. Create-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multi_database: bool,

    /// true pauses the instance, false resumes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,

    /// What deleting this object does to the Aura instance: Delete destroys it (and then
    /// the connection Secret); Orphan leaves it and the Secret in place. Default Delete;
    /// required with instanceId, so that adopting never destroys by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Secret in this namespace holding the Aura API credentials under the keys clientId
    /// and clientSecret: the simple form. At most one of this and projectRef; naming
    /// neither uses the ClusterAuraProject named "default".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// The project whose credentials this instance uses: an AuraProject in this
    /// namespace (kind defaults to AuraProject) or a ClusterAuraProject that allows
    /// this namespace. tenantId defaults to the project's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ref: Option<ProjectRef>,

    /// The Secret the connection details are written to: its name, the shape of
    /// its keys (format), extra templated keys, and labels and annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret: Option<ConnectionSecret>,

    /// Full (default): the operator creates, changes, pauses and deletes the
    /// instance as this spec says. ObserveOnly (needs instanceId): it only
    /// reads the instance, reports it in status and reports where it differs
    /// from this spec (the Drifted condition), and never makes a mutating
    /// Aura call; deleting the object never destroys the instance. Changing it
    /// to Full starts converging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,

    /// Read replicas (Virtual Dedicated Cloud). Aura ignores it at create, so
    /// it is set by a PATCH once the instance runs, and put back when changed
    /// outside the operator. A type that does not allow it stalls with Aura's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 64))]
    pub secondaries_count: Option<u32>,

    /// Change-data-capture enrichment mode: Off, Diff or Full. Set by a PATCH
    /// once the instance runs (Aura ignores it at create) and put back when
    /// changed outside the operator. A type that does not allow it stalls
    /// with Aura's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdc_enrichment_mode: Option<CdcMode>,

    /// Id of a customer managed encryption key (Virtual Dedicated Cloud,
    /// AuraDS Enterprise), sent with the create. Create-only: it cannot be
    /// set, changed or removed afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub customer_managed_key_id: Option<String>,

    /// An AuraCustomerManagedKey of this namespace whose Aura key the create
    /// uses (instead of customerManagedKeyId, at most one of the two). The
    /// create waits until the key is Ready, and stalls when its provider,
    /// region or type does not fit this instance. Create-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_managed_key_ref: Option<LocalRef>,

    /// Check the connection Secret's username and password against the database
    /// itself (Neo4j's Query API, RETURN 1) once the instance runs, whenever the
    /// Secret changes, and on a slow timer; the result is the CredentialsVerified
    /// condition, which never changes Ready. Not an Aura API call. Default true;
    /// the operator flag --verify-credentials=false turns it off everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_credentials: Option<bool>,

    /// What to do when a create's answer was lost; see PasswordRecovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_recovery: Option<PasswordRecovery>,

    /// Whether a create may adopt an instance that already exists; see
    /// Adoption. Consulted only while the object has no instance yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption: Option<Adoption>,

    /// Create the instance as a clone: from another instance's current data,
    /// or from one of its snapshots (which must be exportable). Create-only:
    /// it cannot be set, changed or removed afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<InstanceSource>,

    /// true: deleting this object is refused at admission (by the
    /// ValidatingAdmissionPolicy the chart and deploy/ install), and should it
    /// be deleted anyway the operator never destroys the instance: it orphans
    /// it and keeps the connection Secret, whatever deletionPolicy says, with a
    /// Warning event ProtectedInstanceOrphaned; passwordRecovery never
    /// destroys it either. With the policy installed, a protected object also
    /// holds its namespace in Terminating until protection is lifted. Set it to
    /// false, then delete: deletionPolicy applies again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,

    /// Snapshots on a schedule, and before changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<SnapshotPolicy>,

    /// Rotates the admin password (of the user in the connection Secret) on
    /// a schedule; the annotation aura-operator.io/rotate set to a new value
    /// rotates it now. There is one admin user, so the password changes in
    /// place: applications still logging in with the admin login break at a
    /// rotation until they read the Secret again (give them an
    /// AuraDatabaseUser instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_rotation: Option<AdminPasswordRotation>,
}

/// When the admin password rotates.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPasswordRotation {
    /// A cron expression in UTC, five fields or six with seconds first, at
    /// most hourly, for example "0 4 1 * *".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 9, max = 128),
        regex(pattern = r"^\s*([0-9]{1,2}\s+)?[0-9]{1,2}\s+\S+\s+\S+\s+\S+\s+\S+\s*$")
    )]
    pub schedule: Option<String>,
}

/// The instance a clone's data comes from: exactly one of instanceRef and
/// instanceId, and optionally one of its snapshots (snapshotRef or snapshotId).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.instanceRef) != has(self.instanceId)")
        .message("source needs exactly one of instanceRef and instanceId")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("!(has(self.snapshotRef) && has(self.snapshotId))")
        .message("set at most one of snapshotRef and snapshotId")
        .reason(Reason::FieldValueForbidden)
        .field_path(".snapshotId"),
)]
pub struct InstanceSource {
    /// An AuraInstance in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_ref: Option<LocalRef>,
    /// An Aura instance id (8 hex characters) the same credentials can see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 8, max = 8), regex(pattern = r"^[0-9a-f]{8}$"))]
    pub instance_id: Option<String>,
    /// An AuraSnapshot (in this namespace) of that instance, Completed and exportable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ref: Option<LocalRef>,
    /// An Aura snapshot id of that instance (must be exportable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub snapshot_id: Option<String>,
}

/// Snapshots taken for an instance as AuraSnapshot objects, labelled
/// aura-operator.io/instance: <name> and owned by the AuraInstance.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotPolicy {
    /// A cron expression in UTC, five fields (minute hour day month weekday)
    /// or six with seconds first, for example "0 3 * * *", at most hourly:
    /// the minute (and second) field is one number. A slot missed while the
    /// operator was down is taken once at start, not once per slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 9, max = 128),
        regex(pattern = r"^\s*([0-9]{1,2}\s+)?[0-9]{1,2}\s+\S+\s+\S+\s+\S+\s+\S+\s*$")
    )]
    pub schedule: Option<String>,
    /// How many scheduled AuraSnapshot objects to keep; older ones are
    /// deleted (the objects only: Aura keeps its snapshots for its own
    /// retention period). Default: keep all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub keep: Option<u32>,
    /// Take a snapshot, and wait until it is Completed, before a resize, an
    /// upgrade or an AuraRestore of this instance.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub before_changes: bool,
}

/// The snapshot an AuraInstance last took (scheduled or before a change).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastSnapshot {
    /// The AuraSnapshot object.
    pub name: String,
    /// When it was taken (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
}

/// What to do when a create's answer was lost, so that the instance found
/// afterwards has a password nobody knows (Aura returns it only in that
/// answer). Recreate (default): while that instance is new and empty
/// (found by this object's own lost create, never Ready), destroy it, wait
/// until Aura reports it gone, and create again, at most 3 times. Manual:
/// stall with reason PasswordUnavailable until a person writes the
/// password into the Secret. Never applies to an instance adopted through
/// instanceId; a protected object (deletionProtection) stalls as with Manual.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PasswordRecovery {
    /// Destroy the new, empty instance whose password was lost and create again.
    #[default]
    Recreate,
    /// Stall until a person writes the password into the connection Secret.
    Manual,
}

/// Whether a create first looks for an instance to adopt: for rebuilding a
/// management cluster from Git, or blue/green management clusters, where
/// the manifests come back without their status. CreateOnly (default):
/// always create. AdoptOrCreate: before creating, look in the tenant for
/// instances of the same Aura name, type, cloudProvider and region that no
/// AuraInstance in this cluster holds: exactly one is adopted (claimed, no
/// create, never re-created by passwordRecovery), none is created, more
/// than one stalls with reason AdoptionAmbiguous and lists their ids. The
/// risk: an instance of that name made by somebody else is adopted. Needs
/// an explicit deletionPolicy.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Adoption {
    /// Always create; never adopt an instance this object did not make.
    #[default]
    CreateOnly,
    /// Adopt the one unheld instance of the same name, type and place, else create.
    AdoptOrCreate,
}

/// How many times one object destroys and re-creates a password-less instance.
pub const MAX_RECREATIONS: i32 = 3;

/// CEL: `expr` is one of the spellings of the types `pick` takes.
fn type_in(expr: &str, pick: impl Fn(InstanceType) -> bool) -> String {
    let words: Vec<String> = InstanceType::ALL
        .iter()
        .filter(|t| pick(**t))
        .flat_map(|t| t.spellings())
        .map(|w| format!("'{w}'"))
        .collect();
    format!("{expr} in [{}]", words.join(", "))
}

/// CEL on `type`: unchanged, the same type under its other name, or the
/// one upgrade Aura makes in place.
fn type_change_rule() -> String {
    let mut allowed = vec!["self == oldSelf".to_string()];
    for &from in InstanceType::ALL {
        for &to in InstanceType::ALL {
            if (from == to && from.spellings().len() > 1) || from.upgrades_to(to) {
                allowed.push(format!(
                    "({} && {})",
                    type_in("oldSelf", |t| t == from),
                    type_in("self", |t| t == to)
                ));
            }
        }
    }
    allowed.join(" || ")
}

/// The connection Secret. Every key the operator writes is its own: a key no
/// longer wanted (after a format or template change) is removed, and the
/// password is carried over, never blanked.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.extraKeys) || self.extraKeys.all(k, !(k in (has(self.format) && self.format == 'ServiceBinding' ? ['type', 'provider', 'uri', 'host', 'port', 'username', 'password', 'database'] : ['NEO4J_URI', 'NEO4J_USERNAME', 'NEO4J_PASSWORD', 'NEO4J_DATABASE', 'AURA_INSTANCEID', 'AURA_INSTANCENAME', 'SPRING_NEO4J_URI', 'SPRING_NEO4J_AUTHENTICATION_USERNAME', 'SPRING_NEO4J_AUTHENTICATION_PASSWORD', 'SPRING_DATA_NEO4J_DATABASE'])))")
        .message("extraKeys cannot replace a key the format writes (for format Aura and SpringBoot: NEO4J_*, AURA_INSTANCEID, AURA_INSTANCENAME and SPRING_*; for ServiceBinding: type, provider, uri, host, port, username, password, database)")
        .reason(Reason::FieldValueForbidden)
        .field_path(".extraKeys"),
    validation = Rule::new("!has(self.extraKeys) || self.extraKeys.all(k, size(k) <= 253 && k.matches('^[-._a-zA-Z0-9]+$'))")
        .message("extraKeys names must be valid Secret keys: 1 to 253 characters of letters, digits, '-', '_' and '.'")
        .reason(Reason::FieldValueInvalid)
        .field_path(".extraKeys"),
    validation = Rule::new("!has(self.labels) || self.labels.all(k, size(k) <= 317 && k.matches('^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))")
        .message("labels keys must be label keys: an optional DNS-subdomain prefix and '/', then 1 to 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
        .reason(Reason::FieldValueInvalid)
        .field_path(".labels"),
    validation = Rule::new("!has(self.labels) || self.labels.all(k, self.labels[k].matches('^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$'))")
        .message("labels values must be label values: at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit (or empty)")
        .reason(Reason::FieldValueInvalid)
        .field_path(".labels"),
    validation = Rule::new("!has(self.annotations) || self.annotations.all(k, size(k) <= 317 && k.matches('^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))")
        .message("annotations keys must be annotation keys: an optional DNS-subdomain prefix and '/', then 1 to 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
        .reason(Reason::FieldValueInvalid)
        .field_path(".annotations"),
)]
pub struct ConnectionSecret {
    /// Name of the Secret in this namespace. Default <metadata.name>-connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: Option<String>,

    /// The shape of the Secret's keys; see SecretFormat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<SecretFormat>,

    /// More keys (at most 64, each template at most 4096 characters), each a
    /// template (Jinja syntax) over uri, host, username,
    /// password, database, instanceId and instanceName, for example
    /// DATABASE_URL: "{{ uri }}" or "neo4j+s://{{ username }}:{{ password | urlencode }}@{{ host }}".
    /// A template that does not render stalls the object with reason
    /// InvalidTemplate; the Secret is then left as it was.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 64,
        "additionalProperties" = {"type": "string", "maxLength": 4096}
    ))]
    pub extra_keys: BTreeMap<String, String>,

    /// Labels copied onto the Secret (at most 32, each a valid label key and
    /// value). GitOps tracking labels (app.kubernetes.io/instance,
    /// argocd.argoproj.io/*) and the operator's own are never copied.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 32,
        "additionalProperties" = {"type": "string", "maxLength": 63}
    ))]
    pub labels: BTreeMap<String, String>,

    /// Annotations copied onto the Secret (at most 32, each value at most
    /// 4096 characters; GitOps tracking ones excepted, as for labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 32,
        "additionalProperties" = {"type": "string", "maxLength": 4096}
    ))]
    pub annotations: BTreeMap<String, String>,
}

/// The keys the Secret carries. Aura (default): NEO4J_URI, NEO4J_USERNAME,
/// NEO4J_PASSWORD, NEO4J_DATABASE, AURA_INSTANCEID, AURA_INSTANCENAME.
/// SpringBoot: those, plus SPRING_NEO4J_URI, SPRING_NEO4J_AUTHENTICATION_USERNAME,
/// SPRING_NEO4J_AUTHENTICATION_PASSWORD and SPRING_DATA_NEO4J_DATABASE.
/// ServiceBinding: only the servicebinding.io keys type (neo4j), provider
/// (aura), uri, host, port (7687), username, password and database, in a
/// Secret of type servicebinding.io/neo4j. Changing it rewrites the Secret
/// (a change of Secret type replaces it; the password is kept meanwhile in a
/// Secret named <name>.format-change).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SecretFormat {
    /// The keys of Aura's credentials file.
    #[default]
    Aura,
    /// Aura's keys plus Spring Boot's SPRING_NEO4J_* and SPRING_DATA_NEO4J_DATABASE.
    SpringBoot,
    /// The servicebinding.io keys only, Secret type servicebinding.io/neo4j.
    ServiceBinding,
}

/// Whether the operator manages the instance or only observes it.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, change, pause and delete as the spec says.
    #[default]
    Full,
    /// Read only: status and drift are reported, no mutating Aura call is
    /// made, and deleting the object never destroys the instance.
    ObserveOnly,
}

/// What happens to the Aura instance when the AuraInstance is deleted.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Destroy the Aura instance; remove the connection Secret once Aura confirms it is gone.
    #[default]
    Delete,
    /// Keep the Aura instance and the connection Secret (the Secret loses its owner reference).
    Orphan,
}

/// Observed state, written by the operator only.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraInstanceStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One word summary: Pending, Creating, Running, Paused, Updating, Deleting or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Id of the Aura instance (8 hex characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Tenant the instance lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Bolt URL of the instance, for example neo4j+s://8f769515.databases.neo4j.io.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_url: Option<String>,
    /// The raw status Aura reports (creating, running, paused, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aura_status: Option<String>,
    /// Memory size Aura reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// When the operator decided to create the instance (RFC 3339). Recorded before the
    /// create call so that a create whose answer was lost is found again, not repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// The Aura name used for that create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_name: Option<String>,
    /// Ids of instances with that name that existed before the create: the
    /// search for a create whose answer was lost never takes one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_prior_ids: Vec<String>,
    /// The instance found by the search after a lost create answer, while it
    /// has not been Ready: its password is unknown, and passwordRecovery may
    /// re-create it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_create_instance_id: Option<String>,
    /// When this object adopted an existing instance through adoption:
    /// AdoptOrCreate (RFC 3339). Such an instance is never re-created by
    /// passwordRecovery, and an AuraRestore applied before it (or with it)
    /// waits for a confirmation instead of running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_at: Option<String>,
    /// How many password-less instances this object destroyed and created again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreations: Option<i32>,
    /// The password-less instance being destroyed to be created again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreating_instance_id: Option<String>,
    /// The Aura display name Aura reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aura_name: Option<String>,
    /// Cloud provider, region and type as Aura reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// The type's tier name (free, professional, business-critical or
    /// virtual-dedicated-cloud: the names Aura's console, CLI and API v2
    /// use) for the type Aura reports; absent for AuraDS types, which have
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Storage size Aura reports (not reported for free instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Features as Aura reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_optimized: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_analytics_plugin: Option<bool>,
    /// When Aura created the instance (as Aura reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Read replicas, as Aura reports them (VDC only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondaries_count: Option<u64>,
    /// The CDC enrichment mode Aura reports (OFF, DIFF or FULL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdc_enrichment_mode: Option<String>,
    /// The metrics integration endpoint Aura reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_integration_url: Option<String>,
    /// The customer managed key Aura reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_managed_key_id: Option<String>,
    /// The snapshot this instance last took (scheduled, or before a change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_snapshot: Option<LastSnapshot>,
    /// The AuraIPFilters of this namespace that name this instance (Aura
    /// applies one filter per instance; each filter's status says whether it
    /// is ACTIVE here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_filters: Vec<String>,
    /// When the database last accepted the connection Secret's username and
    /// password (RFC 3339); see the CredentialsVerified condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_verified_at: Option<String>,
    /// When the operator last rotated the admin password (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_changed_at: Option<String>,
    /// The value of the aura-operator.io/rotate annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_rotate_requested: Option<String>,
    /// Ready, Reconciling and Stalled, with kstatus semantics; and
    /// CredentialsVerified: True when the database accepted the Secret's
    /// credentials, False (AuthenticationFailed) when it refused them, Unknown
    /// (Unreachable) when it could not be asked. It never changes Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The phase shown by `kubectl get aura`.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    Pending,
    Creating,
    Running,
    Paused,
    Updating,
    Deleting,
    Failed,
}

impl AuraInstanceSpec {
    /// `managementPolicy`, defaulted.
    pub fn policy(&self) -> ManagementPolicy {
        self.management_policy.unwrap_or_default()
    }

    /// The connection Secret's format.
    pub fn secret_format(&self) -> SecretFormat {
        self.connection_secret
            .as_ref()
            .and_then(|c| c.format)
            .unwrap_or_default()
    }

    /// The extra keys' templates.
    pub fn extra_keys(&self) -> Option<&BTreeMap<String, String>> {
        self.connection_secret
            .as_ref()
            .map(|c| &c.extra_keys)
            .filter(|e| !e.is_empty())
    }

    /// `deletionProtection`, defaulted (off).
    pub fn protected(&self) -> bool {
        self.deletion_protection.unwrap_or(false)
    }

    /// `snapshots.beforeChanges`.
    pub fn snapshot_before_changes(&self) -> bool {
        self.snapshots.as_ref().is_some_and(|s| s.before_changes)
    }

    /// `deletionPolicy`, defaulted in code (not in the schema, so that CEL can
    /// tell an explicit one from none).
    pub fn deletion(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or_default()
    }
}

impl AuraInstance {
    /// The Aura display name: spec.name, else metadata.name.
    pub fn aura_name(&self) -> String {
        self.spec
            .name
            .clone()
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }

    /// The connection Secret's name.
    pub fn connection_secret_name(&self) -> String {
        match self
            .spec
            .connection_secret
            .as_ref()
            .and_then(|c| c.name.as_ref())
        {
            Some(name) => name.clone(),
            None => format!(
                "{}-connection",
                self.metadata.name.as_deref().unwrap_or_default()
            ),
        }
    }

    /// The connection Secret's format.
    pub fn secret_format(&self) -> SecretFormat {
        self.spec.secret_format()
    }

    /// Whether the object carries `aura-operator.io/reconcile: disabled`.
    pub fn reconcile_disabled(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(RECONCILE_ANNOTATION))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("disabled"))
    }
}

/// The annotation that stops every Aura call for one AuraInstance.
pub const RECONCILE_ANNOTATION: &str = "aura-operator.io/reconcile";
