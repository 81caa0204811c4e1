//! Which Aura instances an object may read or act on (DESIGN 4.13), asked
//! before every call that reads or copies an instance's data: one held by an
//! AuraInstance of the object's own namespace; one held by none only where
//! the project supplying the credentials allows it (`allowUnheldSources`);
//! another namespace's, never. The answer comes from the claims, which only
//! the operator writes, never from a status field, which anyone with rights
//! on `/status` can write. The ids it answers with are the only way to the
//! calls that read or copy data (`aura::Reachable`).

use super::views::InstanceView;
use crate::api::{AuraInstance, ClaimHolder};
use crate::aura::Reachable;
use crate::reconciler::Result;

/// Why an instance may not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An AuraInstance of another namespace holds it.
    OtherNamespace { id: String },
    /// No AuraInstance holds it, and the project does not allow that.
    Unheld { id: String },
}

impl Refusal {
    /// What the status says: never who holds it (that is another namespace's business).
    pub fn message(&self) -> String {
        match self {
            Self::OtherNamespace { id } => format!(
                "Aura instance {id} is held by an AuraInstance of another namespace: the operator never reads one namespace's data for another (nothing was called)"
            ),
            Self::Unheld { id } => format!(
                "no AuraInstance holds Aura instance {id}: the operator reads an instance made outside it only when the project supplying the credentials sets allowUnheldSources: true (nothing was called)"
            ),
        }
    }
}

/// The rule itself: may an object of `namespace` read `id`, held by `holder`?
pub fn rule(
    id: &str,
    holder: Option<&ClaimHolder>,
    namespace: &str,
    unheld_allowed: bool,
) -> Result<Reachable, Refusal> {
    match holder {
        Some(h) if h.namespace == namespace => Ok(Reachable::vouched(id)),
        Some(_) => Err(Refusal::OtherNamespace { id: id.to_string() }),
        None if unheld_allowed => Ok(Reachable::vouched(id)),
        None => Err(Refusal::Unheld { id: id.to_string() }),
    }
}

/// The instance `obj` holds, for the objects of its namespace that act on it
/// (AuraSnapshot, AuraRestore, a clone): its claim, never its status.
pub async fn held(view: &dyn InstanceView, obj: &AuraInstance) -> Result<Option<Reachable>> {
    Ok(view.held_by(obj).await?.map(Reachable::vouched))
}

/// A source an object of `namespace` reads by id: the claim as the apiserver
/// has it at the moment of the call.
pub async fn source(
    view: &dyn InstanceView,
    namespace: &str,
    id: &str,
    unheld_allowed: bool,
) -> Result<std::result::Result<Reachable, Refusal>> {
    let holder = view.holder_now(id).await?;
    Ok(rule(id, holder.as_ref(), namespace, unheld_allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(namespace: &str) -> ClaimHolder {
        ClaimHolder {
            namespace: namespace.into(),
            name: "orders".into(),
            uid: "u-1".into(),
        }
    }

    #[test]
    fn only_this_namespace_or_an_unheld_instance_by_consent() {
        let team_a = holder("team-a");
        // (holder, unheld allowed, reachable from team-a)
        let cases = [
            (Some(&team_a), false, Ok(())),
            (Some(&team_a), true, Ok(())),
            (
                Some(&holder("team-b")),
                false,
                Err(Refusal::OtherNamespace {
                    id: "0a1b2c3d".into(),
                }),
            ),
            (
                Some(&holder("team-b")),
                true,
                Err(Refusal::OtherNamespace {
                    id: "0a1b2c3d".into(),
                }),
            ),
            (
                None,
                false,
                Err(Refusal::Unheld {
                    id: "0a1b2c3d".into(),
                }),
            ),
            (None, true, Ok(())),
        ];
        for (h, unheld, want) in cases {
            let got = rule("0a1b2c3d", h, "team-a", unheld);
            assert_eq!(got.clone().map(drop), want, "{h:?} {unheld}");
            if let Ok(r) = got {
                assert_eq!(r.as_str(), "0a1b2c3d");
            }
        }
        let other = Refusal::OtherNamespace { id: "x".into() }.message();
        assert!(!other.contains("team-b"), "never who holds it: {other}");
    }
}
