//! Retry policy: which failures are retried, how long to wait. Pure functions.
//!
//! Only GET and DELETE are retried (both idempotent; a repeated DELETE answers
//! 404, which counts as done). POST and PATCH are never retried here: a create
//! retried after an ambiguous failure can bill a second instance.

use std::time::{Duration, SystemTime};

use reqwest::Method;

/// What a single attempt ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Status(u16),
    /// No answer: connect error, timeout, reset.
    Network,
}

/// Whether an attempt with `method` that ended in `outcome` may be retried.
pub(crate) fn is_retryable(method: &Method, outcome: Outcome) -> bool {
    let idempotent = *method == Method::GET || *method == Method::DELETE;
    idempotent
        && match outcome {
            Outcome::Network => true,
            Outcome::Status(s) => s == 409 || s == 429 || (500..=599).contains(&s),
        }
}

/// Exponential backoff with jitter: `base * 2^attempt`, capped at `max`, then a
/// random value in its upper half so concurrent callers spread out.
/// `attempt` counts from 0 (the wait before the first retry). `jitter` is in [0, 1).
pub(crate) fn backoff(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX));
    let capped = exp.min(max);
    capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Longest `Retry-After` we believe: a bogus far-future date must not park a client for days.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` as seconds (`"5"`) or an HTTP date; a past date means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_table() {
        use Outcome::*;
        let rows: &[(Method, Outcome, bool)] = &[
            (Method::GET, Status(409), true),
            (Method::GET, Status(429), true),
            (Method::GET, Status(500), true),
            (Method::GET, Status(502), true),
            (Method::GET, Status(503), true),
            (Method::GET, Status(504), true),
            (Method::GET, Network, true),
            (Method::GET, Status(400), false),
            (Method::GET, Status(401), false),
            (Method::GET, Status(403), false),
            (Method::GET, Status(404), false),
            (Method::GET, Status(200), false),
            (Method::DELETE, Status(409), true),
            (Method::DELETE, Status(429), true),
            (Method::DELETE, Status(503), true),
            (Method::DELETE, Network, true),
            (Method::DELETE, Status(404), false),
            (Method::POST, Status(429), false),
            (Method::POST, Status(500), false),
            (Method::POST, Status(409), false),
            (Method::POST, Network, false),
            (Method::PATCH, Status(503), false),
            (Method::PATCH, Status(429), false),
            (Method::PATCH, Network, false),
        ];
        for (m, o, want) in rows {
            assert_eq!(is_retryable(m, *o), *want, "{m} {o:?}");
        }
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let base = Duration::from_millis(500);
        let max = Duration::from_secs(8);
        assert_eq!(backoff(0, base, max, 0.999_999).as_millis(), 499);
        assert_eq!(backoff(0, base, max, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(1, base, max, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(10, base, max, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(100, base, max, 0.0), Duration::from_secs(4));
        for j in [0.0, 0.3, 0.7, 0.99] {
            let d = backoff(2, base, max, j);
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(2));
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
    }
}
