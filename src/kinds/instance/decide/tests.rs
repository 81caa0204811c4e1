//! Table tests of `decide`.
use super::*;
use crate::api::{Adoption, PasswordRecovery};
use crate::api::{AuraVersion, CloudProvider, InstanceType, MemorySize};
use crate::aura::model::{InstanceConfiguration, InstanceStatus};

fn spec() -> AuraInstanceSpec {
    AuraInstanceSpec {
        name: None,
        tenant_id: None,
        instance_id: None,
        cloud_provider: CloudProvider::Gcp,
        region: "europe-west1".into(),
        instance_type: InstanceType::EnterpriseDb,
        version: Some(AuraVersion::V5),
        memory: MemorySize::Gb8,
        storage: None,
        vector_optimized: None,
        graph_analytics_plugin: None,
        multi_database: false,
        paused: false,
        deletion_policy: None,
        credentials_secret_ref: None,
        project_ref: None,
        connection_secret: None,
        verify_credentials: None,
        management_policy: None,
        secondaries_count: None,
        cdc_enrichment_mode: None,
        customer_managed_key_id: None,
        customer_managed_key_ref: None,
        password_recovery: None,
        adoption: None,
        source: None,
        deletion_protection: None,
        snapshots: None,
        admin_password_rotation: None,
    }
}

fn config(
    provider: &str,
    region: &str,
    ty: &str,
    memory: &str,
    storage: &str,
) -> InstanceConfiguration {
    InstanceConfiguration {
        cloud_provider: provider.into(),
        region: region.into(),
        region_name: region.into(),
        instance_type: ty.into(),
        memory: memory.into(),
        storage: Some(storage.into()),
        version: "5".into(),
    }
}

fn tenant() -> Tenant {
    Tenant {
        id: "t-1".into(),
        name: "team".into(),
        instance_configurations: vec![
            config("gcp", "europe-west1", "enterprise-db", "8GB", "16GB"),
            config("gcp", "europe-west1", "enterprise-db", "16GB", "32GB"),
            config("gcp", "us-central1", "professional-db", "4GB", "8GB"),
        ],
    }
}

fn instance(status: InstanceStatus) -> Instance {
    Instance {
        id: "8f769515".into(),
        name: Some("orders".into()),
        status,
        connection_url: Some("neo4j+s://8f769515.databases.neo4j.io".into()),
        cloud_provider: Some("gcp".into()),
        tenant_id: Some("t-1".into()),
        memory: Some("8GB".into()),
        storage: Some("16GB".into()),
        region: Some("europe-west1".into()),
        instance_type: Some("enterprise-db".into()),
        created_at: Some("2026-11-27T10:00:00Z".into()),
        vector_optimized: None,
        graph_analytics_plugin: None,
        secondaries_count: None,
        cdc_enrichment_mode: None,
        customer_managed_key_id: None,
        metrics_integration_url: None,
    }
}

fn summary(id: &str, name: &str, created_at: &str) -> InstanceSummary {
    InstanceSummary {
        id: id.into(),
        name: Some(name.into()),
        tenant_id: Some("t-1".into()),
        cloud_provider: Some("gcp".into()),
        created_at: Some(created_at.into()),
    }
}

/// What the pass compares once: the spec against the instance Aura reported.
fn compared(spec: &AuraInstanceSpec, name: &str, aura: &AuraView<'_>) -> Compared {
    match aura {
        AuraView::Found(i) => Compared::of(spec, name, i),
        _ => Compared::default(),
    }
}

fn now() -> Timestamp {
    "2026-11-27T10:05:00Z".parse().unwrap()
}

fn obs<'a>(
    spec: &'a AuraInstanceSpec,
    status: &'a AuraInstanceStatus,
    aura: AuraView<'a>,
    secret: SecretView,
) -> Observation<'a> {
    let compared = compared(spec, "orders", &aura);
    Observation {
        spec,
        aura_name: "orders",
        status,
        now: now(),
        aura,
        compared,
        secret,
        generation: Some(1),
        catalogue: None,
        create_grace: Duration::from_secs(120),
        claimed_elsewhere: false,
        secret_name: "orders-connection".into(),
        dry_run: false,
        restoring: None,
        source: None,
        before_change: None,
        project_not_held: None,
        key: None,
    }
}

fn with_intent(at: &str) -> AuraInstanceStatus {
    AuraInstanceStatus {
        create_requested_at: Some(at.into()),
        create_requested_name: Some("orders".into()),
        ..Default::default()
    }
}

#[test]
fn first_sight_creates_with_the_spec() {
    let (spec, status, tenant) = (spec(), AuraInstanceStatus::default(), tenant());
    let d = decide(&obs(
        &spec,
        &status,
        AuraView::NotCreated {
            tenant: &tenant,
            listed: None,
            claimed: &[],
            adoptable: &[],
        },
        SecretView::default(),
    ));
    let Action::Create(req) = d.action else {
        panic!("expected a create, got {:?}", d.action)
    };
    assert_eq!(req.tenant_id, "t-1");
    assert_eq!(req.name, "orders");
    assert_eq!(req.memory, "8GB");
    assert_eq!(d.status.phase, Phase::Creating);
    assert!(d.status.reconciling.is_some());
    // DESIGN 4.4: the first status is Ready=Unknown, Reconciling=True.
    assert!(matches!(d.status.readiness, Readiness::Unknown { .. }));
    assert_eq!(d.requeue, LookAgain::Poll);
}

#[test]
fn a_clone_creates_only_once_its_source_is_known_and_carries_its_ids() {
    let spec = AuraInstanceSpec {
        source: Some(crate::api::InstanceSource {
            instance_id: Some("0a1b2c3d".into()),
            snapshot_id: Some("s1".into()),
            ..Default::default()
        }),
        ..spec()
    };
    let (status, tenant) = (AuraInstanceStatus::default(), tenant());
    // Held by an AuraInstance of this namespace: the claims let it be read.
    let holder = crate::api::ClaimHolder {
        namespace: "team-a".into(),
        name: "prod".into(),
        uid: "u-prod".into(),
    };
    let reachable =
        crate::kinds::shared::access::rule("0a1b2c3d", Some(&holder), "team-a", false).unwrap();
    let ready = SourceView::Ready {
        instance_id: reachable,
        snapshot_id: Some("s1".into()),
    };
    let waiting = SourceView::Waiting("waiting for AuraSnapshot nightly".into());
    let problem = SourceView::Problem("AuraInstance prod does not exist".into());
    let refused = SourceView::NotAllowed("held by another namespace".into());
    // (source, the create's source ids, the reason when waiting, stalled)
    type Row<'a> = (
        Option<&'a SourceView>,
        Option<(&'a str, Option<&'a str>)>,
        Option<Reason>,
        bool,
    );
    let rows: &[Row] = &[
        (Some(&ready), Some(("0a1b2c3d", Some("s1"))), None, false),
        (Some(&waiting), None, Some(Reason::WaitingForSource), false),
        (Some(&problem), None, Some(Reason::SourceNotFound), true),
        (Some(&refused), None, Some(Reason::SourceNotAllowed), true),
        (None, None, Some(Reason::WaitingForSource), false),
    ];
    for (source, create, reason, stalled) in rows {
        let o = Observation {
            source: *source,
            ..obs(
                &spec,
                &status,
                AuraView::NotCreated {
                    tenant: &tenant,
                    listed: None,
                    claimed: &[],
                    adoptable: &[],
                },
                SecretView::default(),
            )
        };
        let d = decide(&o);
        match (&d.action, create) {
            (Action::Create(req), Some((instance, snapshot))) => {
                assert_eq!(req.source_instance_id.as_deref(), Some(*instance));
                assert_eq!(req.source_snapshot_id.as_deref(), *snapshot);
            }
            (Action::None, None) => {
                let said = d.status.stalled.as_ref().or(d.status.reconciling.as_ref());
                assert_eq!(said.map(|s| s.0), *reason, "{source:?}");
                assert_eq!(d.status.stalled.is_some(), *stalled, "{source:?}");
            }
            (other, _) => panic!("{source:?}: {other:?}"),
        }
    }
    // Without a source the create carries none.
    let plain = spec_without_source();
    let d = decide(&obs(
        &plain,
        &status,
        AuraView::NotCreated {
            tenant: &tenant,
            listed: None,
            claimed: &[],
            adoptable: &[],
        },
        SecretView::default(),
    ));
    let Action::Create(req) = d.action else {
        panic!("{:?}", d.action)
    };
    assert_eq!(req.source_instance_id, None);
}

