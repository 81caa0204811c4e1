//! The simulator answers bad input the way the Aura API does: the documented
//! status and error body, an `X-Request-Id`, never a 500 or a dropped
//! connection (unless a fault asks for one). Real HTTP against `Simulator::start`.

use std::time::Duration;

use aura_operator::simulator::{
    ConsoleUpdate, CreateFailMode, ExpiredToken, Faults, Simulator, SimulatorConfig,
};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

const TENANT: &str = "11111111-2222-4333-8444-555555555555";
const CLIENT: &str = "test-client";
const SECRET: &str = "test-secret";

async fn start(tweak: impl FnOnce(&mut SimulatorConfig)) -> Simulator {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut cfg = SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![(CLIENT.into(), SECRET.into())],
        tenants: vec![(TENANT.into(), "Test".into())],
        create_seconds: 0.3,
        transition_seconds: 0.3,
        ..Default::default()
    };
    tweak(&mut cfg);
    Simulator::start(cfg).await.expect("simulator starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Every answer, errors included, carries a request id.
fn request_id(resp: &reqwest::Response) -> String {
    let id = resp
        .headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {} {}", resp.status(), resp.url()))
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "request id {id} is a uuid"
    );
    id
}

async fn token_call(base: &str, id: &str, secret: &str) -> reqwest::Response {
    let resp = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    request_id(&resp);
    resp
}

async fn token(base: &str) -> String {
    let resp = token_call(base, CLIENT, SECRET).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0), "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

struct Api {
    base: String,
    token: String,
}

