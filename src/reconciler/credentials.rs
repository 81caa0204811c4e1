//! Aura API credentials: which Secret an object uses, reading it, and knowing
//! when it changes (DESIGN 4.6). Credential Secrets are found through the
//! objects that name them: an index from Secret to objects, fed by each kind's
//! watch, and one metadata watch per Secret in that index, never a watch of
//! every Secret in the cluster.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio::task::AbortHandle;

use super::cache::SecretCache;
use super::wakes::Wakes;
use super::{ReconcileError, credentials_finalizer, locked};
use crate::api::ProjectId;
use crate::aura::Credentials;

/// A Secret by (namespace, name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretKey {
    pub namespace: String,
    pub name: String,
}

impl SecretKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Where an object's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsSource {
    /// A Secret in the object's own namespace (`credentialsSecretRef`).
    Own(SecretKey),
    /// A project's Secret: `projectRef`, or the ClusterAuraProject `default`.
    Project {
        project: ProjectId,
        secret: SecretKey,
        /// The tenant the object defaults to.
        tenant_id: Option<String>,
        /// The project's `allowUnheldSources`.
        /// The organization the project found or names.
        organization_id: Option<String>,
        allow_unheld_sources: bool,
    },
    /// None the object may use.
    Refused(CredentialsProblem),
}

impl CredentialsSource {
    pub fn key(&self) -> Option<&SecretKey> {
        match self {
            Self::Own(k) | Self::Project { secret: k, .. } => Some(k),
            Self::Refused(_) => None,
        }
    }

    /// The project the object uses, if any.
    pub fn project(&self) -> Option<&ProjectId> {
        match self {
            Self::Project { project, .. } => Some(project),
            _ => None,
        }
    }

    /// Whether the project lets its objects read instances no AuraInstance
    /// holds (a Secret of the object's own is no project: it does not).
    pub fn unheld_sources_allowed(&self) -> bool {
        matches!(
            self,
            Self::Project {
                allow_unheld_sources: true,
                ..
            }
        )
    }

    /// The tenant the project found, for an object whose spec names none.
    pub fn tenant_id(&self) -> Option<&str> {
        match self {
            Self::Project { tenant_id, .. } => tenant_id.as_deref(),
            _ => None,
        }
    }

    /// The organization the project found or names.
    pub fn organization_id(&self) -> Option<&str> {
        match self {
            Self::Project {
                organization_id, ..
            } => organization_id.as_deref(),
            _ => None,
        }
    }
}

/// Why there are no credentials to use; the kind's `decide` turns it into a stall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsProblem {
    /// Neither projectRef nor credentialsSecretRef, and no ClusterAuraProject `default`.
    NotConfigured,
    /// The project named is not there.
    ProjectNotFound(ProjectId),
    /// The project does not allow the object's namespace.
    NamespaceNotAllowed(ProjectId),
    /// The Secret is absent or lacks clientId/clientSecret. One case for both,
    /// so that a person who may not read Secrets learns nothing about them.
    Unusable {
        secret: SecretKey,
        project: Option<ProjectId>,
    },
}

/// Messages name Secrets and projects, never what a Secret holds.
impl std::fmt::Display for CredentialsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotConfigured => f.write_str(
                "neither spec.projectRef nor spec.credentialsSecretRef is set, and there is no ClusterAuraProject named default",
            ),
            Self::ProjectNotFound(project) => {
                write!(f, "{project} (spec.projectRef) does not exist")
            }
            Self::NamespaceNotAllowed(project) => write!(
                f,
                "{project} does not allow this namespace (its spec.allowedNamespaces); no Aura call is made, and an instance already made is left running"
            ),
            Self::Unusable {
                project: Some(project),
                ..
            } => write!(
                f,
                "the credentials of {project} are not usable: its Secret must exist and hold the keys clientId and clientSecret (see the project's status)"
            ),
            Self::Unusable {
                secret,
                project: None,
            } => write!(
                f,
                "no usable Aura API credentials in Secret {secret}: it must exist and hold the keys clientId and clientSecret"
            ),
        }
    }
}

