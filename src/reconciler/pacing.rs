//! When to look at an instance again, so that polling and resyncs spend the
//! Aura budget (per client id) where it buys something. Pure: no clock, no client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::aura::InstanceStatus;

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

/// The kinds of transition whose durations are learned apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Creation,
    Resize,
    Pause,
    Resume,
    Restore,
    Other,
}

impl Transition {
    /// The transition an instance reported in `status` is in.
    pub fn of(status: &InstanceStatus) -> Self {
        match status {
            InstanceStatus::Creating => Self::Creation,
            InstanceStatus::Updating => Self::Resize,
            InstanceStatus::Pausing => Self::Pause,
            InstanceStatus::Resuming => Self::Resume,
            InstanceStatus::Restoring | InstanceStatus::Overwriting => Self::Restore,
            _ => Self::Other,
        }
    }
}

/// What this process has seen of one kind of transition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    /// A moving average of the durations seen (as seen: a little late).
    pub typical: Duration,
    /// The shortest seen: before that, the transition is certainly still going.
    pub shortest: Duration,
}

/// The share a new duration takes in the moving average.
const LEARNING_RATE: f64 = 0.2;

impl Learned {
    fn first(d: Duration) -> Self {
        Self {
            typical: d,
            shortest: d,
        }
    }

    fn add(self, d: Duration) -> Self {
        let typical =
            self.typical.as_secs_f64() * (1.0 - LEARNING_RATE) + d.as_secs_f64() * LEARNING_RATE;
        Self {
            typical: Duration::from_secs_f64(typical),
            shortest: self.shortest.min(d),
        }
    }
}

/// Durations learned per transition kind, shared by every object. Nothing
/// known (a fresh process) is the prior: polling as [`poll_delay`] says.
#[derive(Debug, Default)]
pub struct TransitionTimes(Mutex<HashMap<Transition, Learned>>);

impl TransitionTimes {
    pub fn record(&self, kind: Transition, took: Duration) {
        let mut learned = crate::locked(&self.0);
        let next = match learned.get(&kind) {
            Some(l) => l.add(took),
            None => Learned::first(took),
        };
        learned.insert(kind, next);
    }

    pub fn learned(&self, kind: Transition) -> Option<Learned> {
        crate::locked(&self.0).get(&kind).copied()
    }
}

/// The wait before the next poll of a transition `in_transition` long, given
/// what was learned of its kind: never a poll before the shortest one seen
/// could have ended (less a tenth), then one near its typical end, then
/// backing off from there as [`poll_delay`] does from the start.
pub fn learned_poll_delay(
    base: Duration,
    in_transition: Duration,
    learned: Option<Learned>,
) -> Duration {
    let Some(l) = learned else {
        return poll_delay(base, in_transition);
    };
    let surely_going = l.shortest.mul_f64(0.9);
    if in_transition + base < surely_going {
        return surely_going - in_transition;
    }
    if in_transition + base < l.typical {
        return l.typical - in_transition;
    }
    poll_delay(base, in_transition.saturating_sub(l.typical))
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
    fn polls_land_where_the_transition_is_likely_done() {
        let known = Some(Learned {
            typical: s(20),
            shortest: s(18),
        });
        // (base, in transition, learned, expected wait)
        let cases = [
            // Nothing learned: as before.
            (s(2), s(0), None, s(2)),
            (s(2), s(100), None, s(20)),
            // Not before 90% of the shortest seen (16.2 s), then at the typical end.
            (s(2), s(0), known, Duration::from_millis(16_200)),
            (
                s(2),
                Duration::from_millis(16_200),
                known,
                Duration::from_millis(3_800),
            ),
            (s(2), s(19), known, s(2)),
            // Past the typical end: backing off from it.
            (s(2), s(20), known, s(2)),
            (s(2), s(120), known, s(20)),
            (s(2), s(1000), known, s(60)),
            // A base longer than what is left: the base.
            (s(10), s(15), known, s(10)),
        ];
        for (base, waited, learned, want) in cases {
            assert_eq!(
                learned_poll_delay(base, waited, learned),
                want,
                "base {base:?}, waited {waited:?}, {learned:?}"
            );
        }
    }

    #[test]
    fn durations_are_learned_per_kind() {
        let times = TransitionTimes::default();
        assert_eq!(times.learned(Transition::Creation), None);
        times.record(Transition::Creation, s(100));
        times.record(Transition::Creation, s(50));
        let l = times.learned(Transition::Creation).unwrap();
        assert_eq!(l.shortest, s(50));
        assert_eq!(l.typical, s(90));
        assert_eq!(times.learned(Transition::Resize), None);
        assert_eq!(
            Transition::of(&InstanceStatus::Creating),
            Transition::Creation
        );
        assert_eq!(
            Transition::of(&InstanceStatus::Updating),
            Transition::Resize
        );
        assert_eq!(
            Transition::of(&InstanceStatus::parse("Resuming")),
            Transition::Resume
        );
        assert_eq!(
            Transition::of(&InstanceStatus::parse("new-word")),
            Transition::Other
        );
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
