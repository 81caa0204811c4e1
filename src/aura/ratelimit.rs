//! Client-side rate limit, one per Aura client id.
//!
//! A strict sliding window: a request may start only if fewer than `limit`
//! requests are in flight or finished within the last 60 s. A request counts
//! from its start until 60 s after it *finished*: Aura counts arrivals, and an
//! arrival lies somewhere between our start and our finish, so counting from the
//! finish can never let Aura see more than `limit` in any of its windows (counting
//! from the start can, when the first burst arrives late). Unlike a token bucket
//! there is no start-up burst beyond the limit: a fleet applied at once gets its
//! creates out first, which a paced bucket would delay. A 429 pauses the whole
//! window until its `Retry-After` and lowers the limit by a fifth (somebody else
//! spends this client id's budget too); every quiet window gives a tenth of the
//! configured limit back. The window takes `now` as an argument so it is tested
//! without a clock.
//!
//! Each request names the object it is for (DESIGN 4.14): while others wait,
//! an object that has had its share of the window (the limit divided among
//! the objects using it or waiting for it) waits too, so that one object's
//! own work (a snapshot schedule, polls) never starves the others sharing
//! the client id. With nobody else waiting it may use the whole window.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// The share of the limit a 429 takes away, and the share a quiet window gives back.
const THROTTLE_CUT: f64 = 0.2;
const RECOVERY_STEP: f64 = 0.1;

#[derive(Debug)]
pub(crate) struct SlidingWindow {
    /// The configured limit, and the one in force (lower after a 429).
    configured: usize,
    limit: usize,
    /// The last 429, or the last step back towards the configured limit.
    last_change: Option<Instant>,
    window: Duration,
    in_flight: usize,
    /// Finish times of the requests of the current window, oldest first, with their object.
    finished: VecDeque<(Instant, Owner)>,
    paused_until: Option<Instant>,
    /// Requests of the current window (in flight or finished), by object.
    used: HashMap<Owner, usize>,
    /// Requests waiting for a slot, by object.
    waiting: HashMap<Owner, usize>,
}

/// The object a request is for (`None`: the operator's own, such as a
/// project's tenant read); all of one object's requests count together.
pub type Owner = Option<std::sync::Arc<str>>;

impl SlidingWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        let limit = limit.max(1) as usize;
        Self {
            configured: limit,
            limit,
            last_change: None,
            window,
            in_flight: 0,
            // Grows with use: a generous limit must not cost its full size up front.
            finished: VecDeque::with_capacity(limit.min(256)),
            paused_until: None,
            used: HashMap::new(),
            waiting: HashMap::new(),
        }
    }

    /// Whether `owner` has had its share while another object below its
    /// share waits: then it waits too.
    fn over_share(&self, owner: &Owner) -> bool {
        let others_waiting = self.waiting.iter().any(|(o, n)| o != owner && *n > 0);
        if !others_waiting {
            return false;
        }
        let objects = self
            .used
            .keys()
            .chain(self.waiting.keys())
            .collect::<std::collections::HashSet<_>>()
            .len()
            .max(1);
        let share = (self.limit / objects).max(1);
        let used = |o: &Owner| self.used.get(o).copied().unwrap_or(0);
        used(owner) >= share
            && self
                .waiting
                .iter()
                .any(|(o, n)| o != owner && *n > 0 && used(o) < share)
    }

    /// `owner` waits for a slot (or stops waiting: `delta` -1).
    pub(crate) fn wait(&mut self, owner: &Owner, delta: isize) {
        let n = self.waiting.entry(owner.clone()).or_default();
        *n = n.saturating_add_signed(delta);
        if *n == 0 {
            self.waiting.remove(owner);
        }
    }

    /// Takes a slot at `now` for `owner`, or says how long to wait (`None`:
    /// until a request finishes).
    pub(crate) fn try_acquire(
        &mut self,
        now: Instant,
        owner: &Owner,
    ) -> Result<(), Option<Duration>> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Err(Some(until - now));
            }
            self.paused_until = None;
        }
        self.recover(now);
        while let Some((oldest, _)) = self.finished.front() {
            if now.saturating_duration_since(*oldest) >= self.window {
                if let Some((_, gone)) = self.finished.pop_front() {
                    self.count(&gone, -1);
                }
            } else {
                break;
            }
        }
        let next_free = || {
            self.finished
                .front()
                .map(|(oldest, _)| (*oldest + self.window).saturating_duration_since(now))
        };
        if self.in_flight + self.finished.len() >= self.limit {
            return Err(next_free());
        }
        if self.over_share(owner) {
            return Err(None);
        }
        self.in_flight += 1;
        self.count(owner, 1);
        Ok(())
    }

    fn count(&mut self, owner: &Owner, delta: isize) {
        let n = self.used.entry(owner.clone()).or_default();
        *n = n.saturating_add_signed(delta);
        if *n == 0 {
            self.used.remove(owner);
        }
    }

    /// A request of `owner` taken with `try_acquire` finished at `now`.
    pub(crate) fn release(&mut self, now: Instant, owner: Owner) {
        self.in_flight = self.in_flight.saturating_sub(1);
        // Finishes are released in time order, so the queue stays sorted.
        let now = self.finished.back().map_or(now, |(last, _)| now.max(*last));
        self.finished.push_back((now, owner));
    }

    /// Nobody starts a request before `until` (a 429's `Retry-After`).
    pub(crate) fn pause_until(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
        }
    }

    /// Aura answered 429 at `now`: the limit drops by [`THROTTLE_CUT`], once
    /// per burst of 429s (the answers of calls already in flight say the same).
    pub(crate) fn throttled(&mut self, now: Instant) {
        let recent = self
            .last_change
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
        if recent && self.limit < self.configured {
            return;
        }
        let cut = (self.limit as f64 * THROTTLE_CUT).ceil() as usize;
        self.limit = self.limit.saturating_sub(cut.max(1)).max(1);
        self.last_change = Some(now);
    }

    /// A whole window without a 429 gives back [`RECOVERY_STEP`] of the configured limit.
    fn recover(&mut self, now: Instant) {
        if self.limit >= self.configured {
            return;
        }
        let Some(since) = self.last_change else {
            return;
        };
        if now.saturating_duration_since(since) >= self.window {
            let step = ((self.configured as f64 * RECOVERY_STEP).ceil() as usize).max(1);
            self.limit = (self.limit + step).min(self.configured);
            self.last_change = Some(now);
        }
    }

    /// The limit in force, requests per window.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

