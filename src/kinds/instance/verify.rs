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

use super::reason::Reason;
use super::secret;
use crate::api::{AuraInstance, AuraInstanceStatus, SecretFormat};
use crate::query_api::Verdict;
use crate::reconciler::Context;
use crate::reconciler::status::{self, State};

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
    /// What the database said, and where it was asked.
    pub said: Option<(Verdict, String)>,
}

/// The last answer again, when the status copy a pass starts from does not
/// carry the condition (a copy older than the write that set it: writing
/// over it would drop the condition until the slow timer asks again).
pub fn said_again(
    has_condition: bool,
    last: Option<&Checked>,
    login: Option<u64>,
) -> Option<&(Verdict, String)> {
    let last = last.filter(|l| !has_condition && Some(l.login) == login)?;
    last.said.as_ref()
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
) -> (State, Reason, String) {
    let key = secret::password_key(format);
    match verdict {
        Verdict::Accepted => (
            State::True,
            Reason::CredentialsAccepted,
            format!(
                "the database accepted the username and password in Secret {secret_name} (RETURN 1 through {endpoint})"
            ),
        ),
        Verdict::Rejected { code } => (
            State::False,
            Reason::AuthenticationFailed,
            format!(
                "the database refused the username and password in Secret {secret_name}{}: applications using it cannot log in; write the right password into its {key} key (or reset it in the Aura console and write the new one there)",
                code_note(code)
            ),
        ),
        Verdict::Forbidden { code } => (
            State::False,
            Reason::AccessDenied,
            format!(
                "the database accepted the login in Secret {secret_name} but refused it the database{}",
                code_note(code)
            ),
        ),
        Verdict::Unreachable(why) => (
            State::Unknown,
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
    (state, reason, message): (State, Reason, String),
    generation: Option<i64>,
    now: Timestamp,
) {
    status::set(
        &mut status.conditions,
        status::Set {
            type_: CREDENTIALS_VERIFIED,
            state,
            reason: reason.as_str(),
            message,
            generation,
            now,
        },
    );
    if state == State::True {
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
    status::remove(&mut status.conditions, CREDENTIALS_VERIFIED);
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

/// What a pass's check came to: what [`plan`] said, or the database's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Off,
    Hold,
    Later(Duration),
    Asked(Asked),
}

/// The database's answer to one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    pub verdict: Verdict,
    /// Where it was asked (no secret in it).
    pub endpoint: String,
    /// This process had not checked the object before (a restart, say).
    pub first_in_process: bool,
    /// When the plan, with this answer, asks again.
    pub next: Option<Duration>,
}

impl Check {
    /// When to look again for the check's sake, if sooner than the object would.
    pub fn sooner(&self) -> Option<Duration> {
        match self {
            Self::Later(after) => Some(*after),
            Self::Asked(asked) => asked.next,
            Self::Off | Self::Hold => None,
        }
    }
}

/// The I/O around [`plan`]: asks the database when the plan says so.
pub async fn check(
    obj: &AuraInstance,
    ctx: &Context<AuraInstance>,
    written: Option<&Secret>,
    ready: bool,
) -> Check {
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
        Plan::Off => Check::Off,
        Plan::Hold => Check::Hold,
        Plan::Later(after) => {
            let has_condition = obj
                .status
                .as_ref()
                .is_some_and(|s| status::condition(&s.conditions, CREDENTIALS_VERIFIED).is_some());
            match said_again(has_condition, last.as_ref(), login) {
                Some((verdict, endpoint)) => Check::Asked(Asked {
                    verdict: verdict.clone(),
                    endpoint: endpoint.clone(),
                    first_in_process: false,
                    next: Some(after),
                }),
                None => Check::Later(after),
            }
        }
        Plan::Check => {
            let (Some(secret), Some(login)) = (written, login) else {
                return Check::Hold;
            };
            let first_of_login = last.as_ref().is_none_or(|l| l.login != login);
            let Some((verdict, endpoint)) = ask(ctx, secret, first_of_login).await else {
                return Check::Hold;
            };
            ctx.telemetry.record_credential_check(label(&verdict));
            tracing::debug!(result = label(&verdict), "credential check");
            let misses = match (&verdict, &last) {
                (Verdict::Accepted, _) => 0,
                (_, Some(l)) if l.login == login => l.misses + 1,
                _ => 1,
            };
            let checked = Checked {
                login,
                at: now,
                misses,
                said: Some((verdict.clone(), endpoint.clone())),
            };
            ctx.memory
                .with(obj, |e| e.kind.checked = Some(checked.clone()));
            let next = match plan(&Due {
                last: Some(&checked),
                now,
                ..due
            }) {
                Plan::Later(after) => Some(after),
                _ => None,
            };
            Check::Asked(Asked {
                verdict,
                endpoint,
                first_in_process: last.is_none(),
                next,
            })
        }
    }
}

/// Whether a Secret nobody owns, which names this object's instance, may be
/// taken over: the database is asked first (the in-memory check is not
/// touched: the Secret is not this object's yet).
pub async fn trust(
    obj: &AuraInstance,
    ctx: &Context<AuraInstance>,
    secret: &Secret,
    labelled: bool,
) -> Option<Distrust> {
    let enabled = ctx.config.verify_credentials && obj.spec.verify_credentials != Some(false);
    let verdict = if enabled {
        ask(ctx, secret, true).await.map(|(verdict, _)| verdict)
    } else {
        None
    };
    if let Some(verdict) = &verdict {
        ctx.telemetry.record_credential_check(label(verdict));
    }
    trusted(verdict.as_ref(), labelled)
}

/// Why a Secret nobody owns is not taken (`None`: it is). Only the
/// database's yes lets one in; the operator's own label (a Secret it wrote,
/// then orphaned or backed up) suffices when the database cannot be asked.
pub fn trusted(verdict: Option<&Verdict>, labelled: bool) -> Option<Distrust> {
    match verdict {
        Some(Verdict::Accepted) => None,
        Some(Verdict::Rejected { .. } | Verdict::Forbidden { .. }) => Some(Distrust::LoginRefused),
        Some(Verdict::Unreachable(_)) | None if labelled => None,
        Some(Verdict::Unreachable(_)) => Some(Distrust::Unverifiable),
        None => Some(Distrust::ChecksOff),
    }
}

/// Why a connection Secret this object did not write is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distrust {
    /// It says it is for another Aura instance.
    OtherInstance,
    /// The database refused its login.
    LoginRefused,
    /// The database could not be asked, and the Secret is not the operator's.
    Unverifiable,
    /// Credential checks are off, and the Secret is not the operator's.
    ChecksOff,
}