/// The first create through a project waits until the project holds its
/// finalizer (so that deleting the project waits for this user); an intent
/// already recorded goes on to its search, and a project held lets it create.
#[test]
fn a_create_waits_for_its_project_to_hold_its_finalizer() {
    let (spec, tenant) = (spec(), tenant());
    let team = crate::api::ProjectId::namespaced("team-a", "team");
    // (project not held, an intent recorded, creates now)
    let rows = [
        (None, false, true),
        (Some(team.clone()), false, false),
        (Some(team.clone()), true, false),
    ];
    for (not_held, intent, creates) in rows {
        let status = if intent {
            with_intent("2026-11-27T10:04:00Z")
        } else {
            AuraInstanceStatus::default()
        };
        let listed: Vec<InstanceSummary> = Vec::new();
        let o = Observation {
            project_not_held: not_held.clone(),
            ..obs(
                &spec,
                &status,
                AuraView::NotCreated {
                    tenant: &tenant,
                    listed: intent.then_some(listed.as_slice()),
                    claimed: &[],
                    adoptable: &[],
                },
                SecretView::default(),
            )
        };
        let d = decide(&o);
        assert_eq!(
            matches!(d.action, Action::Create(_)),
            creates,
            "{not_held:?} {intent}: {:?}",
            d.action
        );
        let waits = d
            .status
            .reconciling
            .as_ref()
            .is_some_and(|r| r.0 == Reason::WaitingForProject);
        assert_eq!(
            waits,
            not_held.is_some() && !intent,
            "{not_held:?} {intent}"
        );
    }
}

fn spec_without_source() -> AuraInstanceSpec {
    spec()
}

#[test]
fn lost_create_outcomes_are_resolved_before_any_new_create() {
    let (spec, tenant) = (spec(), tenant());
    // (intent, listed instances, expected action kind)
    let cases: Vec<(&str, Vec<InstanceSummary>, &str)> = vec![
        // the create landed: adopt it
        (
            "2026-11-27T10:04:00Z",
            vec![summary("aaaa0001", "orders", "2026-11-27T10:04:01Z")],
            "adopt aaaa0001",
        ),
        // same name but created long before the intent: someone else's, not ours
        (
            "2026-11-27T10:04:00Z",
            vec![summary("bbbb0001", "orders", "2026-11-27T09:00:00Z")],
            "wait",
        ),
        // other name: not ours
        (
            "2026-11-27T10:04:00Z",
            vec![summary("cccc0001", "billing", "2026-11-27T10:04:01Z")],
            "wait",
        ),
        // within skew before the intent still counts
        (
            "2026-11-27T10:04:00Z",
            vec![summary("dddd0001", "orders", "2026-11-27T10:03:30Z")],
            "adopt dddd0001",
        ),
        // two slipped through: the earliest is adopted
        (
            "2026-11-27T10:04:00Z",
            vec![
                summary("eeee0002", "orders", "2026-11-27T10:04:09Z"),
                summary("eeee0001", "orders", "2026-11-27T10:04:02Z"),
            ],
            "adopt eeee0001",
        ),
        // nothing found after the grace period: a new create is allowed
        ("2026-11-27T10:00:00Z", vec![], "create"),
    ];
    for (intent, listed, expected) in cases {
        let status = with_intent(intent);
        let d = decide(&obs(
            &spec,
            &status,
            AuraView::NotCreated {
                tenant: &tenant,
                listed: Some(&listed),
                claimed: &[],
                adoptable: &[],
            },
            SecretView::default(),
        ));
        let got = match &d.action {
            Action::Adopt { instance_id, cause } => {
                assert_eq!(*cause, AdoptCause::LostCreate);
                format!("adopt {instance_id}")
            }
            Action::Create(_) => "create".into(),
            Action::None => "wait".into(),
            other => format!("{other:?}"),
        };
        assert_eq!(got, expected, "intent {intent}, listed {listed:?}");
        assert_eq!(d.status.phase, Phase::Creating);
    }
}

#[test]
fn an_unknown_outcome_without_a_list_never_creates() {
    let (spec, tenant) = (spec(), tenant());
    let status = with_intent("2026-11-27T09:00:00Z");
    let d = decide(&obs(
        &spec,
        &status,
        AuraView::NotCreated {
            tenant: &tenant,
            listed: None,
            claimed: &[],
            adoptable: &[],
        },
        SecretView::default(),
    ));
    assert_eq!(d.action, Action::None);
}

#[test]
fn configurations_not_offered_stall_before_any_call() {
    let tenant = tenant();
    let cases: Vec<(AuraInstanceSpec, &str)> = vec![
        (
            AuraInstanceSpec {
                region: "asia-east1".into(),
                ..spec()
            },
            "only in: europe-west1",
        ),
        (
            AuraInstanceSpec {
                memory: MemorySize::Gb4,
                ..spec()
            },
            "offered memory/storage: 8GB/16GB, 16GB/32GB",
        ),
        (
            AuraInstanceSpec {
                storage: Some("64GB".into()),
                ..spec()
            },
            "with storage 64GB",
        ),
        (
            AuraInstanceSpec {
                version: Some(AuraVersion::V4),
                ..spec()
            },
            "offered versions: 5",
        ),
        (
            AuraInstanceSpec {
                cloud_provider: CloudProvider::Aws,
                ..spec()
            },
            "offers no enterprise-db instances on aws",
        ),
    ];
    for (spec, expected) in cases {
        let status = AuraInstanceStatus::default();
        let d = decide(&obs(
            &spec,
            &status,
            AuraView::NotCreated {
                tenant: &tenant,
                listed: None,
                claimed: &[],
                adoptable: &[],
            },
            SecretView::default(),
        ));
        assert_eq!(d.action, Action::None);
        let (reason, message) = d.status.stalled.clone().expect("stalled");
        assert_eq!(reason, "ConfigurationNotOffered");
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
        assert_eq!(d.requeue, LookAgain::Resync);
    }
}

#[test]
fn status_follows_aura_and_the_secret() {
    let spec = spec();
    let status = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        ..Default::default()
    };
    let full = SecretView {
        up_to_date: true,
        has_password: true,
        not_owned: false,
        not_trusted: None,
    };
    let no_password = SecretView {
        up_to_date: true,
        has_password: false,
        not_owned: false,
        not_trusted: None,
    };
    let missing = SecretView {
        up_to_date: false,
        has_password: false,
        not_owned: false,
        not_trusted: None,
    };
    // (aura status, secret, phase, ready reason or "True", action, requeue)
    let cases = vec![
        (
            InstanceStatus::Creating,
            full,
            Phase::Creating,
            "Creating",
            Action::None,
            LookAgain::Poll,
        ),
        (
            InstanceStatus::Running,
            full,
            Phase::Running,
            "True",
            Action::None,
            LookAgain::Resync,
        ),
        (
            InstanceStatus::Running,
            no_password,
            Phase::Running,
            "PasswordUnavailable",
            Action::None,
            LookAgain::Resync,
        ),
        (
            InstanceStatus::Running,
            missing,
            Phase::Running,
            "PasswordUnavailable",
            Action::WriteSecret,
            LookAgain::Poll,
        ),
        (
            InstanceStatus::Updating,
            full,
            Phase::Updating,
            "Updating",
            Action::None,
            LookAgain::Poll,
        ),
        (
            InstanceStatus::Other("resizing".into()),
            full,
            Phase::Updating,
            "Updating",
            Action::None,
            LookAgain::Poll,
        ),
        // paused in Aura while the spec says run: resume
        (
            InstanceStatus::Paused,
            full,
            Phase::Updating,
            "Resuming",
            Action::Resume {
                instance_id: "8f769515".into(),
                drift: None,
            },
            LookAgain::Poll,
        ),
        (
            InstanceStatus::LoadingFailed,
            full,
            Phase::Failed,
            "LoadingFailed",
            Action::None,
            LookAgain::Resync,
        ),
    ];
    for (aura_status, secret, phase, ready, action, requeue) in cases {
        let i = instance(aura_status.clone());
        let d = decide(&obs(&spec, &status, AuraView::Found(&i), secret));
        let got_ready = match &d.status.readiness {
            Readiness::True => "True".to_string(),
            Readiness::False { reason, .. } | Readiness::Unknown { reason, .. } => {
                reason.to_string()
            }
        };
        assert_eq!(
            (d.status.phase, got_ready.as_str(), &d.action, d.requeue),
            (phase, ready, &action, requeue),
            "aura {aura_status}, secret {secret:?}"
        );
        // Stalled only when a human must act.
        assert_eq!(
            d.status.stalled.is_some(),
            aura_status == InstanceStatus::LoadingFailed || got_ready == "PasswordUnavailable"
        );
    }
}

