//! The operator end to end: a real control plane (tests/testenv), the Aura
//! simulator in-process, and `aura-operator run` as a child process per test,
//! watching only that test's namespace.

use crate::support;

use std::time::Duration;

use aura_operator::api::{AuraInstance, FINALIZER};
use aura_operator::simulator::Faults;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use support::eventually;
use support::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_from_the_aura_docs_gets_ready_with_its_password() {
    let mut h = Harness::start("walkthrough", |_| {}).await;
    h.start_operator();
    h.create(manifest("instance01", json!({}))).await;

    let obj = h.wait_ready("instance01").await;
    let status = obj.status.clone().unwrap();
    assert_eq!(
        status.observed_generation, obj.metadata.generation,
        "observedGeneration"
    );
    assert_eq!(status.phase, Some(aura_operator::api::Phase::Running));
    assert_eq!(status.aura_status.as_deref(), Some("running"));
    assert_eq!(status.tenant_id.as_deref(), Some(TENANT_B));
    assert!(obj.finalizers().iter().any(|f| f == FINALIZER));
    let id = status.instance_id.clone().expect("instanceId");
    assert_eq!(
        status.connection_url.as_deref(),
        Some(format!("neo4j+s://{id}.databases.neo4j.io").as_str())
    );

    let instances = h.sim.state().instances();
    assert_eq!(
        instances.len(),
        1,
        "exactly one instance in Aura: {instances:?}"
    );
    assert_eq!(instances[0].instance.tenant_id.as_deref(), Some(TENANT_B));
    assert_eq!(instances[0].instance.name.as_deref(), Some("instance01"));

    let secret = h
        .secrets()
        .get("instance01-connection")
        .await
        .expect("the connection Secret");
    let value = |k: &str| aura_operator::kinds::instance::secret::read_key(&secret, k);
    assert_eq!(
        value("NEO4J_URI"),
        Some(format!("neo4j+s://{id}.databases.neo4j.io"))
    );
    assert_eq!(
        value("NEO4J_PASSWORD"),
        h.sim.state().issued_password(&id),
        "the password Aura issued"
    );
    assert_eq!(value("NEO4J_USERNAME").as_deref(), Some("neo4j"));
    assert_eq!(value("NEO4J_DATABASE").as_deref(), Some("neo4j"));
    assert_eq!(value("AURA_INSTANCEID"), Some(id.clone()));
    assert_eq!(value("AURA_INSTANCENAME").as_deref(), Some("instance01"));
    let labels = secret.labels();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("aura-operator")
    );
    assert!(
        !labels.contains_key("team"),
        "labels of the AuraInstance must not be copied: {labels:?}"
    );
    let owner = &secret.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("AuraInstance", "instance01", Some(true))
    );

    // A running, unchanged instance is left alone: no further create, no status churn.
    let rv = obj.resource_version();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.instances()
            .get("instance01")
            .await
            .unwrap()
            .resource_version(),
        rv,
        "status rewritten without a change"
    );
    assert_eq!(h.sim.state().counters().creates_committed, 1);
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policies_delete_or_keep_instance_and_secret() {
    let mut h = Harness::start("deletion", |_| {}).await;
    h.start_operator();
    h.create(manifest("doomed", json!({"deletionPolicy": "Delete"})))
        .await;
    h.create(manifest("kept", json!({"deletionPolicy": "Orphan"})))
        .await;
    let doomed = h.wait_ready("doomed").await;
    let kept = h.wait_ready("kept").await;
    let doomed_id = doomed.status.unwrap().instance_id.unwrap();
    let kept_id = kept.status.unwrap().instance_id.unwrap();

    h.instances()
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("doomed").await;
    assert!(
        h.sim.state().instance(&doomed_id).is_none(),
        "Delete must destroy the Aura instance"
    );
    assert!(
        h.secrets()
            .get_opt("doomed-connection")
            .await
            .unwrap()
            .is_none(),
        "Delete must remove the Secret"
    );

    h.instances()
        .delete("kept", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone("kept").await;
    assert!(
        h.sim.state().instance(&kept_id).is_some(),
        "Orphan must keep the Aura instance"
    );
    let secret = h
        .secrets()
        .get("kept-connection")
        .await
        .expect("Orphan keeps the Secret");
    assert!(
        secret.owner_references().is_empty(),
        "the orphaned Secret must lose its owner reference"
    );
    assert_eq!(
        aura_operator::kinds::instance::secret::read_key(&secret, "NEO4J_PASSWORD"),
        h.sim.state().issued_password(&kept_id)
    );
    // The garbage collector must not take it either.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        h.secrets()
            .get_opt("kept-connection")
            .await
            .unwrap()
            .is_some()
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_manifests_are_rejected_at_admission() {
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    let ns = support::test_namespace(&client, "admission").await;
    let api: Api<AuraInstance> = Api::namespaced(client.clone(), &ns);
    let long_name = "a".repeat(31);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "memory not a size",
            manifest("m1", json!({"memory": "3GB"})),
            "spec.memory",
        ),
        (
            "unknown type",
            manifest("m2", json!({"type": "enterprise"})),
            "spec.type",
        ),
        (
            "unknown provider",
            manifest("m3", json!({"cloudProvider": "ibm"})),
            "spec.cloudProvider",
        ),
        (
            "unknown version",
            manifest("m4", json!({"version": "6"})),
            "spec.version",
        ),
        (
            "31-character spec.name",
            manifest("m5", json!({"name": long_name})),
            "spec.name",
        ),
        (
            "empty spec.name",
            manifest("m6", json!({"name": ""})),
            "spec.name",
        ),
        (
            "long metadata.name without spec.name",
            manifest(&"b".repeat(31), json!({})),
            "set spec.name",
        ),
        (
            "deletionPolicy",
            manifest("m8", json!({"deletionPolicy": "Keep"})),
            "spec.deletionPolicy",
        ),
        (
            "connection Secret name",
            manifest("m9", json!({"connectionSecret": {"name": "Bad_Name"}})),
            "spec.connectionSecret.name",
        ),
        (
            "credentials Secret name",
            manifest("m10", json!({"credentialsSecretRef": {"name": "UPPER"}})),
            "spec.credentialsSecretRef.name",
        ),
        (
            "missing region",
            manifest("m11", json!({"region": null})),
            "spec.region",
        ),
        (
            "missing memory",
            manifest("m12", json!({"memory": null})),
            "spec.memory",
        ),
        (
            "storage not a size",
            manifest("m13", json!({"storage": "16 GB"})),
            "spec.storage",
        ),
        (
            "paused not a bool",
            manifest("m14", json!({"paused": "yes"})),
            "spec.paused",
        ),
    ];
    for (what, body, expected) in &cases {
        let obj: Result<AuraInstance, _> = serde_json::from_value(body.clone());
        let err = match obj {
            // Some bad values do not even fit the Rust type: send them raw.
            Err(_) => raw_create(&client, &ns, body).await,
            Ok(obj) => api
                .create(&PostParams::default(), &obj)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        let message = err.expect_err(&format!("{what}: must be rejected"));
        assert!(
            message.contains(expected),
            "{what}: message {message:?} should mention {expected:?}"
        );
        assert!(
            message.contains("422") || message.contains("Invalid") || message.contains("invalid"),
            "{what}: {message}"
        );
    }
    assert!(cases.len() >= 12);

    // Immutable fields, on an existing object.
    api.create(
        &PostParams::default(),
        &serde_json::from_value(manifest("existing", json!({}))).unwrap(),
    )
    .await
    .unwrap();
    let changes: Vec<(&str, Value, &str)> = vec![
        (
            "region",
            json!({"spec": {"region": "us-central1"}}),
            "region is immutable",
        ),
        (
            "cloudProvider",
            json!({"spec": {"cloudProvider": "aws"}}),
            "cloudProvider is immutable",
        ),
        (
            "type",
            json!({"spec": {"type": "professional-db"}}),
            "type is immutable",
        ),
        (
            "version",
            json!({"spec": {"version": "4"}}),
            "version is immutable",
        ),
        (
            "tenantId",
            json!({"spec": {"tenantId": TENANT_A}}),
            "tenantId is immutable once set",
        ),
        (
            "tenantId removed",
            json!({"spec": {"tenantId": null}}),
            "tenantId is immutable once set",
        ),
    ];
    for (what, patch, expected) in changes {
        let err = api
            .patch("existing", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect_err(&format!("changing {what} must be rejected"));
        assert!(err.to_string().contains(expected), "{what}: {err}");
    }
    // Mutable fields stay editable.
    api.patch(
        "existing",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"memory": "16GB", "paused": true, "deletionPolicy": "Orphan"}}),
        ),
    )
    .await
    .expect("memory, paused and deletionPolicy are mutable");
    // Nobody runs an operator here: drop the object without waiting for a finalizer.
    api.delete("existing", &DeleteParams::default())
        .await
        .unwrap();
}

