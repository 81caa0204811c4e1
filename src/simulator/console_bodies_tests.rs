//! Console access bodies: each role vocabulary where it belongs, one role
//! and no other key in role bodies, what an invite needs.
use serde_json::json;

use super::*;

const P1: &str = "p1";

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn invite_body(email: &str) -> Value {
    json!({"email": email, "roles": ["organization-member"],
        "project_invites": [{"project_id": P1, "project_roles": ["namespace-admin"]}]})
}

#[test]
fn each_role_body_takes_one_role_of_its_own_vocabulary_and_no_other_key() {
    // (body, parser, Ok(role) or Err(field))
    type Parser = fn(&Map<String, Value>) -> Result<String, V2Error>;
    let org: Parser = parse_org_role;
    let project: Parser = parse_project_role;
    let member: Parser = |o| parse_project_member(o).map(|(u, r)| format!("{u} {r}"));
    let cases: Vec<(Value, Parser, Result<&str, &str>)> = vec![
        (
            json!({"organization_roles": ["organization-admin"]}),
            org,
            Ok("organization-admin"),
        ),
        (
            json!({"organization_roles": ["organization-owner"]}),
            org,
            Ok("organization-owner"),
        ),
        (
            json!({"organization_roles": []}),
            org,
            Err("organization_roles"),
        ),
        (
            json!({"organization_roles": ["organization-admin", "organization-member"]}),
            org,
            Err("organization_roles"),
        ),
        (
            json!({"organization_roles": ["organization-boss"]}),
            org,
            Err("organization_roles[0]"),
        ),
        (
            json!({"organization_roles": ["project-admin"]}),
            org,
            Err("organization_roles[0]"),
        ),
        (
            json!({"organization_roles": "organization-admin"}),
            org,
            Err("organization_roles"),
        ),
        (json!({}), org, Err("organization_roles")),
        (
            json!({"organization_roles": ["organization-admin"], "email": "x@y"}),
            org,
            Err("email"),
        ),
        (
            json!({"project_roles": ["project-viewer"]}),
            project,
            Ok("project-viewer"),
        ),
        (
            json!({"project_roles": ["project-metrics-integration-reader"]}),
            project,
            Ok("project-metrics-integration-reader"),
        ),
        (
            json!({"project_roles": ["namespace-viewer"]}),
            project,
            Err("project_roles[0]"),
        ),
        (
            json!({"project_roles": ["organization-member"]}),
            project,
            Err("project_roles[0]"),
        ),
        (
            json!({"project_roles": ["project-admin", "project-member"]}),
            project,
            Err("project_roles"),
        ),
        (
            json!({"project_roles": ["project-admin"], "user_id": "u"}),
            project,
            Err("user_id"),
        ),
        (
            json!({"user_id": "u1", "project_roles": ["project-member"]}),
            member,
            Ok("u1 project-member"),
        ),
        (
            json!({"project_roles": ["project-member"]}),
            member,
            Err("user_id"),
        ),
        (
            json!({"user_id": "u1", "project_roles": ["namespace-member"]}),
            member,
            Err("project_roles[0]"),
        ),
        (
            json!({"user_id": "u1", "project_roles": []}),
            member,
            Err("project_roles"),
        ),
        (
            json!({"user_id": "u1", "project_roles": ["project-member"], "email": "a@b"}),
            member,
            Err("email"),
        ),
    ];
    for (body, parse, want) in cases {
        match (parse(&obj(body.clone())), want) {
            (Ok(got), Ok(role)) => assert_eq!(got, role, "{body}"),
            (Err(e), Err(field)) => {
                assert_eq!(
                    (e.status.as_u16(), e.reason.as_str(), e.errors[0].0.as_str()),
                    (400, "validation-error", field),
                    "{body}"
                );
            }
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn an_invite_body_needs_an_org_role_and_project_invites_of_namespace_roles() {
    // (body, Err(field) or Ok)
    let cases: Vec<(Value, Result<(), &str>)> = vec![
        (invite_body("a@example.com"), Ok(())),
        (
            json!({"email": "a@example.com", "roles": ["organization-owner", "organization-admin"],
                "project_invites": []}),
            Ok(()),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": [], "ignored": true}),
            Ok(()),
        ),
        (
            json!({"email": "a@example.com", "project_invites": []}),
            Err("roles"),
        ),
        (
            json!({"email": "a@example.com", "roles": [], "project_invites": []}),
            Err("roles"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["project-admin"], "project_invites": []}),
            Err("roles[0]"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"]}),
            Err("project_invites"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"], "project_invites": {}}),
            Err("project_invites"),
        ),
        (
            json!({"roles": ["organization-member"], "project_invites": []}),
            Err("email"),
        ),
        (
            json!({"email": "nobody", "roles": ["organization-member"], "project_invites": []}),
            Err("email"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": [{"project_id": P1, "project_roles": ["project-admin"]}]}),
            Err("project_invites[0].project_roles[0]"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": [{"project_id": P1, "project_roles": []}]}),
            Err("project_invites[0].project_roles"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": [{"project_roles": ["namespace-member"]}]}),
            Err("project_invites[0].project_id"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": [{"project_id": P1, "project_roles": ["namespace-member"]},
                                    {"project_id": P1, "project_roles": ["namespace-viewer"]}]}),
            Err("project_invites[1]"),
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": ["p1"]}),
            Err("project_invites[0]"),
        ),
    ];
    for (body, want) in cases {
        match (parse_invite(&obj(body.clone())), want) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(field)) => assert_eq!(
                (e.status.as_u16(), e.reason.as_str(), e.errors[0].0.as_str()),
                (400, "validation-error", field),
                "{body}"
            ),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }
    for role in INVITE_PROJECT_ROLES {
        let body = json!({"email": "a@example.com", "roles": ["organization-member"],
            "project_invites": [{"project_id": P1, "project_roles": [role]}]});
        assert!(parse_invite(&obj(body)).is_ok(), "{role}");
    }
}