#[test]
fn an_instance_deleted_outside_is_not_recreated() {
    let spec = spec();
    let status = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        ..Default::default()
    };
    let d = decide(&obs(&spec, &status, AuraView::Gone, SecretView::default()));
    assert_eq!(d.action, Action::None);
    assert_eq!(
        d.status.stalled.as_ref().map(|s| s.0.as_str()),
        Some("InstanceNotFound")
    );
}

/// A running instance, changed by `f`.
fn running(f: fn(&mut Instance)) -> Instance {
    let mut i = instance(InstanceStatus::Running);
    f(&mut i);
    i
}

/// Each (spec, instance) gives the operation expected next.
fn assert_next_operations(cases: Vec<(AuraInstanceSpec, Instance, SpecChange)>) {
    for (spec, instance, expected) in cases {
        let name = spec.name.clone().unwrap_or_else(|| "orders".into());
        assert_eq!(
            next_operation(&spec, &update_request(&spec, &name, &instance), &instance),
            expected,
            "spec {spec:?} instance {:?}",
            instance.status
        );
    }
}

#[test]
fn one_operation_at_a_time_towards_the_spec() {
    // (spec change, instance, expected operation)
    let cases: Vec<(AuraInstanceSpec, Instance, SpecChange)> = vec![
        (spec(), running(|_| {}), SpecChange::None),
        (
            AuraInstanceSpec {
                memory: MemorySize::Gb16,
                ..spec()
            },
            running(|_| {}),
            SpecChange::Update(UpdateInstanceRequest {
                memory: Some("16GB".into()),
                ..Default::default()
            }),
        ),
        (
            AuraInstanceSpec {
                name: Some("renamed".into()),
                ..spec()
            },
            running(|_| {}),
            SpecChange::Update(UpdateInstanceRequest {
                name: Some("renamed".into()),
                ..Default::default()
            }),
        ),
        (
            AuraInstanceSpec {
                vector_optimized: Some(true),
                ..spec()
            },
            running(|i| i.vector_optimized = Some(false)),
            SpecChange::Update(UpdateInstanceRequest {
                vector_optimized: Some(true),
                ..Default::default()
            }),
        ),
        // a flag Aura does not report is not assumed off (DESIGN 4.7)
        (
            AuraInstanceSpec {
                vector_optimized: Some(true),
                ..spec()
            },
            running(|i| i.vector_optimized = None),
            SpecChange::None,
        ),
        // an unset feature flag is left as Aura has it
        (
            spec(),
            running(|i| i.vector_optimized = Some(true)),
            SpecChange::None,
        ),
        (
            AuraInstanceSpec {
                paused: true,
                memory: MemorySize::Gb16,
                ..spec()
            },
            running(|_| {}),
            SpecChange::Pause,
        ),
        (spec(), instance(InstanceStatus::Paused), SpecChange::Resume),
        (
            AuraInstanceSpec {
                paused: true,
                ..spec()
            },
            instance(InstanceStatus::Paused),
            SpecChange::None,
        ),
        // nothing is sent while Aura is busy
        (
            AuraInstanceSpec {
                memory: MemorySize::Gb16,
                ..spec()
            },
            instance(InstanceStatus::Updating),
            SpecChange::None,
        ),
        (
            AuraInstanceSpec {
                paused: true,
                ..spec()
            },
            instance(InstanceStatus::Resuming),
            SpecChange::None,
        ),
        (
            AuraInstanceSpec {
                instance_type: InstanceType::BusinessCritical,
                ..spec()
            },
            running(|i| i.instance_type = Some("professional-db".into())),
            SpecChange::Upgrade(InstanceType::BusinessCritical),
        ),
    ];
    assert_next_operations(cases);
}

#[test]
fn what_aura_leaves_out_or_spells_otherwise_is_no_operation() {
    let cases: Vec<(AuraInstanceSpec, Instance, SpecChange)> = vec![
        // what Aura does not report is never drift (DESIGN 4.7)
        (
            AuraInstanceSpec {
                storage: Some("32GB".into()),
                ..spec()
            },
            running(|i| i.storage = None),
            SpecChange::None,
        ),
        (
            AuraInstanceSpec {
                instance_type: InstanceType::FreeDb,
                memory: MemorySize::Gb1,
                storage: Some("2GB".into()),
                ..spec()
            },
            running(|i| {
                i.instance_type = Some("free-db".into());
                i.memory = Some("1GB".into());
                i.storage = None;
            }),
            SpecChange::None,
        ),
        (
            AuraInstanceSpec {
                instance_type: InstanceType::BusinessCritical,
                memory: MemorySize::Gb16,
                vector_optimized: Some(true),
                ..spec()
            },
            running(|i| {
                i.instance_type = None;
                i.memory = None;
                i.name = None;
                i.vector_optimized = None;
            }),
            SpecChange::None,
        ),
        // letter case is no difference either
        (
            spec(),
            running(|i| {
                i.memory = Some("8gb".into());
                i.instance_type = Some("Enterprise-DB".into());
            }),
            SpecChange::None,
        ),
        (
            spec(),
            running(|i| i.status = InstanceStatus::parse("Running")),
            SpecChange::None,
        ),
        (
            AuraInstanceSpec {
                paused: true,
                ..spec()
            },
            running(|i| i.status = InstanceStatus::parse("RUNNING")),
            SpecChange::Pause,
        ),
    ];
    assert_next_operations(cases);
}

#[test]
fn a_console_change_is_corrected_and_named() {
    let spec = spec();
    let status = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        observed_generation: Some(1),
        ..Default::default()
    };
    let mut changed = instance(InstanceStatus::Running);
    changed.memory = Some("16GB".into());
    let full = SecretView {
        up_to_date: true,
        has_password: true,
        not_owned: false,
        not_trusted: None,
    };
    let tenant = tenant();
    let mut o = obs(&spec, &status, AuraView::Found(&changed), full);
    o.catalogue = Some(&tenant);
    let d = decide(&o);
    let Action::Update { request, drift, .. } = &d.action else {
        panic!("{:?}", d.action)
    };
    assert_eq!(request.memory.as_deref(), Some("8GB"));
    let note = drift.as_deref().expect("a drift note");
    assert!(
        note.contains("memory 16GB") && note.contains("memory to 8GB"),
        "{note}"
    );
    assert_eq!(d.status.phase, Phase::Updating);

    // The same difference after a manifest edit is no drift.
    let edited = AuraInstanceStatus {
        observed_generation: Some(0),
        ..status.clone()
    };
    let d = decide(&obs(&spec, &edited, AuraView::Found(&changed), full));
    assert!(
        matches!(&d.action, Action::Update { drift: None, .. }),
        "{:?}",
        d.action
    );
}

#[test]
fn a_resize_not_offered_stalls_before_any_call() {
    let spec = AuraInstanceSpec {
        memory: MemorySize::Gb4,
        ..spec()
    };
    let status = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        ..Default::default()
    };
    let running = instance(InstanceStatus::Running);
    let tenant = tenant();
    let mut o = obs(
        &spec,
        &status,
        AuraView::Found(&running),
        SecretView {
            up_to_date: true,
            has_password: true,
            not_owned: false,
            not_trusted: None,
        },
    );
    o.catalogue = Some(&tenant);
    let d = decide(&o);
    assert_eq!(d.action, Action::None);
    assert_eq!(
        d.status.stalled.as_ref().map(|s| s.0.as_str()),
        Some("ConfigurationNotOffered")
    );
}

