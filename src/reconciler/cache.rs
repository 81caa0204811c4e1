//! What the Secret watches already told us, so that a reconcile reads a Secret
//! from the API only when the watch cannot vouch for its copy.
//!
//! Both caches are a fast path only: a miss (or a copy that does not look right)
//! falls back to a live read, and every write is decided on a live read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::{credentials_finalizer, locked};
use crate::aura::Credentials;

type Key = (String, String);

#[derive(Default)]
pub struct SecretCache {
    /// The latest resourceVersion of each Secret, from the metadata watch of
    /// each scope (a namespace, or `None` for all): each re-lists on its own.
    versions: Mutex<HashMap<Option<String>, Versions>>,
    /// Credentials as read at a resourceVersion.
    credentials: Mutex<HashMap<Key, (String, Credentials)>>,
    /// Reflector stores of the connection Secrets, one per watched scope.
    owned: RwLock<Vec<Store<Secret>>>,
    /// The resourceVersion of each connection Secret as the operator last wrote it.
    own_writes: Mutex<HashMap<Key, String>>,
    /// Connection Secrets being written: over one HTTP/2 connection the
    /// watch's echo often comes before the write's answer tells its
    /// resourceVersion (issue 34).
    writing: Mutex<HashMap<Key, Writing>>,
    /// Credentials Secrets the operator is putting its finalizer on, with how
    /// many passes are at it: the watch's echo may come before the write's
    /// answer tells its resourceVersion.
    finalizing: Mutex<HashMap<Key, usize>>,
}

/// A connection Secret write in flight.
struct Writing {
    /// What the Secret will hold: a digest of its type and data, never the data.
    content: u64,
    /// The resourceVersion of an echo taken for this write before its answer.
    echoed: Option<String>,
}

/// A digest of what a connection Secret holds (its type and data).
fn content_digest(secret: &Secret) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    secret.type_.hash(&mut hasher);
    for (key, value) in secret.data.iter().flatten() {
        key.hash(&mut hasher);
        value.0.hash(&mut hasher);
    }
    hasher.finish()
}

#[derive(Default)]
struct Versions {
    current: HashMap<Key, String>,
    /// Filled while the watch re-lists; replaces `current` when the list is complete.
    relisting: Option<HashMap<Key, String>>,
}

fn key_of(meta: &PartialObjectMeta<Secret>) -> Option<(Key, String)> {
    let ns = meta.namespace()?;
    let rv = meta.resource_version()?;
    Some(((ns, meta.name_any()), rv))
}

impl SecretCache {
    /// Follows the metadata watch of Secrets of one scope.
    pub fn observe(
        &self,
        scope: &Option<String>,
        event: &watcher::Event<PartialObjectMeta<Secret>>,
    ) {
        let mut scopes = locked(&self.versions);
        let v = scopes.entry(scope.clone()).or_default();
        match event {
            watcher::Event::Init => v.relisting = Some(HashMap::new()),
            watcher::Event::InitApply(meta) => {
                if let Some((key, rv)) = key_of(meta) {
                    match v.relisting.as_mut() {
                        Some(buffer) => buffer.insert(key, rv),
                        None => v.current.insert(key, rv),
                    };
                }
            }
            watcher::Event::InitDone => {
                if let Some(listed) = v.relisting.take() {
                    v.current = listed;
                }
            }
            watcher::Event::Apply(meta) => {
                if let Some((key, rv)) = key_of(meta) {
                    v.current.insert(key.clone(), rv.clone());
                    if let Some(buffer) = v.relisting.as_mut() {
                        buffer.insert(key, rv);
                    }
                }
            }
            watcher::Event::Delete(meta) => {
                if let Some((key, _)) = key_of(meta) {
                    v.current.remove(&key);
                    if let Some(buffer) = v.relisting.as_mut() {
                        buffer.remove(&key);
                    }
                    drop(scopes);
                    locked(&self.credentials).remove(&key);
                }
            }
        }
    }

    /// Forgets what one scope's watch reported, when that watch stops.
    pub fn forget_scope(&self, scope: &Option<String>) {
        let Some(versions) = locked(&self.versions).remove(scope) else {
            return;
        };
        let mut credentials = locked(&self.credentials);
        for key in versions.current.keys() {
            credentials.remove(key);
        }
    }