impl Distrust {
    pub fn why(self) -> &'static str {
        match self {
            Self::OtherInstance => "it was written for another Aura instance",
            Self::LoginRefused => "the database refused its username and password",
            Self::Unverifiable => {
                "the database could not be asked whether its login works (it is retried)"
            }
            Self::ChecksOff => {
                "credential checks are off (verifyCredentials), and it does not carry the operator's label"
            }
        }
    }
}

/// Asks the database whether the Secret's login works; a first answer that
/// is not a yes, and came quickly, is asked once more after a second.
async fn ask(
    ctx: &Context<AuraInstance>,
    secret: &Secret,
    first_of_login: bool,
) -> Option<(Verdict, String)> {
    let (username, password) = secret::login(secret)?;
    let uri = secret::uri(secret).unwrap_or_default();
    let host = secret::format::host_of(&uri);
    let api = &ctx.state.query_api;
    Some(match api.endpoint(&host, secret::format::DATABASE) {
        Ok(endpoint) => {
            let started = std::time::Instant::now();
            let mut verdict = api.check(&endpoint, &username, &password).await;
            if verdict != Verdict::Accepted && first_of_login && started.elapsed() < QUICK_ANSWER {
                tokio::time::sleep(IN_PASS_RETRY).await;
                verdict = api.check(&endpoint, &username, &password).await;
            }
            (verdict, endpoint.to_string())
        }
        Err(e) => (
            Verdict::Unreachable(format!("no Query API URL for host {host}: {e}")),
            host,
        ),
    })
}

/// What the object's status says around a check.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub secret_name: &'a str,
    pub format: SecretFormat,
    pub generation: Option<i64>,
    pub now: Timestamp,
    pub interval: Duration,
}

