use super::*;
use crate::api::{AuraSnapshotStatus, LocalRef};

const TARGET: &str = "0a1b2c3d";
const OTHER: &str = "ffff0000";

fn message(s: &RestoreSummary) -> &str {
    match &s.readiness {
        status::Readiness::False { message, .. } | status::Readiness::Unknown { message, .. } => {
            message
        }
        status::Readiness::True => "",
    }
}

fn now() -> Timestamp {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

fn named(name: &str) -> Option<LocalRef> {
    Some(LocalRef { name: name.into() })
}

fn snapshot(of: &str, sid: &str, aura: &str) -> AuraSnapshotStatus {
    AuraSnapshotStatus {
        instance_id: Some(of.into()),
        snapshot_id: Some(sid.into()),
        aura_status: Some(aura.into()),
        ..Default::default()
    }
}

fn target<'a>(aura: Option<Option<&'a InstanceStatus>>) -> Target<'a> {
    Target {
        name: "orders",
        instance_id: TARGET,
        aura,
        snapshot_first: false,
        hands_off: None,
        adopted_at: None,
    }
}

const NOTHING: SourceSeen<'static> = SourceSeen {
    snapshot: Seen::NotNamed,
    instance: Seen::NotNamed,
};

fn obs<'a>(
    source: &'a RestoreSource,
    status: &'a AuraRestoreStatus,
    target: TargetView<'a>,
) -> RestoreObservation<'a> {
    RestoreObservation {
        name: "rollback",
        source,
        status,
        target,
        sources: NOTHING,
        before: Seen::NotNamed,
        other_running: None,
        now: now(),
        poll: Duration::from_secs(5),
        grace: Duration::from_secs(120),
        created: None,
        confirmation: None,
    }
}

fn own_snapshot_id() -> RestoreSource {
    RestoreSource {
        snapshot_id: Some("s1".into()),
        ..Default::default()
    }
}

fn restore_call() -> Call {
    Call::Restore {
        instance_id: TARGET.into(),
        snapshot_id: "s1".into(),
    }
}

fn running_status(accepted: bool, aura: Option<&str>, started: &str) -> AuraRestoreStatus {
    AuraRestoreStatus {
        phase: Some(RestorePhase::Running),
        instance_id: Some(TARGET.into()),
        source_instance_id: Some(TARGET.into()),
        source_snapshot_id: Some("s1".into()),
        started_at: Some(started.into()),
        accepted_at: accepted.then(|| started.into()),
        aura_status: aura.map(Into::into),
        ..Default::default()
    }
}

#[test]
fn first_steps() {
    let rows = [
        (None, Step::Prepare),
        (Some(RestorePhase::Pending), Step::Prepare),
        (Some(RestorePhase::Running), Step::Follow),
        (Some(RestorePhase::Succeeded), Step::Finished),
        (Some(RestorePhase::Failed), Step::Finished),
    ];
    for (phase, step) in rows {
        let status = AuraRestoreStatus {
            phase,
            ..Default::default()
        };
        assert_eq!(first_step(&status), step, "{phase:?}");
    }
}

type SourceRow<'a> = (
    &'a str,
    RestoreSource,
    SourceSeen<'a>,
    Result<Call, &'static str>,
);

