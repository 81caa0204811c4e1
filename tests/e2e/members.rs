//! AuraProjectMember and AuraOrganizationMember on a real control plane,
//! Aura's console (API v2beta1) played by the simulator: a person invited,
//! added once they accept, promoted, demoted and removed through one object,
//! Aura's state checked after each step; a membership made in the console
//! left alone, then adopted and given its role back when the object goes;
//! an invite accepted between the operator's two listings, which stays the
//! object's; an operator killed between an invite's POST and its answer, which sends
//! one invite all the same.
//!
//! How the kinds keep DESIGN §4: one owner (one object per person and place:
//! the younger stalls `MemberConflict`, table-tested in `decide_tests.rs`; a
//! membership made elsewhere is never changed without `adopt`, shown here);
//! no cross-namespace data (cluster-scoped, they name ClusterAuraProjects
//! only, whose credentials cluster administrators chose; no Secret is
//! written); bounded work (a Ready member costs one or two reads per resync,
//! a pending invite one list every 30 s, a stall one look every 5 minutes);
//! crash-safety (intent written before every add and invite, shown here).

use crate::support;

use aura_operator::api::{AuraOrganizationMember, AuraProjectMember, ClusterAuraProject};
use aura_operator::simulator::DEMO_ORGANIZATION_ID;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use support::fixtures::{cluster_project, organization_member, project_member};
use support::harness::*;
use support::objects::{self, condition, reconciling_reason, stalled_reason};
use support::{WAIT, eventually};

const ORG: &str = DEMO_ORGANIZATION_ID;

/// A ClusterAuraProject `{ns}-team` of tenant A with the test's
/// credentials (Ready once an operator runs); its name.
async fn team_project(h: &Harness) -> String {
    let projects: Api<ClusterAuraProject> = Api::all(h.client.clone());
    let name = format!("{}-team", h.ns);
    let p = cluster_project(&name)
        .credentials("aura-api", &h.ns)
        .tenant(TENANT_A);
    objects::create(&projects, p).await;
    name
}

/// An exclusive harness with its team project and an operator running, and
/// the cluster's AuraProjectMembers.
async fn team_with_operator(prefix: &str) -> (Harness, String, Api<AuraProjectMember>) {
    let mut h = Harness::start_exclusive(prefix, |_| {}).await;
    let project = team_project(&h).await;
    h.start_operator();
    let members = Api::all(h.client.clone());
    (h, project, members)
}

/// The object name and the email of the person `who`, unique to the test.
fn person(h: &Harness, who: &str) -> (String, String) {
    (
        format!("{}-{who}", h.ns),
        format!("{who}@{}.example.com", h.ns),
    )
}

async fn remove_project(h: &Harness, name: &str) {
    let projects: Api<ClusterAuraProject> = Api::all(h.client.clone());
    projects
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&projects, name).await;
}

/// The person's role in project `TENANT_A`, as Aura holds it.
fn project_role(h: &Harness, email: &str) -> Option<String> {
    h.sim
        .state()
        .console_users(ORG)
        .into_iter()
        .find(|u| u.email == email)
        .and_then(|u| u.project_roles.get(TENANT_A).cloned())
}

fn invite_posts(h: &Harness) -> u64 {
    h.sim
        .state()
        .counters()
        .by_route
        .get("POST /v2beta1/organizations/{org_id}/invites")
        .copied()
        .unwrap_or(0)
}

async fn merge<K>(api: &Api<K>, name: &str, spec: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": spec })),
    )
    .await
    .unwrap();
}

