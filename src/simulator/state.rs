//! The simulated account: tenants, instances and snapshots, with the instance
//! state machine. Pure: every operation takes `now`, statuses are computed
//! lazily from the deadline of the running transition.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::catalogue::{CreateSpec, Placement, UpdateSpec, UpgradeSpec};
use super::console_users::ConsoleAccess;
use super::databases::{InstanceDatabases, InstanceV2};
use super::error::ApiError;
use super::ip_filters::IpFilters;
use super::keys::{KeySpec, KeyUse, KeyView, Keys};
use super::lineage::Data;
use super::sessions::Sessions;
use super::snapshots::Snapshots;
use super::v2beta1::Organizations;
use crate::api::InstanceType;
use crate::aura::model::{
    CreatedInstance, Instance, InstanceConfiguration, InstanceStatus, InstanceSummary, Snapshot,
    TenantSummary,
};

/// How long each transition takes, in seconds. Settable at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timings {
    pub create: f64,
    pub pause: f64,
    pub resume: f64,
    pub update: f64,
    pub destroy: f64,
    pub restore: f64,
    /// `POST /instances/{id}/overwrite`: time spent in `overwriting`.
    pub overwrite: f64,
    pub snapshot: f64,
    /// v2beta1: an IP filter stays `SUBMITTED` on an instance this long
    /// after it was attached or changed, then is `ACTIVE`.
    pub ip_filter: f64,
    /// v2beta1: a database backup is `Pending` the first half of this,
    /// `InProgress` the second, then `Completed`.
    pub database_backup: f64,
    /// After a transition ends the instance reports its new status but still
    /// answers 409 for this long (the real API does so for a short while).
    pub settle_grace: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            create: 2.0,
            pause: 1.0,
            resume: 1.0,
            update: 1.0,
            destroy: 1.0,
            restore: 1.0,
            overwrite: 1.0,
            snapshot: 1.0,
            ip_filter: 1.0,
            database_backup: 1.0,
            settle_grace: 0.0,
        }
    }
}

/// Seconds from a key's creation to `ready` unless configured otherwise.
pub const DEFAULT_KEY_READY_SECONDS: f64 = 10.0;

/// The longest a timing may be set to over `/admin/timings`: one day.
pub const MAX_TIMING_SECONDS: f64 = 86_400.0;

