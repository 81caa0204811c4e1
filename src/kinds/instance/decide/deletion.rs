//! Deletion (DESIGN 4.3, 4.8): Orphan keeps instance and Secret; Delete
//! destroys the instance this object holds, and only then its Secret; a
//! protected object (deletionProtection) is always orphaned. Each step is
//! decided here; `cleanup` only carries the steps out.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AuraInstanceSpec, AuraInstanceStatus, DeletionPolicy, ManagementPolicy};
use crate::aura::{Instance, InstanceStatus, InstanceSummary};

use super::{LostCreate, Reason, Stall, StatusSummary, create_intent};

/// How the object goes, before anything is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionPlan {
    /// Keep the instance and the Secret; let go of the claim.
    Orphan(OrphanCause),
    /// Destroy the instance, then remove the Secret.
    Destroy,
}

/// Why a deletion keeps the Aura instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanCause {
    /// `deletionProtection: true`: the object was deleted although its
    /// deletion should have been refused at admission (the policy is not
    /// installed, or was bypassed).
    Protected,
    /// `managementPolicy: ObserveOnly` never destroys.
    ObserveOnly,
    /// `deletionPolicy: Orphan`.
    Policy,
}

/// DESIGN 4.8: only `deletionPolicy: Delete` on an unprotected object
/// destroys. Protection wins over everything, ObserveOnly over
/// deletionPolicy. The spec is the object's as it is being deleted: a
/// protection lifted (set to false) before the delete no longer counts. The
/// reconcile-disabled annotation does not change what deletion does.
pub fn deletion_plan(spec: &AuraInstanceSpec) -> DeletionPlan {
    if spec.protected() {
        return DeletionPlan::Orphan(OrphanCause::Protected);
    }
    match (spec.policy(), spec.deletion()) {
        (ManagementPolicy::ObserveOnly, _) => DeletionPlan::Orphan(OrphanCause::ObserveOnly),
        (ManagementPolicy::Full, DeletionPolicy::Orphan) => {
            DeletionPlan::Orphan(OrphanCause::Policy)
        }
        (ManagementPolicy::Full, DeletionPolicy::Delete) => DeletionPlan::Destroy,
    }
}

/// The event an orphaning deletion leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanNote {
    /// A Warning (else Normal): a protected object was deleted all the same.
    pub warning: bool,
    pub reason: Reason,
    pub note: String,
}

/// What the event says: what was kept, and why.
pub fn orphan_note(cause: OrphanCause, instance_id: Option<&str>, secret: &str) -> OrphanNote {
    let id = instance_id.unwrap_or("(none)");
    match cause {
        OrphanCause::Protected => OrphanNote {
            warning: true,
            reason: Reason::ProtectedInstanceOrphaned,
            note: match instance_id {
                Some(id) => format!(
                    "deletionProtection was on: Aura instance {id} was kept, not destroyed, whatever deletionPolicy says; its connection Secret {secret} was kept too (without owner reference). Adopt it again with spec.instanceId: {id}, or delete it in the Aura console"
                ),
                None => format!(
                    "deletionProtection was on: nothing was destroyed (this object recorded no Aura instance id); Secret {secret}, if any, was kept"
                ),
            },
        },
        OrphanCause::ObserveOnly => OrphanNote {
            warning: false,
            reason: Reason::Orphaned,
            note: format!(
                "Aura instance {id} and Secret {secret} are kept: managementPolicy ObserveOnly never destroys"
            ),
        },
        OrphanCause::Policy => OrphanNote {
            warning: false,
            reason: Reason::Orphaned,
            note: format!(
                "Aura instance {id} and Secret {secret} are kept (deletionPolicy: Orphan)"
            ),
        },
    }
}

/// The status while credentials keep a deletion from reaching Aura: never a
/// silent hang, and the message says both ways out. A namespace that is no
/// longer allowed keeps its own reason; every other credentials problem is
/// `CredentialsMissing`.
pub fn deletion_blocked(stall: Stall) -> StatusSummary {
    let reason = match stall.0 {
        Reason::NamespaceNotAllowed => Reason::NamespaceNotAllowed,
        _ => Reason::CredentialsMissing,
    };
    StatusSummary::stalled(
        reason,
        format!(
            "cannot delete the Aura instance: {}; either restore the credentials, or set deletionPolicy: Orphan to let this object go and keep the Aura instance",
            stall.1
        ),
    )
}

