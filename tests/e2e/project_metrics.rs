//! Aura's metrics into Prometheus. A project reports its metrics endpoint
//! (or that its tier has none); with `spec.metrics` it writes a
//! prometheus-operator ScrapeConfig, validated by the apiserver against the
//! real CRD (from prometheus-operator's module), and says so in a condition,
//! also when the cluster has no such CRD. A real Prometheus (Debian's, via
//! `tests/promtool/setup prometheus`) runs the job `aura-operator
//! scrape-config` prints against the simulator's metrics endpoint, getting
//! its token with a metrics reader's own client id: its `up` is 1 and Aura's
//! series of the running instance appear.

use crate::support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use aura_operator::api::AuraProject;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use support::fixtures::project;
use support::harness::*;
use support::objects::{self, condition};
use support::{Scratch, WAIT, eventually, eventually_every};

const READER_ID: &str = "metrics-reader";
const READER_SECRET: &str = "reader-secret-7Hq2";
const CONDITION: &str = "ScrapeConfigReady";

fn projects(h: &Harness) -> Api<AuraProject> {
    h.api()
}

fn scrape_configs(h: &Harness) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("monitoring.coreos.com", "v1alpha1", "ScrapeConfig");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "scrapeconfigs");
    Api::namespaced_with(h.client.clone(), &h.ns, &resource)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scrape_condition(p: &AuraProject) -> Option<(String, String, String)> {
    condition(p, CONDITION)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_writes_a_scrape_config_the_real_crd_accepts_and_says_when_it_cannot() {
    let mut h = Harness::start("metrics-sc", |c| {
        c.clients.push((READER_ID.into(), READER_SECRET.into()));
        c.metrics_incapable_tenants.push(TENANT_A.into());
    })
    .await;
    // Only this test installs the CRD; start without it.
    let crd = PathBuf::from(
        run(&mut Command::new(
            support::repo_root().join("tests/prometheus-operator/scrapeconfig-crd"),
        ))
        .trim(),
    );
    run(support::kubectl().args([
        "delete",
        "crd",
        "scrapeconfigs.monitoring.coreos.com",
        "--ignore-not-found",
        "--wait",
    ]));
    h.put_credentials("aura-metrics", READER_ID, READER_SECRET)
        .await;
    h.start_operator();
    let with_metrics = |name: &str, tenant: &str| {
        project(name)
            .credentials("aura-api")
            .tenant(tenant)
            .spec(json!({"metrics": {"credentialsSecretRef": {"name": "aura-metrics"}, "scrapeInterval": "30s"}}))
    };
    objects::create(&projects(&h), with_metrics("team", TENANT_B)).await;
    let waiting = objects::wait_for(&projects(&h), "team", "ScrapeConfigUnavailable", |p| {
        scrape_condition(p).is_some_and(|c| c.1 == "ScrapeConfigUnavailable")
    })
    .await;
    let status = waiting.status.clone().unwrap();
    let endpoint = status
        .metrics_integration_url
        .clone()
        .expect("the endpoint");
    assert!(
        endpoint.starts_with(&h.sim.base_url()) && endpoint.contains(TENANT_B),
        "{endpoint}"
    );
    assert_eq!(status.metrics_integration.as_deref(), Some("Offered"));
    assert!(
        objects::is_true(&waiting, "Ready"),
        "the project itself is fine"
    );

    // The CRD arrives: the ScrapeConfig is written and the apiserver takes it.
    run(support::kubectl()
        .args(["apply", "--server-side", "-f"])
        .arg(&crd));
    eventually("the ScrapeConfig CRD to be established", WAIT, || async {
        let out = support::kubectl()
            .args([
                "get",
                "crd",
                "scrapeconfigs.monitoring.coreos.com",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
            ])
            .output()
            .ok()?;
        (String::from_utf8_lossy(&out.stdout) == "True").then_some(())
    })
    .await;
    // The CRD's arrival is no event of the project's: ask it to look again.
    objects::annotate(
        &projects(&h),
        "team",
        "aura-operator.io/reconcile-requested-at",
        "1",
    )
    .await;
    let written = objects::wait_for(&projects(&h), "team", "ScrapeConfigWritten", |p| {
        scrape_condition(p).is_some_and(|c| c.0 == "True" && c.1 == "ScrapeConfigWritten")
    })
    .await;
    assert_eq!(
        written.status.as_ref().unwrap().scrape_config.as_deref(),
        Some(format!("{}/aura-team", h.ns).as_str())
    );
    let sc = scrape_configs(&h).get("aura-team").await.unwrap();
    let spec = &sc.data["spec"];
    let url = reqwest::Url::parse(&endpoint).unwrap();
    assert_eq!(spec["metricsPath"], url.path());
    assert_eq!(spec["scheme"], url.scheme().to_uppercase());
    assert_eq!(spec["scrapeInterval"], "30s");
    assert_eq!(
        spec["staticConfigs"][0]["targets"][0],
        format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
    );
    assert_eq!(
        spec["oauth2"]["tokenUrl"],
        format!("{}/oauth/token", h.sim.base_url())
    );
    assert_eq!(spec["oauth2"]["clientSecret"]["name"], "aura-metrics");
    let owner = &sc.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("AuraProject", "team")
    );

    // spec.metrics removed: the ScrapeConfig goes, and so does the condition.
    projects(&h)
        .patch(
            "team",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"metrics": null}})),
        )
        .await
        .unwrap();
    objects::wait_for(&projects(&h), "team", "no ScrapeConfigReady", |p| {
        scrape_condition(p).is_none()
    })
    .await;
    assert!(
        scrape_configs(&h)
            .get_opt("aura-team")
            .await
            .unwrap()
            .is_none()
    );

    // A tier without metrics says so, not as an error.
    objects::create(&projects(&h), with_metrics("team-a", TENANT_A)).await;
    let plain = objects::wait_for(&projects(&h), "team-a", "MetricsNotOffered", |p| {
        scrape_condition(p).is_some_and(|c| c.1 == "MetricsNotOffered")
    })
    .await;
    assert_eq!(
        plain
            .status
            .as_ref()
            .unwrap()
            .metrics_integration
            .as_deref(),
        Some("NotOffered")
    );
    assert!(objects::is_true(&plain, "Ready"));
    h.assert_log_clean(&h.operator_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_aura_metrics_with_the_job_scrape_config_prints() {
    let mut h = Harness::start("metrics-prom", |c| {
        c.clients.push((READER_ID.into(), READER_SECRET.into()));
    })
    .await;
    let created = h
        .sim
        .state()
        .console_create(&console_request("europe-west1", "scraped"))
        .expect("an instance made in the console");
    let instance = created.instance.id.clone();
    h.start_operator();
    objects::create(
        &projects(&h),
        project("team").credentials("aura-api").tenant(TENANT_B),
    )
    .await;
    let endpoint = objects::wait_until(&projects(&h), "team", "metricsIntegrationUrl", |p| {
        p.status.as_ref()?.metrics_integration_url.clone()
    })
    .await;

    let scratch = Scratch::new("prometheus");
    let secret_file = scratch.file("reader-secret", READER_SECRET, 0o600);
    let job = run(Command::new(env!("CARGO_BIN_EXE_aura-operator")).args([
        "scrape-config",
        "--project",
        "team",
        "--endpoint",
        &endpoint,
        "--client-id",
        READER_ID,
        "--client-secret-file",
        secret_file.to_str().unwrap(),
        "--token-url",
        &format!("{}/oauth/token", h.sim.base_url()),
        "--scrape-interval",
        "1s",
    ]));
    let config = scratch.file("prometheus.yml", &job, 0o644);
    let prometheus = PathBuf::from(
        run(Command::new(support::repo_root().join("tests/promtool/setup")).arg("prometheus"))
            .trim(),
    );
    let port = support::free_port();
    let data = scratch.dir("data", 0o755);
    let mut server = tokio::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start prometheus");

    let http = reqwest::Client::new();
    let query = |q: &'static str| {
        let http = http.clone();
        async move {
            let body: Value = http
                .get(format!("http://127.0.0.1:{port}/api/v1/query"))
                .query(&[("query", q)])
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let results = body["data"]["result"].as_array()?.clone();
            (!results.is_empty()).then_some(results)
        }
    };
    let up = eventually_every(
        "Prometheus to scrape the project's endpoint",
        WAIT,
        Duration::from_millis(500),
        || query("up{job=\"aura-team\"} == 1"),
    )
    .await;
    assert_eq!(up[0]["metric"]["aura_project"], "team");
    let series = eventually("an Aura series of the instance", WAIT, || {
        query("neo4j_aura_cpu_limit")
    })
    .await;
    assert!(
        series
            .iter()
            .any(|s| s["metric"]["instance_id"] == instance.as_str()),
        "{series:?}"
    );
    let _ = server.kill().await;
    h.assert_log_clean(&h.operator_log());
}
