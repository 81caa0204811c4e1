//! AuraCustomerManagedKey: a customer-managed encryption key registered with
//! Aura. `decide` (pure) picks the step and the status; `act` resolves the
//! credentials, reads Aura, carries the step out and writes status;
//! `cleanup` deletes the key in Aura once no AuraInstance names it.

mod act;
mod cleanup;
pub mod decide;
mod view;

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::runtime::watcher;

use crate::api::{
    AuraCustomerManagedKey, AuraCustomerManagedKeyStatus, CUSTOMER_MANAGED_KEY_FINALIZER,
};
use crate::kinds::shared::news::News;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraCustomerManagedKeyStatus);

impl Kind for AuraCustomerManagedKey {
    const FINALIZER: &'static str = CUSTOMER_MANAGED_KEY_FINALIZER;
    type Memory = ();
    /// Told of every change: AuraInstances waiting on a key are woken.
    type State = Arc<News>;
    type Status = AuraCustomerManagedKeyStatus;
    type Reason = decide::KeyReason;

    fn status(&self) -> Option<&AuraCustomerManagedKeyStatus> {
        self.status.as_ref()
    }

    fn wanted_credentials(&self) -> Wanted<'_> {
        match (&self.spec.credentials_secret_ref, &self.spec.project_ref) {
            (Some(secret), _) => Wanted::Secret(&secret.name),
            (None, Some(project)) => Wanted::Project(project.kind, &project.name),
            (None, None) => Wanted::Default,
        }
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(&obj, &ctx).await
    }

    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        if let watcher::Event::Apply(k) | watcher::Event::Delete(k) = event {
            ctx.state.tell(k);
        }
    }
}