/// Each source, as seen, resolves to the call (or to the kind of problem) given.
fn assert_sources(rows: Vec<SourceRow<'_>>) {
    for (what, source, seen, want) in rows {
        let got = resolve_source(&source, TARGET, &seen);
        match (&got, &want) {
            (Ok(call), Ok(expected)) => assert_eq!(call, expected, "{what}"),
            (Err(SourceProblem::Waiting(_)), Err("waiting"))
            | (Err(SourceProblem::Missing(_)), Err("missing"))
            | (Err(SourceProblem::Invalid(..)), Err("invalid")) => {}
            _ => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

fn overwrite(sid: Option<&str>) -> Result<Call, &'static str> {
    Ok(Call::Overwrite {
        instance_id: TARGET.into(),
        source_instance_id: OTHER.into(),
        source_snapshot_id: sid.map(Into::into),
    })
}

#[test]
fn a_snapshot_of_the_target_is_restored_anything_else_overwrites() {
    let completed_own = snapshot(TARGET, "s1", "Completed");
    let completed_other = snapshot(OTHER, "s2", "Completed");
    let rows: Vec<SourceRow<'_>> = vec![
        (
            "bare snapshotId: the target's own",
            own_snapshot_id(),
            NOTHING,
            Ok(restore_call()),
        ),
        (
            "snapshotRef of the target",
            RestoreSource {
                snapshot_ref: named("nightly"),
                ..Default::default()
            },
            SourceSeen {
                snapshot: Seen::Found(&completed_own),
                ..NOTHING
            },
            Ok(restore_call()),
        ),
        (
            "snapshotRef of another instance",
            RestoreSource {
                snapshot_ref: named("prod-nightly"),
                ..Default::default()
            },
            SourceSeen {
                snapshot: Seen::Found(&completed_other),
                ..NOTHING
            },
            overwrite(Some("s2")),
        ),
        (
            "instanceRef alone: its current data",
            RestoreSource {
                instance_ref: named("staging"),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Found(Some(OTHER)),
                ..NOTHING
            },
            overwrite(None),
        ),
        (
            "instanceRef with a snapshotId of it",
            RestoreSource {
                instance_ref: named("staging"),
                snapshot_id: Some("s2".into()),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Found(Some(OTHER)),
                ..NOTHING
            },
            overwrite(Some("s2")),
        ),
        (
            "instanceRef with a snapshotRef of it",
            RestoreSource {
                instance_ref: named("staging"),
                snapshot_ref: named("staging-nightly"),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Found(Some(OTHER)),
                snapshot: Seen::Found(&completed_other),
            },
            overwrite(Some("s2")),
        ),
        (
            "instanceRef naming the target, with a snapshotId: a restore",
            RestoreSource {
                instance_ref: named("orders"),
                snapshot_id: Some("s1".into()),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Found(Some(TARGET)),
                ..NOTHING
            },
            Ok(restore_call()),
        ),
        (
            "instanceRef naming the target alone",
            RestoreSource {
                instance_ref: named("orders"),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Found(Some(TARGET)),
                ..NOTHING
            },
            Err("invalid"),
        ),
        (
            "a snapshotRef of another instance than instanceRef's",
            RestoreSource {
                instance_ref: named("staging"),
                snapshot_ref: named("nightly"),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Found(Some(OTHER)),
                snapshot: Seen::Found(&completed_own),
            },
            Err("invalid"),
        ),
    ];
    assert_sources(rows);
}

#[test]
fn a_source_not_there_yet_waits_one_never_there_stops() {
    let in_progress = snapshot(TARGET, "s1", "InProgress");
    let failed_snap = snapshot(TARGET, "s1", "Failed");
    let no_status = AuraSnapshotStatus::default();
    let rows: Vec<SourceRow<'_>> = vec![
        (
            "snapshot not complete yet",
            RestoreSource {
                snapshot_ref: named("nightly"),
                ..Default::default()
            },
            SourceSeen {
                snapshot: Seen::Found(&in_progress),
                ..NOTHING
            },
            Err("waiting"),
        ),
        (
            "snapshot without a status yet",
            RestoreSource {
                snapshot_ref: named("nightly"),
                ..Default::default()
            },
            SourceSeen {
                snapshot: Seen::Found(&no_status),
                ..NOTHING
            },
            Err("waiting"),
        ),
        (
            "snapshot failed",
            RestoreSource {
                snapshot_ref: named("nightly"),
                ..Default::default()
            },
            SourceSeen {
                snapshot: Seen::Found(&failed_snap),
                ..NOTHING
            },
            Err("invalid"),
        ),
        (
            "snapshot missing",
            RestoreSource {
                snapshot_ref: named("nightly"),
                ..Default::default()
            },
            SourceSeen {
                snapshot: Seen::Missing,
                ..NOTHING
            },
            Err("missing"),
        ),
        (
            "source instance missing",
            RestoreSource {
                instance_ref: named("staging"),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Missing,
                ..NOTHING
            },
            Err("missing"),
        ),
        (
            "source instance not created yet",
            RestoreSource {
                instance_ref: named("staging"),
                ..Default::default()
            },
            SourceSeen {
                instance: Seen::Found(None),
                ..NOTHING
            },
            Err("waiting"),
        ),
        (
            "nothing named",
            RestoreSource::default(),
            NOTHING,
            Err("invalid"),
        ),
    ];
    assert_sources(rows);
}

