//! The narrow, read-only views one kind has of another's objects. The kind
//! that owns the watch store implements the view; the runtime hands it to the
//! kinds that need it, as `Arc<dyn ...>`.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use kube::runtime::reflector::ObjectRef;

use crate::api::{AuraDatabase, AuraInstance, ClaimHolder, CloudProvider, InstanceType};
use crate::aura::AuraClient;
use crate::kinds::shared::news::News;
use crate::reconciler::Result;
use crate::reconciler::credentials::CredentialsProblem;

/// Who holds an Aura instance id, as far as this operator can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This object holds it.
    Held,
    /// Another AuraInstance, still there, holds it.
    HeldByOther(ClaimHolder),
}

/// AuraInstances, as the kinds that act on one (AuraSnapshot, AuraRestore)
/// see them: found by name in the watch's store, their claim, the client of
/// their credentials.
pub trait InstanceView: Send + Sync {
    /// The AuraInstance `name` of `namespace`, as the watch shows it.
    fn find(&self, namespace: &str, name: &str) -> Option<Arc<AuraInstance>>;

    /// Whether `obj` holds the claim of `instance_id` (the claim store
    /// answers for a claim it shows; else the apiserver).
    fn claim<'a>(
        &'a self,
        obj: &'a AuraInstance,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Result<Claim>>;

    /// The instance id `obj` holds the claim of (never its status).
    fn held_by<'a>(&'a self, obj: &'a AuraInstance) -> BoxFuture<'a, Result<Option<String>>>;

    /// Who holds `instance_id` now, as the apiserver says.
    fn holder_now<'a>(&'a self, instance_id: &'a str)
    -> BoxFuture<'a, Result<Option<ClaimHolder>>>;

    /// Whether the project supplying `obj`'s credentials lets its objects
    /// read instances no AuraInstance holds (`allowUnheldSources`).
    fn unheld_sources_allowed(&self, obj: &AuraInstance) -> bool;

    /// A client of the credentials `obj` uses; the Secret is held by its
    /// users, not by whoever asks here.
    fn client_for<'a>(
        &'a self,
        obj: &'a AuraInstance,
    ) -> BoxFuture<'a, Result<Result<AuraClient, CredentialsProblem>>>;
}

/// The AuraRestores that run, as the AuraInstance kind sees them: while one
/// runs on an instance, the instance changes nothing.
pub trait RestoreView: Send + Sync {
    /// The name of an AuraRestore that runs on the AuraInstance `instance`
    /// of `namespace`, other than `except`.
    fn running_on(&self, namespace: &str, instance: &str, except: Option<&str>) -> Option<String>;

    /// The AuraInstances to look at again because a restore on them started or ended.
    fn wakes(&self) -> BoxStream<'static, ObjectRef<AuraInstance>>;
}

/// What an AuraInstance's create needs of the AuraCustomerManagedKey it
/// names (`customerManagedKeyRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    /// The Aura key's id, once there is one.
    pub id: Option<String>,
    /// Whether the object is Ready (Aura reports the key ready).
    pub ready: bool,
    /// Whether the object is being deleted.
    pub deleting: bool,
    pub cloud_provider: CloudProvider,
    pub region: String,
    pub instance_type: InstanceType,
}

/// AuraCustomerManagedKeys, as the AuraInstance kind sees them.
pub trait KeyView: Send + Sync {
    /// The AuraCustomerManagedKey `name` of `namespace`, as the watch shows it.
    fn key(&self, namespace: &str, name: &str) -> Option<KeyFacts>;

    /// Told of every change of an AuraCustomerManagedKey: creates waiting on one are woken.
    fn news(&self) -> &News;
}

/// AuraDatabases, as the kinds that act on one (AuraDatabaseBackup,
/// AuraDatabaseRestore) see them: found by name in the watch's store.
pub trait DatabaseView: Send + Sync {
    /// The AuraDatabase `name` of `namespace`, as the watch shows it.
    fn find(&self, namespace: &str, name: &str) -> Option<Arc<AuraDatabase>>;
}

/// AuraDatabaseBackups, as AuraDatabaseRestore sees them: found by name in
/// the watch's store.
pub trait DatabaseBackupView: Send + Sync {
    /// The AuraDatabaseBackup `name` of `namespace`, as the watch shows it.
    fn find(&self, namespace: &str, name: &str) -> Option<Arc<crate::api::AuraDatabaseBackup>>;
}
