//! Decide (pure): what one member object does next, from the person Aura
//! shows (their account and their role where the object grants one), the
//! invite pending for their email, and what the object's status records of
//! its own doing. A membership the object did not make is never changed
//! without `adopt`, and never removed: an adopted one gets its role back.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AuraMemberStatus, DeletionPolicy, MembershipOrigin};
use crate::kinds::shared::lost_create;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraProjectMember and AuraOrganizationMember conditions, defined once.
    pub enum MemberReason {
        ready: MemberActive = "Aura holds the role the spec names",
        idle: Idle,
        not_stalled: NotStalled,
        /// The person is being added, or their role set.
        Updating,
        /// The person has no account in the organization yet: an invite
        /// waits for them to accept it.
        InvitePending,
        /// The ClusterAuraProject does not exist or has no Aura project yet.
        WaitingForProject,
        CredentialsNotUsable,
        /// The credentials see no Aura organization.
        OrganizationNotFound,
        /// They see several and nothing names one.
        OrganizationAmbiguous,
        /// organizationId is not the organization of the named project.
        OrganizationMismatch,
        /// userId names nobody in the organization (an invite needs an email).
        UserNotFound,
        /// The person is a member already, not through this object, and
        /// adopt is not set: nothing is changed.
        MembershipExists,
        /// Another object of the kind stands for the same person in the
        /// same project or organization.
        MemberConflict,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Event: the person was added.
        MemberAdded,
        /// Event: the role was changed in Aura.
        RoleChanged,
        /// Event: a membership made elsewhere was taken over.
        MembershipAdopted,
        /// Event: an invite was sent.
        InviteSent,
        /// Event: a pending invite was deleted.
        InviteDeleted,
        /// Event: the person was removed.
        MemberRemoved,
        /// Event: an adopted membership got its original role back.
        RoleRestored,
    }
}

pub type MemberSummary = Progress<MemberReason>;

/// How often a pending invite is looked at again.
pub const INVITE_POLL: Duration = Duration::from_secs(30);
/// How often a missing project is looked for again.
pub const PROJECT_POLL: Duration = Duration::from_secs(10);
/// How often a stall that may clear by itself is looked at again.
pub const STALL_RETRY: Duration = Duration::from_secs(300);

/// The person as Aura shows them in the object's organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    /// Their role where the object grants one (the project, or the
    /// organization), in the object's vocabulary; `None`: no membership there.
    pub role: Option<String>,
}

/// What a pass saw in Aura.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub person: Option<Person>,
    /// The pending invite for the person's email (looked for only when they
    /// have no account).
    pub invite: Option<String>,
}

/// What the status records of the object's own doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub origin: Option<MembershipOrigin>,
    pub original_role: Option<String>,
    pub invite_id: Option<String>,
    /// An add or an invite was sent and its answer not seen.
    pub requested: bool,
}

impl Record {
    pub fn of(status: &AuraMemberStatus) -> Self {
        Self {
            origin: status.origin,
            original_role: status.original_role.clone(),
            invite_id: status.invite_id.clone(),
            requested: status.requested_at.is_some(),
        }
    }

    /// Whether a membership there now is this object's doing.
    fn made_it(&self) -> bool {
        self.origin.is_some() || self.requested || self.invite_id.is_some()
    }
}

/// The spec, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want<'a> {
    /// The role, in the object's vocabulary.
    pub role: &'a str,
    pub adopt: bool,
    /// Whether the spec names the person by email (so they can be invited).
    pub by_email: bool,
    /// The user id the spec names, if it names one.
    pub user_id: Option<&'a str>,
}

/// The next thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Aura holds the role; record the origin when it is new.
    Hold {
        user_id: String,
        origin: MembershipOrigin,
    },
    /// Add the person to the project (intent recorded first).
    Add {
        user_id: String,
    },
    /// Set the role; `adopt_from`: a membership made elsewhere, taken over,
    /// whose role is recorded before the change.
    SetRole {
        user_id: String,
        adopt_from: Option<String>,
    },
    /// Send an invite (intent recorded first).
    Invite,
    /// An invite is pending; `ours`: this object sent it.
    Wait {
        invite_id: String,
        ours: bool,
    },
    Stall(MemberReason, String),
}

