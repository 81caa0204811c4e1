//! The HTTP client: one registry per process, cheap handles per credentials.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::error::{AuraError, AuraErrorKind, Endpoint};
use super::model::{Data, TokenResponse};
use super::ratelimit::RateLimiter;
use super::retry::{Outcome, backoff, is_retryable, parse_retry_after};
use super::token::{AccessToken, Credentials, Fetched, TokenCache, TokenPolicy};

/// Settings shared by every client of the process.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Without `/v1`: the token endpoint lives at `<base>/oauth/token`.
    pub base_url: String,
    /// Client-side limit per client id (Aura allows 125).
    pub requests_per_minute: u32,
    /// Retries after the first attempt, for GET and DELETE only.
    pub max_retries: u32,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// First retry backoff (doubled per retry, jittered) and its cap.
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// A `Retry-After` longer than this is not waited out inside a call: the
    /// error is returned (with `retry_after()`) for the caller to requeue.
    pub max_retry_wait: Duration,
    /// Pause of the shared limiter after a 429 without `Retry-After`.
    pub rate_limit_pause: Duration,
    /// Refresh a token this long before it expires.
    pub token_refresh_margin: Duration,
    /// Backoff after the token endpoint rejects credentials (doubles to the max).
    pub auth_failure_backoff: Duration,
    pub auth_failure_backoff_max: Duration,
    /// Backoff after the token endpoint fails otherwise (5xx, 429, network).
    pub token_error_backoff: Duration,
    pub token_error_backoff_max: Duration,
    /// At most one token refresh forced by a 401/403 per interval and credentials.
    pub forced_refresh_interval: Duration,
    /// Token calls per client id in any sliding hour (Aura allows 15); a
    /// rotated secret goes on with the budget of the one it replaces.
    pub max_token_calls_per_hour: u32,
    pub user_agent: String,
    /// Refuse every call but GET (and the token): the last line of the
    /// operator's --dry-run, which skips those calls before they get here.
    pub dry_run: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.neo4j.io".into(),
            requests_per_minute: 125,
            max_retries: 3,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(8),
            max_retry_wait: Duration::from_secs(30),
            rate_limit_pause: Duration::from_secs(5),
            token_refresh_margin: Duration::from_secs(60),
            auth_failure_backoff: Duration::from_secs(60),
            auth_failure_backoff_max: Duration::from_secs(30 * 60),
            token_error_backoff: Duration::from_secs(10),
            token_error_backoff_max: Duration::from_secs(5 * 60),
            forced_refresh_interval: Duration::from_secs(5 * 60),
            max_token_calls_per_hour: 12,
            user_agent: concat!("aura-operator/", env!("CARGO_PKG_VERSION")).into(),
            dry_run: false,
        }
    }
}

/// Counters for metrics. `api_calls` is keyed by (operation, HTTP status);
/// status 0 means no answer (network error or timeout).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub token_requests: u64,
    pub token_failures: u64,
    pub api_calls: BTreeMap<(String, u16), u64>,
    pub rate_limited: u64,
    pub retries: u64,
}

impl ClientStats {
    /// Total API calls (all operations and statuses).
    pub fn total_api_calls(&self) -> u64 {
        self.api_calls.values().sum()
    }
}

struct Registry {
    config: ClientConfig,
    http: reqwest::Client,
    base: Result<Url, String>,
    /// Randomly keyed, so the secret's hash means nothing outside this process.
    hasher: RandomState,
    /// By client id: the cache of the secret last asked for (a rotation
    /// replaces it). Locked before `limiters` wherever both are held.
    tokens: Mutex<HashMap<String, TokenEntry>>,
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
    stats: Mutex<ClientStats>,
}

/// The token cache of one client id, for one secret.
struct TokenEntry {
    secret_hash: u64,
    cache: Arc<TokenCache>,
}

/// Idle connections kept to the Aura API: its limit (125 requests a minute)
/// keeps few calls in flight at once.
const IDLE_CONNECTIONS: usize = 4;

/// The process-wide registry: one HTTP connection pool, and one token cache and
/// rate limiter per Aura client id. Clone it freely.
#[derive(Clone)]
pub struct AuraClients {
    inner: Arc<Registry>,
}

impl fmt::Debug for AuraClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuraClients")
            .field("base_url", &self.inner.config.base_url)
            .finish_non_exhaustive()
    }
}

