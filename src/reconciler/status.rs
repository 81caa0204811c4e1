//! Status in kstatus terms (Ready, Reconciling, Stalled) for every kind, and
//! the one status writer: server-side apply with the one field manager,
//! written only when it changed.

use std::fmt::Debug;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::{FIELD_MANAGER, Kind, KindStatus, ReconcileError, Result};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// A condition's status, as a value: code compares these, never the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    True,
    False,
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }

    /// A condition's status word; anything else is Unknown (as kstatus reads it).
    pub fn of(condition: &Condition) -> Self {
        match condition.status.as_str() {
            "True" => Self::True,
            "False" => Self::False,
            _ => Self::Unknown,
        }
    }
}

/// A kind's condition (and event) reasons: an enum, matched as values; the
/// text is only what goes into a condition or an event. Declared with
/// [`reasons!`](crate::reasons).
pub trait ReasonCode: Copy + Eq + Debug + Send + Sync + 'static {
    /// Ready=True.
    const READY: Self;
    /// Reconciling=False.
    const IDLE: Self;
    /// Stalled=False.
    const NOT_STALLED: Self;
    /// The message of Ready=True.
    const READY_MESSAGE: &'static str;
    /// Every reason, for tests and documentation.
    const ALL: &'static [Self];

    fn as_str(self) -> &'static str;

    /// The reason a condition names, read back.
    fn parse(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.as_str() == word)
    }
}

