//! Issue 17 end to end: connection Secret formats, extra keys from templates,
//! labels and annotations, and the CredentialsVerified condition against the
//! simulator's Query API (real control plane, simulator for Aura).

use crate::support;

use std::collections::BTreeSet;

use aura_operator::api::AuraInstance;
use aura_operator::simulator::ConsoleUpdate;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use support::eventually;
use support::harness::*;

fn keys(s: &Secret) -> BTreeSet<String> {
    s.data.iter().flatten().map(|(k, _)| k.clone()).collect()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn value(s: &Secret, key: &str) -> Option<String> {
    aura_operator::kinds::instance::secret::read_key(s, key)
}

fn verified(o: &AuraInstance) -> Option<(String, String, String)> {
    condition(o, "CredentialsVerified")
}

async fn secret(h: &Harness, name: &str) -> Secret {
    h.secrets()
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("Secret {name}: {e}"))
}

/// Waits until the Secret's keys are exactly `want`, returning it.
async fn wait_keys(h: &Harness, name: &str, want: &BTreeSet<String>) -> Secret {
    let api = h.secrets();
    eventually(&format!("Secret {name} with keys {want:?}"), WAIT, || {
        let api = api.clone();
        async move { api.get_opt(name).await.ok()?.filter(|s| &keys(s) == want) }
    })
    .await
}

async fn wait_verified(h: &Harness, name: &str, status: &str, reason: &str) -> AuraInstance {
    h.wait_for(
        name,
        &format!("CredentialsVerified={status} {reason}"),
        |o| verified(o).is_some_and(|c| c.0 == status && c.1 == reason),
    )
    .await
}

/// Nothing of `password` in the object's status and events, nor in the log.
async fn assert_nothing_leaks(h: &Harness, name: &str, password: &str) {
    let o = h.instances().get(name).await.expect("the object");
    let status = serde_json::to_string(&o.status).unwrap();
    assert!(!status.contains(password), "a password in status: {status}");
    for (_, reason, note) in h.events(name).await {
        assert!(!note.contains(password), "a password in event {reason}");
    }
    h.assert_log_clean(&h.operator_log());
}

async fn patch_secret(h: &Harness, name: &str, data: Value) {
    h.secrets()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "stringData": data })),
        )
        .await
        .expect("patch the connection Secret");
}

