//! The ownership soak (issue 13): 100 AuraInstances in 5 namespaces with the
//! same names on one tenant, create answers lost now and then, and the
//! operator killed at random while it works. It must end with exactly one
//! instance per object, no object holding another's instance, and every
//! connection Secret holding the password Aura issued for its instance.
//! `cargo bench --bench scale -- small soak` (not part of the smoke test).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aura_operator::api::AuraInstance;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, PostParams};
use rand::Rng;
use serde_json::json;

use super::probe::Operator;
use super::{Bench, CLIENT_ID, CLIENT_SECRET, manifest, secs, sim_config};

const NAMESPACES: usize = 5;
const PER_NAMESPACE: usize = 20;
/// How long the operator is killed and restarted at random.
const CHAOS: Duration = Duration::from_secs(60);
const SETTLE: Duration = Duration::from_secs(240);

pub async fn soak(b: &mut Bench) -> anyhow::Result<()> {
    println!("soak: {NAMESPACES} namespaces x {PER_NAMESPACE} objects, lost creates, kills");
    let mut config = sim_config(CLIENT_ID, 3.0, 0, 0);
    config.faults.fail_creates = 12;
    let sim = aura_operator::simulator::Simulator::start(config).await?;
    let mut namespaces = Vec::new();
    for _ in 0..NAMESPACES {
        let ns = super::env::create_namespace(&b.client, "soak").await?;
        super::env::put_credentials(&b.client, &ns, "aura-api", CLIENT_ID, CLIENT_SECRET).await?;
        namespaces.push(ns);
    }
    let mut args: Vec<String> = Vec::new();
    for ns in &namespaces {
        args.extend(["--namespace".to_string(), ns.clone()]);
    }
    args.extend(
        [
            "--aura-base-url",
            &sim.base_url(),
            "--poll-interval",
            "1s",
            "--create-grace",
            "5s",
            "--log-level",
            "info",
        ]
        .map(String::from),
    );
    let start_operator = |round: usize| {
        Operator::start(
            &b.binary,
            &b.kubeconfig,
            b.out_dir.join(format!("soak-operator-{round}.log")),
            &args,
            b.t0,
        )
    };
    let mut op = start_operator(0)?;
    let names: Vec<String> = (0..PER_NAMESPACE).map(|i| format!("db-{i}")).collect();
    for ns in &namespaces {
        let api: Api<AuraInstance> = Api::namespaced(b.client.clone(), ns);
        for name in &names {
            api.create(&PostParams::default(), &manifest(name))
                .await
                .with_context(|| format!("create {ns}/{name}"))?;
        }
    }

    // Chaos: kill the operator at random moments, restart it at once.
    let chaos_end = Instant::now() + CHAOS;
    let mut kills = 0;
    while Instant::now() < chaos_end {
        let wait = rand::rng().random_range(2_000..8_000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        op.kill().await?;
        kills += 1;
        op = start_operator(kills)?;
    }
    println!("  {kills} kills in {} s; settling", CHAOS.as_secs());

    // Settle: every object Ready, or the deadline.
    let deadline = Instant::now() + SETTLE;
    let ready = loop {
        let mut ready = 0;
        for ns in &namespaces {
            let api: Api<AuraInstance> = Api::namespaced(b.client.clone(), ns);
            for o in api.list(&ListParams::default()).await?.items {
                let is_ready = o.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                });
                ready += usize::from(is_ready);
            }
        }
        if ready == NAMESPACES * PER_NAMESPACE || Instant::now() > deadline {
            break ready;
        }
        op.check_alive()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    };

    // The verdict.
    let st = sim.state();
    let instances = st.instances();
    let alive: BTreeSet<String> = instances.iter().map(|i| i.instance.id.clone()).collect();
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    let mut secrets_ok = 0;
    let mut shared = 0;
    for ns in &namespaces {
        let api: Api<AuraInstance> = Api::namespaced(b.client.clone(), ns);
        let secrets: Api<Secret> = Api::namespaced(b.client.clone(), ns);
        for o in api.list(&ListParams::default()).await?.items {
            let name = format!("{ns}/{}", o.metadata.name.clone().unwrap_or_default());
            let Some(id) = o.status.and_then(|s| s.instance_id) else {
                continue;
            };
            if held.insert(id.clone(), name).is_some() {
                shared += 1;
            }
            let secret = secrets
                .get_opt(&format!(
                    "{}-connection",
                    o.metadata.name.unwrap_or_default()
                ))
                .await?;
            let password = secret.as_ref().and_then(|s| {
                aura_operator::kinds::instance::secret::read_key(s, "NEO4J_PASSWORD")
            });
            if password.is_some() && password == st.issued_password(&id) {
                secrets_ok += 1;
            }
        }
    }
    let n = NAMESPACES * PER_NAMESPACE;
    let counters = st.counters();
    let orphans = alive.iter().filter(|id| !held.contains_key(*id)).count();
    let scenario = "soak";
    b.table.add(
        scenario,
        "objects / kills / lost create answers",
        format!("{n} / {kills} / 12"),
    );
    b.table
        .add(scenario, "Ready at the end", format!("{ready}/{n}"));
    b.table.target(
        scenario,
        "instances in Aura / unowned / shared by two objects",
        format!("{} / {orphans} / {shared}", alive.len()),
        &format!("{n} / 0 / 0"),
        alive.len() == n && orphans == 0 && shared == 0,
    );
    b.table.target(
        scenario,
        "Secrets holding their instance's password",
        format!("{secrets_ok}/{n}"),
        &format!("{n}/{n}"),
        secrets_ok == n,
    );
    b.table.add(
        scenario,
        "creates committed (re-creations included)",
        format!("{}", counters.creates_committed),
    );
    if ready < n || alive.len() != n || orphans > 0 || shared > 0 || secrets_ok < n {
        b.failures.push(format!(
            "soak: {ready}/{n} Ready, {} instances, {orphans} unowned, {shared} shared, {secrets_ok}/{n} passwords right",
            alive.len()
        ));
    }
    b.json.insert(
        "soak".into(),
        json!({"objects": n, "kills": kills, "ready": ready, "instances": alive.len(),
               "unowned": orphans, "shared": shared, "secrets_ok": secrets_ok,
               "creates_committed": counters.creates_committed, "seconds": secs(b.t0)}),
    );
    op.terminate().await?;
    sim.shutdown().await;
    Ok(())
}
