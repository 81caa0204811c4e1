//! The Aura organization (API v2beta1) an object works in: the one recorded,
//! its project's, or the only one the credentials see. Pure choice with a
//! thin read around it; kinds turn the message into a stall of their own.

use crate::aura::{AuraClient, AuraError, Organization};
use crate::reconciler::{Context, Kind};

/// What the organization list said, for a person when it is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    One(Organization),
    None,
    /// Several, with their ids and names.
    Ambiguous(String),
}

/// The one organization of a list.
pub fn only(listed: &[Organization]) -> Pick {
    match listed {
        [one] => Pick::One(one.clone()),
        [] => Pick::None,
        many => Pick::Ambiguous(
            many.iter()
                .map(|o| format!("{} ({})", o.id, o.name))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

/// Whether a project must list the organizations again: it has none
/// recorded, or its spec names another than it recorded, or no name yet.
pub fn must_list(spec: Option<&str>, recorded: Option<&str>, recorded_name: Option<&str>) -> bool {
    match (spec, recorded) {
        (Some(wanted), Some(had)) => wanted != had || recorded_name.is_none(),
        (Some(_), None) | (None, None) => true,
        (None, Some(_)) => false,
    }
}

/// A project's organization (id, name) from the spec and a fresh list:
/// the spec's (named when listed), else the only one listed.
pub fn for_project(
    spec: Option<&str>,
    listed: &[Organization],
) -> (Option<String>, Option<String>) {
    if let Some(id) = spec {
        let name = listed
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.name.clone())
            .filter(|n| !n.is_empty());
        return (Some(id.to_string()), name);
    }
    match only(listed) {
        Pick::One(o) => (Some(o.id), Some(o.name).filter(|n| !n.is_empty())),
        Pick::None | Pick::Ambiguous(_) => (None, None),
    }
}

/// The organization of an object: the recorded one, its project's, else
/// the only one the credentials see; `Err`: why there is none (for a person).
pub async fn choose<K: Kind>(
    ctx: &Context<K>,
    obj: &K,
    aura: &AuraClient,
    recorded: Option<&str>,
) -> Result<Result<String, String>, AuraError> {
    if let Some(id) = recorded.or(ctx.credentials_source(obj).organization_id()) {
        return Ok(Ok(id.to_string()));
    }
    Ok(match only(&aura.list_organizations().await?) {
        Pick::One(o) => Ok(o.id),
        Pick::None => Err("the credentials see no Aura organization (API v2beta1)".into()),
        Pick::Ambiguous(listed) => Err(format!(
            "the credentials see several Aura organizations; set spec.organizationId on the project to one of: {listed}"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: &str) -> Organization {
        Organization {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn one_organization_is_chosen_otherwise_a_person_chooses() {
        assert_eq!(only(&[org("o-1", "A")]), Pick::One(org("o-1", "A")));
        assert_eq!(only(&[]), Pick::None);
        assert_eq!(
            only(&[org("o-1", "A"), org("o-2", "B")]),
            Pick::Ambiguous("o-1 (A), o-2 (B)".into())
        );
    }

    #[test]
    fn a_project_lists_organizations_only_when_it_must() {
        let cases = [
            (None, None, None, true),
            (None, Some("o-1"), Some("A"), false),
            (None, Some("o-1"), None, false),
            (Some("o-1"), Some("o-1"), Some("A"), false),
            (Some("o-1"), Some("o-1"), None, true),
            (Some("o-2"), Some("o-1"), Some("A"), true),
            (Some("o-1"), None, None, true),
        ];
        for (spec, recorded, name, want) in cases {
            assert_eq!(
                must_list(spec, recorded, name),
                want,
                "{spec:?} {recorded:?} {name:?}"
            );
        }
    }

    #[test]
    fn a_project_takes_the_spec_or_the_only_organization() {
        let two = [org("o-1", "A"), org("o-2", "B")];
        type Case<'a> = (
            Option<&'a str>,
            &'a [Organization],
            (Option<&'a str>, Option<&'a str>),
        );
        let cases: [Case<'_>; 5] = [
            (Some("o-2"), &two, (Some("o-2"), Some("B"))),
            // The spec's organization not listed: kept, without a name.
            (Some("o-9"), &two, (Some("o-9"), None)),
            (None, &two[..1], (Some("o-1"), Some("A"))),
            (None, &two, (None, None)),
            (None, &[], (None, None)),
        ];
        for (spec, listed, (id, name)) in cases {
            let (got_id, got_name) = for_project(spec, listed);
            assert_eq!(
                (got_id.as_deref(), got_name.as_deref()),
                (id, name),
                "{spec:?}"
            );
        }
    }
}
