//! What this operator learns of how long Aura's transitions take, and who
//! polls when (the rules are [`pacing::next_poll`]). One instance leads each
//! kind of transition; while nothing is learned the others wait for it, and
//! when it first learns a duration each of them is woken at its own expected
//! end, so that a fleet created at once spends one poll per instance instead
//! of one every poll interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;

use jiff::Timestamp;

use super::decide;
use super::status::RECONCILING;
use crate::api::{AuraInstance, AuraInstanceStatus};
use crate::aura::InstanceStatus;
use crate::reconciler::locked;
use crate::reconciler::pacing::{self, Durations, NextPoll, POLL_CEILING, Transition};
use crate::reconciler::wakes::Wakes;

/// A lead not heard of for this long (deleted, stuck) is replaced.
const LEAD_STALE: Duration = Duration::from_secs(2 * POLL_CEILING.as_secs());

/// The transition `status` last recorded: a create on its way (its intent),
/// else what Aura last reported.
pub fn recorded(status: &AuraInstanceStatus) -> Option<Transition> {
    if decide::create_intent(status).is_some() {
        return Some(Transition::Creation);
    }
    let reported = InstanceStatus::parse(status.aura_status.as_deref()?);
    Transition::of(&reported)
}

/// How long `status` has been in its transition, from its Reconciling condition.
pub fn in_transition(status: &AuraInstanceStatus, now: Timestamp) -> Duration {
    crate::reconciler::status::true_since(&status.conditions, RECONCILING)
        .map(|since| now.duration_since(since))
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or_default()
}

#[derive(Default)]
struct Learning {
    durations: Durations,
    lead: Option<(ObjectRef<AuraInstance>, Instant)>,
    /// Waiting for the first duration: when each one's transition began.
    waiting: HashMap<ObjectRef<AuraInstance>, Instant>,
}

#[derive(Default)]
pub struct Transitions {
    by_kind: Mutex<HashMap<Transition, Learning>>,
    /// When this process saw a transition begin (a create answered): the
    /// status only knows when the intent was written, and a create may have
    /// waited long in the rate limiter after that.
    began: Mutex<HashMap<ObjectRef<AuraInstance>, (Transition, Instant)>>,
    wake: Arc<Wakes<ObjectRef<AuraInstance>>>,
}

impl Transitions {
    /// `obj`'s transition `kind` began now (Aura answered the call).
    pub fn began(&self, obj: &ObjectRef<AuraInstance>, kind: Transition) {
        locked(&self.began).insert(obj.clone(), (kind, Instant::now()));
    }

    /// How long `obj` has been in `kind`: since this process saw it begin,
    /// else `recorded` (what the status tells).
    pub fn in_transition(
        &self,
        obj: &ObjectRef<AuraInstance>,
        kind: Transition,
        recorded: Duration,
    ) -> Duration {
        match locked(&self.began).get(obj) {
            Some((k, at)) if *k == kind => at.elapsed().min(recorded),
            _ => recorded,
        }
    }

    /// How long until `obj`, `in_transition` for that long, is polled again.
    pub fn next_poll(
        &self,
        obj: &ObjectRef<AuraInstance>,
        kind: Transition,
        in_transition: Duration,
        base: Duration,
    ) -> Duration {
        let now = Instant::now();
        let mut by_kind = locked(&self.by_kind);
        let learning = by_kind.entry(kind).or_default();
        let leads = match &learning.lead {
            Some((lead, seen)) if lead != obj && now.duration_since(*seen) < LEAD_STALE => false,
            _ => {
                learning.lead = Some((obj.clone(), now));
                true
            }
        };
        match pacing::next_poll(base, in_transition, learning.durations.typical(), leads) {
            NextPoll::After(d) => {
                learning.waiting.remove(obj);
                d
            }
            NextPoll::AwaitLead(d) => {
                let began = now.checked_sub(in_transition).unwrap_or(now);
                learning.waiting.insert(obj.clone(), began);
                d
            }
        }
    }

