//! The GitOps kit (deploy/argocd, deploy/flux, deploy/gitops-example):
//!
//! - the Argo CD health check and actions run in Lua 5.1 with Argo CD's own
//!   calling convention and sandbox (base, table, package and a `require("os")`
//!   offering only `date` and `time`), against the fixtures of
//!   `health_test.yaml` and `action_test.yaml`;
//! - `argocd-cm-patch.yaml` carries exactly the same Lua;
//! - the same for AuraProject and ClusterAuraProject: one health check
//!   (ClusterAuraProject's health.lua is a link to AuraProject's) and
//!   fixtures of their own; and for AuraSnapshot and AuraRestore, the kinds
//!   that run once (AuraRestore's is a link to AuraSnapshot's);
//! - kstatus (the real `sigs.k8s.io/cli-utils` library, built from
//!   `tests/testenv/kstatus`) reads live AuraInstance objects from the test
//!   control plane as the design says: InProgress while creating and right after
//!   a spec edit, Current when Ready, Failed when Stalled — and the Argo CD
//!   health check agrees with it on the same objects; likewise live
//!   AuraProjects and ClusterAuraProjects, and the AuraSnapshot and AuraRestore
//!   fixtures;
//! - the example manifests are valid for the apiserver and wired together.
//!
//! - every kind the operator reconciles (the list in `src/api/kinds.rs`) has a
//!   health check, fixtures, and its key in `argocd-cm-patch.yaml`, so a new
//!   kind cannot ship without one.
//!
//! Regenerate `deploy/argocd/argocd-cm-patch.yaml` after editing the Lua with
//! `AURA_UPDATE_GITOPS=1 cargo test --test e2e -- gitops::argocd_cm`.

use crate::support;

use support::harness::ensure_crd;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aura_operator::api::KINDS;
use aura_operator::api::{AuraInstance, AuraProject, ClusterAuraProject};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use mlua::{Lua, LuaOptions, StdLib};
use serde_json::{Map, Value, json};

use support::fixtures::{Fixture, cluster_project, instance, project};
use support::{cluster, eventually, repo_root};

const GROUP_KIND: &str = "aura-operator.io_AuraInstance";
/// Every kind the operator reconciles but AuraInstance (which also has
/// actions): each has one plain health check in argocd-cm.
fn health_only_kinds() -> impl Iterator<Item = &'static str> {
    KINDS
        .iter()
        .filter(|k| k.reconciled && k.kind != "AuraInstance")
        .map(|k| k.kind)
}
const RECONCILE_ANNOTATION: &str = "aura-operator.io/reconcile-requested-at";
const WAIT: Duration = Duration::from_secs(60);
/// health.lua's message for an object the operator has not written status to.
const NO_STATUS_YET: &str = "Waiting for the operator to observe the AuraInstance";

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

fn argocd_dir() -> PathBuf {
    repo_root().join("deploy/argocd")
}

fn customization_dir() -> PathBuf {
    kind_dir("AuraInstance")
}

/// The folder of one kind's customizations.
fn kind_dir(kind: &str) -> PathBuf {
    argocd_dir()
        .join("resource_customizations/aura-operator.io")
        .join(kind)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read_yaml(path: &Path) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Every YAML document of a file, skipping empty ones.
fn read_yaml_docs(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
        })
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// The action names, in the order the cm patch lists them.
const ACTIONS: &[&str] = &["pause", "resume", "reconcile"];

// ---------------------------------------------------------------------------
// Argo CD's Lua, emulated
// ---------------------------------------------------------------------------

/// A Lua 5.1 state with what Argo CD's `runLua` gives a customization that
/// does not set `useOpenLibs`: the base, table and package libraries, and an
/// `os` module reachable only through `require("os")` with just `date` and
/// `time`. No string or math library.
fn argo_lua() -> Lua {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::PACKAGE | StdLib::OS,
        LuaOptions::default(),
    )
    .expect("a Lua state");
    lua.load(
        r#"
        local real = os
        package.loaded.os = nil
        package.preload["os"] = function()
          return { date = real.date, time = real.time }
        end
        os = nil
        "#,
    )
    .exec()
    .expect("set up Argo CD's safe os module");
    lua
}

fn to_lua(lua: &Lua, value: &Value) -> mlua::Value {
    match value {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        // gopher-lua has one number type, float64.
        Value::Number(n) => mlua::Value::Number(n.as_f64().expect("a finite number")),
        Value::String(s) => mlua::Value::String(lua.create_string(s).expect("a Lua string")),
        Value::Array(items) => {
            let table = lua.create_table().expect("a Lua table");
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, to_lua(lua, item)).expect("set");
            }
            mlua::Value::Table(table)
        }
        Value::Object(map) => {
            let table = lua.create_table().expect("a Lua table");
            for (k, v) in map {
                table.raw_set(k.as_str(), to_lua(lua, v)).expect("set");
            }
            mlua::Value::Table(table)
        }
    }
}

/// Lua back to JSON. A table whose keys are exactly 1..n is an array; an
/// empty table takes the shape the input had at the same place (what Argo
/// CD's `cleanReturnedObj` restores), else an object.
fn from_lua(value: &mlua::Value, shape: Option<&Value>) -> Value {
    match value {
        mlua::Value::Nil => Value::Null,
        mlua::Value::Boolean(b) => Value::Bool(*b),
        mlua::Value::Integer(i) => json!(i),
        mlua::Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                json!(*n as i64)
            } else {
                json!(n)
            }
        }
        mlua::Value::String(s) => Value::String(s.to_str().expect("UTF-8").to_string()),
        mlua::Value::Table(t) => {
            let pairs: Vec<(mlua::Value, mlua::Value)> = t
                .pairs::<mlua::Value, mlua::Value>()
                .map(|p| p.expect("a table entry"))
                .collect();
            if pairs.is_empty() {
                return match shape {
                    Some(Value::Array(_)) => json!([]),
                    _ => json!({}),
                };
            }
            let n = pairs.len();
            let is_array = pairs.iter().all(|(k, _)| match k {
                mlua::Value::Integer(i) => *i >= 1 && (*i as usize) <= n,
                mlua::Value::Number(f) => f.fract() == 0.0 && *f >= 1.0 && (*f as usize) <= n,
                _ => false,
            });
            if is_array {
                let items: Vec<mlua::Value> = t
                    .sequence_values::<mlua::Value>()
                    .map(|v| v.expect("a sequence value"))
                    .collect();
                let shapes = shape.and_then(Value::as_array);
                Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| from_lua(v, shapes.and_then(|s| s.get(i))))
                        .collect(),
                )
            } else {
                let mut map = Map::new();
                for (k, v) in &pairs {
                    let key = match k {
                        mlua::Value::String(s) => s.to_str().expect("UTF-8").to_string(),
                        other => panic!("a Lua table key Argo CD cannot encode: {other:?}"),
                    };
                    let sub = shape.and_then(|s| s.get(&key));
                    let v = from_lua(v, sub);
                    if !v.is_null() {
                        map.insert(key, v);
                    }
                }
                Value::Object(map)
            }
        }
        other => panic!("a Lua value Argo CD cannot encode: {other:?}"),
    }
}

