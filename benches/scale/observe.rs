//! What the bench sees from outside the operator: the objects, owned Secrets and
//! Events through watches (every change is counted), the apiserver's own request
//! counters, and the simulator's counters and journal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aura_operator::api::AuraInstance;
use aura_operator::simulator::SimState;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// Seconds since `t0`.
pub fn secs(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

#[derive(Debug, Default, Clone)]
pub struct ObjectTrack {
    pub rv: String,
    /// When the bench's create call returned (seconds since t0).
    pub created: Option<f64>,
    /// First time the watch saw Ready=True.
    pub ready: Option<f64>,
    /// Changes after the object was first seen (each is one effective write).
    pub changes: u64,
}

/// Totals that only grow; phases take snapshots and subtract.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Totals {
    /// Effective changes of AuraInstances (metadata or status; not the create).
    pub instance_changes: u64,
    pub secret_creates: u64,
    pub secret_changes: u64,
    pub event_creates: u64,
    pub event_changes: u64,
}

impl Totals {
    pub fn minus(&self, before: &Totals) -> Totals {
        Totals {
            instance_changes: self.instance_changes - before.instance_changes,
            secret_creates: self.secret_creates - before.secret_creates,
            secret_changes: self.secret_changes - before.secret_changes,
            event_creates: self.event_creates - before.event_creates,
            event_changes: self.event_changes - before.event_changes,
        }
    }
}

#[derive(Debug, Default)]
pub struct Seen {
    pub objects: HashMap<String, ObjectTrack>,
    secrets: HashMap<String, String>,
    events: HashMap<String, String>,
    pub totals: Totals,
    pub event_reasons: BTreeMap<String, u64>,
}

/// Watches one namespace.
#[derive(Clone)]
pub struct Watch {
    pub seen: Arc<Mutex<Seen>>,
    tasks: Arc<Vec<tokio::task::JoinHandle<()>>>,
}

fn is_ready(o: &AuraInstance) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Objects as they are added or changed, the first list included; watch
/// errors are skipped (the watcher retries on its own).
fn applied<K>(api: Api<K>, config: watcher::Config) -> impl Stream<Item = K> + Send
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, config)
        .applied_objects()
        .filter_map(|r| std::future::ready(r.ok()))
}

impl Watch {
    pub fn start(client: &Client, ns: &str, t0: Instant) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut tasks = Vec::new();

        let s = seen.clone();
        let api: Api<AuraInstance> = Api::namespaced(client.clone(), ns);
        tasks.push(tokio::spawn(async move {
            let mut stream = applied(api, watcher::Config::default()).boxed();
            while let Some(o) = stream.next().await {
                let now = secs(t0);
                let mut seen = s.lock().unwrap();
                let rv = o.resource_version().unwrap_or_default();
                let changed = match seen.objects.get_mut(&o.name_any()) {
                    Some(track) if track.rv != rv => {
                        track.rv = rv;
                        track.changes += 1;
                        true
                    }
                    Some(_) => false,
                    None => {
                        seen.objects.insert(
                            o.name_any(),
                            ObjectTrack {
                                rv,
                                ..Default::default()
                            },
                        );
                        false
                    }
                };
                if changed {
                    seen.totals.instance_changes += 1;
                }
                if is_ready(&o) {
                    let t = seen.objects.get_mut(&o.name_any()).expect("just inserted");
                    t.ready.get_or_insert(now);
                }
            }
        }));

        let s = seen.clone();
        let api: Api<Secret> = Api::namespaced(client.clone(), ns);
        let cfg = watcher::Config::default()
            .labels(&aura_operator::kinds::instance::secret::owned_selector());
        tasks.push(tokio::spawn(async move {
            let mut stream = applied(api, cfg).boxed();
            while let Some(o) = stream.next().await {
                let mut seen = s.lock().unwrap();
                let rv = o.resource_version().unwrap_or_default();
                match seen.secrets.insert(o.name_any(), rv.clone()) {
                    None => seen.totals.secret_creates += 1,
                    Some(old) if old != rv => seen.totals.secret_changes += 1,
                    Some(_) => {}
                }
            }
        }));

        let s = seen.clone();
        let api: Api<Event> = Api::namespaced(client.clone(), ns);
        tasks.push(tokio::spawn(async move {
            let mut stream = applied(api, watcher::Config::default()).boxed();
            while let Some(o) = stream.next().await {
                let mut seen = s.lock().unwrap();
                let rv = o.resource_version().unwrap_or_default();
                match seen.events.insert(o.name_any(), rv.clone()) {
                    None => {
                        seen.totals.event_creates += 1;
                        *seen
                            .event_reasons
                            .entry(o.reason.clone().unwrap_or_default())
                            .or_default() += 1;
                    }
                    Some(old) if old != rv => seen.totals.event_changes += 1,
                    Some(_) => {}
                }
            }
        }));
        Self {
            seen,
            tasks: Arc::new(tasks),
        }
    }

    pub fn totals(&self) -> Totals {
        self.seen.lock().unwrap().totals
    }

    pub fn event_reasons(&self) -> BTreeMap<String, u64> {
        self.seen.lock().unwrap().event_reasons.clone()
    }

    pub fn mark_created(&self, name: &str, at: f64) {
        let mut seen = self.seen.lock().unwrap();
        seen.objects
            .entry(name.to_string())
            .or_default()
            .created
            .get_or_insert(at);
    }

    /// (created, ready) per object of `names`.
    pub fn tracks(&self, names: &[String]) -> Vec<ObjectTrack> {
        let seen = self.seen.lock().unwrap();
        names
            .iter()
            .map(|n| seen.objects.get(n).cloned().unwrap_or_default())
            .collect()
    }

    pub fn ready_count(&self, names: &[String]) -> usize {
        let seen = self.seen.lock().unwrap();
        names
            .iter()
            .filter(|n| seen.objects.get(*n).is_some_and(|t| t.ready.is_some()))
            .count()
    }

    pub fn stop(&self) {
        for t in self.tasks.iter() {
            t.abort();
        }
    }
}