/// Reads the credentials, from the cache while the watch vouches for them.
/// With `hold`, the Secret gets the credentials-in-use finalizer: an object's
/// own Secret, and a project's (held by the project, not by its users).
pub async fn resolve(
    client: &kube::Client,
    cache: &SecretCache,
    source: &CredentialsSource,
    hold: bool,
) -> Result<Result<Credentials, CredentialsProblem>, ReconcileError> {
    let key = match source {
        CredentialsSource::Own(key) | CredentialsSource::Project { secret: key, .. } => key,
        CredentialsSource::Refused(problem) => return Ok(Err(problem.clone())),
    };
    let unusable = || CredentialsProblem::Unusable {
        secret: key.clone(),
        project: source.project().cloned(),
    };
    if let Some(creds) = cache.credentials(&key.namespace, &key.name) {
        return Ok(Ok(creds));
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &key.namespace);
    let Some(mut secret) = secrets
        .get_opt(&key.name)
        .await
        .map_err(|e| ReconcileError::kube("read the credentials Secret", e))?
    else {
        return Ok(Err(unusable()));
    };
    let Some(creds) = read(&secret) else {
        return Ok(Err(unusable()));
    };
    // Credentials outlive their users (DESIGN 4.12): deleting the namespace
    // destroys the instances first.
    if hold {
        let before = secret.resource_version();
        // The finalizer is no news to the objects using the Secret: its
        // watch's echo wakes nobody, also when it comes before the answer.
        cache.finalizing(&key.namespace, &key.name);
        let held = credentials_finalizer::hold(&secrets, secret).await;
        let written = held
            .as_ref()
            .ok()
            .filter(|s| s.resource_version() != before);
        cache.finalized(&key.namespace, &key.name, written);
        secret = held?;
    }
    if let Some(rv) = secret.resource_version() {
        cache.remember_credentials(&key.namespace, &key.name, rv, &creds);
    }
    Ok(Ok(creds))
}

/// clientId and clientSecret, trimmed; `None` when either is missing or blank.
pub fn read(secret: &Secret) -> Option<Credentials> {
    let value = |k: &str| {
        let text = read_key(secret, k)?;
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    };
    Some(Credentials {
        client_id: value("clientId")?,
        client_secret: value("clientSecret")?,
    })
}

/// Reads a key of a Secret as UTF-8.
pub fn read_key(secret: &Secret, key: &str) -> Option<String> {
    let from_data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .and_then(|b| String::from_utf8(b.0.clone()).ok());
    from_data.or_else(|| {
        secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(key).cloned())
    })
}

/// One metadata watch per credentials Secret that some object names; each
/// change is announced to every kind's index.
pub struct CredentialWatches {
    client: kube::Client,
    cache: Arc<SecretCache>,
    changes: Arc<Wakes<SecretKey>>,
    watches: Mutex<HashMap<SecretKey, Watch>>,
}

struct Watch {
    users: usize,
    task: Option<AbortHandle>,
}

impl CredentialWatches {
    pub fn new(client: kube::Client, cache: Arc<SecretCache>) -> Self {
        Self {
            client,
            cache,
            changes: Arc::default(),
            watches: Mutex::default(),
        }
    }

    /// One more object names `key`; the first starts its watch.
    pub fn want(&self, key: &SecretKey) {
        let mut watches = locked(&self.watches);
        let watch = watches.entry(key.clone()).or_insert(Watch {
            users: 0,
            task: None,
        });
        watch.users += 1;
        if watch.task.is_none() && tokio::runtime::Handle::try_current().is_ok() {
            watch.task = Some(self.start(key.clone()));
        }
    }

    /// One object fewer names `key`; the last stops its watch.
    pub fn unwant(&self, key: &SecretKey) {
        let mut watches = locked(&self.watches);
        let Some(watch) = watches.get_mut(key) else {
            return;
        };
        watch.users = watch.users.saturating_sub(1);
        if watch.users == 0 {
            if let Some(task) = watches.remove(key).and_then(|w| w.task) {
                task.abort();
            }
            self.cache.forget_scope(&scope_of(key));
        }
    }

    /// Secrets watched now.
    pub fn len(&self) -> usize {
        locked(&self.watches).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn subscribe(&self) -> impl Stream<Item = SecretKey> + Send + 'static + use<> {
        self.changes.subscribe()
    }

    fn start(&self, key: SecretKey) -> AbortHandle {
        let api: Api<PartialObjectMeta<Secret>> =
            Api::namespaced(self.client.clone(), &key.namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={}", key.name));
        let cache = self.cache.clone();
        let changes = self.changes.clone();
        let scope = scope_of(&key);
        let task = async move {
            tracing::debug!(secret = %key, "watching a credentials Secret");
            let mut listed = false;
            let mut events = std::pin::pin!(watcher(api, config).default_backoff());
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        tracing::debug!(secret = %key, error = %e, "credentials Secret watch");
                        continue;
                    }
                };
                cache.observe(&scope, &event);
                // The first list wakes nobody: the objects' own first list does.
                let announce = match &event {
                    watcher::Event::InitDone => std::mem::replace(&mut listed, true),
                    watcher::Event::Init | watcher::Event::InitApply(_) => false,
                    watcher::Event::Apply(seen) => !cache.is_own_write(seen),
                    watcher::Event::Delete(_) => true,
                };
                if announce {
                    changes.tell(key.clone());
                }
            }
        };
        tokio::spawn(task).abort_handle()
    }
}