#[test]
fn a_pending_restore_waits_for_its_target_and_its_source() {
    let source = own_snapshot_id();
    let status = AuraRestoreStatus::default();
    let not_created = TargetProblem::NotCreated("orders".into());
    let missing = TargetProblem::NotFound("orders".into());
    let creds = TargetProblem::Credentials(
        crate::reconciler::credentials::CredentialsProblem::NotConfigured,
    );
    // (problem, reason, stalled)
    let rows = [
        (&not_created, RestoreReason::WaitingForInstance, false),
        (&missing, RestoreReason::InstanceNotFound, true),
        (&creds, RestoreReason::CredentialsNotUsable, true),
    ];
    for (problem, reason, stalled) in rows {
        let d = decide(&obs(&source, &status, TargetView::Problem(problem)));
        assert_eq!(d.action, RestoreAction::None, "{problem:?}");
        assert_eq!(d.phase, RestorePhase::Pending, "{problem:?}");
        assert_eq!(d.summary.reason(), Some(reason), "{problem:?}");
        assert_eq!(d.summary.stalled.is_some(), stalled, "{problem:?}");
        assert!(d.requeue.is_some(), "{problem:?}");
    }

    // A source that is not ready keeps it Pending; one that cannot be used fails it.
    let by_ref = RestoreSource {
        snapshot_ref: named("nightly"),
        ..Default::default()
    };
    let running = InstanceStatus::Running;
    let in_progress = snapshot(TARGET, "s1", "InProgress");
    let failed_snap = snapshot(TARGET, "s1", "Failed");
    let rows = [
        (
            Seen::Found(&in_progress),
            RestorePhase::Pending,
            RestoreReason::WaitingForSource,
        ),
        (
            Seen::Missing,
            RestorePhase::Pending,
            RestoreReason::SourceNotFound,
        ),
        (
            Seen::Found(&failed_snap),
            RestorePhase::Failed,
            RestoreReason::SourceFailed,
        ),
    ];
    for (seen, phase, reason) in rows {
        let mut o = obs(
            &by_ref,
            &status,
            TargetView::Ready(target(Some(Some(&running)))),
        );
        o.sources.snapshot = seen;
        let d = decide(&o);
        assert_eq!(d.phase, phase, "{seen:?}");
        assert_eq!(d.summary.reason(), Some(reason), "{seen:?}");
        let finish = phase == RestorePhase::Failed;
        assert_eq!(d.action == RestoreAction::Finish, finish, "{seen:?}");
        assert!(!matches!(d.action, RestoreAction::Start(_)), "{seen:?}");
    }
}

