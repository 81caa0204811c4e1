use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::api::{AllowedCidr, AuraIPFilterSpec, LocalRef};

fn spec() -> AuraIPFilterSpec {
    AuraIPFilterSpec {
        name: "office".into(),
        allow_list: vec![
            AllowedCidr {
                cidr: "203.0.113.0/24".into(),
                description: Some("office".into()),
            },
            AllowedCidr {
                cidr: "2001:db8::/32".into(),
                description: None,
            },
        ],
        instance_refs: vec![LocalRef {
            name: "orders".into(),
        }],
        filtering_disabled: false,
        deletion_policy: None,
        credentials_secret_ref: None,
        project_ref: None,
    }
}

#[test]
fn an_instance_is_a_target_only_while_its_object_holds_it_and_no_holder_is_named() {
    let recorded = || Some(("i-1".to_string(), "t-1".to_string()));
    assert_eq!(
        target("orders", recorded(), Some(true)),
        Target::Instance {
            id: "i-1".into(),
            tenant: "t-1".into()
        }
    );
    let Target::Waiting(held) = target("orders", recorded(), Some(false)) else {
        panic!("held elsewhere is not a target");
    };
    assert!(
        held.contains("another AuraInstance") && held.contains("i-1"),
        "{held}"
    );
    assert!(
        matches!(target("orders", None, None), Target::Waiting(m) if m.contains("no Aura instance yet"))
    );
}

#[test]
fn the_write_carries_the_spec_in_auras_write_names() {
    let spec = spec();
    let w = desired(
        &spec.name,
        &spec.allow_list,
        spec.filtering_disabled,
        "org-1",
        on_instances(&["i-1".into()]),
    );
    let body = serde_json::to_value(&w).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "name": "office", "organization_id": "org-1",
            "allow_list": [
                {"ip_range": "203.0.113.0/24", "description": "office"},
                {"ip_range": "2001:db8::/32", "description": ""}
            ],
            "entities": {"instances": ["i-1"], "projects": []},
            "filtering_disabled": false
        })
    );
}

fn other(key: &str, created: Option<&str>, names: &[&str], id: Option<&str>) -> Other {
    let (namespace, _) = key.split_once('/').unwrap();
    Other {
        key: key.into(),
        namespace: namespace.into(),
        created: created.map(|c| c.parse().unwrap()),
        instance_names: names.iter().map(|n| n.to_string()).collect(),
        id: id.map(str::to_string),
    }
}

#[test]
fn the_later_object_on_an_instance_waits_and_the_first_is_left_alone() {
    let me = other(
        "team/b",
        Some("2026-12-05T10:00:00Z"),
        &["orders", "users"],
        None,
    );
    type Case = (&'static str, Vec<Other>, Option<&'static str>);
    let cases: Vec<Case> = vec![
        ("nobody else", vec![], None),
        (
            "older on the same instance",
            vec![other(
                "team/a",
                Some("2026-12-05T09:00:00Z"),
                &["orders"],
                None,
            )],
            Some("orders (team/a)"),
        ),
        (
            "younger on the same instance: it is the one that waits",
            vec![other(
                "team/c",
                Some("2026-12-05T11:00:00Z"),
                &["orders"],
                None,
            )],
            None,
        ),
        (
            "same age: the smaller name is first",
            vec![other(
                "team/a",
                Some("2026-12-05T10:00:00Z"),
                &["users"],
                None,
            )],
            Some("users (team/a)"),
        ),
        (
            "an instance of the same name in another namespace is another instance",
            vec![other(
                "elsewhere/a",
                Some("2026-12-05T09:00:00Z"),
                &["orders"],
                None,
            )],
            None,
        ),
        (
            "other instances",
            vec![other(
                "team/a",
                Some("2026-12-05T09:00:00Z"),
                &["billing"],
                None,
            )],
            None,
        ),
    ];
    for (what, others, want) in cases {
        let got = conflict(&me, &others);
        match want {
            None => assert_eq!(got, None, "{what}"),
            Some(part) => assert!(
                got.as_deref().unwrap_or("").contains(part),
                "{what}: {got:?}"
            ),
        }
    }
    // The same Aura filter recorded twice, whatever the age.
    let mine = other("team/b", Some("2026-12-05T08:00:00Z"), &[], Some("f-1"));
    let got = conflict(&mine, &[other("x/y", None, &[], Some("f-1"))]).unwrap();
    assert!(got.contains("f-1") && got.contains("x/y"), "{got}");
}

