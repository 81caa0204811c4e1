//! AuraDatabase: a database inside a multi-database AuraInstance (API
//! v2beta1). `decide` (pure) picks the step from the databases Aura lists;
//! `act` carries it out, writes the connection Secret, and deletes the
//! database when the object goes (Delete, and only one it owns).

mod act;
pub mod decide;
mod view;

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;

use crate::api::{AuraDatabase, AuraDatabaseStatus, DATABASE_FINALIZER, DeletionPolicy};
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::projects::Wanted;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraDatabaseStatus);

/// What the kind keeps for all its objects.
pub struct DatabaseState {
    /// The AuraInstances a database names (of its own namespace only).
    pub instances: Arc<dyn InstanceView>,
}

impl Kind for AuraDatabase {
    const FINALIZER: &'static str = DATABASE_FINALIZER;
    type Memory = ();
    type State = DatabaseState;
    type Status = AuraDatabaseStatus;
    type Reason = decide::DatabaseReason;

    fn status(&self) -> Option<&AuraDatabaseStatus> {
        self.status.as_ref()
    }

    /// The instance's credentials, resolved on each pass.
    fn wanted_credentials(&self) -> Wanted<'_> {
        Wanted::Borrowed
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(&obj, &ctx).await
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        if obj.deletion_policy() == DeletionPolicy::Orphan {
            return Ok(Cleanup::Done);
        }
        Ok(if act::delete(&obj, &ctx).await? {
            Cleanup::Done
        } else {
            Cleanup::Again(Action::requeue(Duration::from_secs(30)))
        })
    }
}
