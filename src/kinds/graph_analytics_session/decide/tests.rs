use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::api::{MemorySize, SessionSizingSpec, SessionSizingStatus};
use crate::reconciler::status::assert_reason_words;

fn spec() -> AuraGraphAnalyticsSessionSpec {
    AuraGraphAnalyticsSessionSpec {
        instance_ref: None,
        cloud_provider: None,
        region: None,
        memory: Some(MemorySize::Gb8),
        sizing: None,
        ttl: Some("2h".into()),
        recreate_on_expiry: false,
        connection_secret_name: None,
        tenant_id: None,
        credentials_secret_ref: None,
        project_ref: None,
    }
}

fn recorded() -> AuraGraphAnalyticsSessionStatus {
    AuraGraphAnalyticsSessionStatus {
        id: Some("s-1".into()),
        ..Default::default()
    }
}

fn session(status: &str) -> Session {
    Session {
        id: "s-1".into(),
        status: Some(status.into()),
        expiry_date: Some("2026-12-05T13:00:00Z".into()),
        ..Default::default()
    }
}

fn now() -> Timestamp {
    "2026-12-05T12:00:00Z".parse().unwrap()
}

fn run(
    spec: &AuraGraphAnalyticsSessionSpec,
    status: &AuraGraphAnalyticsSessionStatus,
    seen: Option<Option<&Session>>,
) -> SessionDecision {
    decide(&SessionObservation {
        spec,
        status,
        seen,
        now: now(),
    })
}

#[test]
fn reason_words_are_one_word_each() {
    assert_reason_words::<SessionReason>();
}

#[test]
fn sizing_comes_first_and_its_answer_is_the_memory() {
    let sized = AuraGraphAnalyticsSessionSpec {
        memory: None,
        sizing: Some(SessionSizingSpec {
            node_count: 1_000_000,
            relationship_count: 5_000_000,
            algorithm_categories: vec!["centrality".into()],
            ..Default::default()
        }),
        ..spec()
    };
    let d = run(&sized, &Default::default(), None);
    let SessionAction::Size(req) = &d.action else {
        panic!("{d:?}")
    };
    assert_eq!(req.node_count, 1_000_000);
    assert_eq!(req.algorithm_categories, vec!["centrality".to_string()]);
    assert_eq!(d.summary.reason(), Some(SessionReason::Sizing));

    let answered = AuraGraphAnalyticsSessionStatus {
        sizing: Some(SessionSizingStatus {
            recommended_size: "16GB".into(),
            estimated_memory: "12GB".into(),
        }),
        ..Default::default()
    };
    assert_eq!(memory(&sized, &answered).as_deref(), Some("16GB"));
    assert_eq!(
        run(&sized, &answered, None).action,
        SessionAction::Create { again: false }
    );
    assert_eq!(memory(&spec(), &Default::default()).as_deref(), Some("8GB"));
}

#[test]
fn the_session_status_decides_readiness() {
    let plain = spec();
    let recreate = AuraGraphAnalyticsSessionSpec {
        recreate_on_expiry: true,
        ..spec()
    };
    // (spec, Aura's status or None for a 404, action, ready, reason)
    let ready = session("Ready");
    let creating = session("Creating");
    let expired = session("Expired");
    let failed = session("Failed");
    type Case<'a> = (
        &'a AuraGraphAnalyticsSessionSpec,
        Option<&'a Session>,
        SessionAction,
        bool,
        Option<SessionReason>,
    );
    let cases: Vec<Case<'_>> = vec![
        (&plain, Some(&ready), SessionAction::None, true, None),
        (
            &plain,
            Some(&creating),
            SessionAction::None,
            false,
            Some(SessionReason::Creating),
        ),
        (
            &plain,
            Some(&expired),
            SessionAction::None,
            false,
            Some(SessionReason::Expired),
        ),
        (
            &plain,
            None,
            SessionAction::None,
            false,
            Some(SessionReason::Expired),
        ),
        (
            &recreate,
            Some(&expired),
            SessionAction::Create { again: true },
            false,
            Some(SessionReason::Creating),
        ),
        (
            &recreate,
            None,
            SessionAction::Create { again: true },
            false,
            Some(SessionReason::Creating),
        ),
        (
            &plain,
            Some(&failed),
            SessionAction::None,
            false,
            Some(SessionReason::SessionFailed),
        ),
    ];
    for (spec, seen, action, ready, reason) in cases {
        let d = run(spec, &recorded(), Some(seen));
        assert_eq!(d.action, action, "{seen:?}");
        assert_eq!(d.summary.is_ready(), ready, "{seen:?}");
        if let Some(reason) = reason {
            assert_eq!(d.summary.reason(), Some(reason), "{seen:?}");
        }
    }
    // An expired session without recreateOnExpiry is a stall, said once.
    let d = run(&spec(), &recorded(), Some(Some(&expired)));
    assert!(d.summary.stalled.is_some());
    assert_eq!(d.requeue, None);
}

#[test]
fn a_first_pass_creates_without_reading() {
    let d = run(&spec(), &Default::default(), None);
    assert_eq!(d.action, SessionAction::Create { again: false });
}

#[test]
fn a_ready_session_is_looked_at_again_by_its_expiry() {
    let cases = [
        (Some("2026-12-05T12:02:00Z"), Duration::from_secs(120)),
        (Some("2026-12-05T15:00:00Z"), READY_POLL),
        (Some("2026-12-05T11:00:00Z"), Duration::from_secs(30)),
        (Some("2026-12-05T12:00:10Z"), Duration::from_secs(30)),
        (None, READY_POLL),
        (Some("not a time"), READY_POLL),
    ];
    for (expiry, want) in cases {
        assert_eq!(ready_poll(expiry, now()), want, "{expiry:?}");
    }
}
