//! Answers that depart from the spec the way the real service has been seen to
//! (DESIGN 4.7): fields left out or sent as `null`, numbers as strings and the
//! reverse, capitalised statuses, fields the spec does not list. Off by default
//! (the simulator is spec-exact); switched on with `--quirks` or through
//! `PATCH /admin/faults {"quirks": {...}}`, so that tests and users' pipelines
//! can rehearse them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which departures every JSON answer of `/v1` and `/oauth/token` gets. Of
/// the rewrites only `extra_fields` reaches `/v2beta1` answers (live v2beta1
/// replies carry extra fields, notes item 87); the others were seen on v1
/// and would make its bare IP filter answers unreadable. The last three
/// are v2beta1's own departures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// Keys left out of every object of the answer (e.g. `created_at`, `token_type`).
    pub absent: Vec<String>,
    /// Keys sent as `null` wherever they appear.
    pub null: Vec<String>,
    /// Numbers sent as strings (`"3600"`), and strings that hold a whole
    /// number sent as numbers (`"version": 5`).
    pub retype: bool,
    /// `status` values capitalised (`Running`, `Loading failed`).
    pub capitalize_status: bool,
    /// Keys the spec does not list, added to every object.
    pub extra_fields: bool,
    /// Only answers whose path starts with one of these (`/v1/instances`,
    /// `/oauth/token`); empty: every answer.
    pub paths: Vec<String>,
    /// v2beta1 `DELETE .../ip-filters/{id}` deletes and answers 500, and
    /// answers 500 for a filter that is gone too (notes item 81).
    pub delete_answers_500: bool,
    /// v2beta1 IP filter writes ignore the read names (`allow_list[].address`,
    /// `prefix_len`, `filtered_entities`) as unknown fields (notes item 81).
    pub write_names_only: bool,
    /// v2beta1 error bodies say `{"Message","Reason"}` (notes "Conventions").
    pub capitalized_error_keys: bool,
}

impl Quirks {
    /// Every departure seen in public clients of the real API at once.
    pub fn as_seen() -> Self {
        Self {
            absent: vec!["created_at".into(), "token_type".into()],
            null: vec![
                "storage".into(),
                "cdc_enrichment_mode".into(),
                "region_name".into(),
            ],
            retype: true,
            capitalize_status: true,
            extra_fields: true,
            paths: Vec::new(),
            delete_answers_500: true,
            write_names_only: true,
            capitalized_error_keys: true,
        }
    }

    /// The rewrites an answer to `path` gets: under `/v2beta1` (but its
    /// token endpoint, which is v1's) only the extra fields.
    pub fn rewrites_for(&self, path: &str) -> Self {
        if path.starts_with("/v2beta1/") && path != "/v2beta1/oauth/token" {
            Self {
                extra_fields: self.extra_fields,
                paths: self.paths.clone(),
                ..Self::default()
            }
        } else {
            Self {
                delete_answers_500: false,
                write_names_only: false,
                capitalized_error_keys: false,
                ..self.clone()
            }
        }
    }

    /// Whether an answer to `path` gets the quirks (never `/admin`).
    pub fn covers(&self, path: &str) -> bool {
        !path.starts_with("/admin")
            && (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p.as_str())))
    }

    pub fn is_active(&self) -> bool {
        *self != Self::default()
    }

    /// `--quirks`: `as-seen`, `none`, or the JSON object itself.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "as-seen" => Ok(Self::as_seen()),
            "none" | "" => Ok(Self::default()),
            json => serde_json::from_str(json)
                .map_err(|e| format!("expected as-seen, none or a JSON object: {e}")),
        }
    }

    /// Rewrites one answer in place.
    pub fn apply(&self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in &self.absent {
                    map.remove(key);
                }
                for key in &self.null {
                    if let Some(slot) = map.get_mut(key) {
                        *slot = Value::Null;
                    }
                }
                for (key, value) in map.iter_mut() {
                    if self.capitalize_status && key == "status" {
                        capitalize(value);
                    } else {
                        self.apply(value);
                    }
                }
                if self.extra_fields {
                    map.insert("x_simulator_note".into(), Value::from("not in the spec"));
                    map.insert("labels".into(), serde_json::json!({"extra": [1, 2]}));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.apply(i)),
            Value::Number(n) if self.retype => *v = Value::String(n.to_string()),
            // Only where the number reads back the same ("0123" stays text).
            Value::String(s) if self.retype => {
                if let Ok(n) = s.parse::<u64>()
                    && n.to_string() == *s
                {
                    *v = Value::from(n);
                }
            }
            _ => {}
        }
    }
}