/// The apiserver's `apiserver_request_total`, summed as "VERB resource[/subresource]".
pub async fn apiserver_requests(client: &Client) -> BTreeMap<String, f64> {
    let req = axum::http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let Ok(text) = client.request_text(req).await else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let label = |k: &str| {
            labels
                .split("\",")
                .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let resource = label("resource");
        let ours = label("group") == AuraInstance::group(&());
        if !ours && !["secrets", "events"].contains(&resource.as_str()) {
            continue;
        }
        let sub = label("subresource");
        let mut key = if sub.is_empty() {
            format!("{} {resource}", label("verb"))
        } else {
            format!("{} {resource}/{sub}", label("verb"))
        };
        // Failed requests (409 conflicts, ...) are counted apart.
        let code = label("code");
        if !code.starts_with('2') {
            key = format!("{key} {code}");
        }
        *out.entry(key).or_insert(0.0) += v;
    }
    out
}

pub fn diff_requests(
    after: &BTreeMap<String, f64>,
    before: &BTreeMap<String, f64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v - before.get(k).copied().unwrap_or(0.0)).round() as u64,
            )
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}

pub fn is_write(key: &str) -> bool {
    [
        "POST ",
        "PUT ",
        "PATCH ",
        "APPLY ",
        "DELETE ",
        "DELETECOLLECTION ",
    ]
    .iter()
    .any(|v| key.starts_with(v))
}

/// Follows the simulator's journal: when armed, the first `GET /v1/instances/{id}`
/// of every id and when the first and last calls came (to 100 ms), and a
/// per-second call count.
#[derive(Clone)]
pub struct SimTracker {
    inner: Arc<Mutex<Tracked>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
struct Tracked {
    last_total: u64,
    armed: bool,
    first_get: HashMap<String, f64>,
    /// Since `arm`: the ticks that saw the first and the latest new calls.
    first_call: Option<f64>,
    last_call: Option<f64>,
    /// (t, requests_total, too_many_requests) at the start, then once a second.
    timeline: Vec<(f64, u64, u64)>,
}

impl SimTracker {
    pub fn start(sim: SimState, t0: Instant) -> Self {
        let inner = Arc::new(Mutex::new(Tracked::default()));
        let me = inner.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                n += 1;
                // The first tick (at once) too: the timeline starts from the
                // simulator's count before the operator's first call.
                let sample = n == 1 || n.is_multiple_of(10);
                let armed = me.lock().unwrap().armed;
                if !armed && !sample {
                    continue;
                }
                let c = sim.counters();
                let now = secs(t0);
                let mut t = me.lock().unwrap();
                if t.armed && c.requests_total > t.last_total {
                    t.first_call.get_or_insert(now);
                    t.last_call = Some(now);
                }
                if t.armed {
                    let new = (c.requests_total - t.last_total) as usize;
                    let skip = c.journal.len().saturating_sub(new);
                    for line in c.journal.iter().skip(skip) {
                        if let Some(id) = line
                            .strip_prefix("GET /v1/instances/")
                            .and_then(|r| r.split_whitespace().next())
                            .filter(|id| !id.contains('/'))
                        {
                            t.first_get.entry(id.to_string()).or_insert(now);
                        }
                    }
                }
                t.last_total = c.requests_total;
                if sample {
                    t.timeline
                        .push((now, c.requests_total, c.too_many_requests));
                }
            }
        });
        Self {
            inner,
            task: Arc::new(task),
        }
    }

    /// Starts recording first GETs (forgetting earlier ones).
    pub fn arm(&self, sim: &SimState) {
        let mut t = self.inner.lock().unwrap();
        t.last_total = sim.counters().requests_total;
        t.first_get.clear();
        t.first_call = None;
        t.last_call = None;
        t.armed = true;
    }

    pub fn disarm(&self) {
        self.inner.lock().unwrap().armed = false;
    }

    /// How many of `ids` were fetched since `arm`, and when the last of them was.
    pub fn observed(&self, ids: &HashSet<String>) -> (usize, Option<f64>) {
        let t = self.inner.lock().unwrap();
        let times: Vec<f64> = ids
            .iter()
            .filter_map(|id| t.first_get.get(id).copied())
            .collect();
        (times.len(), times.into_iter().reduce(f64::max))
    }

    /// When the first and the last call since `arm` were seen (seconds since
    /// t0, each up to 100 ms late).
    pub fn call_span(&self) -> Option<(f64, f64)> {
        let t = self.inner.lock().unwrap();
        Some((t.first_call?, t.last_call?))
    }

    pub fn timeline(&self) -> Vec<(f64, u64, u64)> {
        self.inner.lock().unwrap().timeline.clone()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}
