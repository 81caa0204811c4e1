//! Graph Analytics sessions (`/graph-analytics/sessions`): get-or-create by
//! name within a project, `Creating` then `Ready` after the create timing,
//! `Expired` once idle for their time to live (or at once through the test
//! hook). Pure: every call takes `now`; which instance a session attaches
//! to is checked by the account (`state.rs`).

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::catalogue::{optional_str, required_str};
use super::error::ApiError;
use super::sizing::SESSION_SIZES;
use crate::api::CloudProvider;

/// Without `ttl`, a session lives an hour idle (the spec).
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The longest `ttl` taken: a week (made up; the spec names no limit).
pub const MAX_TTL: Duration = Duration::from_secs(7 * 86_400);

/// Reads a time to live as the examples write it: `30m`, `1h`, `20m0s`,
/// `1h30m`, `45s` (units h, m, s, whole numbers). `None` when unreadable.
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
        any = true;
    }
    (any && digits.is_empty()).then(|| Duration::from_secs(total))
}

/// A `POST /graph-analytics/sessions` body, read but not yet placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRequest {
    pub name: String,
    pub memory: String,
    pub ttl: Option<Duration>,
    pub instance_id: Option<String>,
    pub database_uuid: Option<String>,
    pub tenant_id: Option<String>,
    pub cloud_provider: Option<String>,
    pub region: Option<String>,
}

/// Reads a session body: `name` (1 character at least) and `memory` (a
/// session size) required; `ttl` readable and at most [`MAX_TTL`];
/// `cloud_provider` one of the three.
pub fn parse_session_request(obj: &Map<String, Value>) -> Result<SessionRequest, ApiError> {
    let name = required_str(obj, "name")?;
    if name.trim().is_empty() {
        return Err(ApiError::field("name", "name must not be empty"));
    }
    let memory = required_str(obj, "memory")?;
    let sizes: Vec<String> = SESSION_SIZES.iter().map(|g| format!("{g}GB")).collect();
    if !sizes.contains(&memory) {
        return Err(ApiError::field(
            "memory",
            format!("memory must be one of {}, got '{memory}'", sizes.join(", ")),
        ));
    }
    let ttl = match optional_str(obj, "ttl")? {
        None => None,
        Some(t) => match parse_ttl(&t) {
            Some(d) if !d.is_zero() && d <= MAX_TTL => Some(d),
            _ => {
                return Err(ApiError::field(
                    "ttl",
                    format!("ttl must be a duration such as 30m or 1h, at most 168h, got '{t}'"),
                ));
            }
        },
    };
    let cloud_provider = optional_str(obj, "cloud_provider")?;
    if let Some(p) = &cloud_provider
        && !CloudProvider::words().contains(&p.as_str())
    {
        return Err(ApiError::field(
            "cloud_provider",
            format!("cloud_provider must be one of gcp, aws, azure, got '{p}'"),
        ));
    }
    Ok(SessionRequest {
        name,
        memory,
        ttl,
        instance_id: optional_str(obj, "instance_id")?,
        database_uuid: optional_str(obj, "database_uuid")?,
        tenant_id: optional_str(obj, "tenant_id")?,
        cloud_provider,
        region: optional_str(obj, "region")?,
    })
}

/// A request placed: its project, provider and region known (from the
/// instance it attaches to, or as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub request: SessionRequest,
    pub tenant_id: String,
    pub cloud_provider: String,
    pub region: String,
}

/// A session as the API shows it. `ttl` in seconds: the schema says
/// integer (its examples write `20m0s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    pub id: String,
    pub name: String,
    pub memory: String,
    pub status: String,
    pub host: String,
    pub tenant_id: String,
    pub user_id: String,
    pub cloud_provider: String,
    pub region: String,
    pub created_at: String,
    pub expiry_date: String,
    pub ttl: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_uuid: Option<String>,
}

#[derive(Debug, Clone)]
struct SessionRecord {
    id: String,
    placed: Placed,
    ttl: Duration,
    user_id: String,
    created_at: jiff::Timestamp,
    created: Instant,
    ready_at: Instant,
    /// The idle clock restarts here (the last get-or-create that found it).
    active_at: Instant,
    /// Expired by the test hook.
    expired: bool,
}

impl SessionRecord {
    /// When it expires if left idle: its time to live after it was ready
    /// or last used, whichever is later.
    fn expires_at(&self) -> Instant {
        let from = self.ready_at.max(self.active_at);
        from.checked_add(self.ttl).unwrap_or(from)
    }

