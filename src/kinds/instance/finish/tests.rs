//! `finish` is pure: every field it sets and every event it chooses, from a
//! decision and what the calls came to, against the status before.

use serde_json::json;

use super::*;
use crate::api::Phase;
use crate::aura::InstanceStatus;
use crate::kinds::instance::decide::LookAgain;
use crate::reconciler::status::{self as conditions, Readiness};

fn now() -> Timestamp {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

fn object(spec: serde_json::Value) -> AuraInstance {
    let mut base = json!({
        "cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db",
        "version": "5", "memory": "8GB",
    });
    for (k, v) in spec.as_object().unwrap() {
        base[k] = v.clone();
    }
    let mut o: AuraInstance = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstance",
        "metadata": {"name": "orders", "namespace": "team-a", "generation": 2,
                     "creationTimestamp": "2026-12-01T11:00:00Z"},
        "spec": base,
    }))
    .unwrap();
    o.metadata.uid = Some("u-1".into());
    o
}

fn found(id: &str) -> Instance {
    serde_json::from_value(json!({"id": id, "status": "running"})).unwrap()
}

fn decision(action: Action, status: StatusSummary) -> Decision {
    Decision {
        action,
        status,
        requeue: LookAgain::Resync,
    }
}

fn running() -> StatusSummary {
    StatusSummary::ready()
}

/// A status whose conditions say what `summary` says.
fn said(summary: &StatusSummary) -> AuraInstanceStatus {
    AuraInstanceStatus {
        conditions: conditions::conditions(summary, &[], Some(1), now()),
        ..Default::default()
    }
}

struct Case {
    obj: AuraInstance,
    current: AuraInstanceStatus,
    decision: Decision,
    acted: Acted,
    found: Option<Instance>,
    claimed_elsewhere: bool,
    check: verify::Check,
    scheduled: Option<Scheduled>,
}

impl Case {
    fn new(decision: Decision, acted: Acted) -> Self {
        Self {
            obj: object(json!({})),
            // Ready already: only what a case changes is news.
            current: said(&running()),
            decision,
            acted,
            found: None,
            claimed_elsewhere: false,
            check: verify::Check::Hold,
            scheduled: None,
        }
    }

    fn run(&self) -> Finish {
        finish(&Finishing {
            obj: &self.obj,
            current: &self.current,
            decision: &self.decision,
            acted: &self.acted,
            found: self.found.as_ref(),
            instance_id: self.found.as_ref().map(|i| i.id.as_str()),
            claimed_elsewhere: self.claimed_elsewhere,
            check: &self.check,
            verify_interval: Duration::from_secs(6 * 3600),
            scheduled: self.scheduled.as_ref(),
            now: now(),
        })
    }
}

fn reasons(events: &[Event]) -> Vec<(bool, Reason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Normal(r, _) => Some((false, *r)),
            Event::Warning(r, _) => Some((true, *r)),
            Event::DryRun { .. } => None,
        })
        .collect()
}

