//! A call that is not idempotent (a create, an invite) whose answer was
//! lost: its intent was recorded first, and what it made is looked for
//! before it is sent again. How long to look is the operator's
//! `--create-grace`, the same for every kind.

use std::time::Duration;

use jiff::Timestamp;

/// What the search for an unanswered call's result concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Found(String),
    /// Nothing yet, within the grace: this much of it is left.
    Wait(Duration),
    /// Nothing, and the grace is over: send it again.
    CreateAgain,
    /// Several could be it: the words say which.
    Ambiguous(String),
}

/// How much of the grace is left since `intent` (an RFC 3339 time); `None`
/// when there is no intent, it does not read, or the grace is over.
pub fn left(intent: Option<&str>, now: Timestamp, grace: Duration) -> Option<Duration> {
    let at: Timestamp = intent?.parse().ok()?;
    let waited = now.duration_since(at).unsigned_abs();
    grace.checked_sub(waited).filter(|d| !d.is_zero())
}

/// The one candidate, or a wait while the grace lasts, or several
/// (`ambiguous` words them from the ids, joined by ", ").
pub fn search(
    candidates: &[&str],
    intent: Timestamp,
    now: Timestamp,
    grace: Duration,
    ambiguous: impl FnOnce(&str) -> String,
) -> Search {
    match candidates {
        [one] => Search::Found((*one).to_string()),
        [] => match left(Some(&intent.to_string()), now, grace) {
            Some(left) => Search::Wait(left),
            None => Search::CreateAgain,
        },
        many => Search::Ambiguous(ambiguous(&many.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_left_since_an_intent() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let grace = Duration::from_secs(60);
        let cases = [
            (Some("2026-01-01T00:00:30Z"), Some(Duration::from_secs(30))),
            (Some("2026-01-01T00:00:00Z"), None),
            (Some("2025-12-31T23:59:00Z"), None),
            (Some("not a time"), None),
            (None, None),
        ];
        for (intent, want) in cases {
            assert_eq!(left(intent, now, grace), want, "{intent:?}");
        }
        let t0: Timestamp = "2026-01-01T00:00:50Z".parse().unwrap();
        let words = |ids: &str| format!("several: {ids}");
        assert_eq!(
            search(&["a"], t0, now, grace, words),
            Search::Found("a".into())
        );
        assert_eq!(
            search(&[], t0, now, grace, words),
            Search::Wait(Duration::from_secs(50))
        );
        assert_eq!(
            search(&["a", "b"], t0, now, grace, words),
            Search::Ambiguous("several: a, b".into())
        );
    }
}
