//! The state shared by the HTTP handlers and by in-process tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::auth::{SlidingWindow, TokenStore};
use super::catalogue::parse_create;
use super::error::ApiError;
use super::faults::Faults;
use super::keys::KeyView;
use super::lineage::Lineage;
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
    /// Answered `GET /v1/instances/{id}` per instance id (only ids that
    /// exist, so a caller cannot grow it): the benchmark's polls per object.
    pub instance_gets: BTreeMap<String, u64>,
    /// All `/oauth/token` calls.
    pub token_calls: u64,
    /// `/oauth/token` calls per configured client id named in them; calls
    /// naming no client count under `""`, calls naming an unknown one under
    /// [`UNKNOWN_CLIENT`] (so made-up ids leave no per-id state behind).
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
    /// Query API requests (`/db/...` and `/query-api/...`), by answer status:
    /// not Aura API calls, so counted apart from everything above.
    pub query_api: BTreeMap<String, u64>,
    /// Query API statements other than `RETURN 1` from logged-in users, by
    /// instance id, then by form: `"SHOW USERS"`, `"SHOW ROLES"`, `"CREATE
    /// USER"`, `"ALTER USER"`, `"DROP USER"`, `"GRANT ROLE"`, `"REVOKE
    /// ROLE"`, `"ALTER CURRENT USER"`, or `"(unknown)"` for one of no known
    /// form. Counted whether they succeeded or were refused.
    pub query_api_statements: BTreeMap<String, BTreeMap<String, u64>>,
    /// The latest requests in arrival order, as `"METHOD /path STATUS"` (the
    /// newest 5,000), so tests can assert the order of calls.
    pub journal: std::collections::VecDeque<String>,
}

/// How many requests the journal keeps.
pub const JOURNAL_LEN: usize = 5_000;

/// How many create requests [`SimState::recent_creates`] keeps.
pub const CREATES_LEN: usize = 100;

/// The longest value a [`CreateRecord`] keeps as sent (JSON bytes); longer
/// ones are replaced by a note of their size, so callers cannot grow memory.
const CREATE_VALUE_MAX: usize = 256;

/// One `POST /v1/instances` request, at `GET /admin/requests/creates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRecord {
    /// RFC 3339, when it arrived.
    pub at: String,
    /// The answer as the caller saw it: `"202"`, `"400"`, ..., `"dropped"`.
    pub status: String,
    /// The instance it committed, also when its answer was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The body, reduced to the documented create fields (no field of a
    /// create body is secret; anything else a caller sent is left out).
    pub body: serde_json::Map<String, serde_json::Value>,
}

impl CreateRecord {
    pub(crate) fn new(
        body: &serde_json::Map<String, serde_json::Value>,
        status: String,
        instance_id: Option<String>,
    ) -> Self {
        let body = body
            .iter()
            .filter(|(k, _)| super::catalogue::CREATE_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| {
                let len = serde_json::to_string(v).map_or(usize::MAX, |t| t.len());
                let v = if len <= CREATE_VALUE_MAX {
                    v.clone()
                } else {
                    serde_json::Value::String(format!("({len} bytes, not kept)"))
                };
                (k.clone(), v)
            })
            .collect();
        Self {
            at: super::state::now_rfc3339(),
            status,
            instance_id,
            body,
        }
    }
}

/// The `token_calls_by_client` key of token calls naming a client id that is
/// not configured.
pub const UNKNOWN_CLIENT: &str = "(unknown)";

pub(crate) struct AuthState {
    pub clients: HashMap<String, String>,
    pub tokens: TokenStore,
    pub requests: SlidingWindow,
    pub token_calls: SlidingWindow,
    pub token_ttl: Duration,
}

impl AuthState {
    /// Counts a token call against its client's hourly limit. Only configured
    /// clients have a window (a wrong secret still counts for them); an
    /// unknown id is refused anyway and must not leave state behind, or
    /// ever-new ids would grow memory without bound.
    pub fn check_token_call(&mut self, client_id: &str, now: Instant) -> Result<(), u64> {
        if self.clients.contains_key(client_id) {
            self.token_calls.check(client_id, now)
        } else {
            Ok(())
        }
    }
}