/// Runs a script the way Argo CD does: `obj` is a global, the chunk's
/// return value is the answer.
fn run_script(script: &str, name: &str, obj: &Value) -> Value {
    let lua = argo_lua();
    lua.globals()
        .set("obj", to_lua(&lua, obj))
        .expect("set obj");
    let ret: mlua::Value = lua
        .load(script)
        .set_name(name)
        .eval()
        .unwrap_or_else(|e| panic!("{name} failed: {e}"));
    assert!(
        matches!(ret, mlua::Value::Table(_)),
        "{name} must return a table, returned {ret:?}"
    );
    from_lua(&ret, Some(obj))
}

/// Argo CD's health verdict for `obj`, by the health check of its kind:
/// (status, message).
pub(crate) fn argo_health(obj: &Value) -> (String, String) {
    let kind = obj["kind"].as_str().unwrap_or("AuraInstance");
    let script = read(&kind_dir(kind).join("health.lua"));
    let hs = run_script(&script, "health.lua", obj);
    let status = hs["status"].as_str().unwrap_or_default().to_string();
    assert!(
        [
            "Healthy",
            "Progressing",
            "Degraded",
            "Suspended",
            "Missing",
            "Unknown"
        ]
        .contains(&status.as_str()),
        "health.lua returned a status Argo CD rejects: {hs}"
    );
    let message = hs["message"].as_str().unwrap_or_default().to_string();
    (status, message)
}

// ---------------------------------------------------------------------------
// Argo CD tests
// ---------------------------------------------------------------------------

#[test]
fn sandbox_matches_argo_cd() {
    let lua = argo_lua();
    let (string, math, os, date, time, io): (bool, bool, bool, bool, bool, bool) = lua
        .load(
            r#"
            local o = require("os")
            return string == nil, math == nil, os == nil,
                   type(o.date) == "function", type(o.time) == "function", o.execute == nil
            "#,
        )
        .eval()
        .expect("probe the sandbox");
    assert!(string && math && os, "string, math and os must be absent");
    assert!(
        date && time && io,
        "require('os') offers date and time only"
    );
}