/// The shared, async face of [`SlidingWindow`].
#[derive(Debug)]
pub(crate) struct RateLimiter {
    window: Mutex<SlidingWindow>,
    released: Notify,
}

/// A started request; dropping it (also on cancellation) marks it finished.
#[derive(Debug)]
pub(crate) struct Permit {
    limiter: Arc<RateLimiter>,
    owner: Owner,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter
            .lock()
            .release(Instant::now(), self.owner.take());
        self.limiter.released.notify_waiters();
    }
}

/// A request waiting for a slot; dropping it (also on cancellation) stops the wait.
struct Waiting<'a> {
    limiter: &'a RateLimiter,
    owner: &'a Owner,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.limiter.lock().wait(self.owner, -1);
        // Somebody held back for this one's sake may go now.
        self.limiter.released.notify_waiters();
    }
}

impl RateLimiter {
    pub(crate) fn new(requests_per_minute: u32) -> Self {
        Self::with_window(requests_per_minute, WINDOW)
    }

    fn with_window(limit: u32, window: Duration) -> Self {
        Self {
            window: Mutex::new(SlidingWindow::new(limit, window)),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlidingWindow> {
        crate::locked(&self.window)
    }

    /// Waits (asynchronously) until a request for `owner` may start. Hold
    /// the permit until the answer has been read.
    pub(crate) async fn acquire(self: &Arc<Self>, owner: Owner) -> Permit {
        let mut waiting = None;
        loop {
            // Registered before the check, so a release in between is not missed.
            let released = self.released.notified();
            // The guard goes before the match: dropping `waiting` locks again.
            let tried = self.lock().try_acquire(Instant::now(), &owner);
            let wait = match tried {
                Ok(()) => {
                    drop(waiting);
                    return Permit {
                        limiter: self.clone(),
                        owner,
                    };
                }
                Err(wait) => wait,
            };
            if waiting.is_none() {
                self.lock().wait(&owner, 1);
                waiting = Some(Waiting {
                    limiter: self,
                    owner: &owner,
                });
            }
            match wait {
                // A millisecond of slack so waiters do not wake early and spin.
                Some(d) => tokio::time::sleep(d.max(Duration::from_millis(1))).await,
                None => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), released).await;
                }
            }
        }
    }

    /// A 429: nobody starts before `wait` is over, and the limit drops.
    pub(crate) fn throttled(&self, wait: Duration) {
        let now = Instant::now();
        let mut w = self.lock();
        w.pause_until(now + wait);
        w.throttled(now);
    }

    /// The limit in force (requests per minute).
    pub(crate) fn limit(&self) -> usize {
        self.lock().limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the most starts seen in any window of length `window`.
    fn max_in_any_window(starts: &[Instant], window: Duration) -> usize {
        let mut best = 0;
        for (i, &s) in starts.iter().enumerate() {
            let n = starts[i..].iter().take_while(|&&t| t - s < window).count();
            best = best.max(n);
        }
        best
    }

    #[test]
    fn burst_at_start_is_capped() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(100, WINDOW);
        for _ in 0..100 {
            assert!(w.try_acquire(t0, &None).is_ok());
        }
        // All in flight: wait for a finish.
        assert_eq!(w.try_acquire(t0, &None), Err(None));
        let done = t0 + Duration::from_secs(1);
        for _ in 0..100 {
            w.release(done, None);
        }
        // Slots come back 60 s after the requests finished, not started.
        assert_eq!(
            w.try_acquire(t0 + Duration::from_secs(60), &None),
            Err(Some(Duration::from_secs(1)))
        );
        assert!(w.try_acquire(done + WINDOW, &None).is_ok());
    }

    #[test]
    fn simulated_callers_never_exceed_the_limit_in_any_window() {
        // 1,000 greedy callers over a simulated clock advancing in 100 ms steps;
        // each request takes 300 ms and "arrives" at a random point within it.
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(100, WINDOW);
        let mut arrivals = Vec::new();
        let mut running: Vec<Instant> = Vec::new();
        let mut pending = 1000;
        let mut now = t0;
        let mut k = 0u64;
        while pending > 0 || !running.is_empty() {
            running.retain(|&end| {
                if end <= now {
                    w.release(now, None);
                    false
                } else {
                    true
                }
            });
            while pending > 0 && w.try_acquire(now, &None).is_ok() {
                k += 1;
                arrivals.push(now + Duration::from_millis(k * 37 % 300));
                running.push(now + Duration::from_millis(300));
                pending -= 1;
            }
            now += Duration::from_millis(100);
        }
        arrivals.sort();
        assert_eq!(max_in_any_window(&arrivals, WINDOW), 100);
    }

    #[test]
    fn pause_blocks_everyone_until_it_ends() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(100, WINDOW);
        assert!(w.try_acquire(t0, &None).is_ok());
        w.pause_until(t0 + Duration::from_secs(5));
        // A shorter pause does not shorten the longer one.
        w.pause_until(t0 + Duration::from_secs(1));
        assert_eq!(
            w.try_acquire(t0 + Duration::from_secs(2), &None),
            Err(Some(Duration::from_secs(3)))
        );
        assert!(w.try_acquire(t0 + Duration::from_secs(5), &None).is_ok());
    }

    #[test]
    fn a_429_lowers_the_limit_and_quiet_windows_restore_it() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = SlidingWindow::new(125, WINDOW);
        // (event at second, limit after it)
        enum Ev {
            Throttled(u64),
            Tick(u64),
        }
        let steps = [
            (Ev::Tick(0), 125),
            // 125 - ceil(25) = 100
            (Ev::Throttled(1), 100),
            // the other answers of the same burst do not cut again
            (Ev::Throttled(1), 100),
            // a second burst later does: 100 - 20
            (Ev::Throttled(10), 80),
            // not yet a quiet window since the last cut
            (Ev::Tick(69), 80),
            // a quiet window: + ceil(12.5) = 13
            (Ev::Tick(70), 93),
            (Ev::Tick(100), 93),
            (Ev::Tick(130), 106),
            (Ev::Tick(190), 119),
            // never above the configured limit
            (Ev::Tick(250), 125),
            (Ev::Tick(400), 125),
        ];
        for (ev, want) in steps {
            let label = match ev {
                Ev::Throttled(s) => {
                    w.throttled(at(s));
                    format!("429 at {s} s")
                }
                Ev::Tick(s) => {
                    // try_acquire is where recovery happens; give the slot back at once
                    if w.try_acquire(at(s), &None).is_ok() {
                        w.in_flight -= 1;
                    }
                    format!("tick at {s} s")
                }
            };
            assert_eq!(w.limit(), want, "{label}");
        }
    }

    #[test]
    fn a_lowered_limit_is_what_try_acquire_enforces() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(10, WINDOW);
        w.throttled(t0);
        assert_eq!(w.limit(), 8);
        for _ in 0..8 {
            assert!(w.try_acquire(t0, &None).is_ok());
        }
        assert_eq!(w.try_acquire(t0, &None), Err(None));
        // a limit of one never drops to zero
        let mut one = SlidingWindow::new(1, WINDOW);
        one.throttled(t0);
        assert_eq!(one.limit(), 1);
    }

    #[tokio::test]
    async fn async_acquire_waits_for_a_slot() {
        let l = Arc::new(RateLimiter::new(2));
        let a = l.acquire(None).await;
        let _b = l.acquire(None).await;
        // A third waits while both are in flight, and ~60 s after they finish.
        let third = tokio::time::timeout(Duration::from_millis(50), l.acquire(None)).await;
        assert!(third.is_err());
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(50), l.acquire(None)).await;
        assert!(third.is_err());
    }

    fn owner(name: &str) -> Owner {
        Some(std::sync::Arc::from(name))
    }

    #[test]
    fn an_object_over_its_share_yields_to_one_that_waits() {
        let t0 = Instant::now();
        let (busy, quiet) = (owner("AuraInstance a/busy"), owner("AuraInstance a/quiet"));
        let mut w = SlidingWindow::new(10, WINDOW);
        // Alone, an object may use the whole window...
        for _ in 0..6 {
            assert!(w.try_acquire(t0, &busy).is_ok());
            w.release(t0, busy.clone());
        }
        // ...but once another waits, it is held at its share (10 / 2 = 5)
        // while the other gets the slots left.
        w.wait(&quiet, 1);
        assert_eq!(w.try_acquire(t0, &busy), Err(None), "over its share");
        assert!(w.try_acquire(t0, &quiet).is_ok());
        w.wait(&quiet, -1);
        // Nobody else waiting: the slots left are anybody's.
        assert!(w.try_acquire(t0, &busy).is_ok());
        assert!(w.try_acquire(t0, &busy).is_ok());
        assert!(w.try_acquire(t0, &busy).is_ok());
        // The window itself still holds: 10 in all.
        assert!(w.try_acquire(t0, &quiet).is_err());
        // A new window forgets the counts.
        for _ in 0..4 {
            w.release(t0, busy.clone());
        }
        assert!(w.try_acquire(t0 + WINDOW, &busy).is_ok());
    }

    /// One object asking for a slot every 100 ms, another for five slots
    /// at once after ten seconds: the quiet one gets its five within the
    /// window in which it asked, never behind everything the busy one wants.
    #[test]
    fn a_busy_object_never_starves_a_quiet_one() {
        let t0 = Instant::now();
        let (busy, quiet) = (owner("busy"), owner("quiet"));
        let mut w = SlidingWindow::new(20, WINDOW);
        let (mut quiet_left, mut quiet_done_at) = (5, None);
        let quiet_from = t0 + Duration::from_secs(10);
        let mut busy_calls = 0;
        for step in 0..3000u64 {
            let now = t0 + Duration::from_millis(100 * step);
            if now == quiet_from {
                w.wait(&quiet, 1);
            }
            // The busy one asks first at every moment: without shares it
            // would take every slot that comes free.
            if w.try_acquire(now, &busy).is_ok() {
                w.release(now, busy.clone());
                busy_calls += 1;
            }
            if now >= quiet_from && quiet_left > 0 && w.try_acquire(now, &quiet).is_ok() {
                w.release(now, quiet.clone());
                quiet_left -= 1;
                if quiet_left == 0 {
                    quiet_done_at = Some(now);
                    w.wait(&quiet, -1);
                }
            }
        }
        let done = quiet_done_at.expect("the quiet object got its calls");
        assert!(
            done - quiet_from <= WINDOW + Duration::from_secs(1),
            "the quiet object waited {:?}",
            done - quiet_from
        );
        // Five windows of 20, less the quiet one's five.
        assert_eq!(busy_calls, 95, "the busy one uses whatever is free");
    }

    /// Objects that wait for each other's share all get through: a waiter
    /// that gives up its place (also the one that gets a slot) never blocks
    /// the others.
    #[test]
    fn waiting_objects_all_get_through() {
        // On threads of their own: a lock held twice hangs them, not the test.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let l = Arc::new(RateLimiter::with_window(2, Duration::from_millis(30)));
                let calls = (0..4).map(|o| {
                    let l = l.clone();
                    tokio::spawn(async move {
                        for _ in 0..5 {
                            let p = l.acquire(owner(&format!("o{o}"))).await;
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            drop(p);
                        }
                    })
                });
                futures::future::join_all(calls).await;
            });
            let _ = done.send(());
        });
        assert!(
            finished.recv_timeout(Duration::from_secs(20)).is_ok(),
            "the waiters did not all get through"
        );
    }
}
