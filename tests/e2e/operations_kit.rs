//! The chart's operations kit (issue 19): the alert rules pass their unit
//! tests under `promtool test rules` (promtool from Debian's prometheus
//! package, unpacked into a cache by `tests/promtool/setup`), and the
//! dashboard's and the alerts' queries name only metrics a live operator
//! serves on `/metrics`.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use support::harness::*;
use support::{eventually, free_port};

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn chart() -> PathBuf {
    support::repo_root().join("charts/aura-operator")
}

/// The PrometheusRule the chart renders with default values (alerts on).
fn rendered_rule() -> Value {
    let out = run(support::helm()
        .args(["template", "aura-operator"])
        .arg(chart())
        .args(["--namespace", "aura-operator", "--kube-version"])
        .arg(support::testenv_version("KUBERNETES_VERSION"))
        .args(["--set", "metrics.prometheusRule.enabled=true"])
        .args(["--show-only", "templates/prometheusrule.yaml"]));
    let doc: serde_yaml::Value = serde_yaml::from_str(&out).expect("the rule as YAML");
    serde_json::to_value(doc).expect("as JSON")
}

fn promtool() -> PathBuf {
    let out = run(&mut Command::new(
        support::repo_root().join("tests/promtool/setup"),
    ));
    PathBuf::from(out.trim())
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    let rule = rendered_rule();
    assert_eq!(rule["kind"], "PrometheusRule");
    let alerts: Vec<&str> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["alert"].as_str())
        .collect();
    let tests =
        std::fs::read_to_string(support::repo_root().join("tests/promtool/alerts_test.yaml"))
            .expect("the unit tests");
    // Every alert the chart ships has a unit test, and the other way round.
    let tested: BTreeSet<&str> = tests
        .lines()
        .filter_map(|l| l.trim().strip_prefix("alertname: "))
        .collect();
    assert_eq!(
        alerts.iter().copied().collect::<BTreeSet<_>>(),
        tested,
        "alerts and their unit tests"
    );
    let dir = support::Scratch::new("promtool");
    let rules = dir.file(
        "rules.yaml",
        serde_yaml::to_string(&rule["spec"]).expect("rules as YAML"),
        0o644,
    );
    let test_file = dir.file("alerts_test.yaml", &tests, 0o644);
    let promtool = promtool();
    let checked = run(Command::new(&promtool).args(["check", "rules"]).arg(&rules));
    assert!(checked.contains("SUCCESS: 6 rules found"), "{checked}");
    let tested = run(Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&test_file));
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// Metric names in a PromQL expression (ours only).
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("aura_operator_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        out.push(name);
    }
    out
}

/// The families `/metrics` declares (`# TYPE name kind`).
fn families(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// A histogram's series carry suffixes its family does not.
fn served(name: &str, families: &BTreeSet<String>) -> bool {
    families.contains(name)
        || ["_bucket", "_sum", "_count"].iter().any(|s| {
            name.strip_suffix(s)
                .is_some_and(|base| families.contains(base))
        })
}

fn dashboard_exprs(path: &Path) -> Vec<String> {
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).unwrap();
    let mut exprs = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push(target["expr"].as_str().expect("an expr").to_string());
        }
    }
    for var in dash["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(q) = var["query"]["query"].as_str() {
            exprs.push(q.to_string());
        }
    }
    exprs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_alerts_name_only_metrics_the_operator_serves() {
    let mut h = Harness::start("ops-kit", |_| {}).await;
    let port = free_port();
    h.start_operator_with(&["--admin-listen", &format!("127.0.0.1:{port}")]);
    h.create(manifest("db", json!({}))).await;
    h.wait_ready("db").await;
    let exposition = eventually("/metrics", WAIT, || async {
        let resp = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .ok()?;
        resp.text().await.ok()
    })
    .await;
    let families = families(&exposition);

    let mut exprs = dashboard_exprs(&chart().join("files/dashboard.json"));
    let dashboard_queries = exprs.len();
    for r in rendered_rule()["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
    {
        exprs.push(r["expr"].as_str().unwrap().to_string());
    }
    let names: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert!(dashboard_queries >= 10 && names.len() >= 12, "{names:?}");
    let unknown: Vec<&String> = names.iter().filter(|n| !served(n, &families)).collect();
    assert!(
        unknown.is_empty(),
        "queries name metrics the operator does not serve: {unknown:?}\nserved: {families:?}"
    );
    // And the check itself can tell: a made-up name is caught.
    assert!(!served("aura_operator_no_such_metric", &families));
}
