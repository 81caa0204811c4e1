//! Console users and invites: each role vocabulary where it belongs, the
//! bodies' one-role and no-other-key rules, and each refusal.
use serde_json::{Map, json};

use super::super::console_bodies::{INVITE_PROJECT_ROLES, parse_invite};
use super::*;

const ORG: &str = "org-1";
const P1: &str = "p1";
const P2: &str = "p2";

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn in_org(p: &str) -> bool {
    [P1, P2].contains(&p)
}

fn named(ids: &[&str]) -> Vec<Named> {
    ids.iter()
        .map(|id| Named {
            id: id.to_string(),
            name: format!("Project {id}"),
        })
        .collect()
}

fn invite_body(email: &str) -> Value {
    json!({"email": email, "roles": ["organization-member"],
        "project_invites": [{"project_id": P1, "project_roles": ["namespace-admin"]}]})
}

fn invite(a: &mut ConsoleAccess, email: &str) -> Result<OrganizationInvite, V2Error> {
    let w = parse_invite(&obj(invite_body(email))).unwrap();
    a.invite(ORG, w, &in_org, SystemTime::now())
}

#[test]
fn invites_are_refused_for_members_pending_emails_and_foreign_projects() {
    let mut a = ConsoleAccess::default();
    a.add_user(ORG, "member@example.com", "organization-member")
        .unwrap();
    let made = invite(&mut a, "new@example.com").unwrap();
    assert_eq!(
        (made.status.as_str(), made.organization_id.as_str()),
        ("active", ORG)
    );
    assert_eq!(made.organization_roles, vec!["organization-member"]);
    assert!(
        httpdate::parse_http_date(&made.expires_at).is_ok(),
        "{made:?}"
    );
    assert!(made.expires_at.ends_with(" GMT"));
    // (email, project, status, reason)
    let cases = [
        ("member@example.com", P1, 409, "user-already-member"),
        ("MEMBER@example.com", P1, 409, "user-already-member"),
        ("new@example.com", P1, 409, "invite-already-exists"),
        ("other@example.com", "p9", 400, "validation-error"),
    ];
    for (email, project, status, reason) in cases {
        let mut w = parse_invite(&obj(invite_body(email))).unwrap();
        w.project_invites[0].project_id = project.into();
        let e = a.invite(ORG, w, &in_org, SystemTime::now()).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.reason.as_str()),
            (status, reason),
            "{email}"
        );
    }
    assert_eq!(a.invites(ORG), vec![made.clone()]);
    assert!(a.invites("org-2").is_empty());
    a.delete_invite(ORG, &made.id).unwrap();
    let e = a.delete_invite(ORG, &made.id).unwrap_err();
    assert_eq!(
        (e.status.as_u16(), e.reason.as_str()),
        (404, "invite-not-found")
    );
    assert!(invite(&mut a, "new@example.com").is_ok(), "invitable again");
}

#[test]
fn an_accepted_invite_makes_a_user_with_project_roles_translated() {
    let mut a = ConsoleAccess::default();
    let body = json!({"email": "new@example.com", "roles": ["organization-admin", "organization-member"],
        "project_invites": [{"project_id": P1, "project_roles": ["namespace-metrics-integration-reader"]},
                            {"project_id": P2, "project_roles": ["namespace-viewer"]}]});
    let w = parse_invite(&obj(body)).unwrap();
    a.invite(ORG, w, &in_org, SystemTime::now()).unwrap();
    assert_eq!(a.accept_invite(ORG, "nobody@example.com"), None);
    let id = a
        .accept_invite(ORG, "New@Example.com")
        .expect("a pending invite");
    assert!(a.invites(ORG).is_empty());
    assert_eq!(a.accept_invite(ORG, "new@example.com"), None, "once");
    let v = a.views(ORG);
    assert_eq!(
        v,
        vec![ConsoleUserView {
            user_id: id.clone(),
            email: "new@example.com".into(),
            organization_role: "organization-admin".into(),
            project_roles: [
                (
                    P1.to_string(),
                    "project-metrics-integration-reader".to_string()
                ),
                (P2.to_string(), "project-viewer".to_string()),
            ]
            .into(),
        }]
    );
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    // Each namespace role becomes its project role.
    for (ns, project) in INVITE_PROJECT_ROLES.iter().zip([
        "project-viewer",
        "project-member",
        "project-admin",
        "project-metrics-integration-reader",
    ]) {
        let mut a = ConsoleAccess::default();
        let body = json!({"email": "x@example.com", "roles": ["organization-member"],
            "project_invites": [{"project_id": P1, "project_roles": [ns]}]});
        a.invite(
            ORG,
            parse_invite(&obj(body)).unwrap(),
            &in_org,
            SystemTime::now(),
        )
        .unwrap();
        a.accept_invite(ORG, "x@example.com").unwrap();
        assert_eq!(a.views(ORG)[0].project_roles[P1], project, "{ns}");
        assert!(PROJECT_ROLES.contains(&project));
    }
}

