//! The simulator's v2beta1 instance create and GET and its multi-database
//! endpoints (databases, backups, restore) held to the vendor's document
//! and to what V2BETA1-NOTES items 82, 87 and 90 record of live.
//! Simulator only.

use std::time::{Duration, Instant};

use aura_operator::simulator::{ConsoleUpdate, Simulator, SimulatorConfig};
use serde_json::{Value, json};

use super::aura_contract_console::conformance;
use super::aura_contract_v2beta1::{ORG, OTHER_TENANT, Recorder, Spec, TENANT, config, instance};

/// Statuses the simulator answers that the document does not list for the
/// operation; each answer is a bare `{message, reason}`.
const UNDOCUMENTED: &[(&str, &str, u16)] = &[
    // Notes items 87, 90: the v2beta1 GET of a v1-made instance.
    (
        "GET",
        "/organizations/{org_id}/projects/{project_id}/instances/{instance_id}",
        500,
    ),
];

fn instances(project: &str) -> String {
    format!("/v2beta1/organizations/{ORG}/projects/{project}/instances")
}

fn reason(v: &Value) -> Option<&str> {
    v["reason"].as_str()
}

fn sim_config() -> SimulatorConfig {
    SimulatorConfig {
        create_seconds: 0.2,
        database_backup_seconds: Some(0.6),
        ..config()
    }
}

/// A placement of the default catalogue for the v1 type, in v2beta1 words.
fn create_body(tier: &str, v1_type: &str, name: &str) -> Value {
    let o = aura_operator::simulator::default_catalogue()
        .into_iter()
        .find(|c| c.instance_type == v1_type && c.version == "5")
        .unwrap();
    json!({"name": name, "type": tier, "cloud_provider": o.cloud_provider,
        "region": o.region, "memory": o.memory})
}