use crate::locked as lock;

impl AuraClients {
    /// Panics where [`AuraClients::try_new`] fails: for tests and tools.
    pub fn new(config: ClientConfig) -> Self {
        Self::try_new(config).expect("an HTTP client with the system's trust store")
    }

    /// Fails when no HTTP client can be built, typically because the trust
    /// store (`SSL_CERT_FILE`, `SSL_CERT_DIR` or the system's) holds no
    /// certificate.
    pub fn try_new(config: ClientConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            // Over HTTP/1 each connection keeps a read buffer grown to the
            // largest answer it read (a tenant's instance list); a burst of
            // calls left dozens of them idle (2.2 MiB at 3,000 instances, issue
            // 34). Over HTTP/2, as Aura answers, one connection serves all.
            .pool_max_idle_per_host(IDLE_CONNECTIONS)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| {
                let mut message = format!("cannot build the HTTPS client for the Aura API: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    message.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                message
            })?;
        let base = Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|e| format!("invalid Aura base URL {:?}: {e}", config.base_url))
            .and_then(|u| {
                if u.cannot_be_a_base() {
                    Err(format!("invalid Aura base URL {:?}", config.base_url))
                } else {
                    Ok(u)
                }
            });
        Ok(Self {
            inner: Arc::new(Registry {
                config,
                http,
                base,
                hasher: RandomState::new(),
                tokens: Mutex::default(),
                limiters: Mutex::default(),
                stats: Mutex::default(),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A handle for `creds`. Handles with the same client id share one rate
    /// limiter; with the same id and secret they share one token cache, so a
    /// rotated secret gets its own token and its own failure backoff.
    ///
    /// The registry keeps one token cache per client id: asked for a new
    /// secret, it replaces the old secret's cache (handles made before keep
    /// it and work on), which passes on its hourly token budget. The rate
    /// limiter stays.
    pub fn client(&self, creds: &Credentials) -> AuraClient {
        let r = &self.inner;
        let secret_hash = r.hasher.hash_one(&creds.client_secret);
        // Both locks at once (tokens first), so that `forget_client` never
        // runs between the two lookups.
        let mut tokens = lock(&r.tokens);
        let mut limiters = lock(&r.limiters);
        let tokens = match tokens.entry(creds.client_id.clone()) {
            Entry::Occupied(mut e) => {
                if e.get().secret_hash != secret_hash {
                    debug!(client_id = %creds.client_id, "Aura client secret changed");
                    let cache = TokenCache::succeeding(token_policy(&r.config), &e.get().cache);
                    e.insert(TokenEntry {
                        secret_hash,
                        cache: Arc::new(cache),
                    });
                }
                e.get().cache.clone()
            }
            Entry::Vacant(e) => e
                .insert(TokenEntry {
                    secret_hash,
                    cache: Arc::new(TokenCache::new(token_policy(&r.config))),
                })
                .cache
                .clone(),
        };
        let limiter = limiters
            .entry(creds.client_id.clone())
            .or_insert_with(|| Arc::new(RateLimiter::new(r.config.requests_per_minute)))
            .clone();
        AuraClient {
            reg: self.inner.clone(),
            creds: Arc::new(creds.clone()),
            tokens,
            limiter,
            owner: None,
        }
    }

    /// Drops the token cache and rate limiter of a client id no object uses
    /// any more. Handles made before keep theirs and work on; the next
    /// [`AuraClients::client`] for this id starts afresh (a token call, an
    /// empty rate window, a full hourly token budget). Forgetting an id still
    /// in use would let old and new handles each have the full rate limit
    /// until the old ones are dropped.
    pub fn forget_client(&self, client_id: &str) {
        let r = &self.inner;
        let mut tokens = lock(&r.tokens);
        let mut limiters = lock(&r.limiters);
        let forgot_token = tokens.remove(client_id).is_some();
        let forgot_limiter = limiters.remove(client_id).is_some();
        if forgot_token || forgot_limiter {
            debug!(client_id, "Aura client forgotten");
        }
    }

    /// How many token caches and rate limiters the registry holds, in that
    /// order: for tests and metrics.
    pub fn registry_sizes(&self) -> (usize, usize) {
        let r = &self.inner;
        let tokens = lock(&r.tokens);
        let limiters = lock(&r.limiters);
        (tokens.len(), limiters.len())
    }

    pub fn stats(&self) -> ClientStats {
        lock(&self.inner.stats).clone()
    }

    /// The lowest limit in force over the client ids in use (requests per
    /// minute): below the configured one after 429s; the configured one when
    /// no client id is in use.
    pub fn effective_rate_limit(&self) -> u32 {
        lock(&self.inner.limiters)
            .values()
            .map(|l| u32::try_from(l.limit()).unwrap_or(u32::MAX))
            .min()
            .unwrap_or(self.inner.config.requests_per_minute)
    }
}

fn token_policy(c: &ClientConfig) -> TokenPolicy {
    TokenPolicy {
        refresh_margin: c.token_refresh_margin,
        auth_backoff: c.auth_failure_backoff,
        auth_backoff_max: c.auth_failure_backoff_max,
        transient_backoff: c.token_error_backoff,
        transient_backoff_max: c.token_error_backoff_max,
        forced_refresh_interval: c.forced_refresh_interval,
        max_fetches_per_hour: c.max_token_calls_per_hour,
    }
}

/// A cheap handle to call Aura with one set of credentials.
#[derive(Clone)]
pub struct AuraClient {
    reg: Arc<Registry>,
    creds: Arc<Credentials>,
    tokens: Arc<TokenCache>,
    limiter: Arc<RateLimiter>,
    /// The object the calls are for: its share of the client id's limit.
    owner: super::ratelimit::Owner,
}

impl fmt::Debug for AuraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuraClient")
            .field("client_id", &self.creds.client_id)
            .finish_non_exhaustive()
    }
}

/// One API call.
pub(super) struct Call<'a> {
    /// Metric name, e.g. `get_instance`.
    pub(super) name: &'static str,
    /// Error label, e.g. `get instance 8f769515`.
    pub(super) label: String,
    pub(super) method: Method,
    pub(super) path: &'a [&'a str],
    pub(super) query: &'a [(&'a str, &'a str)],
    pub(super) body: Option<serde_json::Value>,
    pub(super) endpoint: Endpoint,
    pub(super) version: Version,
}

