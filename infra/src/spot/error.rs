//! Sorting Spot's failures into core's `RemoteError`: what the caller should do about each. Messages
//! name the call and say what to fix; the token never appears in them (it travels only in a header).

use greenfleet_core::failure::{self, FailureKind, Observed};
use greenfleet_core::ports::RemoteError;

use super::wire::{ErrorEnvelope, RequestOnly};

/// Spot's error codes for "this Elastigroup does not exist" (in this account). Spot's OpenAPI lists
/// no error codes for the group paths; GROUP_DOESNT_EXIST is the code terraform-provider-spotinst
/// (`ErrCodeGroupNotFound`, spotinst/resource_spotinst_elastigroup_aws.go) treats as a missing group,
/// and its issue #7 shows Spot answering it with HTTP 400, not 404. So the code decides, whatever the
/// status.
const GROUP_MISSING: &[&str] = &["GROUP_DOESNT_EXIST"];

/// Spot's `request.id` of an answer, if the body has one: Spot's support asks for it, so every error
/// and log line about a Spot answer carries it.
pub(crate) fn request_id(body: &[u8]) -> Option<String> {
    let part = serde_json::from_slice::<RequestOnly>(body).ok()?.request;
    Some(part.id).filter(|id| !id.trim().is_empty())
}

/// ` (Spot request id …)` for a message, or nothing.
pub(crate) fn cite(request_id: Option<&str>) -> String {
    request_id.map_or_else(String::new, |id| format!(" (Spot request id {id})"))
}