#[test]
fn a_busy_or_unmanaged_target_keeps_it_pending() {
    let source = own_snapshot_id();
    let status = AuraRestoreStatus::default();
    let updating = InstanceStatus::Updating;
    let restoring = InstanceStatus::Restoring;
    let paused = InstanceStatus::Paused;
    let odd = InstanceStatus::Other("resizing".into());
    let rows: [(Option<Option<&InstanceStatus>>, RestoreReason, bool); 6] = [
        (Some(Some(&updating)), RestoreReason::InstanceBusy, false),
        (Some(Some(&restoring)), RestoreReason::InstanceBusy, false),
        (Some(Some(&paused)), RestoreReason::InstanceBusy, false),
        (Some(Some(&odd)), RestoreReason::InstanceBusy, false),
        (Some(None), RestoreReason::InstanceNotFound, true),
        (None, RestoreReason::InstanceBusy, false),
    ];
    for (aura, reason, stalled) in rows {
        let d = decide(&obs(&source, &status, TargetView::Ready(target(aura))));
        assert_eq!(d.action, RestoreAction::None, "{aura:?}");
        assert_eq!(d.phase, RestorePhase::Pending, "{aura:?}");
        assert_eq!(d.summary.reason(), Some(reason), "{aura:?}");
        assert_eq!(d.summary.stalled.is_some(), stalled, "{aura:?}");
        // The resolved source is shown while it waits.
        assert_eq!(d.call, Some(restore_call()), "{aura:?}");
    }

    let running = InstanceStatus::Running;
    let mut o = obs(
        &source,
        &status,
        TargetView::Ready(target(Some(Some(&running)))),
    );
    o.other_running = Some("earlier");
    let d = decide(&o);
    assert_eq!(d.action, RestoreAction::None);
    assert_eq!(d.summary.reason(), Some(RestoreReason::InstanceBusy));
    assert!(message(&d.summary).contains("earlier"));

    for why in [
        HandsOff::ObserveOnly,
        HandsOff::ReconcileDisabled,
        HandsOff::ClaimedElsewhere,
    ] {
        let t = Target {
            hands_off: Some(&why),
            ..target(Some(Some(&running)))
        };
        let d = decide(&obs(&source, &status, TargetView::Ready(t)));
        assert_eq!(d.action, RestoreAction::None, "{why:?}");
        assert_eq!(d.phase, RestorePhase::Pending, "{why:?}");
        assert_eq!(
            d.summary.reason(),
            Some(RestoreReason::InstanceNotManaged),
            "{why:?}"
        );
        assert!(d.summary.stalled.is_some(), "{why:?}");
    }
}

#[test]
fn a_free_target_starts_the_call_once() {
    let running = InstanceStatus::Running;
    let status = AuraRestoreStatus::default();
    let own = own_snapshot_id();
    let d = decide(&obs(
        &own,
        &status,
        TargetView::Ready(target(Some(Some(&running)))),
    ));
    assert_eq!(d.action, RestoreAction::Start(restore_call()));
    assert_eq!(d.phase, RestorePhase::Running);
    assert_eq!(d.summary.reason(), Some(RestoreReason::Restoring));

    let other = RestoreSource {
        instance_ref: named("staging"),
        ..Default::default()
    };
    let mut o = obs(
        &other,
        &status,
        TargetView::Ready(target(Some(Some(&running)))),
    );
    o.sources.instance = Seen::Found(Some(OTHER));
    let d = decide(&o);
    let RestoreAction::Start(call) = &d.action else {
        panic!("{:?}", d.action)
    };
    assert_eq!(
        call,
        &Call::Overwrite {
            instance_id: TARGET.into(),
            source_instance_id: OTHER.into(),
            source_snapshot_id: None,
        }
    );
    assert_eq!(call.words(), format!("instance {OTHER}"));

    // Once Running, a pass never starts it again, whatever it sees.
    let recorded = running_status(false, None, "2026-12-01T11:59:59Z");
    for aura in [Some(Some(&running)), None] {
        let d = decide(&obs(&own, &recorded, TargetView::Ready(target(aura))));
        assert!(!matches!(d.action, RestoreAction::Start(_)), "{aura:?}");
    }
}

