//! v2beta1 IP filters, org-scoped (V2BETA1-NOTES item 81): written with
//! `allow_list[].ip_range` and `entities`, read back as `address` +
//! `prefix_len` and `filtered_entities`; at most one filter per instance or
//! project; per instance `SUBMITTED` for a while after each change, then
//! `ACTIVE`. Pure: every call that needs the time takes `now`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::v2beta1::V2Error;

pub const SUBMITTED: &str = "SUBMITTED";
pub const ACTIVE: &str = "ACTIVE";
pub const ERROR: &str = "ERROR";

/// One CIDR of a filter, in the read names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowEntry {
    pub address: String,
    pub description: String,
    pub prefix_len: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilteredEntities {
    pub instances: Vec<String>,
    pub projects: Vec<String>,
    /// Always empty: nothing writes organizations (the document reads them only).
    pub organizations: Vec<String>,
}

/// A filter as every ip-filter answer shows it (bare, no `data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpFilterView {
    pub id: String,
    pub name: String,
    pub organization_id: String,
    pub description: String,
    pub allow_list: Vec<AllowEntry>,
    pub filtered_entities: FilteredEntities,
    pub filtering_disabled: bool,
    /// RFC 1123, as live sends it (notes item 81), not the document's date-time.
    pub updated_at: String,
}

/// `GET .../instances/{id}/ip-filters`: the filter that applies and its state there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpFilterStatus {
    #[serde(flatten)]
    pub filter: IpFilterView,
    pub status: String,
}

/// `"203.0.113.0/24"` or `"2001:db8::/32"`: the address as given and the
/// prefix length, which must fit the address family.
pub fn parse_cidr(s: &str) -> Result<(String, u8), String> {
    let Some((addr, len)) = s.trim().split_once('/') else {
        return Err(format!("'{s}' is not a CIDR (address/prefix length)"));
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("'{addr}' is not an IP address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("'{len}' is not a prefix length"))?;
    check_prefix(ip, len)?;
    Ok((addr.to_string(), len))
}

fn check_prefix(ip: IpAddr, len: u8) -> Result<(), String> {
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("prefix length {len} is over {max} for {ip}"));
    }
    Ok(())
}

/// How a write body is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteRules<'a> {
    /// Live: the read names (`address`, `filtered_entities`) are unknown on
    /// write and so silently ignored. Off, they are accepted too, as the
    /// document has no request schema that would rule them out.
    pub write_names_only: bool,
    /// Fields dropped before reading (`description`, `allow_list.description`):
    /// a fault for a field Aura does not keep.
    pub ignored: &'a [String],
}

/// A parsed create or patch body; `None`: not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterWrite {
    pub name: Option<String>,
    pub organization_id: Option<String>,
    pub description: Option<String>,
    pub allow_list: Option<Vec<AllowEntry>>,
    /// (instances, projects), and the key they came under.
    pub entities: Option<(Vec<String>, Vec<String>, &'static str)>,
    pub filtering_disabled: Option<bool>,
}

/// Drops `a` or `a.b` (from an object, or from every item of an array).
fn strip(obj: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            obj.remove(path);
        }
        Some((outer, inner)) => match obj.get_mut(outer) {
            Some(Value::Object(o)) => strip(o, inner),
            Some(Value::Array(items)) => items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(|o| strip(o, inner)),
            _ => {}
        },
    }
}

fn opt_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, V2Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(V2Error::validation(key, format!("{key} must be a string"))),
    }
}

fn allow_entry(item: &Value, i: usize, rules: &WriteRules<'_>) -> Result<AllowEntry, V2Error> {
    let field = |k: &str| format!("allow_list[{i}].{k}");
    let Some(o) = item.as_object() else {
        return Err(V2Error::validation(
            &format!("allow_list[{i}]"),
            "each allow_list entry must be an object",
        ));
    };
    let description = match o.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            let f = field("description");
            return Err(V2Error::validation(&f, format!("{f} must be a string")));
        }
    };
    if let Some(range) = o.get("ip_range") {
        let f = field("ip_range");
        let s = range
            .as_str()
            .ok_or_else(|| V2Error::validation(&f, format!("{f} must be a string")))?;
        let (address, prefix_len) =
            parse_cidr(s).map_err(|e| V2Error::validation(&f, format!("{f}: {e}")))?;
        return Ok(AllowEntry {
            address,
            description,
            prefix_len,
        });
    }
    if !rules.write_names_only
        && let Some(addr) = o.get("address")
    {
        let f = field("address");
        let ip: IpAddr = addr
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| V2Error::validation(&f, format!("{f} must be an IP address")))?;
        let f = field("prefix_len");
        let len = o
            .get("prefix_len")
            .and_then(Value::as_u64)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| V2Error::validation(&f, format!("{f} must be a prefix length")))?;
        check_prefix(ip, len).map_err(|e| V2Error::validation(&f, format!("{f}: {e}")))?;
        return Ok(AllowEntry {
            address: addr.as_str().unwrap_or_default().to_string(),
            description,
            prefix_len: len,
        });
    }
    let f = field("ip_range");
    Err(V2Error::validation(&f, format!("{f} is required")))
}

