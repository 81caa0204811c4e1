//! The state shared by the HTTP handlers and by in-process tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::auth::{SlidingWindow, TokenStore};
use super::catalogue::parse_create;
use super::error::ApiError;
use super::faults::Faults;
use super::state::{AdminInstance, ConsoleUpdate, Timings, World};
use crate::aura::model::{CreateInstanceRequest, TenantSummary};

/// Request counters, readable in-process and at `GET /admin/counters`.
/// `/admin` calls are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Every `/v1` and `/oauth/token` request and every unknown route.
    pub requests_total: u64,
    /// Keyed by method and route template, e.g. `"POST /v1/instances"`,
    /// `"GET /v1/instances/{id}"`; unknown routes count as `"GET (unmatched)"`.
    pub by_route: BTreeMap<String, u64>,
    /// Keyed by answer status, e.g. `"202"`; `"dropped"` for connections closed unanswered.
    pub by_status: BTreeMap<String, u64>,
    /// `/v1` requests per client id (those with a valid token).
    pub by_client: BTreeMap<String, u64>,
    /// All `/oauth/token` calls.
    pub token_calls: u64,
    /// `/oauth/token` calls per client id named in them (`""` when none was).
    pub token_calls_by_client: BTreeMap<String, u64>,
    pub tokens_issued: u64,
    /// 429s from the per-minute request limit.
    pub rate_limited_requests: u64,
    /// 429s from the per-hour token limit.
    pub rate_limited_tokens: u64,
    /// 429s injected by a storm fault.
    pub injected_rate_limits: u64,
    /// Every 429 sent, whatever its cause.
    pub too_many_requests: u64,
    /// 500/502/503 injected by the error fault.
    pub injected_errors: u64,
    /// Connections closed without an answer (drop fault and failed creates in drop mode).
    pub dropped_connections: u64,
    /// Creates committed whose answer was replaced by a failure.
    pub failed_creates: u64,
    /// Instances created through `POST /v1/instances` (including failed answers).
    pub creates_committed: u64,
    /// The latest requests in arrival order, as `"METHOD /path STATUS"` (the
    /// newest 5,000), so tests can assert the order of calls.
    pub journal: std::collections::VecDeque<String>,
}

/// How many requests the journal keeps.
pub const JOURNAL_LEN: usize = 5_000;

pub(crate) struct AuthState {
    pub clients: HashMap<String, String>,
    pub tokens: TokenStore,
    pub requests: SlidingWindow,
    pub token_calls: SlidingWindow,
    pub token_ttl: Duration,
}

pub(crate) struct Inner {
    pub world: Mutex<World>,
    pub auth: Mutex<AuthState>,
    pub faults: Mutex<Faults>,
    pub counters: Mutex<Counters>,
}

/// A cheap handle on the simulator's state, for the handlers and for tests.
#[derive(Clone)]
pub struct SimState {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print passwords, secrets or tokens.
        f.debug_struct("SimState").finish_non_exhaustive()
    }
}

/// A poisoned lock only means a handler panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimState {
    pub(crate) fn new(world: World, auth: AuthState, faults: Faults) -> Self {
        Self {
            inner: Arc::new(Inner {
                world: Mutex::new(world),
                auth: Mutex::new(auth),
                faults: Mutex::new(faults),
                counters: Mutex::new(Counters::default()),
            }),
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.inner.world)
    }

    pub(crate) fn auth(&self) -> MutexGuard<'_, AuthState> {
        lock(&self.inner.auth)
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut lock(&self.inner.counters));
    }

    /// Every instance with its status, password and connection details.
    pub fn instances(&self) -> Vec<AdminInstance> {
        self.world().admin_list(Instant::now())
    }

    pub fn instance(&self, id: &str) -> Option<AdminInstance> {
        let now = Instant::now();
        self.world().get(id, now).ok().map(|i| i.to_admin(now))
    }

    /// The password issued at creation, still known after the instance is gone.
    pub fn issued_password(&self, id: &str) -> Option<String> {
        self.world().issued_password(id)
    }

    pub fn tenants(&self) -> Vec<TenantSummary> {
        self.world().tenants.clone()
    }

    pub fn counters(&self) -> Counters {
        lock(&self.inner.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.inner.counters) = Counters::default();
    }

    /// Forgets the rate-limit windows (requests and token calls).
    pub fn reset_limits(&self) {
        let mut a = self.auth();
        a.requests.reset();
        a.token_calls.reset();
    }

    /// Changes the limits at run time (0 = unlimited).
    pub fn set_limits(&self, requests_per_minute: u32, tokens_per_hour: u32) {
        let mut a = self.auth();
        a.requests.limit = requests_per_minute;
        a.token_calls.limit = tokens_per_hour;
    }

    /// Makes every issued token expired: the next API call answers 403.
    pub fn expire_tokens(&self) {
        self.auth().tokens.expire_all(Instant::now());
    }

    pub fn faults(&self) -> Faults {
        lock(&self.inner.faults).clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.inner.faults) = faults;
    }

    /// Edits the faults in place (e.g. `|f| f.fail_creates = 1`).
    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut lock(&self.inner.faults));
    }

    /// Takes one "commit the create but fail the answer" fault, if armed.
    pub(crate) fn take_create_failure(&self) -> Option<super::faults::CreateFailMode> {
        let mut f = lock(&self.inner.faults);
        (f.fail_creates > 0).then(|| {
            f.fail_creates -= 1;
            f.fail_create_mode
        })
    }

    pub fn timings(&self) -> Timings {
        self.world().timings.clone()
    }

    /// New durations apply to transitions started afterwards.
    pub fn set_timings(&self, timings: Timings) {
        self.world().timings = timings;
    }

    /// Creates an instance "from the console": validated like the API, running at once.
    pub fn console_create(&self, req: &CreateInstanceRequest) -> Result<AdminInstance, ApiError> {
        let value = serde_json::to_value(req).map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.console_create_value(&value)
    }

    pub(crate) fn console_create_value(
        &self,
        value: &serde_json::Value,
    ) -> Result<AdminInstance, ApiError> {
        let obj = value
            .as_object()
            .ok_or_else(|| ApiError::bad_request("The request body must be a JSON object"))?;
        let now = Instant::now();
        let mut w = self.world();
        let spec = parse_create(obj, &w.tenants, &w.catalogue)?;
        let created = w.create(spec, now, true)?;
        let inst = w.get(&created.id, now)?;
        Ok(inst.to_admin(now))
    }

    /// Changes an instance out of band (name, sizes, paused, any status), at once.
    pub fn console_update(
        &self,
        id: &str,
        change: &ConsoleUpdate,
    ) -> Result<AdminInstance, ApiError> {
        let now = Instant::now();
        let mut w = self.world();
        w.console_update(id, change, now)?;
        Ok(w.get(id, now)?.to_admin(now))
    }

    /// Deletes an instance out of band, at once. Returns whether it existed.
    pub fn console_delete(&self, id: &str) -> bool {
        self.world().console_delete(id, Instant::now())
    }
}
