//! Table tests of the pure parts: names, fields, refusals, quoting, the header.

use serde::Deserialize as _;
use serde_json::{Value as Json, json};

use super::manifest::*;
use super::yaml::*;
use super::*;

const TENANT_A: &str = "ad69ee24-1b2c-4d5e-8f90-123456789abc";
const TENANT_B: &str = "c3b1a7e0-9d8f-4e6a-b5c4-abcdefabcdef";
const SECRET: &str = "s3cr3t-Zq8vX2pL-never-shown";

/// An instance as `GET /instances/{id}` reports it, read by the client's
/// tolerant reader; `changes` replace (or, as null, remove) fields.
fn instance(id: &str, name: &str, changes: Json) -> Instance {
    let mut wire = json!({
        "id": id, "name": name, "status": "running", "tenant_id": TENANT_A,
        "cloud_provider": "gcp", "region": "europe-west1", "type": "enterprise-db",
        "memory": "8GB", "storage": "16GB",
        "connection_url": format!("neo4j+s://{id}.databases.neo4j.io"),
        "created_at": "2024-01-02T03:04:05Z",
    });
    for (k, v) in changes.as_object().expect("an object of changes") {
        if v.is_null() {
            wire.as_object_mut().unwrap().remove(k);
        } else {
            wire[k] = v.clone();
        }
    }
    serde_json::from_value(wire).expect("the tolerant reader reads it")
}

fn listing(instances: Vec<Instance>) -> Listing {
    Listing {
        tenants: vec![
            TenantSummary {
                id: TENANT_B.into(),
                name: "Team B".into(),
            },
            TenantSummary {
                id: TENANT_A.into(),
                name: "Team A".into(),
            },
        ],
        one_tenant: false,
        instances: instances
            .into_iter()
            .map(|i| (i.tenant_id.clone().unwrap_or_default(), i))
            .collect(),
        gone: Vec::new(),
    }
}

fn opts() -> Options {
    Options {
        namespace: Some("team-a".into()),
        credentials_secret: Some("aura-api".into()),
    }
}