/// The tenant to search for the instance of an unanswered create, when the
/// object has no instance id at all.
pub fn deletion_search<'s>(
    status: &'s AuraInstanceStatus,
    pending: Option<&str>,
) -> Option<&'s str> {
    let no_id = status.instance_id.is_none() && pending.is_none();
    let intent = create_intent(status).is_some();
    (no_id && intent)
        .then_some(status.tenant_id.as_deref())
        .flatten()
}

/// Which instance a deletion destroys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionTarget {
    /// This id; `found_by_search` when only the lost-create search knows it.
    Instance { id: String, found_by_search: bool },
    /// An unanswered create may still show up: look again after this long.
    Wait(Duration),
    /// The status names this instance but no claim gives it to the object:
    /// never destroyed (DESIGN 4.8: a status field is no manifest).
    NotHeld(String),
    /// Nothing to destroy.
    Nothing,
}

/// What to destroy: the instance this object holds the claim of, else the
/// create answered in memory, else what the lost-create search finds in
/// `listed` (given only when [`deletion_search`] asked for it); within the
/// create grace an empty search waits rather than leave a billed instance
/// behind. An id only the status names is never destroyed.
pub fn deletion_target(
    status: &AuraInstanceStatus,
    held: Option<&str>,
    pending: Option<&str>,
    aura_name: &str,
    listed: Option<(&[InstanceSummary], &[String])>,
    now: Timestamp,
    grace: Duration,
) -> DeletionTarget {
    if let Some(id) = held.or(pending) {
        return DeletionTarget::Instance {
            id: id.to_string(),
            found_by_search: false,
        };
    }
    if let Some(id) = &status.instance_id {
        return DeletionTarget::NotHeld(id.clone());
    }
    let (Some(intent), Some((listed, claimed))) = (create_intent(status), listed) else {
        return DeletionTarget::Nothing;
    };
    let search = LostCreate {
        name: status.create_requested_name.as_deref().unwrap_or(aura_name),
        intent,
        prior: &status.create_prior_ids,
        claimed,
    };
    if let Some(found) = search.find(listed) {
        return DeletionTarget::Instance {
            id: found.id.clone(),
            found_by_search: true,
        };
    }
    let grace = jiff::SignedDuration::try_from(grace).unwrap_or_default();
    if now.duration_since(intent) < grace {
        DeletionTarget::Wait(Duration::from_secs(5))
    } else {
        DeletionTarget::Nothing
    }
}

/// What to do when the target is held by another object (DESIGN 4.11: only
/// the holder of the claim destroys an instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldElsewhere {
    /// The search found it and another object's search took it meanwhile.
    LookAgain(Duration),
    /// It is somebody else's: leave it, say so, and carry on.
    LeaveIt,
}

pub fn held_elsewhere(found_by_search: bool) -> HeldElsewhere {
    if found_by_search {
        HeldElsewhere::LookAgain(Duration::from_secs(1))
    } else {
        HeldElsewhere::LeaveIt
    }
}

/// The next step for the held instance, from what `GET` answered (`None`: 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestroyStep {
    /// Gone: release the claim and remove the Secret.
    Gone,
    /// Ask Aura to destroy it, then wait.
    Delete,
    /// Aura is destroying it: wait.
    Wait,
}

