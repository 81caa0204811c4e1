//! CredentialsVerified: whether the database accepts the connection Secret's
//! username and password, asked through its own Query API (`RETURN 1`). It
//! never changes Ready, and it spends nothing of the Aura API's budget.
//!
//! When to ask is [`plan`], a pure function: once the instance is Ready, again
//! at once whenever the Secret's login changes, then on the slow timer. A
//! first answer that is not yes is asked again within the same pass, after a
//! second (a new instance may refuse connections for a moment), and at each
//! of the object's next few passes. A check never makes a pass of its own
//! sooner than the object would have one: passes cost Aura API calls.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::reason::Reason;
use super::secret;
use crate::api::{AuraInstance, AuraInstanceStatus, SecretFormat};
use crate::query_api::Verdict;
use crate::reconciler::Context;

pub const CREDENTIALS_VERIFIED: &str = "CredentialsVerified";

/// Passes in a row that check again after an answer that was not a yes,
/// before only the slow timer does.
const RETRY_PASSES: u32 = 5;
/// The in-pass retry of a first answer that was not a yes, when that answer
/// came quickly (a refused connection, not a timeout).
const IN_PASS_RETRY: Duration = Duration::from_secs(1);
const QUICK_ANSWER: Duration = Duration::from_secs(2);

/// The last check of one object, kept in memory (a restart checks again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Which login was checked (a digest, never the password).
    pub login: u64,
    pub at: Timestamp,
    /// Checks of this login in a row that were not a yes.
    pub misses: u32,
}

/// What [`plan`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Due<'a> {
    /// spec.verifyCredentials and the operator flag.
    pub enabled: bool,
    /// The instance is Ready (running, its Secret complete).
    pub ready: bool,
    /// The Secret's login, as a digest; None without a username and password.
    pub login: Option<u64>,
    pub last: Option<&'a Checked>,
    pub now: Timestamp,
    pub interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Checks are off: the condition goes.
    Off,
    /// Nothing to check yet (not Ready): the condition stays as it is.
    Hold,
    /// Ask the database now.
    Check,
    /// Ask again after this long.
    Later(Duration),
}

pub fn plan(d: &Due<'_>) -> Plan {
    if !d.enabled {
        return Plan::Off;
    }
    let (true, Some(login)) = (d.ready, d.login) else {
        return Plan::Hold;
    };
    let Some(last) = d.last.filter(|l| l.login == login) else {
        return Plan::Check;
    };
    if last.misses > 0 && last.misses <= RETRY_PASSES {
        return Plan::Check;
    }
    let wait = d.interval;
    let since = d
        .now
        .duration_since(last.at)
        .unsigned_abs()
        .min(Duration::from_secs(u64::MAX / 4));
    if since >= wait {
        Plan::Check
    } else {
        Plan::Later(wait - since)
    }
}

/// A digest of the login a Secret holds, to tell when it changed.
pub fn login_digest(s: &Secret) -> Option<u64> {
    let (username, password) = secret::login(s)?;
    let mut h = DefaultHasher::new();
    (secret::uri(s), username, password).hash(&mut h);
    Some(h.finish())
}

/// The condition for a verdict: (status, reason, message). Names the Secret
/// and the endpoint, never a value from the Secret.
pub fn condition_for(
    verdict: &Verdict,
    endpoint: &str,
    secret_name: &str,
    format: SecretFormat,
) -> (&'static str, Reason, String) {
    let key = secret::password_key(format);
    match verdict {
        Verdict::Accepted => (
            "True",
            Reason::CredentialsAccepted,
            format!(
                "the database accepted the username and password in Secret {secret_name} (RETURN 1 through {endpoint})"
            ),
        ),
        Verdict::Rejected { code } => (
            "False",
            Reason::AuthenticationFailed,
            format!(
                "the database refused the username and password in Secret {secret_name}{}: applications using it cannot log in; write the right password into its {key} key (or reset it in the Aura console and write the new one there)",
                code_note(code)
            ),
        ),
        Verdict::Forbidden { code } => (
            "False",
            Reason::AccessDenied,
            format!(
                "the database accepted the login in Secret {secret_name} but refused it the database{}",
                code_note(code)
            ),
        ),
        Verdict::Unreachable(why) => (
            "Unknown",
            Reason::Unreachable,
            format!(
                "could not ask the database at {endpoint} whether the login in Secret {secret_name} works: {why}; an instance reachable only through a private endpoint cannot be checked from the operator (set spec.verifyCredentials: false, or point --query-api-url at a proxy that reaches it)"
            ),
        ),
    }
}

