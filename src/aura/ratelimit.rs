//! Client-side rate limit, one per Aura client id: a pacer that spaces
//! requests evenly, under a sliding window that is the hard cap.
//!
//! The pacer is a token bucket refilled at the current rate (the API's limit
//! by default) with a small burst, so that calls are spread over the minute
//! instead of spent at its start and then waited for (a staircase). A 429
//! lowers the rate (and pauses everyone for its `Retry-After`); each minute
//! without one raises it again, back to the limit.
//!
//! The window is strict: a request may start only if fewer than `limit`
//! requests are in flight or finished within the last 60 s. A request counts
//! from its start until 60 s after it *finished*: Aura counts arrivals, and an
//! arrival lies somewhere between our start and our finish, so counting from the
//! finish can never let Aura see more than `limit` in any of its windows (counting
//! from the start can, when the first burst arrives late). Unlike a token bucket
//! there is no start-up burst beyond the limit. A 429 pauses the whole window until
//! its `Retry-After`. The window takes `now` as an argument so it is tested without a clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub(crate) const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: usize,
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
            limit,
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
}

/// Token bucket with an adaptive rate. Pure: `now` is an argument.
#[derive(Debug)]
pub(crate) struct Pacer {
    /// The configured rate, per minute: the most it ever goes back up to.
    limit: f64,
    /// The current rate, per minute.
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
    /// When the rate last changed (down on a 429, or up after a quiet minute).
    adapted: Instant,
}

/// The most calls that start at once.
const BURST: f64 = 12.0;
/// A 429 cuts the rate to this share of itself ...
const SLOWDOWN: f64 = 0.7;
/// ... never below this share of the limit; each quiet minute adds this share back.
const FLOOR: f64 = 0.1;
const RECOVERY: f64 = 0.1;

impl Pacer {
    pub(crate) fn new(requests_per_minute: u32, now: Instant) -> Self {
        let limit = f64::from(requests_per_minute.max(1));
        // A few calls at once (a new object's first ones); a fleet's calls
        // are spread evenly. The window still caps every minute, so a burst
        // followed by a full minute at the limit costs one short wait
        // (the burst's worth of spacing), not a staircase.
        let burst = (limit / 10.0).max(limit.min(3.0)).min(BURST);
        Self {
            limit,
            rate: limit,
            burst,
            tokens: burst,
            refilled: now,
            adapted: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        // Back up towards the limit, one step per quiet minute.
        while self.rate < self.limit && now.saturating_duration_since(self.adapted) >= WINDOW {
            self.rate = (self.rate + self.limit * RECOVERY).min(self.limit);
            self.adapted += WINDOW;
        }
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate / 60.0).min(self.burst);
        self.refilled = self.refilled.max(now);
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub(crate) fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) * 60.0 / self.rate,
            ))
        }
    }

    /// At most one token in hand.
    pub(crate) fn hold_back(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = self.tokens.min(1.0);
    }

    /// Aura answered 429: slow down.
    pub(crate) fn slow_down(&mut self, now: Instant) {
        self.refill(now);
        self.rate = (self.rate * SLOWDOWN).max(self.limit * FLOOR);
        self.tokens = self.tokens.min(0.0);
        self.adapted = now;
    }

    /// The current rate, per minute.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }
}

/// The window and the pacer of one client id.
#[derive(Debug)]
struct Budget {
    window: SlidingWindow,
    pacer: Pacer,
}

impl Budget {
    /// The window first (its pause and its cap), then the pacer.
    fn try_acquire(&mut self, now: Instant) -> Result<(), Option<Duration>> {
        if let Err(wait) = self.window.try_acquire(now) {
            // No saving up while the window is what holds calls back: the
            // calls after it are spaced, not another burst.
            self.pacer.hold_back(now);
            return Err(wait);
        }
        match self.pacer.try_take(now) {
            Ok(()) => Ok(()),
            Err(wait) => {
                self.window.in_flight = self.window.in_flight.saturating_sub(1);
                Err(Some(wait))
            }
        }
    }
}

