//! AuraSnapshot (one on-demand snapshot of an AuraInstance) and AuraRestore
//! (one restore or overwrite, run once), and the references they share with
//! an AuraInstance's `spec.source`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SnapshotStatus;
use super::refs::LocalRef;

/// The finalizer of an AuraSnapshot and an AuraRestore: held while the
/// operator may still record what Aura answered.
pub const SNAPSHOT_FINALIZER: &str = "aura-operator.io/snapshot";
pub const RESTORE_FINALIZER: &str = "aura-operator.io/restore";

/// The label that ties a scheduled AuraSnapshot to its AuraInstance.
pub const INSTANCE_LABEL: &str = "aura-operator.io/instance";
/// The label that marks an AuraSnapshot made by `spec.snapshots.schedule`
/// (only those are pruned by `keep`).
pub const SCHEDULED_LABEL: &str = "aura-operator.io/scheduled";

/// One on-demand snapshot of an AuraInstance. The operator takes it once,
/// follows it until Aura reports Completed (Ready) or Failed (Stalled), and
/// reports its id. Deleting this object removes only the object: Aura has no
/// call to delete a snapshot and keeps it for its own retention period.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1beta1",
    kind = "AuraSnapshot",
    namespaced,
    status = "AuraSnapshotStatus",
    shortname = "aurasnap",
    category = "all",
    printcolumn(
        name = "Instance",
        type_ = "string",
        json_path = ".spec.instanceRef.name"
    ),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.auraStatus"),
    printcolumn(name = "Taken", type_ = "string", json_path = ".status.takenAt"),
    printcolumn(
        name = "Exportable",
        type_ = "boolean",
        json_path = ".status.exportable"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.instanceRef == oldSelf.instanceRef")
        .message("instanceRef is immutable: a snapshot is of one instance")
        .reason(Reason::FieldValueForbidden)
        .field_path(".instanceRef"),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraSnapshotSpec {
    /// The AuraInstance (in this namespace) to snapshot. Immutable.
    pub instance_ref: LocalRef,
}

/// Observed state of an AuraSnapshot, written by the operator only.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraSnapshotStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The Aura instance the snapshot is of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Aura's id of the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// When the operator decided to take the snapshot (RFC 3339). Recorded
    /// before the call, so that a call whose answer was lost is found again
    /// in that day's snapshots instead of being repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
    /// Ids of the instance's snapshots that existed before the call: the
    /// search after a lost answer never takes one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prior_snapshot_ids: Vec<String>,
    /// The status Aura reports: Pending, InProgress, Completed or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aura_status: Option<String>,
    /// Whether Aura reports the snapshot as exportable (a clone or an
    /// overwrite of another instance needs an exportable snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
    /// AdHoc or Scheduled, as Aura reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// When the snapshot was taken, as Aura reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// Ready (True when Completed), Reconciling and Stalled (when Failed or
    /// when the instance cannot be snapshotted), with kstatus semantics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Where a snapshot is, from the status word Aura gives it: the only three
/// things anything here decides on. An unknown word is still being taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotProgress {
    Taking,
    Completed,
    /// Failed or Cancelled.
    Failed,
}

impl SnapshotProgress {
    pub fn of(aura_status: Option<&str>) -> Self {
        match aura_status.and_then(SnapshotStatus::parse) {
            Some(SnapshotStatus::Completed) => Self::Completed,
            Some(SnapshotStatus::Failed | SnapshotStatus::Cancelled) => Self::Failed,
            Some(SnapshotStatus::Pending | SnapshotStatus::InProgress) | None => Self::Taking,
        }
    }
}

impl AuraSnapshotStatus {
    /// Where the snapshot is, as its status last recorded it.
    pub fn progress(&self) -> SnapshotProgress {
        SnapshotProgress::of(self.aura_status.as_deref())
    }
}

/// A snapshot by AuraSnapshot object or by Aura id, of the instance it goes with.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotChoice {
    /// An AuraSnapshot in this namespace (Completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ref: Option<LocalRef>,
    /// An Aura snapshot id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub snapshot_id: Option<String>,
}

