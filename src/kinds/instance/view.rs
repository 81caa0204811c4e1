//! The view other kinds have of AuraInstances (`kinds::shared::views`),
//! implemented over this kind's context: its watch stores, its claims, and
//! the credentials its objects resolve to.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::ResourceExt;

use crate::api::{AuraInstance, ClaimHolder};
use crate::aura::AuraClient;
use crate::kinds::shared::views::{Claim, InstanceView};
use crate::reconciler::credentials::{self, CredentialsProblem};
use crate::reconciler::projects::user_of;
use crate::reconciler::{Context, Result};

impl InstanceView for Context<AuraInstance> {
    fn find(&self, namespace: &str, name: &str) -> Option<Arc<AuraInstance>> {
        self.objects_in(namespace)
            .into_iter()
            .find(|o| o.name_any() == name)
    }

    fn claim<'a>(
        &'a self,
        obj: &'a AuraInstance,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Result<Claim>> {
        self.claims().claim(obj, instance_id).boxed()
    }

    fn held_by<'a>(&'a self, obj: &'a AuraInstance) -> BoxFuture<'a, Result<Option<String>>> {
        let hint = obj.status.as_ref().and_then(|s| s.instance_id.as_deref());
        self.claims().held_by(obj, hint).boxed()
    }

    fn holder_now<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ClaimHolder>>> {
        self.claims().holder_now(instance_id).boxed()
    }

    fn unheld_sources_allowed(&self, obj: &AuraInstance) -> bool {
        self.credentials_source(obj).unheld_sources_allowed()
    }

    fn client_for<'a>(
        &'a self,
        obj: &'a AuraInstance,
    ) -> BoxFuture<'a, Result<Result<AuraClient, CredentialsProblem>>> {
        async move {
            let source = self.credentials_source(obj);
            Ok(
                credentials::resolve(&self.client, &self.secrets, &source, false)
                    .await?
                    .map(|creds| {
                        // The snapshots and restores of an instance share its share.
                        self.aura.client(&creds).for_object(user_of(obj))
                    }),
            )
        }
        .boxed()
    }
}
