//! Finish (pure): from the decision and what the calls came to, the status
//! to write, the events to send, and what the pass adds to its requeue.
//! What the status said before is read back once, typed, through
//! `reconciler::status::Said`; nothing here compares a condition's words.

use std::time::Duration;

use jiff::Timestamp;

use super::decide::{self, Action, AdoptCause, Decision, Reason, StatusSummary};
use super::schedule::{self, Made, Scheduled};
use super::secret;
use super::status::{self, DRIFTED};
use super::verify;
use crate::api::{AuraInstance, AuraInstanceStatus, LastSnapshot, MAX_RECREATIONS};
use crate::aura::Instance;
use crate::reconciler::status::{Said, true_condition};

/// An event the pass sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Normal(Reason, String),
    Warning(Reason, String),
    /// --dry-run skipped this mutating call (its own reason per operation).
    DryRun {
        operation: &'static str,
        what: String,
    },
}

/// What the act phase came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acted {
    /// No call was made (nothing to do, or a report only).
    Nothing,
    /// The connection Secret was written; `replaced`: the type it was
    /// replaced for (a Secret's type cannot change).
    SecretWritten { replaced: Option<String> },
    /// The instance of an unanswered create, or the one adoption:
    /// AdoptOrCreate found, was claimed.
    Adopted {
        instance_id: String,
        cause: AdoptCause,
    },
    /// Another object's search claimed that instance a moment ago.
    AdoptRaced,
    /// The instance whose password was lost was sent to be destroyed.
    Recreated { instance_id: String },
    /// The instance destroyed for a re-create is gone and forgotten.
    Forgot,
    /// The AuraSnapshot before a change was asked for.
    SnapshotFirst { name: String, made: Made },
    /// An update, pause, resume or upgrade was sent.
    Sent,
}

/// Everything `finish` looks at.
pub struct Finishing<'a> {
    pub obj: &'a AuraInstance,
    pub current: &'a AuraInstanceStatus,
    pub decision: &'a Decision,
    pub acted: &'a Acted,
    /// The instance Aura reported, and the id it was read by.
    pub found: Option<&'a Instance>,
    pub instance_id: Option<&'a str>,
    pub claimed_elsewhere: bool,
    pub check: &'a verify::Check,
    pub verify_interval: Duration,
    pub scheduled: Option<&'a Scheduled>,
    pub now: Timestamp,
}

/// The end of a pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub status: AuraInstanceStatus,
    pub events: Vec<Event>,
    /// Ready for the first time (not a recovery): time to Ready counts.
    pub first_ready: bool,
    /// Sooner than the decision's own requeue: the credential check's or
    /// the schedule's.
    pub sooner: Option<Duration>,
}

pub fn finish(f: &Finishing<'_>) -> Finish {
    let mut events = Vec::new();
    let mut next = f.current.clone();
    let recordable = decide::may_record(f.decision, f.claimed_elsewhere);
    if let (Some(id), Some(found), true) = (f.instance_id, f.found, recordable)
        && next.instance_id.as_deref() != Some(id)
    {
        // The first poll after a create records what the create answer would
        // have: a GET that leaves the URL out still gets the instance's own.
        // A status that named another instance than the claim is corrected.
        if next.instance_id.is_some() || next.connection_url.is_none() {
            next.connection_url = Some(secret::connection_url(id, found.connection_url.as_deref()));
        }
        next.instance_id = Some(id.to_string());
    }
    acted(f, &mut next, &mut events);
    if let (Some(found), true) = (f.found, recordable) {
        decide::record_observed(&mut next, found);
    }
    // Once Ready, the instance is in use: never re-created for its password.
    if f.decision.status.is_ready() {
        next.lost_create_instance_id = None;
    }
    let mut built = status::build(f.obj, &next, &f.decision.status, Some(f.current));
    drifted(f, &mut built, &mut events);
    let facts = verify::Facts {
        secret_name: &f.obj.connection_secret_name(),
        format: f.obj.secret_format(),
        generation: f.obj.metadata.generation,
        now: f.now,
        interval: f.verify_interval,
    };
    if let Some(note) = verify::apply(&mut built, f.check, &facts) {
        events.push(Event::Warning(Reason::CredentialsRejected, note));
    }
    let first_ready = transition(f.current, &f.decision.status, &mut events);
    let mut sooner = f.check.sooner();
    if let Some(made) = f.scheduled {
        scheduled(made, &mut built, &mut events);
        let after = schedule::after_taking(f.obj, made.slot, f.now);
        sooner = Some(sooner.map_or(after, |s| s.min(after)));
    }
    Finish {
        status: built,
        events,
        first_ready,
        sooner,
    }
}

