//! Controller settings: flags with matching environment variables.

use std::time::Duration;

/// `aura-operator run` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerConfig {
    /// Base URL of the Aura API.
    #[arg(long, env = "AURA_BASE_URL", default_value = "https://api.neo4j.io")]
    pub aura_base_url: String,

    /// Namespaces to watch (repeat or comma-separate); all when omitted.
    #[arg(
        long = "namespace",
        env = "AURA_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,

    /// First poll interval while an instance is transitional; a long
    /// transition is polled more slowly (a fifth of the time so far, at most 1 min).
    #[arg(long, env = "AURA_POLL_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// Resync interval when an instance is stable; stretched when the objects
    /// sharing a client id would otherwise spend more than half its rate limit on resyncs.
    #[arg(long, env = "AURA_RESYNC_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// Aura API requests per minute per client id (the API allows 125).
    #[arg(long, env = "AURA_RATE_LIMIT", default_value_t = 125)]
    pub rate_limit: u32,

    /// How long after an unanswered create the operator looks for its instance
    /// before it may create again.
    #[arg(long, env = "AURA_CREATE_GRACE", default_value = "2m", value_parser = parse_duration)]
    pub create_grace: Duration,

    /// Reconciles running at the same time (each object is only ever reconciled once at a time).
    #[arg(long, env = "AURA_MAX_CONCURRENT_RECONCILES", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrent_reconciles: u16,

    /// Log format.
    #[arg(long, env = "AURA_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Log level, in RUST_LOG syntax (RUST_LOG wins when set).
    #[arg(long, env = "AURA_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Address of the admin server (/healthz, /readyz, /metrics).
    #[arg(long, env = "AURA_ADMIN_LISTEN", default_value = "0.0.0.0:8081")]
    pub admin_listen: std::net::SocketAddr,

    /// Elect a leader through a coordination.k8s.io Lease so that only one replica acts.
    #[arg(long, env = "AURA_LEADER_ELECT", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub leader_elect: bool,

    /// Name of the Lease used for leader election.
    #[arg(long, env = "AURA_LEASE_NAME", default_value = "aura-operator")]
    pub lease_name: String,

    /// Namespace of the Lease (default: POD_NAMESPACE, else "default").
    #[arg(long, env = "AURA_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// Make no mutating Aura call (create, change, pause, resume, upgrade,
    /// delete): each one is skipped and reported as an event ("would create
    /// ...") and a metric; GETs still run, and no create intent is recorded,
    /// so a later real run creates each instance once.
    #[arg(long, env = "AURA_DRY_RUN", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: bool,

    /// Check each connection Secret's username and password against its
    /// database (Neo4j's Query API, RETURN 1): the CredentialsVerified
    /// condition. false turns the check off for every object.
    #[arg(long, env = "AURA_VERIFY_CREDENTIALS", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub verify_credentials: bool,

    /// How often credentials that were checked are checked again (a changed
    /// Secret is checked at once).
    #[arg(long, env = "AURA_VERIFY_CREDENTIALS_INTERVAL", default_value = "6h", value_parser = parse_duration)]
    pub verify_credentials_interval: Duration,

    /// Where credential checks go: a URL template over {host} (of the
    /// connection URL) and {database}. Behind a proxy that routes by path, for
    /// example https://neo4j-gateway.internal/{host}/db/{database}/query/v2.
    #[arg(long, env = "AURA_QUERY_API_URL", default_value = crate::query_api::DEFAULT_URL_TEMPLATE, value_parser = crate::query_api::UrlTemplate::parse)]
    pub query_api_url: crate::query_api::UrlTemplate,

    /// How long a lease is held without renewal before a standby takes over.
    #[arg(long, env = "AURA_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
}

/// Parses `10s`, `5m`, `1h`, `250ms` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("not a duration: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (input, secs) in [
            ("10s", 10.0),
            ("5m", 300.0),
            ("250ms", 0.25),
            ("2", 2.0),
            ("1.5h", 5400.0),
        ] {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_secs_f64(secs)),
                "{input}"
            );
        }
        for bad in ["", "x", "5d", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
