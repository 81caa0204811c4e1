//! AuraIPFilter on a real control plane, Aura (API v2beta1) played by the
//! simulator: a filter on two instances that is Ready only once Aura reports
//! it ACTIVE on both, a second object aimed at the same instance that stalls
//! and leaves the first filter as it was (checked in the simulator's state),
//! an instance removed from instanceRefs and detached in Aura, and, with the
//! live service's departures on, a DELETE answered 500 that still ends with
//! the filter gone and a field Aura ignores that stalls as NotApplied.
//!
//! How the kind keeps DESIGN §4: one owner (one Aura filter per object and
//! one object per instance: the younger object naming an instance stalls,
//! `FilterConflict`, shown here; an id recorded twice stalls, unit-tested in
//! `decide/tests.rs`); no cross-namespace data (instanceRefs name AuraInstances
//! of the filter's own namespace, found in the watch by namespace, and only
//! an instance its AuraInstance holds is filtered); bounded work (a Ready
//! filter is looked at once per resync; one write per stall retry, every five
//! minutes; SUBMITTED polled every 5 s).

use crate::support;

use aura_operator::api::{AuraIPFilter, AuraInstance};
use aura_operator::simulator::{DEMO_ORGANIZATION_ID, IpFilterView, Quirks};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use support::fixtures::{instance, ip_filter};
use support::harness::*;
use support::objects::{self, condition, reconciling_reason, stalled_reason};
use support::{WAIT, eventually};

fn filters(h: &Harness) -> Api<AuraIPFilter> {
    h.api()
}

/// The simulator's filters, sorted by name.
fn in_aura(h: &Harness) -> Vec<IpFilterView> {
    let mut all = h.sim.state().ip_filters();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn filters_on(h: &Harness, name: &str, want: &[&str]) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    objects::wait_for(&h.instances(), name, "its ipFilters", |o: &AuraInstance| {
        o.status
            .as_ref()
            .map(|s| s.ip_filters.clone())
            .unwrap_or_default()
            == want
    })
    .await;
}

async fn patch_spec(h: &Harness, name: &str, spec: serde_json::Value) {
    filters(h)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": spec })),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_when_active_on_both_instances_and_a_second_object_changes_nothing() {
    let mut h = Harness::start("ipf-two", |c| c.ip_filter_seconds = Some(4.0)).await;
    h.start_operator();
    objects::create(&h.instances(), instance("orders")).await;
    objects::create(&h.instances(), instance("users")).await;
    let orders = instance_id(&h.wait_ready("orders").await);
    let users = instance_id(&h.wait_ready("users").await);

    objects::create(&filters(&h), ip_filter("office", &["orders", "users"])).await;
    let submitted = objects::wait_for(&filters(&h), "office", "FilterSubmitted", |f| {
        reconciling_reason(f).as_deref() == Some("FilterSubmitted")
    })
    .await;
    assert!(!objects::is_true(&submitted, "Ready"));
    let ready = objects::wait_ready(&filters(&h), "office").await;
    let status = ready.status.clone().unwrap();
    assert_eq!(
        status.organization_id.as_deref(),
        Some(DEMO_ORGANIZATION_ID)
    );
    let states: Vec<(String, String)> = status
        .applied_to
        .iter()
        .map(|a| (a.instance_id.clone().unwrap(), a.state.clone()))
        .collect();
    assert_eq!(
        sorted(states.iter().map(|(i, s)| format!("{i} {s}")).collect()),
        sorted(vec![format!("{orders} ACTIVE"), format!("{users} ACTIVE")])
    );
    let aura = in_aura(&h);
    assert_eq!(aura.len(), 1, "{aura:?}");
    assert_eq!(Some(&aura[0].id), status.id.as_ref());
    assert_eq!(
        sorted(aura[0].filtered_entities.instances.clone()),
        sorted(vec![orders.clone(), users.clone()])
    );
    let range = &aura[0].allow_list[0];
    assert_eq!(
        (
            range.address.as_str(),
            range.prefix_len,
            range.description.as_str()
        ),
        ("203.0.113.0", 24, "office")
    );
    filters_on(&h, "orders", &["office"]).await;
    filters_on(&h, "users", &["office"]).await;

    // A second object aimed at orders stalls; Aura's filter stays as it was.
    let before = in_aura(&h);
    objects::create(
        &filters(&h),
        ip_filter("vpn", &["orders"]).spec(json!({"allowList": [{"cidr": "198.51.100.0/24"}]})),
    )
    .await;
    let stalled = objects::wait_for(&filters(&h), "vpn", "FilterConflict", |f| {
        stalled_reason(f).as_deref() == Some("FilterConflict")
    })
    .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(
        message.contains("orders") && message.contains("office"),
        "{message}"
    );
    assert_eq!(in_aura(&h), before, "the first filter is unchanged");

    // Removing users from office detaches the filter from it in Aura.
    patch_spec(&h, "office", json!({"instanceRefs": [{"name": "orders"}]})).await;
    eventually("users detached in Aura", WAIT, || {
        let aura = in_aura(&h);
        let detached =
            aura.len() == 1 && aura[0].filtered_entities.instances == vec![orders.clone()];
        std::future::ready(detached.then_some(()))
    })
    .await;
    filters_on(&h, "users", &[]).await;
    filters_on(&h, "orders", &["office", "vpn"]).await;
    objects::wait_for(&filters(&h), "office", "Ready on orders alone", |f| {
        objects::is_true(f, "Ready") && f.status.as_ref().is_some_and(|s| s.applied_to.len() == 1)
    })
    .await;

    // Deleting the first filter lets the waiting one go on at once (it is
    // woken, not left to its five-minute retry).
    filters(&h)
        .delete("office", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&filters(&h), "office").await;
    objects::wait_ready(&filters(&h), "vpn").await;
    let aura = in_aura(&h);
    assert_eq!(aura.len(), 1, "{aura:?}");
    assert_eq!(
        (
            aura[0].name.as_str(),
            aura[0].filtered_entities.instances.clone()
        ),
        ("vpn", vec![orders.clone()])
    );
    filters_on(&h, "orders", &["vpn"]).await;
    filters(&h)
        .delete("vpn", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&filters(&h), "vpn").await;
    assert!(in_aura(&h).is_empty(), "{:?}", in_aura(&h));
    filters_on(&h, "orders", &[]).await;

    // A filter made outside the operator on users: Aura's refusal is a
    // conflict, and the outside filter is left as it is.
    let outside = outside_filter(&h, &users).await;
    objects::create(&filters(&h), ip_filter("guest", &["users"])).await;
    let refused = objects::wait_for(&filters(&h), "guest", "FilterConflict", |f| {
        stalled_reason(f).as_deref() == Some("FilterConflict")
    })
    .await;
    let (_, _, message) = condition(&refused, "Stalled").unwrap();
    assert!(message.contains("ip-filter-already-exists"), "{message}");
    filters(&h)
        .delete("guest", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&filters(&h), "guest").await;
    let aura = in_aura(&h);
    assert_eq!(aura.len(), 1, "{aura:?}");
    assert_eq!(aura[0].id, outside);
    h.assert_log_clean(&h.operator_log());
}

