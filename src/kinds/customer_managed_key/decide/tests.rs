use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::api::{CloudProvider, InstanceType};
use crate::reconciler::status::assert_reason_words;

fn spec() -> AuraCustomerManagedKeySpec {
    AuraCustomerManagedKeySpec {
        name: "orders-key".into(),
        key_id: "arn:aws:kms:us-east-1:1:key/a".into(),
        cloud_provider: CloudProvider::Aws,
        region: "us-east-1".into(),
        instance_type: InstanceType::EnterpriseDb,
        tenant_id: None,
        id: None,
        deletion_policy: None,
        credentials_secret_ref: None,
        project_ref: None,
    }
}

fn key(id: &str, name: &str, status: &str) -> CustomerManagedKey {
    CustomerManagedKey {
        id: id.into(),
        name: name.into(),
        status: Some(status.into()),
        cloud_provider: Some("aws".into()),
        region: Some("us-east-1".into()),
        instance_type: Some("enterprise-db".into()),
        key_id: Some("arn:aws:kms:us-east-1:1:key/a".into()),
        ..CustomerManagedKey::default()
    }
}

fn now() -> Timestamp {
    "2026-12-05T12:00:00Z".parse().unwrap()
}

fn with_intent(seconds_ago: i64, prior: &[&str]) -> AuraCustomerManagedKeyStatus {
    AuraCustomerManagedKeyStatus {
        create_requested_at: Some(
            (now() - jiff::SignedDuration::from_secs(seconds_ago)).to_string(),
        ),
        create_prior_ids: prior.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn run(
    spec: &AuraCustomerManagedKeySpec,
    status: &AuraCustomerManagedKeyStatus,
    seen: Option<Option<&CustomerManagedKey>>,
    listed: Option<&[CustomerManagedKey]>,
    held: &[(String, String)],
) -> KeyDecision {
    decide(&KeyObservation {
        spec,
        status,
        tenant_id: "t-1",
        seen,
        listed,
        held,
        now: now(),
        grace: Duration::from_secs(120),
    })
}

#[test]
fn reason_words_are_one_word_each() {
    assert_reason_words::<KeyReason>();
}

#[test]
fn the_first_read_follows_the_status() {
    let recorded = AuraCustomerManagedKeyStatus {
        id: Some("k-1".into()),
        ..Default::default()
    };
    let adopting = AuraCustomerManagedKeySpec {
        id: Some("k-9".into()),
        ..spec()
    };
    let cases = [
        (
            spec(),
            AuraCustomerManagedKeyStatus::default(),
            Read::Nothing,
        ),
        (spec(), recorded.clone(), Read::Key("k-1".into())),
        (
            adopting.clone(),
            AuraCustomerManagedKeyStatus::default(),
            Read::Key("k-9".into()),
        ),
        // The recorded id wins over the spec's (they agree once adopted).
        (adopting, recorded, Read::Key("k-1".into())),
        (spec(), with_intent(5, &[]), Read::Search),
    ];
    for (spec, status, want) in cases {
        assert_eq!(first_read(&spec, &status), want, "{status:?}");
    }
}

#[test]
fn a_new_key_is_created_with_the_spec_and_tenant() {
    let d = run(&spec(), &Default::default(), None, None, &[]);
    let KeyAction::Create(req) = d.action else {
        panic!("{d:?}")
    };
    assert_eq!(req.name, "orders-key");
    assert_eq!(req.cloud_provider, "aws");
    assert_eq!(req.instance_type, "enterprise-db");
    assert_eq!(req.tenant_id, "t-1");
    assert_eq!(d.summary.reason(), Some(KeyReason::Creating));
}

#[test]
fn the_key_status_decides_readiness() {
    let recorded = AuraCustomerManagedKeyStatus {
        id: Some("k-1".into()),
        ..Default::default()
    };
    let cases = [
        ("ready", None, true),
        ("READY", None, true),
        ("pending", Some(KeyReason::KeyPending), false),
        ("error", Some(KeyReason::KeyNotReady), false),
        ("", Some(KeyReason::KeyNotReady), false),
    ];
    for (word, reason, ready) in cases {
        let k = key("k-1", "orders-key", word);
        let d = run(&spec(), &recorded, Some(Some(&k)), None, &[]);
        assert_eq!(d.summary.is_ready(), ready, "{word}");
        if let Some(reason) = reason {
            assert_eq!(d.summary.reason(), Some(reason), "{word}");
            assert_eq!(d.requeue, Some(PENDING_POLL));
        }
        assert_eq!(d.action, KeyAction::None);
    }
}

#[test]
fn pending_tells_a_person_what_to_grant() {
    let recorded = AuraCustomerManagedKeyStatus {
        id: Some("k-1".into()),
        ..Default::default()
    };
    let k = key("k-1", "orders-key", "pending");
    let d = run(&spec(), &recorded, Some(Some(&k)), None, &[]);
    let message = d.summary.message().unwrap();
    assert!(
        message.contains("arn:aws:kms:us-east-1:1:key/a"),
        "{message}"
    );
    assert!(message.contains("AWS console"), "{message}");
    assert!(!d.summary.is_ready());
}

#[test]
fn an_adopted_key_is_recorded_only_when_it_matches() {
    let adopting = AuraCustomerManagedKeySpec {
        id: Some("k-9".into()),
        deletion_policy: Some(DeletionPolicy::Orphan),
        ..spec()
    };
    let status = AuraCustomerManagedKeyStatus::default();
    let good = key("k-9", "orders-key", "ready");
    let d = run(&adopting, &status, Some(Some(&good)), None, &[]);
    assert_eq!(d.action, KeyAction::Adopt("k-9".into()));
    assert!(d.summary.is_ready());

    let mut elsewhere = key("k-9", "orders-key", "ready");
    elsewhere.region = Some("eu-west-1".into());
    let d = run(&adopting, &status, Some(Some(&elsewhere)), None, &[]);
    assert_eq!(d.action, KeyAction::None);
    assert_eq!(d.summary.reason(), Some(KeyReason::KeyMismatch));
    assert!(d.summary.message().unwrap().contains("eu-west-1"));

    let d = run(&adopting, &status, Some(None), None, &[]);
    assert_eq!(d.summary.reason(), Some(KeyReason::KeyNotFound));
}

#[test]
fn one_key_one_object() {
    let adopting = AuraCustomerManagedKeySpec {
        id: Some("k-9".into()),
        ..spec()
    };
    let held = [("k-9".to_string(), "other/key".to_string())];
    let good = key("k-9", "orders-key", "ready");
    let d = run(
        &adopting,
        &Default::default(),
        Some(Some(&good)),
        None,
        &held,
    );
    assert_eq!(d.action, KeyAction::None);
    assert_eq!(d.summary.reason(), Some(KeyReason::KeyHeldElsewhere));
    assert!(d.summary.message().unwrap().contains("other/key"));
}

#[test]
fn a_recorded_key_that_is_gone_stalls_and_is_not_made_again() {
    let recorded = AuraCustomerManagedKeyStatus {
        id: Some("k-1".into()),
        ..Default::default()
    };
    let d = run(&spec(), &recorded, Some(None), None, &[]);
    assert_eq!(d.action, KeyAction::None);
    assert_eq!(d.summary.reason(), Some(KeyReason::KeyNotFound));
}

#[test]
fn an_unanswered_create_is_found_again_never_repeated_blindly() {
    let prior = key("k-old", "orders-key", "ready");
    let mine = key("k-new", "orders-key", "pending");
    let other_name = key("k-x", "payments-key", "pending");
    let held_new = [("k-new".to_string(), "ns/other".to_string())];
    let both_new = [mine.clone(), key("k-new2", "orders-key", "pending")];
    struct Case<'a> {
        what: &'a str,
        status: AuraCustomerManagedKeyStatus,
        listed: Vec<CustomerManagedKey>,
        held: &'a [(String, String)],
        want: KeyAction,
        reason: KeyReason,
    }
    let cases = [
        Case {
            what: "the new key of the name is ours",
            status: with_intent(10, &["k-old"]),
            listed: vec![prior.clone(), mine.clone(), other_name.clone()],
            held: &[],
            want: KeyAction::Found("k-new".into()),
            reason: KeyReason::Creating,
        },
        Case {
            what: "nothing yet within the grace: wait",
            status: with_intent(10, &["k-old"]),
            listed: vec![prior.clone(), other_name.clone()],
            held: &[],
            want: KeyAction::None,
            reason: KeyReason::Creating,
        },
        Case {
            what: "a key another object records is not ours",
            status: with_intent(10, &["k-old"]),
            listed: vec![prior.clone(), mine.clone()],
            held: &held_new,
            want: KeyAction::None,
            reason: KeyReason::Creating,
        },
        Case {
            what: "two candidates: a person picks",
            status: with_intent(10, &[]),
            listed: both_new.to_vec(),
            held: &[],
            want: KeyAction::None,
            reason: KeyReason::CreateAmbiguous,
        },
        Case {
            what: "nothing after the grace: create again",
            status: with_intent(600, &["k-old"]),
            listed: vec![prior.clone()],
            held: &[],
            want: KeyAction::Create(create_request(&spec(), "t-1")),
            reason: KeyReason::Creating,
        },
    ];
    for case in cases {
        let d = run(&spec(), &case.status, None, Some(&case.listed), case.held);
        assert_eq!(d.action, case.want, "{}", case.what);
        assert_eq!(d.summary.reason(), Some(case.reason), "{}", case.what);
    }
    // Without the list there is no create at all.
    let d = run(&spec(), &with_intent(600, &[]), None, None, &[]);
    assert_eq!(d.action, KeyAction::None);
}

#[test]
fn deletion_waits_for_instances_and_follows_the_policy() {
    let recorded = AuraCustomerManagedKeyStatus {
        id: Some("k-1".into()),
        ..Default::default()
    };
    let named = ["orders".to_string()];
    let cases = [
        (
            DeletionPolicy::Delete,
            recorded.clone(),
            None,
            &named[..],
            "wait",
        ),
        (
            DeletionPolicy::Orphan,
            recorded.clone(),
            None,
            &named[..],
            "wait",
        ),
        (
            DeletionPolicy::Delete,
            recorded.clone(),
            None,
            &[][..],
            "delete k-1",
        ),
        (
            DeletionPolicy::Orphan,
            recorded.clone(),
            None,
            &[][..],
            "done",
        ),
        (
            DeletionPolicy::Delete,
            Default::default(),
            Some("k-9"),
            &[][..],
            "delete k-9",
        ),
        (
            DeletionPolicy::Delete,
            with_intent(5, &[]),
            None,
            &[][..],
            "search",
        ),
        (
            DeletionPolicy::Delete,
            Default::default(),
            None,
            &[][..],
            "done",
        ),
    ];
    for (policy, status, spec_id, named_by, want) in cases {
        let got = match deletion(policy, &status, spec_id, named_by) {
            Deletion::Done => "done".to_string(),
            Deletion::Wait(s) => {
                assert_eq!(s.reason(), Some(KeyReason::KeyInUse));
                assert!(s.message().unwrap().contains("orders"));
                "wait".to_string()
            }
            Deletion::Delete(id) => format!("delete {id}"),
            Deletion::Search => "search".to_string(),
        };
        assert_eq!(got, want, "{policy:?} {status:?} {spec_id:?}");
    }
}

#[test]
fn mismatch_names_each_field_and_ignores_what_aura_did_not_send() {
    let mut k = key("k", "other", "ready");
    k.cloud_provider = Some("gcp".into());
    k.instance_type = None;
    let words = mismatch(&spec(), &k).unwrap();
    assert!(words.contains("name \"other\""), "{words}");
    assert!(words.contains("cloudProvider \"gcp\""), "{words}");
    assert!(!words.contains("instanceType"), "{words}");
    assert_eq!(mismatch(&spec(), &key("k", "orders-key", "ready")), None);
    let bare = CustomerManagedKey {
        id: "k".into(),
        ..Default::default()
    };
    assert_eq!(mismatch(&spec(), &bare), None);
}