fn id_list(obj: &Map<String, Value>, outer: &str, key: &str) -> Result<Vec<String>, V2Error> {
    let f = format!("{outer}.{key}");
    let mut out: Vec<String> = Vec::new();
    match obj.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                let id = v.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                    V2Error::validation(&format!("{f}[{i}]"), format!("{f}[{i}] must be an id"))
                })?;
                if !out.iter().any(|x| x == id) {
                    out.push(id.to_string());
                }
            }
        }
        Some(_) => {
            return Err(V2Error::validation(
                &f,
                format!("{f} must be a list of ids"),
            ));
        }
    }
    Ok(out)
}

/// Reads a create or patch body. Unknown fields are ignored, as live does.
pub fn parse_write(
    body: &Map<String, Value>,
    rules: &WriteRules<'_>,
) -> Result<FilterWrite, V2Error> {
    let mut obj = body.clone();
    for path in rules.ignored {
        strip(&mut obj, path);
    }
    let name = opt_str(&obj, "name")?;
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(V2Error::validation("name", "name must not be empty"));
    }
    let allow_list = match obj.get("allow_list") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| allow_entry(item, i, rules))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(V2Error::validation(
                "allow_list",
                "allow_list must be a list",
            ));
        }
    };
    let mut entities_key = None;
    for key in ["entities", "filtered_entities"] {
        if key == "filtered_entities" && rules.write_names_only {
            continue;
        }
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            entities_key = Some(key);
            break;
        }
    }
    let entities = match entities_key {
        None => None,
        Some(key) => {
            let Some(e) = obj.get(key).and_then(Value::as_object) else {
                return Err(V2Error::validation(key, format!("{key} must be an object")));
            };
            Some((
                id_list(e, key, "instances")?,
                id_list(e, key, "projects")?,
                key,
            ))
        }
    };
    let filtering_disabled = match obj.get("filtering_disabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(V2Error::validation(
                "filtering_disabled",
                "filtering_disabled must be a boolean",
            ));
        }
    };
    Ok(FilterWrite {
        name,
        organization_id: opt_str(&obj, "organization_id")?,
        description: opt_str(&obj, "description")?,
        allow_list,
        entities,
        filtering_disabled,
    })
}

/// Something a filter can apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    Instance(String),
    Project(String),
}

#[derive(Debug, Clone)]
struct Record {
    view: IpFilterView,
    /// When it was made or last patched: its instances are `SUBMITTED` from then.
    changed_at: Instant,
    /// Instances a test put in `ERROR`, until the next patch.
    errors: BTreeSet<String>,
}

/// Every filter of every organization, in creation order.
#[derive(Debug, Default)]
pub struct IpFilters {
    records: Vec<Record>,
}

fn updated_at() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}

impl IpFilters {
    pub fn all(&self) -> Vec<IpFilterView> {
        self.records.iter().map(|r| r.view.clone()).collect()
    }

    pub fn list(&self, org: &str) -> Vec<IpFilterView> {
        self.records
            .iter()
            .filter(|r| r.view.organization_id == org)
            .map(|r| r.view.clone())
            .collect()
    }

    fn find(&self, org: &str, id: &str) -> Result<usize, V2Error> {
        self.records
            .iter()
            .position(|r| r.view.id == id && r.view.organization_id == org)
            .ok_or_else(|| V2Error::ip_filter_not_found(id))
    }

    pub fn get(&self, org: &str, id: &str) -> Result<IpFilterView, V2Error> {
        Ok(self.records[self.find(org, id)?].view.clone())
    }

