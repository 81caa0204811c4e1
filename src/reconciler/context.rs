//! What every reconcile works with, built once at start: [`Shared`] by every
//! kind, and a [`Context`] per kind over it (its memory, its watch stores, its
//! credentials index and its own state).

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};

use super::cache::SecretCache;
use super::config::ControllerConfig;
use super::credentials::{CredentialIndex, CredentialWatches, CredentialsSource};
use super::events::Events;
use super::memory::{Entry, Memory};
use super::projects::Projects;
use super::status::ReasonCode;
use super::tenants::Tenants;
use super::{Kind, locked, pacing};
use crate::aura::AuraClients;
use crate::telemetry::Telemetry;

/// Shared by every kind.
pub struct Shared {
    pub client: kube::Client,
    pub aura: AuraClients,
    pub config: ControllerConfig,
    pub telemetry: Arc<Telemetry>,
    /// What the Secret watches already told us.
    pub secrets: Arc<SecretCache>,
    pub credential_watches: Arc<CredentialWatches>,
    pub tenants: Tenants,
    /// The projects and namespaces as their watches show them.
    pub projects: Projects,
    pub events: Events,
    /// How many objects use each client id, so resyncs fit each client's budget.
    clients: Mutex<HashMap<String, usize>>,
}

impl Shared {
    pub fn new(
        client: kube::Client,
        aura: AuraClients,
        config: ControllerConfig,
        reporter: Reporter,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let secrets: Arc<SecretCache> = Arc::default();
        Self {
            credential_watches: Arc::new(CredentialWatches::new(client.clone(), secrets.clone())),
            secrets,
            events: Events::new(client.clone(), reporter),
            tenants: Tenants::default(),
            projects: Projects::default(),
            clients: Mutex::default(),
            client,
            aura,
            config,
            telemetry,
        }
    }

    /// The resync interval for an object whose client is shared by `sharing`
    /// objects, spread a little so that objects seen together drift apart.
    pub fn resync_after(&self, sharing: usize) -> Duration {
        let interval =
            pacing::resync_interval(self.config.resync_interval, sharing, self.config.rate_limit);
        pacing::spread(interval, rand::random_range(0.9..1.1))
    }

    /// Objects using each client id, for tests and metrics.
    pub fn client_users(&self) -> HashMap<String, usize> {
        locked(&self.clients).clone()
    }

    fn users_of_client(&self, client_id: &str) -> usize {
        locked(&self.clients).get(client_id).copied().unwrap_or(1)
    }

    pub fn count_client(&self, before: Option<&str>, now: &str) -> usize {
        let mut clients = locked(&self.clients);
        if let Some(before) = before {
            self.uncount(&mut clients, before);
        }
        let n = clients.entry(now.to_string()).or_default();
        *n += 1;
        *n
    }

    pub fn uncount_client(&self, client_id: &str) {
        self.uncount(&mut locked(&self.clients), client_id);
    }

    /// The last object of a client id gone: its token, limiter and cached
    /// tenants go too (after a rotation, the old client id is nobody's).
    fn uncount(&self, clients: &mut HashMap<String, usize>, client_id: &str) {
        let Some(n) = clients.get_mut(client_id) else {
            return;
        };
        *n = n.saturating_sub(1);
        if *n == 0 {
            clients.remove(client_id);
            self.aura.forget_client(client_id);
            self.tenants.forget_client(client_id);
        }
    }
}

/// One kind's context.
pub struct Context<K: Kind> {
    shared: Arc<Shared>,
    pub memory: Memory<K, K::Memory>,
    pub credentials: Arc<CredentialIndex<K>>,
    /// The kind's watch stores, one per watched scope.
    stores: RwLock<Vec<Store<K>>>,
    /// What the kind keeps for all its objects (for AuraInstance, the claims).
    pub state: K::State,
}

impl<K: Kind> Deref for Context<K> {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl<K: Kind> Context<K> {
    pub fn new(shared: Arc<Shared>, state: K::State) -> Self {
        Self {
            memory: Memory::default(),
            credentials: Arc::new(CredentialIndex::new(shared.credential_watches.clone())),
            stores: RwLock::default(),
            state,
            shared,
        }
    }

