//! Plan (pure): what a pass reads, decided from what it already knows, so
//! that `observe` only carries the reads out and makes no choice of its own.

use super::compare::Compared;
use super::decide::{create_intent, wants_snapshot_first};
use crate::api::{Adoption, AuraInstanceSpec, AuraInstanceStatus};

/// What the pass asks Aura first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuraRead {
    /// `GET /instances/{id}`.
    Instance(String),
    /// The status names this instance but no claim gives it to the object:
    /// a status field is never believed (anyone with rights on `/status` can
    /// write one), so nothing is asked of Aura about it.
    Unheld(String),
    /// No instance yet: the tenant (and its catalogue); its instance list too
    /// when an earlier create's answer was lost (`list`).
    Tenant { list: bool },
}

/// Where the instance's id may come from, most trusted first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    /// The id this object holds the claim of: what the operator believes.
    pub held: Option<&'a str>,
    /// A create answer whose password is not stored yet.
    pub pending: Option<&'a str>,
    /// The id this process recorded a moment ago (not yet in the watch's copy).
    pub recorded: Option<&'a str>,
    /// `spec.instanceId`: an explicit adoption.
    pub adopt: Option<&'a str>,
}

/// The first read: the instance this object holds, else the one whose create
/// answer is in memory, else the one this process just recorded, else the
/// one the spec adopts. A status naming another (or one with no claim) is
/// not believed, and nothing is asked about it. Without any, the tenant.
pub fn aura_read(status: &AuraInstanceStatus, known: Known<'_>, adopting: bool) -> AuraRead {
    if let Some(id) = known
        .held
        .or(known.pending)
        .or(known.recorded)
        .or(known.adopt)
    {
        return AuraRead::Instance(id.to_string());
    }
    match status.instance_id.as_deref() {
        Some(id) => AuraRead::Unheld(id.to_string()),
        None => AuraRead::Tenant {
            list: create_intent(status).is_some() || adopting,
        },
    }
}

/// `adoption: AdoptOrCreate` before this object's first create: the tenant's
/// instances are searched for one to adopt.
pub fn searches_to_adopt(spec: &AuraInstanceSpec, status: &AuraInstanceStatus) -> bool {
    spec.adoption.unwrap_or_default() == Adoption::AdoptOrCreate
        && create_intent(status).is_none()
        && status.instance_id.is_none()
}

/// What the pass reads once Aura showed the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FollowUp {
    /// Who holds the instance's claim (an instance that sits elsewhere than
    /// the spec says is never claimed).
    pub claim: bool,
    /// The tenant's catalogue, to check a resize before it is sent.
    pub catalogue: bool,
    /// The AuraSnapshot that goes before a resize or upgrade.
    pub before_change: bool,
}