/// Why a [`super::SpotHttpClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpotSetupError {
    /// The token is empty.
    #[error("the Spot token is empty; set SPOTINST_TOKEN to an API token from the Spot console")]
    EmptyToken,
    /// The base URL does not parse.
    #[error("Spot base URL `{url}` is not a valid http(s) URL: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("could not build the HTTP client for Spot: {0}")]
    Http(String),
    /// No Spot account was given.
    #[error(
        "the Spot account is not set: set SPOTINST_ACCOUNT (or --spot-account) to the id of the Spot account \
         that owns the Elastigroups, e.g. act-1a2b3c4d (Spot console: Settings, Account). Spot requires it on \
         the Blue/Green and capacity calls; without it Spot would act on the organization's oldest account"
    )]
    MissingAccount,
    /// The account given is not a Spot account id.
    #[error(
        "the Spot account `{given}` (SPOTINST_ACCOUNT or --spot-account) is not a Spot account id: {reason}; \
         an account id looks like act-1a2b3c4d (Spot console: Settings, Account)"
    )]
    BadAccount {
        /// What was given.
        given: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The call a failure belongs to, e.g. `PUT /aws/ec2/group/sig-1/capacity`.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: reqwest::Method,
    pub(crate) path: String,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Longest piece of a non-JSON body quoted in a message.
const SNIPPET: usize = 200;

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(SNIPPET) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// `X-RateLimit-Reset` (seconds, possibly fractional) in milliseconds.
pub(crate) fn reset_ms(header: Option<&str>) -> Option<u64> {
    let secs: f64 = header?.trim().parse().ok()?;
    // Truncation is fine: the value is small and non-negative after the check.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).ceil() as u64)
}

/// A non-2xx answer as core's classification and a `RemoteError`: Spot's GROUP_DOESNT_EXIST first
/// (whatever the status), then [`greenfleet_core::failure::classify`] on the status and Spot's code.
pub(crate) fn from_status(
    call: &Call,
    status: u16,
    rate_limit_reset: Option<&str>,
    body: &[u8],
) -> (FailureKind, RemoteError) {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    let rid = cite(Some(envelope.request.id.as_str()).filter(|id| !id.trim().is_empty()));
    let errors = &envelope.response.errors;
    let code = errors.iter().map(|e| e.code.as_str()).find(|c| !c.is_empty()).map(str::to_owned);
    let mut detail = errors
        .iter()
        .map(|e| match e.field.as_deref().filter(|f| !f.is_empty()) {
            Some(field) => format!("{} (field `{field}`)", e.message),
            None => e.message.clone(),
        })
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if detail.is_empty() {
        detail = envelope.response.status.map(|s| s.message).filter(|m| !m.is_empty()).unwrap_or_else(|| snippet(body));
    }
    let said = if detail.is_empty() { String::new() } else { format!(": {detail}") };
    if let Some(missing) = errors.iter().map(|e| e.code.as_str()).find(|c| GROUP_MISSING.contains(c)) {
        let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
        return (
            FailureKind::NotFound,
            RemoteError::NotFound(format!(
                "Spot answered {call} with {status} {missing}{detail}: no such Elastigroup in this account; \
                 check the Elastigroup id and that SPOTINST_ACCOUNT is the account that owns it{rid}"
            )),
        );
    }
    let kind = failure::classify(Observed::Answered { status, code: code.as_deref() });
    let error = match kind {
        FailureKind::Throttled => RemoteError::Throttled {
            message: format!("Spot rate limit exceeded on {call}{said}{rid}"),
            retry_after_ms: reset_ms(rate_limit_reset),
        },
        FailureKind::NotFound => RemoteError::NotFound(format!(
            "Spot answered {status} to {call}{said}; check the Elastigroup id and SPOTINST_ACCOUNT{rid}"
        )),
        FailureKind::Transient | FailureKind::EndpointUnreachable => {
            RemoteError::Unavailable(format!("Spot answered {status} to {call}{said}{rid}"))
        }
        FailureKind::AccessDenied | FailureKind::NoCredentials | FailureKind::NoRegion if status == 403 => {
            RemoteError::Rejected {
                code: code.unwrap_or_else(|| "FORBIDDEN".to_owned()),
                message: format!(
                    "Spot forbade {call}{said}; check that the token's user may act on this account \
                     (SPOTINST_ACCOUNT) and group{rid}"
                ),
            }
        }
        FailureKind::AccessDenied | FailureKind::NoCredentials | FailureKind::NoRegion => RemoteError::Rejected {
            code: code.unwrap_or_else(|| "UNAUTHORIZED".to_owned()),
            message: format!("the Spot token was refused on {call}{said}; check SPOTINST_TOKEN{rid}"),
        },
        FailureKind::Conflict | FailureKind::Invalid => RemoteError::Rejected {
            code: code.unwrap_or_else(|| format!("HTTP_{status}")),
            message: format!("Spot refused {call} with {status}{said}{rid}"),
        },
    };
    (kind, error)
}

/// A transport failure (timeout, connection, reading the body) as a `RemoteError`.
pub(crate) fn from_transport(call: &Call, timeout_ms: u64, err: &reqwest::Error) -> RemoteError {
    if err.is_timeout() {
        return RemoteError::Unavailable(format!("{call} timed out after {timeout_ms} ms"));
    }
    let root = root_cause(err);
    if err.is_connect() {
        return RemoteError::Unavailable(format!("could not connect to Spot for {call}: {root}"));
    }
    RemoteError::Unavailable(format!("{call} failed: {root}"))
}

/// The innermost cause: reqwest's own message ("error sending request") says little.
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A 2xx answer whose body greenfleet cannot read (`request_id`: Spot's, when the body names one).
pub(crate) fn malformed(call: &Call, why: &str, request_id: Option<&str>) -> RemoteError {
    RemoteError::Rejected {
        code: "MALFORMED_RESPONSE".to_owned(),
        message: format!(
            "Spot answered {call} with a body greenfleet cannot read ({why}); is GREENFLEET_SPOT_URL the Spot API?{}",
            cite(request_id)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call {
        Call { method: reqwest::Method::PUT, path: "/aws/ec2/group/sig-1/capacity".into() }
    }

    #[test]
    fn errors_envelope_gives_code_message_and_field() {
        let body = br#"{"response":{"status":{"code":400,"message":"Bad Request"},
            "errors":[{"code":"VALIDATION_ERROR","message":"maximum is lower than target","field":"capacity.maximum"}]}}"#;
        let e = from_status(&call(), 400, None, body).1;
        let RemoteError::Rejected { code, message } = e else { panic!("{e:?}") };
        assert_eq!(code, "VALIDATION_ERROR");
        assert!(message.contains("maximum is lower than target (field `capacity.maximum`)"), "{message}");
        assert!(message.contains("PUT /aws/ec2/group/sig-1/capacity"), "{message}");
    }

    /// Regression: a missing group was recognized only by HTTP 404, but Spot answers it 400
    /// GROUP_DOESNT_EXIST; and Spot's request id, which its support asks for, was dropped.
    #[test]
    fn a_missing_group_is_recognized_by_its_code_and_every_error_keeps_the_request_id() {
        let body = br#"{"request":{"id":"9f1c-77","url":"/aws/ec2/group/sig-1/capacity","method":"PUT"},
            "response":{"status":{"code":400,"message":"Bad Request"},
            "errors":[{"code":"GROUP_DOESNT_EXIST","message":"Group doesn't exist"}]}}"#;
        let e = from_status(&call(), 400, None, body).1;
        let RemoteError::NotFound(message) = &e else { panic!("{e:?}") };
        assert!(message.contains("GROUP_DOESNT_EXIST") && message.contains("Group doesn't exist"), "{message}");
        assert!(message.contains("check the Elastigroup id and that SPOTINST_ACCOUNT"), "{message}");
        assert!(message.ends_with("(Spot request id 9f1c-77)"), "{message}");
        assert!(!e.is_retryable());

        let with_id = |status: u16, errors: &str| {
            let body = format!(r#"{{"request":{{"id":"r-42"}},"response":{{"errors":{errors}}}}}"#);
            from_status(&call(), status, Some("1"), body.as_bytes()).1.to_string()
        };
        let refused = r#"[{"code":"VALIDATION_ERROR","message":"no"}]"#;
        for status in [400, 401, 403, 404, 409, 429, 503] {
            let text = with_id(status, refused);
            assert!(text.contains("(Spot request id r-42)"), "{status}: {text}");
        }
        assert!(
            !from_status(&call(), 400, None, br#"{"response":{"errors":[]}}"#).1.to_string().contains("request id")
        );
        assert_eq!(request_id(br#"{"request":{"id":"abc"},"response":{}}"#).as_deref(), Some("abc"));
        assert_eq!(request_id(b"<html>"), None);
        assert!(malformed(&call(), "no items", Some("abc")).to_string().ends_with("(Spot request id abc)"));
    }

    #[test]
    fn statuses_are_sorted() {
        let throttled = from_status(&call(), 429, Some("2"), br#"{"response":{"status":{"code":429}},"data":"x"}"#).1;
        assert!(
            matches!(&throttled, RemoteError::Throttled { message, retry_after_ms: Some(2000) } if message.contains("rate limit")),
            "{throttled:?}"
        );
        assert!(matches!(from_status(&call(), 404, None, b"").1, RemoteError::NotFound(_)));
        assert!(
            matches!(from_status(&call(), 502, None, b"<html>bad gateway</html>").1, RemoteError::Unavailable(m) if m.contains("bad gateway"))
        );
        let e = from_status(&call(), 401, None, b"").1;
        assert!(e.to_string().contains("check SPOTINST_TOKEN") && e.to_string().starts_with("UNAUTHORIZED"), "{e}");
        assert!(
            matches!(from_status(&call(), 409, None, b"").1, RemoteError::Rejected { code, .. } if code == "HTTP_409")
        );
        assert_eq!(reset_ms(Some("0.25")), Some(250));
        assert_eq!(reset_ms(Some("soon")), None);
    }
}