    /// Where the object's credentials come from.
    pub fn credentials_source(&self, obj: &K) -> CredentialsSource {
        self.projects.source(
            &obj.namespace().unwrap_or_default(),
            obj.wanted_credentials(),
        )
    }

    /// Notes that `obj` uses `client_id`; returns how many objects share it.
    pub fn note_client(&self, obj: &K, client_id: &str) -> usize {
        let before = self.memory.with(obj, |e| {
            (e.client_id.as_deref() != Some(client_id))
                .then(|| e.client_id.replace(client_id.to_string()))
        });
        match before {
            Some(before) => self.count_client(before.as_deref(), client_id),
            None => self.users_of_client(client_id),
        }
    }

    /// Forgets an object that is gone: its memory, its place in the
    /// credentials index and its share of a client id.
    pub fn forget(&self, reference: &ObjectRef<K>) {
        if let Some(entry) = self.memory.forget(reference) {
            self.release(entry);
        }
        self.credentials.remove(reference);
    }

    /// After a watch re-listed: forgets what no store shows any more.
    pub fn forget_unlisted(&self) {
        let listed = |r: &ObjectRef<K>| self.stores_get(r).is_some();
        for entry in self.memory.retain(listed) {
            self.release(entry);
        }
        self.credentials.retain(listed);
        let users: HashSet<String> = self
            .stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .flat_map(|s| s.state())
            .map(|o| super::projects::user_of(o.as_ref()))
            .collect();
        let kind = format!("{} ", K::kind(&()));
        self.projects.retain_users(&kind, |u| users.contains(u));
    }

    fn release(&self, entry: Entry<K::Memory>) {
        if let Some(client_id) = &entry.client_id {
            self.uncount_client(client_id);
        }
    }

    pub fn add_store(&self, store: Store<K>) {
        self.stores
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(store);
    }

    /// Whether some watch of this kind still shows the object.
    pub fn is_listed(&self, reference: &ObjectRef<K>) -> bool {
        self.stores_get(reference).is_some()
    }

    fn stores_get(&self, reference: &ObjectRef<K>) -> Option<Arc<K>> {
        self.stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find_map(|s| s.get(reference))
    }

    /// Every object, as the watches show them.
    pub fn all_objects(&self) -> Vec<Arc<K>> {
        self.stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .flat_map(|s| s.state())
            .collect()
    }

    /// The objects of a namespace, as the watches show them.
    pub fn objects_in(&self, namespace: &str) -> Vec<Arc<K>> {
        self.stores
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .flat_map(|s| s.state())
            .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
            .collect()
    }

    pub async fn normal(&self, obj: &K, reason: K::Reason, note: &str) {
        self.events
            .publish(
                obj.object_ref(&()),
                EventType::Normal,
                reason.as_str(),
                note,
            )
            .await;
    }

    pub async fn warn(&self, obj: &K, reason: K::Reason, note: &str) {
        self.events
            .publish(
                obj.object_ref(&()),
                EventType::Warning,
                reason.as_str(),
                note,
            )
            .await;
    }

    /// A mutating Aura call skipped by --dry-run: an event that says what
    /// would have been sent (bodies carry no secret), and a metric. One
    /// reason per operation (DryRunCreate, DryRunDelete, ...): events of one
    /// reason are folded into one series, which would hide all but the first.
    pub async fn dry_run_skipped(&self, obj: &K, operation: &'static str, what: &str) {
        tracing::info!(operation, what, "dry run: skipped a mutating Aura call");
        self.telemetry.record_dry_run(operation);
        let mut reason = String::from("DryRun");
        let mut chars = operation.chars();
        if let Some(first) = chars.next() {
            reason.extend(first.to_uppercase());
            reason.push_str(chars.as_str());
        }
        self.events
            .publish(obj.object_ref(&()), EventType::Normal, &reason, what)
            .await;
    }
}
