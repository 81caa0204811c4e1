//! Per-object memory is empty once objects are gone, by every path, and after
//! a credentials rotation only the new client id is remembered.

use std::sync::Arc;

use clap::Parser;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;
use serde_json::json;

use super::*;
use crate::api::ClusterAuraProject;
use crate::aura::{AuraClients, ClientConfig, Credentials};
use crate::reconciler::driver::follow;
use crate::reconciler::offline_client;
use crate::reconciler::{ControllerConfig, Shared};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: ControllerConfig,
}

fn context() -> Arc<Context<AuraInstance>> {
    let config = Args::parse_from(["test"]).config;
    let aura = AuraClients::try_new(ClientConfig {
        base_url: "http://127.0.0.1:9".into(),
        ..ClientConfig::default()
    })
    .expect("an Aura client");
    let reporter = Reporter {
        controller: "test".into(),
        instance: None,
    };
    let client = offline_client();
    let shared = Arc::new(Shared::new(
        client.clone(),
        aura,
        config,
        reporter,
        Arc::default(),
    ));
    let query_api = crate::query_api::QueryApi::new(
        crate::query_api::UrlTemplate::parse(crate::query_api::DEFAULT_URL_TEMPLATE).unwrap(),
        "test",
    )
    .unwrap();
    let restores: Arc<dyn RestoreView> = Arc::new(NoRestores);
    let keys: Arc<dyn crate::kinds::shared::views::KeyView> =
        Arc::new(Context::<crate::api::AuraCustomerManagedKey>::new(
            shared.clone(),
            Arc::default(),
        ));
    Arc::new(Context::new(
        shared,
        InstanceState::new(
            client,
            query_api,
            restores,
            Arc::default(),
            Arc::default(),
            keys,
            Arc::default(),
        ),
    ))
}

/// No AuraRestore runs anywhere.
struct NoRestores;

impl RestoreView for NoRestores {
    fn running_on(&self, _: &str, _: &str, _: Option<&str>) -> Option<String> {
        None
    }

    fn wakes(&self) -> futures::stream::BoxStream<'static, ObjectRef<AuraInstance>> {
        futures::stream::pending().boxed()
    }
}

fn object(name: &str, credentials: Option<&str>) -> AuraInstance {
    let mut spec = json!({
        "cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db", "memory": "8GB",
    });
    if let Some(c) = credentials {
        spec["credentialsSecretRef"] = json!({"name": c});
    }
    serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstance",
        "metadata": {"name": name, "namespace": "team-a", "uid": format!("uid-{name}")},
        "spec": spec,
    }))
    .expect("an AuraInstance")
}

fn created(id: &str) -> CreatedInstance {
    serde_json::from_value(json!({"id": id, "password": "never-printed"})).expect("a create answer")
}

/// Everything one object can leave behind in a pass.
fn use_it(ctx: &Context<AuraInstance>, obj: &AuraInstance, client_id: &str) {
    follow(ctx, &Event::Apply(obj.clone()));
    let creds = Credentials {
        client_id: client_id.into(),
        client_secret: "s".into(),
    };
    let _client = ctx.aura.client(&creds);
    ctx.note_client(obj, client_id);
    ctx.memory.next_backoff(obj);
    ctx.remember_password(obj, created("i-1"));
    ctx.record_instance(obj, "i-1");
}

fn assert_nothing_remembered(ctx: &Context<AuraInstance>) {
    assert!(ctx.memory.is_empty(), "memory: {}", ctx.memory.len());
    assert!(ctx.credentials.is_empty(), "credentials index");
    assert!(ctx.credential_watches.is_empty(), "credential watches");
    assert!(ctx.client_users().is_empty(), "{:?}", ctx.client_users());
    assert_eq!(ctx.aura.registry_sizes(), (0, 0), "tokens and limiters");
    assert!(ctx.tenants.is_empty(), "tenant caches");
}

#[tokio::test]
async fn memory_is_empty_after_every_way_out() {
    let ctx = context();
    // Delete and Orphan both end in a finished cleanup: the driver forgets.
    let deleted = object("deleted", Some("aura-api"));
    let orphaned = object("orphaned", Some("third-api"));
    // A person removed the finalizer: only the watch's delete event tells.
    let by_hand = object("by-hand", Some("aura-api"));
    // Gone while the watch was down: the re-list no longer shows it.
    let missed = object("missed", Some("other-api"));
    for (obj, client) in [
        (&deleted, "id-a"),
        (&orphaned, "id-b"),
        (&by_hand, "id-a"),
        (&missed, "id-c"),
    ] {
        use_it(&ctx, obj, client);
    }
    assert_eq!(ctx.memory.len(), 4);
    assert_eq!(ctx.credential_watches.len(), 3);
    assert_eq!(ctx.aura.registry_sizes(), (3, 3));

    ctx.forget(&ObjectRef::from_obj(&deleted));
    ctx.forget(&ObjectRef::from_obj(&orphaned));
    // The watch's delete event after a finished cleanup finds nothing left.
    follow(&ctx, &Event::Delete(deleted.clone()));
    assert_eq!(ctx.memory.len(), 2);
    assert_eq!(ctx.client_users().get("id-b"), None, "orphaned's client id");

    follow(&ctx, &Event::Delete(by_hand.clone()));
    assert_eq!(ctx.memory.len(), 1);

    let (store, mut writer) = kube::runtime::reflector::store::<AuraInstance>();
    ctx.add_store(store);
    for event in [Event::Init, Event::InitDone] {
        writer.apply_watcher_event(&event);
        follow(&ctx, &event);
    }
    assert_nothing_remembered(&ctx);
}

