//! AuraDatabaseBackup: one backup of an AuraDatabase (API v2beta1).
//! `decide` (pure) reads Aura's report and finds a lost create's backup;
//! `act` asks for it once and follows it. Deleting the object leaves the
//! backup in Aura, which has no delete for it.

mod act;
pub mod decide;
mod view;

use std::sync::Arc;

use kube::runtime::controller::Action;

use crate::api::{AuraDatabaseBackup, AuraDatabaseBackupStatus, DATABASE_OPERATION_FINALIZER};
use crate::kinds::shared::views::{DatabaseView, InstanceView};
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraDatabaseBackupStatus);

/// What the kind keeps for all its objects: the views it reaches its
/// database, and that database's instance, through.
pub struct DatabaseOperationState {
    pub databases: Arc<dyn DatabaseView>,
    pub instances: Arc<dyn InstanceView>,
}

impl Kind for AuraDatabaseBackup {
    const FINALIZER: &'static str = DATABASE_OPERATION_FINALIZER;
    type Memory = ();
    type State = DatabaseOperationState;
    type Status = AuraDatabaseBackupStatus;
    type Reason = decide::BackupReason;

    fn status(&self) -> Option<&AuraDatabaseBackupStatus> {
        self.status.as_ref()
    }

    /// The database's instance's credentials, resolved on each pass.
    fn wanted_credentials(&self) -> Wanted<'_> {
        Wanted::Borrowed
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    /// No finalizer: nothing in Aura goes with the object.
    async fn keeps_finalizer(_obj: &Self, _ctx: &Context<Self>) -> Result<bool> {
        Ok(false)
    }

    async fn cleanup(_obj: Arc<Self>, _ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        Ok(Cleanup::Done)
    }
}