/// The documents of an output, as JSON (comment-only parts are no documents).
fn documents(yaml: &str) -> Vec<Json> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| {
            let v = serde_yaml::Value::deserialize(d).expect("valid YAML");
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn spec_of(i: Instance) -> Json {
    let out = render(&listing(vec![i]), &opts());
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    let docs = documents(&out.yaml);
    assert_eq!(docs.len(), 1, "{}", out.yaml);
    docs[0]["spec"].clone()
}

#[test]
fn names_from_aura_names() {
    let cases = [
        ("orders", "orders"),
        ("Orders", "orders"),
        ("My  Graph (prod)!", "my-graph-prod"),
        ("--x--", "x"),
        ("orders.prod_v2", "orders-prod-v2"),
        ("Café Ünïcode", "caf-n-code"),
        ("数据库", "aura-0a1b2c3d"),
        ("!!!", "aura-0a1b2c3d"),
        ("", "aura-0a1b2c3d"),
        ("   ", "aura-0a1b2c3d"),
        (
            "a-very-long-instance-name-that-goes-on",
            "a-very-long-instance-name-that",
        ),
        // Cut at 30 characters, then trimmed again.
        (
            "abcdefghijklmnopqrstuvwxyz123 tail",
            "abcdefghijklmnopqrstuvwxyz123",
        ),
        ("123 numbers first", "123-numbers-first"),
    ];
    for (aura, want) in cases {
        let got = base_name(aura, "0a1b2c3d");
        assert_eq!(got, want, "{aura:?}");
        assert!(got.len() <= 30 || got.starts_with("aura-"), "{got}");
        assert!(is_dns_label(&got), "{got} is a DNS label");
    }
}

#[test]
fn names_that_collide_get_the_id_of_the_later_ones() {
    type Case = (
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );
    let cases: &[Case] = &[
        (&[("orders", "0000000a")], &["orders"]),
        (
            &[
                ("Orders", "0000000a"),
                ("orders", "0000000b"),
                ("ORDERS!", "0000000c"),
            ],
            &["orders", "orders-0000000b", "orders-0000000c"],
        ),
        // Two Aura names with nothing usable: their ids tell them apart.
        (
            &[("!!!", "0000000a"), ("???", "0000000b")],
            &["aura-0000000a", "aura-0000000b"],
        ),
        // A name another instance already took with its suffix.
        (
            &[
                ("orders", "0000000a"),
                ("orders", "0000000b"),
                ("orders-0000000b", "0000000c"),
            ],
            &["orders", "orders-0000000b", "orders-0000000b-0000000c"],
        ),
        // Long names cut to the same 30 characters.
        (
            &[
                ("a-very-long-instance-name-that-goes-on", "0000000a"),
                ("a-very-long-instance-name-that-stops", "0000000b"),
            ],
            &[
                "a-very-long-instance-name-that",
                "a-very-long-instance-name-that-0000000b",
            ],
        ),
    ];
    for (input, want) in cases {
        let got = object_names(input.iter().copied());
        assert_eq!(got, *want, "{input:?}");
    }
}

#[test]
fn collisions_across_tenants_keep_every_aura_name() {
    let out = render(
        &listing(vec![
            instance("0000000b", "Orders", json!({"tenant_id": TENANT_B})),
            instance("0000000a", "orders", json!({})),
            instance("0000000c", "Orders", json!({})),
        ]),
        &opts(),
    );
    let docs = documents(&out.yaml);
    let got: Vec<(&str, Option<&str>, &str)> = docs
        .iter()
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap(),
                d["spec"]["name"].as_str(),
                d["spec"]["connectionSecret"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    // Tenant A first ("Orders" sorts before "orders"), then tenant B.
    assert_eq!(
        got,
        [
            ("orders", Some("Orders"), "orders-connection"),
            (
                "orders-0000000a",
                Some("orders"),
                "orders-0000000a-connection"
            ),
            (
                "orders-0000000b",
                Some("Orders"),
                "orders-0000000b-connection"
            ),
        ]
    );
}

#[test]
fn a_full_manifest() {
    let out = render(
        &listing(vec![instance("0a1b2c3d", "orders", json!({}))]),
        &opts(),
    );
    let docs = documents(&out.yaml);
    assert_eq!(
        docs,
        [json!({
            "apiVersion": "aura-operator.io/v1beta1",
            "kind": "AuraInstance",
            "metadata": {"name": "orders", "namespace": "team-a"},
            "spec": {
                "managementPolicy": "ObserveOnly",
                "instanceId": "0a1b2c3d",
                "tenantId": TENANT_A,
                "cloudProvider": "gcp",
                "region": "europe-west1",
                "type": "enterprise-db",
                "memory": "8GB",
                "storage": "16GB",
                "deletionPolicy": "Orphan",
                "credentialsSecretRef": {"name": "aura-api"},
                "connectionSecret": {"name": "orders-connection"},
            },
        })]
    );
    // The order a person reads it in: policy and identity first.
    let text = &out.yaml[out.yaml.find("apiVersion").unwrap()..];
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .map(|l| l.trim().split(':').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "namespace",
            "managementPolicy",
            "instanceId",
            "tenantId",
            "cloudProvider",
            "region",
            "type",
            "memory",
            "storage",
            "deletionPolicy",
            "credentialsSecretRef",
            "connectionSecret",
        ]
    );
    assert_eq!(out.printed, 1);
    assert!(out.skipped.is_empty());
}

#[test]
fn optional_fields_present_and_absent() {
    // (what Aura reports, keys expected with their values, keys expected absent)
    let cases: Vec<(Json, Json, &[&str])> = vec![
        (
            json!({}),
            json!({"storage": "16GB"}),
            &[
                "name",
                "vectorOptimized",
                "graphAnalyticsPlugin",
                "secondariesCount",
                "cdcEnrichmentMode",
                "customerManagedKeyId",
                "paused",
                "version",
            ],
        ),
        (json!({"storage": null}), json!({}), &["storage"]),
        (json!({"storage": "64gb"}), json!({"storage": "64GB"}), &[]),
        // Free instances: Aura's storage is never written (the CRD refuses it).
        (
            json!({"type": "free-db", "memory": "1GB", "storage": "2GB"}),
            json!({"type": "free-db", "memory": "1GB"}),
            &["storage"],
        ),
        (
            json!({"vector_optimized": true, "graph_analytics_plugin": false}),
            json!({"vectorOptimized": true, "graphAnalyticsPlugin": false}),
            &[],
        ),
        (
            json!({"vector_optimized": "False", "graph_analytics_plugin": 1}),
            json!({"vectorOptimized": false, "graphAnalyticsPlugin": true}),
            &[],
        ),
        (
            json!({"secondaries_count": 2}),
            json!({"secondariesCount": 2}),
            &[],
        ),
        (
            json!({"secondaries_count": "0"}),
            json!({"secondariesCount": 0}),
            &[],
        ),
        (
            json!({"secondaries_count": null, "cdc_enrichment_mode": null}),
            json!({}),
            &["secondariesCount", "cdcEnrichmentMode"],
        ),
        (
            json!({"customer_managed_key_id": "key-1"}),
            json!({"customerManagedKeyId": "key-1"}),
            &[],
        ),
        (
            json!({"customer_managed_key_id": ""}),
            json!({}),
            &["customerManagedKeyId"],
        ),
        // Never part of the spec.
        (
            json!({"metrics_integration_url": "https://example.test/metrics"}),
            json!({}),
            &["metricsIntegrationUrl"],
        ),
        (json!({"status": "paused"}), json!({"paused": true}), &[]),
        (json!({"status": "Pausing"}), json!({"paused": true}), &[]),
        (json!({"status": "suspended"}), json!({}), &["paused"]),
        (json!({"status": null}), json!({}), &["paused"]),
        // Aura's words in any case, written as the CRD spells them.
        (
            json!({"type": "Professional-DB", "cloud_provider": "AWS", "region": "us-east-1", "memory": "4gb"}),
            json!({"type": "professional-db", "cloudProvider": "aws", "region": "us-east-1", "memory": "4GB"}),
            &[],
        ),
        // Unknown fields are ignored.
        (
            json!({"shiny_new_field": {"a": 1}}),
            json!({}),
            &["shinyNewField"],
        ),
    ];
    for (changes, present, absent) in cases {
        let spec = spec_of(instance("0a1b2c3d", "orders", changes.clone()));
        for (k, v) in present.as_object().unwrap() {
            assert_eq!(&spec[k], v, "{k} for {changes}: {spec}");
        }
        for k in absent {
            assert!(spec.get(k).is_none(), "{k} for {changes}: {spec}");
        }
        assert_eq!(spec["managementPolicy"], "ObserveOnly");
        assert_eq!(spec["deletionPolicy"], "Orphan");
    }
}

#[test]
fn spec_name_only_when_it_differs() {
    for (aura, want) in [
        ("orders", None),
        ("Orders", Some("Orders")),
        ("orders prod", Some("orders prod")),
        ("!!!", Some("!!!")),
        ("Orders: \"prod\" #1", Some("Orders: \"prod\" #1")),
        ("Café — prod", Some("Café — prod")),
        ("'quoted' & {braces}", Some("'quoted' & {braces}")),
        ("- dash first", Some("- dash first")),
    ] {
        let spec = spec_of(instance("0a1b2c3d", aura, json!({})));
        assert_eq!(spec["name"].as_str(), want, "{aura:?}");
    }
}

#[test]
fn plain_only_where_every_yaml_reader_agrees() {
    let cases = [
        ("orders", true),
        ("europe-west1", true),
        ("8GB", true),
        ("0a1b2c3d", true),
        ("aura-operator.io/v1beta1", true),
        ("ObserveOnly", true),
        ("", false),
        ("Off", false),
        ("ON", false),
        ("yes", false),
        ("n", false),
        ("True", false),
        ("null", false),
        ("00012345", false),
        ("1234e100", false),
        ("0x1f", false),
        ("0b1010", false),
        ("0O17", false),
        ("0000000b", true),
        ("1_000", false),
        ("12.5", false),
        ("1:20", false),
        ("a b", false),
        ("-a", false),
        ("a#b", false),
        ("é", false),
    ];
    for (text, plain) in cases {
        assert_eq!(is_plain(text), plain, "{text:?}");
        // Either way, it reads back as the same string.
        let yaml = format!("k: {}\n", scalar(&s(text)));
        let back: Json = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back["k"], text, "{yaml}");
    }
}

