use super::*;
use crate::api::RetiringLogin;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn names() -> [String; 2] {
    ["app".to_string(), "app_b".to_string()]
}

fn row(user: &str, roles: Option<&[&str]>) -> UserRow {
    UserRow {
        user: user.into(),
        roles: roles.map(|r| r.iter().map(|s| s.to_string()).collect()),
    }
}

fn ours(username: Option<&str>, users: &[&str]) -> AuraDatabaseUserStatus {
    AuraDatabaseUserStatus {
        username: username.map(str::to_string),
        users: users.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn held(user: &str) -> SecretSeen {
    SecretSeen::Ours {
        username: Some(user.into()),
        type_matches: true,
    }
}

struct Case {
    name: &'static str,
    status: AuraDatabaseUserStatus,
    users: Vec<UserRow>,
    secret: SecretSeen,
    login: LoginCheck,
    adopt: bool,
    rotate: Option<&'static str>,
    due: bool,
    rbac: bool,
    roles: Vec<String>,
    existing_roles: Option<Vec<String>>,
    want: Step,
    want_reason: Option<UserReason>,
}

fn case(name: &'static str, want: Step) -> Case {
    Case {
        name,
        status: ours(Some("app"), &["app"]),
        users: vec![row("app", None)],
        secret: held("app"),
        login: LoginCheck::Accepted,
        adopt: false,
        rotate: None,
        due: false,
        rbac: false,
        roles: vec![],
        existing_roles: None,
        want,
        want_reason: None,
    }
}

fn run(c: &Case) -> Decision {
    let names = names();
    decide(&Observation {
        now: t("2026-03-01T03:00:00Z"),
        names: &names,
        status: &c.status,
        roles: &c.roles,
        adopt: c.adopt,
        rotate_requested: c.rotate,
        schedule: Schedule {
            due: c.due,
            next: None,
        },
        grace: SignedDuration::from_hours(1),
        secret: &c.secret,
        users: &c.users,
        existing_roles: c.existing_roles.as_deref(),
        login: &c.login,
        rbac: c.rbac,
    })
}

fn set_login(user: &str, create: bool, why: Why) -> Step {
    Step::SetLogin {
        user: user.into(),
        create,
        why,
    }
}

fn record(u: &str, adopted: bool) -> Step {
    Step::Record {
        users: vec![u.into()],
        adopted,
    }
}

fn assert_cases(cases: &[Case]) {
    for c in cases {
        let d = run(c);
        assert_eq!(d.step, c.want, "{}", c.name);
        if let Some(reason) = c.want_reason {
            let got = d.summary.reason().unwrap_or(UserReason::LoginWorks);
            assert_eq!(got, reason, "{}: {:?}", c.name, d.summary);
        }
    }
}

#[test]
fn a_user_is_recorded_then_made_once() {
    assert_cases(&[
        Case {
            status: ours(None, &[]),
            users: vec![],
            secret: SecretSeen::Absent,
            login: LoginCheck::NotAsked,
            ..case(
                "a new object records its user before making it",
                record("app", false),
            )
        },
        Case {
            status: ours(None, &["app"]),
            users: vec![],
            secret: SecretSeen::Absent,
            login: LoginCheck::NotAsked,
            ..case("then creates it", set_login("app", true, Why::First))
        },
        Case {
            status: ours(None, &["app"]),
            secret: SecretSeen::Absent,
            login: LoginCheck::NotAsked,
            ..case(
                "cut off after the create: a new password, never a second user",
                set_login("app", false, Why::First),
            )
        },
        Case {
            status: ours(None, &[]),
            secret: SecretSeen::Absent,
            login: LoginCheck::NotAsked,
            want_reason: Some(UserReason::UserExists),
            ..case("a user made by someone else is refused", Step::Settled)
        },
        Case {
            status: ours(None, &[]),
            secret: SecretSeen::Absent,
            login: LoginCheck::NotAsked,
            adopt: true,
            ..case("or adopted when the spec says so", record("app", true))
        },
    ]);
}

#[test]
fn strangers_and_the_secret_login() {
    assert_cases(&[
        Case {
            users: vec![row("app", None), row("app_b", None)],
            want_reason: Some(UserReason::UserExists),
            ..case(
                "a rotation partner made by someone else is refused too",
                Step::Settled,
            )
        },
        Case {
            want_reason: Some(UserReason::LoginWorks),
            ..case("settled", Step::Settled)
        },
        Case {
            login: LoginCheck::Refused,
            ..case(
                "a refused login gets a fresh password in place",
                set_login("app", false, Why::Repair),
            )
        },
        Case {
            secret: SecretSeen::Absent,
            login: LoginCheck::NotAsked,
            ..case(
                "a deleted Secret is written again with a fresh password",
                set_login("app", false, Why::Repair),
            )
        },
        Case {
            secret: SecretSeen::Ours {
                username: Some("app".into()),
                type_matches: false,
            },
            ..case(
                "a format of another Secret type rewrites the Secret",
                set_login("app", false, Why::Repair),
            )
        },
        Case {
            login: LoginCheck::Unreachable("timed out".into()),
            want_reason: Some(UserReason::Unreachable),
            ..case("an unreachable database is waited for", Step::Settled)
        },
    ]);
}

#[test]
fn rotations_step_by_step() {
    assert_cases(&[
        Case {
            rotate: Some("1"),
            ..case(
                "a rotation first records the partner",
                record("app_b", false),
            )
        },
        Case {
            rotate: Some("1"),
            status: ours(Some("app"), &["app", "app_b"]),
            ..case(
                "then makes it with a fresh password",
                set_login("app_b", true, Why::Rotation),
            )
        },
        Case {
            due: true,
            status: ours(Some("app"), &["app", "app_b"]),
            users: vec![row("app", None), row("app_b", None)],
            ..case(
                "a scheduled rotation to an existing partner",
                set_login("app_b", false, Why::Rotation),
            )
        },
        Case {
            rotate: Some("1"),
            status: AuraDatabaseUserStatus {
                rotate_requested: Some("1".into()),
                ..ours(Some("app"), &["app"])
            },
            want_reason: Some(UserReason::LoginWorks),
            ..case(
                "an annotation value acted on is not acted on again",
                Step::Settled,
            )
        },
        Case {
            status: ours(Some("app"), &["app", "app_b"]),
            users: vec![row("app", None), row("app_b", None)],
            secret: held("app_b"),
            ..case(
                "cut off after the Secret write: the Secret is the truth",
                Step::Promote {
                    user: "app_b".into(),
                },
            )
        },
        Case {
            rotate: Some("2"),
            status: AuraDatabaseUserStatus {
                retiring: Some(RetiringLogin {
                    username: "app".into(),
                    until: "2026-03-01T03:30:00Z".into(),
                }),
                ..ours(Some("app_b"), &["app", "app_b"])
            },
            users: vec![row("app", None), row("app_b", None)],
            secret: held("app_b"),
            want_reason: Some(UserReason::LoginWorks),
            ..case(
                "no rotation while the previous login is in its grace period",
                Step::Settled,
            )
        },
    ]);
}

#[test]
fn retirement_and_roles() {
    assert_cases(&[
        Case {
            status: AuraDatabaseUserStatus {
                retiring: Some(RetiringLogin {
                    username: "app".into(),
                    until: "2026-03-01T02:59:59Z".into(),
                }),
                ..ours(Some("app_b"), &["app", "app_b"])
            },
            users: vec![row("app", None), row("app_b", None)],
            secret: held("app_b"),
            ..case(
                "the grace period over, the previous login is retired",
                Step::Retire { user: "app".into() },
            )
        },
        Case {
            rbac: true,
            roles: vec!["reader".into()],
            existing_roles: Some(vec![]),
            users: vec![row("app", Some(&["PUBLIC"]))],
            want_reason: Some(UserReason::RoleNotFound),
            ..case("a role that does not exist stalls", Step::Settled)
        },
        Case {
            rbac: true,
            roles: vec!["reader".into()],
            existing_roles: Some(vec!["reader".into()]),
            users: vec![row("app", Some(&["PUBLIC", "editor"]))],
            ..case(
                "roles follow the spec; PUBLIC stays",
                Step::Roles {
                    grant: vec![("reader".into(), "app".into())],
                    revoke: vec![("editor".into(), "app".into())],
                },
            )
        },
    ]);
}

/// (name, instance, roles, conflicting object, reason, stalls)
type GateCase<'a> = (
    &'static str,
    InstanceGate,
    &'a [String],
    Option<&'static str>,
    Option<UserReason>,
    bool,
);

#[test]
fn gates_call_nothing() {
    let ready = |rbac| InstanceGate::Ready {
        instance_id: "0a1b2c3d".into(),
        rbac,
    };
    let roles = vec!["reader".to_string()];
    let cases: Vec<GateCase<'_>> = vec![
        ("ready", ready(false), &[], None, None, false),
        ("roles with RBAC", ready(true), &roles, None, None, false),
        (
            "roles without RBAC",
            ready(false),
            &roles,
            None,
            Some(UserReason::RolesNotSupported),
            true,
        ),
        (
            "missing",
            InstanceGate::NotFound,
            &[],
            None,
            Some(UserReason::InstanceNotFound),
            false,
        ),
        (
            "paused",
            InstanceGate::Paused,
            &[],
            None,
            Some(UserReason::InstancePaused),
            false,
        ),
        (
            "deleting",
            InstanceGate::Deleting,
            &[],
            None,
            Some(UserReason::InstanceDeleting),
            false,
        ),
        (
            "not ready",
            InstanceGate::NotReady("Creating".into()),
            &[],
            None,
            Some(UserReason::InstanceNotReady),
            false,
        ),
        (
            "another object",
            ready(false),
            &[],
            Some("older"),
            Some(UserReason::UserExists),
            true,
        ),
    ];
    for (name, instance, roles, conflict, want, stalls) in cases {
        let got = gate(&instance, roles, conflict, None);
        assert_eq!(got.as_ref().and_then(|s| s.reason()), want, "{name}");
        assert_eq!(got.is_some_and(|s| s.stalled.is_some()), stalls, "{name}");
    }
    let bad = gate(&ready(false), &[], None, Some("bad schedule"));
    assert_eq!(
        bad.and_then(|s| s.reason()),
        Some(UserReason::InvalidRotation)
    );
}

