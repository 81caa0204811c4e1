//! AuraDatabaseRestore: overwrites an AuraDatabase with one of its backups,
//! once (API v2beta1). `decide` (pure) tells where it stands from its status
//! and checks the backup; `act` sends it at most once.

mod act;
pub mod decide;

use std::sync::Arc;

use kube::runtime::controller::Action;

use crate::api::{AuraDatabaseRestore, AuraDatabaseRestoreStatus, DATABASE_OPERATION_FINALIZER};
use crate::kinds::shared::views::{DatabaseBackupView, DatabaseView, InstanceView};
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraDatabaseRestoreStatus);

/// The views it reaches its database, that database's instance and its
/// backup through.
pub struct RestoreState {
    pub databases: Arc<dyn DatabaseView>,
    pub instances: Arc<dyn InstanceView>,
    pub backups: Arc<dyn DatabaseBackupView>,
}

impl Kind for AuraDatabaseRestore {
    const FINALIZER: &'static str = DATABASE_OPERATION_FINALIZER;
    type Memory = ();
    type State = RestoreState;
    type Status = AuraDatabaseRestoreStatus;
    type Reason = decide::RestoreReason;

    fn status(&self) -> Option<&AuraDatabaseRestoreStatus> {
        self.status.as_ref()
    }

    /// The database's instance's credentials, resolved on each pass.
    fn wanted_credentials(&self) -> Wanted<'_> {
        Wanted::Borrowed
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    /// No finalizer: a restore cannot be taken back.
    async fn keeps_finalizer(_obj: &Self, _ctx: &Context<Self>) -> Result<bool> {
        Ok(false)
    }

    async fn cleanup(_obj: Arc<Self>, _ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        Ok(Cleanup::Done)
    }
}