#[test]
fn the_cdc_mode_as_a_manifest_writes_it() {
    for (aura, want) in [
        ("OFF", "Off"),
        ("DIFF", "Diff"),
        ("FULL", "Full"),
        ("off", "Off"),
        ("Diff", "Diff"),
    ] {
        let spec = spec_of(instance(
            "0a1b2c3d",
            "orders",
            json!({"cdc_enrichment_mode": aura}),
        ));
        assert_eq!(spec["cdcEnrichmentMode"], want, "{aura}");
    }
    let out = render(
        &listing(vec![instance(
            "0a1b2c3d",
            "orders",
            json!({"cdc_enrichment_mode": "PARTIAL"}),
        )]),
        &opts(),
    );
    assert_eq!(out.skipped.len(), 1);
    assert!(
        out.skipped[0].reasons[0].contains("\"PARTIAL\""),
        "{:?}",
        out.skipped
    );
}

#[test]
fn words_that_yaml_1_1_reads_otherwise_are_quoted() {
    // kubectl reads YAML 1.1: unquoted Off is false, 1234e100 a number.
    let out = render(
        &listing(vec![
            instance("1234e100", "yes", json!({"cdc_enrichment_mode": "OFF"})),
            instance("00012345", "on", json!({})),
        ]),
        &opts(),
    );
    for line in [
        "cdcEnrichmentMode: \"Off\"",
        "instanceId: \"1234e100\"",
        "instanceId: \"00012345\"",
        "  name: \"yes\"",
        "  name: \"on\"",
        "memory: 8GB",
        "region: europe-west1",
    ] {
        assert!(out.yaml.contains(line), "{line} in\n{}", out.yaml);
    }
    let docs = documents(&out.yaml);
    assert_eq!(docs[0]["spec"]["instanceId"], "00012345");
    assert_eq!(docs[1]["spec"]["cdcEnrichmentMode"], "Off");
}