#[test]
fn an_adopted_instance_must_match_the_spec() {
    let spec = AuraInstanceSpec {
        tenant_id: Some("t-1".into()),
        ..spec()
    };
    let mut other = instance(InstanceStatus::Running);
    other.region = Some("us-central1".into());
    other.instance_type = Some("professional-db".into());
    let message = placement_mismatch(&spec, &other).expect("a mismatch");
    assert!(
        message.contains("region is us-central1 in Aura, europe-west1 in the spec"),
        "{message}"
    );
    assert!(message.contains("type is professional-db"), "{message}");
    assert_eq!(
        placement_mismatch(&spec, &instance(InstanceStatus::Running)),
        None
    );
    let status = AuraInstanceStatus::default();
    let d = decide(&obs(
        &spec,
        &status,
        AuraView::Found(&other),
        SecretView::default(),
    ));
    assert_eq!(
        d.status.stalled.as_ref().map(|s| s.0.as_str()),
        Some("InstanceMismatch")
    );
    assert_eq!(
        d.action,
        Action::None,
        "nothing is written for a mismatched instance"
    );
}

#[test]
fn what_aura_leaves_out_is_no_mismatch() {
    let spec = AuraInstanceSpec {
        tenant_id: Some("t-1".into()),
        ..spec()
    };
    let mut bare = instance(InstanceStatus::Running);
    bare.region = None;
    bare.cloud_provider = None;
    bare.instance_type = None;
    bare.tenant_id = None;
    assert_eq!(placement_mismatch(&spec, &bare), None);
    bare.cloud_provider = Some("GCP".into());
    assert_eq!(placement_mismatch(&spec, &bare), None);
}

#[test]
fn the_lost_create_search_skips_what_it_cannot_place() {
    let intent: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
    let mut nameless = summary("aaaa0001", "orders", "2026-11-27T10:00:05Z");
    nameless.name = None;
    let mut timeless = summary("aaaa0002", "orders", "2026-11-27T10:00:05Z");
    timeless.created_at = None;
    let good = summary("aaaa0003", "orders", "2026-11-27T10:00:07Z");
    let listed = [nameless, timeless, good];
    assert_eq!(
        LostCreate {
            name: "orders",
            intent,
            prior: &[],
            claimed: &[],
        }
        .find(&listed)
        .map(|i| i.id.as_str()),
        Some("aaaa0003")
    );
}

#[test]
fn a_catalogue_without_storage_lets_the_spec_through() {
    let mut tenant = tenant();
    for c in &mut tenant.instance_configurations {
        c.storage = None;
    }
    let spec = AuraInstanceSpec {
        storage: Some("64GB".into()),
        ..spec()
    };
    assert_eq!(check_offered(&spec, &tenant), Ok(AuraVersion::V5));
    let wrong = AuraInstanceSpec {
        memory: MemorySize::Gb2,
        ..spec
    };
    let message = check_offered(&wrong, &tenant).unwrap_err();
    assert!(message.contains("8GB, 16GB"), "{message}");
}

/// Catalogue versions at 8GB, at 16GB; the spec's version; the answer.
type VersionCase = (
    Vec<&'static str>,
    Vec<&'static str>,
    Option<AuraVersion>,
    Result<AuraVersion, &'static str>,
);

#[test]
fn a_spec_without_version_creates_the_newest_the_catalogue_offers_there() {
    let with_version = |c: InstanceConfiguration, v: &str| InstanceConfiguration {
        version: v.into(),
        ..c
    };
    let eight = || config("gcp", "europe-west1", "enterprise-db", "8GB", "16GB");
    let sixteen = || config("gcp", "europe-west1", "enterprise-db", "16GB", "32GB");
    let cases: Vec<VersionCase> = vec![
        (vec!["4", "5"], vec![], None, Ok(AuraVersion::V5)),
        (
            vec!["4", "5"],
            vec![],
            Some(AuraVersion::V4),
            Ok(AuraVersion::V4),
        ),
        // Only the configurations that fit the memory count.
        (vec!["4"], vec!["5"], None, Ok(AuraVersion::V4)),
        (
            vec!["4"],
            vec!["5"],
            Some(AuraVersion::V5),
            Err("offered memory/storage: 16GB/32GB"),
        ),
        // A version this build does not know is skipped; none known: the newest it knows.
        (vec!["6", "4"], vec![], None, Ok(AuraVersion::V4)),
        (vec!["2027.01"], vec![], None, Ok(AuraVersion::V5)),
        (
            vec![],
            vec!["5"],
            None,
            Err("offered memory/storage: 16GB/32GB"),
        ),
    ];
    for (at_eight, at_sixteen, version, expected) in cases {
        let mut tenant = tenant();
        tenant.instance_configurations = at_eight
            .iter()
            .map(|v| with_version(eight(), v))
            .chain(at_sixteen.iter().map(|v| with_version(sixteen(), v)))
            .collect();
        let spec = AuraInstanceSpec { version, ..spec() };
        let got = check_offered(&spec, &tenant);
        match expected {
            Ok(v) => assert_eq!(got, Ok(v), "{at_eight:?} {at_sixteen:?} {version:?}"),
            Err(part) => {
                let message = got.unwrap_err();
                assert!(message.contains(part), "{message}");
            }
        }
    }
    // What is chosen is what is sent.
    let body =
        serde_json::to_value(create_request(&spec(), AuraVersion::V4, "orders", "t-1")).unwrap();
    assert_eq!(body["version"], "4");
}

#[test]
fn the_lost_create_search_skips_prior_and_claimed_instances() {
    let intent: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
    let listed = [
        summary("aaaa0001", "orders", "2026-11-27T09:59:50Z"),
        summary("aaaa0002", "orders", "2026-11-27T10:00:01Z"),
        summary("aaaa0003", "orders", "2026-11-27T10:00:03Z"),
    ];
    let find = |prior: &[String], claimed: &[String]| {
        LostCreate {
            name: "orders",
            intent,
            prior,
            claimed,
        }
        .find(&listed)
        .map(|i| i.id.clone())
    };
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(find(&[], &[]).as_deref(), Some("aaaa0001"));
    assert_eq!(find(&ids(&["aaaa0001"]), &[]).as_deref(), Some("aaaa0002"));
    assert_eq!(
        find(&ids(&["aaaa0001"]), &ids(&["aaaa0002"])).as_deref(),
        Some("aaaa0003")
    );
    assert_eq!(
        find(&ids(&["aaaa0001"]), &ids(&["aaaa0002", "aaaa0003"])),
        None
    );
    assert_eq!(
        same_named(&listed[..2], "orders"),
        ids(&["aaaa0001", "aaaa0002"])
    );
    assert!(same_named(&listed, "other").is_empty());
}

#[test]
fn an_instance_held_elsewhere_is_never_touched() {
    let spec = AuraInstanceSpec {
        instance_id: Some("8f769515".into()),
        paused: true,
        memory: MemorySize::Gb16,
        ..spec()
    };
    let status = AuraInstanceStatus::default();
    let found = instance(InstanceStatus::Running);
    let mut o = obs(
        &spec,
        &status,
        AuraView::Found(&found),
        SecretView::default(),
    );
    o.claimed_elsewhere = true;
    let d = decide(&o);
    assert_eq!(d.action, Action::None);
    let (reason, message) = d.status.stalled.expect("stalled");
    assert_eq!(reason, "InstanceClaimed");
    assert!(!message.contains("namespace"), "{message}");
}

/// (policy, found by lost create, adopted by id, recreations, Aura status, secret, expected)
type RecoveryCase = (
    Option<PasswordRecovery>,
    bool,
    bool,
    i32,
    InstanceStatus,
    SecretView,
    &'static str,
);

