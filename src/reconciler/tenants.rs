//! What Aura says about tenants, reused for a while: a tenant's catalogue, the
//! tenants a client id sees, and a tenant's instance list (for a few seconds).
//! Concurrent misses of one key wait for the first fetch instead of fetching
//! again; different keys (and so different client ids) never wait for each other.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::locked;
use crate::aura::{AuraClient, AuraError, InstanceSummary, Tenant, TenantSummary};

/// How long a tenant's catalogue and tenant lists are reused.
pub const TENANT_CACHE_TTL: Duration = Duration::from_secs(300);

/// How long a tenant's instance list is reused before a create. Short: an
/// instance made in the console since then is not known to be older than the
/// create (the lost-create search then still skips it once claimed, and only
/// an instance found by that search is ever re-created).
pub const INSTANCE_LIST_TTL: Duration = Duration::from_secs(3);

/// (client id, tenant id).
type TenantKey = (String, String);

#[derive(Default)]
pub struct Tenants {
    tenants: Cache<TenantKey, Arc<Tenant>>,
    lists: Cache<String, Vec<TenantSummary>>,
    instances: Cache<TenantKey, Arc<Vec<InstanceSummary>>>,
}

impl Tenants {
    /// A tenant with its catalogue. Shared, not copied: a catalogue can run to
    /// hundreds of kilobytes, and every create in flight holds one.
    pub async fn tenant(&self, aura: &AuraClient, id: &str) -> Result<Arc<Tenant>, AuraError> {
        let key = (aura.client_id().to_string(), id.to_string());
        self.tenants
            .get(key, TENANT_CACHE_TTL, || async {
                aura.get_tenant(id).await.map(Arc::new)
            })
            .await
    }

    /// The tenants the credentials see.
    pub async fn list(&self, aura: &AuraClient) -> Result<Vec<TenantSummary>, AuraError> {
        let key = aura.client_id().to_string();
        self.lists
            .get(key, TENANT_CACHE_TTL, || aura.list_tenants())
            .await
    }

    /// The tenant's instances as listed at most a few seconds ago.
    pub async fn recent_instances(
        &self,
        aura: &AuraClient,
        tenant_id: &str,
    ) -> Result<Arc<Vec<InstanceSummary>>, AuraError> {
        let key = (aura.client_id().to_string(), tenant_id.to_string());
        self.instances
            .get(key, INSTANCE_LIST_TTL, || async {
                aura.list_instances(tenant_id).await.map(Arc::new)
            })
            .await
    }

    /// Drops everything fetched with a client id nobody uses any more.
    pub fn forget_client(&self, client_id: &str) {
        self.tenants.retain(|(c, _)| c != client_id);
        self.lists.retain(|c| c != client_id);
        self.instances.retain(|(c, _)| c != client_id);
    }

    /// Entries held, for tests.
    pub fn len(&self) -> usize {
        self.tenants.len() + self.lists.len() + self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Values by key with the time they were fetched, and one fetch lock per key.
struct Cache<K, V> {
    values: Mutex<HashMap<K, (Instant, V)>>,
    fetching: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self {
            values: Mutex::default(),
            fetching: Mutex::default(),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    async fn get<Fut>(
        &self,
        key: K,
        ttl: Duration,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<V, AuraError>
    where
        Fut: Future<Output = Result<V, AuraError>>,
    {
        let fresh = || {
            locked(&self.values)
                .get(&key)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, v)| v.clone())
        };
        if let Some(v) = fresh() {
            return Ok(v);
        }
        let gate = locked(&self.fetching)
            .entry(key.clone())
            .or_default()
            .clone();
        let _one_fetch = gate.lock().await;
        if let Some(v) = fresh() {
            return Ok(v);
        }
        let value = fetch().await?;
        locked(&self.values).insert(key, (Instant::now(), value.clone()));
        Ok(value)
    }

    fn retain(&self, keep: impl Fn(&K) -> bool) {
        locked(&self.values).retain(|k, _| keep(k));
        locked(&self.fetching).retain(|k, _| keep(k));
    }

    fn len(&self) -> usize {
        locked(&self.values).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_misses_of_one_key_fetch_once() {
        let cache: Arc<Cache<String, u32>> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let runs = (0..8).map(|_| {
            let (cache, fetches) = (cache.clone(), fetches.clone());
            async move {
                cache
                    .get("k".into(), Duration::from_secs(60), || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(7)
                    })
                    .await
            }
        });
        let values = futures::future::join_all(runs).await;
        assert!(values.iter().all(|v| matches!(v, Ok(7))));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn one_slow_key_does_not_hold_another() {
        let cache: Arc<Cache<String, u32>> = Arc::default();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get("slow".into(), Duration::from_secs(60), || async {
                        let _ = wait.await;
                        Ok(1)
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        let quick = tokio::time::timeout(
            Duration::from_secs(5),
            cache.get("quick".into(), Duration::from_secs(60), || async { Ok(2) }),
        )
        .await;
        assert!(
            matches!(quick, Ok(Ok(2))),
            "another key waited for a slow fetch"
        );
        let _ = release.send(());
        assert!(matches!(slow.await, Ok(Ok(1))));
    }

    #[test]
    fn forgetting_a_client_drops_its_entries() {
        let tenants = Tenants::default();
        let now = Instant::now();
        locked(&tenants.lists.values).insert("a".into(), (now, vec![]));
        locked(&tenants.lists.values).insert("b".into(), (now, vec![]));
        tenants.forget_client("a");
        assert_eq!(tenants.len(), 1);
        tenants.forget_client("b");
        assert!(tenants.is_empty());
    }
}