#[test]
fn before_changes_takes_a_snapshot_first_and_waits_for_it() {
    let running = InstanceStatus::Running;
    let own = own_snapshot_id();
    let first = Target {
        snapshot_first: true,
        ..target(Some(Some(&running)))
    };
    // Nothing recorded: take it.
    let status = AuraRestoreStatus::default();
    let d = decide(&obs(&own, &status, TargetView::Ready(first)));
    assert_eq!(
        d.action,
        RestoreAction::SnapshotFirst {
            name: "rollback-before".into()
        }
    );
    assert_eq!(d.phase, RestorePhase::Pending);
    assert_eq!(d.summary.reason(), Some(RestoreReason::SnapshotFirst));

    let recorded = AuraRestoreStatus {
        phase: Some(RestorePhase::Pending),
        before_snapshot: Some("rollback-before".into()),
        ..Default::default()
    };
    let taking = snapshot(TARGET, "b1", "InProgress");
    let done = snapshot(TARGET, "b1", "Completed");
    let broken = snapshot(TARGET, "b1", "Failed");
    let rows: [(Seen<&AuraSnapshotStatus>, &str); 4] = [
        (Seen::Found(&taking), "wait"),
        (Seen::Found(&done), "start"),
        (Seen::Found(&broken), "fail"),
        // Deleted meanwhile: taken again.
        (Seen::Missing, "take"),
    ];
    for (before, want) in rows {
        // Recorded: followed even if beforeChanges was switched off since.
        for snapshot_first in [true, false] {
            let t = Target {
                snapshot_first,
                ..first
            };
            let mut o = obs(&own, &recorded, TargetView::Ready(t));
            o.before = before;
            let d = decide(&o);
            let what = format!("{before:?} {snapshot_first}");
            match want {
                "wait" => {
                    assert_eq!(d.action, RestoreAction::None, "{what}");
                    assert_eq!(d.phase, RestorePhase::Pending, "{what}");
                    assert_eq!(d.summary.reason(), Some(RestoreReason::SnapshotFirst));
                }
                "start" => assert_eq!(d.action, RestoreAction::Start(restore_call()), "{what}"),
                "fail" => {
                    assert_eq!(d.action, RestoreAction::Finish, "{what}");
                    assert_eq!(d.phase, RestorePhase::Failed, "{what}");
                    assert_eq!(d.summary.reason(), Some(RestoreReason::SnapshotFirstFailed));
                }
                _ => assert_eq!(
                    d.action,
                    RestoreAction::SnapshotFirst {
                        name: "rollback-before".into()
                    },
                    "{what}"
                ),
            }
        }
    }
}

/// (what, accepted, last seen, started, Aura now, phase, reason)
type RunningRow<'a> = (
    &'a str,
    bool,
    Option<&'a str>,
    &'a str,
    Option<Option<&'a InstanceStatus>>,
    RestorePhase,
    Option<RestoreReason>,
);

fn assert_running(rows: Vec<RunningRow<'_>>) {
    let own = own_snapshot_id();
    for (what, accepted, seen, started, aura, phase, reason) in rows {
        let status = running_status(accepted, seen, started);
        let d = decide(&obs(&own, &status, TargetView::Ready(target(aura))));
        assert_eq!(d.phase, phase, "{what}");
        assert_eq!(d.summary.reason(), reason, "{what}");
        let finished = matches!(phase, RestorePhase::Succeeded | RestorePhase::Failed);
        let want = if finished {
            RestoreAction::Finish
        } else {
            RestoreAction::None
        };
        assert_eq!(d.action, want, "{what}");
        assert_eq!(d.requeue.is_none(), finished, "{what}");
        assert_eq!(
            d.summary.stalled.is_some(),
            phase == RestorePhase::Failed,
            "{what}"
        );
    }
}

#[test]
fn a_running_restore_follows_the_instance_until_it_runs_again() {
    let running = InstanceStatus::Running;
    let restoring = InstanceStatus::Restoring;
    let overwriting = InstanceStatus::Overwriting;
    let loading_failed = InstanceStatus::LoadingFailed;
    let just = "2026-12-01T11:59:58Z";
    let a_while = "2026-12-01T11:59:30Z";
    let long_ago = "2026-12-01T11:50:00Z";
    let rows: Vec<RunningRow<'_>> = vec![
        (
            "restoring",
            true,
            None,
            just,
            Some(Some(&restoring)),
            RestorePhase::Running,
            Some(RestoreReason::Restoring),
        ),
        (
            "overwriting",
            true,
            Some("overwriting"),
            just,
            Some(Some(&overwriting)),
            RestorePhase::Running,
            Some(RestoreReason::Restoring),
        ),
        (
            "running after restoring",
            true,
            Some("restoring"),
            just,
            Some(Some(&running)),
            RestorePhase::Succeeded,
            None,
        ),
        (
            "running after restoring, the answer lost",
            false,
            Some("restoring"),
            just,
            Some(Some(&running)),
            RestorePhase::Succeeded,
            None,
        ),
        (
            "accepted, running at once: not yet",
            true,
            None,
            just,
            Some(Some(&running)),
            RestorePhase::Running,
            Some(RestoreReason::Restoring),
        ),
        (
            "accepted, running a while after",
            true,
            None,
            a_while,
            Some(Some(&running)),
            RestorePhase::Succeeded,
            None,
        ),
        (
            "answer lost, running, within the grace",
            false,
            None,
            a_while,
            Some(Some(&running)),
            RestorePhase::Running,
            Some(RestoreReason::Restoring),
        ),
        (
            "answer lost, never seen busy",
            false,
            None,
            long_ago,
            Some(Some(&running)),
            RestorePhase::Failed,
            Some(RestoreReason::OutcomeUnknown),
        ),
        (
            "instance gone",
            true,
            Some("restoring"),
            just,
            Some(None),
            RestorePhase::Failed,
            Some(RestoreReason::InstanceNotFound),
        ),
        (
            "loading failed",
            true,
            Some("restoring"),
            just,
            Some(Some(&loading_failed)),
            RestorePhase::Failed,
            Some(RestoreReason::LoadingFailed),
        ),
        (
            "not read",
            true,
            None,
            just,
            None,
            RestorePhase::Running,
            Some(RestoreReason::Restoring),
        ),
    ];
    assert_running(rows);
}

