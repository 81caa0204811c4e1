//! The reasons of AuraInstance conditions, and of the events that code
//! decides, defined once. Code matches on these, never on the text that ends
//! up in a condition or an event.

use std::fmt;

use crate::reconciler::status::ReasonCode;

macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// A condition reason (Ready, Reconciling, Stalled), or an event's.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[doc = $doc])* $name,)*
        }

        impl Reason {
            /// Every reason, for tests and documentation.
            pub const ALL: &[Reason] = &[$(Reason::$name,)*];

            /// The reason a condition names, read back.
            pub fn parse(word: &str) -> Option<Reason> {
                Reason::ALL.iter().copied().find(|r| r.as_str() == word)
            }

            /// The word written into the condition.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$name => stringify!($name),)*
                }
            }
        }
    };
}

reasons! {
    /// Nothing in flight (Reconciling=False).
    Idle,
    /// Nothing for a human to do (Stalled=False).
    NotStalled,
    /// Ready=True.
    Ready,
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
    InstanceClaimed,
    ConfigurationNotOffered,
    SecretNotOwned,
    SecretWriteFailed,
    /// An extraKeys template does not render.
    InvalidTemplate,
    /// spec.snapshots.schedule is not a cron expression.
    InvalidSchedule,
    /// snapshots.beforeChanges: the snapshot before a resize or upgrade.
    SnapshotBeforeChange,
    /// A clone's source instance or snapshot is still being made.
    WaitingForSource,
    /// A clone's source does not exist or cannot seed a clone.
    SourceNotFound,
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
}

impl ReasonCode for Reason {
    const READY: Self = Reason::Ready;
    const IDLE: Self = Reason::Idle;
    const NOT_STALLED: Self = Reason::NotStalled;
    const READY_MESSAGE: &'static str =
        "the instance is running and its connection Secret is complete";

    fn as_str(self) -> &'static str {
        Reason::as_str(self)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            let s = r.as_str();
            assert!(
                s.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
                "{s}"
            );
            assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
            assert!(seen.insert(s), "{s} twice");
        }
        assert_eq!(Reason::InstanceClaimed, "InstanceClaimed");
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Reason::parse("NoSuchReason"), None);
    }
}