#[test]
fn a_rotation_puts_the_previous_login_in_its_grace_period() {
    let now = t("2026-03-01T03:00:00Z");
    let mut status = ours(Some("app"), &["app", "app_b"]);
    promote(
        &mut status,
        "app_b",
        now,
        SignedDuration::from_mins(30),
        Some("x"),
    );
    assert_eq!(status.username.as_deref(), Some("app_b"));
    assert_eq!(status.rotations, 1);
    assert_eq!(
        status.retiring,
        Some(RetiringLogin {
            username: "app".into(),
            until: "2026-03-01T03:30:00Z".into()
        })
    );
    assert_eq!(status.rotate_requested.as_deref(), Some("x"));
    // A repair in place is not a rotation.
    let mut status = ours(Some("app"), &["app"]);
    promote(&mut status, "app", now, SignedDuration::from_mins(30), None);
    assert_eq!((status.rotations, status.retiring), (0, None));
    assert!(status.password_changed_at.is_some());
}

#[test]
fn grace_periods() {
    assert_eq!(grace_period(None), Ok(SignedDuration::from_hours(1)));
    assert_eq!(grace_period(Some("30m")), Ok(SignedDuration::from_mins(30)));
    assert_eq!(
        grace_period(Some("1h30m")),
        Ok(SignedDuration::from_mins(90))
    );
    assert!(grace_period(Some("200h")).is_err());
    assert!(grace_period(Some("soon")).is_err());
}