pub fn destroy_step(instance: Option<&Instance>) -> DestroyStep {
    match instance {
        None => DestroyStep::Gone,
        Some(i) if i.status == InstanceStatus::Destroying => DestroyStep::Wait,
        Some(_) => DestroyStep::Delete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::instance::reason::Reason;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn listed(entries: &[(&str, &str, &str)]) -> Vec<InstanceSummary> {
        entries
            .iter()
            .map(|(id, name, created)| {
                serde_json::from_value(serde_json::json!({
                    "id": id, "name": name, "created_at": created,
                    "tenant_id": "t", "cloud_provider": "gcp"
                }))
                .unwrap()
            })
            .collect()
    }

    fn intent_status() -> AuraInstanceStatus {
        AuraInstanceStatus {
            tenant_id: Some("t".into()),
            create_requested_at: Some("2026-01-01T00:00:00Z".into()),
            create_requested_name: Some("db".into()),
            create_prior_ids: vec!["old".into()],
            ..Default::default()
        }
    }

    #[test]
    fn protection_then_the_policy_decides_orphan_or_destroy() {
        use DeletionPlan::{Destroy, Orphan};
        use OrphanCause::{ObserveOnly, Policy, Protected};
        let spec = |protected: Option<bool>,
                    policy: Option<&str>,
                    management: Option<&str>|
         -> AuraInstanceSpec {
            let mut v = serde_json::json!({
                "cloudProvider": "gcp", "region": "r", "type": "enterprise-db", "memory": "8GB",
                "instanceId": "0123abcd",
            });
            if let Some(p) = protected {
                v["deletionProtection"] = p.into();
            }
            if let Some(p) = policy {
                v["deletionPolicy"] = p.into();
            }
            if let Some(m) = management {
                v["managementPolicy"] = m.into();
            }
            serde_json::from_value(v).unwrap()
        };
        // (deletionProtection, deletionPolicy, managementPolicy, plan)
        let cases = [
            (None, Some("Orphan"), None, Orphan(Policy)),
            (None, Some("Delete"), None, Destroy),
            (None, None, None, Destroy),
            (None, Some("Delete"), Some("Full"), Destroy),
            (
                None,
                Some("Delete"),
                Some("ObserveOnly"),
                Orphan(ObserveOnly),
            ),
            (
                None,
                Some("Orphan"),
                Some("ObserveOnly"),
                Orphan(ObserveOnly),
            ),
            // Protected: never destroyed, whatever deletionPolicy says.
            (Some(true), Some("Delete"), None, Orphan(Protected)),
            (Some(true), None, None, Orphan(Protected)),
            (Some(true), Some("Orphan"), None, Orphan(Protected)),
            (
                Some(true),
                Some("Delete"),
                Some("ObserveOnly"),
                Orphan(Protected),
            ),
            // Protection lifted before the delete: deletionPolicy decides.
            (Some(false), Some("Delete"), None, Destroy),
            (Some(false), None, None, Destroy),
            (Some(false), Some("Orphan"), None, Orphan(Policy)),
        ];
        for (protected, policy, management, want) in cases {
            assert_eq!(
                deletion_plan(&spec(protected, policy, management)),
                want,
                "protected {protected:?} policy {policy:?} management {management:?}"
            );
        }
    }

    #[test]
    fn the_orphan_note_says_what_was_kept_and_why() {
        let protected = orphan_note(OrphanCause::Protected, Some("0123abcd"), "db-connection");
        assert!(protected.warning);
        assert_eq!(protected.reason, Reason::ProtectedInstanceOrphaned);
        for want in [
            "0123abcd",
            "kept",
            "deletionProtection was on",
            "db-connection",
        ] {
            assert!(protected.note.contains(want), "{want}: {}", protected.note);
        }
        let table = [
            (OrphanCause::Policy, "deletionPolicy: Orphan"),
            (OrphanCause::ObserveOnly, "ObserveOnly"),
        ];
        for (cause, why) in table {
            let n = orphan_note(cause, Some("0123abcd"), "db-connection");
            assert!(!n.warning, "{cause:?}");
            assert_eq!(n.reason, Reason::Orphaned, "{cause:?}");
            assert!(n.note.contains(why), "{cause:?}: {}", n.note);
            assert!(n.note.contains("0123abcd"), "{cause:?}: {}", n.note);
            assert!(
                !n.note.contains("deletionProtection"),
                "{cause:?}: {}",
                n.note
            );
        }
        let none = orphan_note(OrphanCause::Protected, None, "s");
        assert!(none.warning);
        assert!(
            none.note.contains("deletionProtection was on"),
            "{}",
            none.note
        );
        assert!(!none.note.contains("instanceId"), "{}", none.note);
        assert!(
            orphan_note(OrphanCause::Policy, None, "s")
                .note
                .contains("(none)")
        );
    }

    #[test]
    fn only_an_object_without_any_id_and_with_an_intent_searches() {
        let with_id = AuraInstanceStatus {
            instance_id: Some("i".into()),
            ..intent_status()
        };
        let table = [
            (intent_status(), None, Some("t")),
            (intent_status(), Some("pending"), None),
            (with_id, None, None),
            (AuraInstanceStatus::default(), None, None),
        ];
        for (status, pending, want) in table {
            assert_eq!(deletion_search(&status, pending), want, "{status:?}");
        }
    }

    #[test]
    fn the_target_is_recorded_then_pending_then_searched() {
        let now = t("2026-01-01T00:01:00Z");
        let grace = Duration::from_secs(120);
        let found = listed(&[
            ("old", "db", "2025-12-01T00:00:00Z"),
            ("new", "db", "2026-01-01T00:00:05Z"),
            ("other", "other", "2026-01-01T00:00:05Z"),
        ]);
        let claimed = vec!["taken".to_string()];
        let recorded = AuraInstanceStatus {
            instance_id: Some("rec".into()),
            ..intent_status()
        };
        let id = |id: &str, by_search| DeletionTarget::Instance {
            id: id.into(),
            found_by_search: by_search,
        };
        type Listed<'a> = Option<(&'a [InstanceSummary], &'a [String])>;
        // (what, status, held, pending, listed, now, target)
        type Row<'a> = (
            &'a str,
            AuraInstanceStatus,
            Option<&'a str>,
            Option<&'a str>,
            Listed<'a>,
            Timestamp,
            DeletionTarget,
        );
        let table: Vec<Row> = vec![
            (
                "recorded and held",
                recorded.clone(),
                Some("rec"),
                None,
                None,
                now,
                id("rec", false),
            ),
            (
                "held, whatever the status says",
                recorded.clone(),
                Some("held"),
                None,
                None,
                now,
                id("held", false),
            ),
            (
                "recorded, not held: never destroyed",
                recorded,
                None,
                None,
                None,
                now,
                DeletionTarget::NotHeld("rec".into()),
            ),
            (
                "pending",
                intent_status(),
                None,
                Some("p"),
                None,
                now,
                id("p", false),
            ),
            (
                "search finds the new one",
                intent_status(),
                None,
                None,
                Some((&found, &claimed)),
                now,
                id("new", true),
            ),
            (
                "nothing yet, within grace",
                intent_status(),
                None,
                None,
                Some((&found[..1], &claimed)),
                now,
                DeletionTarget::Wait(Duration::from_secs(5)),
            ),
            (
                "nothing after grace",
                intent_status(),
                None,
                None,
                Some((&found[..1], &claimed)),
                t("2026-01-01T00:05:00Z"),
                DeletionTarget::Nothing,
            ),
            (
                "no intent",
                AuraInstanceStatus::default(),
                None,
                None,
                None,
                now,
                DeletionTarget::Nothing,
            ),
        ];
        for (what, status, held, pending, listed, now, want) in table {
            assert_eq!(
                deletion_target(&status, held, pending, "db", listed, now, grace),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn a_claimed_search_result_is_looked_for_again_a_recorded_one_left() {
        assert_eq!(
            held_elsewhere(true),
            HeldElsewhere::LookAgain(Duration::from_secs(1))
        );
        assert_eq!(held_elsewhere(false), HeldElsewhere::LeaveIt);
    }

    #[test]
    fn destroy_waits_for_aura_and_ends_on_404() {
        let instance = |status: &str| -> Instance {
            serde_json::from_value(serde_json::json!({"id": "i", "status": status})).unwrap()
        };
        let table = [
            (None, DestroyStep::Gone),
            (Some(instance("running")), DestroyStep::Delete),
            (Some(instance("paused")), DestroyStep::Delete),
            (Some(instance("destroying")), DestroyStep::Wait),
            (Some(instance("Destroying")), DestroyStep::Wait),
        ];
        for (instance, want) in table {
            assert_eq!(destroy_step(instance.as_ref()), want, "{instance:?}");
        }
    }

    #[test]
    fn a_blocked_deletion_says_how_to_unblock_it() {
        let table = [
            (Reason::CredentialsNotFound, Reason::CredentialsMissing),
            (Reason::ProjectNotFound, Reason::CredentialsMissing),
            (Reason::CredentialsNotConfigured, Reason::CredentialsMissing),
            (Reason::NamespaceNotAllowed, Reason::NamespaceNotAllowed),
        ];
        for (cause, want) in table {
            let summary = deletion_blocked((cause, "no creds".into()));
            let (reason, message) = summary.stalled.unwrap();
            assert_eq!(reason, want, "{cause:?}");
            assert!(message.contains("restore the credentials"), "{message}");
            assert!(message.contains("deletionPolicy: Orphan"), "{message}");
        }
    }
}