/// The fields and events of what the calls did.
fn acted(f: &Finishing<'_>, next: &mut AuraInstanceStatus, events: &mut Vec<Event>) {
    match f.acted {
        Acted::Nothing | Acted::AdoptRaced => {}
        Acted::SecretWritten { replaced } => {
            if let Some(type_) = replaced {
                let name = f.obj.connection_secret_name();
                events.push(Event::Normal(
                    Reason::SecretReplaced,
                    format!("Secret {name} was replaced: its new format needs Secret type {type_}"),
                ));
            }
        }
        Acted::Adopted {
            instance_id,
            cause: AdoptCause::LostCreate,
        } => {
            next.instance_id = Some(instance_id.clone());
            next.lost_create_instance_id = Some(instance_id.clone());
            events.push(Event::Normal(
                Reason::Adopted,
                format!(
                    "found Aura instance {instance_id} created by an earlier, unanswered create"
                ),
            ));
        }
        Acted::Adopted {
            instance_id,
            cause: AdoptCause::Rebuild,
        } => {
            next.instance_id = Some(instance_id.clone());
            next.adopted_at = Some(f.now.to_string());
            events.push(Event::Normal(
                Reason::Adopted,
                format!(
                    "adopted Aura instance {instance_id} (adoption: AdoptOrCreate): the one instance of this name, type and place that no AuraInstance here held; nothing was created"
                ),
            ));
        }
        Acted::Recreated { instance_id } => {
            let done = f.current.recreations.unwrap_or(0) + 1;
            next.recreations = Some(done);
            next.recreating_instance_id = Some(instance_id.clone());
            next.lost_create_instance_id = None;
            events.push(Event::Warning(
                Reason::Recreating,
                format!(
                    "destroying Aura instance {instance_id}: its password was lost with the create answer and it holds no data; it is created again (re-creation {done} of {MAX_RECREATIONS}, passwordRecovery: Recreate)"
                ),
            ));
        }
        Acted::Forgot => {
            next.instance_id = None;
            next.recreating_instance_id = None;
            next.connection_url = None;
            next.aura_status = None;
            decide::clear_intent(next);
        }
        Acted::SnapshotFirst { name, made } => {
            if *made == Made::NameTaken {
                events.push(name_taken(name));
            }
            next.last_snapshot = Some(LastSnapshot {
                name: name.clone(),
                taken_at: Some(f.now.to_string()),
            });
            events.push(Event::Normal(
                Reason::SnapshotBeforeChange,
                format!("made AuraSnapshot {name} before the change"),
            ));
        }
        Acted::Sent => events.extend(operation_event(&f.decision.action, &f.decision.status)),
    }
    if let Action::DryRun { operation, what } = &f.decision.action {
        // Once per change of what would be sent, not at every resync.
        let said = Said::<Reason>::of(&f.current.conditions);
        if said.reconciling != f.decision.status.reconciling {
            events.push(Event::DryRun {
                operation,
                what: what.clone(),
            });
        }
    }
}

/// The event of an operation sent to Aura: what was put back when it
/// corrects a change made outside the operator, else what was asked.
fn operation_event(action: &Action, summary: &StatusSummary) -> Option<Event> {
    let (reason, drift) = match action {
        Action::Update { drift, .. } => (Reason::Updating, drift),
        Action::Pause { drift, .. } => (Reason::Pausing, drift),
        Action::Resume { drift, .. } => (Reason::Resuming, drift),
        Action::Upgrade { .. } => (Reason::Upgrading, &None),
        _ => return None,
    };
    Some(match drift {
        Some(note) => Event::Normal(Reason::DriftCorrected, note.clone()),
        None => {
            let what = summary
                .reconciling
                .as_ref()
                .map_or(reason.as_str(), |(_, m)| m.as_str());
            Event::Normal(reason, what.to_string())
        }
    })
}

