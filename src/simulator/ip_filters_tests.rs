//! IP filters: CIDRs, write names against read names, one filter per
//! entity, and the per-instance status over time.
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;

const ORG: &str = "org-1";

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn write(v: Value) -> FilterWrite {
    parse_write(&obj(v), &WriteRules::default()).unwrap()
}

/// Instances `i1`, `i2` (project `p1`) and `p1` are in the organization.
fn in_org(e: &Entity) -> bool {
    match e {
        Entity::Instance(id) => ["i1", "i2"].contains(&id.as_str()),
        Entity::Project(id) => id == "p1",
    }
}

fn create(f: &mut IpFilters, v: Value, now: Instant) -> Result<IpFilterView, V2Error> {
    f.create(ORG, write(v), &in_org, now)
}

#[test]
fn cidrs_parse_for_both_families() {
    // (input, address and prefix, or None for a 400)
    let cases: Vec<(&str, Option<(&str, u8)>)> = vec![
        ("203.0.113.0/24", Some(("203.0.113.0", 24))),
        ("10.0.0.1/32", Some(("10.0.0.1", 32))),
        ("0.0.0.0/0", Some(("0.0.0.0", 0))),
        ("2001:db8::/32", Some(("2001:db8::", 32))),
        ("::1/128", Some(("::1", 128))),
        ("203.0.113.0", None),
        ("203.0.113.0/33", None),
        ("2001:db8::/129", None),
        ("203.0.113/24", None),
        ("300.0.0.0/8", None),
        ("203.0.113.0/-1", None),
        ("203.0.113.0/x", None),
        ("", None),
    ];
    for (input, want) in cases {
        let got = parse_cidr(input).ok();
        assert_eq!(got, want.map(|(a, p)| (a.to_string(), p)), "{input}");
    }
}

#[test]
fn a_bad_write_is_a_validation_error_naming_the_field() {
    // (body, field)
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": ""}), "name"),
        (json!({"name": 3}), "name"),
        (
            json!({"allow_list": [{"ip_range": "nope"}]}),
            "allow_list[0].ip_range",
        ),
        (
            json!({"allow_list": [{"ip_range": "10.0.0.0/8"}, {"ip_range": "10.0.0.0/99"}]}),
            "allow_list[1].ip_range",
        ),
        (
            json!({"allow_list": [{"description": "x"}]}),
            "allow_list[0].ip_range",
        ),
        (json!({"allow_list": {}}), "allow_list"),
        (
            json!({"allow_list": [{"address": "10.0.0.0"}]}),
            "allow_list[0].prefix_len",
        ),
        (
            json!({"allow_list": [{"address": "x", "prefix_len": 8}]}),
            "allow_list[0].address",
        ),
        (
            json!({"entities": {"instances": [1]}}),
            "entities.instances[0]",
        ),
        (json!({"entities": []}), "entities"),
        (json!({"filtering_disabled": "yes"}), "filtering_disabled"),
        (json!({"description": false}), "description"),
    ];
    for (body, field) in cases {
        let e = parse_write(&obj(body.clone()), &WriteRules::default()).unwrap_err();
        assert_eq!(e.status, 400, "{body}");
        assert_eq!(e.reason, "validation-error", "{body}");
        assert_eq!(e.errors[0].0, field, "{body}");
    }
    let mut f = IpFilters::default();
    let now = Instant::now();
    // (body, field): what only a create refuses.
    let cases: Vec<(Value, &str)> = vec![
        (json!({"organization_id": ORG}), "name"),
        (json!({"name": "n"}), "organization_id"),
        (
            json!({"name": "n", "organization_id": "other"}),
            "organization_id",
        ),
        (
            json!({"name": "n", "organization_id": ORG, "entities": {"instances": ["i9"]}}),
            "entities.instances[0]",
        ),
        (
            json!({"name": "n", "organization_id": ORG, "entities": {"projects": ["p2"]}}),
            "entities.projects[0]",
        ),
    ];
    for (body, field) in cases {
        let e = create(&mut f, body.clone(), now).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.errors[0].0.as_str()),
            (400, field),
            "{body}"
        );
    }
    assert!(f.all().is_empty(), "nothing refused was kept");
}