    /// The entities a write names, each checked to be in the organization
    /// (`in_org`) and in no other filter than `own`.
    fn check_entities(
        &self,
        w: &FilterWrite,
        own: Option<&str>,
        in_org: &dyn Fn(&Entity) -> bool,
    ) -> Result<(), V2Error> {
        let Some((instances, projects, key)) = &w.entities else {
            return Ok(());
        };
        let others = || {
            self.records
                .iter()
                .filter(|r| Some(r.view.id.as_str()) != own)
        };
        for (kind, ids) in [("instances", instances), ("projects", projects)] {
            for (i, id) in ids.iter().enumerate() {
                let entity = if kind == "instances" {
                    Entity::Instance(id.clone())
                } else {
                    Entity::Project(id.clone())
                };
                if !in_org(&entity) {
                    let f = format!("{key}.{kind}[{i}]");
                    return Err(V2Error::validation(
                        &f,
                        format!("{f}: {id} is not in this organization"),
                    ));
                }
                let taken = others().find(|r| {
                    let e = &r.view.filtered_entities;
                    if kind == "instances" {
                        e.instances.contains(id)
                    } else {
                        e.projects.contains(id)
                    }
                });
                if let Some(r) = taken {
                    return Err(V2Error::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "ip-filter-already-exists",
                        format!("{id} is already filtered by IP filter {}", r.view.id),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_org(org: &str, w: &FilterWrite) -> Result<(), V2Error> {
        match &w.organization_id {
            Some(o) if o != org => Err(V2Error::validation(
                "organization_id",
                format!("organization_id {o} is not the organization of the path ({org})"),
            )),
            _ => Ok(()),
        }
    }

    pub fn create(
        &mut self,
        org: &str,
        w: FilterWrite,
        in_org: &dyn Fn(&Entity) -> bool,
        now: Instant,
    ) -> Result<IpFilterView, V2Error> {
        let Some(name) = w.name.clone() else {
            return Err(V2Error::validation("name", "name is required"));
        };
        if w.organization_id.is_none() {
            return Err(V2Error::validation(
                "organization_id",
                "organization_id is required",
            ));
        }
        Self::check_org(org, &w)?;
        self.check_entities(&w, None, in_org)?;
        let (instances, projects) = w.entities.map(|(i, p, _)| (i, p)).unwrap_or_default();
        let view = IpFilterView {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            organization_id: org.to_string(),
            description: w.description.unwrap_or_default(),
            allow_list: w.allow_list.unwrap_or_default(),
            filtered_entities: FilteredEntities {
                instances,
                projects,
                organizations: Vec::new(),
            },
            filtering_disabled: w.filtering_disabled.unwrap_or(false),
            updated_at: updated_at(),
        };
        self.records.push(Record {
            view: view.clone(),
            changed_at: now,
            errors: BTreeSet::new(),
        });
        Ok(view)
    }

    /// Sent fields replace the old ones (`allow_list` and `entities` wholesale).
    pub fn patch(
        &mut self,
        org: &str,
        id: &str,
        w: FilterWrite,
        in_org: &dyn Fn(&Entity) -> bool,
        now: Instant,
    ) -> Result<IpFilterView, V2Error> {
        let at = self.find(org, id)?;
        Self::check_org(org, &w)?;
        self.check_entities(&w, Some(id), in_org)?;
        let r = &mut self.records[at];
        let v = &mut r.view;
        if let Some(n) = w.name {
            v.name = n;
        }
        if let Some(d) = w.description {
            v.description = d;
        }
        if let Some(a) = w.allow_list {
            v.allow_list = a;
        }
        if let Some((instances, projects, _)) = w.entities {
            v.filtered_entities.instances = instances;
            v.filtered_entities.projects = projects;
        }
        if let Some(b) = w.filtering_disabled {
            v.filtering_disabled = b;
        }
        v.updated_at = updated_at();
        r.changed_at = now;
        r.errors.clear();
        Ok(r.view.clone())
    }

    pub fn delete(&mut self, org: &str, id: &str) -> Result<(), V2Error> {
        let at = self.find(org, id)?;
        self.records.remove(at);
        Ok(())
    }

    /// The filter applying to an instance of `project` (named directly, or
    /// through its project: a direct one wins), with its status there.
    pub fn applying(
        &self,
        org: &str,
        instance: &str,
        project: &str,
        now: Instant,
        submitted_for: Duration,
    ) -> Option<IpFilterStatus> {
        let in_org = || {
            self.records
                .iter()
                .filter(|r| r.view.organization_id == org)
        };
        let r = in_org()
            .find(|r| {
                r.view
                    .filtered_entities
                    .instances
                    .iter()
                    .any(|i| i == instance)
            })
            .or_else(|| {
                in_org().find(|r| {
                    r.view
                        .filtered_entities
                        .projects
                        .iter()
                        .any(|p| p == project)
                })
            })?;
        let active_at = r
            .changed_at
            .checked_add(submitted_for)
            .unwrap_or(r.changed_at);
        let status = if r.errors.contains(instance) {
            ERROR
        } else if now < active_at {
            SUBMITTED
        } else {
            ACTIVE
        };
        Some(IpFilterStatus {
            filter: r.view.clone(),
            status: status.into(),
        })
    }

    /// The filter's status on the instance is `ERROR` until its next patch.
    /// False when there is no such filter.
    pub fn set_error(&mut self, id: &str, instance: &str) -> bool {
        match self.records.iter_mut().find(|r| r.view.id == id) {
            Some(r) => {
                r.errors.insert(instance.to_string());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
#[path = "ip_filters_tests.rs"]
mod tests;
