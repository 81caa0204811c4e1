use super::*;

fn person(role: Option<&str>) -> Option<Person> {
    Some(Person {
        user_id: "u-1".into(),
        role: role.map(str::to_string),
    })
}

fn seen(person: Option<Person>, invite: Option<&str>) -> Seen {
    Seen {
        person,
        invite: invite.map(str::to_string),
    }
}

fn want(role: &str, adopt: bool, by_email: bool) -> Want<'_> {
    Want {
        role,
        adopt,
        by_email,
        user_id: (!by_email).then_some("u-9"),
    }
}

fn record(origin: Option<MembershipOrigin>, requested: bool, invite: Option<&str>) -> Record {
    Record {
        origin,
        original_role: None,
        invite_id: invite.map(str::to_string),
        requested,
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one table
fn each_step_follows_from_the_person_the_invite_and_the_record() {
    use MembershipOrigin::{Added, Adopted};
    let none = record(None, false, None);
    let cases: Vec<(&str, Want, Seen, Record, Step)> = vec![
        (
            "nobody, by email: invite",
            want("project-viewer", false, true),
            seen(None, None),
            none.clone(),
            Step::Invite,
        ),
        (
            "nobody, by user id: cannot be invited",
            want("project-viewer", false, false),
            seen(None, None),
            none.clone(),
            Step::Stall(
                MemberReason::UserNotFound,
                "user u-9 is not in the organization; name the person by email to invite them"
                    .into(),
            ),
        ),
        (
            "our invite pending",
            want("project-viewer", false, true),
            seen(None, Some("i-1")),
            record(None, false, Some("i-1")),
            Step::Wait {
                invite_id: "i-1".into(),
                ours: true,
            },
        ),
        (
            "an invite sent, answer lost, found again",
            want("project-viewer", false, true),
            seen(None, Some("i-1")),
            record(None, true, None),
            Step::Wait {
                invite_id: "i-1".into(),
                ours: true,
            },
        ),
        (
            "someone else's invite: waited for, not ours",
            want("project-viewer", false, true),
            seen(None, Some("i-7")),
            none.clone(),
            Step::Wait {
                invite_id: "i-7".into(),
                ours: false,
            },
        ),
        (
            "our invite gone unaccepted: invite again",
            want("project-viewer", false, true),
            seen(None, None),
            record(None, false, Some("i-1")),
            Step::Invite,
        ),
        (
            "in the organization, not in the project: add",
            want("project-viewer", false, true),
            seen(person(None), None),
            none.clone(),
            Step::Add {
                user_id: "u-1".into(),
            },
        ),
        (
            "our invite accepted with the role: held, added by us",
            want("project-viewer", false, true),
            seen(person(Some("project-viewer")), None),
            record(None, false, Some("i-1")),
            Step::Hold {
                user_id: "u-1".into(),
                origin: Added,
            },
        ),
        (
            "an add whose answer was lost shows: ours",
            want("project-viewer", false, true),
            seen(person(Some("project-viewer")), None),
            record(None, true, None),
            Step::Hold {
                user_id: "u-1".into(),
                origin: Added,
            },
        ),
        (
            "ours, role changed in the spec: promote",
            want("project-admin", false, true),
            seen(person(Some("project-viewer")), None),
            record(Some(Added), false, None),
            Step::SetRole {
                user_id: "u-1".into(),
                adopt_from: None,
            },
        ),
        (
            "adopted and in line: held as adopted",
            want("project-admin", false, true),
            seen(person(Some("PROJECT-ADMIN")), None),
            record(Some(Adopted), false, None),
            Step::Hold {
                user_id: "u-1".into(),
                origin: Adopted,
            },
        ),
        (
            "a membership made elsewhere, no adopt: never touched",
            want("project-admin", false, true),
            seen(person(Some("project-viewer")), None),
            none.clone(),
            Step::Stall(
                MemberReason::MembershipExists,
                "the person is a member already (project-viewer), not through this object; set spec.adopt to take the membership over (its role is put back when the object goes)".into(),
            ),
        ),
        (
            "a membership made elsewhere with the same role, no adopt: still not ours",
            want("project-admin", false, true),
            seen(person(Some("project-admin")), None),
            none.clone(),
            Step::Stall(
                MemberReason::MembershipExists,
                "the person is a member already (project-admin), not through this object; set spec.adopt to take the membership over (its role is put back when the object goes)".into(),
            ),
        ),
        (
            "adopt: the original role is recorded before the change",
            want("project-admin", true, false),
            seen(person(Some("project-viewer")), None),
            none.clone(),
            Step::SetRole {
                user_id: "u-1".into(),
                adopt_from: Some("project-viewer".into()),
            },
        ),
    ];
    for (name, want, seen, record, expected) in cases {
        assert_eq!(step(&want, &seen, &record), expected, "{name}");
    }
}

#[test]
fn deleting_undoes_only_what_the_object_did() {
    use DeletionPolicy::{Delete, Orphan};
    use MembershipOrigin::{Added, Adopted};
    let adopted = Record {
        origin: Some(Adopted),
        original_role: Some("project-viewer".into()),
        invite_id: None,
        requested: false,
    };
    let cases: Vec<(&str, DeletionPolicy, Record, Seen, Vec<Leave>)> = vec![
        (
            "added, Delete: removed",
            Delete,
            record(Some(Added), false, None),
            seen(person(Some("project-admin")), None),
            vec![Leave::Remove {
                user_id: "u-1".into(),
            }],
        ),
        (
            "added, Orphan: kept",
            Orphan,
            record(Some(Added), false, None),
            seen(person(Some("project-admin")), None),
            vec![],
        ),
        (
            "adopted, Delete: role put back, never removed",
            Delete,
            adopted.clone(),
            seen(person(Some("project-admin")), None),
            vec![Leave::Restore {
                user_id: "u-1".into(),
                role: "project-viewer".into(),
            }],
        ),
        (
            "adopted, Orphan: role put back",
            Orphan,
            adopted.clone(),
            seen(person(Some("project-admin")), None),
            vec![Leave::Restore {
                user_id: "u-1".into(),
                role: "project-viewer".into(),
            }],
        ),
        (
            "adopted, role already the original: nothing",
            Orphan,
            adopted.clone(),
            seen(person(Some("project-viewer")), None),
            vec![],
        ),
        (
            "adopted, person gone meanwhile: nothing",
            Delete,
            adopted,
            seen(person(None), None),
            vec![],
        ),
        (
            "our invite pending, Delete: deleted",
            Delete,
            record(None, false, Some("i-1")),
            seen(None, Some("i-1")),
            vec![Leave::DeleteInvite { id: "i-1".into() }],
        ),
        (
            "an invite sent, answer lost, Delete: found and deleted",
            Delete,
            record(None, true, None),
            seen(None, Some("i-2")),
            vec![Leave::DeleteInvite { id: "i-2".into() }],
        ),
        (
            "our invite pending, Orphan: kept",
            Orphan,
            record(None, false, Some("i-1")),
            seen(None, Some("i-1")),
            vec![],
        ),
        (
            "nothing of ours: someone else's membership untouched",
            Delete,
            record(None, false, None),
            seen(person(Some("project-admin")), Some("i-9")),
            vec![],
        ),
        (
            "an add whose answer was lost, then deleted: the membership goes",
            Delete,
            record(None, true, None),
            seen(person(Some("project-admin")), None),
            vec![Leave::Remove {
                user_id: "u-1".into(),
            }],
        ),
    ];
    for (name, policy, record, seen, expected) in cases {
        assert_eq!(leave(policy, &record, &seen), expected, "{name}");
    }
}

#[test]
fn the_older_object_for_the_same_person_and_scope_wins() {
    let at = |s: &str| Some(s.parse::<Timestamp>().unwrap());
    let claimant = |name: &str, scope: &str, email: Option<&str>, id: Option<&str>, t| Claimant {
        name: name.into(),
        scope: scope.into(),
        email: email.map(str::to_string),
        user_id: id.map(str::to_string),
        created: t,
    };
    let me = claimant(
        "b",
        "p-1",
        Some("Ada@example.com"),
        None,
        at("2026-01-02T00:00:00Z"),
    );
    let older = claimant(
        "a",
        "p-1",
        Some("ada@example.com"),
        None,
        at("2026-01-01T00:00:00Z"),
    );
    let newer = claimant(
        "c",
        "p-1",
        Some("ada@example.com"),
        None,
        at("2026-01-03T00:00:00Z"),
    );
    let elsewhere = claimant(
        "d",
        "p-2",
        Some("ada@example.com"),
        None,
        at("2026-01-01T00:00:00Z"),
    );
    let by_id = claimant("e", "p-1", None, Some("u-1"), at("2026-01-01T00:00:00Z"));
    let mut me_with_id = me.clone();
    me_with_id.user_id = Some("U-1".into());
    assert!(conflict(&me, std::slice::from_ref(&older)).is_some());
    assert!(conflict(&older, &[me.clone(), newer.clone()]).is_none());
    assert!(conflict(&me, std::slice::from_ref(&newer)).is_none());
    assert!(conflict(&me, std::slice::from_ref(&elsewhere)).is_none());
    assert!(conflict(&me, std::slice::from_ref(&by_id)).is_none());
    // The same person by id once the status found it.
    assert!(conflict(&me_with_id, &[by_id]).is_some());
    // Same creation time: the name decides, so exactly one goes on.
    let twin_a = claimant("a", "p-1", Some("x@y.z"), None, at("2026-01-01T00:00:00Z"));
    let twin_b = claimant("b", "p-1", Some("x@y.z"), None, at("2026-01-01T00:00:00Z"));
    assert!(conflict(&twin_a, std::slice::from_ref(&twin_b)).is_none());
    assert!(conflict(&twin_b, &[twin_a]).is_some());
}

#[test]
fn a_lost_request_may_show_for_a_while() {
    const GRACE: std::time::Duration = std::time::Duration::from_secs(60);
    let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
    assert!(request_may_show(Some("2026-01-01T00:00:30Z"), now, GRACE));
    assert!(!request_may_show(Some("2025-12-31T23:59:00Z"), now, GRACE));
    assert!(!request_may_show(None, now, GRACE));
    assert!(!request_may_show(Some("not a time"), now, GRACE));
}

#[test]
fn the_person_is_looked_for_again_only_when_an_invite_of_ours_left_no_trace() {
    let ours = record(None, false, Some("i-1"));
    let sent_unanswered = record(None, true, None);
    let none = record(None, false, None);
    let added = record(Some(MembershipOrigin::Added), false, None);
    let cases = [
        (
            "our invite listed no more, nobody seen",
            seen(None, None),
            &ours,
            true,
        ),
        (
            "an invite sent, answer lost, nothing seen",
            seen(None, None),
            &sent_unanswered,
            true,
        ),
        (
            "never invited: nothing to look for",
            seen(None, None),
            &none,
            false,
        ),
        (
            "added by us, gone since: nothing to look for",
            seen(None, None),
            &added,
            false,
        ),
        (
            "our invite still pending",
            seen(None, Some("i-1")),
            &ours,
            false,
        ),
        (
            "the person is seen",
            seen(person(Some("project-viewer")), None),
            &ours,
            false,
        ),
        (
            "the person is seen without a role",
            seen(person(None), None),
            &ours,
            false,
        ),
    ];
    for (name, seen, record, want) in cases {
        assert_eq!(look_again(&seen, record), want, "{name}");
    }
}

#[test]
fn an_invite_answered_conflict_keeps_the_earlier_invite_on_record() {
    use InviteAnswer::{Conflict, Failed, Sent};
    let cases = [
        (None, Sent("i-2"), Some("i-2")),
        (Some("i-1"), Sent("i-2"), Some("i-2")),
        (Some("i-1"), Conflict, Some("i-1")),
        (None, Conflict, None),
        (Some("i-1"), Failed, None),
        (None, Failed, None),
    ];
    for (earlier, answer, want) in cases {
        assert_eq!(
            invite_after(earlier, answer).as_deref(),
            want,
            "{earlier:?} {answer:?}"
        );
    }
}
