//! When to look at an instance again, so that polling and resyncs spend the
//! Aura budget (per client id) where it buys something. Pure: no clock, no client.

use std::collections::VecDeque;
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

/// The resync interval when `objects` settled instances share one client id
/// limited to `requests_per_minute`: the configured interval, stretched so that
/// their resyncs alone use at most [`RESYNC_BUDGET_SHARE`] of the budget.
pub fn resync_interval(configured: Duration, objects: usize, requests_per_minute: u32) -> Duration {
    let per_minute = f64::from(requests_per_minute.max(1)) * RESYNC_BUDGET_SHARE;
    let needed = Duration::from_secs_f64(objects as f64 * 60.0 / per_minute);
    configured.max(needed)
}

/// A kind of change Aura makes over time, each with its own typical duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Creation,
    Update,
    Pause,
    Resume,
    Restore,
}

impl Transition {
    /// The transition an instance reporting `status` is in, if any.
    pub fn of(status: &InstanceStatus) -> Option<Self> {
        match status {
            InstanceStatus::Creating => Some(Self::Creation),
            InstanceStatus::Updating => Some(Self::Update),
            InstanceStatus::Pausing | InstanceStatus::Suspending => Some(Self::Pause),
            InstanceStatus::Resuming => Some(Self::Resume),
            InstanceStatus::Restoring | InstanceStatus::Overwriting | InstanceStatus::Loading => {
                Some(Self::Restore)
            }
            // Destroying ends in a 404, not a status; an unknown word is no transition we know.
            InstanceStatus::Destroying
            | InstanceStatus::Running
            | InstanceStatus::Paused
            | InstanceStatus::Suspended
            | InstanceStatus::LoadingFailed
            | InstanceStatus::Other(_) => None,
        }
    }
}

/// How many recent durations of a transition are kept.
const KEPT_DURATIONS: usize = 16;

/// The lead of a transition polls this much earlier than the typical end, so
/// that what is learned can also get shorter.
pub const LEAD_EARLY: f64 = 0.8;

/// The durations this operator saw one kind of transition take: each the time
/// from the change to the first poll that found it over, so never shorter than
/// the truth.
#[derive(Debug, Clone, Default)]
pub struct Durations {
    recent: VecDeque<Duration>,
}

impl Durations {
    pub fn record(&mut self, took: Duration) {
        if self.recent.len() == KEPT_DURATIONS {
            self.recent.pop_front();
        }
        self.recent.push_back(took);
    }

    /// The shortest recent one: every sample is an upper bound (a poll that
    /// waited in the rate limiter only makes it longer), so the shortest is
    /// the closest to the truth.
    pub fn typical(&self) -> Option<Duration> {
        self.recent.iter().min().copied()
    }
}

/// When an instance in a transition is polled next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextPoll {
    /// Poll after this long.
    After(Duration),
    /// Nothing is learned yet and another instance leads this transition:
    /// wait until woken by what it learns, at most this long.
    AwaitLead(Duration),
}

/// Shortest wait before a poll planned at the typical end.
const MIN_PLANNED_POLL: Duration = Duration::from_secs(1);

/// After a poll that found the transition not over although it was due, the
/// next one comes after this share of the typical duration (within the
/// base interval): at 20 s, 2 s, where the back-off would wait the base.
const NEAR_MISS_FRACTION: f64 = 0.1;

/// A transition this many times its typical duration is overdue: its polls
/// back off as an unknown one's do.
const OVERDUE: f64 = 1.5;

