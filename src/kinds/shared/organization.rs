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

/// A project's organization (id, name) from its spec and a fresh list:
/// the spec's (named when listed).
pub fn named(spec: &str, listed: &[Organization]) -> (Option<String>, Option<String>) {
    let name = listed
        .iter()
        .find(|o| o.id == spec)
        .map(|o| o.name.clone())
        .filter(|n| !n.is_empty());
    (Some(spec.to_string()), name)
}

/// Why there is no organization to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The credentials see none (or may not read organizations).
    NotFound,
    /// They see several, and none is named or holds the tenant.
    Ambiguous,
}

/// The organization among `orgs` (id, its projects' ids) whose projects
/// include `tenant`, when exactly one does.
pub fn holding(tenant: &str, orgs: &[(String, Vec<String>)]) -> Option<String> {
    let mut found = orgs
        .iter()
        .filter(|(_, projects)| projects.iter().any(|p| p == tenant));
    match (found.next(), found.next()) {
        (Some((id, _)), None) => Some(id.clone()),
        _ => None,
    }
}

/// The organization the credentials use: the only one they see, or, among
/// several, the one whose projects include `tenant` (a v1 tenant is a
/// v2beta1 project, in one organization).
pub async fn find(
    aura: &AuraClient,
    tenant: Option<&str>,
) -> Result<Result<Organization, (Problem, String)>, AuraError> {
    let listed = aura.list_organizations().await?;
    let several = match only(&listed) {
        Pick::One(o) => return Ok(Ok(o)),
        Pick::None => {
            return Ok(Err((
                Problem::NotFound,
                "the credentials see no Aura organization (API v2beta1)".into(),
            )));
        }
        Pick::Ambiguous(several) => several,
    };
    if let Some(tenant) = tenant {
        let mut orgs = Vec::new();
        for o in &listed {
            let projects = aura.list_organization_projects(&o.id).await?;
            orgs.push((o.id.clone(), projects.into_iter().map(|p| p.id).collect()));
        }
        if let Some(id) = holding(tenant, &orgs)
            && let Some(o) = listed.iter().find(|o| o.id == id)
        {
            return Ok(Ok(o.clone()));
        }
    }
    Ok(Err((
        Problem::Ambiguous,
        format!(
            "the credentials see several Aura organizations; set spec.organizationId on the project to one of: {several}"
        ),
    )))
}

/// The organization of an object: the recorded one, its project's, else
/// [`find`]'s with `tenant` (the tenant of what the object acts on).
pub async fn choose<K: Kind>(
    ctx: &Context<K>,
    obj: &K,
    aura: &AuraClient,
    recorded: Option<&str>,
    tenant: Option<&str>,
) -> Result<Result<String, (Problem, String)>, AuraError> {
    if let Some(id) = recorded.or(ctx.credentials_source(obj).organization_id()) {
        return Ok(Ok(id.to_string()));
    }
    Ok(find(aura, tenant).await?.map(|o| o.id))
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
    fn a_project_names_the_spec_organization_when_listed() {
        let two = [org("o-1", "A"), org("o-2", "B")];
        assert_eq!(named("o-2", &two), (Some("o-2".into()), Some("B".into())));
        // The spec's organization not listed: kept, without a name.
        assert_eq!(named("o-9", &two), (Some("o-9".into()), None));
    }

    #[test]
    fn among_several_the_organization_holding_the_tenant_is_the_one() {
        let orgs = vec![
            (
                "o-1".to_string(),
                vec!["t-1".to_string(), "t-2".to_string()],
            ),
            ("o-2".to_string(), vec!["t-3".to_string()]),
        ];
        assert_eq!(holding("t-3", &orgs), Some("o-2".into()));
        assert_eq!(holding("t-1", &orgs), Some("o-1".into()));
        assert_eq!(holding("t-9", &orgs), None);
        // Listed in two: not one to pick.
        let twice = vec![
            ("o-1".to_string(), vec!["t-1".to_string()]),
            ("o-2".to_string(), vec!["t-1".to_string()]),
        ];
        assert_eq!(holding("t-1", &twice), None);
    }
}