async fn wait_role(api: &Api<AuraProjectMember>, name: &str, role: &str) {
    objects::wait_for(api, name, role, |m: &AuraProjectMember| {
        objects::is_true(m, "Ready")
            && m.status.as_ref().and_then(|s| s.role.as_deref()) == Some(role)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_invited_added_promoted_demoted_and_removed_through_one_object() {
    let (h, project, members) = team_with_operator("member-life").await;
    let (name, email) = person(&h, "ada");

    objects::create(
        &members,
        project_member(&name, &project, &email, "project-viewer"),
    )
    .await;
    let pending = objects::wait_for(&members, &name, "InvitePending", |m| {
        reconciling_reason(m).as_deref() == Some("InvitePending")
    })
    .await;
    let invites = h.sim.state().invites(ORG);
    assert_eq!(invites.len(), 1, "{invites:?}");
    let invite = &invites[0];
    assert_eq!(invite.email, email);
    assert_eq!(invite.organization_roles, vec!["organization-member"]);
    assert_eq!(invite.project_invites.len(), 1);
    assert_eq!(invite.project_invites[0].project_id, TENANT_A);
    assert_eq!(
        invite.project_invites[0].project_roles,
        vec!["namespace-viewer"]
    );
    let status = pending.status.clone().unwrap();
    assert_eq!(status.invite_id.as_deref(), Some(invite.id.as_str()));
    assert_eq!(status.project_id.as_deref(), Some(TENANT_A));
    assert!(!objects::is_true(&pending, "Ready"));

    // Accepted: a member, the object Ready without another call of its own.
    let user = h.sim.state().accept_invite(ORG, &email).expect("accepted");
    let ready = objects::wait_ready(&members, &name).await;
    let status = ready.status.unwrap();
    assert_eq!(status.user_id.as_deref(), Some(user.as_str()));
    assert_eq!(status.role.as_deref(), Some("project-viewer"));
    assert_eq!(status.invite_id, None);
    assert_eq!(project_role(&h, &email).as_deref(), Some("project-viewer"));

    // Promoted, then demoted, in place.
    merge(&members, &name, json!({"role": "project-admin"})).await;
    wait_role(&members, &name, "project-admin").await;
    assert_eq!(project_role(&h, &email).as_deref(), Some("project-admin"));
    merge(
        &members,
        &name,
        json!({"role": "project-metrics-integration-reader"}),
    )
    .await;
    wait_role(&members, &name, "project-metrics-integration-reader").await;
    assert_eq!(
        project_role(&h, &email).as_deref(),
        Some("project-metrics-integration-reader")
    );

    // Removed from the project (and only from it) with the object.
    members
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&members, &name).await;
    assert_eq!(project_role(&h, &email), None);
    assert!(
        h.sim
            .state()
            .console_users(ORG)
            .iter()
            .any(|u| u.email == email),
        "still in the organization"
    );
    assert_eq!(invite_posts(&h), 1, "one invite");
    remove_project(&h, &project).await;
    h.assert_log_clean(&h.operator_log());
}

/// The person accepts the object's invite between the operator's listing of
/// the people (not yet there) and its listing of the invites (no longer
/// there). The object looks again, finds the person its invite made, and
/// holds the membership as its own: no second invite, no MembershipExists,
/// the role of the spec set, and the person removed with the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_accepted_between_two_listings_stays_the_objects_membership() {
    let (h, project, members) = team_with_operator("member-race").await;
    let (name, email) = person(&h, "lin");
    h.sim.state().accept_invite_after_users_listing(ORG, &email);

    objects::create(
        &members,
        project_member(&name, &project, &email, "project-viewer"),
    )
    .await;
    // Sent (the object may be past InvitePending already, should a pass
    // have come meanwhile and met the acceptance).
    eventually("the invite sent", WAIT, || async {
        (invite_posts(&h) > 0).then_some(())
    })
    .await;
    // If no pass met the acceptance yet, one comes at once (the spec
    // changed): it lists the people, the invitee accepts, and the invites it
    // lists next no longer show the invite.
    merge(&members, &name, json!({"role": "project-admin"})).await;
    wait_role(&members, &name, "project-admin").await;
    assert!(
        h.sim.state().invites(ORG).is_empty(),
        "the invite was accepted"
    );
    assert_eq!(project_role(&h, &email).as_deref(), Some("project-admin"));
    assert_eq!(invite_posts(&h), 1, "one invite");
    let status = members.get(&name).await.unwrap().status.unwrap();
    assert_eq!(
        status.origin,
        Some(aura_operator::api::MembershipOrigin::Added)
    );
    assert_eq!(status.invite_id, None);

    // Its own membership: removed with the object.
    members
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&members, &name).await;
    assert_eq!(project_role(&h, &email), None);
    remove_project(&h, &project).await;
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_made_in_the_console_is_left_alone_then_adopted_and_given_its_role_back() {
    let mut h = Harness::start_exclusive("member-adopt", |_| {}).await;
    let project = team_project(&h).await;
    let email = format!("grace@{}.example.com", h.ns);
    let user = h
        .sim
        .state()
        .add_console_user(ORG, &email, "organization-member");
    h.sim
        .state()
        .add_console_project_role(ORG, &user, TENANT_A, "project-viewer");
    h.start_operator();
    let members: Api<AuraProjectMember> = Api::all(h.client.clone());
    let name = format!("{}-grace", h.ns);

    objects::create(
        &members,
        project_member(&name, &project, &email, "project-admin"),
    )
    .await;
    let stalled = objects::wait_for(&members, &name, "MembershipExists", |m| {
        stalled_reason(m).as_deref() == Some("MembershipExists")
    })
    .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("project-viewer"), "{message}");
    assert_eq!(
        project_role(&h, &email).as_deref(),
        Some("project-viewer"),
        "not promoted without adopt"
    );

    merge(&members, &name, json!({"adopt": true})).await;
    wait_role(&members, &name, "project-admin").await;
    let status = members.get(&name).await.unwrap().status.unwrap();
    assert_eq!(status.original_role.as_deref(), Some("project-viewer"));
    assert_eq!(
        status.origin,
        Some(aura_operator::api::MembershipOrigin::Adopted)
    );
    assert_eq!(project_role(&h, &email).as_deref(), Some("project-admin"));

    // Orphaned: the role it had is put back; the person stays.
    merge(&members, &name, json!({"deletionPolicy": "Orphan"})).await;
    members
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&members, &name).await;
    assert_eq!(project_role(&h, &email).as_deref(), Some("project-viewer"));

    // Deleting with Delete does not remove an adopted person either.
    objects::create(
        &members,
        project_member(&name, &project, &email, "project-member").spec(json!({"adopt": true})),
    )
    .await;
    wait_role(&members, &name, "project-member").await;
    members
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&members, &name).await;
    assert_eq!(project_role(&h, &email).as_deref(), Some("project-viewer"));
    remove_project(&h, &project).await;
    h.assert_log_clean(&h.operator_log());
}