#[test]
fn read_names_on_write_count_unless_the_quirk_says_live() {
    let body = obj(json!({
        "name": "n", "organization_id": ORG, "unknown": true,
        "allow_list": [{"address": "203.0.113.0", "prefix_len": 24, "description": "office"}],
        "filtered_entities": {"instances": ["i1"]},
    }));
    let lenient = parse_write(&body, &WriteRules::default()).unwrap();
    assert_eq!(
        lenient.allow_list,
        Some(vec![AllowEntry {
            address: "203.0.113.0".into(),
            description: "office".into(),
            prefix_len: 24,
        }])
    );
    assert_eq!(
        lenient.entities,
        Some((vec!["i1".to_string()], vec![], "filtered_entities"))
    );
    let live = WriteRules {
        write_names_only: true,
        ..Default::default()
    };
    // Live: `address` alone is no CIDR, and `filtered_entities` is unknown.
    let e = parse_write(&body, &live).unwrap_err();
    assert_eq!(e.errors[0].0, "allow_list[0].ip_range");
    let mut body = body;
    body.remove("allow_list");
    let w = parse_write(&body, &live).unwrap();
    assert_eq!(w.entities, None, "filtered_entities attaches nothing");
    let mut f = IpFilters::default();
    let v = f.create(ORG, w, &in_org, Instant::now()).unwrap();
    assert!(v.filtered_entities.instances.is_empty());
    // The write names work either way.
    let body = obj(
        json!({"allow_list": [{"ip_range": "2001:db8::/48"}], "entities": {"projects": ["p1"]}}),
    );
    for rules in [WriteRules::default(), live] {
        let w = parse_write(&body, &rules).unwrap();
        assert_eq!(w.allow_list.unwrap()[0].prefix_len, 48);
        assert_eq!(w.entities.unwrap().1, vec!["p1".to_string()]);
    }
}

#[test]
fn ignored_fields_keep_their_old_value() {
    let ignored = vec![
        "description".to_string(),
        "allow_list.description".to_string(),
    ];
    let rules = WriteRules {
        write_names_only: false,
        ignored: &ignored,
    };
    let body = obj(
        json!({"name": "n", "organization_id": ORG, "description": "d",
        "allow_list": [{"ip_range": "10.0.0.0/8", "description": "office"}]}),
    );
    let w = parse_write(&body, &rules).unwrap();
    let mut f = IpFilters::default();
    let v = f.create(ORG, w, &in_org, Instant::now()).unwrap();
    assert_eq!(v.description, "", "the default on create");
    assert_eq!(v.allow_list[0].description, "");
    assert_eq!(v.allow_list[0].address, "10.0.0.0");
}

#[test]
fn one_filter_per_entity_on_create_and_on_patch() {
    let mut f = IpFilters::default();
    let now = Instant::now();
    let a = create(
        &mut f,
        json!({"name": "a", "organization_id": ORG, "entities": {"instances": ["i1"], "projects": ["p1"]}}),
        now,
    )
    .unwrap();
    let b = create(&mut f, json!({"name": "b", "organization_id": ORG}), now).unwrap();
    // (patch of b, refused)
    let cases: Vec<(Value, bool)> = vec![
        (json!({"entities": {"instances": ["i1"]}}), true),
        (json!({"entities": {"projects": ["p1"]}}), true),
        (json!({"entities": {"instances": ["i2"]}}), false),
    ];
    for (body, refused) in cases {
        let r = f.patch(ORG, &b.id, write(body.clone()), &in_org, now);
        match r {
            Err(e) => {
                assert!(refused, "{body}: {e:?}");
                assert_eq!(
                    (e.status.as_u16(), e.reason.as_str()),
                    (400, "ip-filter-already-exists")
                );
            }
            Ok(_) => assert!(!refused, "{body}"),
        }
    }
    let e = create(
        &mut f,
        json!({"name": "c", "organization_id": ORG, "entities": {"instances": ["i2"]}}),
        now,
    )
    .unwrap_err();
    assert_eq!(e.reason, "ip-filter-already-exists");
    assert_eq!(
        f.get(ORG, &a.id).unwrap(),
        a,
        "the first filter is unchanged"
    );
    // A filter may name its own entities again.
    f.patch(
        ORG,
        &a.id,
        write(json!({"entities": {"instances": ["i1"]}})),
        &in_org,
        now,
    )
    .unwrap();
    assert_eq!(f.all().len(), 2);
}

