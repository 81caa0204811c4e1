//! Client-side rate limit, one per Aura client id.
//!
//! A strict sliding window: a request may start only if fewer than `limit`
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

    pub(crate) fn pause_for(&self, wait: Duration) {
        self.lock().pause_until(Instant::now() + wait);
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