/// Where an AuraRestore's data comes from: exactly one of snapshotRef,
/// snapshotId (a snapshot of the target itself) or instanceRef (another
/// instance's current data, or one of its snapshots with snapshotRef or
/// snapshotId beside it).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.instanceRef) || (has(self.snapshotRef) != has(self.snapshotId))")
        .message("source needs exactly one of snapshotRef, snapshotId or instanceRef (instanceRef may be combined with one of snapshotRef and snapshotId of that instance)")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("!(has(self.snapshotRef) && has(self.snapshotId))")
        .message("set at most one of snapshotRef and snapshotId")
        .reason(Reason::FieldValueForbidden)
        .field_path(".snapshotId"),
)]
pub struct RestoreSource {
    /// An AuraSnapshot in this namespace: of the target (a restore), or of
    /// the instance named by instanceRef (an overwrite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ref: Option<LocalRef>,
    /// An Aura snapshot id: of the target when alone, of instanceRef's instance beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub snapshot_id: Option<String>,
    /// Another AuraInstance in this namespace whose data replaces the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_ref: Option<LocalRef>,
}

/// One restore or overwrite of an AuraInstance's data, run once, like a Job.
/// A snapshot of the target itself is restored (POST .../snapshots/{id}/restore);
/// any other source overwrites the target (POST /instances/{id}/overwrite).
/// While it runs the target shows phase Updating and is not changed otherwise.
/// The spec is immutable: to run again, make a new object.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aura-operator.io",
    version = "v1beta1",
    kind = "AuraRestore",
    namespaced,
    status = "AuraRestoreStatus",
    shortname = "aurarestore",
    category = "all",
    printcolumn(
        name = "Target",
        type_ = "string",
        json_path = ".spec.instanceRef.name"
    ),
    printcolumn(name = "Source", type_ = "string", json_path = ".status.source"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self == oldSelf")
        .message("an AuraRestore's spec is immutable: it runs once; make a new AuraRestore to run again")
        .reason(Reason::FieldValueForbidden),
)]
#[serde(rename_all = "camelCase")]
pub struct AuraRestoreSpec {
    /// The AuraInstance (in this namespace) whose data is replaced.
    pub instance_ref: LocalRef,
    /// Where the data comes from.
    pub source: RestoreSource,
}

/// Where an AuraRestore is.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RestorePhase {
    /// Waiting: for the source snapshot to complete, for the target to be
    /// free of other operations, or for a snapshot taken before it (beforeChanges).
    Pending,
    /// Aura accepted the call and is restoring or overwriting.
    Running,
    /// The target runs again with the source's data.
    Succeeded,
    /// Aura refused it or it cannot be done; see the Stalled condition.
    Failed,
}

/// Observed state of an AuraRestore, written by the operator only.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuraRestoreStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Running, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// The target's Aura instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The source in words, for example "snapshot 5f3c... of 0a1b2c3d".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The Aura ids the call used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_snapshot_id: Option<String>,
    /// The AuraSnapshot taken first (the target's spec.snapshots.beforeChanges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_snapshot: Option<String>,
    /// When the operator made the restore or overwrite call (RFC 3339).
    /// Recorded with phase Running just before the call: the call is not
    /// idempotent, so a pass that finds Running follows the instance instead
    /// of calling again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When Aura accepted the call (RFC 3339); absent while Running when the
    /// call's answer was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    /// The target's status as Aura last reported it while Running (for
    /// example restoring or overwriting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aura_status: Option<String>,
    /// When the target ran again with the new data, or when it failed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// Ready (True when Succeeded), Reconciling and Stalled (when Failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_word_comes_to_three_things_in_any_case() {
        let rows = [
            (Some("Completed"), SnapshotProgress::Completed),
            (Some("COMPLETED"), SnapshotProgress::Completed),
            (Some("Failed"), SnapshotProgress::Failed),
            (Some("cancelled"), SnapshotProgress::Failed),
            (Some("InProgress"), SnapshotProgress::Taking),
            (Some("Pending"), SnapshotProgress::Taking),
            (Some("SomethingNew"), SnapshotProgress::Taking),
            (None, SnapshotProgress::Taking),
        ];
        for (word, want) in rows {
            assert_eq!(SnapshotProgress::of(word), want, "{word:?}");
        }
    }

    #[test]
    fn a_restore_source_reads_each_of_its_shapes() {
        let read = |v: serde_json::Value| serde_json::from_value::<RestoreSource>(v).unwrap();
        let own = read(serde_json::json!({"snapshotId": "s1"}));
        assert_eq!(own.snapshot_id.as_deref(), Some("s1"));
        let other = read(
            serde_json::json!({"instanceRef": {"name": "prod"}, "snapshotRef": {"name": "n"}}),
        );
        assert_eq!(other.instance_ref.unwrap().name, "prod");
        assert_eq!(other.snapshot_ref.unwrap().name, "n");
    }
}