fn assert_recovery(cases: Vec<RecoveryCase>) {
    for (policy, found, by_id, recreations, aura, secret, expected) in cases {
        let spec = AuraInstanceSpec {
            password_recovery: policy,
            instance_id: by_id.then(|| "8f769515".to_string()),
            ..spec()
        };
        let status = AuraInstanceStatus {
            instance_id: Some("8f769515".into()),
            lost_create_instance_id: found.then(|| "8f769515".to_string()),
            recreations: Some(recreations),
            ..Default::default()
        };
        let i = instance(aura.clone());
        let d = decide(&obs(&spec, &status, AuraView::Found(&i), secret));
        let got = match (&d.action, &d.status.stalled, &d.status.readiness) {
            (Action::Recreate { instance_id }, _, _) => {
                assert_eq!(instance_id, "8f769515");
                "recreate".to_string()
            }
            (Action::None, Some((r, _)), _) => format!("stall {r}"),
            (Action::None, None, Readiness::True) => "ready".into(),
            (Action::None, None, _) => "wait".into(),
            (other, _, _) => format!("{other:?}"),
        };
        assert_eq!(
            got, expected,
            "policy {policy:?} found {found} by id {by_id} recreations {recreations} {aura:?}"
        );
    }
}

#[test]
fn password_recovery_only_for_a_new_instance_found_by_its_own_lost_create() {
    use PasswordRecovery::*;
    let no_password = SecretView {
        up_to_date: true,
        has_password: false,
        not_owned: false,
        not_trusted: None,
    };
    let with_password = SecretView {
        up_to_date: true,
        has_password: true,
        not_owned: false,
        not_trusted: None,
    };
    let cases: Vec<RecoveryCase> = vec![
        (
            None,
            true,
            false,
            0,
            InstanceStatus::Running,
            no_password,
            "recreate",
        ),
        (
            Some(Recreate),
            true,
            false,
            2,
            InstanceStatus::Running,
            no_password,
            "recreate",
        ),
        (
            Some(Recreate),
            true,
            false,
            3,
            InstanceStatus::Running,
            no_password,
            "stall PasswordUnavailable",
        ),
        (
            Some(Manual),
            true,
            false,
            0,
            InstanceStatus::Running,
            no_password,
            "stall PasswordUnavailable",
        ),
        // not found by the search: an adoption or a created instance
        (
            None,
            false,
            false,
            0,
            InstanceStatus::Running,
            no_password,
            "stall PasswordUnavailable",
        ),
        (
            None,
            true,
            true,
            0,
            InstanceStatus::Running,
            no_password,
            "stall PasswordUnavailable",
        ),
        // a person wrote the password: Ready, nothing destroyed
        (
            None,
            true,
            false,
            0,
            InstanceStatus::Running,
            with_password,
            "ready",
        ),
        // Aura still creates it: wait
        (
            None,
            true,
            false,
            0,
            InstanceStatus::Creating,
            no_password,
            "wait",
        ),
    ];
    assert_recovery(cases);
}

#[test]
fn a_protected_instance_is_never_destroyed_to_recover_its_password() {
    let no_password = SecretView {
        up_to_date: true,
        has_password: false,
        not_owned: false,
        not_trusted: None,
    };
    let status = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        lost_create_instance_id: Some("8f769515".into()),
        recreations: Some(0),
        ..Default::default()
    };
    let i = instance(InstanceStatus::Running);
    // (deletionProtection, passwordRecovery, destroys)
    let cases = [
        (Some(true), None, false),
        (Some(true), Some(PasswordRecovery::Recreate), false),
        (Some(false), Some(PasswordRecovery::Recreate), true),
        (None, None, true),
    ];
    for (protected, recovery, destroys) in cases {
        let spec = AuraInstanceSpec {
            deletion_protection: protected,
            password_recovery: recovery,
            ..spec()
        };
        let d = decide(&obs(&spec, &status, AuraView::Found(&i), no_password));
        let what = format!("protected {protected:?} recovery {recovery:?}");
        assert_eq!(
            matches!(d.action, Action::Recreate { .. }),
            destroys,
            "{what}: {:?}",
            d.action
        );
        if !destroys {
            assert_eq!(d.action, Action::None, "{what}");
            let (reason, message) = d.status.stalled.expect("stalled");
            assert_eq!(reason, Reason::PasswordUnavailable, "{what}");
            assert!(message.contains("deletionProtection"), "{message}");
            assert!(message.contains("NEO4J_PASSWORD"), "{message}");
        }
    }
}

#[test]
fn a_recreate_waits_for_the_instance_to_go_then_starts_over() {
    let spec = spec();
    let status = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        recreating_instance_id: Some("8f769515".into()),
        recreations: Some(1),
        ..Default::default()
    };
    let destroying = instance(InstanceStatus::Destroying);
    let full = SecretView {
        up_to_date: true,
        has_password: false,
        not_owned: false,
        not_trusted: None,
    };
    let d = decide(&obs(&spec, &status, AuraView::Found(&destroying), full));
    assert_eq!(d.action, Action::None);
    assert_eq!(d.status.phase, Phase::Creating);
    assert_eq!(d.requeue, LookAgain::Poll);
    let d = decide(&obs(&spec, &status, AuraView::Gone, full));
    assert_eq!(
        d.action,
        Action::ForgetInstance {
            instance_id: "8f769515".into()
        }
    );
    // Gone without a re-create under way is somebody else's doing: stall.
    let plain = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        ..Default::default()
    };
    let d = decide(&obs(&spec, &plain, AuraView::Gone, full));
    assert_eq!(
        d.status.stalled.map(|s| s.0),
        Some(Reason::InstanceNotFound)
    );
}

#[test]
fn a_secret_of_somebody_else_stops_everything() {
    let spec = spec();
    let taken = SecretView {
        up_to_date: false,
        has_password: false,
        not_owned: true,
        not_trusted: None,
    };
    let tenant = tenant();
    let fresh = AuraInstanceStatus::default();
    let created = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        ..Default::default()
    };
    let running = instance(InstanceStatus::Running);
    let views = [
        (
            &fresh,
            AuraView::NotCreated {
                tenant: &tenant,
                listed: None,
                claimed: &[],
                adoptable: &[],
            },
        ),
        (&created, AuraView::Found(&running)),
    ];
    for (status, view) in views {
        let d = decide(&obs(&spec, status, view, taken));
        assert_eq!(d.action, Action::None, "no create, no write, no call");
        let (reason, message) = d.status.stalled.expect("stalled");
        assert_eq!(reason, "SecretNotOwned");
        assert!(message.contains("orders-connection"), "{message}");
    }
}

fn complete_secret() -> SecretView {
    SecretView {
        up_to_date: true,
        has_password: true,
        not_owned: false,
        not_trusted: None,
    }
}

fn observe_only() -> AuraInstanceSpec {
    AuraInstanceSpec {
        instance_id: Some("8f769515".into()),
        management_policy: Some(ManagementPolicy::ObserveOnly),
        deletion_policy: Some(crate::api::DeletionPolicy::Delete),
        ..spec()
    }
}