#[test]
fn deletion_drops_only_what_the_object_made() {
    let ready = InstanceGate::Ready {
        instance_id: "x".into(),
        rbac: false,
    };
    let status = AuraDatabaseUserStatus {
        users: vec!["app".into(), "app_b".into()],
        adopted: vec!["app".into()],
        ..Default::default()
    };
    assert_eq!(
        deletion(false, &ready, false, &status),
        Deletion::Drop(vec!["app_b".into()])
    );
    assert_eq!(deletion(true, &ready, false, &status), Deletion::Orphan);
    assert_eq!(
        deletion(false, &InstanceGate::NotFound, false, &status),
        Deletion::Nothing
    );
    assert_eq!(
        deletion(false, &InstanceGate::Deleting, false, &status),
        Deletion::Nothing
    );
    assert_eq!(
        deletion(false, &InstanceGate::Paused, true, &status),
        Deletion::Nothing,
        "a namespace being deleted never waits"
    );
    assert!(matches!(
        deletion(false, &InstanceGate::Paused, false, &status),
        Deletion::Wait(_)
    ));
    assert_eq!(
        deletion(false, &ready, false, &AuraDatabaseUserStatus::default()),
        Deletion::Nothing
    );
}

#[test]
fn reason_words() {
    crate::reconciler::status::assert_reason_words::<UserReason>();
}

