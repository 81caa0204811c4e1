//! The one error type of the Aura client.
//!
//! Every failure names the call, carries what Aura said (status, reason, message,
//! field, `X-Request-Id`) and classifies itself so the controller can decide
//! between requeue, wait, give up and "go and look" without parsing strings.
//! It never holds credentials or tokens, so Debug and Display are safe to log.

use std::fmt;
use std::time::Duration;

/// What the caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuraErrorKind {
    /// Try again later: network trouble, 429, 5xx, a token endpoint hiccup.
    Transient,
    /// The thing is not there (404 `db-not-found`, `snapshot-not-found`).
    NotFound,
    /// Busy: 409 `ongoing-database-operation`; wait for the current operation.
    Conflict,
    /// Retrying will not help: bad input (400), no permission (403 with a fresh
    /// token), unknown tenant, rejected credentials.
    NeedsHuman,
    /// A non-idempotent call (create) may or may not have taken effect.
    OutcomeUnknown,
}

impl fmt::Display for AuraErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Transient => "transient",
            Self::NotFound => "not found",
            Self::Conflict => "conflict",
            Self::NeedsHuman => "needs human",
            Self::OutcomeUnknown => "outcome unknown",
        })
    }
}

/// Which endpoint answered: the token endpoint classifies differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Api,
    /// A call scoped to one tenant: its 404 means the tenant is unknown,
    /// whatever the body says (or does not say).
    Tenant,
    /// `POST /instances`: a 5xx may have committed.
    Create,
    /// A write whose 5xx says nothing about its outcome (v2beta1 answers 500
    /// to an IP filter DELETE that deleted): never retried, the caller
    /// confirms with a read.
    Unconfirmed,
}

/// The reason of Aura's refusal of an action the tenant's tier lacks.
const NOT_OFFERED: &str = "tenant-incapable-of-action";

/// The reason of Aura's refusal of a second IP filter on an entity that
/// already has one.
const FILTER_EXISTS: &str = "ip-filter-already-exists";
const ALREADY_MEMBER: &str = "user-already-member";

/// The reason of Aura's refusal to delete a key an instance uses.
const KEY_IN_USE: &str = "encryption-key-is-active";

/// Aura's refusal to copy data into a smaller instance. The spec documents
/// only its status (500) and its message, "Cannot clone database <source>
/// into smaller database <target>.", no reason: it is read from the message,
/// here and nowhere else.
fn is_size_disparity(status: u16, message: &str) -> bool {
    status == 500 && message.contains("into smaller database")
}

/// Pure classification of an HTTP failure.
pub(crate) fn classify_http(
    endpoint: Endpoint,
    status: u16,
    reason: Option<&str>,
    size_disparity: bool,
) -> AuraErrorKind {
    use AuraErrorKind::*;
    let transient = status == 408 || status == 429 || status >= 500;
    match endpoint {
        Endpoint::Token if transient => Transient,
        // 400/401/403 at the token endpoint: the credentials are wrong.
        Endpoint::Token => NeedsHuman,
        // The spec's answer to an overwrite (or a clone) into a smaller
        // instance is a 500: a refusal all the same, which nothing retries away.
        _ if size_disparity => NeedsHuman,
        Endpoint::Create | Endpoint::Unconfirmed if status >= 500 => OutcomeUnknown,
        Endpoint::Tenant if status == 404 => NeedsHuman,
        Endpoint::Api | Endpoint::Create | Endpoint::Tenant | Endpoint::Unconfirmed => match status
        {
            404 if reason == Some("tenant-not-found") => NeedsHuman,
            404 => NotFound,
            409 => Conflict,
            _ if transient => Transient,
            // 400, 401/403 that survived a token refresh, 415, 420, redirects...
            _ => NeedsHuman,
        },
    }
}

/// A failed Aura call. Boxed so `Result<T, AuraError>` stays small.
#[derive(Clone, PartialEq, Eq)]
pub struct AuraError(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    operation: String,
    kind: AuraErrorKind,
    status: Option<u16>,
    reason: Option<String>,
    message: String,
    field: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
}

impl AuraError {
    /// An HTTP answer that was not a success.
    pub(crate) fn http(
        operation: impl Into<String>,
        endpoint: Endpoint,
        status: u16,
        body: &str,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let (reason, message, field) = parse_error_body(body, status);
        Self(Box::new(Details {
            operation: operation.into(),
            kind: classify_http(
                endpoint,
                status,
                reason.as_deref(),
                is_size_disparity(status, &message),
            ),
            status: Some(status),
            reason,
            message,
            field,
            request_id,
            retry_after,
        }))
    }

