//! Decide (pure): what one AuraDatabaseUser does next and what its status
//! says. One step per pass, each safe to repeat and to be cut off after:
//! a user's name is recorded in status before the statement that makes it,
//! and the Secret is the truth about which login is live (a pass that finds
//! the Secret holding the other user finishes the rotation it belonged to).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::api::AuraDatabaseUserStatus;
use crate::query_api::admin::UserRow;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraDatabaseUser conditions and events, defined once.
    pub enum UserReason {
        ready: LoginWorks = "the user exists, the Secret holds its login and the database accepts it",
        idle: Idle,
        not_stalled: NotStalled,
        /// No AuraInstance of that name in the namespace.
        InstanceNotFound,
        /// The AuraInstance has no Aura instance yet, or is not Ready.
        InstanceNotReady,
        InstancePaused,
        /// The AuraInstance is being deleted.
        InstanceDeleting,
        /// The AuraInstance's connection Secret has no admin password.
        InstancePasswordUnavailable,
        /// Roles named on a tier without role-based access control.
        RolesNotSupported,
        /// A role the spec names does not exist in the database.
        RoleNotFound,
        /// A user of this name exists and was not made for this object.
        UserExists,
        /// The instance's admin login was refused (see the AuraInstance's CredentialsVerified).
        AuthenticationFailed,
        /// The database did not answer.
        Unreachable,
        /// The database refused a statement (its code and message follow).
        DatabaseRefused,
        /// The Secret of that name belongs to something else.
        SecretNotOwned,
        /// A Secret nobody owns holds this object's login, and the database
        /// refused it: it is not taken over.
        SecretNotTrusted,
        /// Event: a restored Secret whose login works was taken over.
        SecretTakenOver,
        /// spec.rotation.schedule or gracePeriod does not parse.
        InvalidRotation,
        /// An extraKeys template does not render.
        InvalidTemplate,
        /// Making the user or giving it its password.
        Creating,
        /// A step of a rotation, or of a repair of the Secret's login.
        Rotating,
        /// Granting or revoking roles.
        GrantingRoles,
        /// Deleting: dropping the users this object made.
        Dropping,
        /// Event: a user was created.
        UserCreated,
        /// Event: the Secret switched to a login with a fresh password.
        PasswordRotated,
        /// Event: the Secret's login did not work and got a fresh password.
        LoginRepaired,
        /// Event: a previous login's grace period ended; its password was replaced.
        PreviousLoginRetired,
        /// Event: the users were dropped.
        UsersDropped,
    }
}

pub type UserSummary = Progress<UserReason>;

/// What the AuraInstance says, before anything is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceGate {
    NotFound,
    Deleting,
    Paused,
    /// Not Ready, or no Aura instance yet; its Ready message.
    NotReady(String),
    /// Ready, holding `instance_id`; its tier grants roles or not.
    Ready {
        instance_id: String,
        rbac: bool,
    },
}

/// The Secret named by the spec, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSeen {
    Absent,
    /// It exists and this object does not control it.
    Foreign,
    /// Nobody controls it and it holds the login of one of this object's
    /// user names: a Secret restored after a rebuild of the management
    /// cluster (or brought back by an external store). Taken over only on
    /// the database's yes.
    Restored {
        username: String,
    },
    /// This object's: the login it holds, if any, and whether its type is
    /// the format's.
    Ours {
        username: Option<String>,
        type_matches: bool,
    },
}

/// What the database said about the Secret's login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    NotAsked,
    Accepted,
    Refused,
    Unreachable(String),
}

/// Everything a pass saw, for [`decide`].
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub now: Timestamp,
    /// The user and its rotation partner.
    pub names: &'a [String; 2],
    pub status: &'a AuraDatabaseUserStatus,
    pub roles: &'a [String],
    pub adopt: bool,
    pub rotate_requested: Option<&'a str>,
    /// The schedule's latest slot after the last password change, if one is due;
    /// and when the next slot comes.
    pub schedule: Schedule,
    pub grace: SignedDuration,
    pub secret: &'a SecretSeen,
    /// The users of `names` that exist (`SHOW USERS`).
    pub users: &'a [UserRow],
    /// The roles of the spec that exist (asked only where roles are granted).
    pub existing_roles: Option<&'a [String]>,
    pub login: &'a LoginCheck,
    pub rbac: bool,
}