fn capitalize(v: &mut Value) {
    if let Value::String(s) = v {
        let mut chars = s.chars();
        if let Some(first) = chars.next() {
            *s = first.to_uppercase().chain(chars).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_departure_rewrites_as_named() {
        let answer = || {
            json!({"data": {"id": "8f769515", "status": "running", "created_at": "2026-01-01T00:00:00Z",
                "storage": "16GB", "memory": "8GB", "version": "5", "secondaries_count": 1,
                "password": "0123", "list": [{"status": "paused", "created_at": "x"}]}})
        };
        let cases: Vec<(Quirks, Value)> = vec![
            (Quirks::default(), answer()),
            (
                Quirks {
                    absent: vec!["created_at".into()],
                    ..Default::default()
                },
                json!({"data": {"id": "8f769515", "status": "running", "storage": "16GB", "memory": "8GB",
                    "version": "5", "secondaries_count": 1, "password": "0123", "list": [{"status": "paused"}]}}),
            ),
            (
                Quirks {
                    null: vec!["storage".into(), "nope".into()],
                    ..Default::default()
                },
                json!({"data": {"id": "8f769515", "status": "running", "created_at": "2026-01-01T00:00:00Z",
                    "storage": null, "memory": "8GB", "version": "5", "secondaries_count": 1,
                    "password": "0123", "list": [{"status": "paused", "created_at": "x"}]}}),
            ),
            (
                Quirks {
                    retype: true,
                    ..Default::default()
                },
                json!({"data": {"id": "8f769515", "status": "running", "created_at": "2026-01-01T00:00:00Z",
                    "storage": "16GB", "memory": "8GB", "version": 5, "secondaries_count": "1",
                    "password": "0123", "list": [{"status": "paused", "created_at": "x"}]}}),
            ),
            (
                Quirks {
                    capitalize_status: true,
                    ..Default::default()
                },
                json!({"data": {"id": "8f769515", "status": "Running", "created_at": "2026-01-01T00:00:00Z",
                    "storage": "16GB", "memory": "8GB", "version": "5", "secondaries_count": 1,
                    "password": "0123", "list": [{"status": "Paused", "created_at": "x"}]}}),
            ),
        ];
        for (quirks, want) in cases {
            let mut v = answer();
            quirks.apply(&mut v);
            assert_eq!(v, want, "{quirks:?}");
        }
    }

    #[test]
    fn extra_fields_are_added_everywhere() {
        let mut v = json!({"data": [{"id": "a"}]});
        Quirks {
            extra_fields: true,
            ..Default::default()
        }
        .apply(&mut v);
        assert!(v["x_simulator_note"].is_string());
        assert!(v["data"][0]["x_simulator_note"].is_string());
        assert_eq!(v["data"][0]["id"], "a");
    }

    #[test]
    fn the_flag_takes_a_preset_or_json() {
        assert_eq!(Quirks::parse("as-seen"), Ok(Quirks::as_seen()));
        assert_eq!(Quirks::parse("none"), Ok(Quirks::default()));
        assert_eq!(
            Quirks::parse(r#"{"absent": ["created_at"]}"#),
            Ok(Quirks {
                absent: vec!["created_at".into()],
                ..Default::default()
            })
        );
        assert!(Quirks::parse(r#"{"absnt": []}"#).is_err());
        assert!(Quirks::as_seen().is_active());
        let scoped = Quirks::parse(r#"{"paths": ["/v1/instances"], "retype": true}"#).unwrap();
        assert!(scoped.covers("/v1/instances/8f769515"));
        assert!(!scoped.covers("/v1/tenants/t"));
        assert!(!Quirks::as_seen().covers("/admin/instances"));
        assert!(Quirks::as_seen().covers("/oauth/token"));
        assert!(!Quirks::default().is_active());
    }

    #[test]
    fn v2beta1_answers_get_the_extra_fields_only() {
        let q = Quirks::as_seen();
        let v2 = q.rewrites_for("/v2beta1/organizations/o/ip-filters");
        assert_eq!(
            v2,
            Quirks {
                extra_fields: true,
                ..Default::default()
            }
        );
        let v1 = q.rewrites_for("/v1/instances");
        assert!(v1.retype && v1.capitalize_status && !v1.delete_answers_500);
        assert_eq!(q.rewrites_for("/v2beta1/oauth/token"), v1);
        let mut answer = json!([{"id": "f", "prefix_len": 24, "status": "ACTIVE"}]);
        v2.apply(&mut answer);
        assert_eq!(answer[0]["prefix_len"], 24);
        assert!(answer[0]["x_simulator_note"].is_string());
    }
}