#[test]
fn a_running_restore_whose_target_object_went_ends_with_its_outcome_unknown() {
    let own = own_snapshot_id();
    let just = "2026-12-01T11:59:58Z";
    // The AuraInstance gone from the cluster: nothing will ever tell the
    // outcome, so the restore ends Failed and says the outcome is unknown.
    let status = running_status(true, Some("restoring"), just);
    let gone = TargetProblem::NotFound("orders".into());
    let d = decide(&obs(&own, &status, TargetView::Problem(&gone)));
    assert_eq!(d.phase, RestorePhase::Failed);
    assert_eq!(d.action, RestoreAction::Finish);
    assert_eq!(d.summary.reason(), Some(RestoreReason::TargetDeleted));
    assert!(d.summary.message().is_some_and(|m| m.contains("unknown")));
    assert!(d.requeue.is_none());
    // Credentials that cannot be used are a wait: the target is still there.
    let unusable = TargetProblem::Credentials(
        crate::reconciler::credentials::CredentialsProblem::NotConfigured,
    );
    let d = decide(&obs(&own, &status, TargetView::Problem(&unusable)));
    assert_eq!(d.phase, RestorePhase::Running);
    assert!(d.requeue.is_some());
}

#[test]
fn a_finished_restore_makes_no_call_and_keeps_its_status() {
    let own = own_snapshot_id();
    let gone = TargetProblem::NotFound("orders".into());
    let succeeded = AuraRestoreStatus {
        phase: Some(RestorePhase::Succeeded),
        ..running_status(true, Some("restoring"), "2026-12-01T11:00:00Z")
    };
    let running = InstanceStatus::Running;
    for target_view in [
        TargetView::Problem(&gone),
        TargetView::Ready(target(Some(Some(&running)))),
    ] {
        let d = decide(&obs(&own, &succeeded, target_view));
        assert_eq!(d.action, RestoreAction::None);
        assert_eq!(d.phase, RestorePhase::Succeeded);
        assert_eq!(d.summary, RestoreSummary::ready());
        assert_eq!(d.requeue, None);
    }

    let refusal = refused(&AuraError::other(
        "restore snapshot s1 to instance 0a1b2c3d",
        crate::aura::AuraErrorKind::NeedsHuman,
        Some(400),
        "Snapshot is not exportable",
        Some("req-42".into()),
    ));
    assert_eq!(refusal.phase, RestorePhase::Failed);
    assert_eq!(refusal.action, RestoreAction::Finish);
    let (reason, message) = refusal.summary.stalled.clone().unwrap();
    assert_eq!(reason, RestoreReason::AuraRejected);
    assert!(message.contains("not exportable"), "{message}");
    assert!(message.contains("req-42"), "{message}");

    let failed_status = AuraRestoreStatus {
        phase: Some(RestorePhase::Failed),
        conditions: status::conditions(&refusal.summary, &[], Some(1), now()),
        ..Default::default()
    };
    let d = decide(&obs(&own, &failed_status, TargetView::Problem(&gone)));
    assert_eq!(d.action, RestoreAction::None);
    assert_eq!(d.phase, RestorePhase::Failed);
    assert_eq!(d.summary, refusal.summary);
    assert_eq!(d.requeue, None);
}

