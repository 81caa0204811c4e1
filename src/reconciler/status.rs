//! Status in kstatus terms (Ready, Reconciling, Stalled) for every kind, and
//! the one status writer: server-side apply with the one field manager,
//! written only when it changed.

use std::fmt::Debug;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::{FIELD_MANAGER, Kind, ReconcileError, Result};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// A kind's condition reasons: an enum, matched as values; the text is only
/// what goes into a condition.
pub trait ReasonCode: Copy + Eq + Debug {
    /// Ready=True.
    const READY: Self;
    /// Reconciling=False.
    const IDLE: Self;
    /// Stalled=False.
    const NOT_STALLED: Self;
    /// The message of Ready=True.
    const READY_MESSAGE: &'static str;

    fn as_str(self) -> &'static str;
}

#[derive(Debug, Clone, PartialEq)]
pub enum Readiness<R> {
    True,
    False { reason: R, message: String },
    Unknown { reason: R, message: String },
}

/// What a kind's decision says about the three conditions.
pub trait Summary {
    type Reason: ReasonCode;
    fn readiness(&self) -> &Readiness<Self::Reason>;
    fn reconciling(&self) -> Option<&(Self::Reason, String)>;
    fn stalled(&self) -> Option<&(Self::Reason, String)>;
}

/// The three conditions of a kind that needs nothing more than them.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress<R> {
    pub readiness: Readiness<R>,
    pub reconciling: Option<(R, String)>,
    pub stalled: Option<(R, String)>,
}

impl<R: ReasonCode> Summary for Progress<R> {
    type Reason = R;
    fn readiness(&self) -> &Readiness<R> {
        &self.readiness
    }
    fn reconciling(&self) -> Option<&(R, String)> {
        self.reconciling.as_ref()
    }
    fn stalled(&self) -> Option<&(R, String)> {
        self.stalled.as_ref()
    }
}

impl<R: ReasonCode> Progress<R> {
    pub fn ready() -> Self {
        Self {
            readiness: Readiness::True,
            reconciling: None,
            stalled: None,
        }
    }

    /// Work under way (or a wait that resolves itself): Ready=False, Reconciling=True.
    pub fn working(reason: R, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
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
            readiness: Readiness::False {
                reason,
                message: message.clone(),
            },
            reconciling: None,
            stalled: Some((reason, message)),
        }
    }

    pub fn reason(&self) -> Option<R> {
        match &self.readiness {
            Readiness::True => None,
            Readiness::False { reason, .. } | Readiness::Unknown { reason, .. } => Some(*reason),
        }
    }
}

/// The conditions for `summary`, reusing `previous` transition times where a
/// condition keeps its status.
pub fn conditions<S: Summary>(
    summary: &S,
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let (ready_status, ready_reason, ready_message) = match summary.readiness() {
        Readiness::True => (
            "True",
            S::Reason::READY,
            S::Reason::READY_MESSAGE.to_string(),
        ),
        Readiness::False { reason, message } => ("False", *reason, message.clone()),
        Readiness::Unknown { reason, message } => ("Unknown", *reason, message.clone()),
    };
    let flag = |value: Option<&(S::Reason, String)>, idle_reason: S::Reason| match value {
        Some((reason, message)) => ("True", *reason, message.clone()),
        None => ("False", idle_reason, String::new()),
    };
    let (rec_status, rec_reason, rec_message) = flag(summary.reconciling(), S::Reason::IDLE);
    let (st_status, st_reason, st_message) = flag(summary.stalled(), S::Reason::NOT_STALLED);
    [
        (READY, ready_status, ready_reason, ready_message),
        (RECONCILING, rec_status, rec_reason, rec_message),
        (STALLED, st_status, st_reason, st_message),
    ]
    .into_iter()
    .map(|(type_, status, reason, message)| {
        let last = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.as_str().to_string(),
            message: truncate(message, 1024),
            observed_generation: generation,
            last_transition_time: last,
        }
    })
    .collect()
}

/// Looks up a condition.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// How a status write guards against a concurrent writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Written over whatever is there, and only when it changed.
    IfChanged,
    /// Fails with 409 if the object changed since it was read (the create intent).
    Guarded(&'static str),
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
        Write::IfChanged if obj.status() == Some(status) => return Ok(None),
        Write::IfChanged => (false, "write status"),
        Write::Guarded(step) => (true, step),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("ééé".into(), 3), "é");
        assert_eq!(truncate("abc".into(), 5), "abc");
    }
}
