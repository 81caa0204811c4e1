//! The view other kinds have of AuraDatabases (their backups and
//! restores): the watch's store, by namespace and name.

use std::sync::Arc;

use kube::ResourceExt;

use crate::api::AuraDatabase;
use crate::kinds::shared::views::DatabaseView;
use crate::reconciler::Context;

impl DatabaseView for Context<AuraDatabase> {
    fn find(&self, namespace: &str, name: &str) -> Option<Arc<AuraDatabase>> {
        self.objects_in(namespace)
            .into_iter()
            .find(|o| o.name_any() == name)
    }
}