/// A filter on `instance` made with the API directly, as the console would.
async fn outside_filter(h: &Harness, instance: &str) -> String {
    use aura_operator::aura::{
        AuraClients, ClientConfig, Credentials, Entities, IpFilterWrite, RangeWrite,
    };
    let clients = AuraClients::new(ClientConfig {
        base_url: h.sim.base_url(),
        ..Default::default()
    });
    let aura = clients.client(&Credentials {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    });
    let body = IpFilterWrite {
        name: "made-in-the-console".into(),
        organization_id: DEMO_ORGANIZATION_ID.into(),
        allow_list: vec![RangeWrite {
            ip_range: "192.0.2.0/24".into(),
            description: String::new(),
        }],
        entities: Entities {
            instances: vec![instance.to_string()],
            ..Default::default()
        },
        filtering_disabled: false,
    };
    aura.create_ip_filter(DEMO_ORGANIZATION_ID, &body)
        .await
        .expect("a filter made outside the operator")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_live_departures_an_ignored_field_stalls_and_a_delete_answered_500_ends_gone() {
    let mut h = Harness::start("ipf-quirks", |c| c.ip_filter_seconds = Some(0.5)).await;
    h.start_operator();
    objects::create(&h.instances(), instance("orders")).await;
    let orders = instance_id(&h.wait_ready("orders").await);
    h.sim
        .state()
        .update_faults(|f| f.quirks = Quirks::as_seen());

    objects::create(&filters(&h), ip_filter("office", &["orders"])).await;
    let ready = objects::wait_ready(&filters(&h), "office").await;

    // Aura reports ERROR on the instance: Stalled, with Aura's word.
    let id = ready.status.as_ref().and_then(|s| s.id.clone()).unwrap();
    assert!(h.sim.state().set_ip_filter_error(&id, &orders));
    objects::annotate(
        &filters(&h),
        "office",
        "aura-operator.io/reconcile-requested-at",
        "1",
    )
    .await;
    let failed = objects::wait_for(&filters(&h), "office", "FilterError", |f| {
        stalled_reason(f).as_deref() == Some("FilterError")
    })
    .await;
    let (_, _, message) = condition(&failed, "Stalled").unwrap();
    assert!(
        message.contains("ERROR") && message.contains("orders"),
        "{message}"
    );

    // Aura answers 200 to a change and does not keep the description.
    h.sim
        .state()
        .update_faults(|f| f.ip_filter_ignored_fields = vec!["allow_list.description".into()]);
    patch_spec(
        &h,
        "office",
        json!({"allowList": [{"cidr": "203.0.113.0/24", "description": "new office"}]}),
    )
    .await;
    let stalled = objects::wait_for(&filters(&h), "office", "NotApplied", |f| {
        stalled_reason(f).as_deref() == Some("NotApplied")
    })
    .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("allowList[].description"), "{message}");
    assert!(!objects::is_true(&stalled, "Ready"));
    assert_ne!(in_aura(&h)[0].allow_list[0].description, "new office");

    // The live DELETE answers 500 after deleting: the object still goes,
    // once a read shows the filter gone.
    h.sim
        .state()
        .update_faults(|f| f.ip_filter_ignored_fields.clear());
    let deletes = |h: &Harness| {
        h.sim
            .state()
            .counters()
            .by_route
            .get("DELETE /v2beta1/organizations/{org_id}/ip-filters/{ip_filter_id}")
            .copied()
            .unwrap_or(0)
    };
    filters(&h)
        .delete("office", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&filters(&h), "office").await;
    assert!(in_aura(&h).is_empty());
    assert_eq!(deletes(&h), 1, "one DELETE, not retried on its 500");
    assert!(
        h.sim
            .state()
            .counters()
            .by_status
            .get("500")
            .copied()
            .unwrap_or(0)
            >= 1
    );
    h.assert_log_clean(&h.operator_log());
}