fn scope_of(key: &SecretKey) -> Option<String> {
    Some(key.to_string())
}

/// Which objects of one kind name which credentials Secret.
pub struct CredentialIndex<K: Resource<DynamicType = ()>> {
    by_object: Mutex<HashMap<ObjectRef<K>, SecretKey>>,
    watches: Arc<CredentialWatches>,
}

impl<K> CredentialIndex<K>
where
    K: Resource<DynamicType = ()> + 'static,
    ObjectRef<K>: Hash + Eq,
{
    pub fn new(watches: Arc<CredentialWatches>) -> Self {
        Self {
            by_object: Mutex::default(),
            watches,
        }
    }

    /// Notes the Secret an object names now.
    pub fn set(&self, object: ObjectRef<K>, key: Option<SecretKey>) {
        let mut index = locked(&self.by_object);
        let before = match key {
            Some(key) if index.get(&object) == Some(&key) => return,
            Some(key) => {
                self.watches.want(&key);
                index.insert(object, key)
            }
            None => index.remove(&object),
        };
        if let Some(before) = before {
            self.watches.unwant(&before);
        }
    }

    pub fn remove(&self, object: &ObjectRef<K>) {
        if let Some(before) = locked(&self.by_object).remove(object) {
            self.watches.unwant(&before);
        }
    }

    /// Forgets the objects `keep` rejects (after a re-list).
    pub fn retain(&self, keep: impl Fn(&ObjectRef<K>) -> bool) {
        let mut index = locked(&self.by_object);
        let gone: Vec<ObjectRef<K>> = index.keys().filter(|r| !keep(r)).cloned().collect();
        for r in gone {
            if let Some(before) = index.remove(&r) {
                self.watches.unwant(&before);
            }
        }
    }

    /// The objects that name `key`.
    pub fn users_of(&self, key: &SecretKey) -> Vec<ObjectRef<K>> {
        locked(&self.by_object)
            .iter()
            .filter(|(_, k)| *k == key)
            .map(|(r, _)| r.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        locked(&self.by_object).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects to reconcile because a Secret they name changed.
    pub fn triggers(self: &Arc<Self>) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: Send + Sync,
    {
        let index = self.clone();
        self.watches
            .subscribe()
            .flat_map(move |key| futures::stream::iter(index.users_of(&key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AuraInstance;
    use k8s_openapi::ByteString;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn credentials_need_both_keys_non_blank() {
        type Row<'a> = (&'a [(&'a str, &'a str)], Option<(&'a str, &'a str)>);
        let table: &[Row] = &[
            (
                &[("clientId", " id "), ("clientSecret", "s\n")],
                Some(("id", "s")),
            ),
            (&[("clientId", "id")], None),
            (&[("clientId", "id"), ("clientSecret", "  ")], None),
            (&[("clientSecret", "s")], None),
            (&[], None),
        ];
        for (pairs, want) in table {
            let got = read(&secret(pairs));
            assert_eq!(
                got.as_ref()
                    .map(|c| (c.client_id.as_str(), c.client_secret.as_str())),
                *want,
                "{pairs:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_index_keeps_one_watch_per_named_secret_and_none_when_unused() {
        let client = crate::reconciler::offline_client();
        let watches = Arc::new(CredentialWatches::new(client, Arc::default()));
        let index: CredentialIndex<AuraInstance> = CredentialIndex::new(watches.clone());
        let (a, b) = (
            ObjectRef::new("a").within("team"),
            ObjectRef::new("b").within("team"),
        );
        let api = SecretKey::new("team", "aura-api");
        index.set(a.clone(), Some(api.clone()));
        index.set(b.clone(), Some(api.clone()));
        index.set(b.clone(), Some(api.clone()));
        assert_eq!(watches.len(), 1);
        assert_eq!(index.users_of(&api).len(), 2);
        // b rotates to another Secret, then a goes away.
        index.set(b.clone(), Some(SecretKey::new("team", "new-api")));
        assert_eq!(watches.len(), 2);
        index.remove(&a);
        assert_eq!(watches.len(), 1);
        index.retain(|_| false);
        assert!(index.is_empty());
        assert!(watches.is_empty());
    }
}
