//! When to look at an instance again, so that polling and resyncs spend the
//! Aura budget (per client id) where it buys something. Pure: no clock, no client.

use std::time::Duration;

/// Longest wait between two polls of an instance in transition.
pub const POLL_CEILING: Duration = Duration::from_secs(60);

/// The share of a client's request budget that resyncs of settled instances
/// may use; the rest stays for creates, changes and polls.
pub const RESYNC_BUDGET_SHARE: f64 = 0.5;

/// The wait before polling an instance that has been in transition for
/// `in_transition`: the base interval at first, then a fifth of the time waited
/// so far, so a creation of minutes costs a dozen polls and is seen at most 20%
/// late; never more than [`POLL_CEILING`] (or the base, if that is longer).
pub fn poll_delay(base: Duration, in_transition: Duration) -> Duration {
    (in_transition / 5).clamp(base, base.max(POLL_CEILING))
}

/// The resync interval when `objects` settled instances share one client id
/// limited to `requests_per_minute`: the configured interval, stretched so that
/// their resyncs alone use at most [`RESYNC_BUDGET_SHARE`] of the budget.
pub fn resync_interval(configured: Duration, objects: usize, requests_per_minute: u32) -> Duration {
    let per_minute = f64::from(requests_per_minute.max(1)) * RESYNC_BUDGET_SHARE;
    let needed = Duration::from_secs_f64(objects as f64 * 60.0 / per_minute);
    configured.max(needed)
}

/// Spreads `interval` by `factor` (drawn from 0.9..1.1 by the caller), so that
/// objects seen together — after a restart, say — do not stay in lockstep.
pub fn spread(interval: Duration, factor: f64) -> Duration {
    interval.mul_f64(factor.clamp(0.9, 1.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn polls_slow_down_with_the_time_in_transition() {
        // (base, in transition, expected wait)
        let cases = [
            (s(10), s(0), s(10)),
            (s(10), s(30), s(10)),
            (s(10), s(50), s(10)),
            (s(10), s(100), s(20)),
            (s(10), s(240), s(48)),
            (s(10), s(600), s(60)),
            (s(10), s(3600), s(60)),
            (s(5), s(20), s(5)),
            // a base above the ceiling is kept
            (s(120), s(3600), s(120)),
        ];
        for (base, waited, want) in cases {
            assert_eq!(
                poll_delay(base, waited),
                want,
                "base {base:?}, waited {waited:?}"
            );
        }
    }

    #[test]
    fn resyncs_stretch_to_fit_half_the_budget() {
        // (configured, objects, requests per minute, expected interval)
        let cases = [
            (s(300), 0, 100, s(300)),
            (s(300), 100, 100, s(300)),
            // 250 objects at 50 resyncs a minute: exactly 5 minutes
            (s(300), 250, 100, s(300)),
            (s(300), 1000, 100, s(1200)),
            (s(60), 1000, 125, s(960)),
            // an unlimited client never stretches
            (s(60), 1000, 1_000_000, s(60)),
            // a zero limit is treated as one request a minute, not a division by zero
            (s(60), 1, 0, s(120)),
        ];
        for (configured, objects, rpm, want) in cases {
            assert_eq!(
                resync_interval(configured, objects, rpm),
                want,
                "{objects} objects at {rpm}/min"
            );
        }
    }

    #[test]
    fn spread_stays_within_ten_percent() {
        assert_eq!(spread(s(100), 1.0), s(100));
        assert_eq!(spread(s(100), 0.5), s(90));
        assert_eq!(spread(s(100), 2.0), s(110));
    }
}
