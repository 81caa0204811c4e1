//! The AuraCustomerManagedKeys as the AuraInstance kind sees them.

use kube::ResourceExt;

use crate::api::AuraCustomerManagedKey;
use crate::kinds::shared::news::News;
use crate::kinds::shared::views::{KeyFacts, KeyView};
use crate::reconciler::Context;
use crate::reconciler::status;

impl KeyView for Context<AuraCustomerManagedKey> {
    fn key(&self, namespace: &str, name: &str) -> Option<KeyFacts> {
        let key = self
            .objects_in(namespace)
            .into_iter()
            .find(|k| k.name_any() == name)?;
        let current = key.status.clone().unwrap_or_default();
        Some(KeyFacts {
            ready: current.id.is_some() && status::is_true(&current.conditions, "Ready"),
            id: current.id,
            deleting: key.metadata.deletion_timestamp.is_some(),
            cloud_provider: key.spec.cloud_provider,
            region: key.spec.region.clone(),
            instance_type: key.spec.instance_type,
        })
    }

    fn news(&self) -> &News {
        &self.state
    }
}