/// What the rotation schedule says now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schedule {
    pub due: bool,
    /// When the next slot comes (for the status and the requeue).
    pub next: Option<Timestamp>,
}

/// Why a login gets a fresh password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The object's first user (made, or adopted).
    First,
    /// A rotation: the Secret moves to the other user.
    Rotation,
    /// The Secret is missing or its login does not work.
    Repair,
}

/// The one step of this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Record users in status before anything makes them (or as adopted).
    Record { users: Vec<String>, adopted: bool },
    /// Give `user` a fresh password (`create`: make it first), write the
    /// Secret with it, then record it as the live login.
    SetLogin {
        user: String,
        create: bool,
        why: Why,
    },
    /// The Secret already holds `user` (a pass was cut off after writing
    /// it): record it as the live login.
    Promote { user: String },
    /// Grant and revoke roles of the object's users.
    Roles {
        grant: Vec<(String, String)>,
        revoke: Vec<(String, String)>,
    },
    /// The previous login's grace period ended: a password nobody knows.
    Retire { user: String },
    /// A restored Secret holds `user`'s working login: record the users
    /// that exist as this object's, and take the Secret over with its
    /// password (no new password).
    Reclaim { user: String, users: Vec<String> },
    /// Nothing to do.
    Settled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub step: Step,
    /// The status after the step, if it goes through.
    pub summary: UserSummary,
    /// When to look again (`None`: only on a change).
    pub requeue: Option<Duration>,
}

/// How soon the next step of a multi-pass change runs.
pub const NEXT_STEP: Duration = Duration::from_millis(200);
/// How long a wait on something else lasts before looking again.
pub const WAIT: Duration = Duration::from_secs(15);
/// How often a settled login is checked again.
pub const SETTLED: Duration = Duration::from_secs(600);

/// The built-in role every user holds, never revoked.
const PUBLIC: &str = "PUBLIC";

/// The instance's admin login is never one of this object's users: adopting
/// it would take over (and rotate) the password every admin-login client and
/// the operator itself use.
pub fn admin_name(names: &[String; 2], admin: &str) -> Option<UserSummary> {
    names.iter().any(|n| n == admin).then(|| {
        Progress::stalled(
            UserReason::UserExists,
            format!(
                "{admin} is the AuraInstance's admin login: an AuraDatabaseUser never makes, adopts or rotates it (rotate it with the AuraInstance's adminPasswordRotation); choose another spec.username"
            ),
        )
    })
}

/// What the AuraInstance and the spec say before any call: a wait or a
/// stall, or nothing in the way.
pub fn gate(
    instance: &InstanceGate,
    roles: &[String],
    conflict: Option<&str>,
    rotation_problem: Option<&str>,
) -> Option<UserSummary> {
    if let Some(other) = conflict {
        return Some(Progress::stalled(
            UserReason::UserExists,
            format!(
                "the AuraDatabaseUser {other} of this namespace already manages this user name (or its rotation partner) in the same AuraInstance; one object per user"
            ),
        ));
    }
    if let Some(problem) = rotation_problem {
        return Some(Progress::stalled(UserReason::InvalidRotation, problem));
    }
    match instance {
        InstanceGate::NotFound => Some(Progress::working(
            UserReason::InstanceNotFound,
            "the AuraInstance named by spec.instanceRef does not exist in this namespace; waiting for it",
        )),
        InstanceGate::Deleting => Some(Progress::working(
            UserReason::InstanceDeleting,
            "the AuraInstance is being deleted",
        )),
        InstanceGate::Paused => Some(Progress::working(
            UserReason::InstancePaused,
            "the AuraInstance is paused: its database cannot be asked until it resumes",
        )),
        InstanceGate::NotReady(why) => Some(Progress::working(
            UserReason::InstanceNotReady,
            format!("waiting for the AuraInstance to be Ready ({why})"),
        )),
        InstanceGate::Ready { rbac, .. } if !rbac && !roles.is_empty() => Some(Progress::stalled(
            UserReason::RolesNotSupported,
            "spec.roles needs role-based access control, which this instance's tier does not have (only business-critical and enterprise-db do; on the others every user has full rights): remove spec.roles. Nothing was called",
        )),
        InstanceGate::Ready { .. } => None,
    }
}