/// The API version a call goes to: one token cache and one rate limiter
/// serve both (the same client id and token work on either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V1,
    V2beta1,
}

/// A success answer.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) request_id: Option<String>,
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// Describes a transport error without its URL (noise) and with its cause chain.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "request timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut s = what.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

impl AuraClient {
    /// The same handle, its calls counted for `object` (a key such as
    /// `Kind namespace/name`): it gets its share of the client id's limit
    /// while others wait (DESIGN 4.14).
    #[must_use]
    pub fn for_object(mut self, object: impl Into<Arc<str>>) -> Self {
        self.owner = Some(object.into());
        self
    }

    pub fn client_id(&self) -> &str {
        &self.creds.client_id
    }

    pub(super) fn config(&self) -> &ClientConfig {
        &self.reg.config
    }

    pub(super) fn url(
        &self,
        version: Option<Version>,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Url, String> {
        let mut url = self.reg.base.clone()?;
        {
            let mut p = url
                .path_segments_mut()
                .map_err(|_| "invalid Aura base URL".to_string())?;
            p.pop_if_empty();
            match version {
                Some(Version::V1) => {
                    p.push("v1");
                }
                Some(Version::V2beta1) => {
                    p.push("v2beta1");
                }
                None => {}
            }
            // `push` escapes, so an id cannot reach another endpoint.
            p.extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub(super) fn record(&self, name: &str, status: u16) {
        let mut s = lock(&self.reg.stats);
        *s.api_calls.entry((name.to_string(), status)).or_default() += 1;
        if status == 429 {
            s.rate_limited += 1;
        }
    }

    async fn token(&self, label: &str) -> Result<Arc<AccessToken>, AuraError> {
        self.tokens
            .get(|| self.fetch_token())
            .await
            .map_err(|e| e.for_operation(label))
    }

    async fn fetch_token(&self) -> Result<Fetched, AuraError> {
        const OP: &str = "get token";
        let fail = |e: AuraError| {
            lock(&self.reg.stats).token_failures += 1;
            warn!(client_id = %self.creds.client_id, error = %e, "Aura token request failed");
            e
        };
        let url = self
            .url(None, &["oauth", "token"], &[])
            .map_err(|m| AuraError::other(OP, AuraErrorKind::NeedsHuman, None, m, None))?;
        // A token serves every object of the client id: nobody's share.
        let _permit = self.limiter.acquire(None).await;
        lock(&self.reg.stats).token_requests += 1;
        debug!(client_id = %self.creds.client_id, "requesting Aura token");
        let resp = self
            .reg
            .http
            .post(url)
            .basic_auth(&self.creds.client_id, Some(&self.creds.client_secret))
            .header(ACCEPT, "application/json")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| {
                fail(AuraError::other(
                    OP,
                    AuraErrorKind::Transient,
                    None,
                    describe(&e),
                    None,
                ))
            })?;
        let status = resp.status().as_u16();
        let rid = request_id(resp.headers());
        let wait = retry_after(resp.headers());
        if status == 429 {
            lock(&self.reg.stats).rate_limited += 1;
        }
        let body = resp.text().await.map_err(|e| {
            fail(AuraError::other(
                OP,
                AuraErrorKind::Transient,
                Some(status),
                describe(&e),
                rid.clone(),
            ))
        })?;
        if status != 200 {
            return Err(fail(AuraError::http(
                OP,
                Endpoint::Token,
                status,
                &body,
                rid,
                wait,
            )));
        }
        let t: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            fail(AuraError::other(
                OP,
                AuraErrorKind::Transient,
                Some(status),
                format!("unreadable token answer: {e}"),
                rid.clone(),
            ))
        })?;
        if let Some(kind) = t.token_type.as_deref()
            && !kind.eq_ignore_ascii_case("bearer")
        {
            warn!(token_type = %kind, "unexpected Aura token type, using it as bearer");
        }
        // Aura's tokens live an hour when the answer does not say; a zero
        // lifetime would make every call fetch a token.
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600).max(1));
        Ok((AccessToken::new(t.access_token), lifetime))
    }

    /// Sends `call` with auth, rate limit and the retry policy.
    pub(super) async fn send(&self, call: Call<'_>) -> Result<Answer, AuraError> {
        let cfg = self.config();
        if cfg.dry_run && call.method != reqwest::Method::GET {
            return Err(AuraError::other(
                &call.label,
                AuraErrorKind::NeedsHuman,
                None,
                "refused in dry-run mode: no mutating call reaches Aura".to_string(),
                None,
            ));
        }
        let url = self
            .url(Some(call.version), call.path, call.query)
            .map_err(|m| AuraError::other(&call.label, AuraErrorKind::NeedsHuman, None, m, None))?;
        let mut attempt = 0u32;
        let mut auth_retried = false;
        loop {
            let token = self.token(&call.label).await?;
            // Held until the answer is read: the limiter counts from the finish.
            let permit = self.limiter.acquire(self.owner.clone()).await;
            let mut req = self
                .reg
                .http
                .request(call.method.clone(), url.clone())
                .bearer_auth(token.secret())
                .header(ACCEPT, "application/json");
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            let (status, headers, body) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let body = resp.text().await;
                    drop(permit);
                    (status, headers, body)
                }
                Err(e) => {
                    drop(permit);
                    self.record(call.name, 0);
                    let kind = if call.endpoint == Endpoint::Create && !e.is_connect() {
                        // It may have reached Aura and created the instance.
                        AuraErrorKind::OutcomeUnknown
                    } else {
                        AuraErrorKind::Transient
                    };
                    let err = AuraError::other(&call.label, kind, None, describe(&e), None);
                    if self
                        .may_retry(&call, Outcome::Network, attempt, None, &err)
                        .await
                    {
                        attempt += 1;
                        continue;
                    }
                    warn!(error = %err, "Aura call failed");
                    return Err(err);
                }
            };
            self.record(call.name, status);
            let rid = request_id(&headers);
            let body = match body {
                Ok(b) => b,
                Err(e) => {
                    let kind = if call.endpoint == Endpoint::Create {
                        AuraErrorKind::OutcomeUnknown
                    } else {
                        AuraErrorKind::Transient
                    };
                    let err = AuraError::other(&call.label, kind, Some(status), describe(&e), rid);
                    if self
                        .may_retry(&call, Outcome::Network, attempt, None, &err)
                        .await
                    {
                        attempt += 1;
                        continue;
                    }
                    warn!(error = %err, "Aura call failed");
                    return Err(err);
                }
            };
            if (200..300).contains(&status) {
                token.accepted();
                debug!(op = %call.label, status, request_id = rid.as_deref().unwrap_or(""), "Aura call");
                return Ok(Answer {
                    status,
                    body,
                    request_id: rid,
                });
            }
            if (status == 401 || status == 403) && !auth_retried {
                auth_retried = true;
                if self.tokens.rejected(&token).await {
                    debug!(op = %call.label, status, "Aura rejected the token, refreshing once");
                    continue;
                }
            }
            let wait = retry_after(&headers);
            if status == 429 {
                self.limiter.throttled(wait.unwrap_or(cfg.rate_limit_pause));
            }
            let err = AuraError::http(&call.label, call.endpoint, status, &body, rid, wait);
            if self
                .may_retry(&call, Outcome::Status(status), attempt, wait, &err)
                .await
            {
                attempt += 1;
                continue;
            }
            if err.kind() == AuraErrorKind::NotFound {
                debug!(error = %err, "Aura call failed");
            } else {
                warn!(error = %err, "Aura call failed");
            }
            return Err(err);
        }
    }

    /// Sleeps and returns true when the policy allows another attempt.
    async fn may_retry(
        &self,
        call: &Call<'_>,
        outcome: Outcome,
        attempt: u32,
        retry_after: Option<Duration>,
        err: &AuraError,
    ) -> bool {
        let cfg = self.config();
        if attempt >= cfg.max_retries || !is_retryable(&call.method, outcome) {
            return false;
        }
        // Its 5xx is Aura's odd success as often as a failure: a read tells.
        if call.endpoint == Endpoint::Unconfirmed
            && matches!(outcome, Outcome::Status(s) if s >= 500)
        {
            return false;
        }
        let jitter: f64 = rand::random();
        let wait = backoff(attempt, cfg.retry_base_delay, cfg.retry_max_delay, jitter)
            .max(retry_after.unwrap_or(Duration::ZERO));
        if wait > cfg.max_retry_wait {
            return false;
        }
        lock(&self.reg.stats).retries += 1;
        debug!(error = %err, attempt = attempt + 1, wait_ms = wait.as_millis() as u64, "retrying Aura call");
        tokio::time::sleep(wait).await;
        true
    }

    pub(super) fn decode<T: DeserializeOwned>(
        label: &str,
        answer: &Answer,
        kind: AuraErrorKind,
    ) -> Result<T, AuraError> {
        serde_json::from_str::<Data<T>>(&answer.body)
            .map(|d| d.data)
            .map_err(|e| {
                AuraError::other(
                    label,
                    kind,
                    Some(answer.status),
                    format!("unreadable answer: {e}"),
                    answer.request_id.clone(),
                )
            })
    }

    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        name: &'static str,
        label: String,
        path: &[&str],
        query: &[(&str, &str)],
        endpoint: Endpoint,
    ) -> Result<T, AuraError> {
        let answer = self
            .send(Call {
                name,
                label: label.clone(),
                method: Method::GET,
                path,
                query,
                body: None,
                endpoint,
                version: Version::V1,
            })
            .await?;
        Self::decode(&label, &answer, AuraErrorKind::Transient)
    }

    /// A list answer, read element by element: one entry that does not read
    /// is skipped (and logged) instead of hiding every other one.
    pub(super) async fn get_list<T: DeserializeOwned>(
        &self,
        name: &'static str,
        label: String,
        path: &[&str],
        query: &[(&str, &str)],
        endpoint: Endpoint,
    ) -> Result<Vec<T>, AuraError> {
        let super::lenient::Lenient { items, skipped } = self
            .get_json(name, label.clone(), path, query, endpoint)
            .await?;
        if skipped > 0 {
            warn!(op = %label, skipped, "skipped list entries that do not read");
        }
        Ok(items)
    }

    /// POST/PATCH whose answer body we do not need.
    pub(super) async fn change(
        &self,
        name: &'static str,
        label: String,
        method: Method,
        path: &[&str],
        body: serde_json::Value,
    ) -> Result<Answer, AuraError> {
        self.send(Call {
            name,
            label,
            method,
            path,
            query: &[],
            body: Some(body),
            endpoint: Endpoint::Api,
            version: Version::V1,
        })
        .await
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
