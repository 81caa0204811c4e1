//! AuraGraphAnalyticsSession: a Graph Analytics session, attached to an
//! AuraInstance of the namespace or standalone. `decide` (pure) picks the
//! step and the status; `act` finds where the session runs, reads and calls
//! Aura, writes the connection Secret and the status; `cleanup` deletes the
//! session.

mod act;
mod cleanup;
pub mod decide;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::{
    AuraGraphAnalyticsSession, AuraGraphAnalyticsSessionStatus, SESSION_FINALIZER, SESSION_LABEL,
};
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraGraphAnalyticsSessionStatus);

/// What the kind keeps for all its objects.
pub struct SessionState {
    /// The AuraInstances an attached session works on.
    pub instances: Arc<dyn InstanceView>,
}

impl Kind for AuraGraphAnalyticsSession {
    const FINALIZER: &'static str = SESSION_FINALIZER;
    type Memory = ();
    type State = SessionState;
    type Status = AuraGraphAnalyticsSessionStatus;
    type Reason = decide::SessionReason;

    fn status(&self) -> Option<&AuraGraphAnalyticsSessionStatus> {
        self.status.as_ref()
    }

    /// An attached session uses its instance's credentials.
    fn wanted_credentials(&self) -> Wanted<'_> {
        match (
            &self.spec.instance_ref,
            &self.spec.credentials_secret_ref,
            &self.spec.project_ref,
        ) {
            (Some(_), _, _) => Wanted::Borrowed,
            (None, Some(secret), _) => Wanted::Secret(&secret.name),
            (None, None, Some(project)) => Wanted::Project(project.kind, &project.name),
            (None, None, None) => Wanted::Default,
        }
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(&obj, &ctx).await
    }

    /// Woken when its Secret changes (or goes), by a watch of only the
    /// Secrets written for this kind, metadata only.
    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        namespace: Option<&str>,
    ) -> Controller<Self> {
        let secrets: Api<PartialObjectMeta<Secret>> = match namespace {
            Some(ns) => Api::namespaced(ctx.client.clone(), ns),
            None => Api::all(ctx.client.clone()),
        };
        let written = watcher(secrets, watcher::Config::default().labels(SESSION_LABEL))
            .default_backoff()
            .touched_objects();
        controller.owns_stream(written)
    }
}