/// Declares a kind's reasons: the enum, its words, and [`ReasonCode`]:
///
/// ```ignore
/// reasons! {
///     /// The reasons of AuraSnapshot conditions.
///     pub enum SnapshotReason {
///         ready: Completed = "Aura reports the snapshot Completed",
///         idle: Idle,
///         not_stalled: NotStalled,
///         /// Aura is taking it.
///         Taking,
///     }
/// }
/// ```
#[macro_export]
macro_rules! reasons {
    (
        $(#[doc = $enum_doc:literal])*
        $vis:vis enum $name:ident {
            ready: $ready:ident = $ready_message:literal,
            idle: $idle:ident,
            not_stalled: $not_stalled:ident,
            $($(#[doc = $doc:literal])* $variant:ident),* $(,)?
        }
    ) => {
        $(#[doc = $enum_doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            /// Ready=True.
            $ready,
            /// Nothing in flight (Reconciling=False).
            $idle,
            /// Nothing for a human to do (Stalled=False).
            $not_stalled,
            $($(#[doc = $doc])* $variant,)*
        }

        impl $name {
            /// Every reason, for tests and documentation.
            pub const ALL: &'static [Self] =
                &[Self::$ready, Self::$idle, Self::$not_stalled, $(Self::$variant,)*];

            /// The word written into a condition or an event.
            pub fn as_str(self) -> &'static str {
                match self {
                    Self::$ready => stringify!($ready),
                    Self::$idle => stringify!($idle),
                    Self::$not_stalled => stringify!($not_stalled),
                    $(Self::$variant => stringify!($variant),)*
                }
            }

            /// The reason a condition names, read back.
            pub fn parse(word: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|r| r.as_str() == word)
            }
        }

        impl $crate::reconciler::status::ReasonCode for $name {
            const READY: Self = Self::$ready;
            const IDLE: Self = Self::$idle;
            const NOT_STALLED: Self = Self::$not_stalled;
            const READY_MESSAGE: &'static str = $ready_message;
            const ALL: &'static [Self] = $name::ALL;

            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq)]
pub enum Readiness<R> {
    True,
    False { reason: R, message: String },
    Unknown { reason: R, message: String },
}

/// The phase a kind shows beside its conditions, if it has one: what a
/// stall and readiness say about it.
pub trait Phasing: Clone + PartialEq + Debug {
    /// The phase of Ready=True.
    const READY: Self;
    /// The phase of a stall (a human must act).
    const STALLED: Self;
}

/// Kinds without a phase.
impl Phasing for () {
    const READY: Self = ();
    const STALLED: Self = ();
}

/// What a kind's decision says about its three conditions (and its phase,
/// for a kind that has one): the one summary of every kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress<R, P = ()> {
    pub phase: P,
    pub readiness: Readiness<R>,
    pub reconciling: Option<(R, String)>,
    pub stalled: Option<(R, String)>,
}

impl<R: ReasonCode, P: Phasing> Progress<R, P> {
    pub fn ready() -> Self {
        Self {
            phase: P::READY,
            readiness: Readiness::True,
            reconciling: None,
            stalled: None,
        }
    }

    /// Work under way (or a wait that resolves itself): Ready=False, Reconciling=True.
    pub fn in_progress(phase: P, reason: R, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            phase,
            readiness: Readiness::False {
                reason,
                message: message.clone(),
            },
            reconciling: Some((reason, message)),
            stalled: None,
        }
    }

    /// Needs a person: Ready=False, Stalled=True.
    pub fn stalled(reason: R, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            phase: P::STALLED,
            readiness: Readiness::False {
                reason,
                message: message.clone(),
            },
            reconciling: None,
            stalled: Some((reason, message)),
        }
    }

    /// The reason of a Ready that is not True.
    pub fn reason(&self) -> Option<R> {
        match &self.readiness {
            Readiness::True => None,
            Readiness::False { reason, .. } | Readiness::Unknown { reason, .. } => Some(*reason),
        }
    }

    /// The message of a Ready that is not True.
    pub fn message(&self) -> Option<&str> {
        match &self.readiness {
            Readiness::True => None,
            Readiness::False { message, .. } | Readiness::Unknown { message, .. } => Some(message),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.readiness == Readiness::True
    }
}

impl<R: ReasonCode> Progress<R> {
    /// [`Progress::in_progress`] of a kind without a phase.
    pub fn working(reason: R, message: impl Into<String>) -> Self {
        Self::in_progress((), reason, message)
    }
}

/// What a status's three conditions said, read back as values: what a kind
/// compares its new summary with to tell a transition (a new stall, Ready
/// reached), so that no code outside this module reads condition words.
#[derive(Debug, Clone, PartialEq)]
pub struct Said<R> {
    pub ready: Option<State>,
    /// Ready's reason, when the kind knows it.
    pub ready_reason: Option<R>,
    /// The reason of Stalled=True.
    pub stalled: Option<R>,
    /// Reason and message of Reconciling=True.
    pub reconciling: Option<(R, String)>,
}

impl<R: ReasonCode> Said<R> {
    pub fn of(conditions: &[Condition]) -> Self {
        let ready = condition(conditions, READY);
        Self {
            ready: ready.map(State::of),
            ready_reason: ready.and_then(|c| R::parse(&c.reason)),
            stalled: true_condition(conditions, STALLED).and_then(|c| R::parse(&c.reason)),
            reconciling: true_condition(conditions, RECONCILING)
                .and_then(|c| Some((R::parse(&c.reason)?, c.message.clone()))),
        }
    }

    /// What a summary says, in the same terms.
    pub fn summary<P>(summary: &Progress<R, P>) -> Self {
        let (ready, ready_reason) = match &summary.readiness {
            Readiness::True => (State::True, R::READY),
            Readiness::False { reason, .. } => (State::False, *reason),
            Readiness::Unknown { reason, .. } => (State::Unknown, *reason),
        };
        Self {
            ready: Some(ready),
            ready_reason: Some(ready_reason),
            stalled: summary.stalled.as_ref().map(|(r, _)| *r),
            reconciling: summary.reconciling.clone(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready == Some(State::True)
    }
}

/// The conditions for `summary`, reusing `previous` transition times where a
/// condition keeps its status.
pub fn conditions<R: ReasonCode, P>(
    summary: &Progress<R, P>,
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let (ready_state, ready_reason, ready_message) = match &summary.readiness {
        Readiness::True => (State::True, R::READY, R::READY_MESSAGE.to_string()),
        Readiness::False { reason, message } => (State::False, *reason, message.clone()),
        Readiness::Unknown { reason, message } => (State::Unknown, *reason, message.clone()),
    };
    let flag = |value: Option<&(R, String)>, idle_reason: R| match value {
        Some((reason, message)) => (State::True, *reason, message.clone()),
        None => (State::False, idle_reason, String::new()),
    };
    let (rec_state, rec_reason, rec_message) = flag(summary.reconciling.as_ref(), R::IDLE);
    let (st_state, st_reason, st_message) = flag(summary.stalled.as_ref(), R::NOT_STALLED);
    [
        (READY, ready_state, ready_reason, ready_message),
        (RECONCILING, rec_state, rec_reason, rec_message),
        (STALLED, st_state, st_reason, st_message),
    ]
    .into_iter()
    .map(|(type_, state, reason, message)| {
        let mut one: Vec<Condition> = condition(previous, type_).cloned().into_iter().collect();
        set(
            &mut one,
            Set {
                type_,
                state,
                reason: reason.as_str(),
                message,
                generation,
                now,
            },
        );
        one.remove(0)
    })
    .collect()
}

/// The kstatus conditions of `summary` followed by a kind's own conditions
/// of `fields` (CredentialsVerified, Drifted), which are kept as they are.
pub fn with_own_conditions<R: ReasonCode, P>(
    summary: &Progress<R, P>,
    previous: &[Condition],
    own: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut all = conditions(summary, previous, generation, now);
    all.extend(
        own.iter()
            .filter(|c| ![READY, RECONCILING, STALLED].contains(&c.type_.as_str()))
            .cloned(),
    );
    all
}

/// One condition to set.
pub struct Set<'a> {
    pub type_: &'a str,
    pub state: State,
    pub reason: &'a str,
    pub message: String,
    pub generation: Option<i64>,
    pub now: Timestamp,
}

/// Sets a condition in place (where it was, or at the end), keeping its
/// transition time while its status stays.
pub fn set(conditions: &mut Vec<Condition>, new: Set<'_>) {
    let previous = conditions.iter().position(|c| c.type_ == new.type_);
    let last = previous
        .map(|i| &conditions[i])
        .filter(|c| State::of(c) == new.state)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(new.now));
    let condition = Condition {
        type_: new.type_.to_string(),
        status: new.state.as_str().to_string(),
        reason: new.reason.to_string(),
        message: truncate(new.message, 1024),
        observed_generation: new.generation,
        last_transition_time: last,
    };
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

/// Removes a condition.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Looks up a condition.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The condition, when its status is True.
pub fn true_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    condition(conditions, type_).filter(|c| State::of(c) == State::True)
}

/// The status of a condition, if it is there.
pub fn state(conditions: &[Condition], type_: &str) -> Option<State> {
    condition(conditions, type_).map(State::of)
}

/// Whether a condition is there with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    true_condition(conditions, type_).is_some()
}

/// Since when a condition has been True.
pub fn true_since(conditions: &[Condition], type_: &str) -> Option<Timestamp> {
    true_condition(conditions, type_).map(|c| c.last_transition_time.0)
}

/// How a status write guards against a concurrent writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Written over whatever is there, and only when it changed.
    IfChanged,
    /// Fails with 409 if the object changed since it was read (the create intent).
    Guarded(&'static str),
    /// Guarded, and only when it changed: a pass that read the object before
    /// the watch showed this operator's last write gets a conflict instead of
    /// writing over it.
    GuardedIfChanged(&'static str),
}

/// Puts `summary` into `next`: its three conditions (transition times kept
/// from `previous`), the kind's own conditions of `next` as they are, and
/// the generation observed.
pub fn apply_summary<S: KindStatus, R: ReasonCode, P>(
    next: &mut S,
    summary: &Progress<R, P>,
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) {
    let own = next.conditions().to_vec();
    *next.conditions_mut() = with_own_conditions(summary, previous, &own, generation, now);
    next.set_observed_generation(generation);
}

/// [`apply_summary`] against the object's own status.
pub fn summarize<K: Kind, R: ReasonCode, P>(
    obj: &K,
    next: &mut K::Status,
    summary: &Progress<R, P>,
) {
    let previous = obj
        .status()
        .map(|s| s.conditions().to_vec())
        .unwrap_or_default();
    apply_summary(
        next,
        summary,
        &previous,
        obj.meta().generation,
        Timestamp::now(),
    );
}

/// Writes `status` for `obj`; returns the object as written, or `None` when
/// nothing changed.
pub async fn write<K: Kind>(
    api: &Api<K>,
    obj: &K,
    status: &K::Status,
    how: Write,
) -> Result<Option<K>> {
    let (guarded, step) = match how {
        Write::IfChanged | Write::GuardedIfChanged(_) if obj.status() == Some(status) => {
            return Ok(None);
        }
        Write::IfChanged => (false, "write status"),
        Write::Guarded(step) | Write::GuardedIfChanged(step) => (true, step),
    };
    let mut body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    if guarded {
        body["metadata"] = json!({ "resourceVersion": obj.resource_version() });
    }
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map(Some)
    .map_err(|e| ReconcileError::kube(step, e))
}

/// [`summarize`], then [`write`] when something changed.
pub async fn write_summary<K: Kind, R: ReasonCode, P>(
    api: &Api<K>,
    obj: &K,
    next: &mut K::Status,
    summary: &Progress<R, P>,
) -> Result<Option<K>> {
    summarize(obj, next, summary);
    write(api, obj, next, Write::IfChanged).await
}

/// A pass's last write: `summary` onto `next`, guarded and only when
/// changed, over the object as the pass's own earlier writes left it
/// (`written`, e.g. an intent recorded before a call): a write over the
/// object as first read would be refused and lose what the pass did.
pub async fn write_pass<K: Kind, R: ReasonCode, P>(
    api: &Api<K>,
    obj: &K,
    written: Option<&K>,
    next: &mut K::Status,
    summary: &Progress<R, P>,
    step: &'static str,
) -> Result<Option<K>> {
    let latest = written.unwrap_or(obj);
    summarize(latest, next, summary);
    write(api, latest, next, Write::GuardedIfChanged(step)).await
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Every reason of `R` is one CamelCase word, used once, read back as itself.
#[cfg(test)]
pub fn assert_reason_words<R: ReasonCode>() {
    let mut seen = std::collections::HashSet::new();
    for r in R::ALL {
        let word = r.as_str();
        assert!(
            word.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
            "{word}"
        );
        assert!(word.chars().all(|c| c.is_ascii_alphanumeric()), "{word}");
        assert!(seen.insert(word), "{word} twice");
        assert_eq!(R::parse(word), Some(*r));
    }
    assert_eq!(R::parse("NoSuchReason"), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("ééé".into(), 3), "é");
        assert_eq!(truncate("abc".into(), 5), "abc");
    }
}