/// The step of this pass, from what it saw: the first of the checks below
/// that has something to do.
pub fn decide(o: &Observation<'_>) -> Decision {
    let seen = Seen::of(o);
    reclaim(o, &seen)
        .or_else(|| promote_cut_off(o, &seen))
        .or_else(|| strangers(o, &seen))
        .or_else(|| make_live(&seen))
        .or_else(|| repair(o, &seen))
        .or_else(|| roles(o, &seen))
        .unwrap_or_else(|| retire_or_rotate(o, &seen))
}

/// What every check asks of the observation.
struct Seen<'a> {
    o: &'a Observation<'a>,
    /// The login the Secret should hold.
    live: String,
    /// The rotation partner of `live`.
    other: String,
}

impl<'a> Seen<'a> {
    fn of(o: &'a Observation<'a>) -> Self {
        let [first, second] = o.names;
        let live = o
            .status
            .username
            .as_deref()
            .filter(|u| o.names.iter().any(|n| n == u))
            .unwrap_or(first)
            .to_string();
        let other = if &live == first { second } else { first }.clone();
        Self { o, live, other }
    }

    fn exists(&self, name: &str) -> bool {
        self.o.users.iter().any(|u| u.user == name)
    }

    fn ours(&self, name: &str) -> bool {
        self.o.status.users.iter().any(|u| u == name)
    }
}

/// A rebuild: the Secret came back from a backup with the login of one of
/// this object's user names, and nothing is recorded yet. The login the
/// database accepts is kept (its applications already use it); one it
/// refuses is never taken over.
fn reclaim(o: &Observation<'_>, s: &Seen<'_>) -> Option<Decision> {
    let SecretSeen::Restored { username } = o.secret else {
        return None;
    };
    let not_taken = |why: &str| Decision {
        step: Step::Settled,
        summary: Progress::stalled(
            UserReason::SecretNotTrusted,
            format!(
                "the Secret holds the login of {username} and no object owns it, but {why}: it is never changed; delete it (a new password is then made) or write the working login into it"
            ),
        ),
        requeue: Some(SETTLED),
    };
    if !o.status.users.is_empty() {
        return Some(not_taken("this object has made users of its own since"));
    }
    match o.login {
        LoginCheck::Accepted if s.exists(username) => {
            let users = o.names.iter().filter(|n| s.exists(n)).cloned().collect();
            Some(step(
                Step::Reclaim {
                    user: username.clone(),
                    users,
                },
                Progress::working(
                    UserReason::Creating,
                    format!("taking over the restored Secret with the working login of {username}"),
                ),
                NEXT_STEP,
            ))
        }
        LoginCheck::Unreachable(why) => Some(Decision {
            step: Step::Settled,
            summary: Progress::working(
                UserReason::Unreachable,
                format!(
                    "the database did not answer the check of the restored Secret's login: {why}"
                ),
            ),
            requeue: Some(WAIT),
        }),
        _ => Some(not_taken("the database refused its login")),
    }
}

/// A Secret that says the other user is live: a rotation (or repair) was
/// cut off after its Secret write. The Secret is the truth.
fn promote_cut_off(o: &Observation<'_>, s: &Seen<'_>) -> Option<Decision> {
    let SecretSeen::Ours {
        username: Some(held),
        ..
    } = o.secret
    else {
        return None;
    };
    (held != &s.live && o.names.contains(held) && s.ours(held) && s.exists(held)).then(|| {
        step(
            Step::Promote { user: held.clone() },
            Progress::working(UserReason::Rotating, "recording the login the Secret holds"),
            NEXT_STEP,
        )
    })
}