#[test]
fn what_the_calls_did_reaches_status_and_events() {
    let creating = StatusSummary::in_progress(Phase::Creating, Reason::Creating, "m");
    let current = AuraInstanceStatus {
        instance_id: Some("dead0001".into()),
        recreations: Some(1),
        connection_url: Some("neo4j+s://dead0001.databases.neo4j.io".into()),
        create_requested_at: Some("2026-12-01T11:59:00Z".into()),
        ..Default::default()
    };
    // (what, acted, check on the status, events as (warning, reason))
    type Check = fn(&AuraInstanceStatus) -> bool;
    type Row = (&'static str, Acted, Check, Vec<(bool, Reason)>);
    let cases: Vec<Row> = vec![
        (
            "adopted",
            Acted::Adopted {
                instance_id: "0a1b2c3d".into(),
                cause: AdoptCause::LostCreate,
            },
            |s| {
                s.instance_id.as_deref() == Some("0a1b2c3d")
                    && s.lost_create_instance_id.as_deref() == Some("0a1b2c3d")
            },
            vec![(false, Reason::Adopted)],
        ),
        (
            "recreated",
            Acted::Recreated {
                instance_id: "dead0001".into(),
            },
            |s| {
                s.recreations == Some(2)
                    && s.recreating_instance_id.as_deref() == Some("dead0001")
                    && s.lost_create_instance_id.is_none()
            },
            vec![(true, Reason::Recreating)],
        ),
        (
            "forgot",
            Acted::Forgot,
            |s| {
                s.instance_id.is_none()
                    && s.connection_url.is_none()
                    && s.create_requested_at.is_none()
            },
            vec![],
        ),
        (
            "snapshot first, its name taken",
            Acted::SnapshotFirst {
                name: "orders-before-g2".into(),
                made: Made::NameTaken,
            },
            |s| {
                s.last_snapshot
                    .as_ref()
                    .is_some_and(|l| l.name == "orders-before-g2")
            },
            vec![
                (true, Reason::SnapshotNameTaken),
                (false, Reason::SnapshotBeforeChange),
            ],
        ),
        (
            "a Secret replaced for its type",
            Acted::SecretWritten {
                replaced: Some("servicebinding.io/neo4j".into()),
            },
            |s| s.instance_id.as_deref() == Some("dead0001"),
            vec![(false, Reason::SecretReplaced)],
        ),
        (
            "a Secret written in place",
            Acted::SecretWritten { replaced: None },
            |s| s.instance_id.as_deref() == Some("dead0001"),
            vec![],
        ),
    ];
    for (what, acted, check, want) in cases {
        let mut case = Case::new(decision(Action::None, creating.clone()), acted);
        case.current = current.clone();
        let done = case.run();
        assert!(check(&done.status), "{what}: {:?}", done.status);
        assert_eq!(reasons(&done.events), want, "{what}");
        assert_eq!(done.status.phase, Some(Phase::Creating), "{what}");
    }
}

#[test]
fn an_operation_says_what_it_put_back_or_what_it_asked() {
    let updating =
        StatusSummary::in_progress(Phase::Updating, Reason::Updating, "changing memory to 16GB");
    let update = |drift: Option<&str>| Action::Update {
        instance_id: "0a1b2c3d".into(),
        request: Default::default(),
        drift: drift.map(str::to_string),
    };
    let cases = [
        (
            update(None),
            Event::Normal(Reason::Updating, "changing memory to 16GB".into()),
        ),
        (
            update(Some("changed outside the operator")),
            Event::Normal(
                Reason::DriftCorrected,
                "changed outside the operator".into(),
            ),
        ),
        (
            Action::Pause {
                instance_id: "0a1b2c3d".into(),
                drift: None,
            },
            Event::Normal(Reason::Pausing, "changing memory to 16GB".into()),
        ),
        (
            Action::Upgrade {
                instance_id: "0a1b2c3d".into(),
                to: crate::api::InstanceType::EnterpriseDb,
            },
            Event::Normal(Reason::Upgrading, "changing memory to 16GB".into()),
        ),
    ];
    for (action, want) in cases {
        let done = Case::new(decision(action.clone(), updating.clone()), Acted::Sent).run();
        assert_eq!(done.events, vec![want], "{action:?}");
    }
    // Not sent (a failed call never reaches finish; a report is no call): no event.
    let done = Case::new(decision(update(None), updating), Acted::Nothing).run();
    assert!(done.events.is_empty());
}

#[test]
fn a_dry_run_is_told_once_per_change_of_what_would_be_sent() {
    let summary = |what: &str| StatusSummary {
        reconciling: Some((Reason::DryRun, format!("dry run: {what}"))),
        ..running()
    };
    let dry = |what: &str| {
        decision(
            Action::DryRun {
                operation: "update",
                what: what.into(),
            },
            summary(what),
        )
    };
    // (what, before, now, event)
    let cases = [
        ("first time", None, "would change memory", true),
        (
            "the same again",
            Some("would change memory"),
            "would change memory",
            false,
        ),
        (
            "something else",
            Some("would change memory"),
            "would change storage",
            true,
        ),
    ];
    for (what, before, now, event) in cases {
        let mut case = Case::new(dry(now), Acted::Nothing);
        if let Some(b) = before {
            case.current = said(&summary(b));
        }
        let told = case
            .run()
            .events
            .iter()
            .any(|e| matches!(e, Event::DryRun { .. }));
        assert_eq!(told, event, "{what}");
    }
}

#[test]
fn drift_is_reported_once_per_change_and_only_under_observe_only() {
    let observe = |fields: &[&str]| {
        decision(
            Action::Observe {
                drifted: fields.iter().map(|f| f.to_string()).collect(),
            },
            running(),
        )
    };
    let mut case = Case::new(observe(&["memory: spec 8GB, Aura 16GB"]), Acted::Nothing);
    let first = case.run();
    assert_eq!(reasons(&first.events), vec![(true, Reason::Drifted)]);
    assert!(conditions::is_true(&first.status.conditions, DRIFTED));

    case.current = first.status.clone();
    assert!(case.run().events.is_empty(), "the same drift again");

    case.decision = observe(&["memory: spec 8GB, Aura 32GB"]);
    assert_eq!(reasons(&case.run().events), vec![(true, Reason::Drifted)]);

    case.decision = observe(&[]);
    let in_sync = case.run();
    assert!(in_sync.events.is_empty());
    assert_eq!(
        conditions::state(&in_sync.status.conditions, DRIFTED),
        Some(conditions::State::False)
    );

    // Writing the Secret keeps the condition; managementPolicy Full drops it.
    case.decision = decision(Action::WriteSecret, running());
    assert!(conditions::is_true(&case.run().status.conditions, DRIFTED));
    case.decision = decision(Action::None, running());
    assert_eq!(
        conditions::state(&case.run().status.conditions, DRIFTED),
        None
    );
}

#[test]
fn a_new_stall_and_ready_reached_are_told_once() {
    let paused = StatusSummary {
        phase: Phase::Paused,
        readiness: Readiness::False {
            reason: Reason::Paused,
            message: "paused".into(),
        },
        reconciling: None,
        stalled: None,
    };
    let stalled = |r: Reason| StatusSummary::stalled(r, "m");
    let creating = StatusSummary::in_progress(Phase::Creating, Reason::Creating, "m");
    // (what, before, after, events, first Ready)
    let cases = [
        (
            "first stall",
            None,
            stalled(Reason::SecretNotOwned),
            vec![(true, Reason::SecretNotOwned)],
            false,
        ),
        (
            "the same stall",
            Some(stalled(Reason::SecretNotOwned)),
            stalled(Reason::SecretNotOwned),
            vec![],
            false,
        ),
        (
            "another stall",
            Some(stalled(Reason::SecretNotOwned)),
            stalled(Reason::InvalidTemplate),
            vec![(true, Reason::InvalidTemplate)],
            false,
        ),
        (
            "Ready at last",
            Some(creating),
            running(),
            vec![(false, Reason::Ready)],
            true,
        ),
        (
            "Ready again after a pause",
            Some(paused),
            running(),
            vec![(false, Reason::Ready)],
            false,
        ),
        ("still Ready", Some(running()), running(), vec![], false),
    ];
    for (what, before, after, events, first) in cases {
        let mut case = Case::new(decision(Action::None, after), Acted::Nothing);
        case.current = before.as_ref().map(said).unwrap_or_default();
        let done = case.run();
        assert_eq!(reasons(&done.events), events, "{what}");
        assert_eq!(done.first_ready, first, "{what}");
    }
}

#[test]
fn the_first_poll_records_the_id_unless_the_instance_is_not_ours() {
    for (claimed_elsewhere, recorded) in [(false, true), (true, false)] {
        let mut case = Case::new(decision(Action::None, running()), Acted::Nothing);
        case.found = Some(found("0a1b2c3d"));
        case.claimed_elsewhere = claimed_elsewhere;
        let done = case.run();
        assert_eq!(done.status.instance_id.is_some(), recorded);
        assert_eq!(
            done.status.connection_url.is_some(),
            recorded,
            "the URL comes with the id, derived when Aura leaves it out"
        );
    }
    // Once Ready, an instance found after a lost create is never re-created.
    let mut case = Case::new(decision(Action::None, running()), Acted::Nothing);
    case.current.lost_create_instance_id = Some("0a1b2c3d".into());
    case.found = Some(found("0a1b2c3d"));
    assert_eq!(case.run().status.lost_create_instance_id, None);
    // While Aura still creates it, the rest of its answer waits for Ready.
    let mut creating = found("0a1b2c3d");
    creating.status = InstanceStatus::Creating;
    creating.region = Some("europe-west1".into());
    case.found = Some(creating);
    case.decision = decision(Action::None, status::aura_creating());
    let done = case.run();
    assert_eq!(done.status.aura_status.as_deref(), Some("creating"));
    assert_eq!(done.status.region, None);
}

#[test]
fn a_scheduled_snapshot_is_recorded_told_and_asks_for_the_next_slot() {
    let mut case = Case::new(decision(Action::None, running()), Acted::Nothing);
    case.obj = object(json!({"snapshots": {"schedule": "0 3 * * *", "keep": 2}}));
    let slot: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
    case.scheduled = Some(Scheduled {
        name: "orders-1764558000".into(),
        slot,
        made: Made::Ours,
        pruned: vec!["orders-1764471600".into()],
    });
    let done = case.run();
    assert_eq!(
        done.status.last_snapshot,
        Some(LastSnapshot {
            name: "orders-1764558000".into(),
            taken_at: Some(slot.to_string()),
        })
    );
    assert_eq!(
        reasons(&done.events),
        vec![(false, Reason::SnapshotScheduled)]
    );
    match &done.events[0] {
        Event::Normal(_, note) => assert!(note.contains("pruned orders-1764471600"), "{note}"),
        other => panic!("{other:?}"),
    }
    // Next slot: tomorrow 03:00, 15 h after 12:00.
    assert_eq!(done.sooner, Some(Duration::from_secs(15 * 3600)));
}

#[test]
fn a_rejected_login_warns_once() {
    let asked = |verdict| {
        verify::Check::Asked(verify::Asked {
            verdict,
            endpoint: "https://x/db/neo4j/query/v2".into(),
            first_in_process: false,
            next: Some(Duration::from_secs(60)),
        })
    };
    let rejected = || asked(crate::query_api::Verdict::Rejected { code: None });
    let mut case = Case::new(decision(Action::None, running()), Acted::Nothing);
    case.check = rejected();
    let first = case.run();
    assert_eq!(
        reasons(&first.events),
        vec![(true, Reason::CredentialsRejected)]
    );
    assert_eq!(first.sooner, Some(Duration::from_secs(60)));
    case.current = first.status;
    assert!(
        case.run().events.is_empty(),
        "refused again: no new warning"
    );
    case.check = asked(crate::query_api::Verdict::Accepted);
    assert!(case.run().events.is_empty());
    case.check = verify::Check::Off;
    assert_eq!(
        conditions::state(&case.run().status.conditions, verify::CREDENTIALS_VERIFIED),
        None
    );
}

#[test]
fn unreachable_aura_is_said_once_and_never_over_ready() {
    let mut obj = object(json!({}));
    assert!(
        unreachable(&obj, "connection refused").is_some(),
        "first sight"
    );
    obj.status = Some(said(&running()));
    assert!(
        unreachable(&obj, "connection refused").is_none(),
        "Ready stays Ready"
    );
    obj.status = Some(said(&status::aura_unreachable(None, "x")));
    assert!(
        unreachable(&obj, "connection refused").is_none(),
        "said already"
    );
}

#[test]
fn a_status_naming_another_instance_than_the_claim_is_corrected() {
    let mut case = Case::new(decision(Action::None, running()), Acted::Nothing);
    case.current.instance_id = Some("f0f0f0f0".into());
    case.current.connection_url = Some("neo4j+s://f0f0f0f0.databases.neo4j.io".into());
    case.found = Some(found("0a1b2c3d"));
    let done = case.run();
    assert_eq!(done.status.instance_id.as_deref(), Some("0a1b2c3d"));
    assert_eq!(
        done.status.connection_url.as_deref(),
        Some("neo4j+s://0a1b2c3d.databases.neo4j.io")
    );
}