#[test]
fn patch_replaces_what_it_sends_and_delete_forgets() {
    let mut f = IpFilters::default();
    let now = Instant::now();
    let a = create(
        &mut f,
        json!({"name": "a", "organization_id": ORG, "description": "d",
            "allow_list": [{"ip_range": "10.0.0.0/8"}, {"ip_range": "192.0.2.0/24"}],
            "entities": {"instances": ["i1"]}}),
        now,
    )
    .unwrap();
    let p = f
        .patch(
            ORG,
            &a.id,
            write(json!({"allow_list": [{"ip_range": "198.51.100.0/24"}], "filtering_disabled": true})),
            &in_org,
            now,
        )
        .unwrap();
    assert_eq!(p.allow_list.len(), 1);
    assert_eq!(p.allow_list[0].address, "198.51.100.0");
    assert_eq!((p.name.as_str(), p.description.as_str()), ("a", "d"));
    assert_eq!(p.filtered_entities.instances, vec!["i1".to_string()]);
    assert!(p.filtering_disabled);
    assert_eq!(
        f.get("other-org", &a.id).unwrap_err().reason,
        "ip-filter-not-found"
    );
    f.delete(ORG, &a.id).unwrap();
    assert_eq!(f.delete(ORG, &a.id).unwrap_err().status, 404);
    assert_eq!(f.get(ORG, &a.id).unwrap_err().status, 404);
}

#[test]
fn the_status_is_submitted_then_active_and_error_until_the_next_patch() {
    let mut f = IpFilters::default();
    let t0 = Instant::now();
    let d = Duration::from_secs(5);
    let a = create(
        &mut f,
        json!({"name": "a", "organization_id": ORG, "entities": {"projects": ["p1"]}}),
        t0,
    )
    .unwrap();
    let status = |f: &IpFilters, inst: &str, at: Instant| {
        f.applying(ORG, inst, "p1", at, d).map(|s| s.status)
    };
    // (instance, seconds after the create, status)
    let cases = [
        ("i1", 0, Some(SUBMITTED)),
        ("i1", 4, Some(SUBMITTED)),
        ("i1", 5, Some(ACTIVE)),
        ("i2", 60, Some(ACTIVE)),
    ];
    for (inst, s, want) in cases {
        assert_eq!(
            status(&f, inst, t0 + Duration::from_secs(s)).as_deref(),
            want,
            "{inst} at {s}s"
        );
    }
    assert_eq!(f.applying(ORG, "i1", "p2", t0, d), None, "no filter on p2");
    assert!(f.set_error(&a.id, "i1"));
    assert!(!f.set_error("nope", "i1"));
    assert_eq!(status(&f, "i1", t0 + d).as_deref(), Some(ERROR));
    assert_eq!(status(&f, "i2", t0 + d).as_deref(), Some(ACTIVE));
    // A change: SUBMITTED again from then, the error cleared.
    let t1 = t0 + Duration::from_secs(10);
    f.patch(ORG, &a.id, write(json!({"name": "renamed"})), &in_org, t1)
        .unwrap();
    assert_eq!(status(&f, "i1", t1).as_deref(), Some(SUBMITTED));
    assert_eq!(status(&f, "i1", t1 + d).as_deref(), Some(ACTIVE));
    // A filter naming the instance itself wins over its project's.
    let b = create(
        &mut f,
        json!({"name": "b", "organization_id": ORG, "entities": {"instances": ["i2"]}}),
        t1,
    )
    .unwrap();
    let s = f.applying(ORG, "i2", "p1", t1, d).unwrap();
    assert_eq!(s.filter.id, b.id);
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["status"], SUBMITTED);
    assert_eq!(v["filtered_entities"]["organizations"], json!([]));
    assert!(httpdate::parse_http_date(v["updated_at"].as_str().unwrap()).is_ok());
}