/// The shared, async face of [`Budget`].
#[derive(Debug)]
pub(crate) struct RateLimiter {
    budget: Mutex<Budget>,
    released: Notify,
}

/// A started request; dropping it (also on cancellation) marks it finished.
#[derive(Debug)]
pub(crate) struct Permit {
    limiter: Arc<RateLimiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.lock().window.release(Instant::now());
        self.limiter.released.notify_waiters();
    }
}

impl RateLimiter {
    pub(crate) fn new(requests_per_minute: u32) -> Self {
        Self {
            budget: Mutex::new(Budget {
                window: SlidingWindow::new(requests_per_minute, WINDOW),
                pacer: Pacer::new(requests_per_minute, Instant::now()),
            }),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Budget> {
        crate::locked(&self.budget)
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

    /// Aura answered 429: nobody starts for `wait`, and the pace slows.
    pub(crate) fn rate_limited(&self, wait: Duration) {
        let now = Instant::now();
        let mut budget = self.lock();
        budget.window.pause_until(now + wait);
        budget.pacer.slow_down(now);
    }

    /// The pace now, requests per minute.
    pub(crate) fn rate(&self) -> f64 {
        self.lock().pacer.rate()
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

    /// Greedy callers under window and pacer: after the burst, starts are
    /// evenly spaced (no staircase), and no window ever holds more than the limit.
    #[test]
    fn a_busy_minute_is_spread_evenly() {
        let t0 = Instant::now();
        let mut b = Budget {
            window: SlidingWindow::new(125, WINDOW),
            pacer: Pacer::new(125, t0),
        };
        let mut starts = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(180) {
            while b.try_acquire(now).is_ok() {
                starts.push(now);
                // Each call takes 200 ms.
                b.window.release(now + Duration::from_millis(200));
            }
            now += Duration::from_millis(10);
        }
        assert!(max_in_any_window(&starts, WINDOW) <= 125);
        let burst = 12;
        let at_once = starts.iter().filter(|&&s| s == t0).count();
        assert_eq!(at_once, burst, "the burst goes at once");
        let gaps: Vec<Duration> = starts[burst..].windows(2).map(|w| w[1] - w[0]).collect();
        // One wait when the first window fills, about the burst's worth of
        // spacing (12 x 0.48 s), never a wait for a whole window.
        let widest = gaps.iter().max().copied().unwrap();
        assert!(widest < Duration::from_secs(7), "a stall of {widest:?}");
        // After the first minute: evenly spaced, near 60 s / 125 = 0.48 s.
        let later: Vec<Duration> = starts
            .windows(2)
            .filter(|w| w[0] > t0 + Duration::from_secs(70))
            .map(|w| w[1] - w[0])
            .collect();
        assert!(
            later.iter().all(|g| *g < Duration::from_secs(1)),
            "{later:?}"
        );
        // Three minutes at the limit: close to 3 x 125.
        assert!(
            starts.len() >= 360 && starts.len() <= 376,
            "{}",
            starts.len()
        );
    }

    #[test]
    fn a_429_slows_the_pace_and_quiet_minutes_restore_it() {
        let t0 = Instant::now();
        let mut p = Pacer::new(100, t0);
        assert_eq!(p.rate(), 100.0);
        p.slow_down(t0);
        assert!((p.rate() - 70.0).abs() < 1e-9);
        for _ in 0..20 {
            p.slow_down(t0);
        }
        assert!(
            (p.rate() - 10.0).abs() < 1e-9,
            "never below a tenth of the limit"
        );
        // No token right after a 429; the next comes at the slow pace.
        let wait = p.try_take(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 6.0).abs() < 1e-6, "{wait:?}");
        p.refill(t0 + Duration::from_secs(60));
        assert!((p.rate() - 20.0).abs() < 1e-9);
        p.refill(t0 + Duration::from_secs(20 * 60));
        assert_eq!(p.rate(), 100.0, "back to the limit, not beyond");
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