/// The next step of a live object.
pub fn step(want: &Want<'_>, seen: &Seen, record: &Record) -> Step {
    let Some(person) = &seen.person else {
        if !want.by_email {
            let who = want.user_id.unwrap_or_default();
            return Step::Stall(
                MemberReason::UserNotFound,
                format!(
                    "user {who} is not in the organization; name the person by email to invite them"
                ),
            );
        }
        return match &seen.invite {
            Some(id) => Step::Wait {
                invite_id: id.clone(),
                ours: record.made_it(),
            },
            None => Step::Invite,
        };
    };
    let user_id = person.user_id.clone();
    let Some(held) = &person.role else {
        return Step::Add { user_id };
    };
    let same = held.eq_ignore_ascii_case(want.role);
    if record.made_it() {
        return if same {
            Step::Hold {
                user_id,
                origin: record.origin.unwrap_or(MembershipOrigin::Added),
            }
        } else {
            Step::SetRole {
                user_id,
                adopt_from: None,
            }
        };
    }
    if !want.adopt {
        return Step::Stall(
            MemberReason::MembershipExists,
            format!(
                "the person is a member already ({held}), not through this object; set spec.adopt to take the membership over (its role is put back when the object goes)"
            ),
        );
    }
    Step::SetRole {
        user_id,
        adopt_from: Some(held.clone()),
    }
}

/// Whether the person must be looked for once more before `step`: nobody
/// is seen, no invite is listed, yet the record says the object invited
/// them. People are listed before invites, so an invite accepted between the
/// two calls is in neither answer; a second listing of the people, after the
/// invites, shows the person who accepted it. Without it the object would
/// invite a member again and lose the membership it made.
pub fn look_again(seen: &Seen, record: &Record) -> bool {
    seen.person.is_none()
        && seen.invite.is_none()
        && (record.invite_id.is_some() || record.requested)
}

/// How Aura answered an invite, as the record needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteAnswer<'a> {
    /// Sent, with this id.
    Sent(&'a str),
    /// The person is a member already, or invited by someone else.
    Conflict,
    /// Refused otherwise, or not answered.
    Failed,
}

/// The invite the record names after an invite call, `earlier` being the
/// one it named before. On a conflict the earlier invite is kept: a person
/// who is a member already may be there through it, and that membership is
/// the object's.
pub fn invite_after(earlier: Option<&str>, answer: InviteAnswer<'_>) -> Option<String> {
    match answer {
        InviteAnswer::Sent(id) => Some(id.to_string()),
        InviteAnswer::Conflict => earlier.map(str::to_string),
        InviteAnswer::Failed => None,
    }
}

/// Whether an add or invite sent at `requested_at` may still show, within
/// `grace`.
pub fn request_may_show(requested_at: Option<&str>, now: Timestamp, grace: Duration) -> bool {
    lost_create::left(requested_at, now, grace).is_some()
}

/// One thing deleting the object does in Aura.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    /// Remove the person this object added.
    Remove { user_id: String },
    /// Give an adopted membership its original role back.
    Restore { user_id: String, role: String },
    /// Delete the invite this object sent, not yet accepted.
    DeleteInvite { id: String },
}

/// What deleting the object does, from its record and what Aura shows now.
/// Only what the object did is undone: an adopted membership gets its role
/// back whatever the policy, and nothing else of anyone is touched.
pub fn leave(policy: DeletionPolicy, record: &Record, seen: &Seen) -> Vec<Leave> {
    let member = seen
        .person
        .as_ref()
        .and_then(|p| p.role.as_ref().map(|r| (p.user_id.clone(), r.clone())));
    if record.origin == Some(MembershipOrigin::Adopted) {
        return match (member, &record.original_role) {
            (Some((user_id, held)), Some(role)) if !held.eq_ignore_ascii_case(role) => {
                vec![Leave::Restore {
                    user_id,
                    role: role.clone(),
                }]
            }
            _ => Vec::new(),
        };
    }
    if policy == DeletionPolicy::Orphan || !record.made_it() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some((user_id, _)) = member {
        out.push(Leave::Remove { user_id });
    }
    if let Some(id) = seen.invite.clone().or_else(|| record.invite_id.clone())
        && seen.person.is_none()
    {
        out.push(Leave::DeleteInvite { id });
    }
    out
}

/// An object of the kind as the conflict check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub name: String,
    /// The project or organization it grants a role in.
    pub scope: String,
    pub email: Option<String>,
    /// The spec's user id, or the one its status found.
    pub user_id: Option<String>,
    pub created: Option<Timestamp>,
}

impl Claimant {
    fn same_person(&self, other: &Claimant) -> bool {
        let email = matches!((&self.email, &other.email), (Some(a), Some(b)) if crate::aura::console::same_email(a, b));
        let id = matches!((&self.user_id, &other.user_id), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
        email || id
    }

    /// Whether this one came first (older, then by name).
    fn before(&self, other: &Claimant) -> bool {
        match (self.created, other.created) {
            (Some(a), Some(b)) if a != b => a < b,
            _ => self.name < other.name,
        }
    }
}

/// The older object standing for the same person in the same scope, if any:
/// one person, one role, one object that says it.
pub fn conflict(me: &Claimant, others: &[Claimant]) -> Option<String> {
    others
        .iter()
        .filter(|o| o.name != me.name && o.scope == me.scope && me.same_person(o))
        .filter(|o| o.before(me))
        .map(|o| {
            format!(
                "{} already stands for this person here; one object per person",
                o.name
            )
        })
        .next()
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
