//! Makes an AuraSnapshot object on behalf of another object (an AuraInstance's
//! schedule or beforeChanges, an AuraRestore's snapshot taken first): labelled
//! with the instance it is of, owned by whoever asked. Names are chosen to be
//! the same on every retry, so a name already taken by the same owner is no
//! new snapshot, and one taken by anybody else is said so.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use crate::api::{AuraSnapshot, AuraSnapshotSpec, INSTANCE_LABEL, LocalRef, SCHEDULED_LABEL};
use crate::reconciler::{ReconcileError, Result};

/// The slot a scheduled AuraSnapshot was made for (RFC 3339).
pub const SLOT_ANNOTATION: &str = "aura-operator.io/scheduled-for";

/// What making the object came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// Created now, or there already from an earlier try of the same owner.
    Ours,
    /// An object of that name exists and is not the owner's.
    NameTaken,
}

/// The owner reference to an object that asks for a snapshot.
pub fn owned_by<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    super::connection::controller_ref(owner)
}

/// Makes AuraSnapshot `name` of the AuraInstance `instance` in `namespace`;
/// `slot` marks it as scheduled (pruned by `keep`).
pub async fn make(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    instance: &str,
    owner: OwnerReference,
    slot: Option<Timestamp>,
) -> Result<Made> {
    let mut snapshot = AuraSnapshot::new(
        name,
        AuraSnapshotSpec {
            instance_ref: LocalRef {
                name: instance.to_string(),
            },
        },
    );
    snapshot
        .labels_mut()
        .insert(INSTANCE_LABEL.into(), instance.to_string());
    if let Some(slot) = slot {
        snapshot
            .labels_mut()
            .insert(SCHEDULED_LABEL.into(), "true".into());
        snapshot
            .annotations_mut()
            .insert(SLOT_ANNOTATION.into(), slot.to_string());
    }
    let uid = owner.uid.clone();
    snapshot.metadata.owner_references = Some(vec![owner]);
    let api: Api<AuraSnapshot> = Api::namespaced(client.clone(), namespace);
    match api.create(&PostParams::default(), &snapshot).await {
        Ok(_) => Ok(Made::Ours),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = api
                .get(name)
                .await
                .map_err(|e| ReconcileError::kube("read an AuraSnapshot of that name", e))?;
            let ours = existing.owner_references().iter().any(|o| o.uid == uid);
            Ok(if ours { Made::Ours } else { Made::NameTaken })
        }
        Err(e) => Err(ReconcileError::kube("create an AuraSnapshot", e)),
    }
}