#[test]
fn refused_values_are_printed_as_comments_with_the_reason() {
    let cases: &[(&str, Json, &str)] = &[
        (
            "memory",
            json!({"memory": "3GB"}),
            "memory \"3GB\" is not a size",
        ),
        ("memory", json!({"memory": "8 GiB"}), "memory \"8 GiB\""),
        ("memory", json!({"memory": null}), "no memory size"),
        (
            "type",
            json!({"type": "enterprise-xl"}),
            "type \"enterprise-xl\"",
        ),
        ("type", json!({"type": null}), "no type"),
        (
            "provider",
            json!({"cloud_provider": "oracle"}),
            "cloud provider \"oracle\"",
        ),
        (
            "provider",
            json!({"cloud_provider": null}),
            "no cloud provider",
        ),
        ("region", json!({"region": null}), "no region"),
        ("storage", json!({"storage": "16TB"}), "storage \"16TB\""),
        (
            "tenant",
            json!({"tenant_id": "not-a-uuid"}),
            "tenant id \"not-a-uuid\"",
        ),
        (
            "name",
            json!({"name": "a name far longer than thirty characters"}),
            "longer than 30",
        ),
        ("name", json!({"name": null}), "no name"),
        ("cdc", json!({"cdc_enrichment_mode": "MAYBE"}), "\"MAYBE\""),
    ];
    for (what, changes, reason) in cases {
        let bad = instance("0000000b", "bad", changes.clone());
        let tenant = bad.tenant_id.clone().unwrap_or(TENANT_A.into());
        let mut l = listing(vec![instance("0000000a", "good", json!({}))]);
        l.instances.push((tenant, bad));
        let out = render(&l, &opts());
        assert_eq!(out.printed, 1, "{what}");
        assert_eq!(out.skipped.len(), 1, "{what}");
        assert!(
            out.skipped[0].reasons.iter().any(|r| r.contains(reason)),
            "{what}: {:?}",
            out.skipped[0].reasons
        );
        // Only the good one is a document; the bad one is all comments,
        // with the refused value as Aura reported it.
        let docs = documents(&out.yaml);
        assert_eq!(docs.len(), 1, "{what}");
        assert_eq!(docs[0]["spec"]["instanceId"], "0000000a");
        let block: Vec<&str> = out
            .yaml
            .lines()
            .skip_while(|l| !l.starts_with("# SKIPPED"))
            .take_while(|l| l.starts_with('#'))
            .collect();
        assert!(block[0].contains("0000000b"), "{what}: {block:?}");
        assert!(
            block.iter().any(|l| l.contains(reason)),
            "{what}: {block:?}"
        );
        assert!(
            block.iter().any(|l| l.contains("instanceId: 0000000b")),
            "{what}"
        );
        if let Some(value) = changes
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
        {
            assert!(block.iter().any(|l| l.contains(value)), "{what}: {block:?}");
        }
        let s = summary(&out);
        assert!(s.contains("1 instance skipped"), "{s}");
        assert!(s.contains("0000000b") && s.contains(reason), "{s}");
        assert!(
            out.yaml
                .contains("1 skipped (the operator's CRD would refuse"),
            "{what}"
        );
    }
}