fn code_note(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
}

/// Sets the condition, keeping its transition time when its status stays.
pub fn set(
    status: &mut AuraInstanceStatus,
    (value, reason, message): (&'static str, Reason, String),
    generation: Option<i64>,
    now: Timestamp,
) {
    let previous = status
        .conditions
        .iter()
        .find(|c| c.type_ == CREDENTIALS_VERIFIED);
    let last = previous
        .filter(|c| c.status == value)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let condition = Condition {
        type_: CREDENTIALS_VERIFIED.into(),
        status: value.into(),
        reason: reason.as_str().into(),
        message,
        observed_generation: generation,
        last_transition_time: last,
    };
    status
        .conditions
        .retain(|c| c.type_ != CREDENTIALS_VERIFIED);
    status.conditions.push(condition);
    if value == "True" {
        status.credentials_verified_at = Some(now.to_string());
    }
}

/// The first check this process makes of an object (after a restart, say).
struct Restarted {
    first_in_process: bool,
    /// The status said the login was accepted, at `recorded_at`.
    was_accepted: bool,
    accepted: bool,
    recorded_at: Option<Timestamp>,
    now: Timestamp,
    interval: Duration,
}

impl Restarted {
    /// A first check that finds what the status already says, recorded within
    /// the interval, keeps that time: else every object's first pass after a
    /// restart rewrites its status for nothing new.
    fn keeps_recorded_time(&self) -> bool {
        let recent = self.recorded_at.is_some_and(|at| {
            jiff::SignedDuration::try_from(self.interval)
                .is_ok_and(|i| self.now.duration_since(at) < i)
        });
        self.first_in_process && self.was_accepted && self.accepted && recent
    }
}

/// Drops the condition (checks are off).
pub fn remove(status: &mut AuraInstanceStatus) {
    status
        .conditions
        .retain(|c| c.type_ != CREDENTIALS_VERIFIED);
    status.credentials_verified_at = None;
}

/// The check's outcome as a metric label.
pub fn label(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Accepted => "accepted",
        Verdict::Rejected { .. } => "rejected",
        Verdict::Forbidden { .. } => "forbidden",
        Verdict::Unreachable(_) => "unreachable",
    }
}

