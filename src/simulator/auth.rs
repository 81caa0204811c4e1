//! Tokens, client credentials and the two rate limits. Pure: callers pass `now`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use base64::Engine;
use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::time::Instant;

/// A sliding-window log limiter: at most `limit` admitted calls per key in any
/// `window`. Refused calls are not recorded, so `Retry-After` is exact.
#[derive(Debug)]
pub struct SlidingWindow {
    pub limit: u32,
    pub window: Duration,
    hits: HashMap<String, VecDeque<Instant>>,
}

impl SlidingWindow {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            hits: HashMap::new(),
        }
    }

    /// Admits and records a call, or returns the seconds to wait (at least 1).
    pub fn check(&mut self, key: &str, now: Instant) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let q = self.hits.entry(key.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.limit as usize {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = self
                .window
                .saturating_sub(now.saturating_duration_since(oldest));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        q.push_back(now);
        Ok(())
    }

    pub fn reset(&mut self) {
        self.hits.clear();
    }

    /// The keys that have a window (each one admitted call at least).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.hits.keys().map(String::as_str)
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Unknown or malformed: 401.
    Invalid,
    /// Known but past its lifetime: 403, as the real API answers.
    Expired,
}

#[derive(Debug)]
struct IssuedToken {
    client_id: String,
    expires_at: Instant,
}

/// Issued access tokens. Expired ones are kept for an hour so they answer 403.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: HashMap<String, IssuedToken>,
}

impl TokenStore {
    pub fn issue(&mut self, client_id: &str, ttl: Duration, now: Instant) -> String {
        let keep = Duration::from_secs(3600);
        self.tokens
            .retain(|_, t| now.saturating_duration_since(t.expires_at) < keep);
        let token: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(64)
            .map(char::from)
            .collect();
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                client_id: client_id.to_string(),
                // A lifetime the clock cannot represent never expires in practice.
                expires_at: now
                    .checked_add(ttl)
                    .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
                    .unwrap_or(now),
            },
        );
        token
    }

    /// The client id behind a token.
    pub fn verify(&self, token: &str, now: Instant) -> Result<String, TokenError> {
        match self.tokens.get(token) {
            None => Err(TokenError::Invalid),
            Some(t) if now >= t.expires_at => Err(TokenError::Expired),
            Some(t) => Ok(t.client_id.clone()),
        }
    }

    /// Expires every token at once, so the next call with one answers 403.
    pub fn expire_all(&mut self, now: Instant) {
        for t in self.tokens.values_mut() {
            t.expires_at = t.expires_at.min(now);
        }
    }
}

/// `Authorization: Basic base64(id:secret)`.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `Authorization: Bearer <token>` (scheme compared case-insensitively).
pub fn parse_bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Decodes `application/x-www-form-urlencoded` (also used for query strings).
pub fn parse_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_limits_and_recovers() {
        let mut w = SlidingWindow::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(w.check("c", t0).is_ok());
        }
        assert_eq!(w.check("c", t0), Err(60));
        // Another client has its own budget.
        assert!(w.check("d", t0).is_ok());
        assert_eq!(w.check("c", t0 + Duration::from_millis(30_500)), Err(30));
        assert!(w.check("c", t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn zero_is_unlimited() {
        let mut w = SlidingWindow::new(0, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(w.check("c", t0).is_ok());
        }
    }

    #[test]
    fn tokens_expire_to_403() {
        let mut s = TokenStore::default();
        let t0 = Instant::now();
        let tok = s.issue("c", Duration::from_secs(1), t0);
        assert_eq!(s.verify(&tok, t0), Ok("c".to_string()));
        assert_eq!(
            s.verify(&tok, t0 + Duration::from_secs(1)),
            Err(TokenError::Expired)
        );
        assert_eq!(s.verify("bogus", t0), Err(TokenError::Invalid));
    }

    #[test]
    fn huge_token_lifetime_does_not_panic() {
        let mut s = TokenStore::default();
        let t0 = Instant::now();
        let tok = s.issue("c", Duration::from_secs(u64::MAX), t0);
        assert_eq!(
            s.verify(&tok, t0 + Duration::from_secs(86_400)),
            Ok("c".to_string())
        );
    }

    #[test]
    fn header_parsing() {
        // "id:se:cret" — secrets may contain colons.
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("id:se:cret")
        );
        assert_eq!(parse_basic(&h), Some(("id".into(), "se:cret".into())));
        assert_eq!(parse_basic("Basic !!"), None);
        assert_eq!(parse_bearer("bearer abc"), Some("abc"));
        assert_eq!(parse_bearer("Bearer "), None);
        assert_eq!(
            parse_form("grant_type=client_credentials&x=a%20b+c&bad=%zz"),
            vec![
                ("grant_type".into(), "client_credentials".into()),
                ("x".into(), "a b c".into()),
                ("bad".into(), "%zz".into())
            ]
        );
        assert_eq!(parse_form("a=%4"), vec![("a".into(), "%4".into())]);
    }
}