#[test]
fn observe_only_reports_every_difference_and_never_mutates() {
    let recorded = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        observed_generation: Some(1),
        ..Default::default()
    };
    let running = instance(InstanceStatus::Running);
    let paused = instance(InstanceStatus::Paused);
    let bigger = AuraInstanceSpec {
        memory: MemorySize::Gb16,
        name: Some("renamed".into()),
        secondaries_count: Some(2),
        cdc_enrichment_mode: Some(crate::api::CdcMode::Full),
        ..observe_only()
    };
    let wants_pause = AuraInstanceSpec {
        paused: true,
        ..observe_only()
    };
    let with_vdc_fields = Instance {
        secondaries_count: Some(1),
        cdc_enrichment_mode: Some("DIFF".into()),
        ..instance(InstanceStatus::Running)
    };
    let plain = observe_only();
    let cases: Vec<(&str, &AuraInstanceSpec, &Instance, Vec<&str>)> = vec![
        ("in sync", &plain, &running, vec![]),
        (
            "resized, renamed, replicas and CDC not reported",
            &bigger,
            &running,
            vec![
                "name: spec renamed, Aura orders",
                "memory: spec 16GB, Aura 8GB",
                "secondariesCount: spec 2, Aura not reported",
                "cdcEnrichmentMode: spec Full, Aura not reported",
            ],
        ),
        (
            "replicas and CDC reported",
            &bigger,
            &with_vdc_fields,
            vec![
                "name: spec renamed, Aura orders",
                "memory: spec 16GB, Aura 8GB",
                "secondariesCount: spec 2, Aura 1",
                "cdcEnrichmentMode: spec Full, Aura DIFF",
            ],
        ),
        (
            "paused in Aura",
            &plain,
            &paused,
            vec!["paused: spec false, Aura paused"],
        ),
        (
            "pause asked",
            &wants_pause,
            &running,
            vec!["paused: spec true, Aura running"],
        ),
    ];
    for (what, spec, inst, want) in cases {
        let name = spec.name.clone().unwrap_or_else(|| "orders".into());
        let o = Observation {
            aura_name: &name,
            compared: Compared::of(spec, &name, inst),
            ..obs(spec, &recorded, AuraView::Found(inst), complete_secret())
        };
        let d = decide(&o);
        assert_eq!(d.action.mutation(), None, "{what}: a mutating action");
        match &d.action {
            Action::Observe { drifted } => assert_eq!(drifted, &want, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
        // Nothing stalls because of drift: the object reports Aura as it is.
        assert!(d.status.stalled.is_none(), "{what}");
    }
    // Gone: reported like Full, nothing created.
    let d = decide(&obs(&plain, &recorded, AuraView::Gone, complete_secret()));
    assert_eq!(d.action, Action::None);
    assert_eq!(
        d.status.stalled.as_ref().unwrap().0,
        Reason::InstanceNotFound
    );
}

#[test]
fn dry_run_turns_every_mutating_action_into_a_report() {
    let recorded = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        observed_generation: Some(1),
        ..Default::default()
    };
    let running = instance(InstanceStatus::Running);
    let paused_spec = AuraInstanceSpec {
        paused: true,
        ..spec()
    };
    let resized = AuraInstanceSpec {
        memory: MemorySize::Gb16,
        ..spec()
    };
    let t = tenant();
    let none_status = AuraInstanceStatus::default();
    let cases: Vec<(&str, Observation<'_>, &str, &str)> = vec![
        (
            "create",
            obs(
                &resized,
                &none_status,
                AuraView::NotCreated {
                    tenant: &t,
                    listed: None,
                    claimed: &[],
                    adoptable: &[],
                },
                SecretView::default(),
            ),
            "create",
            "POST /instances {",
        ),
        (
            "resize",
            obs(
                &resized,
                &recorded,
                AuraView::Found(&running),
                complete_secret(),
            ),
            "update",
            r#"PATCH /instances/8f769515 {"memory":"16GB"}"#,
        ),
        (
            "pause",
            obs(
                &paused_spec,
                &recorded,
                AuraView::Found(&running),
                complete_secret(),
            ),
            "pause",
            "POST /instances/8f769515/pause",
        ),
    ];
    for (what, mut o, operation, says) in cases {
        let real = decide(&o);
        assert!(real.action.mutation().is_some(), "{what}: mutates for real");
        o.dry_run = true;
        let d = decide(&o);
        match &d.action {
            Action::DryRun {
                operation: op,
                what: text,
            } => {
                assert_eq!(*op, operation, "{what}");
                assert!(text.contains(says), "{what}: {text}");
                assert!(text.starts_with("would "), "{what}: {text}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(
            d.status.reconciling.as_ref().unwrap().0,
            Reason::DryRun,
            "{what}"
        );
        assert_eq!(d.requeue, LookAgain::Resync, "{what}");
    }
    // What Aura reports stays true in status: a running instance is still Ready.
    let mut o = obs(
        &resized,
        &recorded,
        AuraView::Found(&running),
        complete_secret(),
    );
    o.dry_run = true;
    assert_eq!(decide(&o).status.readiness, Readiness::True);
    // A resize that would take a snapshot first: reported at once, never
    // waiting for a snapshot a dry run would not take.
    let careful = AuraInstanceSpec {
        snapshots: Some(crate::api::SnapshotPolicy {
            before_changes: true,
            ..Default::default()
        }),
        ..resized.clone()
    };
    let mut o = obs(
        &careful,
        &recorded,
        AuraView::Found(&running),
        complete_secret(),
    );
    o.dry_run = true;
    match decide(&o).action {
        Action::DryRun { operation, what } => {
            assert_eq!(operation, "update");
            assert!(what.contains("snapshot first"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing to do: dry-run changes nothing.
    let unchanged = spec();
    let mut o = obs(
        &unchanged,
        &recorded,
        AuraView::Found(&running),
        complete_secret(),
    );
    o.dry_run = true;
    assert_eq!(decide(&o).action, Action::None);
}

#[test]
fn replicas_and_cdc_converge_after_the_create_and_count_as_drift_only_once_reached() {
    let vdc = |secondaries: Option<u64>, cdc: Option<&str>| Instance {
        secondaries_count: secondaries,
        cdc_enrichment_mode: cdc.map(str::to_string),
        ..instance(InstanceStatus::Running)
    };
    let wants = AuraInstanceSpec {
        secondaries_count: Some(2),
        cdc_enrichment_mode: Some(crate::api::CdcMode::Diff),
        ..spec()
    };
    let fresh = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        observed_generation: Some(1),
        secondaries_count: Some(0),
        cdc_enrichment_mode: Some("OFF".into()),
        ..Default::default()
    };
    let converged = AuraInstanceStatus {
        secondaries_count: Some(2),
        cdc_enrichment_mode: Some("DIFF".into()),
        ..fresh.clone()
    };
    // (what, status, Aura, expected PATCH secondaries, expected PATCH cdc, drift?)
    type Case<'a> = (
        &'a str,
        &'a AuraInstanceStatus,
        Instance,
        Option<u64>,
        Option<&'a str>,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            "just created",
            &fresh,
            vdc(Some(0), Some("OFF")),
            Some(2),
            Some("DIFF"),
            false,
        ),
        (
            "converged",
            &converged,
            vdc(Some(2), Some("DIFF")),
            None,
            None,
            false,
        ),
        (
            "changed in the console",
            &converged,
            vdc(Some(1), Some("FULL")),
            Some(1 + 1),
            Some("DIFF"),
            true,
        ),
        (
            "not reported: asked once",
            &fresh,
            vdc(None, None),
            Some(2),
            Some("DIFF"),
            false,
        ),
        (
            "an unknown CDC word is not drift",
            &converged,
            vdc(Some(2), Some("SOMETHING")),
            None,
            None,
            false,
        ),
    ];
    for (what, status, inst, secondaries, cdc, drift) in cases {
        let d = decide(&obs(
            &wants,
            status,
            AuraView::Found(&inst),
            complete_secret(),
        ));
        match (&d.action, secondaries.is_some() || cdc.is_some()) {
            (
                Action::Update {
                    request,
                    drift: note,
                    ..
                },
                true,
            ) => {
                assert_eq!(request.secondaries_count, secondaries, "{what}");
                assert_eq!(request.cdc_enrichment_mode.as_deref(), cdc, "{what}");
                assert_eq!(note.is_some(), drift, "{what}: {note:?}");
            }
            (Action::None, false) => {}
            (other, _) => panic!("{what}: {other:?}"),
        }
    }
    // The default asked of a type that does not report it starts no loop.
    let defaults = AuraInstanceSpec {
        secondaries_count: Some(0),
        cdc_enrichment_mode: Some(crate::api::CdcMode::Off),
        ..spec()
    };
    let d = decide(&obs(
        &defaults,
        &fresh,
        AuraView::Found(&vdc(None, None)),
        complete_secret(),
    ));
    assert_eq!(d.action, Action::None);
}

#[test]
fn the_customer_managed_key_goes_with_the_create() {
    let with_key = AuraInstanceSpec {
        customer_managed_key_id: Some("key-1".into()),
        ..spec()
    };
    let r = create_request(&with_key, AuraVersion::V5, "orders", "t-1");
    assert_eq!(r.customer_managed_key_id.as_deref(), Some("key-1"));
    let body = serde_json::to_value(&r).unwrap();
    assert_eq!(body["customer_managed_key_id"], "key-1");
    let without =
        serde_json::to_value(create_request(&spec(), AuraVersion::V5, "orders", "t-1")).unwrap();
    assert!(without.get("customer_managed_key_id").is_none());
}

#[test]
fn an_instance_an_aura_restore_runs_on_changes_nothing() {
    let recorded = AuraInstanceStatus {
        instance_id: Some("8f769515".into()),
        observed_generation: Some(1),
        ..Default::default()
    };
    let resized = AuraInstanceSpec {
        memory: MemorySize::Gb16,
        ..spec()
    };
    let paused = AuraInstanceSpec {
        paused: true,
        ..spec()
    };
    let running = instance(InstanceStatus::Running);
    let restoring = instance(InstanceStatus::Restoring);
    for (what, spec) in [("resize", &resized), ("pause", &paused), ("none", &spec())] {
        // Aura still reports running: the call was made, Aura has not said so yet.
        for inst in [&running, &restoring] {
            let o = Observation {
                restoring: Some("rollback"),
                ..obs(spec, &recorded, AuraView::Found(inst), complete_secret())
            };
            let d = decide(&o);
            assert_eq!(d.action, Action::None, "{what} {:?}", inst.status);
            assert_eq!(d.status.phase, Phase::Updating, "{what}");
            assert_eq!(
                d.status.reconciling.as_ref().map(|r| r.0),
                Some(Reason::Restoring),
                "{what}"
            );
            assert!(d.status.stalled.is_none(), "{what}");
            assert_eq!(d.requeue, LookAgain::Poll, "{what}");
        }
    }
    // Without a running restore the same spec is converged as usual.
    let d = decide(&obs(
        &resized,
        &recorded,
        AuraView::Found(&running),
        complete_secret(),
    ));
    assert!(matches!(d.action, Action::Update { .. }), "{:?}", d.action);
}

#[test]
fn an_instance_claimed_after_an_answer_whose_password_never_landed_is_recovered() {
    // A restart between the create's answer (the claim made) and the Secret:
    // the claim leads to the instance, the status has only the intent.
    let status = with_intent("2026-11-27T10:00:00Z");
    let running = instance(InstanceStatus::Running);
    let no_password = SecretView {
        up_to_date: true,
        has_password: false,
        not_owned: false,
        not_trusted: None,
    };
    let spec = spec();
    let d = decide(&obs(&spec, &status, AuraView::Found(&running), no_password));
    assert!(
        matches!(d.action, Action::Recreate { .. }),
        "{:?}",
        d.action
    );
    // With the password in the Secret, nothing is destroyed.
    let d = decide(&obs(
        &spec,
        &status,
        AuraView::Found(&running),
        complete_secret(),
    ));
    assert!(
        !matches!(d.action, Action::Recreate { .. }),
        "{:?}",
        d.action
    );
}

fn key_facts(ready: bool) -> crate::kinds::shared::views::KeyFacts {
    crate::kinds::shared::views::KeyFacts {
        id: ready.then(|| "k-1".to_string()),
        ready,
        deleting: false,
        cloud_provider: CloudProvider::Gcp,
        region: "europe-west1".into(),
        instance_type: InstanceType::EnterpriseDb,
    }
}

#[test]
fn the_key_gate_waits_for_a_ready_key_that_fits() {
    use crate::kinds::shared::views::KeyFacts;
    let s = spec();
    let aws = KeyFacts {
        cloud_provider: CloudProvider::Aws,
        ..key_facts(true)
    };
    let ds = KeyFacts {
        instance_type: InstanceType::EnterpriseDs,
        region: "us-east1".into(),
        ..key_facts(true)
    };
    let going = KeyFacts {
        deleting: true,
        ..key_facts(true)
    };
    let cases: [(Option<&KeyFacts>, &str); 6] = [
        (None, "waiting: does not exist"),
        (Some(&key_facts(false)), "waiting: to be Ready"),
        (Some(&going), "waiting: being deleted"),
        (Some(&key_facts(true)), "ready: k-1"),
        (Some(&aws), "mismatch: cloudProvider is aws"),
        (Some(&ds), "mismatch: region is us-east1"),
    ];
    for (facts, want) in cases {
        let got = match key_gate(&s, "orders-key", facts) {
            KeyGate::Ready(id) => format!("ready: {id}"),
            KeyGate::Waiting(m) => format!("waiting: {m}"),
            KeyGate::Mismatch(m) => format!("mismatch: {m}"),
        };
        let (kind, words) = want.split_once(": ").unwrap();
        assert!(
            got.starts_with(kind) && got.contains(words),
            "{got} (want {want})"
        );
    }
    let both = key_gate(&s, "orders-key", Some(&ds));
    let KeyGate::Mismatch(m) = both else { panic!() };
    assert!(m.contains("enterprise-ds"), "{m}");
}

#[test]
fn a_create_naming_a_key_waits_then_carries_its_id() {
    let s = AuraInstanceSpec {
        customer_managed_key_ref: Some(crate::api::LocalRef {
            name: "orders-key".into(),
        }),
        ..spec()
    };
    let fresh = AuraInstanceStatus::default();
    let waiting = KeyGate::Waiting("waiting for the key".into());
    let ready = KeyGate::Ready("k-1".into());
    let mismatch = KeyGate::Mismatch("wrong region".into());
    let cases = [
        (&waiting, Some(Reason::WaitingForKey), None),
        (&mismatch, Some(Reason::KeyMismatch), None),
        (&ready, None, Some("k-1")),
    ];
    let tenant = tenant();
    for (gate, reason, carried) in cases {
        let o = Observation {
            key: Some(gate),
            ..obs(
                &s,
                &fresh,
                AuraView::NotCreated {
                    tenant: &tenant,
                    listed: None,
                    claimed: &[],
                    adoptable: &[],
                },
                SecretView::default(),
            )
        };
        let d = decide(&o);
        match carried {
            Some(id) => {
                let Action::Create(r) = &d.action else {
                    panic!("{d:?}")
                };
                assert_eq!(r.customer_managed_key_id.as_deref(), Some(id));
            }
            None => {
                assert_eq!(d.action, Action::None, "{gate:?}");
                let said = d
                    .status
                    .stalled
                    .as_ref()
                    .or(d.status.reconciling.as_ref())
                    .map(|r| r.0);
                assert_eq!(said, reason, "{gate:?}");
            }
        }
    }
}

fn adoptable(id: &str, f: fn(&mut Instance)) -> Instance {
    let mut i = instance(InstanceStatus::Running);
    i.id = id.into();
    f(&mut i);
    i
}

#[test]
fn adoption_searches_by_name_type_and_place_among_unheld_instances() {
    let spec = AuraInstanceSpec {
        adoption: Some(Adoption::AdoptOrCreate),
        ..spec()
    };
    let same = adoptable("aaaa0001", |_| {});
    let twin = adoptable("aaaa0002", |_| {});
    let other_region = adoptable("aaaa0003", |i| i.region = Some("us-east1".into()));
    let other_type = adoptable("aaaa0004", |i| {
        i.instance_type = Some("professional-db".into())
    });
    let other_name = adoptable("aaaa0005", |i| i.name = Some("orders-2".into()));
    let going = adoptable("aaaa0006", |i| i.status = InstanceStatus::Destroying);
    let quiet = adoptable("aaaa0007", |i| {
        i.region = None;
        i.instance_type = None;
    });
    let other_tier = adoptable("aaaa0008", |i| {
        i.instance_type = Some("business-critical".into())
    });
    let tier_name = adoptable("aaaa0009", |i| {
        i.instance_type = Some("virtual-dedicated-cloud".into());
    });
    let held = ["aaaa0002".to_string()];
    // (what, candidates, claimed, found)
    let cases: Vec<(&str, Vec<&Instance>, &[String], AdoptionSearch)> = vec![
        ("nothing", vec![], &[], AdoptionSearch::Nothing),
        (
            "one",
            vec![&same],
            &[],
            AdoptionSearch::One("aaaa0001".into()),
        ),
        (
            "two",
            vec![&twin, &same],
            &[],
            AdoptionSearch::Many(vec!["aaaa0001".into(), "aaaa0002".into()]),
        ),
        (
            "two, one held here",
            vec![&twin, &same],
            &held,
            AdoptionSearch::One("aaaa0001".into()),
        ),
        (
            "elsewhere",
            vec![&other_region],
            &[],
            AdoptionSearch::Nothing,
        ),
        (
            "another type",
            vec![&other_type],
            &[],
            AdoptionSearch::Nothing,
        ),
        (
            "another name",
            vec![&other_name],
            &[],
            AdoptionSearch::Nothing,
        ),
        (
            "being destroyed",
            vec![&going],
            &[],
            AdoptionSearch::Nothing,
        ),
        // A field Aura leaves out is no difference (DESIGN 4.7).
        (
            "fields left out",
            vec![&quiet],
            &[],
            AdoptionSearch::One("aaaa0007".into()),
        ),
        (
            "another tier",
            vec![&other_tier],
            &[],
            AdoptionSearch::Nothing,
        ),
        // enterprise-db under its tier name is the same type.
        (
            "its tier name",
            vec![&tier_name],
            &[],
            AdoptionSearch::One("aaaa0009".into()),
        ),
    ];
    for (what, candidates, claimed, want) in cases {
        let candidates: Vec<Instance> = candidates.into_iter().cloned().collect();
        assert_eq!(
            adoption_search(&spec, "orders", &candidates, claimed),
            want,
            "{what}"
        );
    }
}

#[test]
fn adopt_or_create_adopts_one_stalls_on_several_and_creates_on_none() {
    let (tenant, fresh) = (tenant(), AuraInstanceStatus::default());
    let one = adoptable("aaaa0001", |_| {});
    let two = adoptable("aaaa0002", |_| {});
    let listed = [
        summary("aaaa0001", "orders", "2026-11-01T00:00:00Z"),
        summary("aaaa0002", "orders", "2026-11-02T00:00:00Z"),
    ];
    let taken = SecretView {
        not_owned: true,
        ..SecretView::default()
    };
    // (what, adoption, status, candidates, secret, outcome)
    type Row<'a> = (
        &'a str,
        Option<Adoption>,
        AuraInstanceStatus,
        Vec<Instance>,
        SecretView,
        &'a str,
    );
    let cases: Vec<Row> = vec![
        (
            "adopts the one",
            Some(Adoption::AdoptOrCreate),
            fresh.clone(),
            vec![one.clone()],
            SecretView::default(),
            "adopt aaaa0001",
        ),
        // A Secret restored before the instance is found does not block the adoption.
        (
            "a Secret already there",
            Some(Adoption::AdoptOrCreate),
            fresh.clone(),
            vec![one.clone()],
            taken,
            "adopt aaaa0001",
        ),
        (
            "several",
            Some(Adoption::AdoptOrCreate),
            fresh.clone(),
            vec![one.clone(), two.clone()],
            SecretView::default(),
            "stall AdoptionAmbiguous aaaa0001, aaaa0002",
        ),
        (
            "none",
            Some(Adoption::AdoptOrCreate),
            fresh.clone(),
            vec![],
            SecretView::default(),
            "create",
        ),
        (
            "CreateOnly never adopts",
            Some(Adoption::CreateOnly),
            fresh.clone(),
            vec![one.clone()],
            SecretView::default(),
            "create",
        ),
        (
            "the default never adopts",
            None,
            fresh.clone(),
            vec![one.clone()],
            SecretView::default(),
            "create",
        ),
        // After its own create, the lost-create search decides, not adoption.
        (
            "after its own create",
            Some(Adoption::AdoptOrCreate),
            with_intent("2026-11-27T10:04:00Z"),
            vec![one.clone()],
            SecretView::default(),
            "wait",
        ),
    ];
    for (what, adoption, status, candidates, secret, want) in cases {
        let spec = AuraInstanceSpec {
            adoption,
            deletion_policy: Some(crate::api::DeletionPolicy::Orphan),
            ..spec()
        };
        let d = decide(&obs(
            &spec,
            &status,
            AuraView::NotCreated {
                tenant: &tenant,
                listed: Some(&listed),
                claimed: &[],
                adoptable: &candidates,
            },
            secret,
        ));
        let got = match (&d.action, &d.status.stalled) {
            (Action::Adopt { instance_id, cause }, _) => {
                assert_eq!(*cause, AdoptCause::Rebuild, "{what}");
                format!("adopt {instance_id}")
            }
            (Action::Create(_), _) => "create".into(),
            (Action::None, Some((Reason::AdoptionAmbiguous, message))) => {
                let ids = message.split('(').nth(1).and_then(|m| m.split(')').next());
                format!("stall AdoptionAmbiguous {}", ids.unwrap_or(message))
            }
            (Action::None, _) => "wait".into(),
            (other, _) => format!("{other:?}"),
        };
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn an_instance_adopted_in_a_rebuild_is_never_destroyed_for_its_password() {
    let no_password = SecretView {
        up_to_date: true,
        ..SecretView::default()
    };
    let i = instance(InstanceStatus::Running);
    let spec = AuraInstanceSpec {
        adoption: Some(Adoption::AdoptOrCreate),
        password_recovery: Some(PasswordRecovery::Recreate),
        ..spec()
    };
    // Adopted, with what a lost create would leave too: still never re-created.
    let status = AuraInstanceStatus {
        instance_id: Some(i.id.clone()),
        adopted_at: Some("2026-12-06T06:00:00Z".into()),
        lost_create_instance_id: Some(i.id.clone()),
        ..Default::default()
    };
    let d = decide(&obs(&spec, &status, AuraView::Found(&i), no_password));
    assert_eq!(d.action, Action::None);
    let (reason, message) = d.status.stalled.expect("stalled");
    assert_eq!(reason, Reason::PasswordUnavailable);
    assert!(message.contains("Aura console"), "{message}");
    assert!(message.contains("NEO4J_PASSWORD"), "{message}");
    assert!(message.contains("AuraDatabaseUser"), "{message}");
    assert!(matches!(
        d.status.readiness,
        Readiness::False {
            reason: Reason::PasswordUnavailable,
            ..
        }
    ));
}

#[test]
fn a_secret_nobody_owns_that_is_not_trusted_stalls_and_says_why() {
    let i = instance(InstanceStatus::Running);
    let status = AuraInstanceStatus {
        instance_id: Some(i.id.clone()),
        ..Default::default()
    };
    let spec = spec();
    for why in [
        Distrust::OtherInstance,
        Distrust::LoginRefused,
        Distrust::Unverifiable,
        Distrust::ChecksOff,
    ] {
        let secret = SecretView {
            not_trusted: Some(why),
            ..SecretView::default()
        };
        let d = decide(&obs(&spec, &status, AuraView::Found(&i), secret));
        assert_eq!(d.action, Action::None, "{why:?}");
        let (reason, message) = d.status.stalled.expect("stalled");
        assert_eq!(reason, Reason::SecretNotTrusted, "{why:?}");
        assert!(message.contains(why.why()), "{message}");
    }
}

#[test]
fn an_adoption_waits_for_its_project_to_hold_its_finalizer() {
    let (tenant, status) = (tenant(), AuraInstanceStatus::default());
    let spec = AuraInstanceSpec {
        adoption: Some(Adoption::AdoptOrCreate),
        deletion_policy: Some(crate::api::DeletionPolicy::Orphan),
        ..spec()
    };
    let one = [adoptable("aaaa0001", |_| {})];
    let listed = [summary("aaaa0001", "orders", "2026-11-01T00:00:00Z")];
    let team = crate::api::ProjectId::namespaced("team-a", "team");
    for (not_held, adopts) in [(None, true), (Some(team), false)] {
        let o = Observation {
            project_not_held: not_held.clone(),
            ..obs(
                &spec,
                &status,
                AuraView::NotCreated {
                    tenant: &tenant,
                    listed: Some(&listed),
                    claimed: &[],
                    adoptable: &one,
                },
                SecretView::default(),
            )
        };
        let d = decide(&o);
        assert_eq!(
            matches!(d.action, Action::Adopt { .. }),
            adopts,
            "{not_held:?}"
        );
        if !adopts {
            assert_eq!(d.action, Action::None);
            let waits = d.status.reconciling.as_ref().map(|r| r.0);
            assert_eq!(waits, Some(Reason::WaitingForProject));
        }
    }
}