/// Runs every fixture of `kind`'s health_test.yaml; checks that every
/// testdata file is listed and that each of `phases` has a fixture.
fn check_health_fixtures(kind: &str, phases: &[&str]) {
    let dir = kind_dir(kind);
    let tests = read_yaml(&dir.join("health_test.yaml"));
    let tests = tests["tests"].as_array().expect("health_test.yaml: tests");
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for t in tests {
        let input = t["inputPath"].as_str().expect("inputPath");
        let want_status = t["healthStatus"]["status"].as_str().expect("status");
        let want_message = t["healthStatus"]["message"].as_str().unwrap_or_default();
        let obj = read_yaml(&dir.join(input));
        assert_eq!(obj["kind"], kind, "{kind}/{input} is a {kind}");
        let (status, message) = argo_health(&obj);
        if status != want_status || message != want_message {
            failures.push(format!(
                "{kind}/{input}: want {want_status} {want_message:?}, got {status} {message:?}"
            ));
        }
        seen.push(input.to_string());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every fixture is tested, and every phase has one.
    let mut on_disk: Vec<String> = std::fs::read_dir(dir.join("testdata"))
        .expect("testdata")
        .map(|e| format!("testdata/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    seen.sort();
    assert_eq!(
        on_disk, seen,
        "every {kind} testdata file is listed in health_test.yaml"
    );
    for phase in phases {
        assert!(
            seen.contains(&format!("testdata/{phase}.yaml")),
            "a {kind} fixture for {phase}"
        );
    }
}

#[test]
fn health_check_matches_every_fixture() {
    check_health_fixtures(
        "AuraInstance",
        &[
            "no_status",
            "creating",
            "generation_lagging",
            "updating",
            "resuming",
            "pausing",
            "ready",
            "paused",
            "stalled",
            "password_unavailable",
            "deleting",
        ],
    );
}

#[test]
fn project_health_checks_match_every_fixture() {
    let common = [
        "no_status",
        "first_sight",
        "ready",
        "ready_in_use",
        "generation_lagging",
        "stalled_authentication",
        "stalled_credentials",
        "stalled_then_edited",
        "deleting_in_use",
    ];
    let mut project = common.to_vec();
    project.push("stalled_tenant_not_found");
    check_health_fixtures("AuraProject", &project);
    let mut cluster = common.to_vec();
    cluster.extend(["stalled_tenant_ambiguous", "stalled_no_tenant"]);
    check_health_fixtures("ClusterAuraProject", &cluster);
    assert_one_check("AuraProject", "ClusterAuraProject");
}

#[test]
fn snapshot_and_restore_health_checks_match_every_fixture() {
    check_health_fixtures(
        "AuraSnapshot",
        &[
            "no_status",
            "waiting_for_instance",
            "taking",
            "searching",
            "instance_busy",
            "completed",
            "failed",
            "stalled_instance_not_found",
            "deleting",
        ],
    );
    check_health_fixtures(
        "AuraRestore",
        &[
            "no_status",
            "waiting_for_source",
            "waiting_for_instance",
            "instance_busy",
            "snapshot_first",
            "running",
            "running_answer_lost",
            "succeeded",
            "failed",
            "failed_outcome_unknown",
            "stalled_source_not_found",
            "stalled_observe_only",
            "deleting",
        ],
    );
    assert_one_check("AuraSnapshot", "AuraRestore");
}

#[test]
fn database_user_health_check_matches_every_fixture() {
    check_health_fixtures(
        "AuraDatabaseUser",
        &[
            "no_status",
            "waiting_for_instance",
            "creating",
            "rotating",
            "ready",
            "stalled_user_exists",
            "deleting",
        ],
    );
}

#[test]
fn graph_analytics_session_health_check_matches_every_fixture() {
    check_health_fixtures(
        "AuraGraphAnalyticsSession",
        &[
            "no_status",
            "waiting_for_instance",
            "creating",
            "ready",
            "expired",
            "deleting",
        ],
    );
}

#[test]
fn customer_managed_key_health_check_matches_every_fixture() {
    check_health_fixtures(
        "AuraCustomerManagedKey",
        &[
            "no_status",
            "creating",
            "pending",
            "ready",
            "stalled_mismatch",
            "deleting",
        ],
    );
}

/// Kinds that share their semantics share one health check: `sharer`'s
/// health.lua is a link to `owner`'s, so the two cannot drift apart.
fn assert_one_check(owner: &str, sharer: &str) {
    let link = kind_dir(sharer).join("health.lua");
    let target = std::fs::read_link(&link)
        .unwrap_or_else(|e| panic!("{sharer}/health.lua is a link to {owner}'s: {e}"));
    assert_eq!(target, Path::new("..").join(owner).join("health.lua"));
    assert_eq!(
        std::fs::canonicalize(&link).expect("the link resolves"),
        std::fs::canonicalize(kind_dir(owner).join("health.lua")).expect("the check"),
    );
}

fn discovery(obj: &Value) -> Vec<Value> {
    let script = read(&customization_dir().join("actions/discovery.lua"));
    let actions = run_script(&script, "discovery.lua", obj);
    // Argo CD: a map from action name to its properties; `disabled` defaults to false.
    let mut out: Vec<Value> = actions
        .as_object()
        .expect("discovery returns a map")
        .iter()
        .map(|(name, props)| {
            let mut action = json!({"name": name, "disabled": false});
            if let Some(props) = props.as_object() {
                for (k, v) in props {
                    action[k] = v.clone();
                }
            }
            action
        })
        .collect();
    out.sort_by_key(|a| a["name"].as_str().unwrap_or_default().to_string());
    out
}

fn run_action(action: &str, obj: &Value) -> Value {
    let path = customization_dir().join(format!("actions/{action}/action.lua"));
    run_script(&read(&path), &format!("{action}/action.lua"), obj)
}

/// The reconcile annotation holds "now" (UTC, RFC 3339, seconds): checks
/// that, then replaces it with `expected`'s value so the rest compares exactly.
fn settle_reconcile_time(actual: &mut Value, expected: &Value) {
    let Some(value) = actual["metadata"]["annotations"][RECONCILE_ANNOTATION].as_str() else {
        return;
    };
    let shape_ok = value.len() == 20
        && value.ends_with('Z')
        && value.as_bytes()[10] == b'T'
        && value.parse::<jiff::Timestamp>().is_ok();
    assert!(
        shape_ok,
        "{RECONCILE_ANNOTATION}={value:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    let t: jiff::Timestamp = value.parse().unwrap();
    let age = jiff::Timestamp::now().duration_since(t);
    assert!(
        age.as_secs().abs() <= 120,
        "{RECONCILE_ANNOTATION}={value} is not the current time"
    );
    if let Some(want) = expected["metadata"]["annotations"].get(RECONCILE_ANNOTATION) {
        actual["metadata"]["annotations"][RECONCILE_ANNOTATION] = want.clone();
    }
}

#[test]
fn actions_match_every_fixture() {
    let dir = customization_dir().join("actions");
    let tests = read_yaml(&dir.join("action_test.yaml"));
    let mut failures = Vec::new();

    for t in tests["discoveryTests"].as_array().expect("discoveryTests") {
        let input = t["inputPath"].as_str().expect("inputPath");
        let obj = read_yaml(&dir.join(input));
        let mut want: Vec<Value> = t["result"].as_array().expect("result").clone();
        want.sort_by_key(|a| a["name"].as_str().unwrap_or_default().to_string());
        let got = discovery(&obj);
        if got != want {
            failures.push(format!(
                "discovery {input}:\n want {}\n  got {}",
                Value::Array(want),
                Value::Array(got)
            ));
        }
    }

    let mut tested = Vec::new();
    for t in tests["actionTests"].as_array().expect("actionTests") {
        let action = t["action"].as_str().expect("action");
        let input = t["inputPath"].as_str().expect("inputPath");
        let expected = read_yaml(&dir.join(t["expectedOutputPath"].as_str().expect("output")));
        let mut got = run_action(action, &read_yaml(&dir.join(input)));
        settle_reconcile_time(&mut got, &expected);
        if got != expected {
            failures.push(format!(
                "{action} on {input}:\n want {expected}\n  got {got}"
            ));
        }
        tested.push(action.to_string());
    }
    for action in ACTIONS {
        assert!(
            tested.iter().any(|a| a == action),
            "action_test.yaml tests {action}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `argocd-cm` patch, rendered from the files of the resource_customizations tree.
fn render_cm_patch() -> String {
    fn indent(text: &str, by: usize) -> String {
        let pad = " ".repeat(by);
        text.lines()
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
    let dir = customization_dir();
    let health = read(&dir.join("health.lua"));
    let discovery = read(&dir.join("actions/discovery.lua"));
    let mut actions = format!(
        "discovery.lua: |\n{}\ndefinitions:\n",
        indent(&discovery, 2)
    );
    for name in ACTIONS {
        let lua = read(&dir.join(format!("actions/{name}/action.lua")));
        actions.push_str(&format!(
            "- name: {name}\n  action.lua: |\n{}\n",
            indent(&lua, 4)
        ));
    }
    let mut projects = String::new();
    for kind in health_only_kinds() {
        let lua = read(&kind_dir(kind).join("health.lua"));
        projects.push_str(&format!(
            "  resource.customizations.health.aura-operator.io_{kind}: |\n{}\n",
            indent(&lua, 4)
        ));
    }
    let kinds = std::iter::once("AuraInstance")
        .chain(health_only_kinds())
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "# Generated from deploy/argocd/resource_customizations/aura-operator.io/{{{kinds}}}\n\
         # by `AURA_UPDATE_GITOPS=1 cargo test --test e2e -- gitops::argocd_cm`; edit the .lua files, not this.\n\
         #\n\
         # Merge into Argo CD's argocd-cm ConfigMap, for example:\n\
         #   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file deploy/argocd/argocd-cm-patch.yaml\n\
         # or list it under `patches:` of the kustomization that installs Argo CD.\n\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n  name: argocd-cm\n  namespace: argocd\n  labels:\n    app.kubernetes.io/name: argocd-cm\n    app.kubernetes.io/part-of: argocd\n\
         data:\n  resource.customizations.health.{GROUP_KIND}: |\n{}\n  resource.customizations.actions.{GROUP_KIND}: |\n{}\n{projects}",
        indent(&health, 4),
        indent(&actions, 4),
    )
}

#[test]
fn argocd_cm_patch_holds_the_same_lua() {
    let path = argocd_dir().join("argocd-cm-patch.yaml");
    let rendered = render_cm_patch();
    if std::env::var_os("AURA_UPDATE_GITOPS").is_some() {
        std::fs::write(&path, &rendered).expect("write argocd-cm-patch.yaml");
    }
    let dir = customization_dir();
    let cm = read_yaml(&path);
    let data = &cm["data"];
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    let health = data[format!("resource.customizations.health.{GROUP_KIND}")]
        .as_str()
        .expect("the health key");
    assert_eq!(
        health,
        read(&dir.join("health.lua")),
        "health.lua differs from argocd-cm-patch.yaml; regenerate with AURA_UPDATE_GITOPS=1"
    );
    let actions: Value = serde_yaml::from_str(
        data[format!("resource.customizations.actions.{GROUP_KIND}")]
            .as_str()
            .expect("the actions key"),
    )
    .expect("the actions value is YAML");
    assert_eq!(
        actions["discovery.lua"].as_str().expect("discovery.lua"),
        read(&dir.join("actions/discovery.lua")),
        "discovery.lua differs from argocd-cm-patch.yaml"
    );
    let defs = actions["definitions"].as_array().expect("definitions");
    let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ACTIONS, "the actions in argocd-cm-patch.yaml");
    for def in defs {
        let name = def["name"].as_str().unwrap();
        assert_eq!(
            def["action.lua"].as_str().expect("action.lua"),
            read(&dir.join(format!("actions/{name}/action.lua"))),
            "{name}/action.lua differs from argocd-cm-patch.yaml"
        );
    }
    for kind in health_only_kinds() {
        assert_eq!(
            data[format!("resource.customizations.health.aura-operator.io_{kind}")]
                .as_str()
                .unwrap_or_else(|| panic!("the {kind} health key")),
            read(&kind_dir(kind).join("health.lua")),
            "{kind}/health.lua differs from argocd-cm-patch.yaml; regenerate with AURA_UPDATE_GITOPS=1"
        );
    }
    // Byte for byte what the renderer makes, so regenerating is a no-op.
    assert_eq!(
        read(&path),
        rendered,
        "argocd-cm-patch.yaml is stale; regenerate with AURA_UPDATE_GITOPS=1"
    );
}

#[test]
fn every_reconciled_kind_has_a_health_check_with_fixtures() {
    let mut missing = Vec::new();
    for info in KINDS.iter().filter(|k| k.reconciled) {
        let dir = kind_dir(info.kind);
        for file in ["health.lua", "health_test.yaml", "testdata/no_status.yaml"] {
            if !dir.join(file).is_file() {
                missing.push(format!("{}/{file}", info.kind));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "every kind the operator reconciles needs an Argo CD health check and fixtures \
         under deploy/argocd/resource_customizations/aura-operator.io; missing: {}",
        missing.join(", ")
    );
    // Kinds nobody reconciles have no status to read, so no health check.
    for info in KINDS.iter().filter(|k| !k.reconciled) {
        assert!(
            !kind_dir(info.kind).join("health.lua").exists(),
            "{} is not reconciled; a health check would wait forever",
            info.kind
        );
    }
}

// ---------------------------------------------------------------------------
// Example manifests
// ---------------------------------------------------------------------------

fn example_docs() -> Vec<Value> {
    let base = repo_root().join("deploy/gitops-example");
    ["database/aurainstance.yaml", "app/deployment.yaml"]
        .iter()
        .flat_map(|p| read_yaml_docs(&base.join(p)))
        .collect()
}

#[test]
fn examples_are_wired_in_order() {
    let docs = example_docs();
    let aura = docs
        .iter()
        .find(|d| d["kind"] == "AuraInstance")
        .expect("an AuraInstance");
    let deploy = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let wave = |d: &Value| -> i64 {
        d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .expect("a sync wave")
            .parse()
            .expect("a number")
    };
    assert!(
        wave(aura) < wave(deploy),
        "the AuraInstance syncs before the app"
    );

    // The app reads the Secret the AuraInstance gets.
    let instance: AuraInstance = serde_json::from_value(aura.clone()).expect("an AuraInstance");
    let secret = instance.connection_secret_name();
    let refs: Vec<String> = deploy["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["envFrom"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["secretRef"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(refs, [secret], "envFrom secretRef");

    // Argo CD: the Application points at the example.
    let app = read_yaml(&argocd_dir().join("application.yaml"));
    assert_eq!(app["kind"], "Application");
    assert_eq!(app["spec"]["source"]["path"], "deploy/gitops-example");
    let root = read_yaml(&repo_root().join("deploy/gitops-example/kustomization.yaml"));
    assert_eq!(root["resources"], json!(["database", "app"]));

    // Flux: app dependsOn database, which health-checks the AuraInstance.
    let flux = repo_root().join("deploy/flux");
    let db = read_yaml(&flux.join("database.yaml"));
    let app = read_yaml(&flux.join("app.yaml"));
    assert_eq!(db["spec"]["path"], "./deploy/gitops-example/database");
    assert_eq!(app["spec"]["path"], "./deploy/gitops-example/app");
    assert_eq!(
        app["spec"]["dependsOn"],
        json!([{"name": db["metadata"]["name"]}])
    );
    assert_eq!(app["spec"]["wait"], true);
    let checks = db["spec"]["healthChecks"].as_array().expect("healthChecks");
    assert!(checks.iter().any(|c| c["kind"] == "AuraInstance"
        && c["apiVersion"] == "aura-operator.io/v1beta1"
        && c["name"] == aura["metadata"]["name"]
        && c["namespace"] == db["spec"]["targetNamespace"]));
    let listed = read_yaml(&flux.join("kustomization.yaml"));
    for f in ["source.yaml", "database.yaml", "app.yaml"] {
        assert!(
            listed["resources"].as_array().unwrap().contains(&json!(f)),
            "deploy/flux/kustomization.yaml lists {f}"
        );
    }
}

// ---------------------------------------------------------------------------
// kstatus on live objects
// ---------------------------------------------------------------------------

/// FNV-1a, a stable hash for the build cache key.
fn fnv1a(data: &[u8], mut h: u64) -> u64 {
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Builds `tests/testenv/kstatus` once per source hash into the testenv
/// cache, under a file lock, with an atomic rename.
fn build_kstatus() -> Result<PathBuf, String> {
    let src = repo_root().join("tests/testenv/kstatus");
    let mut h = 0xcbf2_9ce4_8422_2325;
    for f in ["go.mod", "go.sum", "main.go"] {
        h = fnv1a(
            &std::fs::read(src.join(f)).map_err(|e| format!("{f}: {e}"))?,
            h,
        );
    }
    let cache = std::env::var_os("AURA_TESTENV_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/aura-operator/testenv")
        });
    let dir = cache.join("kstatus").join(format!("{h:016x}"));
    let bin = dir.join("kstatus");
    if bin.is_file() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(".lock")).map_err(|e| e.to_string())?;
    lock.lock()
        .map_err(|e| format!("locking the kstatus build: {e}"))?;
    if bin.is_file() {
        return Ok(bin);
    }
    let tmp = dir.join(format!(".kstatus.tmp.{}", std::process::id()));
    let out = Command::new("go")
        .args(["build", "-trimpath", "-buildvcs=false", "-o"])
        .arg(&tmp)
        .arg(".")
        .current_dir(&src)
        .env("CGO_ENABLED", "0")
        .output()
        .map_err(|e| {
            format!(
                "running `go build` in {}: {e} — Go (>= 1.26) must be installed for the kstatus helper",
                src.display()
            )
        })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "go build of the kstatus helper failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&tmp, &bin).map_err(|e| e.to_string())?;
    Ok(bin)
}

fn kstatus_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(build_kstatus) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// kstatus's verdict on `obj`: (status, message).
pub(crate) fn kstatus(obj: &Value) -> (String, String) {
    let mut child = Command::new(kstatus_bin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the kstatus helper");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(obj.to_string().as_bytes())
        .expect("write to kstatus");
    let out = child.wait_with_output().expect("kstatus output");
    assert!(
        out.status.success(),
        "kstatus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("kstatus prints JSON");
    (
        v["status"].as_str().unwrap().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn kstatus_helper_reads_fixtures() {
    // The same library on the Argo CD fixtures, without a control plane.
    // kstatus has no Suspended: a settled pause (Ready=False, reason Paused)
    // reads InProgress, so Flux never starts an app on a paused database; it
    // waits until its timeout instead. PasswordUnavailable is Stalled: Failed.
    let dir = customization_dir().join("testdata");
    for (fixture, want) in [
        // No status at all: kstatus finds no condition and calls it Current.
        // Nothing the operator can change (the apiserver drops status on
        // create); the operator writes Ready=Unknown/Reconciling=True on first
        // sight, and Argo CD's health check says Progressing meanwhile.
        ("no_status", "Current"),
        ("first_sight", "InProgress"),
        ("create_requested", "InProgress"),
        ("creating", "InProgress"),
        ("generation_lagging", "InProgress"),
        ("updating", "InProgress"),
        ("resuming", "InProgress"),
        ("pausing", "InProgress"),
        ("ready", "Current"),
        ("paused", "InProgress"),
        ("stalled", "Failed"),
        ("stalled_credentials", "Failed"),
        ("stalled_then_edited", "InProgress"),
        ("password_unavailable", "Failed"),
        ("deleting", "Terminating"),
    ] {
        let obj = read_yaml(&dir.join(format!("{fixture}.yaml")));
        let (status, message) = kstatus(&obj);
        assert_eq!(status, want, "kstatus on {fixture}: {message}");
    }
}

#[test]
fn kstatus_reads_project_fixtures() {
    // Ready at the current generation: Current; Stalled: Failed; work in
    // flight or a spec not yet observed: InProgress; held by its finalizer
    // while in use: Terminating. And the Argo CD check agrees on each.
    let common = [
        ("no_status", "Current"),
        ("first_sight", "InProgress"),
        ("checking", "InProgress"),
        ("ready", "Current"),
        ("ready_in_use", "Current"),
        ("generation_lagging", "InProgress"),
        ("stalled_authentication", "Failed"),
        ("stalled_credentials", "Failed"),
        ("stalled_then_edited", "InProgress"),
        ("deleting_in_use", "Terminating"),
    ];
    let own: &[(&str, &[(&str, &str)])] = &[
        ("AuraProject", &[("stalled_tenant_not_found", "Failed")]),
        (
            "ClusterAuraProject",
            &[
                ("stalled_tenant_ambiguous", "Failed"),
                ("stalled_no_tenant", "Failed"),
            ],
        ),
    ];
    for (kind, extra) in own {
        let dir = kind_dir(kind).join("testdata");
        for (fixture, want) in common.iter().chain(extra.iter()) {
            let obj = read_yaml(&dir.join(format!("{fixture}.yaml")));
            let (status, message) = kstatus(&obj);
            assert_eq!(status, *want, "kstatus on {kind} {fixture}: {message}");
            let (argo, argo_message) = argo_health(&obj);
            assert!(
                agrees(&status, &argo)
                    || (*fixture == "no_status" && argo_message.starts_with("Waiting")),
                "{kind} {fixture}: kstatus says {status} but Argo CD says {argo} ({argo_message})"
            );
        }
    }
}

#[test]
fn kstatus_reads_snapshot_restore_and_database_user_fixtures() {
    // Completed or Succeeded: Current; Failed, or waiting for a person:
    // Failed; taking, Pending or Running: InProgress; being deleted:
    // Terminating. And the Argo CD check agrees on each.
    let fixtures: &[(&str, &[(&str, &str)])] = &[
        (
            "AuraSnapshot",
            &[
                ("no_status", "Current"),
                ("waiting_for_instance", "InProgress"),
                ("taking", "InProgress"),
                ("searching", "InProgress"),
                ("instance_busy", "InProgress"),
                ("completed", "Current"),
                ("failed", "Failed"),
                ("stalled_instance_not_found", "Failed"),
                ("deleting", "Terminating"),
            ],
        ),
        (
            "AuraRestore",
            &[
                ("no_status", "Current"),
                ("waiting_for_source", "InProgress"),
                ("waiting_for_instance", "InProgress"),
                ("instance_busy", "InProgress"),
                ("snapshot_first", "InProgress"),
                ("running", "InProgress"),
                ("running_answer_lost", "InProgress"),
                ("succeeded", "Current"),
                ("failed", "Failed"),
                ("failed_outcome_unknown", "Failed"),
                ("stalled_source_not_found", "Failed"),
                ("stalled_observe_only", "Failed"),
                ("deleting", "Terminating"),
            ],
        ),
        (
            "AuraDatabaseUser",
            &[
                ("no_status", "Current"),
                ("waiting_for_instance", "InProgress"),
                ("creating", "InProgress"),
                ("rotating", "InProgress"),
                ("ready", "Current"),
                ("stalled_user_exists", "Failed"),
                ("deleting", "Terminating"),
            ],
        ),
        (
            "AuraCustomerManagedKey",
            &[
                ("no_status", "Current"),
                ("creating", "InProgress"),
                ("pending", "InProgress"),
                ("ready", "Current"),
                ("stalled_mismatch", "Failed"),
                ("deleting", "Terminating"),
            ],
        ),
        (
            "AuraGraphAnalyticsSession",
            &[
                ("no_status", "Current"),
                ("waiting_for_instance", "InProgress"),
                ("creating", "InProgress"),
                ("ready", "Current"),
                ("expired", "Failed"),
                ("deleting", "Terminating"),
            ],
        ),
    ];
    for (kind, rows) in fixtures {
        let dir = kind_dir(kind).join("testdata");
        for (fixture, want) in *rows {
            let obj = read_yaml(&dir.join(format!("{fixture}.yaml")));
            let (status, message) = kstatus(&obj);
            assert_eq!(status, *want, "kstatus on {kind} {fixture}: {message}");
            let (argo, argo_message) = argo_health(&obj);
            assert!(
                agrees(&status, &argo)
                    || (*fixture == "no_status" && argo_message.starts_with("Waiting")),
                "{kind} {fixture}: kstatus says {status} but Argo CD says {argo} ({argo_message})"
            );
        }
    }
}

/// The status the operator writes, condition for condition (DESIGN 4.4):
/// `ready` is (status, reason, message); `reconciling`/`stalled` are
/// (reason, message) when True, else False with reason Idle/NotStalled.
fn status_body(
    generation: i64,
    phase: &str,
    aura: Option<&str>,
    ready: (&str, &str, &str),
    reconciling: Option<(&str, &str)>,
    stalled: Option<(&str, &str)>,
) -> Value {
    let now = "2026-01-15T10:00:00Z";
    let cond = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "observedGeneration": generation, "lastTransitionTime": now})
    };
    let (rs, rr, rm) = match reconciling {
        Some((r, m)) => ("True", r, m),
        None => ("False", "Idle", ""),
    };
    let (ss, sr, sm) = match stalled {
        Some((r, m)) => ("True", r, m),
        None => ("False", "NotStalled", ""),
    };
    let mut status = json!({
        "observedGeneration": generation,
        "phase": phase,
        "conditions": [
            cond("Ready", ready.0, ready.1, ready.2),
            cond("Reconciling", rs, rr, rm),
            cond("Stalled", ss, sr, sm),
        ],
    });
    if let Some(aura) = aura {
        status["auraStatus"] = json!(aura);
        status["instanceId"] = json!("8f769515");
        status["tenantId"] = json!("ad69ee24-1b2c-4d5e-8f90-123456789abc");
        status["connectionUrl"] = json!("neo4j+s://8f769515.databases.neo4j.io");
    }
    json!({ "status": status })
}

/// kstatus and Argo CD read the same object the same way. kstatus has no
/// Suspended: a database paused on purpose is not Ready, which it reads
/// InProgress.
fn agrees(kstatus: &str, argo: &str) -> bool {
    matches!(
        (kstatus, argo),
        ("InProgress", "Progressing")
            | ("Current", "Healthy")
            | ("InProgress", "Suspended")
            | ("Failed", "Degraded")
            | ("Terminating", "Progressing")
    )
}

struct Live {
    api: Api<AuraInstance>,
    name: String,
}

impl Live {
    async fn json(&self) -> Value {
        let obj = self
            .api
            .get(&self.name)
            .await
            .expect("get the AuraInstance");
        serde_json::to_value(&obj).expect("to JSON")
    }

    async fn write_status(&self, body: Value) {
        self.api
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(body))
            .await
            .expect("write status");
    }

    /// Reads the live object: (kstatus, its message, Argo CD, its message).
    async fn read_both(&self) -> (String, String, String, String) {
        let obj = self.json().await;
        let (ks, msg) = tokio::task::spawn_blocking({
            let obj = obj.clone();
            move || kstatus(&obj)
        })
        .await
        .expect("kstatus task");
        let (argo, argo_msg) = argo_health(&obj);
        (ks, msg, argo, argo_msg)
    }

    /// Like [`Live::read_both`], checking that the two tools agree — except
    /// before the operator has written any status, where kstatus (seeing no
    /// conditions) says Current and Argo CD says Progressing: a kstatus
    /// limitation the object cannot avoid (the apiserver drops status on create).
    async fn read(&self, step: &str) -> (String, String, String) {
        let (ks, msg, argo, argo_msg) = self.read_both().await;
        if ks == "Current" && argo_msg == NO_STATUS_YET {
            return (ks, msg, argo);
        }
        assert!(
            agrees(&ks, &argo),
            "{step}: kstatus says {ks} ({msg}) but Argo CD says {argo} ({argo_msg})"
        );
        (ks, msg, argo)
    }
}

#[tokio::test]
async fn kstatus_reads_live_status_like_the_design_says() {
    // Build the helper while the control plane starts.
    let build = tokio::task::spawn_blocking(kstatus_bin);
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    build.await.expect("build the kstatus helper");
    let ns = support::test_namespace(&client, "gitops-kstatus").await;
    let api: Api<AuraInstance> = Api::namespaced(client.clone(), &ns);
    let manifest: AuraInstance = instance("orders")
        .finalizer(aura_operator::api::FINALIZER)
        .spec(json!({"tenantId": null}))
        .object();
    let created = api
        .create(&PostParams::default(), &manifest)
        .await
        .expect("create the AuraInstance");
    let live = Live {
        api: api.clone(),
        name: created.name_any(),
    };
    let gen1 = created.metadata.generation.expect("a generation");

    // First sight: Ready=Unknown, Reconciling=True.
    live.write_status(status_body(
        gen1,
        "Pending",
        None,
        (
            "Unknown",
            "Reconciling",
            "the operator has not yet observed this object",
        ),
        Some(("Reconciling", "first reconcile")),
        None,
    ))
    .await;
    let (ks, _, argo) = live.read("first sight").await;
    assert_eq!((ks.as_str(), argo.as_str()), ("InProgress", "Progressing"));

    // Creating.
    let creating = "Aura is creating the instance";
    live.write_status(status_body(
        gen1,
        "Creating",
        Some("creating"),
        ("False", "Creating", creating),
        Some(("Creating", creating)),
        None,
    ))
    .await;
    let (ks, msg, _) = live.read("creating").await;
    assert_eq!(ks, "InProgress", "while creating");
    assert_eq!(msg, creating, "kstatus shows the Reconciling message");

    // Ready.
    let ready = (
        "True",
        "Ready",
        "the instance is running and its connection Secret is complete",
    );
    live.write_status(status_body(
        gen1,
        "Running",
        Some("running"),
        ready,
        None,
        None,
    ))
    .await;
    let (ks, _, argo) = live.read("ready").await;
    assert_eq!((ks.as_str(), argo.as_str()), ("Current", "Healthy"));

    // A spec edit: generation moves on, the status still describes the old one.
    let edited = api
        .patch(
            &live.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"memory": "16GB"}})),
        )
        .await
        .expect("edit the spec");
    let gen2 = edited.metadata.generation.unwrap();
    assert!(gen2 > gen1, "a spec edit bumps the generation");
    let (ks, msg, argo) = live.read("right after a spec edit").await;
    assert_eq!(
        (ks.as_str(), argo.as_str()),
        ("InProgress", "Progressing"),
        "right after a spec edit: {msg}"
    );

    // The operator catches up and resizes.
    let updating = "Aura reports the instance as updating";
    live.write_status(status_body(
        gen2,
        "Updating",
        Some("updating"),
        ("False", "Updating", updating),
        Some(("Updating", updating)),
        None,
    ))
    .await;
    let (ks, _, _) = live.read("updating").await;
    assert_eq!(ks, "InProgress", "while updating");
    live.write_status(status_body(
        gen2,
        "Running",
        Some("running"),
        ready,
        None,
        None,
    ))
    .await;
    let (ks, _, _) = live.read("ready again").await;
    assert_eq!(ks, "Current", "ready at the new generation");

    // Stalled: a human must act.
    let bad = "Secret aura-api not found: create it with the keys clientId and clientSecret";
    live.write_status(status_body(
        gen2,
        "Failed",
        None,
        ("False", "CredentialsNotFound", bad),
        None,
        Some(("CredentialsNotFound", bad)),
    ))
    .await;
    let (ks, msg, argo) = live.read("stalled").await;
    assert_eq!((ks.as_str(), argo.as_str()), ("Failed", "Degraded"));
    assert_eq!(msg, bad, "kstatus shows the Stalled message");

    // The instance runs but the Secret lacks the password: a human must
    // write it back, so the operator reports Stalled=True — Argo CD says
    // Degraded and kstatus Failed, never Current, so no app starts on it.
    let no_password = "the instance runs but the connection Secret has no NEO4J_PASSWORD, and Aura returns a password only once: write it back with kubectl patch secret <connection secret> --type merge -p '{\"stringData\":{\"NEO4J_PASSWORD\":\"...\"}}' (or reset it in the Aura console first)";
    live.write_status(status_body(
        gen2,
        "Running",
        Some("running"),
        ("False", "PasswordUnavailable", no_password),
        None,
        Some(("PasswordUnavailable", no_password)),
    ))
    .await;
    let (ks, msg, argo, argo_msg) = live.read_both().await;
    assert_eq!((ks.as_str(), argo.as_str()), ("Failed", "Degraded"));
    assert_eq!(
        (msg.as_str(), argo_msg.as_str()),
        (no_password, no_password)
    );

    // Paused on purpose: Argo CD says Suspended; kstatus has no such state
    // and reads the Ready=False as InProgress.
    let paused = api
        .patch(
            &live.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"paused": true}})),
        )
        .await
        .expect("pause");
    let gen3 = paused.metadata.generation.unwrap();
    let (ks, _, _) = live.read("pause requested").await;
    assert_eq!(ks, "InProgress", "right after spec.paused: true");
    live.write_status(status_body(
        gen3,
        "Paused",
        Some("paused"),
        ("False", "Paused", "the Aura instance is paused"),
        None,
        None,
    ))
    .await;
    let (ks, _, argo) = live.read("paused").await;
    assert_eq!((ks.as_str(), argo.as_str()), ("InProgress", "Suspended"));

    // Deleting: the finalizer holds the object, kstatus says Terminating.
    api.delete(&live.name, &DeleteParams::default())
        .await
        .expect("delete");
    let destroying = "waiting for Aura to destroy instance 8f769515";
    live.write_status(status_body(
        gen3,
        "Deleting",
        Some("destroying"),
        ("False", "Deleting", destroying),
        Some(("Deleting", destroying)),
        None,
    ))
    .await;
    let (ks, _, argo) = live.read("deleting").await;
    assert_eq!((ks.as_str(), argo.as_str()), ("Terminating", "Progressing"));

    // Let it go.
    api.patch(
        &live.name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("drop the finalizer");
}

