//! AuraDatabaseUser: a database login per application, made with the
//! AuraInstance's admin login through the database's Query API. `decide`
//! (pure) picks one step per pass; `act` reads the database and the
//! Secret, carries the step out and writes status; `cleanup` drops what
//! the object made.

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
    AuraDatabaseUser, AuraDatabaseUserStatus, DATABASE_USER_FINALIZER, DATABASE_USER_LABEL,
};
use crate::kinds::shared::views::InstanceView;
use crate::query_api::QueryApi;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraDatabaseUserStatus);

/// What the AuraDatabaseUser kind keeps for all its objects.
pub struct UserState {
    /// The AuraInstances: the instance a user lives in, its admin login.
    pub instances: Arc<dyn InstanceView>,
    /// The databases' Query API.
    pub query_api: QueryApi,
}

impl Kind for AuraDatabaseUser {
    const FINALIZER: &'static str = DATABASE_USER_FINALIZER;
    type Memory = ();
    type State = UserState;
    type Status = AuraDatabaseUserStatus;
    type Reason = decide::UserReason;

    fn status(&self) -> Option<&AuraDatabaseUserStatus> {
        self.status.as_ref()
    }

    /// No Aura API call: the database is reached with the instance's admin login.
    fn wanted_credentials(&self) -> Wanted<'_> {
        Wanted::Borrowed
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
        let written = watcher(
            secrets,
            watcher::Config::default().labels(DATABASE_USER_LABEL),
        )
        .default_backoff()
        .touched_objects();
        controller.owns_stream(written)
    }
}
