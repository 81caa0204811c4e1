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

use std::collections::VecDeque;
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
    /// Finish times of the requests of the current window, oldest first.
    finished: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

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
        }
    }

    /// Takes a slot at `now`, or says how long to wait (`None`: until a request finishes).
    pub(crate) fn try_acquire(&mut self, now: Instant) -> Result<(), Option<Duration>> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Err(Some(until - now));
            }
            self.paused_until = None;
        }
        self.recover(now);
        while let Some(&oldest) = self.finished.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.finished.pop_front();
            } else {
                break;
            }
        }
        if self.in_flight + self.finished.len() < self.limit {
            self.in_flight += 1;
            Ok(())
        } else {
            Err(self
                .finished
                .front()
                .map(|&oldest| (oldest + self.window).saturating_duration_since(now)))
        }
    }

    /// A request taken with `try_acquire` finished at `now`.
    pub(crate) fn release(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        // Finishes are released in time order, so the queue stays sorted.
        let now = self.finished.back().map_or(now, |&last| now.max(last));
        self.finished.push_back(now);
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
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.lock().release(Instant::now());
        self.limiter.released.notify_waiters();
    }
}

impl RateLimiter {
    pub(crate) fn new(requests_per_minute: u32) -> Self {
        Self {
            window: Mutex::new(SlidingWindow::new(requests_per_minute, WINDOW)),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlidingWindow> {
        crate::locked(&self.window)
    }

    /// Waits (asynchronously) until a request may start. Hold the permit until
    /// the answer has been read.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            // Registered before the check, so a release in between is not missed.
            let released = self.released.notified();
            let wait = match self.lock().try_acquire(Instant::now()) {
                Ok(()) => {
                    return Permit {
                        limiter: self.clone(),
                    };
                }
                Err(wait) => wait,
            };
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
            assert!(w.try_acquire(t0).is_ok());
        }
        // All in flight: wait for a finish.
        assert_eq!(w.try_acquire(t0), Err(None));
        let done = t0 + Duration::from_secs(1);
        for _ in 0..100 {
            w.release(done);
        }
        // Slots come back 60 s after the requests finished, not started.
        assert_eq!(
            w.try_acquire(t0 + Duration::from_secs(60)),
            Err(Some(Duration::from_secs(1)))
        );
        assert!(w.try_acquire(done + WINDOW).is_ok());
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
                    w.release(now);
                    false
                } else {
                    true
                }
            });
            while pending > 0 && w.try_acquire(now).is_ok() {
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
        assert!(w.try_acquire(t0).is_ok());
        w.pause_until(t0 + Duration::from_secs(5));
        // A shorter pause does not shorten the longer one.
        w.pause_until(t0 + Duration::from_secs(1));
        assert_eq!(
            w.try_acquire(t0 + Duration::from_secs(2)),
            Err(Some(Duration::from_secs(3)))
        );
        assert!(w.try_acquire(t0 + Duration::from_secs(5)).is_ok());
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
                    if w.try_acquire(at(s)).is_ok() {
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
            assert!(w.try_acquire(t0).is_ok());
        }
        assert_eq!(w.try_acquire(t0), Err(None));
        // a limit of one never drops to zero
        let mut one = SlidingWindow::new(1, WINDOW);
        one.throttled(t0);
        assert_eq!(one.limit(), 1);
    }

    #[tokio::test]
    async fn async_acquire_waits_for_a_slot() {
        let l = Arc::new(RateLimiter::new(2));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        // A third waits while both are in flight, and ~60 s after they finish.
        let third = tokio::time::timeout(Duration::from_millis(50), l.acquire()).await;
        assert!(third.is_err());
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(50), l.acquire()).await;
        assert!(third.is_err());
    }
}
