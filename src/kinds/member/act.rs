//! The pass both member kinds share: the credentials, the place (project or
//! organization), the conflict check, what Aura shows of the person, then
//! the one step `decide` picks. An add or an invite is not idempotent: its
//! intent is written (guarded) before the call, and a membership or invite
//! found after a lost answer is the object's.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::decide::{self, InviteAnswer, MemberReason, MemberSummary, Seen, Step};
use super::{MemberObject, Place};
use crate::api::{AuraMemberStatus, MembershipOrigin, OrganizationRole, ProjectRole};
use crate::aura::console::same_email;
use crate::aura::{AuraClient, AuraError, AuraErrorKind};
use crate::kinds::shared::{organization, own_client};
use crate::reconciler::projects::ProjectId;
use crate::reconciler::status::{self, Write};
use crate::reconciler::{Context, Result, failpoint};

type Outcome = (MemberSummary, Option<Duration>);

pub async fn apply<K: MemberObject>(obj: &K, ctx: &Context<K>) -> Result<Action> {
    let api: Api<K> = crate::reconciler::api(&ctx.client, None);
    let mut next = obj.status().cloned().unwrap_or_default();
    let mut written = None;
    let (summary, requeue) = pass(obj, ctx, &api, &mut next, &mut written).await?;
    status::write_pass(
        &api,
        obj,
        written.as_ref(),
        &mut next,
        &summary,
        "write the member's status",
    )
    .await?;
    Ok(Action::requeue(
        requeue.unwrap_or(ctx.config.resync_interval),
    ))
}

fn stalled(reason: MemberReason, message: impl Into<String>) -> Result<Outcome> {
    Ok((
        MemberSummary::stalled(reason, message),
        Some(decide::STALL_RETRY),
    ))
}

async fn pass<K: MemberObject>(
    obj: &K,
    ctx: &Context<K>,
    api: &Api<K>,
    next: &mut AuraMemberStatus,
    written: &mut Option<K>,
) -> Result<Outcome> {
    let aura = match own_client::client(ctx, obj).await? {
        Ok(aura) => aura,
        Err(problem) => return stalled(MemberReason::CredentialsNotUsable, problem.to_string()),
    };
    let place = match place(obj, ctx, &aura, next).await? {
        Ok(place) => place,
        Err(outcome) => return Ok(outcome),
    };
    next.organization_id = Some(place.org().to_string());
    if let Place::Project { project, .. } = &place {
        next.project_id = Some(project.clone());
    }
    let others = claimants(obj, ctx);
    if let Some(message) = decide::conflict(&obj.as_claimant(), &others) {
        return stalled(MemberReason::MemberConflict, message);
    }
    let by_id = next
        .user_id
        .clone()
        .or(obj.spec_user_id().map(str::to_string));
    let record = decide::Record::of(next);
    let seen = observe_settled(&aura, &place, by_id.as_deref(), obj.email(), &record).await?;
    if let Some(p) = &seen.person {
        next.user_id = Some(p.user_id.clone());
    }
    let step = decide::step(&obj.want(), &seen, &record);
    match step {
        Step::Hold { origin, .. } => {
            if next.origin.is_none() {
                ctx.normal(
                    obj,
                    MemberReason::MemberAdded,
                    &added(&place, obj.role_word()),
                )
                .await;
            }
            next.origin = Some(origin);
            next.requested_at = None;
            next.invite_id = None;
            next.role = Some(obj.role_word().to_string());
            Ok((MemberSummary::ready(), None))
        }
        Step::Add { user_id } => add(obj, ctx, api, &aura, &place, &user_id, next, written).await,
        Step::SetRole {
            user_id,
            adopt_from,
        } => {
            let held = seen.person.and_then(|p| p.role);
            set_role(
                obj, ctx, api, &aura, &place, &user_id, held, adopt_from, next, written,
            )
            .await
        }
        Step::Invite => invite(obj, ctx, api, &aura, &place, next, written).await,
        Step::Wait { invite_id, ours } => {
            let message = if ours {
                next.invite_id = Some(invite_id.clone());
                next.requested_at = None;
                format!("invite {invite_id} waits for the person to accept it")
            } else {
                format!(
                    "an invite not sent by this object ({invite_id}) waits for the person to accept it"
                )
            };
            Ok((
                MemberSummary::working(MemberReason::InvitePending, message),
                Some(decide::INVITE_POLL),
            ))
        }
        Step::Stall(reason, message) => stalled(reason, message),
    }
}

fn added(place: &Place, role: &str) -> String {
    match place {
        Place::Project { project, .. } => format!("the person is in project {project} as {role}"),
        Place::Organization { org } => format!("the person is in organization {org} as {role}"),
    }
}