#[test]
fn users_and_their_project_memberships() {
    let mut a = ConsoleAccess::default();
    let u = a
        .add_user(ORG, "u@example.com", "organization-member")
        .unwrap();
    assert!(
        a.add_user(ORG, "u@example.com", "organization-admin")
            .is_err()
    );
    assert!(a.add_user(ORG, "v@example.com", "project-admin").is_err());
    assert!(a.add_project_role(ORG, &u, P2, "namespace-admin").is_err());
    assert!(
        a.add_project_role(ORG, "nobody", P2, "project-admin")
            .is_err()
    );
    a.add_project_role(ORG, &u, P2, "project-admin").unwrap();

    let view = a.users(ORG);
    assert_eq!(view.len(), 1);
    assert_eq!(
        (
            view[0].mfa_enrollment_status.as_str(),
            view[0].exempt_from_automatic_removal,
            &view[0].last_activity_at
        ),
        ("not_enrolled", false, &None)
    );
    let added = a.add_to_project(ORG, P1, &u, "project-viewer").unwrap();
    assert_eq!(added.project_roles, vec!["project-viewer"]);
    // (what, status, reason)
    let refusals: Vec<(Result<ProjectUser, V2Error>, u16, &str)> = vec![
        (
            a.add_to_project(ORG, P1, &u, "project-admin"),
            409,
            "user-already-member",
        ),
        (
            a.add_to_project(ORG, P1, "u@example.com", "project-admin"),
            404,
            "user-not-found",
        ),
        (
            a.add_to_project("org-2", P1, &u, "project-admin"),
            404,
            "user-not-found",
        ),
        (
            a.set_project_role(ORG, "p9", &u, "project-admin"),
            404,
            "user-not-found",
        ),
    ];
    for (got, status, reason) in refusals {
        let e = got.unwrap_err();
        assert_eq!((e.status.as_u16(), e.reason.as_str()), (status, reason));
    }
    let changed = a.set_project_role(ORG, P1, &u, "project-admin").unwrap();
    assert_eq!(changed.project_roles, vec!["project-admin"]);
    assert_eq!(a.project_users(ORG, P1), vec![changed]);
    assert!(a.project_users(ORG, "p9").is_empty());

    // Details list the memberships of the projects the caller sees.
    let d = a.user_details(ORG, &u, &named(&[P1, P2])).unwrap();
    assert_eq!(
        d.projects
            .iter()
            .map(|p| (p.id.as_str(), p.project_roles[0].as_str()))
            .collect::<Vec<_>>(),
        vec![(P1, "project-admin"), (P2, "project-admin")]
    );
    assert_eq!(d.projects[0].name, "Project p1");
    assert_eq!(
        a.user_details(ORG, &u, &named(&[P1]))
            .unwrap()
            .projects
            .len(),
        1
    );

    a.set_org_role(ORG, &u, "organization-owner").unwrap();
    assert_eq!(
        a.users(ORG)[0].organization_roles,
        vec!["organization-owner"]
    );
    a.remove_from_project(ORG, P1, &u).unwrap();
    let e = a.remove_from_project(ORG, P1, &u).unwrap_err();
    assert_eq!(
        (e.status.as_u16(), e.reason.as_str()),
        (404, "user-not-found")
    );
    a.remove_user(ORG, &u).unwrap();
    assert!(a.project_users(ORG, P2).is_empty(), "memberships go too");
    for e in [
        a.remove_user(ORG, &u).unwrap_err(),
        a.user_details(ORG, &u, &[]).unwrap_err(),
        a.set_org_role(ORG, &u, "organization-admin").unwrap_err(),
    ] {
        assert_eq!(
            (e.status.as_u16(), e.reason.as_str()),
            (404, "user-not-found")
        );
    }
}

#[test]
fn an_armed_invitee_accepts_right_after_a_listing_that_finds_the_invite_pending() {
    let mut a = ConsoleAccess::default();
    a.accept_after_users_listing(ORG, "new@example.com");
    // No invite yet: the listing changes nothing, and the arming waits.
    a.accepted_after_listing(ORG);
    assert!(a.users(ORG).is_empty());
    invite(&mut a, "new@example.com").unwrap();
    // Another organization's listing leaves the invite alone.
    a.accepted_after_listing("org-2");
    assert_eq!(a.invites(ORG).len(), 1);
    a.accepted_after_listing(ORG);
    assert!(a.invites(ORG).is_empty(), "accepted");
    let users = a.users(ORG);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].email, "new@example.com");
    // Once only: a second invite to the same email stays pending.
    a.remove_user(ORG, &users[0].user_id).unwrap();
    invite(&mut a, "new@example.com").unwrap();
    a.accepted_after_listing(ORG);
    assert_eq!(a.invites(ORG).len(), 1, "armed once");
}