/// kill -9 between Aura's create and its answer being recorded: the
/// restarted operator finds the filter by its recorded intent, and Aura
/// ends with one filter, made by one POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_killed_between_the_filters_create_and_its_answer_makes_one_filter() {
    let mut h = Harness::start("ipf-killed", |c| c.ip_filter_seconds = Some(0.3)).await;
    h.start_operator();
    objects::create(&h.instances(), instance("orders")).await;
    let orders = instance_id(&h.wait_ready("orders").await);
    let log = h.operator.take().unwrap().kill().await;
    h.assert_log_clean(&log);

    h.start_operator_env(&[], &[("AURA_FAILPOINT", "ip-filter-create-answered")]);
    objects::create(&filters(&h), ip_filter("office", &["orders"])).await;
    let mut operator = h.operator.take().unwrap();
    assert!(
        !operator.ended(WAIT).await.success(),
        "the failpoint aborted the operator"
    );
    assert_eq!(in_aura(&h).len(), 1, "the create reached Aura");

    h.start_operator();
    let ready = objects::wait_ready(&filters(&h), "office").await;
    let aura = in_aura(&h);
    assert_eq!(aura.len(), 1, "one filter, found again: {aura:?}");
    assert_eq!(
        Some(&aura[0].id),
        ready.status.as_ref().unwrap().id.as_ref()
    );
    assert_eq!(aura[0].filtered_entities.instances, vec![orders]);
    let posts = h
        .sim
        .state()
        .counters()
        .by_route
        .get("POST /v2beta1/organizations/{org_id}/ip-filters")
        .copied();
    assert_eq!(posts, Some(1), "no second create");
    h.assert_log_clean(&h.operator_log());
}

const ORG_ONE: &str = "7a0c1e2d-3b4f-4a5e-8d6c-9e0f1a2b3c4d";
const ORG_TWO: &str = "8b1d2f3e-4c5a-4b6f-9e7d-0f1a2b3c4d5e";

/// A ClusterAuraIPFilter on the ClusterAuraProjects `projects`.
fn cluster_filter(name: &str, projects: &[&str]) -> serde_json::Value {
    let refs: Vec<serde_json::Value> = projects.iter().map(|p| json!({"name": p})).collect();
    json!({
        "apiVersion": "aura-operator.io/v1alpha1", "kind": "ClusterAuraIPFilter",
        "metadata": {"name": name},
        "spec": {"name": name, "allowList": [{"cidr": "198.51.100.0/24"}], "projectRefs": refs},
    })
}

