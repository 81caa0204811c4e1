//! The simulator's v2beta1 console access (organization users, project
//! users, invites) held to the vendor's document and to the live
//! behaviour V2BETA1-NOTES item 82 records. Simulator only.

use aura_operator::simulator::{Quirks, Simulator, SimulatorConfig};
use serde_json::{Value, json};

use super::aura_contract_v2beta1::{
    ORG, OTHER_ORG, OTHER_TENANT, Recorder, Spec, TENANT, UNKNOWN, config,
};

/// Statuses the simulator answers that the document does not list for the
/// operation; each answer is a bare `{message, reason}`.
const UNDOCUMENTED: &[(&str, &str, u16)] = &[
    // Notes item 82: an email already a member or already invited.
    ("POST", "/organizations/{org_id}/invites", 409),
    // Notes item 82: live has no GET of one invite.
    ("GET", "/organizations/{org_id}/invites/{invite_id}", 405),
    // The other engineer's contract: not a member of the project.
    (
        "PATCH",
        "/organizations/{org_id}/projects/{project_id}/users/{user_id}",
        404,
    ),
];

fn users() -> String {
    format!("/v2beta1/organizations/{ORG}/users")
}

fn project_users(project: &str) -> String {
    format!("/v2beta1/organizations/{ORG}/projects/{project}/users")
}

fn invites() -> String {
    format!("/v2beta1/organizations/{ORG}/invites")
}

fn reason(v: &Value) -> Option<&str> {
    v["reason"].as_str().or(v["Reason"].as_str())
}

/// OpenAPI 3.0's `nullable: true` in draft 4's words: `null` is one of the types.
pub(super) fn nullable(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = map.get("type").cloned()
            {
                map.insert("type".into(), json!([t, "null"]));
                if let Some(Value::Array(e)) = map.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            map.values_mut().for_each(nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable),
        _ => {}
    }
}

