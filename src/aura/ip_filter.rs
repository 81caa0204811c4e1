//! Aura API v2beta1 organisations and IP filters: the wire model, read
//! tolerantly, and the pure check of a write against what Aura kept.
//!
//! IP filters are written and read under different names (the live service,
//! V2BETA1-NOTES 81): a range is sent as `ip_range` and read as `address` and
//! `prefix_len`; the entities are sent as `entities` and read as
//! `filtered_entities`. Aura ignores fields it does not know and answers 200,
//! so every write is read back ([`IpFilterWrite::not_kept`]).

use serde::{Deserialize, Serialize};

use super::lenient;

/// An entry of `GET /organizations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Organization {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
}

/// An entry of `GET /organizations/{org}/projects` (a v1 tenant).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrganizationProject {
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
}

/// An IP filter as Aura reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IpFilter {
    /// A string UUID live; the document's example shows a number.
    #[serde(deserialize_with = "lenient::required_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub organization_id: String,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub description: String,
    #[serde(default, deserialize_with = "lenient::list")]
    pub allow_list: Vec<AllowedRange>,
    #[serde(default, deserialize_with = "filtered_entities")]
    pub filtered_entities: Entities,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub filtering_disabled: Option<bool>,
    /// Only on the per-instance read: UNKNOWN, SUBMITTED, ACTIVE, DELETED or ERROR.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
}

fn filtered_entities<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Entities, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// One range of an allow list as read: `address` and `prefix_len`, or the
/// write name `ip_range` should Aura ever answer with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AllowedRange {
    #[serde(default, deserialize_with = "lenient::string")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "lenient::count")]
    pub prefix_len: Option<u64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub ip_range: Option<String>,
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub description: String,
}

impl AllowedRange {
    /// The range as `address/prefix`, normalised; `None` when Aura sent
    /// neither form readably.
    pub fn cidr(&self) -> Option<String> {
        match (&self.address, self.prefix_len, &self.ip_range) {
            (Some(a), Some(p), _) => normalize_cidr(&format!("{a}/{p}")),
            (_, _, Some(r)) => normalize_cidr(r),
            (Some(a), None, None) => normalize_cidr(a),
            _ => None,
        }
    }
}

/// The entities a filter applies to (ids).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entities {
    #[serde(default, deserialize_with = "lenient::list")]
    pub instances: Vec<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub projects: Vec<String>,
    #[serde(
        default,
        deserialize_with = "lenient::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub organizations: Vec<String>,
}

/// A create or update body, in the names Aura accepts on write.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IpFilterWrite {
    pub name: String,
    pub organization_id: String,
    pub allow_list: Vec<RangeWrite>,
    pub entities: Entities,
    pub filtering_disabled: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RangeWrite {
    pub ip_range: String,
    /// Never null: Aura refuses it.
    pub description: String,
}

impl IpFilterWrite {
    /// The fields of this write that `read` does not show as sent: Aura
    /// answered 2xx but did not keep them. Empty when all was kept.
    pub fn not_kept(&self, read: &IpFilter) -> Vec<String> {
        let mut lost = Vec::new();
        if read.name != self.name {
            lost.push("name".to_string());
        }
        let wanted: Vec<(Option<String>, &str)> = self
            .allow_list
            .iter()
            .map(|r| (normalize_cidr(&r.ip_range), r.description.as_str()))
            .collect();
        let kept: Vec<(Option<String>, &str)> = read
            .allow_list
            .iter()
            .map(|r| (r.cidr(), r.description.as_str()))
            .collect();
        if sorted(wanted.iter().map(|(c, _)| c.clone()))
            != sorted(kept.iter().map(|(c, _)| c.clone()))
        {
            lost.push("allowList".to_string());
        } else if sorted(wanted.iter().map(|(c, d)| (c.clone(), d.to_string())))
            != sorted(kept.iter().map(|(c, d)| (c.clone(), d.to_string())))
        {
            lost.push("allowList[].description".to_string());
        }
        if sorted(self.entities.instances.iter().cloned())
            != sorted(read.filtered_entities.instances.iter().cloned())
        {
            lost.push("instanceRefs".to_string());
        }
        if sorted(self.entities.projects.iter().cloned())
            != sorted(read.filtered_entities.projects.iter().cloned())
        {
            lost.push("projectRefs".to_string());
        }
        if read.filtering_disabled.unwrap_or(false) != self.filtering_disabled {
            lost.push("filteringDisabled".to_string());
        }
        lost
    }
}

fn sorted<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.collect();
    v.sort();
    v
}