/// Platform teams' filters on whole projects, in two organizations: each
/// project finds the organization that holds its tenant; a filter with no
/// tenant to tell stalls as ambiguous; projects of two organizations stall;
/// a second object on the same project stalls with Aura's filter unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_filter_covers_whole_projects_of_one_organization() {
    use aura_operator::api::{ClusterAuraIPFilter, ClusterAuraProject};
    use support::fixtures::cluster_project;
    let mut h = Harness::start_exclusive("ipf-cluster", |c| {
        c.organizations = vec![
            (ORG_ONE.into(), "One".into()),
            (ORG_TWO.into(), "Two".into()),
        ];
        // Tenant A falls to the first organization.
        c.tenant_organizations = vec![(TENANT_B.into(), ORG_TWO.into())];
    })
    .await;
    let projects: Api<ClusterAuraProject> = Api::all(h.client.clone());
    let cluster_filters: Api<ClusterAuraIPFilter> = Api::all(h.client.clone());
    let (pa, pb) = (format!("{}-a", h.ns), format!("{}-b", h.ns));
    let (corp, second) = (format!("{}-corp", h.ns), format!("{}-second", h.ns));
    for (name, tenant) in [(&pa, TENANT_A), (&pb, TENANT_B)] {
        let p = cluster_project(name)
            .credentials("aura-api", &h.ns)
            .tenant(tenant);
        objects::create(&projects, p).await;
    }
    h.start_operator();

    // Each project finds the organization holding its tenant.
    for (name, org) in [(&pa, ORG_ONE), (&pb, ORG_TWO)] {
        objects::wait_for(&projects, name, "its organization", |p| {
            p.status.as_ref().and_then(|s| s.organization_id.as_deref()) == Some(org)
        })
        .await;
    }
    // With no tenant to tell (its instance does not exist), several are ambiguous.
    objects::create(&filters(&h), ip_filter("lonely", &["nowhere"])).await;
    let stalled = objects::wait_for(&filters(&h), "lonely", "OrganizationAmbiguous", |f| {
        stalled_reason(f).as_deref() == Some("OrganizationAmbiguous")
    })
    .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(
        message.contains(ORG_ONE) && message.contains(ORG_TWO),
        "{message}"
    );

    objects::create(&cluster_filters, cluster_filter(&corp, &[&pa])).await;
    let ready = objects::wait_ready(&cluster_filters, &corp).await;
    let status = ready.status.unwrap();
    assert_eq!(status.organization_id.as_deref(), Some(ORG_ONE));
    assert_eq!(
        status.applied_to_projects[0].project_id.as_deref(),
        Some(TENANT_A)
    );
    let aura = in_aura(&h);
    assert_eq!(aura.len(), 1);
    assert_eq!(aura[0].organization_id, ORG_ONE);
    assert_eq!(
        aura[0].filtered_entities.projects,
        vec![TENANT_A.to_string()]
    );
    assert!(aura[0].filtered_entities.instances.is_empty());

    // A second object on the same project stalls; Aura's filter is unchanged.
    let before = in_aura(&h);
    objects::create(&cluster_filters, cluster_filter(&second, &[&pa])).await;
    objects::wait_for(&cluster_filters, &second, "FilterConflict", |f| {
        stalled_reason(f).as_deref() == Some("FilterConflict")
    })
    .await;
    assert_eq!(in_aura(&h), before);

    // A project of another organization: stalled before any write.
    let both = json!({"spec": {"projectRefs": [{"name": pa}, {"name": pb}]}});
    cluster_filters
        .patch(&corp, &PatchParams::default(), &Patch::Merge(both))
        .await
        .unwrap();
    let mixed = objects::wait_for(&cluster_filters, &corp, "OrganizationMismatch", |f| {
        stalled_reason(f).as_deref() == Some("OrganizationMismatch")
    })
    .await;
    let (_, _, message) = condition(&mixed, "Stalled").unwrap();
    assert!(
        message.contains(&pb) && message.contains(ORG_TWO),
        "{message}"
    );
    assert_eq!(in_aura(&h), before);

    // Deleting the first lets the waiting one go on at once.
    cluster_filters
        .delete(&corp, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&cluster_filters, &corp).await;
    objects::wait_ready(&cluster_filters, &second).await;
    let aura = in_aura(&h);
    assert_eq!(aura.len(), 1, "{aura:?}");
    assert_eq!(aura[0].name, second);
    assert_eq!(
        aura[0].filtered_entities.projects,
        vec![TENANT_A.to_string()]
    );
    cluster_filters
        .delete(&second, &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&cluster_filters, &second).await;
    filters(&h)
        .delete("lonely", &DeleteParams::default())
        .await
        .unwrap();
    objects::wait_gone(&filters(&h), "lonely").await;
    assert!(in_aura(&h).is_empty(), "{:?}", in_aura(&h));
    for name in [&pa, &pb] {
        projects
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    h.assert_log_clean(&h.operator_log());
}
