//! Logging, metrics and the admin server (`/healthz`, `/readyz`, `/metrics`).
//! Log lines carry object names, ids and error messages, never a password, a
//! client secret or a token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use kube::runtime::reflector::Store;
use tracing_subscriber::EnvFilter;

use crate::api::AuraInstance;
use crate::aura::AuraClients;

/// Logs to stderr as text or JSON. `level` uses RUST_LOG syntax; RUST_LOG wins when set.
pub fn init_logging(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: `kubectl logs` and log
    // collectors would get the escape codes as text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A Prometheus histogram with fixed buckets.
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        for (i, b) in self.bounds.iter().enumerate() {
            if value <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

const RECONCILE_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const READY_BUCKETS: &[f64] = &[10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0];

/// Process-wide metrics and health, shared by the controller and the admin server.
/// A counter by one label's value.
type Counter = Mutex<BTreeMap<&'static str, u64>>;

pub struct Telemetry {
    reconciles: Counter,
    credential_checks: Counter,
    dry_run_skipped: Counter,
    storage_migrated: Counter,
    reconcile_duration: Mutex<Histogram>,
    time_to_ready: Mutex<Histogram>,
    stores: Mutex<Vec<Store<AuraInstance>>>,
    synced: Mutex<Vec<Arc<AtomicBool>>>,
    aura: Mutex<Option<AuraClients>>,
    leader_election: AtomicBool,
    /// Leading, or standing by with a working lease.
    lease_healthy: AtomicBool,
    leading: AtomicBool,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            reconciles: Mutex::default(),
            credential_checks: Mutex::default(),
            dry_run_skipped: Mutex::default(),
            storage_migrated: Mutex::default(),
            reconcile_duration: Mutex::new(Histogram::new(RECONCILE_BUCKETS)),
            time_to_ready: Mutex::new(Histogram::new(READY_BUCKETS)),
            stores: Mutex::default(),
            synced: Mutex::default(),
            aura: Mutex::default(),
            leader_election: AtomicBool::new(false),
            lease_healthy: AtomicBool::new(false),
            leading: AtomicBool::new(false),
        }
    }
}

impl Telemetry {
    pub fn record_reconcile(&self, result: &'static str, took: Duration) {
        *crate::locked(&self.reconciles).entry(result).or_insert(0) += 1;
        crate::locked(&self.reconcile_duration).observe(took.as_secs_f64());
    }

    /// One credential check against a database, by its result reason.
    pub fn record_credential_check(&self, result: &'static str) {
        *crate::locked(&self.credential_checks)
            .entry(result)
            .or_insert(0) += 1;
    }

    /// A mutating Aura call skipped by --dry-run.
    pub fn record_dry_run(&self, operation: &'static str) {
        *crate::locked(&self.dry_run_skipped)
            .entry(operation)
            .or_insert(0) += 1;
    }

    /// Objects the storage migration rewrote, by kind.
    pub fn record_storage_migration(&self, kind: &'static str, rewritten: u64) {
        *crate::locked(&self.storage_migrated)
            .entry(kind)
            .or_insert(0) += rewritten;
    }

    pub fn record_time_to_ready(&self, took: Duration) {
        crate::locked(&self.time_to_ready).observe(took.as_secs_f64());
    }

    /// The AuraInstance store whose objects the phase gauge counts.
    pub fn count_phases_of(&self, store: Store<AuraInstance>) {
        crate::locked(&self.stores).push(store);
    }