/// kill -9 right after Aura answered the invite, before the answer was
/// recorded: the restarted operator finds the invite by the recorded intent
/// and sends no second one; deleting the object before acceptance deletes
/// the invite. A person named by a user id nobody has cannot be invited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_killed_after_an_invite_was_sent_sends_no_second_one() {
    let mut h = Harness::start_exclusive("member-killed", |_| {}).await;
    let project = team_project(&h).await;
    let members: Api<AuraOrganizationMember> = Api::all(h.client.clone());
    let (name, email) = person(&h, "linus");

    h.start_operator_env(&[], &[("AURA_FAILPOINT", "member-invite-answered")]);
    objects::create(
        &members,
        organization_member(&name, &project, &email, "organization-admin"),
    )
    .await;
    let mut operator = h.operator.take().unwrap();
    assert!(
        !operator.ended(WAIT).await.success(),
        "the failpoint aborted the operator"
    );
    assert_eq!(
        h.sim.state().invites(ORG).len(),
        1,
        "the invite reached Aura"
    );
    let recorded = members.get(&name).await.unwrap().status.unwrap();
    assert!(recorded.requested_at.is_some(), "the intent was recorded");
    assert_eq!(recorded.invite_id, None);

    h.start_operator();
    let invites = h.sim.state().invites(ORG);
    let pending = objects::wait_for(&members, &name, "its invite", |m| {
        m.status.as_ref().and_then(|s| s.invite_id.as_deref()) == Some(invites[0].id.as_str())
    })
    .await;
    assert_eq!(
        reconciling_reason(&pending).as_deref(),
        Some("InvitePending")
    );
    assert_eq!(invites[0].organization_roles, vec!["organization-admin"]);
    assert!(invites[0].project_invites.is_empty());
    assert_eq!(invite_posts(&h), 1, "no second invite");

    // Deleted before acceptance: the invite goes too.
    members
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&members, &name).await;
    let sim = h.sim.state();
    eventually("the invite deleted", WAIT, || {
        let gone = sim.invites(ORG).is_empty();
        async move { gone.then_some(()) }
    })
    .await;

    // A user id nobody in the organization has: not invitable.
    let ghost = format!("{}-ghost", h.ns);
    objects::create(
        &members,
        organization_member(&ghost, &project, "x@example.com", "organization-member")
            .spec(json!({"email": null, "userId": "0f0f0f0f-1111-4222-8333-444455556666"})),
    )
    .await;
    objects::wait_for(&members, &ghost, "UserNotFound", |m| {
        stalled_reason(m).as_deref() == Some("UserNotFound")
    })
    .await;
    members
        .delete(&ghost, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&members, &ghost).await;
    assert_eq!(invite_posts(&h), 1);
    remove_project(&h, &project).await;
    h.assert_log_clean(&h.operator_log());
}