#[test]
fn order_is_by_tenant_then_aura_name_then_id() {
    let out = render(
        &listing(vec![
            instance("0000000c", "b", json!({"tenant_id": TENANT_B})),
            instance("0000000f", "b", json!({})),
            instance("0000000e", "a", json!({})),
            instance("0000000d", "b", json!({})),
            instance("0000000a", "a", json!({"tenant_id": TENANT_B})),
        ]),
        &opts(),
    );
    let ids: Vec<String> = documents(&out.yaml)
        .iter()
        .map(|d| d["spec"]["instanceId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        ["0000000e", "0000000d", "0000000f", "0000000a", "0000000c"]
    );
    // The same answers in another order print the same text.
    let mut l = listing(Vec::new());
    l.instances = listing(vec![
        instance("0000000a", "a", json!({"tenant_id": TENANT_B})),
        instance("0000000d", "b", json!({})),
        instance("0000000e", "a", json!({})),
        instance("0000000f", "b", json!({})),
        instance("0000000c", "b", json!({"tenant_id": TENANT_B})),
    ])
    .instances;
    assert_eq!(render(&l, &opts()).yaml, out.yaml);
}

#[test]
fn the_header_says_what_was_listed_and_how_to_fill_the_password() {
    let mut l = listing(vec![
        instance("0000000a", "orders", json!({})),
        instance("0000000b", "billing", json!({})),
        instance("0000000c", "legacy", json!({"tenant_id": TENANT_B})),
    ]);
    l.gone.push((
        TENANT_A.into(),
        serde_json::from_value(json!({"id": "0000000d"})).unwrap(),
    ));
    let out = render(&l, &opts());
    let header: String = out
        .yaml
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    for want in [
        "every tenant these credentials see (2):",
        &format!("Team A ({TENANT_A}): 2 instances"),
        &format!("Team B ({TENANT_B}): 1 instance"),
        "3 instances in all: 3 manifests below, none skipped.",
        "gone before they could be read: 0000000d",
        "managementPolicy: ObserveOnly",
        "never makes a mutating call",
        "change its managementPolicy to Full",
        "returns an instance's password only once",
        "creates each Secret <name>-connection itself and owns it",
        "kubectl -n team-a patch secret <name>-connection --type merge -p '{\"stringData\":{\"NEO4J_PASSWORD\":\"...\"}}'",
        "CredentialsVerified",
        "spec.version is left out; it matters only to a create",
    ] {
        assert!(header.contains(want), "{want:?} in\n{header}");
    }
    assert!(!header.contains("No metadata.namespace"));
    assert!(!header.contains("No credentialsSecretRef"));
    // Each manifest has its own command.
    assert!(
        out.yaml
            .contains("# Password: kubectl -n team-a patch secret billing-connection --type merge")
    );
    assert_eq!(out.gone, 1);
    assert!(summary(&out).contains("1 instance was listed but gone"));

    let mut one = listing(vec![instance("0000000a", "orders", json!({}))]);
    one.one_tenant = true;
    one.tenants.retain(|t| t.id == TENANT_A);
    let out = render(&one, &Options::default());
    for want in [
        "one tenant (--tenant-id)",
        "kubectl -n <namespace> patch secret <name>-connection",
        "No metadata.namespace",
        "No credentialsSecretRef",
    ] {
        assert!(out.yaml.contains(want), "{want:?} in\n{}", out.yaml);
    }
    let doc = &documents(&out.yaml)[0];
    assert!(doc["metadata"].get("namespace").is_none());
    assert!(doc["spec"].get("credentialsSecretRef").is_none());

    let out = render(&listing(Vec::new()), &opts());
    assert!(out.yaml.contains("0 instances in all"));
    assert!(!out.yaml.contains("spec.version is left out"));
    assert!(documents(&out.yaml).is_empty());
}

#[test]
fn flags_are_checked() {
    assert!(parse_namespace("team-a").is_ok());
    for bad in ["", "Team", "-a", "a_b", &"a".repeat(64)] {
        assert!(parse_namespace(bad).is_err(), "{bad:?}");
    }
    assert!(parse_secret_name("aura-api").is_ok());
    assert!(parse_secret_name("aura.api").is_ok());
    for bad in ["", "Aura", "a..b", "a/b"] {
        assert!(parse_secret_name(bad).is_err(), "{bad:?}");
    }
}

fn args(base_url: String, secret: &str) -> ImportArgs {
    ImportArgs {
        aura_base_url: base_url,
        client_id: "ops-client".into(),
        client_secret: secret.into(),
        tenant_id: None,
        namespace: None,
        credentials_secret: None,
    }
}

#[test]
fn the_client_secret_is_never_shown() {
    let a = args("https://api.neo4j.io".into(), SECRET);
    assert!(!format!("{a:?}").contains(SECRET));
    assert!(format!("{a:?}").contains("ops-client"));
    assert_eq!(
        redact(&format!("Aura said: bad secret {SECRET}!"), SECRET),
        "Aura said: bad secret <redacted>!"
    );
    assert_eq!(redact("nothing to hide", ""), "nothing to hide");
    // An instance named after the secret (absurd, but it must not print).
    let out = render(
        &listing(vec![instance("0000000a", SECRET, json!({}))]),
        &opts(),
    );
    assert!(!redact(&out.yaml, SECRET).contains(SECRET));
    assert!(!redact(&summary(&out), SECRET).contains(SECRET));
}

/// The I/O against the in-process simulator: a refused secret stops at
/// the first step, with Aura's answer and without the secret.
#[tokio::test]
async fn errors_name_the_step_and_never_the_secret() {
    use crate::simulator::{Simulator, SimulatorConfig};
    let sim = Simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![("ops-client".into(), SECRET.into())],
        tenants: vec![(TENANT_A.into(), "Team A".into())],
        ..SimulatorConfig::default()
    })
    .await
    .expect("start the simulator");

    let wrong = format!("{SECRET}-wrong");
    let err = list(&args(sim.base_url(), &wrong)).await.unwrap_err();
    assert!(err.contains("listing the tenants"), "{err}");
    assert!(
        err.contains("get token") && err.contains("HTTP 401"),
        "{err}"
    );
    assert!(
        err.contains("check --client-id and --client-secret"),
        "{err}"
    );
    assert!(!err.contains(&wrong) && !err.contains(SECRET), "{err}");

    let mut unknown = args(sim.base_url(), SECRET);
    unknown.tenant_id = Some(TENANT_B.into());
    let err = list(&unknown).await.unwrap_err();
    assert!(
        err.contains(&format!("listing the instances of tenant {TENANT_B}")),
        "{err}"
    );
    assert!(err.contains("HTTP 404"), "{err}");
    assert!(err.contains(&format!("see: {TENANT_A} (Team A)")), "{err}");
    assert!(!err.contains(SECRET), "{err}");

    let listing = list(&args(sim.base_url(), SECRET)).await.expect("lists");
    assert_eq!(listing.tenants.len(), 1);
    assert!(listing.instances.is_empty());
    sim.shutdown().await;
}