impl Api {
    async fn new(sim: &Simulator) -> Self {
        let base = sim.base_url();
        let token = token(&base).await;
        Self { base, token }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = http()
            .request(method, format!("{}/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        request_id(&resp);
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON body {text:?}: {e}"))
        };
        (status, v)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Polls until the status is `want` (at most 10 s).
    async fn wait_status(&self, id: &str, want: &str) {
        for _ in 0..100 {
            let (s, b) = self.get(&format!("/instances/{id}")).await;
            assert_eq!(s, StatusCode::OK);
            if b["data"]["status"] == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("instance {id} never reached {want}");
    }
}

fn create_body() -> Value {
    json!({
        "version": "5",
        "region": "europe-west1",
        "memory": "4GB",
        "name": "Instance01",
        "type": "professional-db",
        "tenant_id": TENANT,
        "cloud_provider": "gcp"
    })
}

/// A copy of `body` fit to print: every `password` replaced.
fn redacted(body: &Value) -> Value {
    match body {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if k == "password" {
                        json!("<redacted>")
                    } else {
                        redacted(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redacted).collect()),
        v => v.clone(),
    }
}

/// `{"errors":[{"message","reason","field"?}]}` with the given status, reason and field.
/// Failures print the body with passwords redacted (an unexpected 202 carries one).
fn assert_api_error(
    status: StatusCode,
    body: &Value,
    want: StatusCode,
    reason: &str,
    field: Option<&str>,
) {
    let body = &redacted(body);
    assert_eq!(status, want, "body: {body}");
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array: {body}"));
    assert_eq!(errors.len(), 1, "{body}");
    assert!(
        errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(errors[0]["reason"], reason, "{body}");
    match field {
        Some(f) => assert_eq!(errors[0]["field"], f, "{body}"),
        None => assert!(errors[0].get("field").is_none(), "{body}"),
    }
}

#[tokio::test]
async fn malformed_json_is_400() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    for raw in ["{\"name\": ", "not json", "[1,2]", ""] {
        let resp = http()
            .post(format!("{}/v1/instances", api.base))
            .bearer_auth(&api.token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        request_id(&resp);
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_api_error(status, &body, StatusCode::BAD_REQUEST, "bad-request", None);
    }
    assert!(sim.state().instances().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_and_invalid_fields_name_the_field() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    for field in [
        "version",
        "region",
        "memory",
        "name",
        "type",
        "tenant_id",
        "cloud_provider",
    ] {
        let mut b = create_body();
        b.as_object_mut().unwrap().remove(field);
        let (s, body) = api.post("/instances", b).await;
        assert_api_error(
            s,
            &body,
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some(field),
        );
    }
    let cases = [
        ("type", json!("huge-db"), "type"),
        ("cloud_provider", json!("ibm"), "cloud_provider"),
        ("region", json!("mars-north1"), "region"),
        // professional-db stops at 64GB.
        ("memory", json!("128GB"), "memory"),
        ("memory", json!(4), "memory"),
        ("name", json!("a".repeat(31)), "name"),
        ("name", json!(""), "name"),
        ("storage", json!("5GB"), "storage"),
        ("version", json!("3"), "version"),
    ];
    for (key, value, field) in cases {
        let mut b = create_body();
        b[key] = value;
        let (s, body) = api.post("/instances", b).await;
        assert_api_error(
            s,
            &body,
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some(field),
        );
    }
    // free-db is only offered with 1GB in gcp europe-west1.
    let mut b = create_body();
    b["type"] = json!("free-db");
    b["memory"] = json!("2GB");
    let (s, body) = api.post("/instances", b).await;
    assert_api_error(
        s,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid-field",
        Some("memory"),
    );
    let mut b = create_body();
    b["type"] = json!("free-db");
    b["memory"] = json!("1GB");
    b["region"] = json!("us-central1");
    let (s, body) = api.post("/instances", b).await;
    assert_api_error(
        s,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid-field",
        Some("region"),
    );
    // 30 characters is still fine.
    let mut b = create_body();
    b["name"] = json!("a".repeat(30));
    let (s, _) = api.post("/instances", b).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(sim.state().instances().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn no_json_content_type_is_415() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let body = create_body().to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = http()
            .post(format!("{}/v1/instances", api.base))
            .bearer_auth(&api.token)
            .body(body.clone());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        request_id(&resp);
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert_api_error(
            status,
            &v,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            None,
        );
    }
    // PATCH and pause need it too; charset parameters are fine.
    let created = sim
        .state()
        .console_create(&serde_json::from_value(create_body()).unwrap())
        .unwrap();
    let id = created.instance.id;
    let resp = http()
        .patch(format!("{}/v1/instances/{id}", api.base))
        .bearer_auth(&api.token)
        .body(r#"{"name":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = http()
        .post(format!("{}/v1/instances/{id}/pause", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = http()
        .patch(format!("{}/v1/instances/{id}", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"name":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(sim.state().instances().len() == 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_or_bad_token_is_401() {
    let sim = start(|_| {}).await;
    let base = sim.base_url();
    for auth in [
        None,
        Some("Bearer not-a-token"),
        Some("Basic Zm9vOmJhcg=="),
        Some("Bearer"),
    ] {
        let mut req = http().get(format!("{base}/v1/tenants"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        request_id(&resp);
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert_api_error(status, &v, StatusCode::UNAUTHORIZED, "unauthorized", None);
    }
    // Bad client credentials: OAuth-style 401.
    let resp = token_call(&base, CLIENT, "wrong").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "access_denied");
    assert!(v["error_description"].is_string());
    let resp = token_call(&base, "nobody", SECRET).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Wrong grant type: 400 unsupported_grant_type.
    let resp = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    request_id(&resp);
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "unsupported_grant_type");
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_403() {
    let sim = start(|c| c.token_ttl_seconds = 1).await;
    let resp = token_call(&sim.base_url(), CLIENT, SECRET).await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["expires_in"], 1);
    let api = Api::new(&sim).await;
    let (s, _) = api.get("/tenants").await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, body) = api.get("/tenants").await;
    assert_api_error(s, &body, StatusCode::FORBIDDEN, "forbidden", None);
    // A fresh token works again.
    let api = Api::new(&sim).await;
    let (s, _) = api.get("/tenants").await;
    assert_eq!(s, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_tenant_is_404_tenant_not_found() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let other = "00000000-0000-4000-8000-000000000000";
    let (s, body) = api.get(&format!("/tenants/{other}")).await;
    assert_api_error(s, &body, StatusCode::NOT_FOUND, "tenant-not-found", None);
    let (s, body) = api.get(&format!("/instances?tenantId={other}")).await;
    assert_api_error(s, &body, StatusCode::NOT_FOUND, "tenant-not-found", None);
    let mut b = create_body();
    b["tenant_id"] = json!(other);
    let (s, body) = api.post("/instances", b).await;
    assert_api_error(s, &body, StatusCode::NOT_FOUND, "tenant-not-found", None);
    assert!(sim.state().instances().is_empty());
    // The known tenant carries its catalogue.
    let (s, body) = api.get(&format!("/tenants/{TENANT}")).await;
    assert_eq!(s, StatusCode::OK);
    let configs = body["data"]["instance_configurations"].as_array().unwrap();
    assert!(
        configs
            .iter()
            .any(|c| c["region_name"] == "Belgium (europe-west1)"
                && c["type"] == "free-db"
                && c["memory"] == "1GB")
    );
    let (s, body) = api.get("/instances/deadbeef").await;
    assert_api_error(s, &body, StatusCode::NOT_FOUND, "db-not-found", None);
    sim.shutdown().await;
}

#[tokio::test]
async fn request_rate_limit_is_429_with_retry_after() {
    let sim = start(|c| c.requests_per_minute = 3).await;
    let api = Api::new(&sim).await;
    for _ in 0..3 {
        assert_eq!(api.get("/tenants").await.0, StatusCode::OK);
    }
    let resp = http()
        .get(format!("{}/v1/tenants", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    request_id(&resp);
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    let v: Value = resp.json().await.unwrap();
    assert_api_error(
        StatusCode::TOO_MANY_REQUESTS,
        &v,
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limit-exceeded",
        None,
    );
    let c = sim.state().counters();
    assert_eq!(c.rate_limited_requests, 1);
    assert_eq!(c.by_client[CLIENT], 4);
    assert_eq!(c.by_route["GET /v1/tenants"], 4);
    sim.state().reset_limits();
    assert_eq!(api.get("/tenants").await.0, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn sixteenth_token_call_in_an_hour_is_429() {
    let sim = start(|_| {}).await;
    let base = sim.base_url();
    // A failed call counts too.
    assert_eq!(
        token_call(&base, CLIENT, "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..14 {
        assert_eq!(
            token_call(&base, CLIENT, SECRET).await.status(),
            StatusCode::OK
        );
    }
    let resp = token_call(&base, CLIENT, SECRET).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 3000 && retry <= 3600, "retry-after {retry}");
    let v: Value = resp.json().await.unwrap();
    assert!(v["errors"][0]["reason"].is_string());
    let c = sim.state().counters();
    assert_eq!(c.token_calls, 16);
    assert_eq!(c.token_calls_by_client[CLIENT], 16);
    assert_eq!(c.tokens_issued, 14);
    assert_eq!(c.rate_limited_tokens, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn rename_is_200_resize_is_202() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let (s, body) = api.post("/instances", create_body()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let id = body["data"]["id"].as_str().unwrap().to_string();
    // Busy while creating.
    let (s, b) = api
        .patch(&format!("/instances/{id}"), json!({"memory": "8GB"}))
        .await;
    assert_api_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "ongoing-database-operation",
        None,
    );
    api.wait_status(&id, "running").await;
    let (s, b) = api
        .patch(&format!("/instances/{id}"), json!({"name": "Renamed"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"]["name"], "Renamed");
    assert_eq!(b["data"]["status"], "running");
    let (s, b) = api
        .patch(&format!("/instances/{id}"), json!({"memory": "256GB"}))
        .await;
    assert_api_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid-field",
        Some("memory"),
    );
    let (s, b) = api
        .patch(&format!("/instances/{id}"), json!({"name": ""}))
        .await;
    assert_api_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid-field",
        Some("name"),
    );
    let (s, b) = api.patch(&format!("/instances/{id}"), json!({})).await;
    assert_api_error(s, &b, StatusCode::BAD_REQUEST, "bad-request", None);
    let (s, b) = api
        .patch(
            &format!("/instances/{id}"),
            json!({"memory": "8GB", "storage": "16GB"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(b["data"]["status"], "updating");
    let (s, b) = api.post(&format!("/instances/{id}/pause"), json!({})).await;
    assert_api_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "ongoing-database-operation",
        None,
    );
    api.wait_status(&id, "running").await;
    let (_, b) = api.get(&format!("/instances/{id}")).await;
    assert_eq!(b["data"]["memory"], "8GB");
    assert_eq!(b["data"]["storage"], "16GB");
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_is_202_then_404() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let (_, body) = api.post("/instances", create_body()).await;
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let (s, b) = api.delete(&format!("/instances/{id}")).await;
    assert_api_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "ongoing-database-operation",
        None,
    );
    api.wait_status(&id, "running").await;
    let (s, b) = api.delete(&format!("/instances/{id}")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(b["data"]["status"], "destroying");
    // The API answers 202 at most once.
    let (s, b) = api.delete(&format!("/instances/{id}")).await;
    assert_api_error(s, &b, StatusCode::NOT_FOUND, "db-not-found", None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (s, b) = api.get(&format!("/instances/{id}")).await;
    assert_api_error(s, &b, StatusCode::NOT_FOUND, "db-not-found", None);
    let (s, b) = api.delete(&format!("/instances/{id}")).await;
    assert_api_error(s, &b, StatusCode::NOT_FOUND, "db-not-found", None);
    let (_, b) = api.get("/instances").await;
    assert_eq!(b["data"], json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn failed_create_response_still_commits_exactly_one() {
    let sim = start(|c| {
        c.faults = Faults {
            fail_creates: 1,
            ..Default::default()
        }
    })
    .await;
    let api = Api::new(&sim).await;
    let (s, b) = api.post("/instances", create_body()).await;
    assert_api_error(
        s,
        &b,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-server-error",
        None,
    );
    let (s, b) = api.get(&format!("/instances?tenantId={TENANT}")).await;
    assert_eq!(s, StatusCode::OK);
    let list = b["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{b}");
    assert_eq!(list[0]["name"], "Instance01");
    assert!(list[0].get("status").is_none(), "no status in the list");
    let id = list[0]["id"].as_str().unwrap();
    assert!(
        sim.state()
            .issued_password(id)
            .is_some_and(|p| p.len() >= 16)
    );
    assert_eq!(sim.state().faults().fail_creates, 0);
    assert_eq!(sim.state().counters().failed_creates, 1);

    // Drop mode: the caller sees a closed connection, the instance exists.
    sim.state().set_faults(Faults {
        fail_creates: 1,
        fail_create_mode: CreateFailMode::Drop,
        ..Default::default()
    });
    let mut b = create_body();
    b["name"] = json!("Second");
    let err = http()
        .post(format!("{}/v1/instances", api.base))
        .bearer_auth(&api.token)
        .json(&b)
        .send()
        .await
        .expect_err("connection dropped");
    assert!(!err.is_timeout(), "{err}");
    let (_, b) = api.get("/instances").await;
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    // The next create answers normally.
    let (s, b) = api.post("/instances", create_body()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(
        b["data"]["password"],
        sim.state()
            .issued_password(b["data"]["id"].as_str().unwrap())
            .unwrap()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_carry_request_ids() {
    let sim = start(|_| {}).await;
    let base = sim.base_url();
    let resp = http()
        .get(format!("{base}/v2/nothing"))
        .send()
        .await
        .unwrap();
    request_id(&resp);
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let v: Value = resp.json().await.unwrap();
    assert!(v["errors"][0]["reason"].is_string());
    let resp = http()
        .put(format!("{base}/v1/tenants"))
        .send()
        .await
        .unwrap();
    request_id(&resp);
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let c = sim.state().counters();
    assert_eq!(c.by_route["GET (unmatched)"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn walkthrough_and_admin_side_door() {
    let sim = start(|_| {}).await;
    let v: Value = token_call(&sim.base_url(), CLIENT, SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["expires_in"], 3600);
    let api = Api::new(&sim).await;
    let (s, b) = api.get("/tenants").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"], json!([{"id": TENANT, "name": "Test"}]));
    let (s, b) = api.post("/instances", create_body()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let d = &b["data"];
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 8);
    assert!(id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    assert_eq!(
        d["connection_url"],
        format!("neo4j+s://{id}.databases.neo4j.io")
    );
    assert_eq!(d["username"], "neo4j");
    assert!(d.get("status").is_none());
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));
    let (_, g) = api.get(&format!("/instances/{id}")).await;
    assert_eq!(g["data"]["status"], "creating");
    assert!(g["data"].get("password").is_none());
    api.wait_status(&id, "running").await;

    // Admin over HTTP: instances with passwords, counters, faults, console edits.
    let admin: Value = http()
        .get(format!("{}/admin/instances", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin[0]["password"], d["password"]);
    assert_eq!(admin[0]["status"], "running");
    let counters: Value = http()
        .get(format!("{}/admin/counters", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["by_route"]["POST /v1/instances"], 1);
    assert_eq!(counters["by_route"]["POST /oauth/token"], 2);
    assert!(
        counters["by_route"]["GET /v1/instances/{id}"]
            .as_u64()
            .unwrap()
            >= 2
    );
    let resp = http()
        .patch(format!("{}/admin/faults", api.base))
        .json(&json!({"error_rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (s, _) = api.get("/tenants").await;
    assert!(s.is_server_error(), "{s}");
    let resp = http()
        .patch(format!("{}/admin/faults", api.base))
        .json(&json!({"error_rate": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    sim.state().set_faults(Faults::default());
    let resp = http()
        .patch(format!("{}/admin/instances/{id}", api.base))
        .json(&json!({"memory": "16GB", "paused": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, g) = api.get(&format!("/instances/{id}")).await;
    assert_eq!(g["data"]["memory"], "16GB");
    assert_eq!(g["data"]["status"], "paused");
    sim.state()
        .console_update(
            &id,
            &ConsoleUpdate {
                name: Some("Drifted".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (_, g) = api.get(&format!("/instances/{id}")).await;
    assert_eq!(g["data"]["name"], "Drifted");
    let resp = http()
        .post(format!("{}/admin/counters/reset", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.state().counters().requests_total, 0);
    assert!(sim.state().console_delete(&id));
    let (s, _) = api.get(&format!("/instances/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[tokio::test]
async fn pause_resume_and_upgrade_rules() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let id = sim
        .state()
        .console_create(&serde_json::from_value(create_body()).unwrap())
        .unwrap()
        .instance
        .id;
    let (s, b) = api
        .post(&format!("/instances/{id}/resume"), json!({}))
        .await;
    assert_api_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid-instance-state",
        None,
    );
    let (s, b) = api
        .post(
            &format!("/instances/{id}/upgrade"),
            json!({"type": "enterprise-db"}),
        )
        .await;
    assert_api_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid-field",
        Some("type"),
    );
    let (s, b) = api
        .post(
            &format!("/instances/{id}/upgrade"),
            json!({"type": "business-critical"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["type"], "business-critical");
    api.wait_status(&id, "running").await;
    let (s, b) = api
        .post(
            &format!("/instances/{id}/upgrade"),
            json!({"type": "business-critical"}),
        )
        .await;
    assert_api_error(s, &b, StatusCode::BAD_REQUEST, "unsupported-upgrade", None);
    let (s, b) = api.post(&format!("/instances/{id}/pause"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(b["data"]["status"], "pausing");
    api.wait_status(&id, "paused").await;
    let (s, b) = api.post(&format!("/instances/{id}/pause"), json!({})).await;
    assert_api_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid-instance-state",
        None,
    );
    let (s, _) = api
        .post(&format!("/instances/{id}/resume"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    api.wait_status(&id, "running").await;
    let (s, b) = api
        .post(&format!("/instances/{id}/snapshots"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let sid = b["data"]["snapshot_id"].as_str().unwrap().to_string();
    let (s, b) = api.get(&format!("/instances/{id}/snapshots/nope")).await;
    assert_api_error(s, &b, StatusCode::NOT_FOUND, "snapshot-not-found", None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, b) = api.get(&format!("/instances/{id}/snapshots/{sid}")).await;
    assert_eq!(b["data"]["status"], "Completed");
    let (s, b) = api
        .post(
            &format!("/instances/{id}/snapshots/{sid}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(b["data"]["status"], "restoring");
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_fault_closes_the_connection_without_an_answer() {
    let sim = start(|c| {
        c.faults = Faults {
            drop_rate: 1.0,
            ..Default::default()
        }
    })
    .await;
    let api = Api::new(&sim).await;
    let err = http()
        .get(format!("{}/v1/tenants", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect_err("dropped");
    assert!(!err.is_timeout());
    let c = sim.state().counters();
    assert_eq!(c.dropped_connections, 1);
    assert_eq!(c.by_status["dropped"], 1);
    assert!(!c.by_status.contains_key("500"));
    sim.shutdown().await;
}

/// Sends a request whose answer must be a JSON error: request id, JSON
/// content type, parseable body. Never prints bodies that may hold secrets
/// (error bodies do not).
async fn json_error(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    request_id(&resp);
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.unwrap();
    let short: String = text.chars().take(300).collect();
    assert!(
        ct.starts_with("application/json"),
        "{status}: content-type {ct:?}, body {short:?}"
    );
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: non-JSON body {short:?}: {e}"));
    (status, v)
}

/// `{"error", "error_description"}`, the token endpoint's error shape.
fn assert_oauth_error(status: StatusCode, body: &Value, want: StatusCode) {
    assert_eq!(status, want, "body: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(body["error_description"].is_string(), "{body}");
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn admin_timings_refuse_out_of_range_values_and_never_panic() {
    let sim = start(|_| {}).await;
    let base = sim.base_url();
    let before = sim.state().timings();
    let cases = [
        ("PATCH", json!({"pause": 1e308}), "pause"),
        ("PATCH", json!({"pause": 1e19}), "pause"),
        ("PATCH", json!({"create": -1}), "create"),
        ("PATCH", json!({"settle_grace": 86_400.5}), "settle_grace"),
        ("PUT", json!({"destroy": -0.5}), "destroy"),
        ("PUT", json!({"snapshot": 1e300, "pause": 1.0}), "snapshot"),
    ];
    for (method, body, field) in cases {
        let req = http()
            .request(method.parse().unwrap(), format!("{base}/admin/timings"))
            .json(&body);
        let (s, v) = json_error(req).await;
        assert_api_error(s, &v, StatusCode::BAD_REQUEST, "invalid-field", Some(field));
    }
    assert_eq!(sim.state().timings(), before, "nothing was applied");
    // The bounds themselves are fine.
    let resp = http()
        .patch(format!("{base}/admin/timings"))
        .json(&json!({"pause": 86_400, "resume": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.state().timings().pause, 86_400.0);

    // Defence in depth: values that get in without validation (in-process)
    // must not bring the server down when an instance is paused.
    let api = Api::new(&sim).await;
    let new_instance = || async {
        sim.state()
            .console_create(&serde_json::from_value(create_body()).unwrap())
            .unwrap()
            .instance
            .id
    };
    let id = new_instance().await;
    let mut t = sim.state().timings();
    t.pause = 1e19;
    sim.state().set_timings(t.clone());
    let (s, b) = api.post(&format!("/instances/{id}/pause"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["data"]["status"], "pausing");
    // A huge grace after an instant pause.
    let id = new_instance().await;
    t.pause = 0.0;
    t.settle_grace = f64::INFINITY;
    sim.state().set_timings(t.clone());
    let (s, _) = api.post(&format!("/instances/{id}/pause"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    api.wait_status(&id, "paused").await;
    t.settle_grace = 1e19;
    t.create = f64::NAN;
    sim.state().set_timings(t);
    let (s, b) = api.post("/instances", create_body()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{}", redacted(&b));
    let (s, _) = api.get("/tenants").await;
    assert_eq!(s, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_token_clients_leave_no_state() {
    let sim = start(|_| {}).await;
    let base = sim.base_url();
    let api = Api::new(&sim).await;
    assert_eq!(api.get("/tenants").await.0, StatusCode::OK);
    assert_eq!(sim.state().tracked_clients(), 1);

    let client = http();
    let calls = 3_000;
    let statuses: Vec<StatusCode> = futures::stream::iter(0..calls)
        .map(|i| {
            let client = client.clone();
            let base = base.clone();
            async move {
                let id = uuid::Uuid::new_v4().to_string();
                let req = client.post(format!("{base}/oauth/token"));
                let req = if i % 2 == 0 {
                    req.basic_auth(&id, Some("whatever"))
                        .form(&[("grant_type", "client_credentials")])
                } else {
                    req.form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", id.as_str()),
                        ("client_secret", "whatever"),
                    ])
                };
                req.send().await.unwrap().status()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "every made-up client is refused"
    );
    assert_eq!(
        sim.state().tracked_clients(),
        1,
        "only the configured client has per-client state"
    );
    // An unknown id is refused, never rate limited (it has no window).
    for _ in 0..20 {
        assert_eq!(
            token_call(&base, "nobody", "x").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let c = sim.state().counters();
    assert_eq!(c.token_calls, calls + 21);
    assert_eq!(c.token_calls_by_client["(unknown)"], calls + 20);
    assert_eq!(c.token_calls_by_client[CLIENT], 1);
    assert_eq!(c.token_calls_by_client.len(), 2);
    assert_eq!(c.rate_limited_tokens, 0);
    assert_eq!(sim.state().tracked_clients(), 1);
    // The known client keeps its real limit: 15 calls per hour, wrong secret included.
    assert_eq!(
        token_call(&base, CLIENT, "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..13 {
        assert_eq!(
            token_call(&base, CLIENT, SECRET).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        token_call(&base, CLIENT, SECRET).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn every_error_has_the_documented_json_shape() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let base = api.base.clone();
    let id = sim
        .state()
        .console_create(&serde_json::from_value(create_body()).unwrap())
        .unwrap()
        .instance
        .id;
    let big = |n: usize| format!("{{\"name\": \"{}\"}}", "a".repeat(n));

    // 413 for oversized bodies, wherever the limit is applied.
    let (s, v) = json_error(
        http()
            .post(format!("{base}/v1/instances"))
            .bearer_auth(&api.token)
            .header("content-type", "application/json")
            .body(big(1_500_000)),
    )
    .await;
    assert_api_error(
        s,
        &v,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        None,
    );
    let (s, v) = json_error(
        http()
            .patch(format!("{base}/v1/instances/{id}"))
            .bearer_auth(&api.token)
            .header("content-type", "application/json")
            .body(big(3_000_000)),
    )
    .await;
    assert_api_error(
        s,
        &v,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        None,
    );
    let (s, v) = json_error(
        http()
            .post(format!("{base}/oauth/token"))
            .basic_auth(CLIENT, Some(SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&pad={}",
                "a".repeat(3_000_000)
            )),
    )
    .await;
    assert_oauth_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, v) = json_error(
        http()
            .patch(format!("{base}/admin/timings"))
            .header("content-type", "application/json")
            .body(big(3_000_000)),
    )
    .await;
    assert_api_error(
        s,
        &v,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        None,
    );

    // 405: API shape on /v1, OAuth shape on the token endpoint.
    let (s, v) = json_error(http().put(format!("{base}/v1/tenants"))).await;
    assert_api_error(
        s,
        &v,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        None,
    );
    let (s, v) = json_error(http().get(format!("{base}/oauth/token"))).await;
    assert_oauth_error(s, &v, StatusCode::METHOD_NOT_ALLOWED);

    // 415 and malformed JSON.
    let (s, v) = json_error(
        http()
            .post(format!("{base}/v1/instances"))
            .bearer_auth(&api.token)
            .header("content-type", "text/plain")
            .body(create_body().to_string()),
    )
    .await;
    assert_api_error(
        s,
        &v,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        None,
    );
    let (s, v) = json_error(
        http()
            .patch(format!("{base}/v1/instances/{id}"))
            .bearer_auth(&api.token)
            .header("content-type", "application/json")
            .body("{\"name\": "),
    )
    .await;
    assert_api_error(s, &v, StatusCode::BAD_REQUEST, "bad-request", None);

    // A path axum cannot decode (invalid UTF-8) is a 400 in the API shape.
    let (s, v) = json_error(
        http()
            .get(format!("{base}/v1/instances/%FF%FE"))
            .bearer_auth(&api.token),
    )
    .await;
    assert_api_error(s, &v, StatusCode::BAD_REQUEST, "bad-request", None);

    // Errors already in a documented shape are left alone.
    let (s, v) = json_error(
        http()
            .post(format!("{base}/oauth/token"))
            .basic_auth(CLIENT, Some("wrong"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_oauth_error(s, &v, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "access_denied");
    let (s, v) = json_error(http().get(format!("{base}/v1/instances/{id}"))).await;
    assert_api_error(s, &v, StatusCode::UNAUTHORIZED, "unauthorized", None);
    // The instance was never touched.
    assert_eq!(sim.state().instances().len(), 1);
    assert_eq!(
        sim.state().instances()[0].instance.name.as_deref(),
        Some("Instance01")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn control_characters_in_names_are_refused() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    for bad in [
        "a\u{0}b",
        "\u{0}",
        "two\nlines",
        "esc\u{1b}[31m",
        "del\u{7f}",
    ] {
        let mut b = create_body();
        b["name"] = json!(bad);
        let (s, body) = api.post("/instances", b).await;
        assert_api_error(
            s,
            &body,
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("name"),
        );
    }
    assert!(sim.state().instances().is_empty());
    // Any other UTF-8 is a fine name.
    let mut b = create_body();
    b["name"] = json!("Zürich ☃ 東京");
    let (s, body) = api.post("/instances", b).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let id = body["data"]["id"].as_str().unwrap().to_string();
    // A rename is held to the same rule (a rename applies in any state).
    for bad in ["x\u{0}", "\u{0}y", "tab\there"] {
        let (s, b) = api
            .patch(&format!("/instances/{id}"), json!({"name": bad}))
            .await;
        assert_api_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("name"),
        );
    }
    let (s, b) = api.get(&format!("/instances/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"]["name"], "Zürich ☃ 東京");
    sim.shutdown().await;
}

/// Collects what a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn admin_beyond_loopback_is_warned_at_start() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    // This test's thread only (the runtime is current-thread).
    let _guard = tracing::subscriber::set_default(subscriber);
    let sim = start(|_| {}).await;
    sim.shutdown().await;
    assert!(
        !logs.text().contains("/admin"),
        "no warning on loopback: {}",
        logs.text()
    );
    let sim = start(|c| c.listen = "0.0.0.0:0".parse().unwrap()).await;
    sim.shutdown().await;
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("/admin is unauthenticated"),
        "warned: {text}"
    );
}

/// Manual check with curl: `SIM_LISTEN=127.0.0.1:8080 cargo test --test
/// simulator_bad_input serve_for_curl -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn serve_for_curl() {
    let listen = std::env::var("SIM_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let secs: u64 = std::env::var("SIM_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let sim = Simulator::start(SimulatorConfig {
        listen: listen.parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    println!("listening {}", sim.base_url());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_can_answer_401_as_the_gateway_does() {
    let sim = start(|c| {
        c.token_ttl_seconds = 1;
        c.faults.expired_token = ExpiredToken::Unauthorized;
    })
    .await;
    let api = Api::new(&sim).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, body) = api.get("/tenants").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("expired")),
        "{body}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn retry_after_can_be_an_http_date() {
    let sim = start(|c| {
        c.faults.rate_limit_rate = 1.0;
        c.faults.rate_limit_retry_after = 30;
        c.faults.retry_after_http_date = true;
    })
    .await;
    let api = Api::new(&sim).await;
    let resp = http()
        .get(format!("{}/v1/tenants", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let header = resp.headers()["retry-after"].to_str().unwrap().to_string();
    let at = httpdate::parse_http_date(&header).unwrap_or_else(|e| panic!("{header}: {e}"));
    let wait = at.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(
        wait > Duration::from_secs(28) && wait <= Duration::from_secs(31),
        "{wait:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_token_endpoint_fails_when_told() {
    let sim = start(|c| c.faults.token_error_rate = 1.0).await;
    let base = sim.base_url();
    let (s, body) = json_error(
        http()
            .post(format!("{base}/oauth/token"))
            .basic_auth(CLIENT, Some(SECRET))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert!(s.is_server_error(), "{s}");
    assert_oauth_error(s, &body, s);
    sim.state().update_faults(|f| {
        f.token_error_rate = 0.0;
        f.token_drop_rate = 1.0;
    });
    let e = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap_err();
    assert!(!e.is_status(), "{e}");
    assert!(sim.state().counters().dropped_connections >= 1);
    sim.state().update_faults(|f| f.token_drop_rate = 0.0);
    token(&base).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_snapshot_list_is_of_one_day_today_by_default() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let (s, created) = api.post("/instances", create_body()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // The 202 carries the two options as set, as the spec's example does.
    assert_eq!(created["data"]["vector_optimized"], false);
    assert_eq!(created["data"]["graph_analytics_plugin"], false);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    api.wait_status(&id, "running").await;
    let (s, _) = api
        .post(&format!("/instances/{id}/snapshots"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let count = |v: &Value| v["data"].as_array().map(Vec::len);
    let (_, list) = api.get(&format!("/instances/{id}/snapshots")).await;
    assert_eq!(count(&list), Some(1));
    let (_, list) = api
        .get(&format!("/instances/{id}/snapshots?date={today}"))
        .await;
    assert_eq!(count(&list), Some(1));
    let (_, list) = api
        .get(&format!("/instances/{id}/snapshots?date=2020-01-01"))
        .await;
    assert_eq!(count(&list), Some(0));
    for bad in ["yesterday", "2020-1-1", "2020-13-01", "20200101"] {
        let (s, body) = api
            .get(&format!("/instances/{id}/snapshots?date={bad}"))
            .await;
        assert_api_error(
            s,
            &body,
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("date"),
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_instance_list_can_lag_behind_a_create() {
    let sim = start(|c| c.list_delay_seconds = 1.0).await;
    let api = Api::new(&sim).await;
    let mut body = create_body();
    body["vector_optimized"] = true.into();
    let (s, created) = api.post("/instances", body).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(created["data"]["vector_optimized"], true);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let listed = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str())
    };
    let (_, list) = api.get("/instances").await;
    assert!(!listed(&list));
    let (s, _) = api.get(&format!("/instances/{id}")).await;
    assert_eq!(s, StatusCode::OK, "the instance itself is there");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, list) = api.get("/instances").await;
    assert!(listed(&list));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_overwrite_from_an_instance_shows_in_the_sources_snapshots() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim).await;
    let mut ids = Vec::new();
    for name in ["source", "target"] {
        let mut body = create_body();
        body["name"] = name.into();
        let (_, created) = api.post("/instances", body).await;
        ids.push(created["data"]["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        api.wait_status(id, "running").await;
    }
    let (s, _) = api
        .post(
            &format!("/instances/{}/overwrite", ids[1]),
            json!({"source_instance_id": ids[0]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, list) = api.get(&format!("/instances/{}/snapshots", ids[0])).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    let (_, list) = api.get(&format!("/instances/{}/snapshots", ids[1])).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
    sim.shutdown().await;
}

/// Tenants scoped per client id: a client given a tenant of its own sees and
/// acts in it only (another tenant's things answer the 404 of things that do
/// not exist, and lists leave them out); a client given none sees all.
#[tokio::test]
async fn a_scoped_client_sees_and_acts_in_its_own_tenant_only() {
    const OTHER: &str = "99999999-8888-4777-8666-555555555555";
    const SCOPED: &str = "scoped-client";
    let sim = start(|c| {
        c.tenants.push((OTHER.into(), "Other".into()));
        c.clients.push((SCOPED.into(), SECRET.into()));
        c.client_tenants.push((SCOPED.into(), OTHER.into()));
    })
    .await;
    let everyone = Api::new(&sim).await;
    let scoped = {
        let resp = token_call(&sim.base_url(), SCOPED, SECRET).await;
        let body: Value = resp.json().await.unwrap();
        Api {
            base: sim.base_url(),
            token: body["access_token"].as_str().unwrap().to_string(),
        }
    };
    // An instance of TENANT, made in the console.
    let theirs = sim
        .state()
        .console_create(&serde_json::from_value(create_body()).unwrap())
        .unwrap()
        .instance
        .id;

    let ids = |v: &Value, key: &str| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[key].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (status, all) = everyone.get("/tenants").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&all, "id").len(), 2, "an unscoped client sees both");
    let (_, own) = scoped.get("/tenants").await;
    assert_eq!(ids(&own, "id"), vec![OTHER.to_string()]);
    let (_, listed) = scoped.get("/instances").await;
    assert!(ids(&listed, "id").is_empty(), "{listed}");

    let cases: Vec<(reqwest::Method, String, Option<Value>, &str)> = vec![
        (
            reqwest::Method::GET,
            format!("/tenants/{TENANT}"),
            None,
            "tenant-not-found",
        ),
        (
            reqwest::Method::GET,
            format!("/instances?tenantId={TENANT}"),
            None,
            "tenant-not-found",
        ),
        (
            reqwest::Method::GET,
            format!("/instances/{theirs}"),
            None,
            "db-not-found",
        ),
        (
            reqwest::Method::DELETE,
            format!("/instances/{theirs}"),
            None,
            "db-not-found",
        ),
        (
            reqwest::Method::POST,
            format!("/instances/{theirs}/snapshots"),
            Some(json!({})),
            "db-not-found",
        ),
        (
            reqwest::Method::POST,
            "/instances".into(),
            Some(create_body()),
            "tenant-not-found",
        ),
        (
            reqwest::Method::POST,
            "/instances".into(),
            Some(
                json!({"version": "5", "region": "europe-west1", "memory": "4GB", "name": "copy",
                        "type": "professional-db", "tenant_id": OTHER, "cloud_provider": "gcp",
                        "source_instance_id": theirs}),
            ),
            "db-not-found",
        ),
    ];
    for (method, path, body, reason) in cases {
        let (status, answer) = scoped.call(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert_eq!(
            answer["errors"][0]["reason"], reason,
            "{method} {path}: {answer}"
        );
    }
    // Nothing of TENANT was touched: the instance is still there, alone.
    let (status, _) = everyone.get(&format!("/instances/{theirs}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, all_instances) = everyone.get("/instances").await;
    assert_eq!(ids(&all_instances, "id"), vec![theirs.clone()]);
    // In its own tenant the scoped client works as before.
    let mut mine = create_body();
    mine["tenant_id"] = json!(OTHER);
    let (status, created) = scoped.post("/instances", mine).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let (_, listed) = scoped.get("/instances").await;
    assert_eq!(ids(&listed, "tenant_id"), vec![OTHER.to_string()]);
}