#[test]
fn a_conflict_is_a_wait_not_a_failure() {
    let s = busy(TARGET);
    assert_eq!(s.reason(), Some(RestoreReason::InstanceBusy));
    assert!(s.stalled.is_none());
    assert!(s.reconciling.is_some());
}

#[test]
fn the_recorded_call_reads_back() {
    let restore = running_status(true, None, "2026-12-01T11:00:00Z");
    assert_eq!(Call::recorded(&restore), Some(restore_call()));
    let overwrite = AuraRestoreStatus {
        source_instance_id: Some(OTHER.into()),
        source_snapshot_id: None,
        ..restore
    };
    assert_eq!(
        Call::recorded(&overwrite),
        Some(Call::Overwrite {
            instance_id: TARGET.into(),
            source_instance_id: OTHER.into(),
            source_snapshot_id: None
        })
    );
}

#[test]
fn every_reason_has_its_own_word() {
    crate::reconciler::status::assert_reason_words::<RestoreReason>();
}

#[test]
fn a_restore_applied_with_a_rebuild_waits_for_a_confirmation_of_that_adoption() {
    let adopted = "2026-12-06T06:00:00Z";
    let at = |t: &str| Some(t.parse::<Timestamp>().unwrap());
    // (what, created, adopted at, confirmation, runs)
    let cases = [
        (
            "a target never adopted",
            at("2026-12-06T05:00:00Z"),
            None,
            None,
            true,
        ),
        (
            "applied before the adoption",
            at("2026-12-06T05:59:00Z"),
            Some(adopted),
            None,
            false,
        ),
        (
            "applied with the rebuild",
            at("2026-12-06T06:30:00Z"),
            Some(adopted),
            None,
            false,
        ),
        (
            "applied well after",
            at("2026-12-06T07:00:01Z"),
            Some(adopted),
            None,
            true,
        ),
        (
            "confirmed for this adoption",
            at("2026-12-06T05:59:00Z"),
            Some(adopted),
            Some(adopted),
            true,
        ),
        (
            "confirmed for an earlier one",
            at("2026-12-06T05:59:00Z"),
            Some(adopted),
            Some("2026-01-01T00:00:00Z"),
            false,
        ),
        (
            "confirmed with a word",
            at("2026-12-06T05:59:00Z"),
            Some(adopted),
            Some("true"),
            false,
        ),
        ("no creation time", None, Some(adopted), None, false),
        (
            "an adoption time that does not read",
            at("2026-12-06T09:00:00Z"),
            Some("soon"),
            None,
            false,
        ),
    ];
    for (what, created, adopted_at, confirmation, runs) in cases {
        assert_eq!(
            adoption_gate(created, adopted_at, confirmation).is_ok(),
            runs,
            "{what}"
        );
    }
}

#[test]
fn a_held_restore_makes_no_call_and_says_how_to_confirm() {
    let running = InstanceStatus::Running;
    let source = own_snapshot_id();
    let status = AuraRestoreStatus::default();
    let t = Target {
        adopted_at: Some("2026-12-06T06:00:00Z"),
        ..target(Some(Some(&running)))
    };
    let mut o = obs(&source, &status, TargetView::Ready(t));
    o.created = Some("2026-12-06T05:59:00Z".parse().unwrap());
    let d = decide(&o);
    assert_eq!(d.action, RestoreAction::None);
    assert_eq!(d.phase, RestorePhase::Pending);
    assert_eq!(
        d.summary.reason(),
        Some(RestoreReason::AwaitingConfirmation)
    );
    assert!(d.summary.stalled.is_some());
    let message = d.summary.message().unwrap_or_default();
    assert!(message.contains(CONFIRM_ANNOTATION), "{message}");
    assert!(message.contains("2026-12-06T06:00:00Z"), "{message}");
    o.confirmation = Some("2026-12-06T06:00:00Z");
    assert!(matches!(decide(&o).action, RestoreAction::Start(_)));
}