/// The next poll of an instance `in_transition` for that long, given the
/// transition's `typical` duration (if learned) and whether this instance
/// `leads` it (one per transition: it polls at half the base interval while
/// nothing is learned, then a little before the typical end). The others wait for the
/// lead at first, then poll at the typical end; just past it, soon again
/// ([`NEAR_MISS_FRACTION`]); once overdue ([`OVERDUE`]), all back off as
/// [`poll_delay`] says.
pub fn next_poll(
    base: Duration,
    in_transition: Duration,
    typical: Option<Duration>,
    leads: bool,
) -> NextPoll {
    let planned = match typical {
        Some(t) if leads => Some(t.mul_f64(LEAD_EARLY)),
        Some(t) => Some(t),
        // The first duration learned is only as close as the lead's polls:
        // one instance polling twice as often pins it for all the others.
        None if leads => return NextPoll::After(poll_delay(base / 2, in_transition)),
        // Nothing learned: wait for the lead, but never past the ceiling.
        None if in_transition < POLL_CEILING => {
            return NextPoll::AwaitLead((POLL_CEILING - in_transition).max(base));
        }
        None => None,
    };
    match (planned, typical) {
        (Some(at), _) if in_transition + MIN_PLANNED_POLL <= at => {
            NextPoll::After(at - in_transition)
        }
        // A poll that just missed the learned end: the end is most likely a
        // moment away, so the next poll comes soon; back off only once the
        // transition is clearly overdue.
        (Some(_), Some(t)) if in_transition < t.mul_f64(OVERDUE) => NextPoll::After(
            t.mul_f64(NEAR_MISS_FRACTION)
                .clamp(MIN_PLANNED_POLL, base.max(MIN_PLANNED_POLL)),
        ),
        _ => NextPoll::After(poll_delay(base, in_transition)),
    }
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
    fn a_transition_is_polled_at_its_typical_end_once_learned() {
        use NextPoll::{After, AwaitLead};
        // (in transition, typical, leads, next poll)
        let cases = [
            // nothing learned: the lead polls twice as often, the others wait for it
            (s(0), None, true, After(s(5))),
            (s(10), None, true, After(s(5))),
            (s(100), None, true, After(s(20))),
            (s(0), None, false, AwaitLead(s(60))),
            (s(45), None, false, AwaitLead(s(15))),
            // waiting never ends later than the ceiling; less than the base left waits the base
            (s(55), None, false, AwaitLead(s(10))),
            (s(60), None, false, After(s(12))),
            // learned: the others poll at the typical end, the lead a fifth earlier
            (s(0), Some(s(20)), false, After(s(20))),
            (s(5), Some(s(20)), false, After(s(15))),
            (s(0), Some(s(20)), true, After(s(16))),
            (s(0), Some(s(300)), false, After(s(300))),
            // a second before the typical end still waits for it
            (s(19), Some(s(20)), false, After(s(1))),
            // just missed it (issue 34's stragglers): soon again, a tenth of the typical
            (s(20), Some(s(20)), false, After(s(2))),
            (s(29), Some(s(20)), false, After(s(2))),
            (s(17), Some(s(20)), true, After(s(2))),
            // a long transition's tenth is held to the base; a short one's to a second
            (s(300), Some(s(300)), false, After(s(10))),
            (s(5), Some(s(5)), false, After(s(1))),
            // clearly overdue (half as long again): back off as before
            (s(30), Some(s(20)), false, After(s(10))),
            (s(100), Some(s(20)), false, After(s(20))),
            (s(300), Some(s(20)), false, After(s(60))),
        ];
        for (waited, typical, leads, want) in cases {
            assert_eq!(
                next_poll(s(10), waited, typical, leads),
                want,
                "in transition {waited:?}, typical {typical:?}, leads {leads}"
            );
        }
    }

    #[test]
    fn the_typical_duration_is_the_shortest_recent_one() {
        let mut d = Durations::default();
        assert_eq!(d.typical(), None);
        d.record(s(60));
        assert_eq!(d.typical(), Some(s(60)));
        d.record(s(48));
        d.record(s(70));
        assert_eq!(d.typical(), Some(s(48)));
        // only the recent ones count: 16 longer ones push the short one out
        for _ in 0..KEPT_DURATIONS {
            d.record(s(90));
        }
        assert_eq!(d.typical(), Some(s(90)));
    }

    #[test]
    fn transitions_are_named_by_what_aura_reports() {
        let cases = [
            (InstanceStatus::Creating, Some(Transition::Creation)),
            (InstanceStatus::Updating, Some(Transition::Update)),
            (InstanceStatus::Pausing, Some(Transition::Pause)),
            (InstanceStatus::Suspending, Some(Transition::Pause)),
            (InstanceStatus::Resuming, Some(Transition::Resume)),
            (InstanceStatus::Restoring, Some(Transition::Restore)),
            (InstanceStatus::Overwriting, Some(Transition::Restore)),
            (InstanceStatus::Running, None),
            (InstanceStatus::Destroying, None),
            (InstanceStatus::Other("migrating".into()), None),
        ];
        for (status, want) in cases {
            assert_eq!(Transition::of(&status), want, "{status}");
        }
    }

    #[test]
    fn spread_stays_within_ten_percent() {
        assert_eq!(spread(s(100), 1.0), s(100));
        assert_eq!(spread(s(100), 0.5), s(90));
        assert_eq!(spread(s(100), 2.0), s(110));
    }
}
