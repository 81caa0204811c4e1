//! The view AuraDatabaseRestore has of AuraDatabaseBackups: the watch's
//! store, by namespace and name.

use std::sync::Arc;

use kube::ResourceExt;

use crate::api::AuraDatabaseBackup;
use crate::kinds::shared::views::DatabaseBackupView;
use crate::reconciler::Context;

impl DatabaseBackupView for Context<AuraDatabaseBackup> {
    fn find(&self, namespace: &str, name: &str) -> Option<Arc<AuraDatabaseBackup>> {
        self.objects_in(namespace)
            .into_iter()
            .find(|o| o.name_any() == name)
    }
}
