//! Contract tests of the Aura client over real HTTP against the simulator, and a
//! conformance check of the simulator's bodies against the official OpenAPI document.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aura_operator::aura::{
    AuraClient, AuraClients, AuraErrorKind, ClientConfig, CreateInstanceRequest, Credentials,
    Instance, InstanceConfiguration, InstanceStatus, UpdateInstanceRequest, UpgradeInstanceRequest,
};
use aura_operator::simulator::{CreateFailMode, Faults, Simulator, SimulatorConfig};
use serde_json::Value;

const ID: &str = "contract-client";
const SECRET: &str = "contract-secret-123";
const TENANT: &str = "0b7c1a52-36c6-4b6c-9f4e-6a1d2f3e4b5c";

fn sim_config() -> SimulatorConfig {
    SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![(ID.into(), SECRET.into())],
        tenants: vec![(TENANT.into(), "Contract".into())],
        create_seconds: 0.4,
        transition_seconds: 0.3,
        requests_per_minute: 0,
        tokens_per_hour: 15,
        token_ttl_seconds: 3600,
        ..Default::default()
    }
}

async fn start(config: SimulatorConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

fn client_config(sim: &Simulator) -> ClientConfig {
    ClientConfig {
        base_url: sim.base_url(),
        requests_per_minute: 6000,
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        retry_base_delay: Duration::from_millis(20),
        retry_max_delay: Duration::from_millis(200),
        ..Default::default()
    }
}

fn creds() -> Credentials {
    Credentials {
        client_id: ID.into(),
        client_secret: SECRET.into(),
    }
}

fn client(sim: &Simulator) -> (AuraClients, AuraClient) {
    let clients = AuraClients::new(client_config(sim));
    let c = clients.client(&creds());
    (clients, c)
}

fn pick(configs: &[InstanceConfiguration], ty: &str) -> InstanceConfiguration {
    // Version 5: upgrades to business-critical need a version it is offered in.
    configs
        .iter()
        .find(|c| c.instance_type == ty && c.version == "5")
        .unwrap_or_else(|| panic!("catalogue offers {ty} version 5"))
        .clone()
}

fn create_request(c: &InstanceConfiguration, name: &str) -> CreateInstanceRequest {
    CreateInstanceRequest {
        version: c.version.clone(),
        region: c.region.clone(),
        memory: c.memory.clone(),
        name: name.into(),
        instance_type: c.instance_type.clone(),
        tenant_id: TENANT.into(),
        cloud_provider: c.cloud_provider.clone(),
        storage: None,
        vector_optimized: None,
        graph_analytics_plugin: None,
        customer_managed_key_id: None,
        source_instance_id: None,
        source_snapshot_id: None,
    }
}

async fn wait_status(c: &AuraClient, id: &str, want: InstanceStatus) -> Instance {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let i = c.get_instance(id).await.expect("get instance");
        if i.status == want {
            return i;
        }
        assert!(Instant::now() < deadline, "{id} stuck in {}", i.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_gone(c: &AuraClient, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match c.get_instance(id).await {
            Err(e) if e.kind() == AuraErrorKind::NotFound => return,
            Ok(_) => {}
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(Instant::now() < deadline, "{id} never disappeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_call_end_to_end() {
    let sim = start(sim_config()).await;
    let (clients, c) = client(&sim);

    let tenants = c.list_tenants().await.unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].id, TENANT);
    let tenant = c.get_tenant(TENANT).await.unwrap();
    assert!(!tenant.instance_configurations.is_empty());

    let e = c
        .get_tenant("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::NeedsHuman, "{e}");
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.reason(), Some("tenant-not-found"));
    assert!(e.request_id().is_some(), "{e}");

    // Invalid input: 400 with the field named.
    let pro = pick(&tenant.instance_configurations, "professional-db");
    let mut bad = create_request(&pro, "bad-memory");
    bad.memory = "3GB".into();
    let e = c.create_instance(&bad).await.unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::NeedsHuman, "{e}");
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("HTTP 400"), "{e}");
    assert!(e.request_id().is_some());

    // Create: 202 with the one-time password.
    let created = c
        .create_instance(&create_request(&pro, "contract-db"))
        .await
        .unwrap();
    assert_eq!(created.name.as_deref(), Some("contract-db"));
    assert!(!created.password.is_empty());
    assert_eq!(
        sim.state().issued_password(&created.id).as_deref(),
        Some(created.password.as_str())
    );
    assert!(!format!("{created:?}").contains(&created.password));
    let id = created.id.clone();

    let listed = c.list_instances(TENANT).await.unwrap();
    assert!(listed.iter().any(|s| s.id == id));

    let gets = |id: &str| sim.state().counters().instance_gets.get(id).copied();
    let before = gets(&id).unwrap_or(0);
    let i = c.get_instance(&id).await.unwrap();
    assert_eq!(i.status, InstanceStatus::Creating);
    // The benchmark's polls per object: each answered GET counts for its id.
    assert_eq!(gets(&id), Some(before + 1));
    // Busy: pause answers 409, classified as Conflict.
    let e = c.pause_instance(&id).await.unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::Conflict, "{e}");
    assert_eq!(e.reason(), Some("ongoing-database-operation"));
    wait_status(&c, &id, InstanceStatus::Running).await;

    // Rename (200) and resize (202).
    c.update_instance(
        &id,
        &UpdateInstanceRequest {
            name: Some("renamed".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        c.get_instance(&id).await.unwrap().name.as_deref(),
        Some("renamed")
    );
    let bigger = tenant.instance_configurations.iter().find(|x| {
        x.instance_type == pro.instance_type
            && x.cloud_provider == pro.cloud_provider
            && x.region == pro.region
            && x.version == pro.version
            && x.memory != pro.memory
    });
    if let Some(b) = bigger {
        c.update_instance(
            &id,
            &UpdateInstanceRequest {
                memory: Some(b.memory.clone()),
                storage: b.storage.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let i = wait_status(&c, &id, InstanceStatus::Running).await;
        assert_eq!(i.memory.as_deref(), Some(b.memory.as_str()));
    }

    c.pause_instance(&id).await.unwrap();
    wait_status(&c, &id, InstanceStatus::Paused).await;
    c.resume_instance(&id).await.unwrap();
    wait_status(&c, &id, InstanceStatus::Running).await;

    // Snapshots.
    // The contract is the client's against the simulator: no claims here.
    let reachable = aura_operator::aura::Reachable::vouched(id.as_str());
    let snap = c.create_snapshot(&reachable).await.unwrap();
    let snap_id = snap
        .snapshot_id
        .expect("the simulator answers with the snapshot id");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = c.get_snapshot(&reachable, &snap_id).await.unwrap();
        assert_eq!(s.instance_id.as_deref(), Some(id.as_str()));
        if s.status.as_deref() == Some("Completed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "snapshot stuck in {:?}",
            s.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let snaps = c.list_snapshots(&reachable, None).await.unwrap();
    assert!(snaps.iter().any(|s| s.snapshot_id == snap_id));
    let e = c
        .get_snapshot(&reachable, "no-such-snapshot")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::NotFound, "{e}");
    wait_status(&c, &id, InstanceStatus::Running).await;
    c.restore_snapshot(&reachable, &snap_id).await.unwrap();
    wait_status(&c, &id, InstanceStatus::Running).await;

    // Upgrade professional-db -> business-critical.
    c.upgrade_instance(&id, &UpgradeInstanceRequest::default())
        .await
        .unwrap();
    let i = wait_status(&c, &id, InstanceStatus::Running).await;
    assert_eq!(i.instance_type.as_deref(), Some("business-critical"));

    // Delete: 202, then a repeat (404) is also done; then GET is NotFound.
    c.delete_instance(&id).await.unwrap();
    c.delete_instance(&id).await.unwrap();
    wait_gone(&c, &id).await;
    c.delete_instance(&id).await.unwrap();
    let e = c.get_instance("deadbeef").await.unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::NotFound);
    assert_eq!(
        gets("deadbeef"),
        None,
        "an id that does not exist is not counted"
    );
    assert_eq!(e.reason(), Some("db-not-found"));
    assert!(e.request_id().is_some());

    // One token for the whole conversation, and the stats saw it all.
    let stats = clients.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(sim.state().counters().token_calls, 1);
    assert!(
        stats
            .api_calls
            .contains_key(&("get_instance".to_string(), 200))
    );
    assert!(
        stats
            .api_calls
            .contains_key(&("create_instance".to_string(), 202))
    );
    assert!(stats.total_api_calls() > 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_is_refreshed_before_expiry() {
    let sim = start(SimulatorConfig {
        token_ttl_seconds: 2,
        ..sim_config()
    })
    .await;
    let (clients, c) = client(&sim);
    c.list_tenants().await.unwrap();
    c.list_tenants().await.unwrap();
    assert_eq!(sim.state().counters().token_calls, 1);
    // A 2 s token is refreshed at half-life, before the API would reject it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    c.list_tenants().await.unwrap();
    let counters = sim.state().counters();
    assert_eq!(counters.token_calls, 2);
    assert_eq!(counters.by_status.get("403"), None);
    assert_eq!(clients.stats().token_requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_token_403_refreshes_and_retries_once() {
    let sim = start(sim_config()).await;
    let (clients, c) = client(&sim);
    c.list_tenants().await.unwrap();
    sim.state().expire_tokens();
    c.list_tenants().await.unwrap();
    let counters = sim.state().counters();
    assert_eq!(counters.by_status.get("403"), Some(&1));
    assert_eq!(counters.token_calls, 2);
    assert_eq!(clients.stats().token_requests, 2);

    // The refreshed token worked; when it expires too, a minute later or a
    // second later, it is refreshed again (issue 13: four minutes of 403s
    // and a Stalled Forbidden otherwise). Each call still retries once.
    sim.state().expire_tokens();
    c.list_tenants().await.unwrap();
    let counters = sim.state().counters();
    assert_eq!(counters.by_status.get("403"), Some(&2));
    assert_eq!(counters.token_calls, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_403s_share_one_refresh() {
    let sim = start(sim_config()).await;
    let (clients, c) = client(&sim);
    c.list_tenants().await.unwrap();
    sim.state().expire_tokens();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let h = clients.client(&creds());
        tasks.push(tokio::spawn(async move { h.get_tenant(TENANT).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let counters = sim.state().counters();
    assert_eq!(counters.token_calls, 2);
    assert!(counters.by_status.get("403").is_some_and(|n| *n >= 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limited_429_honours_retry_after_and_pauses_the_client_id() {
    let sim = start(sim_config()).await;
    let (clients, c) = client(&sim);
    c.list_tenants().await.unwrap();
    sim.state().update_faults(|f| {
        f.rate_limit_rate = 1.0;
        f.rate_limit_retry_after = 1;
    });
    let state = sim.state();
    let other = clients.client(&creds());
    // Once the first 429 is seen: lift the storm and start a second caller of
    // the same client id, which must wait out the same Retry-After.
    let watcher = tokio::spawn(async move {
        while state.counters().injected_rate_limits == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let seen = Instant::now();
        state.update_faults(|f| f.rate_limit_rate = 0.0);
        other.list_tenants().await.unwrap();
        seen.elapsed()
    });
    let t0 = Instant::now();
    c.list_tenants().await.unwrap();
    let took = t0.elapsed();
    let other_waited = watcher.await.unwrap();
    assert!(took >= Duration::from_millis(950), "retried after {took:?}");
    assert!(
        other_waited >= Duration::from_millis(900),
        "shared limiter paused: {other_waited:?}"
    );
    let stats = clients.stats();
    assert_eq!(stats.rate_limited, 1);
    assert!(stats.retries >= 1);
    assert_eq!(sim.state().counters().injected_rate_limits, 1);

    // A POST is not retried on 429: the error carries Retry-After.
    sim.state().update_faults(|f| f.rate_limit_rate = 1.0);
    let before = sim.state().counters().requests_total;
    let e = c.pause_instance("deadbeef").await.unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::Transient);
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(sim.state().counters().requests_total, before + 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn get_is_retried_on_5xx_but_posts_are_not() {
    let sim = start(sim_config()).await;
    let clients = AuraClients::new(ClientConfig {
        max_retries: 8,
        ..client_config(&sim)
    });
    let c = clients.client(&creds());
    c.list_tenants().await.unwrap();
    sim.state().update_faults(|f| f.error_rate = 0.3);
    for _ in 0..20 {
        c.get_tenant(TENANT).await.unwrap();
    }
    assert!(sim.state().counters().injected_errors > 0);
    assert!(clients.stats().retries > 0);

    sim.state().update_faults(|f| f.error_rate = 1.0);
    let before = sim.state().counters();
    let e = c.resume_instance("deadbeef").await.unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::Transient, "{e}");
    assert!(e.status().unwrap() >= 500);
    let e = c.get_instance("deadbeef").await.unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::Transient, "{e}");
    let after = sim.state().counters();
    // One resume, 1 + 8 GETs.
    assert_eq!(after.requests_total - before.requests_total, 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn create_is_never_retried_and_reports_outcome_unknown() {
    let sim = start(sim_config()).await;
    let (_clients, c) = client(&sim);
    let tenant = c.get_tenant(TENANT).await.unwrap();
    let pro = pick(&tenant.instance_configurations, "professional-db");

    for (mode, status) in [
        (CreateFailMode::Error, Some(500)),
        (CreateFailMode::Drop, None),
    ] {
        sim.state().update_faults(|f| {
            f.fail_creates = 1;
            f.fail_create_mode = mode;
        });
        let name = format!("ambiguous-{mode:?}");
        let before = sim.state().counters();
        let e = c
            .create_instance(&create_request(&pro, &name))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), AuraErrorKind::OutcomeUnknown, "{e}");
        assert_eq!(e.status(), status);
        assert!(e.to_string().contains("outcome unknown"), "{e}");
        let after = sim.state().counters();
        assert_eq!(after.creates_committed - before.creates_committed, 1);
        let posts = |c: &aura_operator::simulator::Counters| {
            c.by_route.get("POST /v1/instances").copied().unwrap_or(0)
        };
        assert_eq!(posts(&after) - posts(&before), 1, "create sent once");
        // The instance exists: the controller finds it by name.
        let listed = c.list_instances(TENANT).await.unwrap();
        assert_eq!(
            listed
                .iter()
                .filter(|s| s.name.as_deref() == Some(name.as_str()))
                .count(),
            1
        );
    }

    // A gateway 5xx on create is ambiguous too, and not retried.
    sim.state().update_faults(|f| f.error_rate = 1.0);
    let e = c
        .create_instance(&create_request(&pro, "gateway"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), AuraErrorKind::OutcomeUnknown, "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn thousand_concurrent_calls_one_token_no_429() {
    let sim = start(SimulatorConfig {
        requests_per_minute: 610,
        ..sim_config()
    })
    .await;
    let clients = AuraClients::new(ClientConfig {
        requests_per_minute: 600,
        request_timeout: Duration::from_secs(30),
        ..client_config(&sim)
    });
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        // A fresh handle per caller, as each reconcile would get.
        let c = clients.client(&creds());
        tasks.push(tokio::spawn(async move { c.list_tenants().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let counters = sim.state().counters();
    assert_eq!(counters.token_calls, 1);
    assert_eq!(counters.too_many_requests, 0);
    assert_eq!(counters.by_client.get(ID), Some(&1000));
    // 600 at once, the other 400 a minute later.
    assert!(
        t0.elapsed() >= Duration::from_secs(59),
        "{:?}",
        t0.elapsed()
    );
    let stats = clients.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(
        stats.api_calls.get(&("list_tenants".to_string(), 200)),
        Some(&1000)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_cost_at_most_two_token_calls() {
    let sim = start(sim_config()).await;
    let clients = AuraClients::new(client_config(&sim));
    let bad = Credentials {
        client_id: ID.into(),
        client_secret: "wrong-secret-456".into(),
    };
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = clients.client(&bad);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                c.list_tenants().await.map(drop)
            } else {
                c.get_instance("deadbeef").await.map(drop)
            }
        }));
    }
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), AuraErrorKind::NeedsHuman, "{e}");
        assert_eq!(e.status(), Some(401));
        assert_eq!(e.reason(), Some("access_denied"));
        assert!(e.retry_after().is_some());
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("wrong-secret-456"), "{shown}");
    }
    assert!(sim.state().counters().token_calls <= 2);
    assert!(clients.stats().token_requests <= 2);

    // The rotated (right) secret for the same client id gets its own token at once.
    let good = clients.client(&creds());
    good.list_tenants().await.unwrap();
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------
// Conformance: simulator bodies against the official OpenAPI document.

const OPENAPI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/aura-api/aura-api-v1.openapi.yaml"
);

struct Spec {
    root: Value,
}

impl Spec {
    fn load() -> Self {
        let text = std::fs::read_to_string(OPENAPI).expect("official OpenAPI document");
        Self {
            root: serde_yaml::from_str(&text).expect("OpenAPI YAML"),
        }
    }

    fn lookup(&self, reference: &str) -> &Value {
        let pointer = reference.strip_prefix('#').expect("local $ref");
        self.root
            .pointer(pointer)
            .unwrap_or_else(|| panic!("unresolved $ref {reference}"))
    }

    /// Inlines `#/components/...` refs. OpenAPI's `oneOf` of `Error` and
    /// `MiddlewareError` is read as `anyOf`: `MiddlewareError` requires nothing,
    /// so every `Error` body also matches it and a strict `oneOf` rejects all.
    fn resolve(&self, v: &Value, depth: usize) -> Value {
        assert!(depth < 32, "$ref cycle");
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    return self.resolve(self.lookup(r), depth + 1);
                }
                let mut out = serde_json::Map::new();
                for (k, val) in map {
                    let key = if k == "oneOf" { "anyOf" } else { k.as_str() };
                    out.insert(key.to_string(), self.resolve(val, depth + 1));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|x| self.resolve(x, depth + 1)).collect())
            }
            other => other.clone(),
        }
    }

    /// The path template of the document matching a concrete `/v1/...` path.
    fn template(&self, path: &str) -> Option<String> {
        let path = path.strip_prefix("/v1").unwrap_or(path);
        let parts: Vec<&str> = path.split('/').collect();
        self.root["paths"].as_object()?.keys().find_map(|t| {
            let tparts: Vec<&str> = t.split('/').collect();
            (tparts.len() == parts.len()
                && tparts
                    .iter()
                    .zip(&parts)
                    .all(|(a, b)| (a.starts_with('{') && a.ends_with('}')) || a == b))
            .then(|| t.clone())
        })
    }

    /// The response schema for (method, path, status): `Err` when the document
    /// does not list the status; `Ok(None)` when the response has no body schema.
    fn schema(&self, method: &str, path: &str, status: u16) -> Result<Option<Value>, String> {
        let t = self
            .template(path)
            .ok_or_else(|| format!("{path} is not in the document"))?;
        let op = &self.root["paths"][&t][method.to_lowercase()];
        let resp = op["responses"]
            .get(status.to_string())
            .ok_or_else(|| format!("{method} {t} does not document status {status}"))?;
        let resp = self.resolve(resp, 0);
        Ok(resp
            .get("content")
            .and_then(|c| c.get("application/json"))
            .and_then(|j| j.get("schema"))
            .cloned())
    }
}

/// Raw HTTP against the simulator, recording every answer.
struct Recorder {
    http: reqwest::Client,
    base: String,
    token: String,
    seen: Vec<(String, String, u16, Value)>,
}

impl Recorder {
    async fn new(base: &str) -> Self {
        let http = reqwest::Client::new();
        let t: Value = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(ID, Some(SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            http,
            base: base.into(),
            token: t["access_token"].as_str().unwrap().into(),
            seen: Vec::new(),
        }
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, None).await
    }

    async fn call_with(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(token.unwrap_or(&self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
        };
        let route = path.split('?').next().unwrap().to_string();
        self.seen.push((method.into(), route, status, json.clone()));
        (status, json)
    }

    async fn wait_status(&mut self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (s, b) = self.call("GET", &format!("/v1/instances/{id}"), None).await;
            if s == 200 && b["data"]["status"] == want {
                return;
            }
            assert!(Instant::now() < deadline, "{id} never {want}: {b}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How many answers each (method, path template, status) had.
type Coverage = HashMap<(String, String, u16), usize>;

/// Every recorded answer held to the document: the problems found (sorted,
/// each once) and how many answers each (method, template, status) had.
fn check_seen(spec: &Spec, seen: &[(String, String, u16, Value)]) -> (Vec<String>, Coverage) {
    let mut problems = Vec::new();
    let mut covered = Coverage::new();
    for (method, path, status, body) in seen {
        let key = (
            method.clone(),
            spec.template(path).unwrap_or_else(|| path.clone()),
            *status,
        );
        *covered.entry(key).or_default() += 1;
        match spec.schema(method, path, *status) {
            Err(e) => problems.push(e),
            Ok(None) => {}
            Ok(Some(schema)) => {
                let v = jsonschema::draft4::new(&schema)
                    .unwrap_or_else(|e| panic!("schema of {method} {path} {status}: {e}"));
                for err in v.iter_errors(body) {
                    problems.push(format!(
                        "{method} {path} {status}: {err} at {} in {body}",
                        err.instance_path()
                    ));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    (problems, covered)
}

#[tokio::test]
async fn simulator_bodies_conform_to_the_official_document() {
    let spec = Spec::load();
    let sim = start(sim_config()).await;
    let mut r = Recorder::new(&sim.base_url()).await;

    r.call("GET", "/v1/tenants", None).await;
    let (_, t) = r.call("GET", &format!("/v1/tenants/{TENANT}"), None).await;
    r.call(
        "GET",
        "/v1/tenants/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    let configs: Vec<InstanceConfiguration> =
        serde_json::from_value(t["data"]["instance_configurations"].clone()).unwrap();
    let pro = pick(&configs, "professional-db");
    let mut body = serde_json::to_value(create_request(&pro, "conformance")).unwrap();
    let (s, created) = r.call("POST", "/v1/instances", Some(body.clone())).await;
    assert_eq!(s, 202, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();
    body["memory"] = "3GB".into();
    let (s, _) = r.call("POST", "/v1/instances", Some(body)).await;
    assert_eq!(s, 400);
    r.call("GET", &format!("/v1/instances?tenantId={TENANT}"), None)
        .await;
    r.call("GET", "/v1/instances", None).await;
    let (s, _) = r
        .call(
            "POST",
            &format!("/v1/instances/{id}/pause"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(s, 409);
    r.wait_status(&id, "running").await;
    let (s, _) = r
        .call(
            "PATCH",
            &format!("/v1/instances/{id}"),
            Some(serde_json::json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(s, 200);
    let bigger = configs.iter().find(|x| {
        x.instance_type == pro.instance_type
            && x.cloud_provider == pro.cloud_provider
            && x.region == pro.region
            && x.version == pro.version
            && x.memory != pro.memory
    });
    if let Some(b) = bigger {
        let (s, _) = r
            .call(
                "PATCH",
                &format!("/v1/instances/{id}"),
                Some(serde_json::json!({"memory": b.memory, "storage": b.storage})),
            )
            .await;
        assert_eq!(s, 202);
        r.wait_status(&id, "running").await;
    }
    let (s, _) = r
        .call(
            "POST",
            &format!("/v1/instances/{id}/pause"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(s, 202);
    r.wait_status(&id, "paused").await;
    let (s, _) = r
        .call(
            "POST",
            &format!("/v1/instances/{id}/resume"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(s, 202);
    r.wait_status(&id, "running").await;
    let (s, snap) = r
        .call(
            "POST",
            &format!("/v1/instances/{id}/snapshots"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(s, 202);
    let sid = snap["data"]["snapshot_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, s) = r
            .call("GET", &format!("/v1/instances/{id}/snapshots/{sid}"), None)
            .await;
        if s["data"]["status"] == "Completed" {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    r.call("GET", &format!("/v1/instances/{id}/snapshots"), None)
        .await;
    r.call("GET", &format!("/v1/instances/{id}/snapshots/nope"), None)
        .await;
    r.wait_status(&id, "running").await;
    let (s, _) = r
        .call(
            "POST",
            &format!("/v1/instances/{id}/snapshots/{sid}/restore"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(s, 202);
    r.wait_status(&id, "running").await;
    // A clone from the snapshot, then the first instance overwritten with
    // the clone's data (it is at least as large).
    let mut clone = serde_json::to_value(create_request(&pro, "conformance-clone")).unwrap();
    clone["source_instance_id"] = id.clone().into();
    clone["source_snapshot_id"] = sid.clone().into();
    let (s, cloned) = r.call("POST", "/v1/instances", Some(clone)).await;
    assert_eq!(s, 202, "{cloned}");
    let clone_id = cloned["data"]["id"].as_str().unwrap().to_string();
    r.wait_status(&clone_id, "running").await;
    let overwrite = format!("/v1/instances/{id}/overwrite");
    let (s, _) = r
        .call(
            "POST",
            &overwrite,
            Some(serde_json::json!({"source_instance_id": "deadbeef"})),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = r
        .call(
            "POST",
            &overwrite,
            Some(serde_json::json!({"source_instance_id": clone_id})),
        )
        .await;
    assert_eq!(s, 202);
    r.wait_status(&id, "running").await;
    let (s, _) = r
        .call(
            "POST",
            &format!("/v1/instances/{id}/upgrade"),
            Some(serde_json::json!({"type": "business-critical"})),
        )
        .await;
    assert_eq!(s, 200);
    r.wait_status(&id, "running").await;
    // Auth failures: an unknown token (401), an expired one (403).
    r.call_with("GET", "/v1/tenants", None, Some("not-a-token"))
        .await;
    sim.state().expire_tokens();
    let (s, _) = r.call("GET", "/v1/tenants", None).await;
    assert_eq!(s, 403);
    r.token = Recorder::new(&sim.base_url()).await.token;
    // 429 and injected gateway errors.
    sim.state().update_faults(|f| f.rate_limit_rate = 1.0);
    let (s, _) = r.call("GET", &format!("/v1/instances/{id}"), None).await;
    assert_eq!(s, 429);
    sim.state().set_faults(Faults::default());
    sim.state().update_faults(|f| f.error_rate = 1.0);
    for _ in 0..12 {
        r.call("GET", &format!("/v1/instances/{id}"), None).await;
    }
    sim.state().set_faults(Faults::default());
    let (s, _) = r.call("DELETE", &format!("/v1/instances/{id}"), None).await;
    assert_eq!(s, 202);
    let (s, _) = r.call("DELETE", &format!("/v1/instances/{id}"), None).await;
    assert!(s == 404 || s == 409, "{s}");
    r.call("GET", "/v1/instances/deadbeef", None).await;
    r.call("DELETE", "/v1/instances/deadbeef", None).await;

    // Validate everything seen.
    let (problems, covered) = check_seen(&spec, &r.seen);
    assert!(
        problems.is_empty(),
        "non-conforming answers:\n{}",
        problems.join("\n")
    );
    // Sanity: the check covered the main operations.
    let statuses: Vec<u16> = covered.keys().map(|k| k.2).collect();
    for s in [200, 202, 400, 401, 403, 404, 409, 429] {
        assert!(statuses.contains(&s), "no {s} answer checked: {covered:?}");
    }
    assert!(statuses.iter().any(|s| *s >= 500));
    sim.shutdown().await;
}

#[test]
fn document_refs_resolve() {
    let spec = Spec::load();
    let s = spec
        .schema("GET", "/v1/instances/8f769515", 200)
        .unwrap()
        .unwrap();
    assert_eq!(s["properties"]["data"]["required"][0], "id");
    assert!(spec.schema("GET", "/v1/instances/8f769515", 418).is_err());
    // The validator does reject a non-conforming body.
    let v = jsonschema::draft4::new(&s).unwrap();
    let bad = serde_json::json!({"data": {"id": "8f769515", "status": "running"}});
    assert!(!v.is_valid(&bad));
    let e = spec
        .schema("GET", "/v1/instances/8f769515", 404)
        .unwrap()
        .unwrap();
    let v = jsonschema::draft4::new(&e).unwrap();
    assert!(
        v.is_valid(&serde_json::json!({"errors": [{"message": "m", "reason": "db-not-found"}]}))
    );
    assert!(!v.is_valid(&serde_json::json!({"errors": [{"message": "m"}]})));
    assert_eq!(
        spec.template("/v1/instances/ab/snapshots/cd/restore")
            .as_deref(),
        Some("/instances/{instanceId}/snapshots/{snapshotId}/restore")
    );
}

/// `POST /admin/...` on the simulator (no token: the test tool's side door).
async fn admin_post(r: &Recorder, path: &str) -> (u16, Value) {
    let resp = r
        .http
        .post(format!("{}{path}", r.base))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn assert_problems_empty(spec: &Spec, r: &Recorder) {
    let (problems, _) = check_seen(spec, &r.seen);
    assert!(
        problems.is_empty(),
        "non-conforming answers:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn customer_managed_keys_conform_to_the_document() {
    let spec = Spec::load();
    let sim = start(SimulatorConfig {
        key_ready_seconds: None,
        ..sim_config()
    })
    .await;
    let mut r = Recorder::new(&sim.base_url()).await;
    let key_body = serde_json::json!({
        "key_id": "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k",
        "name": "Production Key",
        "cloud_provider": "gcp",
        "instance_type": "enterprise-db",
        "region": "europe-west1",
        "tenant_id": TENANT,
    });
    let (s, first) = r
        .call("POST", "/v1/customer-managed-keys", Some(key_body.clone()))
        .await;
    assert_eq!(s, 202, "{first}");
    assert_eq!(first["data"]["status"], "pending");
    // Not idempotent: the same body makes a second key.
    let (s, second) = r
        .call("POST", "/v1/customer-managed-keys", Some(key_body.clone()))
        .await;
    assert_eq!(s, 202);
    let (key, other) = (
        first["data"]["id"].as_str().unwrap().to_string(),
        second["data"]["id"].as_str().unwrap().to_string(),
    );
    assert_ne!(key, other);
    let mut bad = key_body.clone();
    bad["name"] = "x".repeat(31).into();
    let (s, e) = r.call("POST", "/v1/customer-managed-keys", Some(bad)).await;
    assert_eq!((s, e["errors"][0]["field"].as_str()), (400, Some("name")));
    let (s, list) = r
        .call(
            "GET",
            &format!("/v1/customer-managed-keys?tenantId={TENANT}"),
            None,
        )
        .await;
    assert_eq!((s, list["data"].as_array().map(Vec::len)), (200, Some(2)));
    r.call("GET", "/v1/customer-managed-keys", None).await;
    let (s, full) = r
        .call("GET", &format!("/v1/customer-managed-keys/{key}"), None)
        .await;
    assert_eq!(s, 200);
    for field in ["instance_type", "key_id", "created"] {
        assert!(full["data"][field].is_string(), "{field} in {full}");
    }
    let (s, e) = r
        .call("GET", "/v1/customer-managed-keys/no-such-key", None)
        .await;
    assert_eq!(
        (s, e["errors"][0]["reason"].as_str()),
        (404, Some("encryption-key-not-found"))
    );

    // An instance may use the key once the customer granted it.
    let (_, t) = r.call("GET", &format!("/v1/tenants/{TENANT}"), None).await;
    let configs: Vec<InstanceConfiguration> =
        serde_json::from_value(t["data"]["instance_configurations"].clone()).unwrap();
    let vdc = configs
        .iter()
        .find(|c| {
            c.instance_type == "enterprise-db"
                && c.cloud_provider == "gcp"
                && c.region == "europe-west1"
        })
        .expect("an enterprise-db configuration in europe-west1")
        .clone();
    let mut create = serde_json::to_value(create_request(&vdc, "encrypted")).unwrap();
    create["customer_managed_key_id"] = key.clone().into();
    let (s, e) = r.call("POST", "/v1/instances", Some(create.clone())).await;
    assert_eq!(
        (s, e["errors"][0]["reason"].as_str()),
        (400, Some("encryption-key-not-ready"))
    );
    let (s, granted) = admin_post(&r, &format!("/admin/customer-managed-keys/{key}/grant")).await;
    assert_eq!((s, granted["status"].as_str()), (200, Some("ready")));
    let (s, created) = r.call("POST", "/v1/instances", Some(create)).await;
    assert_eq!(s, 202, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let (_, shown) = r.call("GET", &format!("/v1/instances/{id}"), None).await;
    assert_eq!(shown["data"]["customer_managed_key_id"], key.as_str());

    // Deletion: refused while the instance uses the key.
    let (s, e) = r
        .call("DELETE", &format!("/v1/customer-managed-keys/{key}"), None)
        .await;
    assert_eq!(
        (s, e["errors"][0]["reason"].as_str()),
        (400, Some("encryption-key-is-active"))
    );
    let (s, _) = r
        .call(
            "DELETE",
            &format!("/v1/customer-managed-keys/{other}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = r
        .call(
            "DELETE",
            &format!("/v1/customer-managed-keys/{other}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    r.wait_status(&id, "running").await;
    let (s, _) = r.call("DELETE", &format!("/v1/instances/{id}"), None).await;
    assert_eq!(s, 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, _) = r
            .call("DELETE", &format!("/v1/customer-managed-keys/{key}"), None)
            .await;
        if s == 204 {
            break;
        }
        assert!(Instant::now() < deadline, "the key stayed in use");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_problems_empty(&spec, &r);
    sim.shutdown().await;
}

/// `GET url` with an optional bearer token, outside the recorder (the
/// metrics endpoints are not in the document): status and text.
async fn get_text(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn metrics_integration_points_at_metrics_the_simulator_serves() {
    let spec = Spec::load();
    let sim = start(sim_config()).await;
    let mut r = Recorder::new(&sim.base_url()).await;
    let (s, mi) = r
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/metrics-integration"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{mi}");
    let endpoint = mi["data"]["endpoint"].as_str().unwrap().to_string();
    assert_eq!(
        endpoint,
        format!("{}/api/v1/{TENANT}/metrics", sim.base_url())
    );
    let (s, _) = r
        .call(
            "GET",
            "/v1/tenants/00000000-0000-0000-0000-000000000000/metrics-integration",
            None,
        )
        .await;
    assert_eq!(s, 404);

    // One series per running instance of a metered type.
    let (_, t) = r.call("GET", &format!("/v1/tenants/{TENANT}"), None).await;
    let configs: Vec<InstanceConfiguration> =
        serde_json::from_value(t["data"]["instance_configurations"].clone()).unwrap();
    let mut ids = Vec::new();
    for (ty, name) in [
        ("enterprise-db", "metered"),
        ("professional-db", "unmetered"),
    ] {
        let body = serde_json::to_value(create_request(&pick(&configs, ty), name)).unwrap();
        let (s, created) = r.call("POST", "/v1/instances", Some(body)).await;
        assert_eq!(s, 202, "{created}");
        ids.push(created["data"]["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        r.wait_status(id, "running").await;
    }
    let (_, shown) = r
        .call("GET", &format!("/v1/instances/{}", ids[0]), None)
        .await;
    let instance_url = shown["data"]["metrics_integration_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        instance_url,
        format!("{}/api/v1/{TENANT}/{}/metrics", sim.base_url(), ids[0])
    );
    let (s, text) = get_text(&endpoint, Some(&r.token)).await;
    assert_eq!(s, 200, "{text}");
    for name in [
        "neo4j_aura_cpu_usage",
        "neo4j_aura_cpu_limit",
        "neo4j_aura_storage_limit",
        "neo4j_database_count_node",
    ] {
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .collect();
        assert_eq!(series.len(), 1, "{name}: {text}");
        assert!(series[0].contains(&format!("instance_id=\"{}\"", ids[0])));
    }
    let (s, one) = get_text(&instance_url, Some(&r.token)).await;
    assert_eq!(s, 200);
    assert!(one.contains(&ids[0]), "{one}");

    // A token is needed, and a scrape is not an API call of the client id.
    let before = sim.state().counters().by_client.get(ID).copied();
    assert_eq!(get_text(&endpoint, None).await.0, 401);
    assert_eq!(get_text(&endpoint, Some("not-a-token")).await.0, 401);
    get_text(&endpoint, Some(&r.token)).await;
    assert_eq!(sim.state().counters().by_client.get(ID).copied(), before);

    // A tenant without metrics: 400 tenant-incapable-of-action (the
    // document lists no 400 for this call: checked apart from it).
    sim.state().set_metrics_capable(TENANT, false);
    let (s, body) = get_text(
        &format!("{}/v1/tenants/{TENANT}/metrics-integration", sim.base_url()),
        Some(&r.token),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errors"][0]["reason"], "tenant-incapable-of-action");
    assert_eq!(get_text(&endpoint, Some(&r.token)).await.0, 401);
    assert_problems_empty(&spec, &r);
    sim.shutdown().await;
}

#[tokio::test]
async fn graph_analytics_sessions_and_sizing_conform_to_the_document() {
    let spec = Spec::load();
    let sim = start(sim_config()).await;
    let mut r = Recorder::new(&sim.base_url()).await;
    let sessions = "/v1/graph-analytics/sessions";
    let standalone = serde_json::json!({"name": "people", "memory": "8GB", "ttl": "30m",
        "tenant_id": TENANT, "cloud_provider": "gcp", "region": "europe-west1"});
    let (s, first) = r.call("POST", sessions, Some(standalone.clone())).await;
    assert_eq!(
        (s, first["data"]["status"].as_str()),
        (202, Some("Creating")),
        "{first}"
    );
    let id = first["data"]["id"].as_str().unwrap().to_string();
    let (s, again) = r.call("POST", sessions, Some(standalone.clone())).await;
    assert_eq!((s, again["data"]["id"].as_str()), (200, Some(id.as_str())));
    let mut other = standalone.clone();
    other["memory"] = "4GB".into();
    let (s, e) = r.call("POST", sessions, Some(other)).await;
    assert_eq!(s, 409, "{e}");
    let mut bad = standalone.clone();
    bad["memory"] = "3GB".into();
    let (s, _) = r.call("POST", sessions, Some(bad)).await;
    assert_eq!(s, 400);

    // Attached to an instance.
    let (_, t) = r.call("GET", &format!("/v1/tenants/{TENANT}"), None).await;
    let configs: Vec<InstanceConfiguration> =
        serde_json::from_value(t["data"]["instance_configurations"].clone()).unwrap();
    let body =
        serde_json::to_value(create_request(&pick(&configs, "professional-db"), "gds")).unwrap();
    let (_, created) = r.call("POST", "/v1/instances", Some(body)).await;
    let instance = created["data"]["id"].as_str().unwrap().to_string();
    r.wait_status(&instance, "running").await;
    let (s, attached) = r
        .call(
            "POST",
            sessions,
            Some(serde_json::json!({"name": "with-db", "memory": "4GB", "instance_id": instance})),
        )
        .await;
    assert_eq!(s, 202, "{attached}");
    assert_eq!(attached["data"]["tenant_id"], TENANT);
    let (_, all) = r.call("GET", sessions, None).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    let (_, one) = r
        .call("GET", &format!("{sessions}?instanceId={instance}"), None)
        .await;
    assert_eq!(one["data"].as_array().map(Vec::len), Some(1));
    r.call("GET", &format!("{sessions}?tenantId={TENANT}"), None)
        .await;
    let (s, _) = r
        .call("GET", &format!("{sessions}?instanceId=deadbeef"), None)
        .await;
    assert_eq!(s, 404);

    // Ready after the create time; expired by the hook.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, got) = r.call("GET", &format!("{sessions}/{id}"), None).await;
        if got["data"]["status"] == "Ready" {
            break;
        }
        assert!(Instant::now() < deadline, "{got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, expired) =
        admin_post(&r, &format!("/admin/graph-analytics/sessions/{id}/expire")).await;
    assert_eq!((s, expired["status"].as_str()), (200, Some("Expired")));
    let (_, got) = r.call("GET", &format!("{sessions}/{id}"), None).await;
    assert_eq!(got["data"]["status"], "Expired");
    let (s, gone) = r.call("DELETE", &format!("{sessions}/{id}"), None).await;
    assert_eq!((s, gone["data"]["id"].as_str()), (202, Some(id.as_str())));
    let (s, _) = r.call("GET", &format!("{sessions}/{id}"), None).await;
    assert_eq!(s, 404);
    let (s, _) = r.call("DELETE", &format!("{sessions}/{id}"), None).await;
    assert_eq!(s, 404);

    // Sizing, as the documented examples.
    let (s, sized) = r
        .call(
            "POST",
            &format!("{sessions}/sizing"),
            Some(
                serde_json::json!({"node_count": 1_000_000, "node_property_count": 512,
                "node_label_count": 3, "relationship_count": 5_000_000,
                "relationship_property_count": 5,
                "algorithm_categories": ["similarity", "community-detection"]}),
            ),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        sized["data"],
        serde_json::json!({"estimated_memory": "6GB", "recommended_size": "8GB"})
    );
    let (s, sized) = r
        .call(
            "POST",
            "/v1/instances/sizing",
            Some(
                serde_json::json!({"node_count": 1_000_000, "relationship_count": 5_000_000,
                "instance_type": "professional-ds",
                "algorithm_categories": ["pathfinding", "community-detection"]}),
            ),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        sized["data"],
        serde_json::json!({"did_exceed_maximum": false, "min_required_memory": "14GB", "recommended_size": "16GB"})
    );
    assert_problems_empty(&spec, &r);
    sim.shutdown().await;
}