const AURA_KEYS: &[&str] = &[
    "NEO4J_URI",
    "NEO4J_USERNAME",
    "NEO4J_PASSWORD",
    "NEO4J_DATABASE",
    "AURA_INSTANCEID",
    "AURA_INSTANCENAME",
];
const SPRING_KEYS: &[&str] = &[
    "SPRING_NEO4J_URI",
    "SPRING_NEO4J_AUTHENTICATION_USERNAME",
    "SPRING_NEO4J_AUTHENTICATION_PASSWORD",
    "SPRING_DATA_NEO4J_DATABASE",
];
const BINDING_KEYS: &[&str] = &[
    "type", "provider", "uri", "host", "port", "username", "password", "database",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_format_has_its_keys_and_the_credentials_are_verified() {
    let mut h = Harness::start("formats", |_| {}).await;
    h.start_operator();
    h.create(manifest("plain", json!({}))).await;
    h.create(manifest(
        "spring",
        json!({"connectionSecret": {"format": "SpringBoot"}}),
    ))
    .await;
    h.create(manifest(
        "binding",
        json!({"connectionSecret": {"name": "orders-binding", "format": "ServiceBinding"}}),
    ))
    .await;

    let mut spring_keys = set(AURA_KEYS);
    spring_keys.extend(set(SPRING_KEYS));
    for (name, secret_name, want, type_) in [
        ("plain", "plain-connection", set(AURA_KEYS), "Opaque"),
        ("spring", "spring-connection", spring_keys, "Opaque"),
        (
            "binding",
            "orders-binding",
            set(BINDING_KEYS),
            "servicebinding.io/neo4j",
        ),
    ] {
        let o = wait_verified(&h, name, "True", "CredentialsAccepted").await;
        let id = instance_id(&o);
        let password = h.sim.state().issued_password(&id).expect("issued");
        let s = secret(&h, secret_name).await;
        assert_eq!(keys(&s), want, "{name}");
        assert_eq!(s.type_.as_deref(), Some(type_), "{name}");
        assert!(
            o.status.as_ref().unwrap().credentials_verified_at.is_some(),
            "{name}: credentialsVerifiedAt"
        );
        // Ready is not held back by the check, nor changed by it.
        assert_eq!(condition(&o, "Ready").unwrap().0, "True", "{name}");
        match name {
            "spring" => {
                assert_eq!(
                    value(&s, "SPRING_NEO4J_AUTHENTICATION_PASSWORD"),
                    Some(password.clone())
                );
                assert_eq!(
                    value(&s, "SPRING_NEO4J_URI"),
                    Some(format!("neo4j+s://{id}.databases.neo4j.io"))
                );
                assert_eq!(
                    value(&s, "SPRING_DATA_NEO4J_DATABASE").as_deref(),
                    Some("neo4j")
                );
            }
            "binding" => {
                for (k, v) in [
                    ("type", "neo4j".to_string()),
                    ("provider", "aura".into()),
                    ("port", "7687".into()),
                    ("host", format!("{id}.databases.neo4j.io")),
                    ("uri", format!("neo4j+s://{id}.databases.neo4j.io")),
                    ("username", "neo4j".into()),
                    ("password", password.clone()),
                    ("database", "neo4j".into()),
                ] {
                    assert_eq!(value(&s, k), Some(v), "binding key {k}");
                }
            }
            _ => assert_eq!(value(&s, "NEO4J_PASSWORD"), Some(password.clone())),
        }
        assert_nothing_leaks(&h, name, &password).await;
    }
    // The checks reached the Query API, and they are not Aura API calls.
    let counters = h.sim.state().counters();
    assert!(
        counters.query_api.get("202").copied().unwrap_or(0) >= 3,
        "{:?}",
        counters.query_api
    );
    assert!(
        counters.journal.iter().all(|l| !l.contains("query")),
        "Query API calls counted as Aura calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_keys_labels_and_annotations_are_written_and_templates_checked() {
    let mut h = Harness::start("extras", |_| {}).await;
    h.start_operator();
    let spec = json!({"connectionSecret": {
        "extraKeys": {
            "DATABASE_URL": "{{ uri }}",
            "DSN": "neo4j+s://{{ username }}:{{ password | urlencode }}@{{ host }}/{{ database }}",
            "WHO": "{{ instanceName }}/{{ instanceId }}",
        },
        "labels": {"team": "orders", "app.kubernetes.io/instance": "argo-app", "argocd.argoproj.io/instance": "x"},
        "annotations": {"reloader.stakater.com/match": "true", "argocd.argoproj.io/tracking-id": "x"},
    }});
    h.create(manifest("db", spec)).await;
    let o = h.wait_ready("db").await;
    let id = instance_id(&o);
    let password = h.sim.state().issued_password(&id).expect("issued");
    let mut want = set(AURA_KEYS);
    want.extend(set(&["DATABASE_URL", "DSN", "WHO"]));
    let s = wait_keys(&h, "db-connection", &want).await;
    let host = format!("{id}.databases.neo4j.io");
    assert_eq!(value(&s, "DATABASE_URL"), Some(format!("neo4j+s://{host}")));
    // Aura's passwords need no escaping, so the DSN holds it as it is.
    assert_eq!(
        value(&s, "DSN"),
        Some(format!("neo4j+s://neo4j:{password}@{host}/neo4j"))
    );
    assert_eq!(value(&s, "WHO"), Some(format!("db/{id}")));
    let labels = s.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("orders"));
    assert!(
        !labels.contains_key("app.kubernetes.io/instance"),
        "{labels:?}"
    );
    assert!(
        !labels.contains_key("argocd.argoproj.io/instance"),
        "{labels:?}"
    );
    let annotations = s.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("reloader.stakater.com/match")
            .map(String::as_str),
        Some("true")
    );
    assert!(
        !annotations.contains_key("argocd.argoproj.io/tracking-id"),
        "{annotations:?}"
    );

    // A template that does not render: Stalled with the error, the Secret as it was.
    h.edit(
        "db",
        json!({"connectionSecret": {"extraKeys": {"DATABASE_URL": "{{ url }}", "NEW": "{{ uri }}"}}}),
    )
    .await;
    let stalled = h
        .wait_for("db", "Stalled InvalidTemplate", |o| {
            stalled_reason(o).as_deref() == Some("InvalidTemplate")
        })
        .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("extraKeys.DATABASE_URL"), "{message}");
    assert!(message.contains("undefined"), "{message}");
    h.wait_event("db", "InvalidTemplate").await;
    let unchanged = secret(&h, "db-connection").await;
    assert_eq!(keys(&unchanged), want, "no partial Secret");
    assert_eq!(value(&unchanged, "NEO4J_PASSWORD"), Some(password.clone()));

    // Fixed: the new keys, the old extra keys gone, the password kept.
    h.edit(
        "db",
        json!({"connectionSecret": {"extraKeys": {"DATABASE_URL": null, "DSN": null, "WHO": null, "NEW": "{{ uri }}"}, "labels": {"team": null, "app.kubernetes.io/instance": null, "argocd.argoproj.io/instance": null}}}),
    )
    .await;
    let mut fixed = set(AURA_KEYS);
    fixed.insert("NEW".into());
    let s = wait_keys(&h, "db-connection", &fixed).await;
    assert_eq!(value(&s, "NEO4J_PASSWORD"), Some(password.clone()));
    assert!(
        !s.metadata
            .labels
            .clone()
            .unwrap_or_default()
            .contains_key("team"),
        "a label no longer in the spec stays"
    );
    h.wait_ready("db").await;

    // A bad template before any create: stalled, and nothing is created.
    h.create(manifest(
        "early",
        json!({"connectionSecret": {"extraKeys": {"X": "{{ password | nosuchfilter }}"}}}),
    ))
    .await;
    h.wait_for("early", "Stalled InvalidTemplate", |o| {
        stalled_reason(o).as_deref() == Some("InvalidTemplate")
    })
    .await;
    let posts = h
        .aura_writes()
        .into_iter()
        .filter(|l| l.starts_with("POST /v1/instances "))
        .count();
    assert_eq!(posts, 1, "only db was created: {:?}", h.aura_writes());
    assert_nothing_leaks(&h, "db", &password).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_refuses_extra_keys_that_replace_the_formats_own() {
    let h = Harness::start("extras-cel", |_| {}).await;
    for (spec, says) in [
        (
            json!({"connectionSecret": {"extraKeys": {"NEO4J_PASSWORD": "x"}}}),
            "cannot replace a key the format writes",
        ),
        (
            json!({"connectionSecret": {"format": "ServiceBinding", "extraKeys": {"password": "x"}}}),
            "cannot replace a key the format writes",
        ),
        (
            json!({"connectionSecret": {"extraKeys": {"bad key": "x"}}}),
            "valid Secret keys",
        ),
        (
            json!({"connectionSecret": {"format": "Yaml"}}),
            "Unsupported value",
        ),
    ] {
        // Sent as JSON, so that values the Rust type would refuse reach the apiserver.
        let api: kube::Api<kube::core::DynamicObject> = kube::Api::namespaced_with(
            h.client.clone(),
            &h.ns,
            &kube::discovery::ApiResource::erase::<AuraInstance>(&()),
        );
        let dynamic: kube::core::DynamicObject =
            serde_json::from_value(manifest("refused", spec.clone())).unwrap();
        let result = api
            .create(&PostParams::default(), &dynamic)
            .await
            .map(|_| ());
        let err = result.expect_err(&format!("{spec} must be refused"));
        assert!(err.to_string().contains(says), "{spec}: {err}");
    }
    // A key that only another format writes is fine.
    h.create(manifest(
        "allowed",
        json!({"connectionSecret": {"format": "ServiceBinding", "extraKeys": {"NEO4J_URI": "{{ uri }}"}}}),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_change_rewrites_the_secret_and_keeps_the_password() {
    let mut h = Harness::start("format-change", |_| {}).await;
    h.start_operator();
    h.create(manifest(
        "db",
        json!({"connectionSecret": {"extraKeys": {"DATABASE_URL": "{{ uri }}"}}}),
    ))
    .await;
    let id = instance_id(&h.wait_ready("db").await);
    let password = h.sim.state().issued_password(&id).expect("issued");
    let mut spring = set(AURA_KEYS);
    spring.extend(set(SPRING_KEYS));
    let mut binding = set(BINDING_KEYS);
    binding.insert("DATABASE_URL".into());
    let mut aura = set(AURA_KEYS);
    aura.insert("DATABASE_URL".into());
    let steps = [
        (
            "SpringBoot",
            json!(null),
            spring,
            "Opaque",
            "NEO4J_PASSWORD",
        ),
        (
            "ServiceBinding",
            json!({"DATABASE_URL": "{{ uri }}"}),
            binding,
            "servicebinding.io/neo4j",
            "password",
        ),
        (
            "Aura",
            json!({"DATABASE_URL": "{{ uri }}"}),
            aura,
            "Opaque",
            "NEO4J_PASSWORD",
        ),
    ];
    let mut uid = secret(&h, "db-connection").await.metadata.uid;
    let mut type_before = "Opaque";
    for (format, extra, want, type_, password_key) in steps {
        let mut spec = json!({"connectionSecret": {"format": format}});
        spec["connectionSecret"]["extraKeys"] = if extra.is_null() {
            json!({"DATABASE_URL": null})
        } else {
            extra
        };
        h.edit("db", spec).await;
        let s = wait_keys(&h, "db-connection", &want).await;
        assert_eq!(s.type_.as_deref(), Some(type_), "{format}");
        assert_eq!(value(&s, password_key), Some(password.clone()), "{format}");
        // A Secret's type cannot change: only then is the Secret replaced.
        assert_eq!(
            s.metadata.uid != uid,
            type_ != type_before,
            "{format}: replaced exactly when the type changes"
        );
        (uid, type_before) = (s.metadata.uid.clone(), type_);
        let o = wait_verified(&h, "db", "True", "CredentialsAccepted").await;
        assert_eq!(condition(&o, "Ready").unwrap().0, "True", "{format}");
    }
    // The password's keeper during the type change is gone.
    eventually("the format-change backup Secret is gone", WAIT, || async {
        h.secrets()
            .get_opt("db-connection.format-change")
            .await
            .ok()
            .flatten()
            .is_none()
            .then_some(())
    })
    .await;
    let replaced = h.wait_event("db", "SecretReplaced").await;
    assert!(replaced.contains("Secret type"), "{replaced}");
    assert_nothing_leaks(&h, "db", &password).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_verified_follows_what_the_secret_holds() {
    let mut h = Harness::start("verify", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let o = wait_verified(&h, "db", "True", "CredentialsAccepted").await;
    let id = instance_id(&o);
    let password = h.sim.state().issued_password(&id).expect("issued");

    patch_secret(
        &h,
        "db-connection",
        json!({"NEO4J_PASSWORD": "not-the-password"}),
    )
    .await;
    let refused = wait_verified(&h, "db", "False", "AuthenticationFailed").await;
    assert_eq!(
        condition(&refused, "Ready").unwrap().0,
        "True",
        "a refused login does not change Ready"
    );
    let note = h.wait_event("db", "CredentialsRejected").await;
    assert!(note.contains("db-connection"), "{note}");
    assert!(!note.contains("not-the-password"), "{note}");
    // The operator never writes over a password a person put there.
    assert_eq!(
        h.secret_value("db-connection", "NEO4J_PASSWORD").await,
        Some("not-the-password".into())
    );

    patch_secret(&h, "db-connection", json!({"NEO4J_PASSWORD": password})).await;
    wait_verified(&h, "db", "True", "CredentialsAccepted").await;

    // A password changed in the database (as ALTER USER would) shows at the next check.
    h.sim
        .state()
        .console_update(
            &id,
            &ConsoleUpdate {
                password: Some("changed-in-cypher".into()),
                ..Default::default()
            },
        )
        .unwrap();
    h.operator.take().unwrap().kill().await;
    h.start_operator();
    wait_verified(&h, "db", "False", "AuthenticationFailed").await;
    assert_nothing_leaks(&h, "db", &password).await;
    assert!(!h.operator_log().contains("not-the-password"));
    assert!(!h.operator_log().contains("changed-in-cypher"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_instance_with_a_mistyped_password_is_caught() {
    let mut h = Harness::start("verify-adopt", |_| {}).await;
    let existing = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "legacy"))
        .expect("console create");
    let id = existing.instance.id.clone();
    h.start_operator();
    h.create(manifest(
        "legacy",
        json!({"instanceId": id, "deletionPolicy": "Orphan"}),
    ))
    .await;
    h.wait_for("legacy", "PasswordUnavailable", |o| {
        stalled_reason(o).as_deref() == Some("PasswordUnavailable")
    })
    .await;
    patch_secret(
        &h,
        "legacy-connection",
        json!({"NEO4J_PASSWORD": "mistyped"}),
    )
    .await;
    let o = wait_verified(&h, "legacy", "False", "AuthenticationFailed").await;
    assert_eq!(condition(&o, "Ready").unwrap().0, "True");
    patch_secret(
        &h,
        "legacy-connection",
        json!({"NEO4J_PASSWORD": existing.password}),
    )
    .await;
    wait_verified(&h, "legacy", "True", "CredentialsAccepted").await;
    assert_nothing_leaks(&h, "legacy", &existing.password).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_check_when_turned_off() {
    let mut h = Harness::start("verify-off", |_| {}).await;
    h.start_operator();
    h.create(manifest("off", json!({"verifyCredentials": false})))
        .await;
    let o = h.wait_ready("off").await;
    assert_eq!(verified(&o), None);
    assert_eq!(h.sim.state().counters().query_api.values().sum::<u64>(), 0);

    // Turned on: checked; turned off again: the condition goes.
    h.edit("off", json!({"verifyCredentials": true})).await;
    wait_verified(&h, "off", "True", "CredentialsAccepted").await;
    h.edit("off", json!({"verifyCredentials": false})).await;
    h.wait_for("off", "no CredentialsVerified", |o| verified(o).is_none())
        .await;

    // The operator flag turns it off for every object.
    h.operator.take().unwrap().kill().await;
    h.sim.state().reset_counters();
    h.start_operator_with(&["--verify-credentials=false"]);
    h.create(manifest("flagged", json!({}))).await;
    let o = h.wait_ready("flagged").await;
    assert_eq!(verified(&o), None);
    assert_eq!(h.sim.state().counters().query_api.values().sum::<u64>(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_cut_short_finds_the_password_in_its_backup() {
    let mut h = Harness::start("format-crash", |_| {}).await;
    h.start_operator();
    h.create(manifest("db", json!({}))).await;
    let id = instance_id(&h.wait_ready("db").await);
    let password = h.sim.state().issued_password(&id).expect("issued");
    h.operator.take().unwrap().kill().await;

    // Where a replacement stops between deleting the old Secret and writing
    // the new one: only the backup holds the password.
    let old = secret(&h, "db-connection").await;
    let mut backup = old.clone();
    backup.metadata = kube::api::ObjectMeta {
        name: Some("db-connection.format-change".into()),
        labels: old.metadata.labels.clone(),
        annotations: old.metadata.annotations.clone(),
        owner_references: old.metadata.owner_references.clone(),
        ..Default::default()
    };
    h.secrets()
        .create(&PostParams::default(), &backup)
        .await
        .expect("the backup");
    h.secrets()
        .delete("db-connection", &Default::default())
        .await
        .expect("delete the Secret");
    h.edit(
        "db",
        json!({"connectionSecret": {"format": "ServiceBinding"}}),
    )
    .await;

    h.start_operator();
    let s = wait_keys(&h, "db-connection", &set(BINDING_KEYS)).await;
    assert_eq!(value(&s, "password"), Some(password.clone()));
    assert_eq!(s.type_.as_deref(), Some("servicebinding.io/neo4j"));
    eventually("the backup is deleted", WAIT, || async {
        h.secrets()
            .get_opt("db-connection.format-change")
            .await
            .ok()
            .flatten()
            .is_none()
            .then_some(())
    })
    .await;
    wait_verified(&h, "db", "True", "CredentialsAccepted").await;
    assert_nothing_leaks(&h, "db", &password).await;
}