    /// `obj`'s transition was seen over after `took`: learned, and whoever
    /// waited for a first duration is woken at its expected end.
    pub fn ended(&self, obj: &ObjectRef<AuraInstance>, kind: Transition, took: Duration) {
        let took = self.in_transition(obj, kind, took);
        locked(&self.began).remove(obj);
        let mut by_kind = locked(&self.by_kind);
        let learning = by_kind.entry(kind).or_default();
        learning.durations.record(took);
        learning.waiting.remove(obj);
        if learning.lead.as_ref().is_some_and(|(lead, _)| lead == obj) {
            learning.lead = None;
        }
        let Some(typical) = learning.durations.typical() else {
            return;
        };
        let mut due: Vec<(Instant, ObjectRef<AuraInstance>)> = learning
            .waiting
            .drain()
            .map(|(o, began)| (began + typical, o))
            .collect();
        drop(by_kind);
        if due.is_empty() {
            return;
        }
        due.sort_by_key(|(at, _)| *at);
        let wake = self.wake.clone();
        // Outside a runtime (unit tests of the callers) nobody is woken: they
        // poll at the ceiling, as without learning.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for (at, o) in due {
                    tokio::time::sleep_until(at.into()).await;
                    wake.tell(o);
                }
            });
        }
    }

    /// `obj` is gone: it leads and waits no more.
    pub fn forget(&self, obj: &ObjectRef<AuraInstance>) {
        locked(&self.began).remove(obj);
        for learning in locked(&self.by_kind).values_mut() {
            learning.waiting.remove(obj);
            if learning.lead.as_ref().is_some_and(|(lead, _)| lead == obj) {
                learning.lead = None;
            }
        }
    }

    /// The typical duration learned for `kind`, if any.
    pub fn typical(&self, kind: Transition) -> Option<Duration> {
        locked(&self.by_kind)
            .get(&kind)
            .and_then(|l| l.durations.typical())
    }

    /// The AuraInstances to reconcile because their transition is likely over.
    pub fn wakes(&self) -> impl futures::Stream<Item = ObjectRef<AuraInstance>> + Send + use<> {
        self.wake.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn obj(name: &str) -> ObjectRef<AuraInstance> {
        ObjectRef::new(name).within("ns")
    }

    const BASE: Duration = Duration::from_secs(10);

    #[test]
    fn one_leads_the_others_wait_until_it_learns() {
        let t = Transitions::default();
        let c = Transition::Creation;
        // the first to ask leads and polls at half the base; the next ones wait
        assert_eq!(t.next_poll(&obj("a"), c, Duration::ZERO, BASE), BASE / 2);
        assert_eq!(
            t.next_poll(&obj("b"), c, Duration::ZERO, BASE),
            POLL_CEILING
        );
        // the lead asking again still leads
        assert_eq!(t.next_poll(&obj("a"), c, BASE, BASE), BASE / 2);
        // another kind has its own lead
        assert_eq!(
            t.next_poll(&obj("b"), Transition::Pause, Duration::ZERO, BASE),
            BASE / 2
        );
        t.ended(&obj("a"), c, Duration::from_secs(20));
        assert_eq!(t.typical(c), Some(Duration::from_secs(20)));
        // learned: a newcomer polls at the typical end; the lead is free again
        // and whoever asks first takes it (polling a fifth earlier)
        assert_eq!(
            t.next_poll(&obj("c"), c, Duration::ZERO, BASE),
            Duration::from_secs(16)
        );
        assert_eq!(
            t.next_poll(&obj("d"), c, Duration::from_secs(5), BASE),
            Duration::from_secs(15)
        );
    }

    #[test]
    fn the_recorded_transition_is_the_intent_else_what_aura_said() {
        let with = |intent: bool, aura: Option<&str>| AuraInstanceStatus {
            create_requested_at: intent.then(|| "2026-12-01T10:00:00Z".to_string()),
            aura_status: aura.map(str::to_string),
            ..Default::default()
        };
        let cases = [
            (with(true, None), Some(Transition::Creation)),
            (with(true, Some("running")), Some(Transition::Creation)),
            (with(false, Some("creating")), Some(Transition::Creation)),
            (with(false, Some("Updating")), Some(Transition::Update)),
            (with(false, Some("running")), None),
            (with(false, Some("something new")), None),
            (with(false, None), None),
        ];
        for (status, want) in cases {
            assert_eq!(recorded(&status), want, "{status:?}");
        }
    }

    #[test]
    fn a_transition_seen_beginning_is_timed_from_then() {
        let t = Transitions::default();
        let c = Transition::Creation;
        let long = Duration::from_secs(90);
        // not seen beginning: what the status says
        assert_eq!(t.in_transition(&obj("a"), c, long), long);
        t.began(&obj("a"), c);
        assert!(t.in_transition(&obj("a"), c, long) < Duration::from_secs(1));
        // another kind, or another object, is not timed by it
        assert_eq!(t.in_transition(&obj("a"), Transition::Update, long), long);
        assert_eq!(t.in_transition(&obj("b"), c, long), long);
        // what is learned is timed from then too, and then forgotten
        t.ended(&obj("a"), c, long);
        assert!(t.typical(c).unwrap() < Duration::from_secs(1));
        assert_eq!(t.in_transition(&obj("a"), c, long), long);
    }

    #[test]
    fn a_gone_lead_is_replaced() {
        let t = Transitions::default();
        let c = Transition::Creation;
        t.next_poll(&obj("a"), c, Duration::ZERO, BASE);
        t.forget(&obj("a"));
        assert_eq!(t.next_poll(&obj("b"), c, Duration::ZERO, BASE), BASE / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_waiting_are_woken_at_their_expected_end() {
        let t = Transitions::default();
        let c = Transition::Creation;
        let mut wakes = Box::pin(t.wakes());
        t.next_poll(&obj("lead"), c, Duration::ZERO, BASE);
        // "late" began 5 s after "early"
        t.next_poll(&obj("early"), c, Duration::from_secs(5), BASE);
        t.next_poll(&obj("late"), c, Duration::ZERO, BASE);
        let start = tokio::time::Instant::now();
        t.ended(&obj("lead"), c, Duration::from_secs(20));
        // (the clock is paused; only the real time of the test itself adds a little)
        let about = |secs: f64| {
            let e = start.elapsed().as_secs_f64();
            assert!(
                (secs..secs + 0.5).contains(&e),
                "woken after {e} s, not {secs}"
            );
        };
        assert_eq!(wakes.next().await.unwrap(), obj("early"));
        about(15.0);
        assert_eq!(wakes.next().await.unwrap(), obj("late"));
        about(20.0);
        // nobody waits any more
        t.ended(&obj("early"), c, Duration::from_secs(20));
        assert!(
            tokio::time::timeout(Duration::from_secs(100), wakes.next())
                .await
                .is_err()
        );
    }
}