/// Every recorded `/v2beta1` answer against the document: its schema (formats
/// unchecked: `expires_at` is RFC 1123 live, checked apart), or a bare
/// `{message, reason}` for the statuses it does not list.
pub(super) fn conformance(
    spec: &Spec,
    r: &Recorder,
    undocumented: &[(&str, &str, u16)],
) -> Vec<String> {
    let mut problems = Vec::new();
    // The v1 calls a test makes are the v1 contract's to check.
    let v2 = r
        .seen
        .iter()
        .filter(|(_, p, _, _)| p.starts_with("/v2beta1/"));
    for (method, path, status, body) in v2 {
        let Some(t) = spec.template(path) else {
            problems.push(format!("{path} is not in the document"));
            continue;
        };
        if *status >= 400 && !(body["message"].is_string() && body["reason"].is_string()) {
            problems.push(format!(
                "{method} {path} {status}: not {{message, reason}}: {body}"
            ));
        }
        match spec.schema(method, &t, *status) {
            Err(_) if undocumented.contains(&(method.as_str(), t.as_str(), *status)) => {}
            Err(e) => problems.push(e),
            Ok(None) => {}
            Ok(Some(mut schema)) => {
                nullable(&mut schema);
                let v = jsonschema::draft4::options()
                    .should_validate_formats(false)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("schema of {method} {t} {status}: {e}"));
                for err in v.iter_errors(body) {
                    problems.push(format!(
                        "{method} {path} {status}: {err} at {} in {body}",
                        err.instance_path()
                    ));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[tokio::test]
async fn console_users_conform_to_the_document_and_refuse_as_live() {
    let spec = Spec::load();
    let sim = Simulator::start(config()).await.expect("simulator starts");
    let mut r = Recorder::new(&sim.base_url()).await;
    let st = sim.state();

    // One person added over /admin, one in-process.
    let (s, made) = r
        .admin(
            "POST",
            &format!("/admin/organizations/{ORG}/users"),
            json!({"email": "ada@example.com", "organization_role": "organization-admin"}),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let ada = made["user_id"].as_str().unwrap().to_string();
    let bob = st.add_console_user(ORG, "bob@example.com", "organization-member");
    assert_ne!(ada, bob);
    let (s, e) = r
        .admin(
            "POST",
            &format!("/admin/organizations/{ORG}/users"),
            json!({"email": "x@example.com", "organization_role": "project-admin"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");

    let (s, list) = r.call("GET", &users(), None).await;
    assert_eq!((s, list["data"].as_array().map(Vec::len)), (200, Some(2)));
    assert_eq!(
        list["data"][0],
        json!({"user_id": ada, "email": "ada@example.com",
            "organization_roles": ["organization-admin"], "exempt_from_automatic_removal": false,
            "mfa_enrollment_status": "not_enrolled", "mfa_enrolled_methods": [],
            "last_activity_at": null})
    );
    let (s, other) = r
        .call(
            "GET",
            &format!("/v2beta1/organizations/{OTHER_ORG}/users"),
            None,
        )
        .await;
    assert_eq!((s, other), (200, json!({"data": []})));
    let bob_path = format!("{}/{bob}", users());
    let (s, one) = r.call("GET", &bob_path, None).await;
    assert_eq!((s, &one["data"]["projects"]), (200, &json!([])), "{one}");
    let (s, e) = r.call("GET", &format!("{}/{UNKNOWN}", users()), None).await;
    assert_eq!((s, reason(&e)), (404, Some("user-not-found")));

    // PATCH O/users/{id}: exactly one organization role, no other key.
    for bad in [
        json!({"organization_roles": ["organization-admin"], "email": "b@example.com"}),
        json!({"organization_roles": []}),
        json!({"organization_roles": ["organization-admin", "organization-member"]}),
        json!({"organization_roles": ["organization-chief"]}),
        json!({"organization_roles": ["project-admin"]}),
        json!({}),
    ] {
        let (s, e) = r.call("PATCH", &bob_path, Some(bad.clone())).await;
        assert_eq!(
            (s, reason(&e)),
            (400, Some("validation-error")),
            "{bad}: {e}"
        );
    }
    let (s, p) = r
        .call(
            "PATCH",
            &bob_path,
            Some(json!({"organization_roles": ["organization-owner"]})),
        )
        .await;
    assert_eq!(
        (s, &p["data"]["organization_roles"]),
        (200, &json!(["organization-owner"]))
    );

    // Project users: a UUID of an org user, one project-* role.
    let (s, list) = r.call("GET", &project_users(TENANT), None).await;
    assert_eq!((s, list), (200, json!({"data": []})));
    let add = json!({"user_id": bob, "project_roles": ["project-viewer"]});
    let (s, added) = r
        .call("POST", &project_users(TENANT), Some(add.clone()))
        .await;
    assert_eq!(
        (s, added),
        (
            201,
            json!({"data": {"user_id": bob, "email": "bob@example.com", "project_roles": ["project-viewer"]}})
        )
    );
    // (body, status, reason)
    let refusals = [
        (add.clone(), 409, "user-already-member"),
        (
            json!({"user_id": "ada@example.com", "project_roles": ["project-viewer"]}),
            404,
            "user-not-found",
        ),
        (
            json!({"user_id": UNKNOWN, "project_roles": ["project-viewer"]}),
            404,
            "user-not-found",
        ),
        (
            json!({"user_id": ada, "project_roles": ["namespace-viewer"]}),
            400,
            "validation-error",
        ),
        (
            json!({"user_id": ada, "project_roles": ["organization-member"]}),
            400,
            "validation-error",
        ),
        (
            json!({"user_id": ada, "project_roles": ["project-admin", "project-viewer"]}),
            400,
            "validation-error",
        ),
        (
            json!({"user_id": ada, "project_roles": ["project-admin"], "email": "ada@example.com"}),
            400,
            "validation-error",
        ),
    ];
    for (body, status, want) in refusals {
        let (s, e) = r
            .call("POST", &project_users(TENANT), Some(body.clone()))
            .await;
        assert_eq!((s, reason(&e)), (status, Some(want)), "{body}: {e}");
    }
    let (s, e) = r
        .call("POST", &project_users(OTHER_TENANT), Some(add.clone()))
        .await;
    assert_eq!(
        (s, reason(&e)),
        (404, Some("project-not-found")),
        "a project of another organization"
    );
    let bob_member = format!("{}/{bob}", project_users(TENANT));
    let (s, p) = r
        .call(
            "PATCH",
            &bob_member,
            Some(json!({"project_roles": ["project-admin"]})),
        )
        .await;
    assert_eq!(
        (s, &p["data"]["project_roles"]),
        (200, &json!(["project-admin"]))
    );
    let (s, e) = r
        .call(
            "PATCH",
            &format!("{}/{ada}", project_users(TENANT)),
            Some(json!({"project_roles": ["project-admin"]})),
        )
        .await;
    assert_eq!(
        (s, reason(&e)),
        (404, Some("user-not-found")),
        "not a member"
    );
    let (s, one) = r.call("GET", &bob_path, None).await;
    assert_eq!(
        (s, &one["data"]["projects"]),
        (
            200,
            &json!([{"id": TENANT, "name": "Contract", "project_roles": ["project-admin"]}])
        )
    );
    let (s, list) = r.call("GET", &project_users(TENANT), None).await;
    assert_eq!((s, list["data"].as_array().map(Vec::len)), (200, Some(1)));
    assert_eq!(
        r.call("DELETE", &bob_member, None).await,
        (204, Value::Null)
    );
    let (s, e) = r.call("DELETE", &bob_member, None).await;
    assert_eq!((s, reason(&e)), (404, Some("user-not-found")));

    // A console membership goes with its user.
    st.add_console_project_role(ORG, &ada, TENANT, "project-member");
    assert_eq!(
        st.console_users(ORG)[0]
            .project_roles
            .get(TENANT)
            .map(String::as_str),
        Some("project-member")
    );
    let ada_path = format!("{}/{ada}", users());
    assert_eq!(r.call("DELETE", &ada_path, None).await, (204, Value::Null));
    let (s, e) = r.call("DELETE", &ada_path, None).await;
    assert_eq!((s, reason(&e)), (404, Some("user-not-found")));
    let (_, list) = r.call("GET", &project_users(TENANT), None).await;
    assert_eq!(list, json!({"data": []}));
    assert_eq!(st.console_users(ORG).len(), 1);

    let problems = conformance(&spec, &r, UNDOCUMENTED);
    assert!(
        problems.is_empty(),
        "non-conforming:\n{}",
        problems.join("\n")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn invites_conform_to_the_document_and_refuse_as_live() {
    let spec = Spec::load();
    let sim = Simulator::start(config()).await.expect("simulator starts");
    let mut r = Recorder::new(&sim.base_url()).await;
    let st = sim.state();
    st.add_console_user(ORG, "member@example.com", "organization-member");

    let body = json!({"email": "new@example.com", "roles": ["organization-admin"],
        "project_invites": [{"project_id": TENANT, "project_roles": ["namespace-metrics-integration-reader"]}]});
    let (s, made) = r.call("POST", &invites(), Some(body)).await;
    assert_eq!(s, 201, "{made}");
    let inv = &made["data"];
    assert_eq!(
        (
            inv["organization_roles"].clone(),
            inv["status"].as_str(),
            inv["organization_id"].as_str(),
            inv["email"].as_str()
        ),
        (
            json!(["organization-admin"]),
            Some("active"),
            Some(ORG),
            Some("new@example.com")
        )
    );
    let expires = inv["expires_at"].as_str().unwrap();
    assert!(
        httpdate::parse_http_date(expires).is_ok() && expires.ends_with(" GMT"),
        "RFC 1123, as live: {expires}"
    );
    let invite_id = inv["id"].as_str().unwrap().to_string();
    // An empty project_invites is fine.
    let (s, _) = r
        .call(
            "POST",
            &invites(),
            Some(json!({"email": "plain@example.com", "roles": ["organization-member"], "project_invites": []})),
        )
        .await;
    assert_eq!(s, 201);
    // (body, status, reason)
    let refusals = [
        (
            json!({"email": "a@example.com", "project_invites": []}),
            400,
            "validation-error",
        ),
        (
            json!({"email": "a@example.com", "roles": [], "project_invites": []}),
            400,
            "validation-error",
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"]}),
            400,
            "validation-error",
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": [{"project_id": OTHER_TENANT, "project_roles": ["namespace-viewer"]}]}),
            400,
            "validation-error",
        ),
        (
            json!({"email": "a@example.com", "roles": ["organization-member"],
                "project_invites": [{"project_id": TENANT, "project_roles": ["project-viewer"]}]}),
            400,
            "validation-error",
        ),
        (
            json!({"email": "member@example.com", "roles": ["organization-member"], "project_invites": []}),
            409,
            "user-already-member",
        ),
        (
            json!({"email": "new@example.com", "roles": ["organization-member"], "project_invites": []}),
            409,
            "invite-already-exists",
        ),
    ];
    for (body, status, want) in &refusals {
        let (s, e) = r.call("POST", &invites(), Some(body.clone())).await;
        assert_eq!((s, reason(&e)), (*status, Some(*want)), "{body}: {e}");
    }
    let posts = sim
        .state()
        .counters()
        .by_route
        .get("POST /v2beta1/organizations/{org_id}/invites")
        .copied();
    assert_eq!(posts, Some(2 + refusals.len() as u64), "counted by route");

    let (s, list) = r.call("GET", &invites(), None).await;
    assert_eq!((s, list["data"].as_array().map(Vec::len)), (200, Some(2)));
    assert_eq!(list["data"][0], made["data"]);
    let (s, admin_list) = r
        .admin(
            "GET",
            &format!("/admin/organizations/{ORG}/invites"),
            Value::Null,
        )
        .await;
    assert_eq!((s, admin_list.as_array().map(Vec::len)), (200, Some(2)));
    let one = format!("{}/{invite_id}", invites());
    let (s, _) = r.call("GET", &one, None).await;
    assert_eq!(s, 405, "no GET of one invite");

    // Accepted: a user with the project role translated; the invite goes.
    let (s, acc) = r
        .admin(
            "POST",
            &format!("/admin/organizations/{ORG}/invites/accept"),
            json!({"email": "new@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{acc}");
    let new_id = acc["user_id"].as_str().unwrap().to_string();
    let (_, users_now) = r
        .admin(
            "GET",
            &format!("/admin/organizations/{ORG}/users"),
            Value::Null,
        )
        .await;
    let new_user = users_now
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == new_id.as_str())
        .expect("the invitee is a user")
        .clone();
    assert_eq!(
        (
            new_user["organization_role"].clone(),
            new_user["project_roles"].clone()
        ),
        (
            json!("organization-admin"),
            json!({TENANT: "project-metrics-integration-reader"})
        )
    );
    let (s, members) = r.call("GET", &project_users(TENANT), None).await;
    assert_eq!(
        (s, &members["data"][0]["project_roles"]),
        (200, &json!(["project-metrics-integration-reader"]))
    );
    let (s, _) = r
        .admin(
            "POST",
            &format!("/admin/organizations/{ORG}/invites/accept"),
            json!({"email": "new@example.com"}),
        )
        .await;
    assert_eq!(s, 404, "accepted once");
    let (s, e) = r.call("DELETE", &one, None).await;
    assert_eq!(
        (s, reason(&e)),
        (404, Some("invite-not-found")),
        "accepted, gone"
    );

    // Deleted: 204, then 404 invite-not-found.
    let plain = st
        .invites(ORG)
        .into_iter()
        .find(|i| i.email == "plain@example.com")
        .unwrap();
    let plain_path = format!("{}/{}", invites(), plain.id);
    assert_eq!(
        r.call("DELETE", &plain_path, None).await,
        (204, Value::Null)
    );
    let (s, e) = r.call("DELETE", &plain_path, None).await;
    assert_eq!((s, reason(&e)), (404, Some("invite-not-found")));
    assert!(st.invites(ORG).is_empty());
    assert_eq!(st.accept_invite(ORG, "plain@example.com"), None);

    let problems = conformance(&spec, &r, UNDOCUMENTED);
    assert!(
        problems.is_empty(),
        "non-conforming:\n{}",
        problems.join("\n")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn console_access_follows_what_the_client_sees_and_the_quirks() {
    const SCOPED: &str = "console-scoped";
    let sim = Simulator::start(SimulatorConfig {
        clients: vec![
            (
                super::aura_contract_v2beta1::ID.into(),
                "contract-v2-secret".into(),
            ),
            (SCOPED.into(), "scoped-secret".into()),
        ],
        client_tenants: vec![(SCOPED.into(), OTHER_TENANT.into())],
        ..config()
    })
    .await
    .expect("simulator starts");
    let st = sim.state();
    let u = st.add_console_user(ORG, "u@example.com", "organization-member");
    // The scoped client sees OTHER_ORG only.
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/oauth/token", sim.base_url()))
        .basic_auth(SCOPED, Some("scoped-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let resp = http
        .get(format!("{}{}", sim.base_url(), users()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(reason(&e), Some("organization-not-found"));

    // Capitalised error keys, as live sends them.
    st.update_faults(|f| f.quirks = Quirks::as_seen());
    let mut r = Recorder::new(&sim.base_url()).await;
    let (s, e) = r
        .call(
            "POST",
            &project_users(TENANT),
            Some(json!({"user_id": "u@example.com", "project_roles": ["project-viewer"]})),
        )
        .await;
    assert_eq!(
        (s, e["Reason"].as_str()),
        (404, Some("user-not-found")),
        "{e}"
    );
    let (s, added) = r
        .call(
            "POST",
            &project_users(TENANT),
            Some(json!({"user_id": u, "project_roles": ["project-viewer"]})),
        )
        .await;
    assert_eq!(
        (s, added["data"]["user_id"].as_str()),
        (201, Some(u.as_str()))
    );
    sim.shutdown().await;
}