/// Names from Aura are data, never structure: a tenant, an instance name, an
/// instance id or a status word holding any character a YAML reader takes
/// for a line break (or any other control character) changes neither the
/// number of documents nor their keys, and every other line stays a comment.
#[test]
fn hostile_names_never_reach_the_structure() {
    const HOSTILE: [char; 12] = [
        '\r', '\n', '\u{85}', '\u{2028}', '\u{2029}', '\u{b}', '\u{c}', '\0', '\u{7f}', '\u{9b}',
        '\u{feff}', '\t',
    ];
    let payload = |c: char| format!("x{c}kind: ConfigMap{c}metadata: {{name: evil}}{c}---{c}# ");
    for c in HOSTILE {
        let evil = payload(c);
        // (where the payload goes, the listing)
        let mut places: Vec<(&str, Listing)> = Vec::new();
        let mut tenant = listing(vec![instance("0a1b2c3d", "orders", json!({}))]);
        tenant.tenants[1].name = evil.clone();
        places.push(("tenant name", tenant));
        places.push((
            "instance name",
            listing(vec![instance("0a1b2c3d", &evil, json!({}))]),
        ));
        places.push((
            "instance id",
            listing(vec![instance(&format!("0a1b{evil}"), "orders", json!({}))]),
        ));
        places.push((
            "status",
            listing(vec![instance(
                "0a1b2c3d",
                "orders",
                json!({"status": evil}),
            )]),
        ));
        places.push((
            "region",
            listing(vec![instance(
                "0a1b2c3d",
                "orders",
                json!({"region": evil}),
            )]),
        ));
        for (place, listing) in places {
            let out = render(&listing, &opts());
            let what = format!("{c:?} in the {place}");
            let docs = documents(&out.yaml);
            // A refused manifest is a comment: no document; else exactly one.
            assert!(docs.len() <= 1, "{what}: {docs:?}\n{}", out.yaml);
            for doc in &docs {
                assert_eq!(doc["kind"], "AuraInstance", "{what}");
                let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"], "{what}");
            }
            for line in out.yaml.lines() {
                assert!(
                    line.starts_with('#')
                        || line == "---"
                        || line.is_empty()
                        || line.starts_with(|l: char| l.is_ascii_alphabetic() || l == ' '),
                    "{what}: a line that is neither comment nor manifest: {line:?}"
                );
                assert!(
                    !line.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']),
                    "{what}: a line break character left in {line:?}"
                );
            }
        }
    }
}