    fn status(&self, now: Instant) -> &'static str {
        if self.expired || now >= self.expires_at() {
            "Expired"
        } else if now < self.ready_at {
            "Creating"
        } else {
            "Ready"
        }
    }

    fn wall(&self, at: Instant) -> String {
        let offset = at.saturating_duration_since(self.created);
        let t = jiff::SignedDuration::try_from(offset)
            .ok()
            .and_then(|d| self.created_at.checked_add(d).ok())
            .unwrap_or(self.created_at);
        jiff::Timestamp::from_second(t.as_second())
            .unwrap_or(t)
            .to_string()
    }

    fn view(&self, now: Instant) -> SessionView {
        let p = &self.placed;
        SessionView {
            id: self.id.clone(),
            name: p.request.name.clone(),
            memory: p.request.memory.clone(),
            status: self.status(now).to_string(),
            host: format!("{}-gds.simulated.neo4j.io", self.id),
            tenant_id: p.tenant_id.clone(),
            user_id: self.user_id.clone(),
            cloud_provider: p.cloud_provider.clone(),
            region: p.region.clone(),
            created_at: self.wall(self.created),
            expiry_date: self.wall(self.expires_at()),
            ttl: self.ttl.as_secs(),
            instance_id: p.request.instance_id.clone(),
            database_uuid: p.request.database_uuid.clone(),
        }
    }

    /// What differs between the session and a request for it, in the
    /// words of the documented 409 (`Memory (is: 8GB, requested: 4GB)`).
    /// Only what the request names is compared.
    fn differences(&self, want: &Placed) -> Vec<String> {
        let have = &self.placed;
        let ttl_secs = |d: Duration| format!("{}s", d.as_secs());
        let mut out = Vec::new();
        let mut check = |what: &str, is: Option<String>, requested: Option<String>| {
            if let Some(r) = requested
                && Some(&r) != is.as_ref()
            {
                let is = is.unwrap_or_else(|| "none".into());
                out.push(format!("{what} (is: {is}, requested: {r})"));
            }
        };
        check(
            "Memory",
            Some(have.request.memory.clone()),
            Some(want.request.memory.clone()),
        );
        check(
            "TTL",
            Some(ttl_secs(self.ttl)),
            want.request.ttl.map(ttl_secs),
        );
        check(
            "InstanceId",
            have.request.instance_id.clone(),
            want.request.instance_id.clone(),
        );
        check(
            "DatabaseUuid",
            have.request.database_uuid.clone(),
            want.request.database_uuid.clone(),
        );
        check(
            "CloudProvider",
            Some(have.cloud_provider.clone()),
            Some(want.cloud_provider.clone()),
        );
        check(
            "Region",
            Some(have.region.clone()),
            Some(want.region.clone()),
        );
        out
    }
}

/// Every session of the account, in creation order.
#[derive(Debug, Default)]
pub struct Sessions {
    records: Vec<SessionRecord>,
}

fn new_id(instance_id: Option<&str>) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    match instance_id {
        // As the documented examples: `559c94c7-15de43fg`, `s-04de43fe-67ab-4`.
        Some(i) => format!("{i}-{}", &hex[..8]),
        None => format!("s-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..13]),
    }
}

impl Sessions {
    /// Get or create by name in the project: the live session of that name
    /// when the request fits it (`false`: not created; its idle clock
    /// restarts), 409 when it does not, else a new `Creating` session.
    pub fn get_or_create(
        &mut self,
        placed: Placed,
        user_id: &str,
        now: Instant,
        create: Duration,
    ) -> Result<(bool, SessionView), ApiError> {
        let existing = self.records.iter_mut().find(|r| {
            r.placed.tenant_id == placed.tenant_id
                && r.placed.request.name == placed.request.name
                && r.status(now) != "Expired"
        });
        if let Some(r) = existing {
            let diff = r.differences(&placed);
            if !diff.is_empty() {
                return Err(ApiError::api(
                    axum::http::StatusCode::CONFLICT,
                    "",
                    format!(
                        "session `{}` already exists for project `{}` with different parameters: {}",
                        placed.request.name,
                        placed.tenant_id,
                        diff.join(", ")
                    ),
                ));
            }
            r.active_at = now;
            return Ok((false, r.view(now)));
        }
        let ready_at = now.checked_add(create).unwrap_or(now);
        let record = SessionRecord {
            id: new_id(placed.request.instance_id.as_deref()),
            ttl: placed.request.ttl.unwrap_or(DEFAULT_TTL),
            placed,
            user_id: user_id.to_string(),
            created_at: jiff::Timestamp::now(),
            created: now,
            ready_at,
            active_at: ready_at,
            expired: false,
        };
        let view = record.view(now);
        self.records.push(record);
        Ok((true, view))
    }

    /// Filtered by project and by the instance they attach to.
    pub fn list(
        &self,
        tenant: Option<&str>,
        instance: Option<&str>,
        now: Instant,
    ) -> Vec<SessionView> {
        self.records
            .iter()
            .filter(|r| tenant.is_none_or(|t| r.placed.tenant_id == t))
            .filter(|r| instance.is_none_or(|i| r.placed.request.instance_id.as_deref() == Some(i)))
            .map(|r| r.view(now))
            .collect()
    }

    fn record_mut(&mut self, id: &str) -> Result<&mut SessionRecord, ApiError> {
        self.records
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| session_not_found(id))
    }

    pub fn get(&mut self, id: &str, now: Instant) -> Result<SessionView, ApiError> {
        Ok(self.record_mut(id)?.view(now))
    }

    /// Gone at once.
    pub fn delete(&mut self, id: &str) -> Result<(), ApiError> {
        self.record_mut(id)?;
        self.records.retain(|r| r.id != id);
        Ok(())
    }

    /// The test hook: expired now, whatever its time to live.
    pub fn expire(&mut self, id: &str, now: Instant) -> Result<SessionView, ApiError> {
        let r = self.record_mut(id)?;
        r.expired = true;
        Ok(r.view(now))
    }
}

/// 404 in the documented words (the example's reason is empty).
pub fn session_not_found(id: &str) -> ApiError {
    ApiError::api(
        axum::http::StatusCode::NOT_FOUND,
        "",
        format!("session with id `{id}` not found"),
    )
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