/// Only the object's own users are touched: one made by someone else is
/// refused, or adopted when the spec says so.
fn strangers(o: &Observation<'_>, s: &Seen<'_>) -> Option<Decision> {
    let strangers: Vec<&String> = o
        .names
        .iter()
        .filter(|n| s.exists(n) && !s.ours(n))
        .collect();
    if strangers.is_empty() {
        return None;
    }
    let names = strangers
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if o.adopt {
        return Some(step(
            Step::Record {
                users: strangers.into_iter().cloned().collect(),
                adopted: true,
            },
            Progress::working(UserReason::Creating, format!("adopting {names}")),
            NEXT_STEP,
        ));
    }
    Some(Decision {
        step: Step::Settled,
        summary: Progress::stalled(
            UserReason::UserExists,
            format!(
                "the database already has a user {names} that this object did not make: choose another spec.username, or set spec.adopt: true to take it over (it gets a new password)"
            ),
        ),
        requeue: Some(SETTLED),
    })
}

/// The live user, made if missing (its name recorded first).
fn make_live(s: &Seen<'_>) -> Option<Decision> {
    let live = &s.live;
    if s.exists(live) {
        return None;
    }
    let working = Progress::working(UserReason::Creating, format!("creating user {live}"));
    if !s.ours(live) {
        return Some(step(
            Step::Record {
                users: vec![live.clone()],
                adopted: false,
            },
            working,
            NEXT_STEP,
        ));
    }
    Some(step(
        Step::SetLogin {
            user: live.clone(),
            create: true,
            why: Why::First,
        },
        working,
        NEXT_STEP,
    ))
}

/// The Secret must hold the live login, and the database must take it.
fn repair(o: &Observation<'_>, s: &Seen<'_>) -> Option<Decision> {
    let live = &s.live;
    let secret_ok = matches!(
        o.secret,
        SecretSeen::Ours { username: Some(held), type_matches: true } if held == live
    );
    if !secret_ok || *o.login == LoginCheck::Refused {
        let why = if o.status.username.is_none() {
            Why::First
        } else {
            Why::Repair
        };
        return Some(step(
            Step::SetLogin {
                user: live.clone(),
                create: false,
                why,
            },
            Progress::working(
                UserReason::Rotating,
                format!("giving {live} a fresh password and writing the Secret"),
            ),
            NEXT_STEP,
        ));
    }
    let LoginCheck::Unreachable(why) = o.login else {
        return None;
    };
    Some(Decision {
        step: Step::Settled,
        summary: Progress::working(
            UserReason::Unreachable,
            format!("the database did not answer a login check: {why}"),
        ),
        requeue: Some(WAIT),
    })
}

/// Roles follow the spec, where the tier has them.
fn roles(o: &Observation<'_>, s: &Seen<'_>) -> Option<Decision> {
    if !o.rbac {
        return None;
    }
    let existing = o.existing_roles.unwrap_or_default();
    let missing: Vec<&str> = o
        .roles
        .iter()
        .filter(|r| !existing.contains(r))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Some(Decision {
            step: Step::Settled,
            summary: Progress::stalled(
                UserReason::RoleNotFound,
                format!(
                    "spec.roles names roles the database does not have: {} (create them first, or use built-in ones such as reader, editor, publisher, architect)",
                    missing.join(", ")
                ),
            ),
            requeue: Some(WAIT),
        });
    }
    let mut grant = Vec::new();
    let mut revoke = Vec::new();
    for user in o.users.iter().filter(|u| s.ours(&u.user)) {
        let held = user.roles.clone().unwrap_or_default();
        for role in o.roles.iter().filter(|r| !held.contains(r)) {
            grant.push((role.clone(), user.user.clone()));
        }
        for role in held {
            if role != PUBLIC && !o.roles.contains(&role) {
                revoke.push((role, user.user.clone()));
            }
        }
    }
    (!grant.is_empty() || !revoke.is_empty()).then(|| {
        step(
            Step::Roles { grant, revoke },
            Progress::working(UserReason::GrantingRoles, "granting and revoking roles"),
            NEXT_STEP,
        )
    })
}