    /// No HTTP answer (connect, timeout, reset) or an unreadable one.
    pub(crate) fn other(
        operation: impl Into<String>,
        kind: AuraErrorKind,
        status: Option<u16>,
        message: impl Into<String>,
        request_id: Option<String>,
    ) -> Self {
        Self(Box::new(Details {
            operation: operation.into(),
            kind,
            status,
            reason: None,
            message: message.into(),
            field: None,
            request_id,
            retry_after: None,
        }))
    }

    /// The same error reported for another call (a remembered token failure).
    pub(crate) fn for_operation(mut self, operation: &str) -> Self {
        self.0.operation = format!("{operation}: {}", self.0.operation);
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        if retry_after.is_some() {
            self.0.retry_after = retry_after;
        }
        self
    }

    pub fn kind(&self) -> AuraErrorKind {
        self.0.kind
    }
    /// The call, e.g. `get instance 8f769515`.
    pub fn operation(&self) -> &str {
        &self.0.operation
    }
    /// HTTP status, `None` when no answer came.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }
    /// Aura's `reason` (e.g. `db-not-found`) or the OAuth/gateway `error` code.
    pub fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    pub fn message(&self) -> &str {
        &self.0.message
    }
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }
    /// `X-Request-Id` of the failed answer: quote it to Aura support.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    /// `Retry-After` of the answer, when it had one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }
    pub fn is_transient(&self) -> bool {
        self.0.kind == AuraErrorKind::Transient
    }
    /// The tenant's tier does not offer the action (400
    /// `tenant-incapable-of-action`): a fact to show, not a failure.
    pub fn not_offered(&self) -> bool {
        self.0.status == Some(400) && self.0.reason.as_deref() == Some(NOT_OFFERED)
    }
    /// Aura refused to delete a customer-managed key because an instance
    /// still uses it: wait for the instance to go, not a reason to stop.
    pub fn key_in_use(&self) -> bool {
        self.0.status == Some(400) && self.0.reason.as_deref() == Some(KEY_IN_USE)
    }

    /// Aura refused an IP filter on an entity that already has one.
    pub fn filter_exists(&self) -> bool {
        self.0.reason.as_deref() == Some(FILTER_EXISTS)
    }

    /// Aura refused to add (or invite) a person who is a member already.
    pub fn already_member(&self) -> bool {
        self.0.status == Some(409) && self.0.reason.as_deref() == Some(ALREADY_MEMBER)
    }
}