/// The project or organization the object grants a role in, or the status
/// to show while it cannot be told.
async fn place<K: MemberObject>(
    obj: &K,
    ctx: &Context<K>,
    aura: &AuraClient,
    next: &AuraMemberStatus,
) -> Result<std::result::Result<Place, Outcome>> {
    let view = obj
        .project_name()
        .map(|n| (n, ctx.projects.view(&ProjectId::cluster(n))));
    let tenant = view
        .as_ref()
        .and_then(|(_, v)| v.as_ref()?.tenant_id.clone());
    if obj.in_project() && tenant.is_none() {
        let name = view.as_ref().map(|(n, _)| *n).unwrap_or_default();
        let message = match view.as_ref().and_then(|(_, v)| v.as_ref()) {
            None => format!("no ClusterAuraProject {name}"),
            Some(_) => format!("ClusterAuraProject {name} has no Aura project yet"),
        };
        return Ok(Err((
            MemberSummary::working(MemberReason::WaitingForProject, message),
            Some(decide::PROJECT_POLL),
        )));
    }
    let project_org = view
        .as_ref()
        .and_then(|(_, v)| v.as_ref()?.organization_id.clone());
    if let (Some(spec), Some(theirs)) = (obj.spec_organization(), project_org.as_deref())
        && !spec.eq_ignore_ascii_case(theirs)
    {
        return Ok(Err((
            MemberSummary::stalled(
                MemberReason::OrganizationMismatch,
                format!(
                    "organizationId is {spec}, but ClusterAuraProject {} is in organization {theirs}",
                    obj.project_name().unwrap_or_default()
                ),
            ),
            Some(decide::STALL_RETRY),
        )));
    }
    let recorded = obj.spec_organization().or(next.organization_id.as_deref());
    let org = match organization::choose(ctx, obj, aura, recorded, tenant.as_deref()).await? {
        Ok(org) => org,
        Err((problem, message)) => {
            let reason = match problem {
                organization::Problem::NotFound => MemberReason::OrganizationNotFound,
                organization::Problem::Ambiguous => MemberReason::OrganizationAmbiguous,
            };
            return Ok(Err((
                MemberSummary::stalled(reason, message),
                Some(decide::STALL_RETRY),
            )));
        }
    };
    Ok(Ok(match (obj.in_project(), tenant) {
        (true, Some(project)) => Place::Project { org, project },
        _ => Place::Organization { org },
    }))
}

/// The other live objects of the kind, as the conflict check sees them.
fn claimants<K: MemberObject>(obj: &K, ctx: &Context<K>) -> Vec<decide::Claimant> {
    let me = obj.name_any();
    ctx.all_objects()
        .iter()
        .filter(|o| o.name_any() != me && o.meta().deletion_timestamp.is_none())
        .map(|o| o.as_claimant())
        .collect()
}

/// What Aura shows of the person: their account (by user id when known,
/// else by email), their role at the place, and, when they have no account
/// and `invites` is asked for, the invite pending for their email.
pub async fn observe(
    aura: &AuraClient,
    place: &Place,
    user_id: Option<&str>,
    email: Option<&str>,
    invites: bool,
) -> std::result::Result<Seen, AuraError> {
    let org = place.org();
    let user = match (user_id, email) {
        (Some(id), _) => aura.get_console_user(org, id).await?,
        (None, Some(email)) => aura
            .list_console_users(org)
            .await?
            .into_iter()
            .find(|u| same_email(&u.email, email)),
        (None, None) => None,
    };
    let person = match user {
        None => None,
        Some(user) => {
            let role = match place {
                Place::Organization { .. } => user
                    .organization_roles
                    .first()
                    .map(|r| OrganizationRole::parse(r).map_or(r.clone(), |r| r.to_string())),
                Place::Project { project, .. } => {
                    // The GET of one user lists their projects: no second call.
                    let roles = match &user.projects {
                        Some(projects) => projects
                            .iter()
                            .find(|p| p.id.eq_ignore_ascii_case(project))
                            .map(|p| p.project_roles.clone()),
                        None => aura
                            .list_project_users(org, project)
                            .await?
                            .into_iter()
                            .find(|m| m.user_id.eq_ignore_ascii_case(&user.user_id))
                            .map(|m| m.project_roles),
                    };
                    roles
                        .and_then(|r| r.first().cloned())
                        .map(|r| ProjectRole::read(&r).map_or(r, |r| r.to_string()))
                }
            };
            Some(decide::Person {
                user_id: user.user_id,
                role,
            })
        }
    };
    let invite = match (&person, email, invites) {
        (None, Some(email), true) => aura
            .list_invites(org)
            .await?
            .into_iter()
            .find(|i| same_email(&i.email, email))
            .map(|i| i.id),
        _ => None,
    };
    Ok(Seen { person, invite })
}

