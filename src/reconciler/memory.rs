//! What this process remembers of each object between passes: failures for
//! the backoff, the client id it uses, and the kind's own (for AuraInstance, a
//! password not yet stored). Keyed by typed reference, with the uid kept so
//! that a new object of the same name never inherits an old one's memory, and
//! pruned when the watch reports the object gone or the driver finishes its
//! cleanup.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::locked;

/// One object's memory.
#[derive(Debug, Default)]
pub struct Entry<M> {
    uid: Option<String>,
    /// Consecutive failed passes, for the backoff.
    pub failures: u32,
    /// The Aura client id the object last used.
    pub client_id: Option<String>,
    /// The kind's own.
    pub kind: M,
}

/// The memory of every object of one kind.
pub struct Memory<K: Resource<DynamicType = ()>, M> {
    entries: Mutex<HashMap<ObjectRef<K>, Entry<M>>>,
}

impl<K: Resource<DynamicType = ()>, M> Default for Memory<K, M> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
        }
    }
}

impl<K, M> Memory<K, M>
where
    K: Resource<DynamicType = ()>,
    ObjectRef<K>: Hash + Eq,
    M: Default,
{
    /// Works on the object's entry, made (or remade, for a new uid) if needed.
    pub fn with<R>(&self, obj: &K, f: impl FnOnce(&mut Entry<M>) -> R) -> R {
        let mut entries = locked(&self.entries);
        let entry = entries.entry(key(obj)).or_default();
        let uid = obj.uid();
        if entry.uid != uid {
            *entry = Entry {
                uid,
                ..Entry::default()
            };
        }
        f(entry)
    }

    /// Reads the object's entry without making one.
    pub fn peek<R>(&self, obj: &K, f: impl FnOnce(&Entry<M>) -> R) -> Option<R> {
        let entries = locked(&self.entries);
        entries.get(&key(obj)).filter(|e| e.uid == obj.uid()).map(f)
    }

    /// Changes the object's entry only if it has one (nothing is made for it).
    pub fn update(&self, obj: &K, f: impl FnOnce(&mut Entry<M>)) {
        let mut entries = locked(&self.entries);
        if let Some(entry) = entries.get_mut(&key(obj)).filter(|e| e.uid == obj.uid()) {
            f(entry);
        }
    }

    /// Forgets an object; returns what was remembered.
    pub fn forget(&self, reference: &ObjectRef<K>) -> Option<Entry<M>> {
        locked(&self.entries).remove(reference)
    }

    /// Forgets every object `keep` rejects (after a watch re-lists, for the
    /// deletions it missed); returns what was forgotten.
    pub fn retain(&self, keep: impl Fn(&ObjectRef<K>) -> bool) -> Vec<Entry<M>> {
        let mut entries = locked(&self.entries);
        let gone: Vec<ObjectRef<K>> = entries.keys().filter(|r| !keep(r)).cloned().collect();
        gone.iter().filter_map(|r| entries.remove(r)).collect()
    }

    pub fn len(&self) -> usize {
        locked(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next backoff for this object: 2 s doubling to 5 min, with jitter.
    pub fn next_backoff(&self, obj: &K) -> Duration {
        let n = self.with(obj, |e| {
            e.failures = e.failures.saturating_add(1);
            e.failures
        });
        backoff(n).mul_f64(rand::random_range(0.8..1.2))
    }

    /// A pass succeeded.
    pub fn reset_failures(&self, obj: &K) {
        self.update(obj, |e| e.failures = 0);
    }
}

/// An object's key in a table kept for its life: its name and namespace
/// only. `ObjectRef::from_obj` would also copy the resource version and the
/// uid, two more strings per entry, which lookups ignore (issue 34).
pub fn key<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectRef<K> {
    let name = obj.meta().name.as_deref().unwrap_or_default();
    match obj.meta().namespace.as_deref() {
        Some(ns) => ObjectRef::new(name).within(ns),
        None => ObjectRef::new(name),
    }
}

/// The backoff after `failures` consecutive failures, before jitter.
pub fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(2).saturating_mul(1u32 << failures.saturating_sub(1).min(8));
    base.min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AuraInstance;

    fn object(name: &str, uid: &str) -> AuraInstance {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstance",
            "metadata": {"name": name, "namespace": "team-a", "uid": uid},
            "spec": {"cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db", "memory": "8GB"},
        }))
        .unwrap()
    }

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let table = [
            (1, 2),
            (2, 4),
            (3, 8),
            (5, 32),
            (8, 256),
            (9, 300),
            (40, 300),
        ];
        for (failures, secs) in table {
            assert_eq!(backoff(failures), Duration::from_secs(secs), "{failures}");
        }
    }

    #[test]
    fn a_new_object_of_the_same_name_starts_empty() {
        let memory: Memory<AuraInstance, Option<&str>> = Memory::default();
        memory.with(&object("db", "uid-1"), |e| e.kind = Some("password"));
        assert_eq!(
            memory.peek(&object("db", "uid-2"), |e| e.kind),
            None,
            "another uid must not read it"
        );
        assert_eq!(memory.with(&object("db", "uid-2"), |e| e.kind), None);
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn the_key_holds_the_name_and_namespace_only() {
        let mut obj = object("db", "uid-1");
        obj.metadata.resource_version = Some("42".into());
        let k = key(&obj);
        assert_eq!(
            (k.name.as_str(), k.namespace.as_deref()),
            ("db", Some("team-a"))
        );
        assert_eq!((k.extra.uid, k.extra.resource_version), (None, None));
        // A later copy of the same object finds the same entry.
        let memory: Memory<AuraInstance, u8> = Memory::default();
        memory.with(&obj, |e| e.kind = 7);
        obj.metadata.resource_version = Some("43".into());
        assert_eq!(memory.peek(&obj, |e| e.kind), Some(7));
    }

    #[test]
    fn failures_count_and_reset() {
        let memory: Memory<AuraInstance, ()> = Memory::default();
        let obj = object("db", "uid-1");
        memory.next_backoff(&obj);
        memory.next_backoff(&obj);
        assert_eq!(memory.peek(&obj, |e| e.failures), Some(2));
        memory.reset_failures(&obj);
        assert_eq!(memory.peek(&obj, |e| e.failures), Some(0));
    }

    #[test]
    fn retain_forgets_what_the_list_no_longer_shows() {
        let memory: Memory<AuraInstance, ()> = Memory::default();
        for name in ["a", "b", "c"] {
            memory.with(&object(name, name), |_| ());
        }
        let gone = memory.retain(|r| r.name == "b");
        assert_eq!(gone.len(), 2);
        assert_eq!(memory.len(), 1);
        assert!(
            memory
                .forget(&ObjectRef::new("b").within("team-a"))
                .is_some()
        );
        assert!(memory.is_empty());
    }
}