    /// Credentials read earlier, if the Secret has not changed since.
    pub fn credentials(&self, namespace: &str, name: &str) -> Option<Credentials> {
        let key = (namespace.to_string(), name.to_string());
        let latest = locked(&self.versions)
            .values()
            .find_map(|v| v.current.get(&key).cloned())?;
        let cached = locked(&self.credentials);
        let (rv, creds) = cached.get(&key)?;
        (*rv == latest).then(|| creds.clone())
    }

    /// Remembers credentials read live from the Secret at `resource_version`.
    pub fn remember_credentials(
        &self,
        namespace: &str,
        name: &str,
        resource_version: String,
        creds: &Credentials,
    ) {
        locked(&self.credentials).insert(
            (namespace.to_string(), name.to_string()),
            (resource_version, creds.clone()),
        );
    }

    pub fn add_owned_store(&self, store: Store<Secret>) {
        self.owned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(store);
    }

    /// The operator is about to write this connection Secret; then
    /// [`Self::wrote`], or [`Self::not_written`] if the write failed.
    pub fn writing(&self, desired: &Secret) {
        if let Some(ns) = desired.namespace() {
            let write = Writing {
                content: content_digest(desired),
                echoed: None,
            };
            locked(&self.writing).insert((ns, desired.name_any()), write);
        }
    }

    /// The write announced by [`Self::writing`] failed.
    pub fn not_written(&self, desired: &Secret) {
        if let Some(ns) = desired.namespace() {
            locked(&self.writing).remove(&(ns, desired.name_any()));
        }
    }

    /// Notes a connection Secret as the operator just wrote it.
    pub fn wrote<K: Resource>(&self, written: &K) {
        let (Some(ns), Some(rv)) = (written.namespace(), written.resource_version()) else {
            return;
        };
        let key = (ns, written.name_any());
        let write = locked(&self.writing).remove(&key);
        // Its echo came first and was taken already: nothing left to expect.
        if write.and_then(|w| w.echoed).as_ref() == Some(&rv) {
            return;
        }
        locked(&self.own_writes).insert(key, rv);
    }

    /// True for a copy of a connection Secret being written that holds what
    /// the write puts there: the echo of that write, come before its answer
    /// (or somebody else's change to the same content, which needs no
    /// reconcile either).
    pub fn is_echo_of_write(&self, seen: &Secret) -> bool {
        let (Some(ns), Some(rv)) = (seen.namespace(), seen.resource_version()) else {
            return false;
        };
        let mut writing = locked(&self.writing);
        match writing.get_mut(&(ns, seen.name_any())) {
            Some(write) if write.content == content_digest(seen) => {
                write.echoed = Some(rv);
                true
            }
            _ => false,
        }
    }

    /// True for the watch's echo of the operator's own write, which needs no
    /// reconcile: a connection Secret it wrote, or the credentials-in-use
    /// finalizer it put on a credentials Secret (as a metadata watch sees it).
    pub fn is_own_write<K: Resource>(&self, seen: &K) -> bool {
        let (Some(ns), Some(rv)) = (seen.namespace(), seen.resource_version()) else {
            return false;
        };
        let key = (ns, seen.name_any());
        let mut own = locked(&self.own_writes);
        if own.get(&key) == Some(&rv) {
            own.remove(&key);
            return true;
        }
        drop(own);
        let held = seen
            .meta()
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == credentials_finalizer::FINALIZER));
        held && locked(&self.finalizing).contains_key(&key)
    }

    /// The operator is about to put its finalizer on this credentials Secret;
    /// [`Self::finalized`] when the write is over.
    pub fn finalizing(&self, namespace: &str, name: &str) {
        *locked(&self.finalizing)
            .entry((namespace.to_string(), name.to_string()))
            .or_default() += 1;
    }

    /// The finalizer write is over: `written` is the Secret it returned (its
    /// echo, if still to come, then wakes nobody), `None` when this pass wrote
    /// nothing (held already, or another pass was first).
    pub fn finalized(&self, namespace: &str, name: &str, written: Option<&Secret>) {
        let key = (namespace.to_string(), name.to_string());
        let mut finalizing = locked(&self.finalizing);
        if let Some(n) = finalizing.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                finalizing.remove(&key);
            }
        }
        drop(finalizing);
        if let Some(secret) = written {
            self.wrote(secret);
        }
    }

    /// The watch's copy of a connection Secret.
    pub fn owned(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        let key = ObjectRef::new(name).within(namespace);
        self.owned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find_map(|store| store.get(&key))
    }
}