/// Puts a check's outcome into `status` (pure); returns the note of a
/// Warning when the login has just stopped working.
pub fn apply(status: &mut AuraInstanceStatus, check: &Check, facts: &Facts<'_>) -> Option<String> {
    let asked = match check {
        Check::Off => {
            remove(status);
            return None;
        }
        Check::Hold | Check::Later(_) => return None,
        Check::Asked(asked) => asked,
    };
    let before = status::condition(&status.conditions, CREDENTIALS_VERIFIED)
        .and_then(|c| Reason::parse(&c.reason));
    let recorded_at = status.credentials_verified_at.clone();
    let condition = condition_for(
        &asked.verdict,
        &asked.endpoint,
        facts.secret_name,
        facts.format,
    );
    let (reason, message) = (condition.1, condition.2.clone());
    set(status, condition, facts.generation, facts.now);
    let keep = Restarted {
        first_in_process: asked.first_in_process,
        was_accepted: before == Some(Reason::CredentialsAccepted),
        accepted: asked.verdict == Verdict::Accepted,
        recorded_at: recorded_at.as_deref().and_then(|t| t.parse().ok()),
        now: facts.now,
        interval: facts.interval,
    };
    if keep.keeps_recorded_time() {
        status.credentials_verified_at = recorded_at;
    }
    // One Warning when the login stops working; the condition says the rest.
    let refused = matches!(
        asked.verdict,
        Verdict::Rejected { .. } | Verdict::Forbidden { .. }
    );
    (refused && before != Some(reason)).then_some(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const HOUR6: Duration = Duration::from_secs(6 * 3600);

    fn checked(login: u64, at: &str, misses: u32) -> Checked {
        Checked {
            login,
            at: t(at),
            misses,
            said: None,
        }
    }

    #[test]
    fn the_last_answer_is_said_again_over_a_copy_without_it() {
        let said = (Verdict::Accepted, "https://h/db/neo4j/query/v2".to_string());
        let last = Checked {
            said: Some(said.clone()),
            ..checked(7, "2026-12-06T06:00:00Z", 0)
        };
        let never_asked = checked(7, "2026-12-06T06:00:00Z", 0);
        // (has condition, last, login, said again)
        let cases = [
            (false, Some(&last), Some(7), Some(&said)),
            (true, Some(&last), Some(7), None),
            (false, Some(&last), Some(8), None),
            (false, Some(&never_asked), Some(7), None),
            (false, None, Some(7), None),
        ];
        for (has, last, login, want) in cases {
            assert_eq!(said_again(has, last, login), want, "{has} {login:?}");
        }
    }

    /// (what, enabled, ready, login, last check, now, plan)
    type Case<'a> = (
        &'a str,
        bool,
        bool,
        Option<u64>,
        Option<&'a Checked>,
        &'a str,
        Plan,
    );

    fn assert_plans(cases: Vec<Case>) {
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
    fn a_secret_nobody_owns_is_trusted_on_the_databases_yes() {
        let refused = Verdict::Rejected { code: None };
        let forbidden = Verdict::Forbidden { code: None };
        let down = Verdict::Unreachable("refused".into());
        // (verdict, labelled, distrust)
        let cases = [
            (Some(&Verdict::Accepted), false, None),
            (Some(&Verdict::Accepted), true, None),
            (Some(&refused), true, Some(Distrust::LoginRefused)),
            (Some(&forbidden), false, Some(Distrust::LoginRefused)),
            (Some(&down), true, None),
            (Some(&down), false, Some(Distrust::Unverifiable)),
            (None, true, None),
            (None, false, Some(Distrust::ChecksOff)),
        ];
        for (verdict, labelled, want) in cases {
            assert_eq!(trusted(verdict, labelled), want, "{verdict:?} {labelled}");
        }
    }

    #[test]
    fn when_to_check() {
        let ok = checked(1, "2026-01-01T00:00:00Z", 0);
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
        ];
        assert_plans(cases);
    }

    #[test]
    fn when_to_check_again() {
        let ok = checked(1, "2026-01-01T00:00:00Z", 0);
        let missed_once = checked(1, "2026-01-01T00:00:00Z", 1);
        let missed_five = checked(1, "2026-01-01T00:00:00Z", 5);
        let missed_often = checked(1, "2026-01-01T00:00:00Z", 6);
        let cases: Vec<Case> = vec![
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
        assert_plans(cases);
    }

    #[test]
    fn conditions_say_what_happened_without_values() {
        let cases = [
            (Verdict::Accepted, State::True, Reason::CredentialsAccepted),
            (
                Verdict::Rejected {
                    code: Some("Neo.ClientError.Security.Unauthorized".into()),
                },
                State::False,
                Reason::AuthenticationFailed,
            ),
            (
                Verdict::Forbidden { code: None },
                State::False,
                Reason::AccessDenied,
            ),
            (
                Verdict::Unreachable("cannot connect".into()),
                State::Unknown,
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
        let accepted = || (State::True, Reason::CredentialsAccepted, "m".to_string());
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
            (State::False, Reason::AuthenticationFailed, "m".into()),
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