async fn raw_create(client: &Client, ns: &str, body: &Value) -> Result<(), String> {
    let ar = kube::core::ApiResource::erase::<AuraInstance>(&());
    let api: Api<kube::core::DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let obj: kube::core::DynamicObject =
        serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
    api.create(&PostParams::default(), &obj)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_only_aura_can_judge_stall_without_creating_or_looping() {
    let mut h = Harness::start("stalls", |_| {}).await;
    h.put_credentials("wrong-api", CLIENT_ID, "not-the-secret")
        .await;
    h.start_operator();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "region",
            json!({"region": "asia-east9"}),
            "ConfigurationNotOffered",
            "only in:",
        ),
        (
            "size",
            json!({"memory": "512GB", "type": "professional-db", "region": "europe-west1"}),
            "ConfigurationNotOffered",
            "offered memory/storage",
        ),
        (
            "tenant",
            json!({"tenantId": "00000000-0000-0000-0000-000000000000"}),
            "TenantNotFound",
            "tenant",
        ),
        (
            "ambiguous",
            json!({"tenantId": null}),
            "TenantAmbiguous",
            TENANT_A,
        ),
        (
            "badcreds",
            json!({"credentialsSecretRef": {"name": "wrong-api"}}),
            "AuthenticationFailed",
            "401",
        ),
        (
            "nocreds",
            json!({"credentialsSecretRef": {"name": "missing-api"}}),
            "CredentialsNotFound",
            "missing-api",
        ),
    ];
    for (name, spec, _, _) in &cases {
        h.create(manifest(name, spec.clone())).await;
    }
    for (name, _, reason, fragment) in &cases {
        let obj = h
            .wait_for(name, &format!("Stalled with {reason}"), |o| {
                condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == *reason)
            })
            .await;
        let (ready, ready_reason, _) = condition(&obj, "Ready").unwrap();
        assert_eq!(
            (ready.as_str(), ready_reason.as_str()),
            ("False", *reason),
            "{name}"
        );
        let message = condition(&obj, "Stalled").unwrap().2;
        assert!(
            message.contains(fragment),
            "{name}: {message:?} should contain {fragment:?}"
        );
        assert_eq!(
            obj.status.as_ref().unwrap().phase,
            Some(aura_operator::api::Phase::Failed),
            "{name}"
        );
    }
    assert!(
        h.sim.state().instances().is_empty(),
        "no instance may be created"
    );

    // No hot loop: over several poll intervals the stalled objects cost (almost) nothing.
    let before = h.sim.state().counters();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = h.sim.state().counters();
    let api_calls = after.requests_total - before.requests_total;
    assert!(
        api_calls <= 2,
        "stalled objects kept calling Aura: {api_calls} calls in 6 s"
    );
    assert!(
        after.token_calls <= 3,
        "token endpoint hammered: {} calls",
        after.token_calls
    );

    // The missing credentials appear: that object recovers by itself, at once.
    h.put_credentials("missing-api", CLIENT_ID, CLIENT_SECRET)
        .await;
    h.wait_ready("nocreds").await;
    assert_eq!(h.sim.state().instances().len(), 1);
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_lost_makes_exactly_one_instance() {
    for mode in ["error", "drop"] {
        let mut h = Harness::start(&format!("lost-{mode}"), |c| {
            c.faults = Faults {
                fail_creates: 1,
                fail_create_mode: serde_json::from_value(json!(mode)).unwrap(),
                ..Faults::default()
            };
        })
        .await;
        h.start_operator();
        // Manual: the instance is kept and the object says so (Recreate, the
        // default, is tested in tests/e2e/lost_create.rs).
        h.create(manifest("lost", json!({"passwordRecovery": "Manual"})))
            .await;
        let obj = h
            .wait_for("lost", "running without the lost password", |o| {
                condition(o, "Ready").is_some_and(|c| c.1 == "PasswordUnavailable")
            })
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await; // longer than the create grace
        let instances = h.sim.state().instances();
        assert_eq!(
            instances.len(),
            1,
            "{mode}: exactly one instance: {instances:?}"
        );
        assert_eq!(
            obj.status.unwrap().instance_id.as_deref(),
            Some(instances[0].instance.id.as_str())
        );
        assert_eq!(h.sim.state().counters().creates_committed, 1, "{mode}");
        assert_eq!(
            h.secret_value("lost-connection", "NEO4J_PASSWORD").await,
            None,
            "{mode}: no password is invented"
        );
        assert_eq!(
            h.secret_value("lost-connection", "AURA_INSTANCEID").await,
            Some(instances[0].instance.id.clone())
        );
        h.assert_log_clean(&h.operator_log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_killed_during_create_makes_exactly_one_instance() {
    // (1) Killed while the create is in flight: the 202 never arrives.
    let mut h = Harness::start("killed", |c| c.faults.latency_ms = 1500).await;
    h.start_operator();
    h.create(manifest("inflight", json!({"passwordRecovery": "Manual"})))
        .await;
    let state = h.sim.state();
    eventually("the create to reach Aura", WAIT, || {
        let state = state.clone();
        async move {
            (state
                .counters()
                .by_route
                .get("POST /v1/instances")
                .copied()
                .unwrap_or(0)
                >= 1)
                .then_some(())
        }
    })
    .await;
    let first_log = h.operator.take().unwrap().kill().await;
    h.sim.state().set_faults(Faults::default());
    h.start_operator();
    let obj = h
        .wait_for("inflight", "running", |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.aura_status.as_deref() == Some("running"))
        })
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let instances = h.sim.state().instances();
    assert_eq!(
        instances.len(),
        1,
        "exactly one instance after the restart: {instances:?}"
    );
    let id = instances[0].instance.id.clone();
    assert_eq!(
        obj.status.as_ref().unwrap().instance_id.as_deref(),
        Some(id.as_str())
    );
    // Whenever a password reached the Secret it is the one Aura issued; otherwise the object says so.
    match h
        .secret_value("inflight-connection", "NEO4J_PASSWORD")
        .await
    {
        Some(p) => assert_eq!(Some(p), h.sim.state().issued_password(&id)),
        None => assert_eq!(condition(&obj, "Ready").unwrap().1, "PasswordUnavailable"),
    }
    h.assert_log_clean(&(first_log + &h.operator_log()));

    // (2) Killed right after the 202 was handled: the password is in the Secret
    //     and survives the restart.
    h.create(manifest("answered", json!({}))).await;
    let secrets = h.secrets();
    eventually("the password to reach the Secret", WAIT, || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get_opt("answered-connection").await.ok()??;
            aura_operator::kinds::instance::secret::read_key(&s, "NEO4J_PASSWORD")
        }
    })
    .await;
    let log = h.operator.take().unwrap().kill().await;
    h.start_operator();
    let obj = h.wait_ready("answered").await;
    let id = obj.status.unwrap().instance_id.unwrap();
    assert_eq!(
        h.secret_value("answered-connection", "NEO4J_PASSWORD")
            .await,
        h.sim.state().issued_password(&id)
    );
    assert_eq!(
        h.sim.state().instances().len(),
        2,
        "one instance per object"
    );
    h.assert_log_clean(&(log + &h.operator_log()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_5xx_and_429_converges_without_duplicates_or_overrun() {
    let mut h = Harness::start("storm", |c| {
        c.faults = Faults {
            error_rate: 0.3,
            rate_limit_rate: 0.3,
            rate_limit_retry_after: 1,
            ..Faults::default()
        };
    })
    .await;
    h.start_operator();
    for name in ["storm-a", "storm-b", "storm-c"] {
        h.create(manifest(name, json!({}))).await;
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = h.sim.state().counters();
    assert!(
        during.injected_errors + during.injected_rate_limits > 0,
        "the storm did not happen"
    );
    h.sim.state().set_faults(Faults::default());
    for name in ["storm-a", "storm-b", "storm-c"] {
        h.wait_for(name, "running", |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.aura_status.as_deref() == Some("running"))
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let instances = h.sim.state().instances();
    assert_eq!(instances.len(), 3, "one instance per object: {instances:?}");
    let after = h.sim.state().counters();
    assert_eq!(
        after.rate_limited_requests, 0,
        "the operator exceeded the API's rate limit"
    );
    assert_eq!(
        after.rate_limited_tokens, 0,
        "the operator exceeded the token limit"
    );
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_connection_secret_comes_back_and_a_restored_password_is_kept() {
    let mut h = Harness::start("secret", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let obj = h.wait_ready("db").await;
    let id = obj.status.unwrap().instance_id.unwrap();
    let password = h.sim.state().issued_password(&id).unwrap();

    h.secrets()
        .delete("db-connection", &DeleteParams::default())
        .await
        .unwrap();
    let obj = h
        .wait_for("db", "PasswordUnavailable", |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "False" && c.1 == "PasswordUnavailable")
        })
        .await;
    assert!(
        condition(&obj, "Ready")
            .unwrap()
            .2
            .contains("NEO4J_PASSWORD")
    );
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_URI").await,
        Some(format!("neo4j+s://{id}.databases.neo4j.io"))
    );
    assert_eq!(
        h.secret_value("db-connection", "AURA_INSTANCEID").await,
        Some(id.clone())
    );
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        None
    );
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(h.client.clone(), &h.ns);
    eventually("a PasswordUnavailable warning event", WAIT, || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| {
                    e.type_.as_deref() == Some("Warning")
                        && e.reason.as_deref() == Some("PasswordUnavailable")
                })
                .then_some(())
        }
    })
    .await;

    // A person writes the password back: it is kept and the object is Ready again.
    h.secrets()
        .patch(
            "db-connection",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"NEO4J_PASSWORD": password}})),
        )
        .await
        .unwrap();
    h.wait_ready("db").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        Some(password)
    );
    assert_eq!(h.sim.state().instances().len(), 1);
    h.assert_log_clean(&h.operator_log());
}
