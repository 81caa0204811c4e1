//! The envelopes of Aura API answers, read tolerantly (pure). v1 wraps every
//! success in `{"data": ...}`; v2beta1 answers `{"data"}`, `{"data",
//! "links"}`, `{"data","errors"}` or a bare object or array depending on the
//! endpoint, and pages with a cursor (`links.next`) or with `page` and
//! `page_size`. The v2beta1 client (next issue) reads through these.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The payload of an answer: `data` when the body is an object holding it,
/// else the body itself (a bare object or array).
pub fn payload(body: &Value) -> &Value {
    match body.as_object().and_then(|o| o.get("data")) {
        Some(data) if !data.is_null() => data,
        _ => body,
    }
}

/// One object, from any envelope.
pub fn one<T: DeserializeOwned>(body: &Value) -> Result<T, String> {
    serde_json::from_value(payload(body).clone()).map_err(|e| format!("unreadable answer: {e}"))
}

/// One page of a list: the entries that read (with how many did not), and
/// where the next page is.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Entries that did not read as `T`: skipped, counted for a warning.
    pub skipped: usize,
    pub next: Next,
}

/// Where the next page of a list is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// This was the last page.
    Done,
    /// Cursor paging: the URL `links.next` gives.
    Url(String),
    /// Offset paging: ask for this page number.
    Page(u64),
}

/// A list page, from any envelope. `page`: the offset paging's page number
/// and size when the request used it (a full page means there may be more).
pub fn list<T: DeserializeOwned>(body: &Value, page: Option<(u64, u64)>) -> Page<T> {
    let entries = payload(body);
    let count = entries.as_array().map_or(0, Vec::len) as u64;
    let (items, skipped) = super::lenient::read_list::<T>(entries);
    let cursor = body
        .get("links")
        .and_then(|l| l.get("next"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let next = match (cursor, page) {
        (Some(url), _) => Next::Url(url),
        (None, Some((number, size))) if size > 0 && count >= size => Next::Page(number + 1),
        _ => Next::Done,
    };
    Page {
        items,
        skipped,
        next,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: String,
    }

    #[test]
    fn one_object_reads_from_every_envelope() {
        let cases = [
            json!({"data": {"id": "a"}}),
            json!({"data": {"id": "a"}, "links": {"next": null}}),
            json!({"data": {"id": "a"}, "errors": []}),
            json!({"id": "a", "data_extra": 1}),
        ];
        for body in cases {
            assert_eq!(one::<Item>(&body), Ok(Item { id: "a".into() }), "{body}");
        }
        assert!(one::<Item>(&json!({"data": {"name": "no id"}})).is_err());
        // A null data is no payload: the body is read as it is.
        assert!(one::<Item>(&json!({"data": null})).is_err());
    }

    #[test]
    fn lists_read_from_every_envelope_and_say_where_the_next_page_is() {
        let items = json!([{"id": "a"}, {"id": "b"}, {"broken": true}]);
        type Case = (Value, Option<(u64, u64)>, Next);
        let cases: Vec<Case> = vec![
            (json!({"data": items}), None, Next::Done),
            (items.clone(), None, Next::Done),
            (
                json!({"data": items, "links": {"next": "https://api/v2beta1/x?page_token=t2"}}),
                None,
                Next::Url("https://api/v2beta1/x?page_token=t2".into()),
            ),
            (
                json!({"data": items, "links": {"next": null}}),
                None,
                Next::Done,
            ),
            // Offset paging: a full page may have a successor, a short one not.
            (json!({"data": items}), Some((1, 3)), Next::Page(2)),
            (json!({"data": items}), Some((4, 10)), Next::Done),
        ];
        for (body, page, next) in cases {
            let read = list::<Item>(&body, page);
            assert_eq!(
                read.items,
                vec![Item { id: "a".into() }, Item { id: "b".into() }],
                "{body}"
            );
            assert_eq!(read.skipped, 1, "{body}");
            assert_eq!(read.next, next, "{body} {page:?}");
        }
        let empty = list::<Item>(&json!({"data": []}), Some((1, 10)));
        assert!(empty.items.is_empty());
        assert_eq!(empty.next, Next::Done);
    }
}
