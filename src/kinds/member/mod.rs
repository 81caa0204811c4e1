//! AuraProjectMember and AuraOrganizationMember: a person's role in an Aura
//! project or organization (API v2beta1). `decide` (pure) picks the step
//! from what Aura shows and what the object recorded of its own doing;
//! `act` is the pass both kinds share, `cleanup` undoes what the object
//! did. The kinds differ only in where they grant a role ([`Place`]).

mod act;
mod cleanup;
pub mod decide;

use std::sync::Arc;

use futures::StreamExt;
use kube::ResourceExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::api::{
    AuraMemberStatus, AuraOrganizationMember, AuraProjectMember, DeletionPolicy, MEMBER_FINALIZER,
    ProjectKind,
};
use crate::aura::console::InviteWrite;
use crate::kinds::shared::news::News;
use crate::reconciler::projects::{Change, ProjectId, Wanted};
use crate::reconciler::status::Said;
use crate::reconciler::{Cleanup, Context, Kind, Result};

crate::kind_status!(AuraMemberStatus);

/// Where an object grants a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Organization { org: String },
    Project { org: String, project: String },
}

impl Place {
    pub fn org(&self) -> &str {
        match self {
            Place::Organization { org } | Place::Project { org, .. } => org,
        }
    }
}

/// What the pass and the cleanup need of either member kind.
pub trait MemberObject: Kind<Status = AuraMemberStatus, Reason = decide::MemberReason> {
    fn email(&self) -> Option<&str>;
    fn spec_user_id(&self) -> Option<&str>;
    /// The role, in the words of the member calls.
    fn role_word(&self) -> &'static str;
    fn adopt(&self) -> bool;
    fn deletion_policy(&self) -> DeletionPolicy;
    /// The ClusterAuraProject it names, if any.
    fn project_name(&self) -> Option<&str>;
    /// The organization its spec names, if any.
    fn spec_organization(&self) -> Option<&str>;
    /// Whether it grants a role in a project (else in the organization).
    fn in_project(&self) -> bool;
    /// The invite that brings the person in with the role.
    fn invite(&self, email: &str, place: &Place) -> InviteWrite;

    fn want(&self) -> decide::Want<'_> {
        decide::Want {
            role: self.role_word(),
            adopt: self.adopt(),
            by_email: self.email().is_some(),
            user_id: self.spec_user_id(),
        }
    }

    /// The object as the conflict check sees it: the project it names, or
    /// the organization it names or found.
    fn as_claimant(&self) -> decide::Claimant {
        let scope = match (self.in_project(), self.spec_organization()) {
            (true, _) => format!("project {}", self.project_name().unwrap_or_default()),
            (false, Some(org)) => format!("organization {org}"),
            (false, None) => match self.status().and_then(|s| s.organization_id.as_deref()) {
                Some(org) => format!("organization {org}"),
                None => format!(
                    "organization of {}",
                    self.project_name().unwrap_or_default()
                ),
            },
        };
        decide::Claimant {
            name: self.name_any(),
            scope,
            email: self.email().map(str::to_string),
            user_id: self
                .spec_user_id()
                .map(str::to_string)
                .or_else(|| self.status().and_then(|s| s.user_id.clone())),
            created: self.meta().creation_timestamp.as_ref().map(|t| t.0),
        }
    }
}

impl MemberObject for AuraProjectMember {
    fn email(&self) -> Option<&str> {
        self.spec.email.as_deref()
    }
    fn spec_user_id(&self) -> Option<&str> {
        self.spec.user_id.as_deref()
    }
    fn role_word(&self) -> &'static str {
        self.spec.role.as_str()
    }
    fn adopt(&self) -> bool {
        self.spec.adopt
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        AuraProjectMember::deletion_policy(self)
    }
    fn project_name(&self) -> Option<&str> {
        Some(&self.spec.project_ref.name)
    }
    fn spec_organization(&self) -> Option<&str> {
        None
    }
    fn in_project(&self) -> bool {
        true
    }
    fn invite(&self, email: &str, place: &Place) -> InviteWrite {
        match place {
            Place::Project { project, .. } => {
                InviteWrite::to_project(email, project, self.spec.role)
            }
            // Not reached: a project member's place is its project.
            Place::Organization { .. } => {
                InviteWrite::to_organization(email, crate::api::OrganizationRole::Member)
            }
        }
    }
}