/// A project's status as the operator writes it: `ready` is (status, reason,
/// message); `reconciling`/`stalled` are (reason, message) when True.
fn project_status(
    generation: i64,
    ready: (&str, &str, &str),
    reconciling: Option<(&str, &str)>,
    stalled: Option<(&str, &str)>,
    used_by: u32,
) -> Value {
    let mut body = status_body(generation, "", None, ready, reconciling, stalled);
    let status = body["status"].as_object_mut().unwrap();
    status.remove("phase");
    status.insert("usedBy".into(), json!(used_by));
    if ready.0 == "True" || ready.1 == "InUse" {
        status.insert(
            "tenantId".into(),
            json!("ad69ee24-1b2c-4d5e-8f90-123456789abc"),
        );
        status.insert("tenantName".into(), json!("Team A"));
        status.insert(
            "offered".into(),
            json!([{"cloudProvider": "gcp", "region": "europe-west1",
                    "types": ["enterprise-db", "professional-db"], "memory": ["2GB", "8GB"]}]),
        );
    }
    body
}

/// kstatus and Argo CD on a live project object: (kstatus, its message,
/// Argo CD, its message), checking that the two agree.
async fn read_project(
    api: &Api<DynamicObject>,
    name: &str,
    step: &str,
) -> (String, String, String, String) {
    let obj = serde_json::to_value(api.get(name).await.expect("get the project")).unwrap();
    let (ks, msg) = tokio::task::spawn_blocking({
        let obj = obj.clone();
        move || kstatus(&obj)
    })
    .await
    .expect("kstatus task");
    let (argo, argo_msg) = argo_health(&obj);
    // Before any status kstatus sees no condition and says Current (see Live::read).
    let no_status_yet =
        ks == "Current" && argo_msg.starts_with("Waiting for the operator to observe the");
    assert!(
        no_status_yet || agrees(&ks, &argo),
        "{step}: kstatus says {ks} ({msg}) but Argo CD says {argo} ({argo_msg})"
    );
    (ks, msg, argo, argo_msg)
}