#[tokio::test]
async fn a_relist_keeps_what_it_still_lists() {
    let ctx = context();
    let (kept, gone) = (object("kept", None), object("gone", None));
    use_it(&ctx, &kept, "id-a");
    use_it(&ctx, &gone, "id-a");
    let (store, mut writer) = kube::runtime::reflector::store::<AuraInstance>();
    ctx.add_store(store);
    for event in [Event::Init, Event::InitApply(kept.clone()), Event::InitDone] {
        writer.apply_watcher_event(&event);
        follow(&ctx, &event);
    }
    assert_eq!(ctx.memory.len(), 1);
    assert!(ctx.pending_password(&kept).is_some());
    assert_eq!(ctx.client_users().get("id-a"), Some(&1));
    assert_eq!(ctx.aura.registry_sizes(), (1, 1), "id-a is still in use");
}

#[tokio::test]
async fn after_a_rotation_only_the_new_credentials_are_remembered() {
    let ctx = context();
    let obj = object("db", Some("aura-api"));
    use_it(&ctx, &obj, "id-old");
    // The object now names another Secret, holding another client id.
    let rotated = object("db", Some("aura-api-2"));
    follow(&ctx, &Event::Apply(rotated.clone()));
    let creds = Credentials {
        client_id: "id-new".into(),
        client_secret: "s2".into(),
    };
    let _client = ctx.aura.client(&creds);
    assert_eq!(ctx.note_client(&rotated, "id-new"), 1);
    assert_eq!(ctx.client_users().len(), 1);
    assert_eq!(ctx.client_users().get("id-new"), Some(&1));
    assert_eq!(
        ctx.aura.registry_sizes(),
        (1, 1),
        "the old client id is dropped"
    );
    assert_eq!(
        ctx.credential_watches.len(),
        1,
        "only the new Secret is watched"
    );
    assert!(
        ctx.pending_password(&rotated).is_some(),
        "the same object keeps its password"
    );

    ctx.forget(&ObjectRef::from_obj(&rotated));
    assert_nothing_remembered(&ctx);
}

#[tokio::test]
async fn objects_without_their_own_secret_follow_the_default_project() {
    let ctx = context();
    let (reader, mut writer) = kube::runtime::reflector::store::<ClusterAuraProject>();
    let default: ClusterAuraProject = serde_json::from_value(json!({
        "apiVersion": "aura-operator.io/v1beta1", "kind": "ClusterAuraProject",
        "metadata": {"name": "default"},
        "spec": {
            "credentialsSecretRef": {"name": "aura-api", "namespace": "ops"},
            "allowedNamespaces": {"names": ["team-a"]},
        },
    }))
    .expect("a ClusterAuraProject");
    writer.apply_watcher_event(&Event::Apply(default));
    ctx.projects.set_cluster_store(reader);
    let obj = object("db", None);
    follow(&ctx, &Event::Apply(obj.clone()));
    let default = crate::reconciler::credentials::SecretKey::new("ops", "aura-api");
    assert_eq!(
        ctx.credentials.users_of(&default),
        vec![ObjectRef::from_obj(&obj)]
    );
    let project = crate::reconciler::projects::ProjectId::cluster("default");
    assert_eq!(
        ctx.projects.users_of(&project),
        vec!["AuraInstance team-a/db".to_string()]
    );
    // Another namespace is not allowed: no watch of the project's Secret for it.
    let mut elsewhere = object("db", None);
    elsewhere.metadata.namespace = Some("team-b".into());
    follow(&ctx, &Event::Apply(elsewhere.clone()));
    assert_eq!(ctx.credentials.users_of(&default).len(), 1);
    follow(&ctx, &Event::Delete(elsewhere));
    follow(&ctx, &Event::Delete(obj));
    assert!(ctx.credential_watches.is_empty());
    assert!(ctx.projects.users_of(&project).is_empty());
}

#[test]
fn a_secret_is_named_while_another_object_uses_it() {
    let with_uid = |name: &str, creds: Option<&str>| {
        let mut o = object(name, creds);
        o.metadata.uid = Some(name.into());
        o
    };
    let leaving = with_uid("a", Some("aura-api"));
    let others: Vec<Arc<AuraInstance>> = [
        leaving.clone(),
        with_uid("b", Some("aura-api")),
        with_uid("c", Some("other-api")),
        with_uid("d", None),
    ]
    .into_iter()
    .map(Arc::new)
    .collect();
    let named = still_named(&others, &leaving);
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["aura-api", "other-api"]
    );
    assert!(still_named(&[Arc::new(leaving.clone())], &leaving).is_empty());
}