/// The previous login once its grace period is over; then a rotation,
/// once no previous login is in its grace period; else settled.
fn retire_or_rotate(o: &Observation<'_>, s: &Seen<'_>) -> Decision {
    let mut wake: Option<Timestamp> = o.schedule.next;
    if let Some(retiring) = &o.status.retiring {
        let until = retiring.until.parse::<Timestamp>().unwrap_or(o.now);
        if until <= o.now && s.exists(&retiring.username) && s.ours(&retiring.username) {
            return step(
                Step::Retire {
                    user: retiring.username.clone(),
                },
                Progress::ready(),
                NEXT_STEP,
            );
        }
        if until > o.now {
            wake = Some(wake.map_or(until, |w| w.min(until)));
        }
    }
    let requested =
        o.rotate_requested.is_some() && o.rotate_requested != o.status.rotate_requested.as_deref();
    if (requested || o.schedule.due) && o.status.retiring.is_none() {
        let other = &s.other;
        let working = Progress::working(UserReason::Rotating, format!("rotating to {other}"));
        let next = if s.ours(other) {
            Step::SetLogin {
                user: other.clone(),
                create: !s.exists(other),
                why: Why::Rotation,
            }
        } else {
            Step::Record {
                users: vec![other.clone()],
                adopted: false,
            }
        };
        return step(next, working, NEXT_STEP);
    }
    let requeue = wake
        .map(|w| o.now.duration_until(w).unsigned_abs().max(NEXT_STEP))
        .map_or(SETTLED, |d| d.min(SETTLED));
    Decision {
        step: Step::Settled,
        summary: Progress::ready(),
        requeue: Some(requeue),
    }
}

fn step(step: Step, summary: UserSummary, requeue: Duration) -> Decision {
    Decision {
        step,
        summary,
        requeue: Some(requeue),
    }
}

/// The status once `user` is the live login with a fresh password: a
/// rotation (or a promotion after one) puts the previous login in its grace
/// period.
pub fn promote(
    status: &mut AuraDatabaseUserStatus,
    user: &str,
    now: Timestamp,
    grace: SignedDuration,
    rotate_requested: Option<&str>,
) {
    let previous = status.username.replace(user.to_string());
    if let Some(previous) = previous.filter(|p| p != user) {
        status.rotations += 1;
        status.retiring = Some(crate::api::RetiringLogin {
            username: previous,
            until: now.saturating_add(grace).unwrap_or(now).to_string(),
        });
    }
    status.password_changed_at = Some(now.to_string());
    status.rotate_requested = rotate_requested.map(str::to_string);
}

/// The grace period of the spec (default one hour).
pub fn grace_period(spec: Option<&str>) -> Result<SignedDuration, String> {
    match spec {
        None => Ok(SignedDuration::from_hours(1)),
        Some(text) => text
            .parse::<SignedDuration>()
            .ok()
            .filter(|d| !d.is_negative() && *d <= SignedDuration::from_hours(168))
            .ok_or_else(|| {
                format!("spec.rotation.gracePeriod {text:?} is not a duration such as 1h, 30m or 1h30m (at most 168h)")
            }),
    }
}

/// What deleting the object does, from the policy and the instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    /// Keep the users; the Secret loses its owner reference.
    Orphan,
    /// The instance is gone or going (or its namespace is): nothing to drop.
    Nothing,
    /// Wait for the instance to be reachable.
    Wait(UserSummary),
    /// Drop these users.
    Drop(Vec<String>),
}

pub fn deletion(
    orphan: bool,
    instance: &InstanceGate,
    namespace_going: bool,
    status: &AuraDatabaseUserStatus,
) -> Deletion {
    if orphan {
        return Deletion::Orphan;
    }
    let made: Vec<String> = status
        .users
        .iter()
        .filter(|u| !status.adopted.contains(u))
        .cloned()
        .collect();
    if made.is_empty() {
        return Deletion::Nothing;
    }
    match instance {
        InstanceGate::NotFound | InstanceGate::Deleting => Deletion::Nothing,
        _ if namespace_going => Deletion::Nothing,
        InstanceGate::Ready { .. } => Deletion::Drop(made),
        other => Deletion::Wait(gate(other, &[], None, None).unwrap_or_else(|| {
            Progress::working(UserReason::Dropping, "waiting to drop the users")
        })),
    }
}

#[cfg(test)]
mod tests;
