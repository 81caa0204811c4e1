//! OAuth client-credentials tokens: one cache per credentials key, single-flight
//! refresh, and a remembered failure with backoff.
//!
//! The token endpoint allows 15 requests per hour per client, so a token is
//! reused until shortly before expiry, concurrent callers share one refresh
//! (the cache's async mutex is held across the fetch), and a rejected secret is
//! remembered: callers during the backoff get the same error without a call.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::{AuraError, AuraErrorKind};

/// API credentials of one Aura client. Debug never shows the secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

impl Credentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {}", self.client_id)
    }
}

/// A bearer token. Only [`AccessToken::secret`] reveals it (for the header).
pub(crate) struct AccessToken {
    secret: String,
    /// Aura accepted it at least once: a later 401/403 means it expired.
    proven: std::sync::atomic::AtomicBool,
}

impl AccessToken {
    pub(crate) fn new(secret: String) -> Self {
        Self {
            secret,
            proven: std::sync::atomic::AtomicBool::new(false),
        }
    }
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
    /// A call with this token succeeded.
    pub(crate) fn accepted(&self) {
        self.proven
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    fn is_proven(&self) -> bool {
        self.proven.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Token timing and failure backoff settings.
#[derive(Debug, Clone)]
pub(crate) struct TokenPolicy {
    /// Refresh this long before expiry (capped at half the lifetime).
    pub refresh_margin: Duration,
    /// Rejected credentials: first backoff, doubled up to the max.
    pub auth_backoff: Duration,
    pub auth_backoff_max: Duration,
    /// Token endpoint unreachable / 5xx / 429: first backoff, doubled up to the max.
    pub transient_backoff: Duration,
    pub transient_backoff_max: Duration,
    /// At most one refresh forced by a 401/403 per this interval, so a real
    /// permission error cannot burn the hourly token quota.
    pub forced_refresh_interval: Duration,
    /// Token calls allowed in any sliding hour (Aura allows 15 per client; the
    /// rest is left for a person's curl or a second replica starting).
    pub max_fetches_per_hour: u32,
}

const HOUR: Duration = Duration::from_secs(3600);

/// How long to wait before the next token call keeps the hourly budget, given
/// the times of the calls made so far (oldest first). Prunes calls older than an hour.
pub(crate) fn budget_wait(
    fetches: &mut VecDeque<Instant>,
    now: Instant,
    max_per_hour: u32,
) -> Option<Duration> {
    while fetches
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= HOUR)
    {
        fetches.pop_front();
    }
    if max_per_hour == 0 || fetches.len() < max_per_hour as usize {
        return None;
    }
    fetches
        .front()
        .map(|oldest| (*oldest + HOUR).saturating_duration_since(now))
}

/// When a token that lives `lifetime` from `issued` should be replaced.
pub(crate) fn refresh_at(issued: Instant, lifetime: Duration, margin: Duration) -> Instant {
    // Short-lived tokens refresh at half-life rather than immediately.
    issued + lifetime - margin.min(lifetime / 2)
}

/// Backoff after a failed token fetch, given the previous backoff of the same kind.
pub(crate) fn failure_backoff(
    policy: &TokenPolicy,
    kind: AuraErrorKind,
    previous: Option<Duration>,
    retry_after: Option<Duration>,
) -> Duration {
    let (base, max) = if kind == AuraErrorKind::NeedsHuman {
        (policy.auth_backoff, policy.auth_backoff_max)
    } else {
        (policy.transient_backoff, policy.transient_backoff_max)
    };
    let next = previous.map_or(base, |p| p.saturating_mul(2)).min(max);
    next.max(retry_after.unwrap_or(Duration::ZERO))
}

struct Cached {
    token: Arc<AccessToken>,
    refresh_at: Instant,
    expires_at: Instant,
}

struct Failure {
    error: AuraError,
    until: Instant,
    backoff: Duration,
}

#[derive(Default)]
struct State {
    token: Option<Cached>,
    failure: Option<Failure>,
    last_forced_refresh: Option<Instant>,
    /// The next fetched token answers a forced refresh.
    refresh_forced: bool,
    /// The current token came from a forced refresh: if it is rejected too,
    /// the problem is a permission, not an expiry.
    current_was_forced: bool,
}

/// When the token calls of the last hour were made, oldest first. Shared by
/// the caches that succeed one another for one client id, so that a rotated
/// secret (or two secrets of one client id asked for in turn) never gets a
/// fresh hourly budget: Aura counts token calls per client.
type FetchLog = Arc<Mutex<VecDeque<Instant>>>;

/// The token cache of one credentials key.
pub(crate) struct TokenCache {
    policy: TokenPolicy,
    state: tokio::sync::Mutex<State>,
    fetches: FetchLog,
}

/// What a fetch returns: the token and its lifetime.
pub(crate) type Fetched = (AccessToken, Duration);

impl TokenCache {
    pub(crate) fn new(policy: TokenPolicy) -> Self {
        Self {
            policy,
            state: tokio::sync::Mutex::new(State::default()),
            fetches: FetchLog::default(),
        }
    }

    /// A cache for new credentials of the same client id as `previous`: its
    /// own token and failure backoff, but the hourly token budget of `previous`
    /// (shared, so calls still made through `previous` count as well).
    pub(crate) fn succeeding(policy: TokenPolicy, previous: &TokenCache) -> Self {
        Self {
            policy,
            state: tokio::sync::Mutex::new(State::default()),
            fetches: previous.fetches.clone(),
        }
    }

    #[cfg(test)]
    pub(crate) fn shares_budget_with(&self, other: &TokenCache) -> bool {
        Arc::ptr_eq(&self.fetches, &other.fetches)
    }

    /// Takes a token call from the hourly budget at `now`, or says how long
    /// until one is free. Check and take are one step, for caches sharing it.
    fn take_fetch(&self, now: Instant) -> Option<Duration> {
        // A poisoned log is still a list of instants: keep using it.
        let mut fetches = crate::locked(&self.fetches);
        let wait = budget_wait(&mut fetches, now, self.policy.max_fetches_per_hour);
        if wait.is_none() {
            fetches.push_back(now);
        }
        wait
    }

    /// A valid token, fetching one with `fetch` only when needed. Concurrent
    /// callers wait on the same lock, so one fetch serves them all.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Arc<AccessToken>, AuraError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, AuraError>>,
    {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if let Some(c) = &st.token
            && now < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        if let Some(f) = &st.failure
            && now < f.until
        {
            // During a backoff a still-valid old token beats an error.
            if let Some(c) = &st.token
                && now < c.expires_at
            {
                return Ok(c.token.clone());
            }
            return Err(f.error.clone().with_retry_after(Some(f.until - now)));
        }
        if let Some(wait) = self.take_fetch(now) {
            if let Some(c) = &st.token
                && now < c.expires_at
            {
                return Ok(c.token.clone());
            }
            let error = st.failure.as_ref().map_or_else(
                || {
                    AuraError::other(
                        "get token",
                        AuraErrorKind::Transient,
                        None,
                        "the hourly token budget is spent",
                        None,
                    )
                },
                |f| f.error.clone(),
            );
            return Err(error.with_retry_after(Some(wait)));
        }
        match fetch().await {
            Ok((token, lifetime)) => {
                let issued = Instant::now();
                let token = Arc::new(token);
                st.token = Some(Cached {
                    token: token.clone(),
                    refresh_at: refresh_at(issued, lifetime, self.policy.refresh_margin),
                    expires_at: issued + lifetime,
                });
                st.failure = None;
                st.current_was_forced = std::mem::take(&mut st.refresh_forced);
                Ok(token)
            }
            Err(error) => {
                let previous = st
                    .failure
                    .as_ref()
                    .filter(|f| f.error.kind() == error.kind())
                    .map(|f| f.backoff);
                let backoff =
                    failure_backoff(&self.policy, error.kind(), previous, error.retry_after());
                if error.kind() == AuraErrorKind::NeedsHuman {
                    st.token = None;
                }
                let now = Instant::now();
                st.failure = Some(Failure {
                    error: error.clone(),
                    until: now + backoff,
                    backoff,
                });
                if let Some(c) = &st.token
                    && now < c.expires_at
                {
                    return Ok(c.token.clone());
                }
                Err(error.with_retry_after(Some(backoff)))
            }
        }
    }

    /// `used` got a 401/403. Returns whether a retry with another token makes
    /// sense. A token Aura accepted before has expired: always refreshed, even
    /// minutes after the last forced refresh. A token never accepted that came
    /// from a forced refresh is refused as well: a permission problem, not an
    /// expiry; otherwise at most one forced refresh per interval.
    pub(crate) async fn rejected(&self, used: &Arc<AccessToken>) -> bool {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        let is_current = st
            .token
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.token, used));
        if !is_current {
            // Someone already replaced it: retry with the newer token.
            return true;
        }
        let too_soon = st
            .last_forced_refresh
            .is_some_and(|t| now.duration_since(t) < self.policy.forced_refresh_interval);
        if !used.is_proven() && (st.current_was_forced || too_soon) {
            return false;
        }
        st.last_forced_refresh = Some(now);
        st.refresh_forced = true;
        st.token = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aura::error::Endpoint;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy() -> TokenPolicy {
        TokenPolicy {
            refresh_margin: Duration::from_secs(60),
            auth_backoff: Duration::from_secs(60),
            auth_backoff_max: Duration::from_secs(1800),
            transient_backoff: Duration::from_secs(10),
            transient_backoff_max: Duration::from_secs(300),
            forced_refresh_interval: Duration::from_secs(300),
            max_fetches_per_hour: 12,
        }
    }

    /// An hour-long token outage, driven by the real backoff and budget:
    /// never more token calls in an hour than the budget (Aura locks a client
    /// out after 15).
    #[test]
    fn an_hour_of_outage_stays_within_the_token_budget() {
        let p = policy();
        let start = Instant::now();
        let mut fetches = VecDeque::new();
        let (mut t, mut calls, mut prev) = (Duration::ZERO, 0u32, None);
        while t < Duration::from_secs(3 * 3600) {
            let now = start + t;
            if let Some(wait) = budget_wait(&mut fetches, now, p.max_fetches_per_hour) {
                t += wait;
                continue;
            }
            fetches.push_back(now);
            calls += 1;
            let in_last_hour = fetches.len() as u32;
            assert!(
                in_last_hour <= p.max_fetches_per_hour,
                "{in_last_hour} at {t:?}"
            );
            let b = failure_backoff(&p, AuraErrorKind::Transient, prev, None);
            prev = Some(b);
            t += b;
        }
        assert!(calls >= 12, "the outage is still probed: {calls}");
    }

    #[tokio::test]
    async fn the_budget_refuses_without_calling() {
        let mut p = policy();
        p.max_fetches_per_hour = 2;
        p.transient_backoff = Duration::ZERO;
        p.transient_backoff_max = Duration::ZERO;
        let cache = TokenCache::new(p);
        let fetches = AtomicU32::new(0);
        for _ in 0..5 {
            let e = cache
                .get(|| async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Err(AuraError::http(
                        "get token",
                        Endpoint::Token,
                        503,
                        "",
                        None,
                        None,
                    ))
                })
                .await
                .unwrap_err();
            assert!(e.is_transient());
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    /// Secrets of one client id asked for in turn (a rotation half rolled out)
    /// each get a new cache: the hourly budget is still the client id's one.
    #[tokio::test]
    async fn a_succeeding_cache_shares_the_budget() {
        let mut p = policy();
        p.max_fetches_per_hour = 3;
        p.auth_backoff = Duration::ZERO;
        p.auth_backoff_max = Duration::ZERO;
        let fetches = AtomicU32::new(0);
        let mut cache = TokenCache::new(p.clone());
        for _ in 0..10 {
            let _ = cache
                .get(|| async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Err(AuraError::http(
                        "get token",
                        Endpoint::Token,
                        401,
                        "",
                        None,
                        None,
                    ))
                })
                .await
                .unwrap_err();
            cache = TokenCache::succeeding(p.clone(), &cache);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        // A cache of its own (another client id) has its own budget.
        let other = TokenCache::new(p);
        let fetch = || async { Ok((AccessToken::new("t".into()), Duration::from_secs(3600))) };
        assert!(other.get(fetch).await.is_ok());
    }

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let c = Credentials::new("my-client", "sup3r-s3cret");
        let t = AccessToken::new("eyJ-tok3n".into());
        for s in [
            format!("{c:?}"),
            format!("{c}"),
            format!("{c:#?}"),
            format!("{t:?}"),
            format!("{t}"),
        ] {
            assert!(!s.contains("sup3r-s3cret"), "{s}");
            assert!(!s.contains("eyJ-tok3n"), "{s}");
        }
        assert!(format!("{c:?}").contains("my-client"));
    }

    #[test]
    fn refresh_margin() {
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        assert_eq!(
            refresh_at(t0, hour, Duration::from_secs(60)),
            t0 + Duration::from_secs(3540)
        );
        // Short lifetimes refresh at half-life.
        assert_eq!(
            refresh_at(t0, Duration::from_secs(4), Duration::from_secs(60)),
            t0 + Duration::from_secs(2)
        );
        assert_eq!(
            refresh_at(t0, Duration::from_secs(120), Duration::from_secs(60)),
            t0 + Duration::from_secs(60)
        );
    }

    #[test]
    fn failure_backoff_doubles_to_the_cap() {
        let p = policy();
        let mut prev = None;
        let mut seen = vec![];
        for _ in 0..8 {
            let b = failure_backoff(&p, AuraErrorKind::NeedsHuman, prev, None);
            seen.push(b.as_secs());
            prev = Some(b);
        }
        assert_eq!(seen, [60, 120, 240, 480, 960, 1800, 1800, 1800]);
        let b = failure_backoff(&p, AuraErrorKind::Transient, None, None);
        assert_eq!(b, Duration::from_secs(10));
        let b = failure_backoff(
            &p,
            AuraErrorKind::Transient,
            None,
            Some(Duration::from_secs(90)),
        );
        assert_eq!(b, Duration::from_secs(90));
        // Eight hours of rejected credentials cost only a handful of calls.
        let (mut t, mut calls, mut prev) = (0u64, 0, None);
        while t < 3600 * 8 {
            calls += 1;
            let b = failure_backoff(&p, AuraErrorKind::NeedsHuman, prev, None);
            prev = Some(b);
            t += b.as_secs();
        }
        assert!(calls <= 20, "{calls}");
    }

    #[tokio::test]
    async fn single_flight_under_concurrency() {
        let cache = Arc::new(TokenCache::new(policy()));
        let fetches = Arc::new(AtomicU32::new(0));
        let mut tasks = vec![];
        for _ in 0..1000 {
            let (cache, fetches) = (cache.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok((AccessToken::new("t".into()), Duration::from_secs(3600)))
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn rejected_credentials_are_remembered() {
        let cache = TokenCache::new(policy());
        let fetches = AtomicU32::new(0);
        for _ in 0..50 {
            let e = cache
                .get(|| async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Err(AuraError::http(
                        "get token",
                        Endpoint::Token,
                        401,
                        r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
                        None,
                        None,
                    ))
                })
                .await
                .unwrap_err();
            assert_eq!(e.kind(), AuraErrorKind::NeedsHuman);
            assert!(e.retry_after().unwrap() <= Duration::from_secs(60));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn forced_refresh_is_once_per_interval() {
        let cache = TokenCache::new(policy());
        let fetch = || async { Ok((AccessToken::new("t".into()), Duration::from_secs(3600))) };
        let first = cache.get(fetch).await.unwrap();
        assert!(cache.rejected(&first).await);
        let second = cache.get(fetch).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        // A stale holder of the first token just retries with the new one.
        assert!(cache.rejected(&first).await);
        // The fresh token rejected as well: no second forced refresh.
        assert!(!cache.rejected(&second).await);
    }

    /// Expiry, bad credentials, another expiry, fixed credentials, all within
    /// the forced-refresh interval: the token of the first refresh worked,
    /// so its rejection is an expiry and is refreshed again, instead of
    /// reusing the expired token for minutes.
    #[tokio::test]
    async fn a_second_expiry_soon_after_is_refreshed_again() {
        let cache = TokenCache::new(policy());
        let issued = AtomicU32::new(0);
        let fetch = || async {
            let n = issued.fetch_add(1, Ordering::SeqCst);
            Ok((AccessToken::new(format!("t{n}")), Duration::from_secs(3600)))
        };
        let first = cache.get(fetch).await.unwrap();
        first.accepted();
        // Aura says the first token expired: forced refresh.
        assert!(cache.rejected(&first).await);
        let second = cache.get(fetch).await.unwrap();
        second.accepted();
        // It worked, then expired too, a minute later: refreshed again.
        assert!(
            cache.rejected(&second).await,
            "refreshed again within the interval"
        );
        let third = cache.get(fetch).await.unwrap();
        // Never accepted, straight from a forced refresh: a permission problem.
        assert!(!cache.rejected(&third).await);
        assert_eq!(issued.load(Ordering::SeqCst), 3);
    }
}
