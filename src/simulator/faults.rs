//! Fault injection, and the listener that lets a handler drop its connection.
//!
//! Dropping a connection without an answer: axum's router cannot return an
//! error to hyper, so every accepted socket is wrapped in [`KillableStream`]
//! whose kill switch is handed to handlers through `ConnectInfo<KillSwitch>`.
//! A handler that flips the switch makes the next read or write on the socket
//! fail; hyper then gives up on the connection and closes it before writing a
//! single byte of the response. The client sees the connection closed (or
//! reset) with no answer, as when a load balancer drops it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::serve::{IncomingStream, Listener};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::quirks::Quirks;

/// How a "commit the create but fail the response" fault shows to the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateFailMode {
    /// A 500 with the API error body.
    #[default]
    Error,
    /// The connection is closed without an answer.
    Drop,
}

/// How a call with an expired token is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiredToken {
    /// 403 with the API's error body (NOTES: what the API answers; the
    /// operator's tests expect it).
    #[default]
    Forbidden,
    /// 401 with the gateway's `{"error": ...}` body, as the gateway does.
    Unauthorized,
}

/// Faults applied to `/v1` requests. Shares are probabilities in 0.0..=1.0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every `/v1` and `/oauth/token` request before it is handled.
    pub latency_ms: u64,
    /// Share of `/v1` requests answered 500, 502 or 503 instead of being handled.
    pub error_rate: f64,
    /// Share of `/v1` requests answered 429 with `Retry-After` (a 429 storm).
    pub rate_limit_rate: f64,
    /// `Retry-After` of storm 429s, seconds (0 is sent as 1).
    pub rate_limit_retry_after: u64,
    /// Share of `/v1` requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// The next N creates commit the instance but the caller does not get the 202.
    pub fail_creates: u32,
    pub fail_create_mode: CreateFailMode,
    /// The next N on-demand snapshot calls take the snapshot but answer 500.
    pub fail_snapshots: u32,
    /// Answers that depart from the spec as the real service's do.
    pub quirks: Quirks,
    /// How a call with an expired token is answered (403 by default).
    pub expired_token: ExpiredToken,
    /// Every 429 (limits and storms) gives `Retry-After` as an HTTP date
    /// rather than seconds (the spec allows both).
    pub retry_after_http_date: bool,
    /// Share of `/oauth/token` calls answered 500, 502 or 503.
    pub token_error_rate: f64,
    /// Share of `/oauth/token` calls whose connection is closed unanswered.
    pub token_drop_rate: f64,
    /// v2beta1 IP filter write fields the simulator drops, as Aura drops a
    /// field it does not recognise: `description`, `filtering_disabled`,
    /// `allow_list.description`, `entities.projects`... A write still answers
    /// 200 and the field keeps its old value (its default on create).
    pub ip_filter_ignored_fields: Vec<String>,
}

impl Faults {
    /// Shares outside 0..=1 are a caller mistake worth refusing loudly.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("drop_rate", self.drop_rate),
            ("token_error_rate", self.token_error_rate),
            ("token_drop_rate", self.token_drop_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0.0 and 1.0"));
            }
        }
        Ok(())
    }
}

/// `Retry-After` as an HTTP date `secs` after `now`, rounded up to the
/// next whole second so that a client waiting until then waits long enough.
pub fn retry_after_date(secs: u64, now: std::time::SystemTime) -> String {
    let at = now + std::time::Duration::from_secs(secs);
    let whole = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
        .unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(whole))
}

/// Draws a fault with probability `share`.
pub fn roll(share: f64) -> bool {
    share > 0.0 && rand::random::<f64>() < share
}

/// Per-connection switch: once set, the connection's I/O fails.
#[derive(Debug, Clone, Default)]
pub struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    pub fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A TCP stream that fails all I/O once its kill switch is set.
#[derive(Debug)]
pub struct KillableStream {
    inner: TcpStream,
    switch: KillSwitch,
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "dropped by fault injection",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Wraps a `TcpListener` so every connection gets a kill switch.
#[derive(Debug)]
pub struct KillableListener(pub TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    // Small JSON answers: send them at once.
                    let _ = inner.set_nodelay(true);
                    let stream = KillableStream {
                        inner,
                        switch: KillSwitch::default(),
                    };
                    return (stream, addr);
                }
                // Out of file descriptors and the like: back off briefly, as axum does.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, KillableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.io().switch.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_validate_shares() {
        assert!(Faults::default().validate().is_ok());
        let f = Faults {
            error_rate: 1.5,
            ..Default::default()
        };
        assert!(f.validate().is_err());
    }

    #[test]
    fn retry_after_dates_never_come_early() {
        let epoch = std::time::UNIX_EPOCH;
        // (now, seconds, header)
        let cases = [
            (epoch, 1, "Thu, 01 Jan 1970 00:00:01 GMT"),
            (
                epoch + std::time::Duration::from_millis(1_500),
                2,
                "Thu, 01 Jan 1970 00:00:04 GMT",
            ),
            (
                epoch + std::time::Duration::from_secs(60),
                60,
                "Thu, 01 Jan 1970 00:02:00 GMT",
            ),
        ];
        for (now, secs, want) in cases {
            assert_eq!(retry_after_date(secs, now), want);
        }
        let f: Faults = serde_json::from_str(
            r#"{"expired_token":"unauthorized","retry_after_http_date":true,"token_error_rate":1}"#,
        )
        .unwrap();
        assert_eq!(f.expired_token, ExpiredToken::Unauthorized);
        assert!(f.retry_after_http_date);
        assert_eq!(Faults::default().expired_token, ExpiredToken::Forbidden);
        let bad = Faults {
            token_drop_rate: 2.0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn roll_extremes() {
        assert!(!roll(0.0));
        assert!(roll(1.0));
    }

    #[test]
    fn faults_parse_partially() {
        let f: Faults =
            serde_json::from_str(r#"{"drop_rate":0.5,"fail_create_mode":"drop"}"#).unwrap();
        assert_eq!(f.drop_rate, 0.5);
        assert_eq!(f.fail_create_mode, CreateFailMode::Drop);
        assert!(serde_json::from_str::<Faults>(r#"{"nope":1}"#).is_err());
    }
}
