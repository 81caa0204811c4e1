//! Decide (pure): what one AuraIPFilter writes to Aura, who else claims the
//! same instances, and what its status says from Aura's per-instance state.
//! Aura ignores fields it does not know and answers 2xx, so every write is
//! read back; a field Aura did not keep is a stall (`NotApplied`), never a
//! silent success.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{AllowedCidr, AuraIPFilterStatus, FilterApplied};
use crate::aura::{Entities, IpFilter, IpFilterWrite, RangeWrite};
use crate::kinds::shared::lost_create;
use crate::kinds::shared::organization::Problem;
use crate::reconciler::status::Progress;

crate::reasons! {
    /// The reasons of AuraIPFilter conditions, defined once.
    pub enum FilterReason {
        ready: FilterActive = "Aura holds the filter as the spec says, ACTIVE on every named instance",
        idle: Idle,
        not_stalled: NotStalled,
        /// The create call is being made, or its answer looked for.
        Creating,
        /// Aura has the filter; it is not ACTIVE on every named instance yet.
        FilterSubmitted,
        /// A named AuraInstance has no Aura instance yet, or does not hold it.
        WaitingForInstance,
        /// A named ClusterAuraProject does not exist or has no Aura project yet.
        WaitingForProject,
        CredentialsNotUsable,
        /// The credentials see no Aura organization.
        OrganizationNotFound,
        /// They see several, none holds the instances' tenant, and the
        /// project names none.
        OrganizationAmbiguous,
        /// (ClusterAuraIPFilter) the projects are in different organizations.
        OrganizationMismatch,
        /// Another AuraIPFilter (or a filter made outside this object) already
        /// applies to a named instance, or records the same Aura filter.
        FilterConflict,
        /// Aura answered the write but did not keep a field of it.
        NotApplied,
        /// Aura reports the filter in ERROR on an instance.
        FilterError,
        /// Several filters could be the one an unanswered create made.
        CreateAmbiguous,
        /// Aura refused the call (its message says why).
        AuraRejected,
        /// Event: the filter was created in Aura.
        FilterCreated,
        /// Event: the filter was changed in Aura to match the spec.
        FilterUpdated,
        /// Event: the filter recorded was gone from Aura and is made again.
        FilterRecreated,
        /// Event: the filter was removed in Aura.
        FilterDeleted,
    }
}

pub type FilterSummary = Progress<FilterReason>;

/// How often a filter Aura has not made ACTIVE everywhere is looked at again.
pub const SUBMITTED_POLL: Duration = Duration::from_secs(5);
/// How often a filter waiting on an AuraInstance looks again.
pub const INSTANCE_POLL: Duration = Duration::from_secs(10);
/// How often an organization that could not be chosen is looked for again
/// (an instance that appears may tell it): one list per organization.
pub const ORGANIZATION_RETRY: std::time::Duration = std::time::Duration::from_secs(60);
/// How often a stall that may clear by itself (a write Aura did not keep, a
/// conflict) is tried again: each try is one write, so seldom.
pub const STALL_RETRY: Duration = Duration::from_secs(300);

/// A named AuraInstance, as the filter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Its Aura instance (held by it) and the tenant (v2beta1 project) it is in.
    Instance { id: String, tenant: String },
    /// No such AuraInstance, none created yet, or it does not hold its id:
    /// the words say which.
    Waiting(String),
}

/// A named AuraInstance as a target, from what its status records and who
/// holds the recorded id (`None`: nothing recorded to ask about). Another
/// holder is not named: it may be of another namespace (DESIGN 4.13).
pub fn target(name: &str, recorded: Option<(String, String)>, held_here: Option<bool>) -> Target {
    match (recorded, held_here) {
        (Some((id, tenant)), Some(true)) => Target::Instance { id, tenant },
        (Some((id, _)), Some(false) | None) => Target::Waiting(format!(
            "AuraInstance {name} records instance {id}, which another AuraInstance holds"
        )),
        (None, _) => Target::Waiting(format!("AuraInstance {name} has no Aura instance yet")),
    }
}

/// The body that makes Aura's filter what the spec says, applied to
/// `entities` (the instances or projects that have ids).
pub fn desired(
    name: &str,
    allow_list: &[AllowedCidr],
    filtering_disabled: bool,
    org: &str,
    entities: Entities,
) -> IpFilterWrite {
    IpFilterWrite {
        name: name.to_string(),
        organization_id: org.to_string(),
        allow_list: allow_list
            .iter()
            .map(|a| RangeWrite {
                ip_range: a.cidr.clone(),
                description: a.description.clone().unwrap_or_default(),
            })
            .collect(),
        entities,
        filtering_disabled,
    }
}

/// Instance ids as the entities of a write.
pub fn on_instances(ids: &[String]) -> Entities {
    Entities {
        instances: ids.to_vec(),
        ..Entities::default()
    }
}

/// Project (tenant) ids as the entities of a write.
pub fn on_projects(ids: &[String]) -> Entities {
    Entities {
        projects: ids.to_vec(),
        ..Entities::default()
    }
}

/// Another object of the kind, as the conflict check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Other {
    /// namespace/name.
    pub key: String,
    pub namespace: String,
    pub created: Option<Timestamp>,
    /// The instances (AuraIPFilter) or projects (ClusterAuraIPFilter) it names.
    pub instance_names: Vec<String>,
    pub id: Option<String>,
}