/// Drops what the operator never reads from cached objects; managedFields alone
/// is often most of an object's size.
pub fn slim<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn meta(ns: &str, name: &str, rv: &str) -> PartialObjectMeta<Secret> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            _phantom: Default::default(),
        }
    }

    fn creds(id: &str) -> Credentials {
        Credentials {
            client_id: id.into(),
            client_secret: "s".into(),
        }
    }

    #[test]
    fn credentials_are_reused_only_at_the_version_they_were_read() {
        let cache = SecretCache::default();
        // Nothing known from the watch yet: no hit even when remembered.
        cache.remember_credentials("ns", "api", "1".into(), &creds("a"));
        assert!(cache.credentials("ns", "api").is_none());

        cache.observe(&None, &watcher::Event::Apply(meta("ns", "api", "1")));
        assert_eq!(cache.credentials("ns", "api").unwrap().client_id, "a");
        assert!(cache.credentials("other", "api").is_none());

        // Changed: the old read no longer counts.
        cache.observe(&None, &watcher::Event::Apply(meta("ns", "api", "2")));
        assert!(cache.credentials("ns", "api").is_none());
        cache.remember_credentials("ns", "api", "2".into(), &creds("b"));
        assert_eq!(cache.credentials("ns", "api").unwrap().client_id, "b");

        cache.observe(&None, &watcher::Event::Delete(meta("ns", "api", "2")));
        assert!(cache.credentials("ns", "api").is_none());
    }

    #[test]
    fn a_relist_forgets_secrets_deleted_while_the_watch_was_down() {
        let cache = SecretCache::default();
        cache.observe(&None, &watcher::Event::Apply(meta("ns", "gone", "1")));
        cache.observe(&None, &watcher::Event::Apply(meta("ns", "kept", "1")));
        cache.remember_credentials("ns", "gone", "1".into(), &creds("a"));
        cache.remember_credentials("ns", "kept", "1".into(), &creds("b"));

        cache.observe(&None, &watcher::Event::Init);
        cache.observe(&None, &watcher::Event::InitApply(meta("ns", "kept", "1")));
        cache.observe(&None, &watcher::Event::InitDone);
        assert!(cache.credentials("ns", "gone").is_none());
        assert_eq!(cache.credentials("ns", "kept").unwrap().client_id, "b");
    }

    #[test]
    fn one_scope_relisting_leaves_the_others_alone() {
        let cache = SecretCache::default();
        let (a, b) = (Some("a".to_string()), Some("b".to_string()));
        cache.observe(&a, &watcher::Event::Apply(meta("a", "api", "1")));
        cache.observe(&b, &watcher::Event::Apply(meta("b", "api", "7")));
        cache.remember_credentials("b", "api", "7".into(), &creds("b"));
        cache.observe(&a, &watcher::Event::Init);
        cache.observe(&a, &watcher::Event::InitDone);
        assert_eq!(cache.credentials("b", "api").unwrap().client_id, "b");
    }

    #[test]
    fn only_the_echo_of_our_own_write_is_recognised() {
        let secret = |rv: &str| Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("db-connection".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let cache = SecretCache::default();
        assert!(!cache.is_own_write(&secret("5")));
        cache.wrote(&secret("5"));
        assert!(!cache.is_own_write(&secret("6")), "somebody else's change");
        assert!(cache.is_own_write(&secret("5")));
        assert!(!cache.is_own_write(&secret("5")), "recognised once");
        // A metadata watch's copy of a credentials Secret whose finalizer we put on.
        let meta = |rv: &str| PartialObjectMeta::<Secret> {
            metadata: secret(rv).metadata,
            ..Default::default()
        };
        cache.wrote(&secret("7"));
        assert!(!cache.is_own_write(&meta("8")));
        cache.wrote(&secret("9"));
        assert!(cache.is_own_write(&meta("9")));
    }

    #[test]
    fn the_echo_of_a_connection_secret_write_is_recognised_before_its_answer() {
        let secret = |rv: &str, password: &str| Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("db-connection".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            data: Some(
                [(
                    "NEO4J_PASSWORD".to_string(),
                    k8s_openapi::ByteString(password.into()),
                )]
                .into(),
            ),
            ..Default::default()
        };
        let cache = SecretCache::default();
        // Nothing being written: no copy is an echo.
        assert!(!cache.is_echo_of_write(&secret("4", "one")));

        cache.writing(&secret("", "one"));
        assert!(
            !cache.is_echo_of_write(&secret("4", "other")),
            "another content is somebody else's change"
        );
        assert!(
            cache.is_echo_of_write(&secret("5", "one")),
            "the echo, first"
        );
        // Its answer then expects no second echo: a later copy at that
        // version (a re-list) is not taken for one.
        cache.wrote(&secret("5", "one"));
        assert!(!cache.is_own_write(&secret("5", "one")));
        assert!(
            !cache.is_echo_of_write(&secret("5", "one")),
            "the write is over"
        );

        // The answer first: recognised by its resourceVersion, as before.
        cache.writing(&secret("", "two"));
        cache.wrote(&secret("6", "two"));
        assert!(!cache.is_echo_of_write(&secret("6", "two")));
        assert!(cache.is_own_write(&secret("6", "two")));

        // A failed write expects nothing.
        cache.writing(&secret("", "three"));
        cache.not_written(&secret("", "three"));
        assert!(!cache.is_echo_of_write(&secret("7", "three")));
    }

    #[test]
    fn the_echo_of_our_finalizer_is_recognised_before_its_answer_too() {
        let meta = |rv: &str, held: bool| PartialObjectMeta::<Secret> {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("aura-api".into()),
                resource_version: Some(rv.into()),
                finalizers: held.then(|| vec![credentials_finalizer::FINALIZER.to_string()]),
                ..Default::default()
            },
            ..Default::default()
        };
        let written = |rv: &str| Secret {
            metadata: meta(rv, true).metadata,
            ..Default::default()
        };
        // (echo before the answer, then the answer)
        let cache = SecretCache::default();
        cache.finalizing("ns", "aura-api");
        assert!(
            !cache.is_own_write(&meta("2", false)),
            "a change without our finalizer"
        );
        assert!(cache.is_own_write(&meta("3", true)));
        cache.finalized("ns", "aura-api", Some(&written("3")));
        assert!(
            !cache.is_own_write(&meta("4", true)),
            "later changes are news"
        );
        // (the answer first, then the echo)
        let cache = SecretCache::default();
        cache.finalizing("ns", "aura-api");
        cache.finalized("ns", "aura-api", Some(&written("3")));
        assert!(cache.is_own_write(&meta("3", true)));
        assert!(!cache.is_own_write(&meta("4", true)));
        // nothing written (already held): nothing is expected afterwards
        let cache = SecretCache::default();
        cache.finalizing("ns", "aura-api");
        cache.finalized("ns", "aura-api", None);
        assert!(!cache.is_own_write(&meta("3", true)));
        // two passes at once, the one refused (409) done first: the other's
        // echo is still recognised, before or after its answer
        for echo_first in [true, false] {
            let cache = SecretCache::default();
            cache.finalizing("ns", "aura-api");
            cache.finalizing("ns", "aura-api");
            cache.finalized("ns", "aura-api", None);
            if echo_first {
                assert!(cache.is_own_write(&meta("3", true)));
                cache.finalized("ns", "aura-api", Some(&written("3")));
            } else {
                cache.finalized("ns", "aura-api", Some(&written("3")));
                assert!(cache.is_own_write(&meta("3", true)));
            }
            assert!(
                !cache.is_own_write(&meta("4", true)),
                "echo first: {echo_first}"
            );
        }
    }

    #[test]
    fn slim_drops_managed_fields_and_the_last_applied_copy() {
        let mut s = Secret {
            metadata: ObjectMeta {
                managed_fields: Some(vec![Default::default()]),
                annotations: Some(
                    [
                        (
                            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                            "{}".to_string(),
                        ),
                        ("keep".to_string(), "me".to_string()),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        slim(&mut s);
        assert!(s.metadata.managed_fields.is_none());
        assert_eq!(s.metadata.annotations.unwrap().len(), 1);
    }
}
