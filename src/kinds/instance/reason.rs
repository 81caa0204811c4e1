//! The reasons of AuraInstance conditions, and of the events that code
//! decides, defined once. Code matches on these, never on the text that ends
//! up in a condition or an event.

crate::reasons! {
    /// A condition reason (Ready, Reconciling, Stalled), or an event's.
    pub enum Reason {
        ready: Ready = "the instance is running and its connection Secret is complete",
        idle: Idle,
        not_stalled: NotStalled,
        /// First sight: the operator has not acted yet.
        Reconciling,
        Creating,
        Recreating,
        Updating,
        /// An AuraRestore runs on the instance: nothing else is changed meanwhile.
        Restoring,
        Pausing,
        Resuming,
        Upgrading,
        Destroying,
        Deleting,
        Paused,
        AuraUnreachable,
        PasswordUnavailable,
        LoadingFailed,
        InstanceNotFound,
        InstanceMismatch,
        /// adoption: AdoptOrCreate found several instances it could adopt:
        /// nothing is adopted or created.
        AdoptionAmbiguous,
        /// The connection Secret was not written by this object and is not
        /// taken: its instance id differs, or the database refused its login.
        SecretNotTrusted,
        InstanceClaimed,
        /// The status names an instance no claim gives this object: not believed.
        InstanceNotClaimed,
        ConfigurationNotOffered,
        SecretNotOwned,
        SecretWriteFailed,
        /// Kubernetes refuses the Secret the create would lead to (a dry run):
        /// nothing is created.
        SecretRefused,
        /// (multiDatabase) the credentials see no Aura organization to create in.
        OrganizationNotFound,
        /// (multiDatabase) they see several, and the project names none.
        OrganizationAmbiguous,
        /// An extraKeys template does not render.
        InvalidTemplate,
        /// spec.snapshots.schedule is not a cron expression.
        InvalidSchedule,
        /// snapshots.beforeChanges: the snapshot before a resize or upgrade.
        SnapshotBeforeChange,
        /// A clone's source instance or snapshot is still being made.
        WaitingForSource,
        /// The project the credentials come through does not hold its
        /// finalizer yet (it does within a pass): nothing is created until then.
        WaitingForProject,
        /// customerManagedKeyRef: the AuraCustomerManagedKey is missing or not Ready yet.
        WaitingForKey,
        /// customerManagedKeyRef: the key's provider, region or type does not fit.
        KeyMismatch,
        /// A clone's source does not exist or cannot seed a clone.
        SourceNotFound,
        /// A clone's source is another namespace's instance, or one nobody
        /// holds without the project's consent (DESIGN 4.13): nothing is created.
        SourceNotAllowed,
        /// CredentialsVerified=True: the database accepted the Secret's login.
        CredentialsAccepted,
        /// CredentialsVerified=False: the login was accepted but may not use the database.
        AccessDenied,
        /// CredentialsVerified=Unknown: the database could not be asked.
        Unreachable,
        /// Reconciling=True under --dry-run: a mutating call was skipped.
        DryRun,
        /// Reconciling=False: the aura-operator.io/reconcile annotation says disabled.
        ReconcileDisabled,
        /// Drifted=True (ObserveOnly): the spec and Aura differ.
        Drifted,
        /// Drifted=False (ObserveOnly): the spec and Aura agree.
        InSync,
        /// Neither projectRef nor credentialsSecretRef, and no ClusterAuraProject `default`.
        CredentialsNotConfigured,
        CredentialsNotFound,
        /// The project named in projectRef is not there.
        ProjectNotFound,
        /// The project does not allow this object's namespace: no Aura call is made.
        NamespaceNotAllowed,
        /// Deleting, and the credentials to do it with are gone.
        CredentialsMissing,
        NoTenant,
        TenantAmbiguous,
        TenantNotFound,
        /// Aura refused the API credentials; or, in CredentialsVerified=False,
        /// the database refused the Secret's login.
        AuthenticationFailed,
        Forbidden,
        AuraRejected,
        AuraError,
        /// Event: deleting the object kept the Aura instance and its Secret
        /// (deletionPolicy Orphan, or ObserveOnly).
        Orphaned,
        /// Warning event: a protected object (deletionProtection) was deleted
        /// all the same; the instance and its Secret were kept, not destroyed.
        ProtectedInstanceOrphaned,
        /// Event: the instance of an unanswered create was found and claimed.
        Adopted,
        /// Event: Aura accepted the create.
        Created,
        /// Warning event: the create's answer was lost.
        CreateOutcomeUnknown,
        /// Event: a change made outside the operator is put back.
        DriftCorrected,
        /// Event: a scheduled AuraSnapshot was made.
        SnapshotScheduled,
        /// Warning event: the AuraSnapshot's name belongs to somebody else.
        SnapshotNameTaken,
        /// Event: the connection Secret was replaced for a new type.
        SecretReplaced,
        /// Warning event: the database refused the Secret's login.
        CredentialsRejected,
        /// Warning event: deleting left an instance held by another AuraInstance.
        NotDestroyed,
        /// Event: the instance is gone and its Secret removed.
        Deleted,
        /// Event: the admin password was rotated (spec.adminPasswordRotation
        /// or the aura-operator.io/rotate annotation).
        AdminPasswordRotated,
        /// Warning event: a rotation of the admin password could not finish
        /// (its new password is kept until it can).
        AdminPasswordRotationStuck,
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_one_camel_case_word_and_unique() {
        crate::reconciler::status::assert_reason_words::<Reason>();
        assert_eq!(Reason::InstanceClaimed, "InstanceClaimed");
    }
}