    /// A watch whose first list is done flips the flag it was given.
    pub fn register_watch(&self) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        crate::locked(&self.synced).push(flag.clone());
        flag
    }

    pub fn set_aura(&self, aura: AuraClients) {
        *crate::locked(&self.aura) = Some(aura);
    }

    pub fn set_leader_election(&self, on: bool) {
        self.leader_election.store(on, Ordering::SeqCst);
    }

    pub fn set_lease(&self, healthy: bool, leading: bool) {
        self.lease_healthy.store(healthy, Ordering::SeqCst);
        self.leading.store(leading, Ordering::SeqCst);
    }

    /// Ready when every watch has synced; with leader election, a healthy
    /// standby is ready too (it has nothing to sync until it leads).
    pub fn is_ready(&self) -> bool {
        let synced = {
            let flags = crate::locked(&self.synced);
            !flags.is_empty() && flags.iter().all(|f| f.load(Ordering::SeqCst))
        };
        if !self.leader_election.load(Ordering::SeqCst) {
            return synced;
        }
        let leading = self.leading.load(Ordering::SeqCst);
        self.lease_healthy.load(Ordering::SeqCst) && (synced || !leading)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &str, &Counter); 4] = [
            (
                "aura_operator_reconciles_total",
                "Reconciles by result.",
                "result",
                &self.reconciles,
            ),
            (
                "aura_operator_credential_checks_total",
                "Checks of connection Secrets against their databases (Query API), by result.",
                "result",
                &self.credential_checks,
            ),
            (
                "aura_operator_dry_run_skipped_total",
                "Mutating Aura calls skipped by --dry-run, by operation.",
                "operation",
                &self.dry_run_skipped,
            ),
            (
                "aura_operator_storage_migrated_objects_total",
                "Objects rewritten in the storage version after an upgrade, by kind.",
                "kind",
                &self.storage_migrated,
            ),
        ];
        for (name, help, label, values) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (value, n) in crate::locked(values).iter() {
                let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
            }
        }
        crate::locked(&self.reconcile_duration).render(
            &mut out,
            "aura_operator_reconcile_duration_seconds",
            "Time spent in one reconcile.",
        );
        crate::locked(&self.time_to_ready).render(
            &mut out,
            "aura_operator_time_to_ready_seconds",
            "Time from an AuraInstance's creation to its first Ready=True.",
        );
        self.render_objects(&mut out);
        if let Some(aura) = crate::locked(&self.aura).as_ref() {
            render_aura(&mut out, aura);
        }
        let leading =
            self.leading.load(Ordering::SeqCst) || !self.leader_election.load(Ordering::SeqCst);
        let _ = writeln!(
            out,
            "# HELP aura_operator_leader 1 when this process may write.\n# TYPE aura_operator_leader gauge\naura_operator_leader {}",
            u8::from(leading)
        );
        out
    }

    /// AuraInstances by phase, and those a human must look at by reason.
    fn render_objects(&self, out: &mut String) {
        let mut phases: BTreeMap<String, u64> = [
            "Pending", "Creating", "Running", "Paused", "Updating", "Deleting", "Failed",
        ]
        .into_iter()
        .map(|p| (p.to_string(), 0))
        .collect();
        let mut stalled: BTreeMap<String, u64> = BTreeMap::new();
        for store in crate::locked(&self.stores).iter() {
            for obj in store.state() {
                let phase = obj
                    .status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .map(|p| format!("{p:?}"))
                    .unwrap_or_else(|| "Pending".into());
                *phases.entry(phase).or_insert(0) += 1;
                let reason = obj.status.as_ref().and_then(|s| {
                    crate::reconciler::status::true_condition(
                        &s.conditions,
                        crate::reconciler::status::STALLED,
                    )
                    .map(|c| c.reason.clone())
                });
                if let Some(reason) = reason {
                    *stalled.entry(reason).or_insert(0) += 1;
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP aura_operator_stalled_objects AuraInstances with Stalled=True, by reason (a human must act).\n# TYPE aura_operator_stalled_objects gauge"
        );
        for (reason, n) in &stalled {
            let _ = writeln!(
                out,
                "aura_operator_stalled_objects{{reason=\"{}\"}} {n}",
                escape(reason)
            );
        }
        let _ = writeln!(
            out,
            "# HELP aura_operator_objects AuraInstances by phase.\n# TYPE aura_operator_objects gauge"
        );
        for (phase, n) in &phases {
            let _ = writeln!(out, "aura_operator_objects{{phase=\"{phase}\"}} {n}");
        }
    }
}

/// The Aura client's calls, retries, tokens and limits.
fn render_aura(out: &mut String, aura: &AuraClients) {
    let stats = aura.stats();
    let _ = writeln!(
        out,
        "# HELP aura_operator_aura_api_calls_total Aura API calls by operation and HTTP status (0: no answer).\n# TYPE aura_operator_aura_api_calls_total counter"
    );
    for ((op, code), n) in &stats.api_calls {
        let _ = writeln!(
            out,
            "aura_operator_aura_api_calls_total{{operation=\"{}\",code=\"{code}\"}} {n}",
            escape(op)
        );
    }
    for (name, help, value) in [
        (
            "aura_operator_aura_rate_limited_total",
            "Aura API answers 429.",
            stats.rate_limited,
        ),
        (
            "aura_operator_aura_retries_total",
            "Aura API calls retried.",
            stats.retries,
        ),
        (
            "aura_operator_aura_token_requests_total",
            "Token requests sent to the Aura token endpoint.",
            stats.token_requests,
        ),
        (
            "aura_operator_aura_token_failures_total",
            "Token requests that failed.",
            stats.token_failures,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP aura_operator_aura_rate_limit_requests_per_minute The client-side limit of Aura API requests per minute, per client id.\n# TYPE aura_operator_aura_rate_limit_requests_per_minute gauge\naura_operator_aura_rate_limit_requests_per_minute {}",
        aura.config().requests_per_minute
    );
    let _ = writeln!(
        out,
        "# HELP aura_operator_aura_rate_limit_effective_requests_per_minute The client-side limit in force: lower than the configured one for a while after the API answered 429 (the lowest over the client ids in use).\n# TYPE aura_operator_aura_rate_limit_effective_requests_per_minute gauge\naura_operator_aura_rate_limit_effective_requests_per_minute {}",
        aura.effective_rate_limit()
    );
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Serves `/healthz`, `/readyz` and `/metrics` until `shutdown` resolves.
pub async fn serve_admin(
    listen: SocketAddr,
    telemetry: Arc<Telemetry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(telemetry);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "admin server stopped");
        }
    });
    Ok(addr)
}

async fn readyz(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    if t.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        t.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::new(&[1.0, 5.0]);
        for v in [0.5, 2.0, 7.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"5\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_sum 9.5\n"), "{out}");
    }

    #[test]
    fn readiness_needs_synced_watches_or_a_healthy_standby() {
        let t = Telemetry::default();
        assert!(!t.is_ready(), "no watch registered yet");
        let flag = Arc::new(AtomicBool::new(false));
        t.synced.lock().unwrap().push(flag.clone());
        assert!(!t.is_ready());
        flag.store(true, Ordering::SeqCst);
        assert!(t.is_ready());

        let standby = Telemetry::default();
        standby.set_leader_election(true);
        assert!(!standby.is_ready(), "lease state unknown");
        standby.set_lease(true, false);
        assert!(standby.is_ready(), "a healthy standby is ready");
        standby.set_lease(true, true);
        assert!(
            !standby.is_ready(),
            "a leader is ready only once its watches sync"
        );
    }
}