/// Why this filter must not write: another object already records its Aura
/// filter, or an older object of the namespace (of the cluster, for
/// ClusterAuraIPFilters) names one of its instances or projects (Aura allows
/// one filter per entity; the later one waits and the first is left as it
/// is). Ties of age go to the smaller name.
pub fn conflict(me: &Other, others: &[Other]) -> Option<String> {
    if let Some(id) = &me.id
        && let Some(o) = others.iter().find(|o| o.id.as_ref() == Some(id))
    {
        return Some(format!(
            "Aura IP filter {id} is already recorded by AuraIPFilter {}",
            o.key
        ));
    }
    let older = |o: &Other| match (o.created, me.created) {
        (Some(a), Some(b)) if a != b => a < b,
        _ => o.key < me.key,
    };
    let mut clashes: Vec<String> = others
        .iter()
        .filter(|o| o.namespace == me.namespace && older(o))
        .flat_map(|o| {
            me.instance_names
                .iter()
                .filter(|n| o.instance_names.contains(n))
                .map(move |n| format!("{n} ({})", o.key))
        })
        .collect();
    clashes.sort();
    (!clashes.is_empty()).then(|| {
        format!(
            "Aura allows one IP filter per instance or project and an older object already applies one: {}; remove it from one of them",
            clashes.join(", ")
        )
    })
}

/// When the recorded create intent was written, if one is.
pub fn intent(status: &AuraIPFilterStatus) -> Option<Timestamp> {
    status
        .create_requested_at
        .as_deref()
        .and_then(|t| t.parse().ok())
}

/// The ids of the filters named `name` in a list: the create intent's prior ids.
pub fn prior_ids(listed: &[IpFilter], name: &str) -> Vec<String> {
    let mut ids: Vec<String> = listed
        .iter()
        .filter(|f| f.name == name)
        .map(|f| f.id.clone())
        .collect();
    ids.sort();
    ids
}

/// The filters an unanswered create may have made: of its name, not among
/// the ids the name had before, recorded by no other object.
pub fn candidates<'a>(
    listed: &'a [IpFilter],
    name: &str,
    prior: &[String],
    held: &[String],
) -> Vec<&'a str> {
    listed
        .iter()
        .filter(|f| f.name == name)
        .map(|f| f.id.as_str())
        .filter(|id| !prior.iter().any(|p| p == id) && !held.iter().any(|h| h == id))
        .collect()
}

pub use crate::kinds::shared::lost_create::Search;

/// The filter an unanswered create made, among `candidates`; a wait is
/// looked at again within 1 to 10 seconds.
pub fn search(candidates: &[&str], intent: Timestamp, now: Timestamp, grace: Duration) -> Search {
    let found = lost_create::search(candidates, intent, now, grace, |ids| {
        format!(
            "filters {ids} appeared after an unanswered create; delete the ones not wanted in Aura (the object then records the one left)"
        )
    });
    match found {
        Search::Wait(left) => {
            Search::Wait(left.clamp(Duration::from_secs(1), Duration::from_secs(10)))
        }
        other => other,
    }
}

/// The state of the filter on one instance, from the per-instance read.
pub fn state_on(filter_id: &str, read: Option<&IpFilter>) -> String {
    match read {
        None => "Pending".into(),
        Some(f) if f.id != filter_id => "Pending".into(),
        Some(f) => f
            .status
            .as_deref()
            .map_or_else(|| "UNKNOWN".into(), str::to_ascii_uppercase),
    }
}

/// The status from the state on each instance and the instances waited for.
pub fn summary(applied: &[FilterApplied], waiting: &[String]) -> (FilterSummary, Option<Duration>) {
    let errors: Vec<String> = applied
        .iter()
        .filter(|a| a.state == "ERROR")
        .map(|a| a.instance.clone())
        .collect();
    if !errors.is_empty() {
        return (
            FilterSummary::stalled(
                FilterReason::FilterError,
                format!(
                    "Aura reports the filter in ERROR on {}; change the spec or ask Aura support",
                    errors.join(", ")
                ),
            ),
            Some(STALL_RETRY),
        );
    }
    if !waiting.is_empty() {
        return (
            FilterSummary::working(FilterReason::WaitingForInstance, waiting.join("; ")),
            Some(INSTANCE_POLL),
        );
    }
    let pending: Vec<String> = applied
        .iter()
        .filter(|a| a.state != "ACTIVE")
        .map(|a| format!("{} {}", a.instance, a.state))
        .collect();
    if pending.is_empty() {
        return (FilterSummary::ready(), None);
    }
    (
        FilterSummary::working(
            FilterReason::FilterSubmitted,
            format!("not ACTIVE yet on: {}", pending.join(", ")),
        ),
        Some(SUBMITTED_POLL),
    )
}

/// The stall for an organization that could not be chosen.
pub fn no_organization(problem: Problem, message: String) -> FilterSummary {
    let reason = match problem {
        Problem::NotFound => FilterReason::OrganizationNotFound,
        Problem::Ambiguous => FilterReason::OrganizationAmbiguous,
    };
    FilterSummary::stalled(reason, message)
}

/// The stall for a write Aura answered but did not keep.
pub fn not_applied(lost: &[String]) -> FilterSummary {
    FilterSummary::stalled(
        FilterReason::NotApplied,
        format!(
            "Aura answered the write but did not keep {}: it may not support it (API v2beta1 ignores fields it does not know); the filter in Aura differs from the spec there",
            lost.join(", ")
        ),
    )
}

#[cfg(test)]
#[path = "decide/tests.rs"]
mod tests;