#[tokio::test]
async fn kstatus_and_argo_cd_read_live_projects_alike() {
    // It writes a ClusterAuraProject's status by hand: no operator may run,
    // or it would take the project for its own, rewrite its status and let
    // its deletion through.
    let _alone = cluster::exclusive().await;
    let build = tokio::task::spawn_blocking(kstatus_bin);
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    build.await.expect("build the kstatus helper");
    let ns = support::test_namespace(&client, "gitops-projects").await;
    let cluster_name = format!("gitops-{}", &ns[ns.len() - 8..]);
    let finalizer = aura_operator::api::PROJECT_FINALIZER;
    let cases = [
        (
            Api::<DynamicObject>::namespaced_with(
                client.clone(),
                &ns,
                &ApiResource::erase::<AuraProject>(&()),
            ),
            project("team")
                .finalizer(finalizer)
                .credentials("aura-api")
                .manifest(),
            json!({"spec": {"credentialsSecretRef": {"name": "aura-api-rotated"}}}),
        ),
        (
            Api::<DynamicObject>::all_with(
                client.clone(),
                &ApiResource::erase::<ClusterAuraProject>(&()),
            ),
            cluster_project(&cluster_name)
                .finalizer(finalizer)
                .credentials("aura-api", &ns)
                .allow_names(&[&ns])
                .manifest(),
            json!({"spec": {"allowedNamespaces": {"selector": {"matchLabels": {"aura-operator.io/allowed": "true"}}}}}),
        ),
    ];
    for (api, manifest, edit) in cases {
        let kind = manifest["kind"].as_str().unwrap().to_string();
        let created = api
            .create(
                &PostParams::default(),
                &serde_json::from_value(manifest).unwrap(),
            )
            .await
            .unwrap_or_else(|e| panic!("create the {kind}: {e}"));
        let name = created.name_any();
        let gen1 = created.metadata.generation.expect("a generation");
        let write = |body: Value| {
            let api = api.clone();
            let name = name.clone();
            async move {
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
                    .await
                    .expect("write status");
            }
        };

        let (_, _, argo, argo_msg) = read_project(&api, &name, "no status").await;
        assert_eq!(
            (argo.as_str(), argo_msg),
            (
                "Progressing",
                format!("Waiting for the operator to observe the {kind}")
            ),
            "{kind} before any status"
        );

        let checking = "obtaining a token and looking up the tenant";
        write(project_status(
            gen1,
            ("Unknown", "Reconciling", checking),
            Some(("Reconciling", checking)),
            None,
            0,
        ))
        .await;
        let (ks, _, argo, _) = read_project(&api, &name, "first sight").await;
        assert_eq!(
            (ks.as_str(), argo.as_str()),
            ("InProgress", "Progressing"),
            "{kind} first sight"
        );

        let ready = (
            "True",
            "Ready",
            "credentials accepted; tenant Team A (ad69ee24-1b2c-4d5e-8f90-123456789abc) is visible",
        );
        write(project_status(gen1, ready, None, None, 0)).await;
        let (ks, _, argo, _) = read_project(&api, &name, "ready").await;
        assert_eq!(
            (ks.as_str(), argo.as_str()),
            ("Current", "Healthy"),
            "{kind} ready"
        );

        // A spec edit: not observed yet.
        let edited = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(edit))
            .await
            .expect("edit the spec");
        let gen2 = edited.metadata.generation.unwrap();
        assert!(gen2 > gen1, "a spec edit bumps the generation");
        let (ks, _, argo, _) = read_project(&api, &name, "after a spec edit").await;
        assert_eq!(
            (ks.as_str(), argo.as_str()),
            ("InProgress", "Progressing"),
            "{kind} after an edit"
        );

        // Stalled on the credentials.
        let bad = "the Aura token endpoint refused the credentials: check or rotate them";
        write(project_status(
            gen2,
            ("False", "AuthenticationFailed", bad),
            None,
            Some(("AuthenticationFailed", bad)),
            0,
        ))
        .await;
        let (ks, msg, argo, argo_msg) = read_project(&api, &name, "stalled").await;
        assert_eq!(
            (ks.as_str(), argo.as_str()),
            ("Failed", "Degraded"),
            "{kind} stalled"
        );
        assert_eq!((msg.as_str(), argo_msg.as_str()), (bad, bad));

        // Ready and used; then deleted while used: held, Ready=False InUse.
        write(project_status(gen2, ready, None, None, 1)).await;
        let (ks, _, _, _) = read_project(&api, &name, "ready and used").await;
        assert_eq!(ks, "Current", "{kind} ready at the new generation");
        api.delete(&name, &DeleteParams::default())
            .await
            .expect("delete");
        // Setting deletionTimestamp bumps a custom resource's generation: the
        // operator's status must follow, or Argo CD shows the generation wait
        // instead of the users.
        let gen3 = api.get(&name).await.unwrap().metadata.generation.unwrap();
        assert!(gen3 > gen2, "the deletion bumps the generation");
        let in_use = format!("still used by 1 AuraInstance: {ns}/orders");
        write(project_status(
            gen3,
            ("False", "InUse", in_use.as_str()),
            None,
            None,
            1,
        ))
        .await;
        let (ks, _, argo, argo_msg) = read_project(&api, &name, "deleting while used").await;
        assert_eq!(
            (ks.as_str(), argo.as_str()),
            ("Terminating", "Progressing"),
            "{kind} in use"
        );
        assert_eq!(argo_msg, in_use, "Argo CD names the users");

        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("drop the finalizer");
    }
}

