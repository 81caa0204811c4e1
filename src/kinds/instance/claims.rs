//! Claims (DESIGN 4.11): at most one AuraInstance holds an Aura instance id.
//!
//! A claim is an `AuraInstanceClaim` named after the id, made with a plain
//! create: the apiserver lets exactly one of two racing creates through. The
//! watch keeps a store of every claim, so a reconcile that already holds its
//! claim (every steady pass) makes no call at all.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use tracing::info;

use crate::api::{AuraInstance, AuraInstanceClaim, AuraInstanceClaimSpec, ClaimHolder};
use crate::aura::InstanceSummary;
use crate::reconciler::ReconcileError;

pub use crate::kinds::shared::views::Claim;

/// The holder a claim names for this object.
pub fn holder_of(obj: &AuraInstance) -> ClaimHolder {
    ClaimHolder {
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        uid: obj.uid().unwrap_or_default(),
    }
}

/// The claims, watched; empty until the first list arrives (then every
/// question falls through to the apiserver).
#[derive(Clone)]
pub struct Claims {
    client: kube::Client,
    store: Store<AuraInstanceClaim>,
    /// Claims this process made or confirmed, by (instance id, holder uid):
    /// the watch shows a new claim a moment later, and the first poll after a
    /// create must not ask the apiserver again meanwhile.
    confirmed: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Claims {
    pub fn new(client: kube::Client, store: Store<AuraInstanceClaim>) -> Self {
        Self {
            client,
            store,
            confirmed: Arc::default(),
        }
    }

    fn confirm(&self, id: &str, me: &ClaimHolder, held: bool) {
        let key = (id.to_string(), me.uid.clone());
        let mut confirmed = crate::locked(&self.confirmed);
        if held {
            confirmed.insert(key);
        } else {
            confirmed.remove(&key);
        }
    }

    fn is_confirmed(&self, id: &str, me: &ClaimHolder) -> bool {
        crate::locked(&self.confirmed).contains(&(id.to_string(), me.uid.clone()))
    }

    /// Waits (at most `limit`) for the first complete list of claims, so that a
    /// restart does not ask the apiserver about every claim it already holds.
    pub async fn wait_ready(&self, limit: std::time::Duration) -> bool {
        tokio::time::timeout(limit, self.store.wait_until_ready())
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn api(&self) -> Api<AuraInstanceClaim> {
        Api::all(self.client.clone())
    }

    /// Who holds `id`, as the watch shows it.
    pub fn holder(&self, id: &str) -> Option<ClaimHolder> {
        self.cached(id)
    }

    /// Who holds `id` now, as the apiserver says (for the moment of a call
    /// that copies data: the watch may lag a claim that just moved).
    pub async fn holder_now(&self, id: &str) -> Result<Option<ClaimHolder>, ReconcileError> {
        Ok(self
            .api()
            .get_opt(id)
            .await
            .map_err(|e| ReconcileError::kube("read the instance claim", e))?
            .map(|c| c.spec.holder))
    }

    /// The instance id `obj` holds the claim of: what the operator believes
    /// of an object's instance (never its status, which people with rights on
    /// `/status` can write; `hint`, the id the status names, is only where to
    /// look first). From the watch, or what this process confirmed a moment
    /// ago; the apiserver when the watch has not listed yet.
    pub async fn held_by(
        &self,
        obj: &AuraInstance,
        hint: Option<&str>,
    ) -> Result<Option<String>, ReconcileError> {
        let me = holder_of(obj);
        if let Some(id) = hint.filter(|id| self.cached(id).as_ref() == Some(&me)) {
            return Ok(Some(id.to_string()));
        }
        if let Some(id) = self.held_in_store(&me) {
            return Ok(Some(id));
        }
        if let Some((id, _)) = crate::locked(&self.confirmed)
            .iter()
            .find(|(_, uid)| *uid == me.uid)
        {
            return Ok(Some(id.clone()));
        }
        if self.store.is_empty() || !self.listed() {
            let listed = self
                .api()
                .list(&Default::default())
                .await
                .map_err(|e| ReconcileError::kube("list the instance claims", e))?;
            return Ok(listed
                .items
                .into_iter()
                .find(|c| c.spec.holder == me)
                .map(|c| c.spec.instance_id));
        }
        Ok(None)
    }

    /// [`Claims::held_by`] from the watch alone, for callers that may not wait.
    pub fn held_in_store(&self, me: &ClaimHolder) -> Option<String> {
        self.store
            .find(|c| c.spec.holder == *me)
            .map(|c| c.spec.instance_id.clone())
    }

    fn listed(&self) -> bool {
        self.store.wait_until_ready().now_or_never().is_some()
    }

    fn cached(&self, id: &str) -> Option<ClaimHolder> {
        self.store
            .get(&kube::runtime::reflector::ObjectRef::new(id))
            .map(|c| c.spec.holder.clone())
    }

    /// Whether an AuraInstance other than `obj` holds `id` (from the watch: may
    /// lag a moment, which only makes the lost-create search skip less;
    /// claiming decides).
    fn claimed_by_other(&self, obj: &AuraInstance, id: &str) -> bool {
        self.cached(id).is_some_and(|h| h != holder_of(obj))
    }

    /// The ids among `listed` that another AuraInstance holds: what the
    /// lost-create search of `obj` must skip.
    pub fn held_by_others(&self, obj: &AuraInstance, listed: &[InstanceSummary]) -> Vec<String> {
        listed
            .iter()
            .filter(|i| self.claimed_by_other(obj, &i.id))
            .map(|i| i.id.clone())
            .collect()
    }

    /// Claims `id` for `obj`, or says who holds it. A claim whose holder no
    /// longer exists is released (after checking, by uid) and taken.
    pub async fn claim(&self, obj: &AuraInstance, id: &str) -> Result<Claim, ReconcileError> {
        let me = holder_of(obj);
        // The watch has the last word; what this process confirmed covers the
        // moment before the watch shows it.
        match self.cached(id) {
            Some(holder) if holder == me => return Ok(Claim::Held),
            None if self.is_confirmed(id, &me) => return Ok(Claim::Held),
            _ => {}
        }
        for _ in 0..2 {
            match self.create(id, &me).await? {
                Some(claim) if claim.spec.holder == me => {
                    self.confirm(id, &me, true);
                    return Ok(Claim::Held);
                }
                Some(claim) => {
                    let holder = claim.spec.holder.clone();
                    if self.holder_exists(&holder).await? {
                        return Ok(Claim::HeldByOther(holder));
                    }
                    info!(instance = id, holder = %format!("{}/{}", holder.namespace, holder.name), "releasing the claim of an AuraInstance that no longer exists");
                    self.delete(&claim).await?;
                }
                None => {
                    self.confirm(id, &me, true);
                    return Ok(Claim::Held);
                }
            }
        }
        Err(ReconcileError::Invariant(
            "a claim was re-taken while being released",
        ))
    }

    /// Gives `id` up, if `obj` holds it.
    pub async fn release(&self, obj: &AuraInstance, id: &str) -> Result<(), ReconcileError> {
        let me = holder_of(obj);
        self.confirm(id, &me, false);
        let claim = self
            .api()
            .get_opt(id)
            .await
            .map_err(|e| ReconcileError::kube("read the instance claim", e))?;
        match claim {
            Some(c) if c.spec.holder == me => self.delete(&c).await,
            _ => Ok(()),
        }
    }

    /// Creates the claim: `None` when it was made now, else the existing one.
    async fn create(
        &self,
        id: &str,
        me: &ClaimHolder,
    ) -> Result<Option<AuraInstanceClaim>, ReconcileError> {
        let claim = AuraInstanceClaim {
            metadata: ObjectMeta {
                name: Some(id.to_string()),
                ..Default::default()
            },
            spec: AuraInstanceClaimSpec {
                instance_id: id.to_string(),
                holder: me.clone(),
            },
        };
        match self.api().create(&PostParams::default(), &claim).await {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 409 => self
                .api()
                .get_opt(id)
                .await
                .map_err(|e| ReconcileError::kube("read the instance claim", e)),
            Err(e) => Err(ReconcileError::kube("claim the Aura instance", e)),
        }
    }

    async fn holder_exists(&self, holder: &ClaimHolder) -> Result<bool, ReconcileError> {
        let api: Api<AuraInstance> = Api::namespaced(self.client.clone(), &holder.namespace);
        let found = match api.get_opt(&holder.name).await {
            Ok(found) => found,
            // Not allowed to look (a namespace this install does not watch):
            // never release what cannot be checked.
            Err(kube::Error::Api(s)) if s.code == 403 => return Ok(true),
            Err(e) => return Err(ReconcileError::kube("look up the claim's holder", e)),
        };
        Ok(found.is_some_and(|o| o.uid().as_deref() == Some(holder.uid.as_str())))
    }

    async fn delete(&self, claim: &AuraInstanceClaim) -> Result<(), ReconcileError> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: claim.meta().uid.clone(),
                resource_version: claim.meta().resource_version.clone(),
            }),
            ..Default::default()
        };
        match self.api().delete(&claim.name_any(), &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(ReconcileError::kube("release the instance claim", e)),
        }
    }
}