async fn wait_running(r: &mut Recorder, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = r.call("GET", path, None).await;
        if s == 200 && v["data"]["legacy_status"] == "running" {
            return;
        }
        assert!(Instant::now() < deadline, "never running: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn v2beta1_creates_and_gets_instances_as_live() {
    let spec = Spec::load();
    let sim = Simulator::start(sim_config())
        .await
        .expect("simulator starts");
    let mut r = Recorder::new(&sim.base_url()).await;
    let st = sim.state();

    let mut body = create_body("business-critical", "business-critical", "multi");
    body["multi_database"] = true.into();
    body["graph_analytics"] = "serverless".into();
    let (s, made) = r.call("POST", &instances(TENANT), Some(body)).await;
    assert_eq!(s, 202, "{made}");
    let d = &made["data"];
    assert_eq!(
        (
            d["type"].as_str(),
            d["project_id"].as_str(),
            d["legacy_status"].as_str(),
            d["multi_database"].as_bool(),
            d["username"].as_str()
        ),
        (
            Some("business-critical"),
            Some(TENANT),
            Some("creating"),
            Some(true),
            Some("neo4j")
        )
    );
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(st.issued_password(&id).as_deref(), d["password"].as_str());
    assert_eq!(st.multi_database(&id), Some(true));
    assert_eq!(
        st.databases(&id)[0].id,
        d["default_database_id"].as_str().unwrap()
    );
    // v1 sees it; it is counted and recorded as a create.
    assert_eq!(
        r.call("GET", &format!("/v1/instances/{id}"), None).await.0,
        200
    );
    assert_eq!(st.counters().creates_committed, 1);
    let rec = st.recent_creates();
    assert_eq!(
        (
            rec.len(),
            rec[0].body["type"].as_str(),
            rec[0].instance_id.as_deref()
        ),
        (1, Some("business-critical"), Some(id.as_str()))
    );

    // Each tier its v1 type; unknown keys are ignored (notes item 87).
    let mut vdc = create_body("virtual-dedicated-cloud", "enterprise-db", "vdc");
    vdc["bogus"] = "ignored".into();
    vdc["version"] = "4".into();
    let (s, v) = r.call("POST", &instances(TENANT), Some(vdc)).await;
    assert_eq!(
        (s, v["data"]["type"].as_str()),
        (202, Some("enterprise-db")),
        "{v}"
    );
    let mut free = create_body("free", "free-db", "free");
    free.as_object_mut().unwrap().remove("memory");
    let (s, v) = r.call("POST", &instances(TENANT), Some(free)).await;
    assert_eq!(
        (s, v["data"]["type"].as_str()),
        (202, Some("free-db")),
        "{v}"
    );
    assert_eq!(v["data"]["multi_database"], false);

    // (body, reason)
    let mut pro_multi = create_body("professional", "professional-db", "x");
    pro_multi["multi_database"] = true.into();
    let mut free_multi = create_body("free", "free-db", "x");
    free_multi["multi_database"] = true.into();
    let refusals = [
        (
            create_body("professional-db", "professional-db", "x"),
            "validation-error",
        ),
        (pro_multi, "multi-database-tier-not-supported"),
        (free_multi, "multi-database-tier-not-supported"),
        (
            json!({"type": "professional", "name": "x"}),
            "validation-error",
        ),
    ];
    for (body, want) in refusals {
        let (s, e) = r.call("POST", &instances(TENANT), Some(body.clone())).await;
        assert_eq!((s, reason(&e)), (400, Some(want)), "{body}: {e}");
    }
    let (_, e) = r
        .call(
            "POST",
            &instances(TENANT),
            Some(create_body("professional-db", "professional-db", "x")),
        )
        .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("free, professional, business-critical, virtual-dedicated-cloud"),
        "{e}"
    );
    assert_eq!(
        st.counters().creates_committed,
        3,
        "refusals create nothing"
    );

    // GET: multi_database and legacy_status; 500 for a v1-made instance.
    let path = format!("{}/{id}", instances(TENANT));
    wait_running(&mut r, &path).await;
    let (_, got) = r.call("GET", &path, None).await;
    assert_eq!(
        (
            got["data"]["multi_database"].as_bool(),
            got["data"]["graph_analytics"].as_str()
        ),
        (Some(true), Some("serverless"))
    );
    let v1_made = instance(&sim, TENANT, "v1-made");
    let (s, _) = r
        .call("GET", &format!("{}/{v1_made}", instances(TENANT)), None)
        .await;
    assert_eq!(s, 500, "live answers 500 for a v1-made instance");
    assert_eq!(st.multi_database(&v1_made), None);
    let (s, e) = r
        .call("GET", &format!("{}/{id}", instances(OTHER_TENANT)), None)
        .await;
    assert_eq!(s, 404, "another organization's project: {e}");
    let (s, list) = r.call("GET", &instances(TENANT), None).await;
    assert_eq!((s, list["data"].as_array().map(Vec::len)), (200, Some(4)));

    let problems = conformance(&spec, &r, UNDOCUMENTED);
    assert!(
        problems.is_empty(),
        "non-conforming:\n{}",
        problems.join("\n")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn databases_backups_and_restores_as_live() {
    let spec = Spec::load();
    let sim = Simulator::start(sim_config())
        .await
        .expect("simulator starts");
    let mut r = Recorder::new(&sim.base_url()).await;
    let st = sim.state();
    let mut body = create_body("business-critical", "business-critical", "multi");
    body["multi_database"] = true.into();
    let (_, made) = r.call("POST", &instances(TENANT), Some(body)).await;
    let id = made["data"]["id"].as_str().unwrap().to_string();
    let inst = format!("{}/{id}", instances(TENANT));
    let dbs = format!("{inst}/databases");

    // Not running yet.
    let (s, e) = r.call("POST", &dbs, Some(json!({"name": "movies"}))).await;
    assert_eq!((s, reason(&e)), (409, Some("instance-not-running")), "{e}");
    wait_running(&mut r, &inst).await;
    let (s, list) = r.call("GET", &dbs, None).await;
    assert_eq!(
        (
            s,
            list["data"][0]["name"].as_str(),
            list["data"][0]["id"].as_str()
        ),
        (
            200,
            Some("neo4j"),
            made["data"]["default_database_id"].as_str()
        )
    );
    let default = format!("{dbs}/{}", list["data"][0]["id"].as_str().unwrap());
    let (s, movies) = r.call("POST", &dbs, Some(json!({"name": "movies"}))).await;
    assert_eq!((s, movies["data"]["name"].as_str()), (201, Some("movies")));
    let movies = format!("{dbs}/{}", movies["data"]["id"].as_str().unwrap());
    // (body, status, reason)
    let refusals = [
        (json!({"name": "movies"}), 422, "validation-error"),
        (json!({"name": "Bad_Name"}), 422, "validation-error"),
        (json!({"name": "db"}), 422, "validation-error"),
        (json!({}), 400, "validation-error"),
    ];
    for (body, status, want) in refusals {
        let (s, e) = r.call("POST", &dbs, Some(body.clone())).await;
        assert_eq!((s, reason(&e)), (status, Some(want)), "{body}: {e}");
    }
    // A single-database instance, v2beta1- or v1-made: 409 multi-db-only.
    let (_, single) = r
        .call(
            "POST",
            &instances(TENANT),
            Some(create_body("professional", "professional-db", "single")),
        )
        .await;
    let single = single["data"]["id"].as_str().unwrap().to_string();
    for other in [single, instance(&sim, TENANT, "v1-made")] {
        let path = format!("{}/{other}/databases", instances(TENANT));
        let (s, e) = r.call("POST", &path, Some(json!({"name": "movies"}))).await;
        assert_eq!((s, reason(&e)), (409, Some("multi-db-only")), "{e}");
        let (s, list) = r.call("GET", &path, None).await;
        assert_eq!((s, list["data"][0]["name"].as_str()), (200, Some("neo4j")));
    }
    let (s, got) = r.call("GET", &movies, None).await;
    assert_eq!((s, got["data"]["name"].as_str()), (200, Some("movies")));
    let (s, e) = r.call("GET", &format!("{dbs}/nope"), None).await;
    assert_eq!((s, reason(&e)), (404, Some("database-not-found")));

    // Backups: Pending, then InProgress, then Completed.
    let (s, b) = r.call("POST", &format!("{movies}/backups"), None).await;
    assert_eq!(s, 202, "{b}");
    let backup = b["data"]["id"].as_str().unwrap().to_string();
    let (s, early) = r
        .call("GET", &format!("{movies}/backups/{backup}"), None)
        .await;
    assert_eq!(
        (s, early["data"]["status"].as_str()),
        (200, Some("Pending"))
    );
    let (s, e) = r
        .call(
            "POST",
            &format!("{movies}/restore"),
            Some(json!({"backup_id": backup})),
        )
        .await;
    assert_eq!((s, reason(&e)), (400, Some("backup-not-completed")), "{e}");
    let mut seen = vec!["Pending".to_string()];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = r.call("GET", &format!("{movies}/backups"), None).await;
        let status = list["data"][0]["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "Completed" {
            break;
        }
        assert!(Instant::now() < deadline, "never Completed: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, vec!["Pending", "InProgress", "Completed"]);
    let (s, e) = r
        .call("GET", &format!("{default}/backups/{backup}"), None)
        .await;
    assert_eq!(
        (s, reason(&e)),
        (404, Some("backup-not-found")),
        "another database's"
    );

    // Restore: `backup_id` (the document) or `id` (live); 202, no body.
    let (s, none) = r
        .call(
            "POST",
            &format!("{movies}/restore"),
            Some(json!({"id": backup})),
        )
        .await;
    assert_eq!((s, none), (202, Value::Null));
    let (s, _) = r
        .call(
            "POST",
            &format!("{movies}/restore"),
            Some(json!({"backup_id": backup})),
        )
        .await;
    assert_eq!(s, 202);
    let restores = st.database_restores(&id);
    assert_eq!(restores.len(), 2);
    assert_eq!(restores[0].backup_id, backup);
    let (s, e) = r
        .call(
            "POST",
            &format!("{default}/restore"),
            Some(json!({"backup_id": backup})),
        )
        .await;
    assert_eq!(
        (s, reason(&e)),
        (400, Some("validation-error")),
        "another database's: {e}"
    );
    let (s, e) = r
        .call(
            "POST",
            &format!("{movies}/restore"),
            Some(json!({"backup_id": "nope"})),
        )
        .await;
    assert_eq!((s, reason(&e)), (404, Some("backup-not-found")));
    let (s, e) = r
        .call("POST", &format!("{movies}/restore"), Some(json!({})))
        .await;
    assert_eq!((s, reason(&e)), (400, Some("validation-error")));
    assert_eq!(
        st.database_restores(&id).len(),
        2,
        "refusals are not recorded"
    );
    assert_eq!(
        st.database_backups(&id, movies.rsplit('/').next().unwrap())
            .len(),
        1
    );

    // Paused: database work is refused.
    st.console_update(
        &id,
        &ConsoleUpdate {
            paused: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    for (method, path, body) in [
        ("POST", format!("{movies}/backups"), None),
        ("POST", dbs.clone(), Some(json!({"name": "more"}))),
        ("DELETE", movies.clone(), None),
        (
            "POST",
            format!("{movies}/restore"),
            Some(json!({"backup_id": backup})),
        ),
    ] {
        let (s, e) = r.call(method, &path, body).await;
        assert_eq!(
            (s, reason(&e)),
            (409, Some("instance-not-running")),
            "{method} {path}"
        );
    }
    st.console_update(
        &id,
        &ConsoleUpdate {
            paused: Some(false),
            ..Default::default()
        },
    )
    .unwrap();

    // Deleted at once; the default database stays.
    let (s, gone) = r.call("DELETE", &movies, None).await;
    assert_eq!((s, gone["data"]["name"].as_str()), (202, Some("movies")));
    let (s, _) = r.call("GET", &movies, None).await;
    assert_eq!(s, 404);
    let (s, e) = r.call("DELETE", &default, None).await;
    assert_eq!(
        (s, reason(&e)),
        (409, Some("default-database-not-deletable"))
    );
    let (s, admin) = r
        .admin(
            "GET",
            &format!("/admin/instances/{id}/databases"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{admin}");
    assert_eq!(
        (
            admin["multi_database"].as_bool(),
            admin["databases"].as_array().map(Vec::len),
            admin["restores"].as_array().map(Vec::len)
        ),
        (Some(true), Some(1), Some(2))
    );

    let problems = conformance(&spec, &r, UNDOCUMENTED);
    assert!(
        problems.is_empty(),
        "non-conforming:\n{}",
        problems.join("\n")
    );
    sim.shutdown().await;
}