#[tokio::test]
async fn example_manifests_pass_admission() {
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    let ns = support::test_namespace(&client, "gitops-example").await;
    for doc in example_docs() {
        let kind = doc["kind"].as_str().unwrap().to_string();
        let name = doc["metadata"]["name"].as_str().unwrap().to_string();
        let (group, version) = match doc["apiVersion"].as_str().unwrap().split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (
                String::new(),
                doc["apiVersion"].as_str().unwrap().to_string(),
            ),
        };
        let gvk = kube::api::GroupVersionKind::gvk(&group, &version, &kind);
        let (ar, _) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .unwrap_or_else(|e| panic!("discovering {kind}: {e}"));
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
        api.patch(
            &name,
            &PatchParams::apply("gitops-tests").dry_run(),
            &Patch::Apply(&doc),
        )
        .await
        .unwrap_or_else(|e| panic!("the apiserver rejects the example {kind} {name}: {e}"));
    }
}

// ---------------------------------------------------------------------------
// With the real operator and the simulator
// ---------------------------------------------------------------------------

/// Polls the live object until `done` holds for (kstatus, Argo CD), checking
/// on every observation that the two tools agree; returns what it saw.
async fn watch_until(
    live: &Live,
    what: &str,
    done: impl Fn(&str, &str) -> bool,
) -> Vec<(String, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut seen: Vec<(String, String)> = Vec::new();
    loop {
        let (ks, _, argo) = live.read(what).await;
        let finished = done(&ks, &argo);
        if seen.last() != Some(&(ks.clone(), argo.clone())) {
            seen.push((ks, argo));
        }
        if finished {
            return seen;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; saw {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Runs an Argo CD action on the live object and applies its result the way
/// Argo CD does for an old-style action (a merge patch of the returned object).
async fn apply_action(live: &Live, action: &str) {
    let obj = live.json().await;
    let out = run_action(action, &obj);
    let patch = json!({
        "metadata": {"annotations": out["metadata"]["annotations"].clone()},
        "spec": out["spec"].clone(),
    });
    live.api
        .patch(&live.name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap_or_else(|e| panic!("applying the {action} action: {e}"));
}

#[tokio::test]
async fn the_real_operator_reads_the_same_in_argo_cd_and_kstatus() {
    use aura_operator::simulator::{Simulator, SimulatorConfig};
    let _operator = cluster::shared().await;

    const CLIENT_ID: &str = "gitops-client";
    const CLIENT_SECRET: &str = "gitops-secret-9f3KqL";
    let build = tokio::task::spawn_blocking(kstatus_bin);
    let client = support::admin_client().await;
    ensure_crd(&client).await;
    build.await.expect("build the kstatus helper");
    let ns = support::test_namespace(&client, "gitops-operator").await;
    let sim = Simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        tenants: vec![(
            "ad69ee24-1b2c-4d5e-8f90-123456789abc".into(),
            "Team A".into(),
        )],
        create_seconds: 3.0,
        transition_seconds: 2.0,
        ..SimulatorConfig::default()
    })
    .await
    .expect("start the simulator");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "aura-api"},
                "stringData": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
            }))
            .unwrap(),
        )
        .await
        .expect("the credentials Secret");
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_aura-operator"))
        .args([
            "run",
            "--namespace",
            &ns,
            "--aura-base-url",
            &sim.base_url(),
        ])
        .args(["--poll-interval", "500ms", "--resync-interval", "20s"])
        .env("KUBECONFIG", support::kubeconfig_path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start aura-operator run");

    // The example AuraInstance, as Argo CD or Flux would apply it.
    let example = read_yaml(&repo_root().join("deploy/gitops-example/database/aurainstance.yaml"));
    let api: Api<AuraInstance> = Api::namespaced(client.clone(), &ns);
    let name = example["metadata"]["name"].as_str().unwrap().to_string();
    api.patch(
        &name,
        &PatchParams::apply("gitops-tests"),
        &Patch::Apply(&example),
    )
    .await
    .expect("apply the example AuraInstance");
    let live = Live {
        api: api.clone(),
        name: name.clone(),
    };

    let seen = watch_until(&live, "Ready", |ks, argo| {
        ks == "Current" && argo == "Healthy"
    })
    .await;
    assert!(
        seen.iter()
            .any(|(ks, argo)| ks == "InProgress" && argo == "Progressing"),
        "the object was seen in progress before Ready: {seen:?}"
    );
    let secret = secrets
        .get(&format!("{name}-connection"))
        .await
        .expect("the connection Secret exists once Healthy");
    assert!(
        secret
            .data
            .as_ref()
            .is_some_and(|d| d.get("NEO4J_PASSWORD").is_some_and(|p| !p.0.is_empty())),
        "Healthy/Current only once the Secret holds the password"
    );

    // The pause action: Progressing while pausing, then Suspended.
    apply_action(&live, "pause").await;
    watch_until(&live, "Suspended", |_, argo| argo == "Suspended").await;

    // "Reconcile now" changes the annotation and nothing else.
    apply_action(&live, "reconcile").await;
    let obj = live.json().await;
    assert!(
        obj["metadata"]["annotations"][RECONCILE_ANNOTATION].is_string(),
        "the reconcile action sets {RECONCILE_ANNOTATION}"
    );
    assert_eq!(obj["spec"]["paused"], true);

    // The resume action: back to Healthy and Current.
    apply_action(&live, "resume").await;
    watch_until(&live, "Ready after resume", |ks, argo| {
        ks == "Current" && argo == "Healthy"
    })
    .await;

    // Delete: the operator destroys the instance, then lets the object go.
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("delete");
    eventually("the AuraInstance to be gone", WAIT, || {
        let api = api.clone();
        let name = name.clone();
        async move { api.get_opt(&name).await.ok()?.is_none().then_some(()) }
    })
    .await;
    operator.kill().await.expect("stop the operator");
}
