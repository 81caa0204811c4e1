//! Which AuraRestores run on which AuraInstance, as the AuraRestore watches
//! show them. The AuraInstance kind holds one of these in its state: while an
//! AuraRestore runs on an instance, the instance shows phase Updating (reason
//! Restoring) and changes nothing, also in the moment between the call and
//! Aura's first report of `restoring` or `overwriting`. The restore controller
//! registers its watch stores here, and wakes the instance when a restore
//! starts or ends.

use std::sync::RwLock;

use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::api::{AuraInstance, AuraRestore, RestorePhase};
use crate::kinds::shared::views::RestoreView;
use crate::reconciler::wakes::Wakes;

#[derive(Default)]
pub struct RunningRestores {
    stores: RwLock<Vec<Store<AuraRestore>>>,
    wake: Wakes<ObjectRef<AuraInstance>>,
}

/// An AuraRestore that runs (phase Running) on the AuraInstance `instance`
/// of `namespace`.
pub fn runs_on(restore: &AuraRestore, namespace: &str, instance: &str) -> bool {
    restore.namespace().as_deref() == Some(namespace)
        && restore.spec.instance_ref.name == instance
        && restore.meta().deletion_timestamp.is_none()
        && restore.status.as_ref().and_then(|s| s.phase) == Some(RestorePhase::Running)
}

impl RunningRestores {
    /// Adds the store of one AuraRestore watch (one per watched scope).
    pub fn register(&self, store: Store<AuraRestore>) {
        self.stores
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(store);
    }

    /// Has the AuraInstance `instance` of `namespace` reconciled soon: a
    /// restore on it started or ended.
    pub fn wake(&self, namespace: &str, instance: &str) {
        self.wake.tell(ObjectRef::new(instance).within(namespace));
    }
}

impl RestoreView for RunningRestores {
    /// The name of an AuraRestore that runs on the AuraInstance `instance`
    /// of `namespace`, other than `except`; the first by name when several do.
    fn running_on(&self, namespace: &str, instance: &str, except: Option<&str>) -> Option<String> {
        let mut names: Vec<String> = self
            .stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .flat_map(|s| s.state())
            .filter(|r| runs_on(r, namespace, instance))
            .map(|r| r.name_any())
            .filter(|name| Some(name.as_str()) != except)
            .collect();
        names.sort();
        names.into_iter().next()
    }

    fn wakes(&self) -> BoxStream<'static, ObjectRef<AuraInstance>> {
        self.wake.subscribe().boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AuraRestoreSpec, AuraRestoreStatus, LocalRef, RestoreSource};
    use kube::runtime::watcher;

    fn restore(ns: &str, name: &str, target: &str, phase: RestorePhase) -> AuraRestore {
        let mut r = AuraRestore::new(
            name,
            AuraRestoreSpec {
                instance_ref: LocalRef {
                    name: target.into(),
                },
                source: RestoreSource {
                    snapshot_id: Some("s1".into()),
                    ..Default::default()
                },
            },
        );
        r.metadata.namespace = Some(ns.into());
        r.status = Some(AuraRestoreStatus {
            phase: Some(phase),
            ..Default::default()
        });
        r
    }

    #[test]
    fn only_a_running_restore_of_that_instance_counts() {
        let (reader, mut writer) = kube::runtime::reflector::store();
        for r in [
            restore("a", "done", "orders", RestorePhase::Succeeded),
            restore("a", "waiting", "orders", RestorePhase::Pending),
            restore("b", "elsewhere", "orders", RestorePhase::Running),
            restore("a", "other-target", "billing", RestorePhase::Running),
            restore("a", "now", "orders", RestorePhase::Running),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(r));
        }
        let running = RunningRestores::default();
        assert_eq!(running.running_on("a", "orders", None), None);
        running.register(reader);
        assert_eq!(
            running.running_on("a", "orders", None).as_deref(),
            Some("now")
        );
        assert_eq!(running.running_on("a", "orders", Some("now")), None);
        assert_eq!(running.running_on("a", "payments", None), None);
    }
}