/// [`observe`], and the people listed once more when an invite of the
/// object's is in neither answer ([`decide::look_again`]).
pub async fn observe_settled(
    aura: &AuraClient,
    place: &Place,
    user_id: Option<&str>,
    email: Option<&str>,
    record: &decide::Record,
) -> std::result::Result<Seen, AuraError> {
    let mut seen = observe(aura, place, user_id, email, true).await?;
    if decide::look_again(&seen, record) {
        seen.person = observe(aura, place, user_id, email, false).await?.person;
    }
    Ok(seen)
}

/// Writes the intent of a call that is not idempotent, guarded: a second
/// operator's pass fails here instead of calling twice.
async fn record_intent<K: MemberObject>(
    obj: &K,
    api: &Api<K>,
    next: &mut AuraMemberStatus,
    written: &mut Option<K>,
    what: &str,
) -> Result<K> {
    next.requested_at = Some(Timestamp::now().to_string());
    status::summarize(
        obj,
        next,
        &MemberSummary::working(MemberReason::Updating, what.to_string()),
    );
    *written = status::write(api, obj, next, Write::Guarded("record the member's intent")).await?;
    Ok(written.clone().unwrap_or_else(|| obj.clone()))
}

#[allow(clippy::too_many_arguments)]
async fn add<K: MemberObject>(
    obj: &K,
    ctx: &Context<K>,
    api: &Api<K>,
    aura: &AuraClient,
    place: &Place,
    user_id: &str,
    next: &mut AuraMemberStatus,
    written: &mut Option<K>,
) -> Result<Outcome> {
    let role_word = obj.role_word();
    let (org, project) = match place {
        // In the organization with no role at all: the role is set.
        Place::Organization { .. } => {
            return set_role(
                obj, ctx, api, aura, place, user_id, None, None, next, written,
            )
            .await;
        }
        Place::Project { org, project } => (org, project),
    };
    let Some(role) = ProjectRole::parse(role_word) else {
        return stalled(
            MemberReason::AuraRejected,
            format!("{role_word} is not a project role"),
        );
    };
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            obj,
            "add_project_user",
            "POST /organizations/{org}/projects/{project}/users",
        )
        .await;
        return Ok((
            MemberSummary::working(MemberReason::Updating, "dry run: the person was not added"),
            None,
        ));
    }
    let latest = record_intent(obj, api, next, written, "adding the person to the project").await?;
    failpoint("member-add-sent");
    match aura.add_project_user(org, project, user_id, role).await {
        Ok(()) => {
            next.origin = Some(MembershipOrigin::Added);
            next.requested_at = None;
            next.role = Some(role_word.to_string());
            ctx.normal(&latest, MemberReason::MemberAdded, &added(place, role_word))
                .await;
            Ok((MemberSummary::ready(), None))
        }
        Err(e) if e.already_member() => {
            // Someone made the membership meanwhile: not ours after all.
            next.requested_at = None;
            Ok((
                MemberSummary::working(
                    MemberReason::Updating,
                    "the person became a member meanwhile",
                ),
                Some(Duration::from_secs(1)),
            ))
        }
        Err(e) => refused(&latest, ctx, next, e).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn set_role<K: MemberObject>(
    obj: &K,
    ctx: &Context<K>,
    api: &Api<K>,
    aura: &AuraClient,
    place: &Place,
    user_id: &str,
    held: Option<String>,
    adopt_from: Option<String>,
    next: &mut AuraMemberStatus,
    written: &mut Option<K>,
) -> Result<Outcome> {
    let want = obj.role_word();
    let mut latest = obj.clone();
    if let Some(original) = &adopt_from {
        if ctx.config.dry_run {
            ctx.dry_run_skipped(obj, "adopt_membership", "record the membership's role")
                .await;
            return Ok((
                MemberSummary::working(
                    MemberReason::Updating,
                    "dry run: the membership was not taken over",
                ),
                None,
            ));
        }
        // The original role is on record before anything changes.
        next.origin = Some(MembershipOrigin::Adopted);
        next.original_role = Some(original.clone());
        next.requested_at = None;
        status::summarize(
            obj,
            next,
            &MemberSummary::working(MemberReason::Updating, "taking the membership over"),
        );
        *written = status::write(api, obj, next, Write::Guarded("record the adopted role")).await?;
        latest = written.clone().unwrap_or_else(|| obj.clone());
        ctx.normal(
            &latest,
            MemberReason::MembershipAdopted,
            &format!(
                "took over a membership with role {original}; it is put back when this object goes"
            ),
        )
        .await;
    }
    if held
        .as_deref()
        .is_some_and(|h| h.eq_ignore_ascii_case(want))
    {
        next.role = Some(want.to_string());
        return Ok((MemberSummary::ready(), None));
    }
    if ctx.config.dry_run {
        ctx.dry_run_skipped(&latest, "set_role", "PATCH the person's role")
            .await;
        return Ok((
            MemberSummary::working(MemberReason::Updating, "dry run: the role was not changed"),
            None,
        ));
    }
    let result = match place {
        Place::Organization { org } => aura.set_organization_role(org, user_id, want).await,
        Place::Project { org, project } => aura.set_project_role(org, project, user_id, want).await,
    };
    match result {
        Ok(()) => {
            if next.origin.is_none() {
                next.origin = Some(MembershipOrigin::Added);
            }
            next.requested_at = None;
            next.invite_id = None;
            next.role = Some(want.to_string());
            let from = held.unwrap_or_else(|| "none".into());
            ctx.normal(
                &latest,
                MemberReason::RoleChanged,
                &format!("changed the role from {from} to {want}"),
            )
            .await;
            Ok((MemberSummary::ready(), None))
        }
        Err(e) => refused(&latest, ctx, next, e).await,
    }
}

async fn invite<K: MemberObject>(
    obj: &K,
    ctx: &Context<K>,
    api: &Api<K>,
    aura: &AuraClient,
    place: &Place,
    next: &mut AuraMemberStatus,
    written: &mut Option<K>,
) -> Result<Outcome> {
    let Some(email) = obj.email() else {
        return stalled(
            MemberReason::UserNotFound,
            "an invite needs the person's email",
        );
    };
    if decide::request_may_show(
        next.requested_at.as_deref(),
        Timestamp::now(),
        ctx.config.create_grace,
    ) {
        // An invite sent whose answer was lost may not be listed yet.
        return Ok((
            MemberSummary::working(MemberReason::InvitePending, "looking for the invite sent"),
            Some(Duration::from_secs(5)),
        ));
    }
    if ctx.config.dry_run {
        ctx.dry_run_skipped(obj, "create_invite", "POST /organizations/{org}/invites")
            .await;
        return Ok((
            MemberSummary::working(MemberReason::InvitePending, "dry run: no invite was sent"),
            None,
        ));
    }
    let body = obj.invite(email, place);
    // Kept aside for `invite_after`: should Aura answer that the person is
    // a member already, it may be this invite they accepted.
    let earlier_invite = next.invite_id.take();
    let latest = record_intent(obj, api, next, written, "inviting the person").await?;
    failpoint("member-invite-sent");
    match aura.create_invite(place.org(), &body).await {
        Ok(sent) => {
            failpoint("member-invite-answered");
            next.invite_id =
                decide::invite_after(earlier_invite.as_deref(), InviteAnswer::Sent(&sent.id));
            next.requested_at = None;
            ctx.normal(
                &latest,
                MemberReason::InviteSent,
                &format!("sent invite {} to the person", sent.id),
            )
            .await;
            Ok((
                MemberSummary::working(
                    MemberReason::InvitePending,
                    format!("invite {} waits for the person to accept it", sent.id),
                ),
                Some(decide::INVITE_POLL),
            ))
        }
        Err(e) if e.kind() == AuraErrorKind::Conflict => {
            // A member already, or invited by someone else meanwhile: seen
            // next pass. A membership that came from the earlier invite is
            // still the object's.
            next.requested_at = None;
            next.invite_id =
                decide::invite_after(earlier_invite.as_deref(), InviteAnswer::Conflict);
            Ok((
                MemberSummary::working(MemberReason::Updating, e.to_string()),
                Some(Duration::from_secs(1)),
            ))
        }
        Err(e) => {
            next.invite_id = decide::invite_after(earlier_invite.as_deref(), InviteAnswer::Failed);
            refused(&latest, ctx, next, e).await
        }
    }
}

/// Aura's refusal as a stall; anything else fails the pass, to be retried.
/// A call that may have reached Aura keeps its intent, to be found again.
async fn refused<K: MemberObject>(
    obj: &K,
    ctx: &Context<K>,
    next: &mut AuraMemberStatus,
    e: AuraError,
) -> Result<Outcome> {
    if !matches!(
        e.kind(),
        AuraErrorKind::NeedsHuman | AuraErrorKind::NotFound
    ) {
        return Err(e.into());
    }
    next.requested_at = None;
    ctx.warn(obj, MemberReason::AuraRejected, &e.to_string())
        .await;
    stalled(MemberReason::AuraRejected, e.to_string())
}