impl MemberObject for AuraOrganizationMember {
    fn email(&self) -> Option<&str> {
        self.spec.email.as_deref()
    }
    fn spec_user_id(&self) -> Option<&str> {
        self.spec.user_id.as_deref()
    }
    fn role_word(&self) -> &'static str {
        self.spec.role.as_str()
    }
    fn adopt(&self) -> bool {
        self.spec.adopt
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        AuraOrganizationMember::deletion_policy(self)
    }
    fn project_name(&self) -> Option<&str> {
        self.spec.project_ref.as_ref().map(|p| p.name.as_str())
    }
    fn spec_organization(&self) -> Option<&str> {
        self.spec.organization_id.as_deref()
    }
    fn in_project(&self) -> bool {
        false
    }
    fn invite(&self, email: &str, _place: &Place) -> InviteWrite {
        InviteWrite::to_organization(email, self.spec.role)
    }
}

/// The controller's extra triggers, the same for both kinds: a change of the
/// project an object names (its Aura project or organization found), and the
/// deletion of an object of the kind, which wakes those waiting on a conflict.
fn wire_members<K: MemberObject>(
    controller: Controller<K>,
    ctx: &Arc<Context<K>>,
    deleted: &News,
) -> Controller<K> {
    let members = ctx.clone();
    let changed = ctx.projects.changes().flat_map(move |change| {
        let hits: Vec<ObjectRef<K>> = match change {
            Change::Project(id) => members
                .all_objects()
                .iter()
                .filter(|m| {
                    m.project_name()
                        .is_some_and(|n| ProjectId::cluster(n) == id)
                })
                .map(|m| ObjectRef::from_obj(m.as_ref()))
                .collect(),
            Change::Namespace(_) => Vec::new(),
        };
        futures::stream::iter(hits)
    });
    let members = ctx.clone();
    let waiting = deleted.wakes(move |_, _| {
        members
            .all_objects()
            .iter()
            .filter(|m| waits_on_conflict(m.status()))
            .map(|m| ObjectRef::from_obj(m.as_ref()))
            .collect()
    });
    controller.reconcile_on(changed).reconcile_on(waiting)
}

impl Kind for AuraProjectMember {
    const FINALIZER: &'static str = MEMBER_FINALIZER;
    type Memory = ();
    /// Objects of the kind deleted: those waiting on a conflict are woken.
    type State = News;
    type Status = AuraMemberStatus;
    type Reason = decide::MemberReason;

    fn status(&self) -> Option<&AuraMemberStatus> {
        self.status.as_ref()
    }

    /// The project's credentials (a cluster-scoped object is held to no
    /// allowed namespaces).
    fn wanted_credentials(&self) -> Wanted<'_> {
        Wanted::Project(ProjectKind::ClusterAuraProject, &self.spec.project_ref.name)
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(obj.as_ref(), ctx.as_ref()).await
    }

    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        _namespace: Option<&str>,
    ) -> Controller<Self> {
        wire_members(controller, ctx, &ctx.state)
    }

    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        if let watcher::Event::Delete(m) = event {
            ctx.state.tell(m);
        }
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(obj.as_ref(), ctx.as_ref()).await
    }
}

impl Kind for AuraOrganizationMember {
    const FINALIZER: &'static str = MEMBER_FINALIZER;
    type Memory = ();
    /// Objects of the kind deleted: those waiting on a conflict are woken.
    type State = News;
    type Status = AuraMemberStatus;
    type Reason = decide::MemberReason;

    fn status(&self) -> Option<&AuraMemberStatus> {
        self.status.as_ref()
    }

    /// The named project's credentials, else the ClusterAuraProject "default".
    fn wanted_credentials(&self) -> Wanted<'_> {
        match &self.spec.project_ref {
            Some(p) => Wanted::Project(ProjectKind::ClusterAuraProject, &p.name),
            None => Wanted::Default,
        }
    }

    async fn apply(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Action> {
        act::apply(obj.as_ref(), ctx.as_ref()).await
    }

    fn wire(
        controller: Controller<Self>,
        ctx: &Arc<Context<Self>>,
        _namespace: Option<&str>,
    ) -> Controller<Self> {
        wire_members(controller, ctx, &ctx.state)
    }

    fn watched(ctx: &Context<Self>, event: &watcher::Event<Self>) {
        if let watcher::Event::Delete(m) = event {
            ctx.state.tell(m);
        }
    }

    async fn cleanup(obj: Arc<Self>, ctx: Arc<Context<Self>>) -> Result<Cleanup> {
        cleanup::cleanup(obj.as_ref(), ctx.as_ref()).await
    }
}

/// Whether a member's status says it waits on another (`MemberConflict`).
fn waits_on_conflict(status: Option<&AuraMemberStatus>) -> bool {
    status.is_some_and(|s| {
        Said::<decide::MemberReason>::of(&s.conditions).stalled
            == Some(decide::MemberReason::MemberConflict)
    })
}