/// The I/O around [`plan`]: asks the database when the plan says so, and
/// puts the answer into `status`. Returns when to look again, if sooner than
/// the object's own requeue should be.
pub async fn run(
    obj: &AuraInstance,
    ctx: &Context<AuraInstance>,
    written: Option<&Secret>,
    ready: bool,
    status: &mut AuraInstanceStatus,
) -> Option<Duration> {
    let now = Timestamp::now();
    let last = ctx.memory.peek(obj, |e| e.kind.checked.clone()).flatten();
    let login = written.and_then(login_digest);
    let due = Due {
        enabled: ctx.config.verify_credentials && obj.spec.verify_credentials != Some(false),
        ready,
        login,
        last: last.as_ref(),
        now,
        interval: ctx.config.verify_credentials_interval,
    };
    match plan(&due) {
        Plan::Off => {
            remove(status);
            None
        }
        Plan::Hold => None,
        Plan::Later(after) => Some(after),
        Plan::Check => {
            let (secret, login) = (written?, login?);
            let (username, password) = secret::login(secret)?;
            let uri = secret::uri(secret).unwrap_or_default();
            let host = secret::format::host_of(&uri);
            let secret_name = obj.connection_secret_name();
            let verdict = match ctx
                .state
                .query_api
                .endpoint(&host, secret::format::DATABASE)
            {
                Ok(endpoint) => {
                    let api = &ctx.state.query_api;
                    let started = std::time::Instant::now();
                    let mut verdict = api.check(&endpoint, &username, &password).await;
                    let first_of_login = last.as_ref().is_none_or(|l| l.login != login);
                    if verdict != Verdict::Accepted
                        && first_of_login
                        && started.elapsed() < QUICK_ANSWER
                    {
                        tokio::time::sleep(IN_PASS_RETRY).await;
                        verdict = api.check(&endpoint, &username, &password).await;
                    }
                    (verdict, endpoint.to_string())
                }
                Err(e) => (
                    Verdict::Unreachable(format!("no Query API URL for host {host}: {e}")),
                    host.clone(),
                ),
            };
            let (verdict, endpoint) = verdict;
            ctx.telemetry.record_credential_check(label(&verdict));
            let misses = match (&verdict, &last) {
                (Verdict::Accepted, _) => 0,
                (_, Some(l)) if l.login == login => l.misses + 1,
                _ => 1,
            };
            let before = status
                .conditions
                .iter()
                .find(|c| c.type_ == CREDENTIALS_VERIFIED)
                .map(|c| c.reason.clone());
            let recorded_at = status.credentials_verified_at.clone();
            let condition = condition_for(&verdict, &endpoint, &secret_name, obj.secret_format());
            let reason = condition.1;
            let message = condition.2.clone();
            tracing::debug!(result = label(&verdict), "credential check");
            set(status, condition, obj.metadata.generation, now);
            let keep = Restarted {
                first_in_process: last.is_none(),
                was_accepted: before.as_deref() == Some(Reason::CredentialsAccepted.as_str()),
                accepted: verdict == Verdict::Accepted,
                recorded_at: recorded_at.as_deref().and_then(|t| t.parse().ok()),
                now,
                interval: ctx.config.verify_credentials_interval,
            };
            if keep.keeps_recorded_time() {
                status.credentials_verified_at = recorded_at;
            }
            // One Warning when the login stops working; the condition says the rest.
            if matches!(
                verdict,
                Verdict::Rejected { .. } | Verdict::Forbidden { .. }
            ) && before.as_deref() != Some(reason.as_str())
            {
                ctx.warn(obj, "CredentialsRejected", &message).await;
            }
            let checked = Checked {
                login,
                at: now,
                misses,
            };
            ctx.memory
                .with(obj, |e| e.kind.checked = Some(checked.clone()));
            let next = plan(&Due {
                last: Some(&checked),
                now,
                ..due
            });
            match next {
                Plan::Later(after) => Some(after),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const HOUR6: Duration = Duration::from_secs(6 * 3600);

    fn checked(login: u64, at: &str, misses: u32) -> Checked {
        Checked {
            login,
            at: t(at),
            misses,
        }
    }

    #[test]
    fn when_to_check() {
        let ok = checked(1, "2026-01-01T00:00:00Z", 0);
        let missed_once = checked(1, "2026-01-01T00:00:00Z", 1);
        let missed_five = checked(1, "2026-01-01T00:00:00Z", 5);
        let missed_often = checked(1, "2026-01-01T00:00:00Z", 6);
        // (what, enabled, ready, login, last check, now, plan)
        type Case<'a> = (
            &'a str,
            bool,
            bool,
            Option<u64>,
            Option<&'a Checked>,
            &'a str,
            Plan,
        );
        let cases: Vec<Case> = vec![
            (
                "off",
                false,
                true,
                Some(1),
                Some(&ok),
                "2026-01-01T00:00:01Z",
                Plan::Off,
            ),
            (
                "off even when never checked",
                false,
                false,
                None,
                None,
                "2026-01-01T00:00:01Z",
                Plan::Off,
            ),
            (
                "not ready yet",
                true,
                false,
                Some(1),
                None,
                "2026-01-01T00:00:01Z",
                Plan::Hold,
            ),
            (
                "no login in the Secret",
                true,
                true,
                None,
                None,
                "2026-01-01T00:00:01Z",
                Plan::Hold,
            ),
            (
                "first time",
                true,
                true,
                Some(1),
                None,
                "2026-01-01T00:00:01Z",
                Plan::Check,
            ),
            (
                "the login changed",
                true,
                true,
                Some(2),
                Some(&ok),
                "2026-01-01T00:00:01Z",
                Plan::Check,
            ),
            (
                "verified a minute ago",
                true,
                true,
                Some(1),
                Some(&ok),
                "2026-01-01T00:01:00Z",
                Plan::Later(HOUR6 - Duration::from_secs(60)),
            ),
            (
                "verified 6 hours ago",
                true,
                true,
                Some(1),
                Some(&ok),
                "2026-01-01T06:00:00Z",
                Plan::Check,
            ),
            (
                "a miss: the next pass asks again",
                true,
                true,
                Some(1),
                Some(&missed_once),
                "2026-01-01T00:00:01Z",
                Plan::Check,
            ),
            (
                "the fifth miss: still",
                true,
                true,
                Some(1),
                Some(&missed_five),
                "2026-01-01T00:00:01Z",
                Plan::Check,
            ),
            (
                "more misses: the slow timer",
                true,
                true,
                Some(1),
                Some(&missed_often),
                "2026-01-01T00:10:00Z",
                Plan::Later(HOUR6 - Duration::from_secs(600)),
            ),
            (
                "more misses, then a new login",
                true,
                true,
                Some(9),
                Some(&missed_often),
                "2026-01-01T00:10:00Z",
                Plan::Check,
            ),
            (
                "a clock that went back",
                true,
                true,
                Some(1),
                Some(&ok),
                "2025-12-31T23:00:00Z",
                Plan::Later(HOUR6 - Duration::from_secs(3600)),
            ),
        ];
        for (what, enabled, ready, login, last, now, want) in cases {
            let got = plan(&Due {
                enabled,
                ready,
                login,
                last,
                now: t(now),
                interval: HOUR6,
            });
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn conditions_say_what_happened_without_values() {
        let cases = [
            (Verdict::Accepted, "True", Reason::CredentialsAccepted),
            (
                Verdict::Rejected {
                    code: Some("Neo.ClientError.Security.Unauthorized".into()),
                },
                "False",
                Reason::AuthenticationFailed,
            ),
            (
                Verdict::Forbidden { code: None },
                "False",
                Reason::AccessDenied,
            ),
            (
                Verdict::Unreachable("cannot connect".into()),
                "Unknown",
                Reason::Unreachable,
            ),
        ];
        for (verdict, want_status, want_reason) in cases {
            let (status, reason, message) = condition_for(
                &verdict,
                "https://x.databases.neo4j.io/db/neo4j/query/v2",
                "orders-connection",
                SecretFormat::Aura,
            );
            assert_eq!((status, reason), (want_status, want_reason), "{verdict:?}");
            assert!(message.contains("orders-connection"), "{message}");
        }
        let (_, _, m) = condition_for(
            &Verdict::Rejected { code: None },
            "e",
            "s",
            SecretFormat::ServiceBinding,
        );
        assert!(m.contains("its password key"), "{m}");
    }

    #[test]
    fn a_first_check_that_confirms_the_status_keeps_its_time() {
        let now = t("2026-01-01T12:00:00Z");
        let at = |s: &str| Some(t(s));
        // (first in process, was accepted, accepted, recorded at, keeps)
        let cases = [
            (true, true, true, at("2026-01-01T10:00:00Z"), true),
            // a later check of the same process records its own time
            (false, true, true, at("2026-01-01T10:00:00Z"), false),
            // older than the interval: recorded anew
            (true, true, true, at("2026-01-01T05:00:00Z"), false),
            // news either way: recorded
            (true, false, true, at("2026-01-01T10:00:00Z"), false),
            (true, true, false, at("2026-01-01T10:00:00Z"), false),
            (true, true, true, None, false),
        ];
        for (first_in_process, was_accepted, accepted, recorded_at, keeps) in cases {
            let r = Restarted {
                first_in_process,
                was_accepted,
                accepted,
                recorded_at,
                now,
                interval: HOUR6,
            };
            assert_eq!(
                r.keeps_recorded_time(),
                keeps,
                "first {first_in_process}, was {was_accepted}, now {accepted}, at {recorded_at:?}"
            );
        }
    }

    #[test]
    fn the_condition_keeps_its_transition_time_and_goes_when_off() {
        let mut status = AuraInstanceStatus::default();
        let accepted = || ("True", Reason::CredentialsAccepted, "m".to_string());
        set(&mut status, accepted(), Some(1), t("2026-01-01T00:00:00Z"));
        set(&mut status, accepted(), Some(1), t("2026-01-01T06:00:00Z"));
        let c = &status.conditions[0];
        assert_eq!(status.conditions.len(), 1);
        assert_eq!(c.last_transition_time, Time(t("2026-01-01T00:00:00Z")));
        assert_eq!(
            status.credentials_verified_at.as_deref(),
            Some("2026-01-01T06:00:00Z")
        );
        set(
            &mut status,
            ("False", Reason::AuthenticationFailed, "m".into()),
            Some(1),
            t("2026-01-01T07:00:00Z"),
        );
        assert_eq!(
            status.conditions[0].last_transition_time,
            Time(t("2026-01-01T07:00:00Z"))
        );
        // a refusal leaves the time of the last success
        assert_eq!(
            status.credentials_verified_at.as_deref(),
            Some("2026-01-01T06:00:00Z")
        );
        remove(&mut status);
        assert!(status.conditions.is_empty());
        assert!(status.credentials_verified_at.is_none());
    }
}