impl Timings {
    /// Every timing must be a finite number of seconds in 0..=86400; the 400
    /// names the first one that is not.
    pub fn validate(&self) -> Result<(), ApiError> {
        for (field, v) in [
            ("create", self.create),
            ("pause", self.pause),
            ("resume", self.resume),
            ("update", self.update),
            ("destroy", self.destroy),
            ("restore", self.restore),
            ("overwrite", self.overwrite),
            ("snapshot", self.snapshot),
            ("ip_filter", self.ip_filter),
            ("database_backup", self.database_backup),
            ("settle_grace", self.settle_grace),
        ] {
            if !v.is_finite() || !(0.0..=MAX_TIMING_SECONDS).contains(&v) {
                return Err(ApiError::field(
                    field,
                    format!(
                        "{field} must be a number of seconds between 0 and {MAX_TIMING_SECONDS}, got {v}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Seconds to a duration, whatever got in (in-process `set_timings`, CLI
/// flags): NaN and negatives are zero, anything longer than a day is a day.
fn secs(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(s.min(MAX_TIMING_SECONDS)).unwrap_or(Duration::ZERO)
}

/// `at + d` that never panics: an instant the clock cannot represent is
/// treated as reached at once rather than bringing the simulator down.
fn deadline(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or(at)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum After {
    Become(InstanceStatus),
    Vanish,
}

/// One kind of transition: allowed starting states, the status while it
/// runs, what happens at the end, how long it takes.
struct Step<'a> {
    from: &'a [InstanceStatus],
    during: InstanceStatus,
    after: After,
    seconds: f64,
    wrong_state: &'a str,
}

#[derive(Debug, Clone)]
struct Transition {
    done_at: Instant,
    after: After,
}

/// The admin user every instance's database has.
pub const ADMIN_USER: &str = "neo4j";

/// The roles a tier with role-based access control has built in.
pub const BUILT_IN_ROLES: &[&str] = &[
    PUBLIC_ROLE,
    "reader",
    "editor",
    "publisher",
    "architect",
    "admin",
];

/// The role every user has: shown with their roles, never granted or stored.
pub const PUBLIC_ROLE: &str = "PUBLIC";

/// A database user other than the admin.
#[derive(Clone)]
struct DatabaseUser {
    password: String,
    /// Granted roles (never [`PUBLIC_ROLE`], which everyone has).
    roles: BTreeSet<String>,
}

impl std::fmt::Debug for DatabaseUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("DatabaseUser")
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// What an instance's Neo4j holds about access beyond its admin's password
/// (which is the instance record's, the one source of truth for it): its
/// other users, the roles granted to the admin, its custom roles.
#[derive(Debug, Clone)]
struct UserTable {
    users: BTreeMap<String, DatabaseUser>,
    admin_roles: BTreeSet<String>,
    custom_roles: BTreeSet<String>,
}

impl Default for UserTable {
    fn default() -> Self {
        Self {
            users: BTreeMap::new(),
            admin_roles: BTreeSet::from(["admin".to_string()]),
            custom_roles: BTreeSet::new(),
        }
    }
}

/// One instance's database as a statement meets it, borrowed from the
/// [`World`] (see [`World::instance_database`]). Roles mean something only
/// where the tier has role-based access control (`rbac`).
pub struct InstanceDatabase<'a> {
    /// The instance's status (the database answers only while running).
    pub status: &'a InstanceStatus,
    /// Whether the tier has role-based access control.
    pub rbac: bool,
    admin_password: &'a mut String,
    table: &'a mut UserTable,
}

impl std::fmt::Debug for InstanceDatabase<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the admin's password.
        f.debug_struct("InstanceDatabase")
            .field("status", &self.status)
            .field("rbac", &self.rbac)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl InstanceDatabase<'_> {
    /// Whether `user` is the instance's admin.
    pub fn is_admin(&self, user: &str) -> bool {
        user == ADMIN_USER
    }

    /// Whether `user` exists (the admin always does).
    pub fn has_user(&self, user: &str) -> bool {
        self.is_admin(user) || self.table.users.contains_key(user)
    }

    /// Whether `user` logs in with `password`.
    pub fn logs_in(&self, user: &str, password: &str) -> bool {
        if self.is_admin(user) {
            return *self.admin_password == password;
        }
        self.table
            .users
            .get(user)
            .is_some_and(|u| u.password == password)
    }

    /// Every user, the admin included, sorted by name, with their roles
    /// ([`PUBLIC_ROLE`] included, sorted), or `None` for the roles where the
    /// tier has no role-based access control. No passwords.
    pub fn users(&self) -> Vec<(String, Option<Vec<String>>)> {
        let roles = |granted: &BTreeSet<String>| {
            self.rbac.then(|| {
                let mut all = granted.clone();
                all.insert(PUBLIC_ROLE.to_string());
                all.into_iter().collect()
            })
        };
        let mut out: Vec<_> = self
            .table
            .users
            .iter()
            .map(|(name, u)| (name.clone(), roles(&u.roles)))
            .collect();
        out.push((ADMIN_USER.to_string(), roles(&self.table.admin_roles)));
        out.sort();
        out
    }

    /// Whether `role` exists: a built-in or custom role, on a tier with roles.
    pub fn has_role(&self, role: &str) -> bool {
        self.rbac && (BUILT_IN_ROLES.contains(&role) || self.table.custom_roles.contains(role))
    }

    /// Adds a custom role. False where the tier has no roles or it exists.
    pub fn add_role(&mut self, role: &str) -> bool {
        self.rbac && !self.has_role(role) && self.table.custom_roles.insert(role.to_string())
    }

    /// Adds a user with no granted roles. False if the name is taken.
    pub fn create_user(&mut self, name: &str, password: &str) -> bool {
        if self.has_user(name) {
            return false;
        }
        self.table.users.insert(
            name.to_string(),
            DatabaseUser {
                password: password.to_string(),
                roles: BTreeSet::new(),
            },
        );
        true
    }

    /// Sets a user's password; the admin's is the instance record's. False
    /// if there is no such user.
    pub fn set_password(&mut self, name: &str, password: &str) -> bool {
        if self.is_admin(name) {
            *self.admin_password = password.to_string();
            return true;
        }
        match self.table.users.get_mut(name) {
            Some(u) => {
                u.password = password.to_string();
                true
            }
            None => false,
        }
    }

    /// Removes a user. False if there was none; the admin is never removed.
    pub fn drop_user(&mut self, name: &str) -> bool {
        self.table.users.remove(name).is_some()
    }

    /// Grants (`grant`) or revokes a role. False if there is no such user;
    /// the caller checks that the role exists. [`PUBLIC_ROLE`] stays anyway.
    pub fn set_role(&mut self, name: &str, role: &str, grant: bool) -> bool {
        let roles = if self.is_admin(name) {
            &mut self.table.admin_roles
        } else {
            match self.table.users.get_mut(name) {
                Some(u) => &mut u.roles,
                None => return false,
            }
        };
        if role != PUBLIC_ROLE {
            if grant {
                roles.insert(role.to_string());
            } else {
                roles.remove(role);
            }
        }
        true
    }
}

/// One instance as the simulator keeps it (password included, but never in
/// its `Debug`).
#[derive(Clone)]
pub struct InstanceRecord {
    pub id: String,
    pub name: String,
    pub tenant_id: String,
    pub cloud_provider: String,
    pub region: String,
    pub instance_type: String,
    pub version: String,
    pub memory: String,
    pub storage: String,
    pub vector_optimized: bool,
    pub graph_analytics_plugin: bool,
    pub created_at: String,
    pub password: String,
    pub status: InstanceStatus,
    pub secondaries_count: u64,
    /// OFF, DIFF or FULL.
    pub cdc_enrichment_mode: String,
    pub customer_managed_key_id: Option<String>,
    /// Whether its snapshots are exportable; `None` follows the account default.
    pub snapshots_exportable: Option<bool>,
    /// What a v2beta1 create decided; `None`: made through v1.
    pub v2: Option<InstanceV2>,
    data: Data,
    transition: Option<Transition>,
    locked_until: Option<Instant>,
    /// Where its metrics are served (see `metrics.rs`).
    metrics_base: String,
    /// `GET /instances` shows it from then on (the list lags behind creates).
    listed_from: Instant,
}

impl std::fmt::Debug for InstanceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Everything but the admin's password.
        f.debug_struct("InstanceRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("tenant_id", &self.tenant_id)
            .field("instance_type", &self.instance_type)
            .field("status", &self.status)
            .field("data_version", &self.data_version())
            .field("transition", &self.transition)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

impl InstanceRecord {
    pub fn connection_url(&self) -> String {
        format!("neo4j+s://{}.databases.neo4j.io", self.id)
    }

    /// Stands for the data it holds: changes whenever the data would.
    pub fn data_version(&self) -> &str {
        self.data.version()
    }

    /// Busy: a transition runs or its grace period has not ended.
    pub fn is_busy(&self, now: Instant) -> bool {
        self.transition.is_some() || self.locked_until.is_some_and(|t| now < t)
    }

    fn placement(&self) -> Placement {
        Placement {
            cloud_provider: self.cloud_provider.clone(),
            region: self.region.clone(),
            instance_type: self.instance_type.clone(),
            version: self.version.clone(),
            memory: self.memory.clone(),
            storage: self.storage.clone(),
        }
    }

    /// The `GET /instances/{id}` view.
    pub fn to_wire(&self) -> Instance {
        Instance {
            id: self.id.clone(),
            name: Some(self.name.clone()),
            status: self.status.clone(),
            connection_url: Some(self.connection_url()),
            cloud_provider: Some(self.cloud_provider.clone()),
            tenant_id: Some(self.tenant_id.clone()),
            memory: Some(self.memory.clone()),
            storage: Some(self.storage.clone()),
            region: Some(self.region.clone()),
            instance_type: Some(self.instance_type.clone()),
            created_at: Some(self.created_at.clone()),
            vector_optimized: Some(self.vector_optimized),
            graph_analytics_plugin: Some(self.graph_analytics_plugin),
            // Reported only where the type has them, as the real API does.
            secondaries_count: super::catalogue::SECONDARIES_TYPES
                .contains(&self.instance_type.as_str())
                .then_some(self.secondaries_count),
            cdc_enrichment_mode: super::catalogue::CDC_TYPES
                .contains(&self.instance_type.as_str())
                .then(|| self.cdc_enrichment_mode.clone()),
            customer_managed_key_id: self.customer_managed_key_id.clone(),
            metrics_integration_url: super::metrics::METRICS_TYPES
                .contains(&self.instance_type.as_str())
                .then(|| {
                    super::metrics::instance_endpoint(&self.metrics_base, &self.tenant_id, &self.id)
                }),
        }
    }

    pub fn to_summary(&self) -> InstanceSummary {
        InstanceSummary {
            id: self.id.clone(),
            name: Some(self.name.clone()),
            tenant_id: Some(self.tenant_id.clone()),
            cloud_provider: Some(self.cloud_provider.clone()),
            created_at: Some(self.created_at.clone()),
        }
    }

    /// The admin view: everything, password included.
    pub fn to_admin(&self, now: Instant) -> AdminInstance {
        AdminInstance {
            instance: self.to_wire(),
            version: self.version.clone(),
            password: self.password.clone(),
            username: ADMIN_USER.into(),
            busy: self.is_busy(now),
            data_version: self.data_version().to_string(),
        }
    }
}

/// What the admin API and `SimState::instances()` return for one instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdminInstance {
    #[serde(flatten)]
    pub instance: Instance,
    pub version: String,
    pub username: String,
    pub password: String,
    pub busy: bool,
    /// See `GET /admin/instances/{id}/lineage` for where it came from.
    #[serde(default)]
    pub data_version: String,
}

/// An out-of-band change, as someone clicking in the Aura console would make.
/// Applied at once, with no transition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleUpdate {
    pub name: Option<String>,
    pub memory: Option<String>,
    pub storage: Option<String>,
    pub vector_optimized: Option<bool>,
    pub graph_analytics_plugin: Option<bool>,
    /// true: paused now; false: running now.
    pub paused: Option<bool>,
    /// Force any status string (e.g. "loading failed", "suspended").
    pub status: Option<String>,
    /// A new password for the neo4j user, as `ALTER CURRENT USER SET PASSWORD`
    /// would set it (the Query API takes it from then on).
    pub password: Option<String>,
    pub secondaries_count: Option<u64>,
    /// OFF, DIFF or FULL.
    pub cdc_enrichment_mode: Option<String>,
}

/// The whole simulated account. Its `Debug` shows no password.
pub struct World {
    pub tenants: Vec<TenantSummary>,
    pub catalogue: Vec<InstanceConfiguration>,
    pub timings: Timings,
    /// Free instances allowed per tenant; 0 = unlimited.
    pub free_per_tenant: u32,
    /// Whether snapshots are exportable, for instances without their own setting.
    pub snapshots_exportable: bool,
    instances: BTreeMap<String, InstanceRecord>,
    snapshots: Snapshots,
    /// Every password ever issued, kept after deletion so tests can still compare.
    passwords: HashMap<String, String>,
    /// `/customer-managed-keys`: keys an instance may be encrypted with.
    pub keys: Keys,
    /// Seconds from a key's creation to `ready`; `None`: only the grant.
    pub key_ready_seconds: Option<f64>,
    /// Where metrics are served: the simulator's own address once started.
    pub metrics_base: String,
    /// `/graph-analytics/sessions`.
    pub sessions: Sessions,
    /// Tenants whose metrics integration answers 400 `tenant-incapable-of-action`.
    pub metrics_incapable: BTreeSet<String>,
    /// Seconds before a new instance shows in `GET /instances` (0: at once).
    pub list_delay_seconds: f64,
    /// Which tenants each scoped client id sees.
    pub scopes: super::scope::TenantScopes,
    /// Each instance's database users other than the admin, and its custom
    /// roles, by instance id.
    user_tables: HashMap<String, UserTable>,
    /// v2beta1 organizations; a project is a tenant.
    pub orgs: Organizations,
    /// v2beta1 IP filters of every organization.
    pub ip_filters: IpFilters,
    /// v2beta1 console users, their project roles and pending invites.
    pub console: ConsoleAccess,
    /// v2beta1 databases, their backups and restores, by instance id
    /// (made on first use, with the default database).
    databases: HashMap<String, InstanceDatabases>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not `passwords`; the instances and users hide theirs.
        f.debug_struct("World")
            .field("tenants", &self.tenants)
            .field("timings", &self.timings)
            .field("instances", &self.instances)
            .field("snapshots", &self.snapshots)
            .field("user_tables", &self.user_tables)
            .finish_non_exhaustive()
    }
}

pub use super::keys::CustomerManagedKey;

/// RFC 3339 in whole seconds, like the API.
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn new_password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect()
}

impl World {
    pub fn new(
        tenants: Vec<TenantSummary>,
        catalogue: Vec<InstanceConfiguration>,
        timings: Timings,
    ) -> Self {
        Self {
            tenants,
            catalogue,
            timings,
            free_per_tenant: 1,
            snapshots_exportable: true,
            instances: BTreeMap::new(),
            snapshots: Snapshots::default(),
            passwords: HashMap::new(),
            keys: Keys::default(),
            key_ready_seconds: Some(DEFAULT_KEY_READY_SECONDS),
            metrics_base: super::metrics::DEFAULT_METRICS_BASE.to_string(),
            metrics_incapable: BTreeSet::new(),
            sessions: Sessions::default(),
            list_delay_seconds: 0.0,
            scopes: super::scope::TenantScopes::default(),
            user_tables: HashMap::new(),
            orgs: Organizations::default(),
            ip_filters: IpFilters::default(),
            console: ConsoleAccess::default(),
            databases: HashMap::new(),
        }
    }

    /// Every instance's tenant, by instance id (destroying ones included).
    pub fn instance_tenants(&mut self, now: Instant) -> HashMap<String, String> {
        self.settle(now);
        self.instances
            .values()
            .map(|i| (i.id.clone(), i.tenant_id.clone()))
            .collect()
    }

    /// How long an IP filter stays `SUBMITTED` on an instance after a change.
    pub fn ip_filter_delay(&self) -> Duration {
        secs(self.timings.ip_filter)
    }

    /// Ends every transition whose deadline has passed.
    pub fn settle(&mut self, now: Instant) {
        let grace = secs(self.timings.settle_grace);
        let mut gone = Vec::new();
        for inst in self.instances.values_mut() {
            let Some(t) = &inst.transition else { continue };
            if now < t.done_at {
                continue;
            }
            match t.after.clone() {
                After::Vanish => gone.push(inst.id.clone()),
                After::Become(s) => {
                    inst.status = s;
                    inst.locked_until = Some(deadline(t.done_at, grace));
                    inst.transition = None;
                }
            }
        }
        for id in gone {
            self.instances.remove(&id);
            self.snapshots.forget(&id);
            self.user_tables.remove(&id);
            self.databases.remove(&id);
        }
    }

    pub fn has_tenant(&self, id: &str) -> bool {
        self.tenants.iter().any(|t| t.id == id)
    }

    pub fn get(&mut self, id: &str, now: Instant) -> Result<&InstanceRecord, ApiError> {
        self.settle(now);
        self.instances
            .get(id)
            .ok_or_else(|| ApiError::db_not_found(id))
    }

    fn get_mut(&mut self, id: &str, now: Instant) -> Result<&mut InstanceRecord, ApiError> {
        self.settle(now);
        self.instances
            .get_mut(id)
            .ok_or_else(|| ApiError::db_not_found(id))
    }

    pub fn placement(&mut self, id: &str, now: Instant) -> Result<Placement, ApiError> {
        Ok(self.get(id, now)?.placement())
    }

    /// The instances `GET /instances` shows, optionally of one tenant, in
    /// id order: those created at least the list delay ago.
    pub fn list(&mut self, tenant: Option<&str>, now: Instant) -> Vec<&InstanceRecord> {
        self.settle(now);
        self.instances
            .values()
            .filter(|i| tenant.is_none_or(|t| i.tenant_id == t) && now >= i.listed_from)
            .collect()
    }

    /// What the metrics of a tenant's running instances (or of one of
    /// them) are computed from: only types metrics are offered for.
    pub fn metrics_samples(
        &mut self,
        tenant: &str,
        instance: Option<&str>,
        now: Instant,
    ) -> Vec<super::metrics::Sample> {
        self.settle(now);
        self.instances
            .values()
            .filter(|i| i.tenant_id == tenant && instance.is_none_or(|id| i.id == id))
            .filter(|i| {
                i.status == InstanceStatus::Running
                    && super::metrics::METRICS_TYPES.contains(&i.instance_type.as_str())
            })
            .map(|i| super::metrics::Sample {
                instance_id: i.id.clone(),
                memory: i.memory.clone(),
                storage: i.storage.clone(),
                data_version: i.data_version().to_string(),
            })
            .collect()
    }

    pub fn issued_password(&self, id: &str) -> Option<String> {
        self.passwords.get(id).cloned()
    }

    fn new_id(&self) -> String {
        let mut rng = rand::rng();
        loop {
            let id = format!("{:08x}", rng.random::<u32>());
            if !self.instances.contains_key(&id) && !self.passwords.contains_key(&id) {
                return id;
            }
        }
    }

    /// Commits a create. `immediate` skips `creating` (console-made instances).
    pub fn create(
        &mut self,
        spec: CreateSpec,
        now: Instant,
        immediate: bool,
    ) -> Result<CreatedInstance, ApiError> {
        self.settle(now);
        // A clone is checked first: a refused source creates nothing.
        let source = match &spec.source_instance_id {
            Some(src) => Some(self.data_source(src, spec.source_snapshot_id.as_deref(), now)?),
            None => None,
        };
        if let Some(key) = &spec.customer_managed_key_id {
            let at = KeyUse {
                tenant_id: &spec.tenant_id,
                cloud_provider: &spec.cloud_provider,
                region: &spec.region,
                instance_type: &spec.instance_type,
            };
            self.keys.check_use(key, at, now)?;
        }
        if spec.instance_type == InstanceType::FreeDb.as_str() && self.free_per_tenant > 0 {
            let free = self
                .instances
                .values()
                .filter(|i| {
                    i.tenant_id == spec.tenant_id
                        && i.instance_type == InstanceType::FreeDb.as_str()
                })
                .count();
            if free >= self.free_per_tenant as usize {
                return Err(ApiError::api(
                    axum::http::StatusCode::METHOD_NOT_ALLOWED,
                    "free-instance-limit-reached",
                    "You have reached the maximum number of free instances in this tenant",
                ));
            }
        }
        let id = self.new_id();
        let password = new_password();
        let created_at = now_rfc3339();
        let (status, transition) = if immediate {
            (InstanceStatus::Running, None)
        } else {
            (
                InstanceStatus::Creating,
                Some(Transition {
                    done_at: deadline(now, secs(self.timings.create)),
                    after: After::Become(InstanceStatus::Running),
                }),
            )
        };
        let rec = InstanceRecord {
            id: id.clone(),
            name: spec.name,
            tenant_id: spec.tenant_id,
            cloud_provider: spec.cloud_provider,
            region: spec.region,
            instance_type: spec.instance_type,
            version: spec.version,
            memory: spec.memory,
            storage: spec.storage,
            vector_optimized: spec.vector_optimized,
            graph_analytics_plugin: spec.graph_analytics_plugin,
            created_at: created_at.clone(),
            password: password.clone(),
            status,
            secondaries_count: 0,
            cdc_enrichment_mode: "OFF".into(),
            customer_managed_key_id: spec.customer_managed_key_id,
            snapshots_exportable: None,
            v2: None,
            data: Data::new(created_at.clone(), source),
            transition,
            locked_until: None,
            metrics_base: self.metrics_base.clone(),
            listed_from: deadline(now, secs(self.list_delay_seconds)),
        };
        let out = CreatedInstance {
            id: id.clone(),
            connection_url: Some(rec.connection_url()),
            username: Some("neo4j".into()),
            password: password.clone(),
            tenant_id: Some(rec.tenant_id.clone()),
            cloud_provider: Some(rec.cloud_provider.clone()),
            region: Some(rec.region.clone()),
            instance_type: Some(rec.instance_type.clone()),
            name: Some(rec.name.clone()),
            created_at: Some(created_at),
        };
        self.passwords.insert(id.clone(), password);
        self.instances.insert(id, rec);
        Ok(out)
    }

    /// Starts a transition on an idle instance that must be in `step.from`.
    fn begin(&mut self, id: &str, now: Instant, step: Step<'_>) -> Result<Instance, ApiError> {
        let inst = self.get_mut(id, now)?;
        if inst.is_busy(now) {
            return Err(ApiError::ongoing_operation(inst.status.as_str()));
        }
        if !step.from.contains(&inst.status) {
            return Err(ApiError::invalid_state(format!(
                "{} (status: {})",
                step.wrong_state, inst.status
            )));
        }
        inst.status = step.during;
        inst.transition = Some(Transition {
            done_at: deadline(now, secs(step.seconds)),
            after: step.after,
        });
        Ok(inst.to_wire())
    }

    pub fn pause(&mut self, id: &str, now: Instant) -> Result<Instance, ApiError> {
        let t = self.timings.pause;
        self.begin(
            id,
            now,
            Step {
                from: &[InstanceStatus::Running],
                during: InstanceStatus::Pausing,
                after: After::Become(InstanceStatus::Paused),
                seconds: t,
                wrong_state: "Only a running instance can be paused",
            },
        )
    }

    pub fn resume(&mut self, id: &str, now: Instant) -> Result<Instance, ApiError> {
        let t = self.timings.resume;
        self.begin(
            id,
            now,
            Step {
                from: &[InstanceStatus::Paused],
                during: InstanceStatus::Resuming,
                after: After::Become(InstanceStatus::Running),
                seconds: t,
                wrong_state: "Only a paused instance can be resumed",
            },
        )
    }

    /// Delete: 404 once destroying (the API answers 202 at most once), 409 while busy.
    pub fn delete(&mut self, id: &str, now: Instant) -> Result<Instance, ApiError> {
        let t = self.timings.destroy;
        if self.get(id, now)?.status == InstanceStatus::Destroying {
            return Err(ApiError::db_not_found(id));
        }
        let settled: Vec<InstanceStatus> = [
            InstanceStatus::Running,
            InstanceStatus::Paused,
            InstanceStatus::Suspended,
            InstanceStatus::LoadingFailed,
        ]
        .to_vec();
        self.begin(
            id,
            now,
            Step {
                from: &settled,
                during: InstanceStatus::Destroying,
                after: After::Vanish,
                seconds: t,
                wrong_state: "The instance cannot be deleted now",
            },
        )
    }

    /// PATCH: a rename applies at once in any state (200); anything else needs
    /// an idle running instance and starts `updating` (202). Sizes change at once.
    pub fn update(
        &mut self,
        id: &str,
        spec: &UpdateSpec,
        now: Instant,
    ) -> Result<(bool, Instance), ApiError> {
        let t = self.timings.update;
        let rename_only = spec.is_rename_only();
        let inst = self.get_mut(id, now)?;
        if inst.status == InstanceStatus::Destroying {
            return Err(ApiError::ongoing_operation(inst.status.as_str()));
        }
        if !rename_only {
            if inst.is_busy(now) {
                return Err(ApiError::ongoing_operation(inst.status.as_str()));
            }
            if inst.status != InstanceStatus::Running {
                return Err(ApiError::invalid_state(format!(
                    "Only a running instance can be resized (status: {})",
                    inst.status
                )));
            }
        }
        if let Some(n) = &spec.name {
            inst.name = n.clone();
        }
        if let Some(m) = &spec.memory {
            inst.memory = m.clone();
        }
        if let Some(s) = &spec.storage {
            inst.storage = s.clone();
        }
        if let Some(v) = spec.vector_optimized {
            inst.vector_optimized = v;
        }
        if let Some(g) = spec.graph_analytics_plugin {
            inst.graph_analytics_plugin = g;
        }
        if let Some(n) = spec.secondaries_count {
            inst.secondaries_count = n;
        }
        if let Some(m) = &spec.cdc_enrichment_mode {
            inst.cdc_enrichment_mode = m.clone();
        }
        if !rename_only {
            inst.status = InstanceStatus::Updating;
            inst.transition = Some(Transition {
                done_at: deadline(now, secs(t)),
                after: After::Become(InstanceStatus::Running),
            });
        }
        Ok((rename_only, inst.to_wire()))
    }

    pub fn upgrade(
        &mut self,
        id: &str,
        spec: &UpgradeSpec,
        now: Instant,
    ) -> Result<Instance, ApiError> {
        let t = self.timings.update;
        let inst = self.get_mut(id, now)?;
        if inst.is_busy(now) {
            return Err(ApiError::ongoing_operation(inst.status.as_str()));
        }
        if inst.status != InstanceStatus::Running {
            return Err(ApiError::invalid_state(format!(
                "Only a running instance can be upgraded (status: {})",
                inst.status
            )));
        }
        inst.instance_type = spec.instance_type.clone();
        inst.memory = spec.memory.clone();
        inst.storage = spec.storage.clone();
        inst.status = InstanceStatus::Updating;
        inst.transition = Some(Transition {
            done_at: deadline(now, secs(t)),
            after: After::Become(InstanceStatus::Running),
        });
        Ok(inst.to_wire())
    }

    pub fn take_snapshot(&mut self, id: &str, now: Instant) -> Result<String, ApiError> {
        let duration = secs(self.timings.snapshot);
        let inst = self.get(id, now)?;
        if inst.is_busy(now) {
            return Err(ApiError::ongoing_operation(inst.status.as_str()));
        }
        if inst.status != InstanceStatus::Running {
            return Err(ApiError::invalid_state(format!(
                "Only a running instance can be snapshotted (status: {})",
                inst.status
            )));
        }
        let version = inst.data_version().to_string();
        Ok(self
            .snapshots
            .take(id, &version, now_rfc3339(), now, duration))
    }

    /// Snapshots of an instance; `date` (YYYY-MM-DD) filters on the timestamp.
    pub fn snapshots(
        &mut self,
        id: &str,
        date: Option<&str>,
        now: Instant,
    ) -> Result<Vec<Snapshot>, ApiError> {
        let exportable = self.exportable(id, now)?;
        Ok(self.snapshots.list(id, date, now, exportable))
    }

    pub fn snapshot(&mut self, id: &str, sid: &str, now: Instant) -> Result<Snapshot, ApiError> {
        let exportable = self.exportable(id, now)?;
        self.snapshots.get(id, sid, now, exportable)
    }

    /// `POST /customer-managed-keys`: a new `pending` key.
    pub fn create_key(&mut self, spec: KeySpec, now: Instant) -> KeyView {
        let ready_after = self.key_ready_seconds.map(secs);
        self.keys.create(spec, now_rfc3339(), now, ready_after)
    }

    /// `DELETE /customer-managed-keys/{id}`: refused while an instance that
    /// is not gone yet (destroying ones included) is encrypted with it.
    pub fn delete_key(&mut self, id: &str, now: Instant) -> Result<(), ApiError> {
        self.settle(now);
        let in_use = self
            .instances
            .values()
            .any(|i| i.customer_managed_key_id.as_deref() == Some(id));
        self.keys.delete(id, in_use)
    }

    /// Out-of-band change: no validation against the catalogue (the console may
    /// do things the API would refuse), no transition.
    pub fn console_update(
        &mut self,
        id: &str,
        change: &ConsoleUpdate,
        now: Instant,
    ) -> Result<Instance, ApiError> {
        let inst = self.get_mut(id, now)?;
        if let Some(v) = &change.name {
            inst.name = v.clone();
        }
        if let Some(v) = &change.memory {
            inst.memory = v.clone();
        }
        if let Some(v) = &change.storage {
            inst.storage = v.clone();
        }
        if let Some(v) = change.vector_optimized {
            inst.vector_optimized = v;
        }
        if let Some(v) = change.graph_analytics_plugin {
            inst.graph_analytics_plugin = v;
        }
        if let Some(v) = &change.password {
            inst.password = v.clone();
        }
        if let Some(v) = change.secondaries_count {
            inst.secondaries_count = v;
        }
        if let Some(v) = &change.cdc_enrichment_mode {
            inst.cdc_enrichment_mode = v.clone();
        }
        if let Some(p) = change.paused {
            inst.status = if p {
                InstanceStatus::Paused
            } else {
                InstanceStatus::Running
            };
            inst.transition = None;
            inst.locked_until = None;
        }
        if let Some(s) = &change.status {
            inst.status = InstanceStatus::parse(s);
            inst.transition = None;
            inst.locked_until = None;
        }
        Ok(inst.to_wire())
    }

    /// Out-of-band delete: gone at once. Returns whether it existed.
    pub fn console_delete(&mut self, id: &str, now: Instant) -> bool {
        self.settle(now);
        self.snapshots.forget(id);
        self.user_tables.remove(id);
        self.databases.remove(id);
        self.instances.remove(id).is_some()
    }

    /// Runs `f` over the instance's database: its users and roles, the
    /// admin's password being the instance record's own (changed in place,
    /// so the Aura side sees every change). `None`: no such instance.
    pub fn instance_database<R>(
        &mut self,
        id: &str,
        now: Instant,
        f: impl FnOnce(&mut InstanceDatabase<'_>) -> R,
    ) -> Option<R> {
        self.settle(now);
        let inst = self.instances.get_mut(id)?;
        let rbac =
            InstanceType::parse(&inst.instance_type).is_some_and(|t| t.has_role_based_access());
        let mut db = InstanceDatabase {
            status: &inst.status,
            rbac,
            admin_password: &mut inst.password,
            table: self.user_tables.entry(inst.id.clone()).or_default(),
        };
        Some(f(&mut db))
    }

    /// Whether the world keeps a user table for the instance (tests: it
    /// goes with the instance).
    #[cfg(test)]
    pub(crate) fn has_user_table(&self, id: &str) -> bool {
        self.user_tables.contains_key(id)
    }

    pub fn admin_list(&mut self, now: Instant) -> Vec<AdminInstance> {
        self.settle(now);
        self.instances.values().map(|i| i.to_admin(now)).collect()
    }
}

// Restore, overwrite, clone sources and writes: the data side of the account.
#[path = "data_ops.rs"]
mod data_ops;

// Where Graph Analytics sessions go.
#[path = "session_ops.rs"]
mod session_ops;

// v2beta1: instances made with their v2beta1 facts, and their databases.
#[path = "database_ops.rs"]
mod database_ops;

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "lineage_tests.rs"]
mod lineage_tests;