/// `203.0.113.0/24` as one canonical text (the address parsed, so
/// `2001:DB8::/32` and `2001:db8::/32` are equal); a bare address is a /32
/// or /128. `None` when it is not a range.
pub fn normalize_cidr(text: &str) -> Option<String> {
    let text = text.trim();
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then(|| format!("{addr}/{prefix}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cidrs_are_compared_in_one_form() {
        let cases = [
            ("203.0.113.0/24", Some("203.0.113.0/24")),
            (" 10.0.0.1 ", Some("10.0.0.1/32")),
            ("2001:DB8::/32", Some("2001:db8::/32")),
            ("2001:db8::1", Some("2001:db8::1/128")),
            ("10.0.0.0/33", None),
            ("10.0.0/24", None),
            ("office", None),
            ("10.0.0.0/-1", None),
        ];
        for (text, want) in cases {
            assert_eq!(normalize_cidr(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn a_filter_reads_from_the_live_shape_and_the_documents_example() {
        let live = json!({
            "id": "0b7c1a52-36c6-4b6c-9f4e-6a1d2f3e4b5c", "name": "office",
            "organization_id": "org", "description": "",
            "allow_list": [{"address": "203.0.113.0", "prefix_len": 24, "description": "office"}],
            "filtered_entities": {"instances": ["i1"], "projects": [], "organizations": []},
            "filtering_disabled": false, "updated_at": "Sat, 05 Dec 2026 19:00:00 GMT",
            "brain_ip_addresses_enabled": false
        });
        let f: IpFilter = serde_json::from_value(live).unwrap();
        assert_eq!(f.allow_list[0].cidr().as_deref(), Some("203.0.113.0/24"));
        assert_eq!(f.filtered_entities.instances, vec!["i1".to_string()]);
        // The document's example: a numeric id, a prefix as a string, null description.
        let doc = json!({"id": 12345678, "allow_list": [{"address": "192.168.1.1", "prefix_len": "24", "description": null}],
            "filtered_entities": null, "filtering_disabled": "false", "status": "ACTIVE"});
        let f: IpFilter = serde_json::from_value(doc).unwrap();
        assert_eq!(f.id, "12345678");
        assert_eq!(f.allow_list[0].cidr().as_deref(), Some("192.168.1.1/24"));
        assert_eq!(f.filtered_entities, Entities::default());
        assert_eq!(f.status.as_deref(), Some("ACTIVE"));
        assert!(serde_json::from_value::<IpFilter>(json!({"name": "no id"})).is_err());
    }

    fn write() -> IpFilterWrite {
        IpFilterWrite {
            name: "office".into(),
            organization_id: "org".into(),
            allow_list: vec![
                RangeWrite {
                    ip_range: "203.0.113.0/24".into(),
                    description: "office".into(),
                },
                RangeWrite {
                    ip_range: "2001:db8::/32".into(),
                    description: String::new(),
                },
            ],
            entities: Entities {
                instances: vec!["i1".into(), "i2".into()],
                ..Default::default()
            },
            filtering_disabled: false,
        }
    }

    fn kept(w: &IpFilterWrite) -> IpFilter {
        IpFilter {
            id: "f".into(),
            name: w.name.clone(),
            organization_id: w.organization_id.clone(),
            allow_list: w
                .allow_list
                .iter()
                .rev()
                .map(|r| {
                    let (a, p) = r.ip_range.split_once('/').unwrap();
                    AllowedRange {
                        address: Some(a.to_uppercase()),
                        prefix_len: p.parse().ok(),
                        description: r.description.clone(),
                        ..Default::default()
                    }
                })
                .collect(),
            filtered_entities: Entities {
                instances: w.entities.instances.iter().rev().cloned().collect(),
                ..Default::default()
            },
            filtering_disabled: Some(false),
            ..Default::default()
        }
    }

    #[test]
    fn a_write_is_held_against_what_aura_kept() {
        let w = write();
        // Order and letter case are Aura's to choose.
        assert!(w.not_kept(&kept(&w)).is_empty());
        type Change = fn(&mut IpFilter);
        let cases: [(Change, &str); 6] = [
            (|f| f.name = "other".into(), "name"),
            (|f| f.allow_list.truncate(1), "allowList"),
            (
                |f| f.allow_list[1].description.clear(),
                "allowList[].description",
            ),
            (|f| f.filtered_entities.instances.clear(), "instanceRefs"),
            (
                |f| f.filtered_entities.projects.push("p".into()),
                "projectRefs",
            ),
            (|f| f.filtering_disabled = Some(true), "filteringDisabled"),
        ];
        for (change, field) in cases {
            let mut read = kept(&w);
            change(&mut read);
            assert_eq!(w.not_kept(&read), vec![field.to_string()], "{field}");
        }
        // A flag Aura did not report reads as not disabled.
        let mut read = kept(&w);
        read.filtering_disabled = None;
        assert!(w.not_kept(&read).is_empty());
    }
}