fn filter(id: &str, name: &str, status: Option<&str>) -> IpFilter {
    IpFilter {
        id: id.into(),
        name: name.into(),
        status: status.map(str::to_string),
        ..Default::default()
    }
}

#[test]
fn an_unanswered_create_is_found_again_by_name_among_new_ids() {
    let listed = [
        filter("f-old", "office", None),
        filter("f-new", "office", None),
        filter("f-held", "office", None),
        filter("f-x", "other", None),
    ];
    let found = candidates(&listed, "office", &["f-old".into()], &["f-held".into()]);
    assert_eq!(found, vec!["f-new"]);
    assert_eq!(
        prior_ids(&listed, "office"),
        vec!["f-held", "f-new", "f-old"]
    );

    let t0: Timestamp = "2026-12-05T10:00:00Z".parse().unwrap();
    let grace = Duration::from_secs(60);
    let at = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
    assert_eq!(
        search(&["f-new"], t0, at(1), grace),
        Search::Found("f-new".into())
    );
    assert_eq!(
        search(&[], t0, at(5), grace),
        Search::Wait(Duration::from_secs(10))
    );
    assert_eq!(
        search(&[], t0, at(58), grace),
        Search::Wait(Duration::from_secs(2))
    );
    assert_eq!(search(&[], t0, at(61), grace), Search::CreateAgain);
    assert!(
        matches!(search(&["a", "b"], t0, at(1), grace), Search::Ambiguous(m) if m.contains("a, b"))
    );
}

#[test]
fn the_state_on_an_instance_is_this_filters_only() {
    let cases = [
        (None, "Pending"),
        (Some(filter("f-2", "x", Some("ACTIVE"))), "Pending"),
        (Some(filter("f-1", "x", Some("submitted"))), "SUBMITTED"),
        (Some(filter("f-1", "x", Some("ACTIVE"))), "ACTIVE"),
        (Some(filter("f-1", "x", None)), "UNKNOWN"),
    ];
    for (read, want) in cases {
        assert_eq!(state_on("f-1", read.as_ref()), want, "{read:?}");
    }
}

fn applied(instance: &str, state: &str) -> FilterApplied {
    FilterApplied {
        instance: instance.into(),
        instance_id: Some(format!("id-{instance}")),
        state: state.into(),
    }
}

#[test]
fn ready_only_when_active_on_every_instance() {
    type Case = (Vec<FilterApplied>, Vec<String>, Option<FilterReason>, bool);
    let cases: Vec<Case> = vec![
        (
            vec![applied("a", "ACTIVE"), applied("b", "ACTIVE")],
            vec![],
            None,
            true,
        ),
        (
            vec![applied("a", "ACTIVE"), applied("b", "SUBMITTED")],
            vec![],
            Some(FilterReason::FilterSubmitted),
            false,
        ),
        (
            vec![applied("a", "ACTIVE")],
            vec!["AuraInstance b has no Aura instance yet".into()],
            Some(FilterReason::WaitingForInstance),
            false,
        ),
        (
            vec![applied("a", "ERROR"), applied("b", "SUBMITTED")],
            vec![],
            Some(FilterReason::FilterError),
            false,
        ),
        (
            vec![applied("a", "Pending")],
            vec![],
            Some(FilterReason::FilterSubmitted),
            false,
        ),
        // No instance named: the filter exists and is all there is to wait for.
        (vec![], vec![], None, true),
    ];
    for (states, waiting, reason, ready) in cases {
        let (s, requeue) = summary(&states, &waiting);
        assert_eq!(s.is_ready(), ready, "{states:?} {waiting:?}");
        if let Some(r) = reason {
            assert_eq!(s.reason(), Some(r), "{states:?}");
            assert!(requeue.is_some());
        }
    }
    let s = not_applied(&["allowList[].description".into()]);
    assert_eq!(s.reason(), Some(FilterReason::NotApplied));
}