/// The Drifted condition belongs to ObserveOnly: set by its report, kept as
/// it was while the Secret is written, gone under managementPolicy Full.
fn drifted(f: &Finishing<'_>, built: &mut AuraInstanceStatus, events: &mut Vec<Event>) {
    match &f.decision.action {
        Action::Observe { drifted } => {
            let before = true_condition(&f.current.conditions, DRIFTED).map(|c| &c.message);
            status::set_drifted(built, Some(drifted), f.obj.metadata.generation, f.now);
            let after = true_condition(&built.conditions, DRIFTED).map(|c| &c.message);
            if let Some(message) = after.filter(|m| Some(*m) != before) {
                events.push(Event::Warning(Reason::Drifted, message.clone()));
            }
        }
        Action::WriteSecret => {}
        _ => status::clear_drifted(built),
    }
}

/// Events of the three conditions' transitions: a new reason for a human to
/// act (Stalled) gets one Warning; Ready reached gets one event. Returns
/// whether Ready was reached for the first time (not a recovery).
pub fn transition(
    before: &AuraInstanceStatus,
    after: &StatusSummary,
    events: &mut Vec<Event>,
) -> bool {
    let said = Said::<Reason>::of(&before.conditions);
    if let Some((reason, message)) = &after.stalled
        && said.stalled != Some(*reason)
    {
        events.push(Event::Warning(*reason, message.clone()));
    }
    if !after.is_ready() || said.is_ready() {
        return false;
    }
    events.push(Event::Normal(
        Reason::Ready,
        "the instance is running and its connection Secret is complete".into(),
    ));
    // Time to Ready counts the first time only, not a recovery.
    !matches!(
        said.ready_reason,
        Some(Reason::PasswordUnavailable | Reason::Paused)
    )
}

/// A scheduled snapshot made this pass.
fn scheduled(made: &Scheduled, built: &mut AuraInstanceStatus, events: &mut Vec<Event>) {
    let (name, slot) = (&made.name, made.slot);
    if made.made == Made::NameTaken {
        events.push(name_taken(name));
    }
    built.last_snapshot = Some(LastSnapshot {
        name: name.clone(),
        taken_at: Some(slot.to_string()),
    });
    let note = if made.pruned.is_empty() {
        format!("made AuraSnapshot {name} for the slot of {slot}")
    } else {
        format!(
            "made AuraSnapshot {name} for the slot of {slot}; pruned {}",
            made.pruned.join(", ")
        )
    };
    events.push(Event::Normal(Reason::SnapshotScheduled, note));
}

/// The snapshot's name is held by an object that is not this instance's.
fn name_taken(name: &str) -> Event {
    Event::Warning(
        Reason::SnapshotNameTaken,
        format!(
            "AuraSnapshot {name} exists and is not this instance's: no snapshot was made under that name; delete or rename that object"
        ),
    )
}

/// A pass that stops for a person: the stall in status, and its event.
pub fn stalled(obj: &AuraInstance, reason: Reason, message: String) -> Finish {
    let current = obj.status.clone().unwrap_or_default();
    let summary = StatusSummary::stalled(reason, message);
    let mut events = Vec::new();
    transition(&current, &summary, &mut events);
    Finish {
        status: status::build(obj, &current, &summary, Some(&current)),
        events,
        first_ready: false,
        sooner: None,
    }
}

/// Aura cannot be reached: an object that is not Ready says why, once per
/// outage; a Ready one stays Ready, as its database most likely still runs.
pub fn unreachable(obj: &AuraInstance, error: &str) -> Option<AuraInstanceStatus> {
    let current = obj.status.clone().unwrap_or_default();
    let said = Said::<Reason>::of(&current.conditions);
    if said.is_ready() || said.ready_reason == Some(Reason::AuraUnreachable) {
        return None;
    }
    let summary = status::aura_unreachable(current.phase, error);
    Some(status::build(obj, &current, &summary, Some(&current)))
}

#[cfg(test)]
mod tests;