pub(crate) struct Inner {
    pub world: Mutex<World>,
    pub auth: Mutex<AuthState>,
    pub faults: Mutex<Faults>,
    pub counters: Mutex<Counters>,
    /// The newest [`CREATES_LEN`] create requests, oldest first.
    pub creates: Mutex<std::collections::VecDeque<CreateRecord>>,
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

use crate::locked as lock;

impl SimState {
    pub(crate) fn new(world: World, auth: AuthState, faults: Faults) -> Self {
        Self {
            inner: Arc::new(Inner {
                world: Mutex::new(world),
                auth: Mutex::new(auth),
                faults: Mutex::new(faults),
                counters: Mutex::new(Counters::default()),
                creates: Mutex::new(Default::default()),
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

    /// Counts one `/oauth/token` call by the client id it names, if any.
    pub(crate) fn count_token_call(&self, client_id: Option<&str>) {
        let key = match client_id {
            None => String::new(),
            Some(id) if self.auth().clients.contains_key(id) => id.to_string(),
            Some(_) => UNKNOWN_CLIENT.to_string(),
        };
        self.count(|c| {
            c.token_calls += 1;
            *c.token_calls_by_client.entry(key).or_default() += 1;
        });
    }

    /// How many client ids the simulator keeps per-client state for (rate
    /// limit windows, per-client counters). Never more than the configured
    /// clients, whatever ids callers make up.
    pub fn tracked_clients(&self) -> usize {
        let mut ids: HashSet<String> = {
            let a = self.auth();
            a.requests
                .keys()
                .chain(a.token_calls.keys())
                .map(str::to_string)
                .collect()
        };
        let c = lock(&self.inner.counters);
        ids.extend(c.by_client.keys().cloned());
        ids.extend(
            c.token_calls_by_client
                .keys()
                .filter(|k| !k.is_empty() && k.as_str() != UNKNOWN_CLIENT)
                .cloned(),
        );
        ids.len()
    }

    /// Every instance with its status, password and connection details.
    pub fn instances(&self) -> Vec<AdminInstance> {
        self.world().admin_list(Instant::now())
    }

    pub fn instance(&self, id: &str) -> Option<AdminInstance> {
        let now = Instant::now();
        self.world().get(id, now).ok().map(|i| i.to_admin(now))
    }

    /// The users of an instance's database, the admin included, sorted by
    /// name, with their roles (`None` on tiers without role-based access
    /// control). No passwords. Empty for an unknown instance.
    pub fn database_users(&self, instance_id: &str) -> Vec<(String, Option<Vec<String>>)> {
        self.world()
            .instance_database(instance_id, Instant::now(), |db| db.users())
            .unwrap_or_default()
    }

    /// Whether `user` has `password` on the instance's database (whatever
    /// the instance's status: a paused one keeps its users).
    pub fn database_login_works(&self, instance_id: &str, user: &str, password: &str) -> bool {
        self.world()
            .instance_database(instance_id, Instant::now(), |db| db.logs_in(user, password))
            .unwrap_or(false)
    }

    /// Adds a custom role to the instance's database, as an administrator
    /// would with `CREATE ROLE`. False where the tier has no role-based
    /// access control, the role exists already or there is no such instance.
    pub fn add_database_role(&self, instance_id: &str, role: &str) -> bool {
        self.world()
            .instance_database(instance_id, Instant::now(), |db| db.add_role(role))
            .unwrap_or(false)
    }

    /// How many administration statements the instance's Query API was sent,
    /// by form (`"CREATE USER"`, `"SHOW USERS"`... see
    /// [`Counters::query_api_statements`]). Empty: none since the last reset.
    pub fn query_api_statements(&self, instance_id: &str) -> BTreeMap<String, u64> {
        lock(&self.inner.counters)
            .query_api_statements
            .get(instance_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Adds a key to `/customer-managed-keys` (as creating one in the
    /// console would), with the status it carries (`ready`: usable at once).
    pub fn add_customer_managed_key(&self, key: super::state::CustomerManagedKey) {
        let now = Instant::now();
        self.world()
            .keys
            .add(key, None, super::state::now_rfc3339(), now);
    }

    /// A key as `GET /customer-managed-keys/{id}` shows it.
    pub fn customer_managed_key(&self, id: &str) -> Option<KeyView> {
        self.world().keys.get(id, Instant::now()).ok()
    }

    /// Every Graph Analytics session, as `GET /graph-analytics/sessions` shows them.
    pub fn sessions(&self) -> Vec<super::sessions::SessionView> {
        self.world().sessions.list(None, None, Instant::now())
    }

    /// Aura ends the session now, as after its ttl idle.
    pub fn expire_session(&self, id: &str) -> bool {
        self.world().sessions.expire(id, Instant::now()).is_ok()
    }

    /// Every key of every tenant, as `GET /customer-managed-keys/{id}` shows them.
    pub fn customer_managed_keys(&self) -> Vec<KeyView> {
        let w = self.world();
        let now = Instant::now();
        w.keys
            .summaries(None)
            .iter()
            .filter_map(|k| w.keys.get(&k.id, now).ok())
            .collect()
    }

    /// The customer grants Aura the use of the key in their cloud console:
    /// it is `ready` at once.
    pub fn grant_customer_managed_key(&self, id: &str) -> Result<KeyView, ApiError> {
        self.world().keys.grant(id, Instant::now())
    }

    /// Every v2beta1 IP filter of every organization, as its answers show it.
    pub fn ip_filters(&self) -> Vec<super::ip_filters::IpFilterView> {
        self.world().ip_filters.all()
    }

    /// The filter's status on the instance reads `ERROR` until the filter's
    /// next PATCH. False when there is no such filter.
    pub fn set_ip_filter_error(&self, ip_filter_id: &str, instance_id: &str) -> bool {
        self.world().ip_filters.set_error(ip_filter_id, instance_id)
    }

    /// Whether the tenant's metrics integration is available (`false`: 400
    /// `tenant-incapable-of-action`).
    pub fn set_metrics_capable(&self, tenant_id: &str, capable: bool) {
        let mut w = self.world();
        if capable {
            w.metrics_incapable.remove(tenant_id);
        } else {
            w.metrics_incapable.insert(tenant_id.to_string());
        }
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

    /// Also forgets the recorded create requests.
    pub fn reset_counters(&self) {
        *lock(&self.inner.counters) = Counters::default();
        lock(&self.inner.creates).clear();
    }

    pub(crate) fn record_create(&self, record: CreateRecord) {
        let mut c = lock(&self.inner.creates);
        if c.len() >= CREATES_LEN {
            c.pop_front();
        }
        c.push_back(record);
    }

    /// The latest create requests, oldest first (see [`CreateRecord`]).
    pub fn recent_creates(&self) -> Vec<CreateRecord> {
        lock(&self.inner.creates).iter().cloned().collect()
    }

    /// Where an instance's data came from; `None` when it does not exist.
    pub fn lineage(&self, id: &str) -> Option<Lineage> {
        self.world().lineage(id, Instant::now()).ok()
    }

    /// Writes to a running instance: a new data version.
    pub fn write(&self, id: &str) -> Result<Lineage, ApiError> {
        self.world().write(id, Instant::now())
    }

    /// Whether snapshots of instances without their own setting are exportable.
    pub fn snapshots_exportable(&self) -> bool {
        self.world().snapshots_exportable
    }

    pub fn set_snapshots_exportable(&self, exportable: bool) {
        self.world().snapshots_exportable = exportable;
    }

    /// One instance's own setting (`None` follows the default); answers the
    /// value its snapshots now have.
    pub fn set_instance_snapshots_exportable(
        &self,
        id: &str,
        exportable: Option<bool>,
    ) -> Result<bool, ApiError> {
        self.world()
            .set_snapshots_exportable(id, exportable, Instant::now())
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

    /// Takes one "take the snapshot but fail the answer" fault, if armed.
    pub(crate) fn take_snapshot_failure(&self) -> bool {
        let mut f = lock(&self.inner.faults);
        let armed = f.fail_snapshots > 0;
        if armed {
            f.fail_snapshots -= 1;
        }
        armed
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

// The test side of `/v2beta1`: console users and invites, databases.
#[path = "shared_v2beta1.rs"]
mod v2beta1_side;