impl fmt::Display for AuraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.0.operation)?;
        if self.0.kind == AuraErrorKind::OutcomeUnknown {
            f.write_str("outcome unknown, ")?;
        }
        if let Some(status) = self.0.status {
            write!(f, "HTTP {status}")?;
            match (&self.0.reason, &self.0.field) {
                (Some(r), Some(field)) => write!(f, " ({r}, field {field})")?,
                (Some(r), None) => write!(f, " ({r})")?,
                (None, Some(field)) => write!(f, " (field {field})")?,
                (None, None) => {}
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.0.message)?;
        if let Some(id) = &self.0.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for AuraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for AuraError {}

const MAX_RAW_MESSAGE: usize = 300;

/// Reads every error shape Aura was seen to send (v1 and v2beta1 alike);
/// anything else becomes a short raw message.
fn parse_error_body(body: &str, status: u16) -> (Option<String>, String, Option<String>) {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(read) = value.as_object().and_then(structured)
    {
        return read;
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        let canonical = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no body");
        return (None, canonical.to_lowercase(), None);
    }
    let mut end = trimmed.len().min(MAX_RAW_MESSAGE);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    (None, trimmed[..end].to_string(), None)
}

type Object = serde_json::Map<String, serde_json::Value>;

/// A non-empty text under `key`, whatever its letter case (`Message` and
/// `Reason` were seen live).
fn text(obj: &Object, key: &str) -> Option<String> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// (reason, message, field) of a JSON error body:
/// - v1's `{"errors":[{message, reason, field}]}`, also with a `reason`
///   and `message` beside the list (v2beta1's validation errors);
/// - billing's `{"errors":[{error, message}]}` (`error` is the code);
/// - the gateway's and OAuth's `{error, error_description}`;
/// - a bare `{message, reason}` (v2beta1, GDS errors), in any letter case.
fn structured(obj: &Object) -> Option<(Option<String>, String, Option<String>)> {
    let (top_reason, top_message) = (text(obj, "reason"), text(obj, "message"));
    let errors: Vec<&Object> = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("errors"))
        .and_then(|(_, v)| v.as_array())
        .map(|list| list.iter().filter_map(|e| e.as_object()).collect())
        .unwrap_or_default();
    if let Some(first) = errors.first() {
        let messages: Vec<String> = errors
            .iter()
            .filter_map(|e| text(e, "message").or_else(|| text(e, "error")))
            .collect();
        let code = text(first, "message").and_then(|_| text(first, "error"));
        let reason = text(first, "reason").or(code).or(top_reason);
        let message = if messages.is_empty() {
            top_message.unwrap_or_default()
        } else {
            messages.join("; ")
        };
        return Some((reason, message, text(first, "field")));
    }
    if let Some(error) = text(obj, "error") {
        return Some(match text(obj, "error_description") {
            // OAuth: `error` is the code, `error_description` the text.
            Some(description) => (Some(error), description, None),
            None => (None, error, None),
        });
    }
    match (top_reason, top_message) {
        (None, None) => None,
        (reason, message) => {
            let message = message.or_else(|| reason.clone()).unwrap_or_default();
            Some((reason, message, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuraErrorKind::*;

    #[test]
    fn classification_table() {
        let cases: &[(Endpoint, u16, Option<&str>, AuraErrorKind)] = &[
            (Endpoint::Api, 400, Some("invalid-input"), NeedsHuman),
            (
                Endpoint::Api,
                400,
                Some("missing-billing-details"),
                NeedsHuman,
            ),
            (Endpoint::Api, 401, None, NeedsHuman),
            (Endpoint::Api, 403, None, NeedsHuman),
            (Endpoint::Api, 404, Some("db-not-found"), NotFound),
            (Endpoint::Api, 404, Some("snapshot-not-found"), NotFound),
            (Endpoint::Api, 404, Some("tenant-not-found"), NeedsHuman),
            (
                Endpoint::Api,
                409,
                Some("ongoing-database-operation"),
                Conflict,
            ),
            (Endpoint::Api, 415, None, NeedsHuman),
            (Endpoint::Tenant, 404, None, NeedsHuman),
            (Endpoint::Unconfirmed, 500, None, OutcomeUnknown),
            (Endpoint::Unconfirmed, 404, None, NotFound),
            (Endpoint::Unconfirmed, 400, None, NeedsHuman),
            (Endpoint::Tenant, 404, Some("tenant-not-found"), NeedsHuman),
            (Endpoint::Tenant, 429, None, Transient),
            (Endpoint::Tenant, 500, None, Transient),
            (Endpoint::Api, 429, None, Transient),
            (Endpoint::Api, 500, None, Transient),
            (Endpoint::Api, 502, None, Transient),
            (Endpoint::Api, 503, None, Transient),
            (Endpoint::Api, 504, None, Transient),
            (Endpoint::Create, 500, None, OutcomeUnknown),
            (Endpoint::Create, 503, None, OutcomeUnknown),
            (Endpoint::Create, 429, None, Transient),
            (Endpoint::Create, 400, Some("invalid-input"), NeedsHuman),
            (Endpoint::Create, 409, None, Conflict),
            (Endpoint::Token, 401, Some("access_denied"), NeedsHuman),
            (Endpoint::Token, 400, None, NeedsHuman),
            (Endpoint::Token, 403, None, NeedsHuman),
            (Endpoint::Token, 429, None, Transient),
            (Endpoint::Token, 500, None, Transient),
        ];
        for (endpoint, status, reason, want) in cases {
            assert_eq!(
                classify_http(*endpoint, *status, *reason, false),
                *want,
                "{endpoint:?} {status} {reason:?}"
            );
        }
    }

    #[test]
    fn a_copy_into_a_smaller_instance_is_read_from_the_message_as_the_spec_gives_it() {
        let refused = r#"{"errors":[{"message":"Cannot clone database 1a2b3c4d into smaller database 5e6f7a8b."}]}"#;
        let cases = [
            (Endpoint::Api, 500, refused, NeedsHuman),
            (Endpoint::Create, 500, refused, NeedsHuman),
            // The same words under another status are not that refusal.
            (Endpoint::Api, 400, refused, NeedsHuman),
            (
                Endpoint::Api,
                500,
                r#"{"errors":[{"message":"Internal error"}]}"#,
                Transient,
            ),
            (
                Endpoint::Create,
                500,
                r#"{"errors":[{"message":"Internal error"}]}"#,
                OutcomeUnknown,
            ),
        ];
        for (endpoint, status, body, want) in cases {
            let e = AuraError::http("overwrite", endpoint, status, body, None, None);
            assert_eq!(e.kind(), want, "{endpoint:?} {status} {body}");
        }
    }

    #[test]
    fn display_names_call_status_reason_field_and_request_id() {
        let body = r#"{"errors":[{"message":"Memory 3GB is not available","reason":"invalid-input","field":"memory"}]}"#;
        let e = AuraError::http(
            "create instance",
            Endpoint::Create,
            400,
            body,
            Some("1f2e3d".into()),
            None,
        );
        assert_eq!(
            e.to_string(),
            "create instance: HTTP 400 (invalid-input, field memory): Memory 3GB is not available [request id 1f2e3d]"
        );
        assert_eq!(e.kind(), NeedsHuman);
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.reason(), Some("invalid-input"));
        assert_eq!(e.field(), Some("memory"));
        assert_eq!(e.request_id(), Some("1f2e3d"));
    }

    #[test]
    fn every_error_shape_seen_live_is_read() {
        // (body, reason, message, field), the shapes of v1 and of v2beta1
        // as its notes record them.
        let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
            (
                r#"{"errors":[{"message":"Memory 3GB is not available","reason":"invalid-input","field":"memory"}]}"#,
                Some("invalid-input"),
                "Memory 3GB is not available",
                Some("memory"),
            ),
            // v2beta1's validation error: the reason beside the list.
            (
                r#"{"errors":[{"field":"type","message":"must be one of free, professional"}],"message":"invalid request","reason":"validation-error"}"#,
                Some("validation-error"),
                "must be one of free, professional",
                Some("type"),
            ),
            // Bare, and capitalised.
            (
                r#"{"message":"only multi-database instances have databases","reason":"multi-db-only"}"#,
                Some("multi-db-only"),
                "only multi-database instances have databases",
                None,
            ),
            (
                r#"{"Message":"IP filter exists","Reason":"ip-filter-already-exists"}"#,
                Some("ip-filter-already-exists"),
                "IP filter exists",
                None,
            ),
            // GDS: an id beside; an empty reason is none.
            (
                r#"{"id":"e-1","message":"session exists with different parameters","reason":""}"#,
                None,
                "session exists with different parameters",
                None,
            ),
            // Billing: `error` is the code.
            (
                r#"{"errors":[{"error":"rate-limited","message":"10 requests a day"}]}"#,
                Some("rate-limited"),
                "10 requests a day",
                None,
            ),
            // A reason only.
            (
                r#"{"reason":"invite-not-found"}"#,
                Some("invite-not-found"),
                "invite-not-found",
                None,
            ),
            // Plain text.
            (
                "- at '': missing property 'id'",
                None,
                "- at '': missing property 'id'",
                None,
            ),
        ];
        for (body, reason, message, field) in cases {
            let e = AuraError::http("call", Endpoint::Api, 400, body, None, None);
            assert_eq!(e.reason(), *reason, "{body}");
            assert_eq!(e.message(), *message, "{body}");
            assert_eq!(e.field(), *field, "{body}");
        }
    }

    #[test]
    fn both_error_shapes_are_read() {
        let e = AuraError::http(
            "token",
            Endpoint::Token,
            401,
            r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
            None,
            None,
        );
        assert_eq!(e.reason(), Some("access_denied"));
        assert_eq!(e.message(), "Unauthorized");
        assert_eq!(e.kind(), NeedsHuman);

        let e = AuraError::http(
            "list tenants",
            Endpoint::Api,
            502,
            r#"{"error":"upstream down","extra":1}"#,
            None,
            None,
        );
        assert_eq!(e.reason(), None);
        assert_eq!(e.message(), "upstream down");
        assert_eq!(e.to_string(), "list tenants: HTTP 502: upstream down");

        let e = AuraError::http("x", Endpoint::Api, 503, "", None, None);
        assert_eq!(e.message(), "service unavailable");
        let e = AuraError::http("x", Endpoint::Api, 500, "<html>oops</html>", None, None);
        assert_eq!(e.message(), "<html>oops</html>");
    }

    #[test]
    fn an_error_without_reason_keeps_its_message() {
        let body = r#"{"errors":[{"message":"Tenant not found"}]}"#;
        let e = AuraError::http("get tenant t", Endpoint::Tenant, 404, body, None, None);
        assert_eq!(e.message(), "Tenant not found");
        assert_eq!(e.reason(), None);
        assert_eq!(e.kind(), NeedsHuman);
    }

    #[test]
    fn several_errors_are_joined() {
        let body = r#"{"errors":[{"message":"a","reason":"r1"},{"message":"b","reason":"r2","field":"f"}],"more":true}"#;
        let e = AuraError::http("x", Endpoint::Api, 400, body, None, None);
        assert_eq!(e.message(), "a; b");
        assert_eq!(e.reason(), Some("r1"));
    }

    #[test]
    fn outcome_unknown_says_so() {
        let e = AuraError::http(
            "create instance",
            Endpoint::Create,
            500,
            "",
            Some("r".into()),
            None,
        );
        assert_eq!(e.kind(), OutcomeUnknown);
        assert!(
            e.to_string()
                .starts_with("create instance: outcome unknown, HTTP 500")
        );
    }
}