#[test]
fn the_admin_login_is_never_taken() {
    let admin = ["neo4j".to_string(), "neo4j_b".to_string()];
    let refused = admin_name(&admin, "neo4j").expect("refused");
    assert_eq!(refused.reason(), Some(UserReason::UserExists));
    assert!(refused.stalled.is_some());
    assert!(admin_name(&names(), "neo4j").is_none());
    let partner = ["admin_a".to_string(), "neo4j".to_string()];
    assert!(
        admin_name(&partner, "neo4j").is_some(),
        "nor as a rotation partner"
    );
}

#[test]
fn a_restored_secret_is_taken_over_only_with_a_working_login_and_nothing_recorded() {
    let restored = |user: &str| SecretSeen::Restored {
        username: user.into(),
    };
    let fresh = AuraDatabaseUserStatus::default();
    let both = vec![row("app", None), row("app_b", None)];
    let mut cases = vec![
        Case {
            status: fresh.clone(),
            users: both.clone(),
            secret: restored("app_b"),
            ..case(
                "a rebuild: the working login is kept, both users recorded",
                Step::Reclaim {
                    user: "app_b".into(),
                    users: vec!["app".into(), "app_b".into()],
                },
            )
        },
        Case {
            status: fresh.clone(),
            users: both.clone(),
            secret: restored("app"),
            login: LoginCheck::Refused,
            want_reason: Some(UserReason::SecretNotTrusted),
            ..case("a login the database refuses", Step::Settled)
        },
        Case {
            status: fresh.clone(),
            users: vec![],
            secret: restored("app"),
            want_reason: Some(UserReason::SecretNotTrusted),
            ..case("a user that does not exist", Step::Settled)
        },
        Case {
            status: ours(Some("app"), &["app"]),
            secret: restored("app"),
            want_reason: Some(UserReason::SecretNotTrusted),
            ..case("users made here since", Step::Settled)
        },
        Case {
            status: fresh.clone(),
            users: both,
            secret: restored("app"),
            login: LoginCheck::Unreachable("timeout".into()),
            want_reason: Some(UserReason::Unreachable),
            ..case("the database did not answer", Step::Settled)
        },
    ];
    for c in cases.drain(..) {
        let d = run(&c);
        assert_eq!(d.step, c.want, "{}", c.name);
        if let Some(reason) = c.want_reason {
            assert_eq!(d.summary.reason(), Some(reason), "{}", c.name);
        }
    }
}