pub fn follow_up(spec: &AuraInstanceSpec, compared: &Compared) -> FollowUp {
    FollowUp {
        claim: compared.mismatch.is_none(),
        catalogue: compared.resizes(),
        before_change: wants_snapshot_first(spec, compared.next()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aura::UpdateInstanceRequest;
    use crate::kinds::instance::compare::SpecChange;

    fn status(id: Option<&str>, intent: bool) -> AuraInstanceStatus {
        AuraInstanceStatus {
            instance_id: id.map(str::to_string),
            create_requested_at: intent.then(|| "2026-12-01T00:00:00Z".to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn the_first_read_follows_what_is_known() {
        let instance = |id: &str| AuraRead::Instance(id.into());
        let known = |held, pending, recorded, adopt| Known {
            held,
            pending,
            recorded,
            adopt,
        };
        let mut recreating = status(Some("r1"), false);
        recreating.recreating_instance_id = Some("r1".into());
        // (what, status, known, read)
        let cases = [
            (
                "held, as the status says",
                status(Some("s"), false),
                known(Some("s"), Some("p"), Some("r"), Some("a")),
                instance("s"),
            ),
            (
                "held, whatever the status says",
                status(Some("forged"), false),
                known(Some("s"), None, None, None),
                instance("s"),
            ),
            (
                "a password waiting",
                status(None, true),
                known(None, Some("p"), Some("r"), None),
                instance("p"),
            ),
            (
                "recorded by this process",
                status(None, true),
                known(None, None, Some("r"), None),
                instance("r"),
            ),
            (
                "adopted",
                status(None, false),
                known(None, None, None, Some("a")),
                instance("a"),
            ),
            (
                "a status no claim backs",
                status(Some("forged"), false),
                Known::default(),
                AuraRead::Unheld("forged".into()),
            ),
            (
                "destroyed for a re-create, the claim let go",
                recreating,
                Known::default(),
                AuraRead::Unheld("r1".into()),
            ),
            (
                "nothing yet",
                status(None, false),
                Known::default(),
                AuraRead::Tenant { list: false },
            ),
            (
                "a lost create",
                status(None, true),
                Known::default(),
                AuraRead::Tenant { list: true },
            ),
        ];
        for (what, status, known, want) in cases {
            assert_eq!(aura_read(&status, known, false), want, "{what}");
        }
        // adoption: AdoptOrCreate lists the tenant before the first create,
        // and never outranks what is known.
        let adopting = |status: &AuraInstanceStatus, known| aura_read(status, known, true);
        assert_eq!(
            adopting(&status(None, false), Known::default()),
            AuraRead::Tenant { list: true }
        );
        assert_eq!(
            adopting(&status(None, false), known(Some("s"), None, None, None)),
            instance("s")
        );
    }

    #[test]
    fn only_adopt_or_create_before_any_create_searches_to_adopt() {
        let spec = |adoption| AuraInstanceSpec {
            adoption,
            ..serde_json::from_value(serde_json::json!({
                "cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db",
                "memory": "8GB"
            }))
            .unwrap()
        };
        let adopt = Some(Adoption::AdoptOrCreate);
        // (what, adoption, status, searches)
        let cases = [
            ("default", None, status(None, false), false),
            (
                "CreateOnly",
                Some(Adoption::CreateOnly),
                status(None, false),
                false,
            ),
            (
                "AdoptOrCreate, nothing yet",
                adopt,
                status(None, false),
                true,
            ),
            (
                "AdoptOrCreate, after its own create",
                adopt,
                status(None, true),
                false,
            ),
            (
                "AdoptOrCreate, with an instance",
                adopt,
                status(Some("a"), false),
                false,
            ),
        ];
        for (what, adoption, status, want) in cases {
            assert_eq!(searches_to_adopt(&spec(adoption), &status), want, "{what}");
        }
    }

    #[test]
    fn follow_up_reads_only_what_the_comparison_needs() {
        let resize = UpdateInstanceRequest {
            memory: Some("16GB".into()),
            ..Default::default()
        };
        let spec = |before: bool| AuraInstanceSpec {
            snapshots: Some(crate::api::SnapshotPolicy {
                before_changes: before,
                ..Default::default()
            }),
            ..serde_json::from_value(serde_json::json!({
                "cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db",
                "version": "5", "memory": "8GB"
            }))
            .unwrap()
        };
        let compared = |mismatch: bool, update: UpdateInstanceRequest| Compared {
            mismatch: mismatch.then(|| "elsewhere".to_string()),
            next: Some(if update == UpdateInstanceRequest::default() {
                SpecChange::None
            } else {
                SpecChange::Update(update.clone())
            }),
            update,
        };
        // (what, beforeChanges, mismatch, update, follow-up)
        let cases = [
            (
                "in sync",
                false,
                false,
                UpdateInstanceRequest::default(),
                FollowUp {
                    claim: true,
                    ..Default::default()
                },
            ),
            (
                "elsewhere: never claimed",
                false,
                true,
                UpdateInstanceRequest::default(),
                FollowUp::default(),
            ),
            (
                "a resize",
                false,
                false,
                resize.clone(),
                FollowUp {
                    claim: true,
                    catalogue: true,
                    before_change: false,
                },
            ),
            (
                "a resize with a snapshot first",
                true,
                false,
                resize,
                FollowUp {
                    claim: true,
                    catalogue: true,
                    before_change: true,
                },
            ),
        ];
        for (what, before, mismatch, update, want) in cases {
            assert_eq!(
                follow_up(&spec(before), &compared(mismatch, update)),
                want,
                "{what}"
            );
        }
    }
}
