//! The tolerant reader (DESIGN 4.7): serde helpers that take what the real API
//! sends rather than what its spec promises. A field that is absent, `null`, of
//! another JSON type than documented or blank reads as "not reported" (`None`);
//! a number where a string was expected (or the reverse) is converted. None of
//! these ever fails the whole answer.

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Any scalar as text: `"8GB"`, `8` and `true` all read; blank, `null`,
/// arrays and objects read as not reported.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(&Value::deserialize(d)?))
}

/// Like [`string`], for fields without which the value means nothing (ids): a
/// value that does not read is an error for this element only (see [`list`]).
pub fn required_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(&Value::deserialize(d)?).ok_or_else(|| serde::de::Error::custom("blank or not a scalar"))
}

/// Like [`string`], for display-only text (names): not reported reads empty.
pub fn or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(text(&Value::deserialize(d)?).unwrap_or_default())
}

/// `true`/`false`, also as `"true"`/`"False"` or `1`/`0`.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// A non-negative whole number, also as `"3600"` or `3600.0`.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(whole(&Value::deserialize(d)?))
}

fn whole(v: &Value) -> Option<u64> {
    let f = match v {
        Value::Number(n) => n.as_u64().map(|u| u as f64).or_else(|| n.as_f64()),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    (f.is_finite() && f >= 0.0).then(|| f.round().min(u64::MAX as f64) as u64)
}

fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// A list whose unreadable elements are skipped instead of failing the list:
/// one odd instance must not hide the others. `null` or a non-list reads empty.
pub fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Lenient::deserialize(d)?.items)
}

/// A list read as [`list`] reads it, one element at a time: only the element
/// being read is held as a JSON tree, never the whole list (a tenant's
/// instance list as a tree was about 1 KB per instance, read on every create,
/// issue 34).
#[derive(Debug)]
pub struct Lenient<T> {
    pub items: Vec<T>,
    /// Elements that did not read.
    pub skipped: usize,
}

impl<T> Lenient<T> {
    fn empty() -> Self {
        Self {
            items: Vec::new(),
            skipped: 0,
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(std::marker::PhantomData))
    }
}

struct LenientVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list, or anything read as an empty one")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut read = Lenient::empty();
        while let Some(item) = seq.next_element::<Value>()? {
            match serde_json::from_value(item) {
                Ok(item) => read.items.push(item),
                Err(_) => read.skipped += 1,
            }
        }
        Ok(read)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Lenient::empty())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Lenient::empty())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient::empty())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lenient::empty())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lenient::empty())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lenient::empty())
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Lenient::empty())
    }
}

/// The readable elements of a JSON list already read as a tree, and how many
/// were skipped: the same visitor as [`Lenient`], over the tree in place.
pub fn read_list<T: DeserializeOwned>(v: &Value) -> (Vec<T>, usize) {
    // A tree always visits as some JSON value, which the visitor takes.
    Lenient::deserialize(v).map_or((Vec::new(), 0), |read| (read.items, read.skipped))
}

/// Case- and padding-insensitive equality for enumerated values (`GCP`, `gcp `).
pub fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Probe {
        #[serde(default, deserialize_with = "string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "boolean")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "count")]
        n: Option<u64>,
    }

    fn probe(v: Value) -> Probe {
        serde_json::from_value(v).expect("a tolerant read never fails on a scalar field")
    }

    #[test]
    fn every_field_class_reads_or_is_not_reported() {
        let cases: Vec<(Value, Probe)> = vec![
            (
                json!({}),
                Probe {
                    s: None,
                    b: None,
                    n: None,
                },
            ),
            (
                json!({"s": null, "b": null, "n": null}),
                Probe {
                    s: None,
                    b: None,
                    n: None,
                },
            ),
            (
                json!({"s": "8GB", "b": true, "n": 3}),
                Probe {
                    s: Some("8GB".into()),
                    b: Some(true),
                    n: Some(3),
                },
            ),
            (
                json!({"s": 8, "b": "False", "n": "3600"}),
                Probe {
                    s: Some("8".into()),
                    b: Some(false),
                    n: Some(3600),
                },
            ),
            (
                json!({"s": "  ", "b": 1, "n": 3600.0}),
                Probe {
                    s: None,
                    b: Some(true),
                    n: Some(3600),
                },
            ),
            (
                json!({"s": ["x"], "b": "maybe", "n": -5}),
                Probe {
                    s: None,
                    b: None,
                    n: None,
                },
            ),
            (
                json!({"s": {"x": 1}, "b": {}, "n": "soon"}),
                Probe {
                    s: None,
                    b: None,
                    n: None,
                },
            ),
            (
                json!({"s": false, "b": [true], "n": 2.6}),
                Probe {
                    s: Some("false".into()),
                    b: None,
                    n: Some(3),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(probe(input.clone()), want, "{input}");
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        #[serde(deserialize_with = "required_string")]
        id: String,
    }

    #[test]
    fn a_list_skips_what_it_cannot_read() {
        let (items, skipped) = read_list::<Item>(&json!([
            {"id": "a"}, {"id": null}, "junk", {"id": 7}, {}, {"id": "b", "extra": [1]}
        ]));
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["a", "7", "b"]);
        assert_eq!(skipped, 3);
        assert_eq!(read_list::<Item>(&Value::Null), (vec![], 0));
        assert_eq!(read_list::<Item>(&json!({"id": "a"})), (vec![], 0));
    }

    /// Read from the text element by element or from its tree, a list reads
    /// the same, inside an envelope too, whatever the JSON is: the readable
    /// ids, and how many elements were skipped.
    #[test]
    fn a_list_read_from_text_reads_as_its_tree() {
        #[derive(Deserialize)]
        struct Data {
            data: Lenient<Item>,
        }
        let cases: [(&str, &[&str], usize); 9] = [
            (
                r#"[{"id": "a"}, {"id": null}, "junk", {"id": 7}, {}, {"id": "b", "extra": [1]}]"#,
                &["a", "7", "b"],
                3,
            ),
            (r#"[]"#, &[], 0),
            (r#"null"#, &[], 0),
            (r#"{"id": "a", "nested": {"deep": [1, 2]}}"#, &[], 0),
            (r#""a string""#, &[], 0),
            (r#"12"#, &[], 0),
            (r#"-1.5"#, &[], 0),
            (r#"true"#, &[], 0),
            (r#"[[{"id": "x"}], {"id": "y"}]"#, &["y"], 1),
        ];
        for (text, ids, skipped) in cases {
            let tree: Value = serde_json::from_str(text).unwrap();
            let (want, want_skipped) = read_list::<Item>(&tree);
            let want_ids: Vec<&str> = want.iter().map(|i| i.id.as_str()).collect();
            assert_eq!(want_ids, ids, "{text}");
            assert_eq!(want_skipped, skipped, "{text}");
            let read: Lenient<Item> = serde_json::from_str(text).unwrap();
            assert_eq!(read.items, want, "{text}");
            assert_eq!(read.skipped, want_skipped, "{text}");
            let envelope = format!(r#"{{"data": {text}, "after": {{"x": 1}}}}"#);
            let data: Data = serde_json::from_str(&envelope).unwrap();
            assert_eq!(data.data.items, want, "{envelope}");
        }
    }

    #[test]
    fn enumerated_values_compare_loosely() {
        assert!(same("GCP", "gcp"));
        assert!(same(" 8gb", "8GB"));
        assert!(!same("8GB", "16GB"));
    }
}
