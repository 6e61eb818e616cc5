//! One classification of failed calls to AWS and Spot, shared by `infra` and `greenfleet-client`.
//!
//! Why here: the client may not depend on `infra`, and core has no SDK, so the *pure* part lives in
//! core: what a failure looks like without SDK types ([`Observed`]: an answer's HTTP status and error
//! code, or the kind of "no answer") goes in, one [`FailureKind`] comes out, with whether it is worth
//! retrying and a short "what to do". Each adapter converts its own error (an `SdkError`, a reqwest
//! error) into an [`Observed`] in one small function, and every list of error codes lives here once.
//!
//! Two retry layers read this, with different questions:
//! * [`FailureKind::is_retryable`]: may the same step succeed later? The saga's attempts (durable,
//!   with backoff, the message back on the queue) are the one retry layer that decides this.
//! * [`FailureKind::is_transport_retryable`]: may the transport (the AWS SDK, the Spot client) repeat
//!   the HTTP request at once, within its small budget? Only when the service surely did not act:
//!   throttling (refused before acting) and connection failures (nothing was sent). A 5xx may come
//!   from a gateway after the service acted, so on a non-idempotent call only the saga, which reads
//!   the state first, may repeat it.
//!
//! The code lists are checked against botocore's `_retry.json` (`retry.__default__.policies` and the
//! per-service policies of `dynamodb`, `ec2` and `sqs`) by the contract suite
//! (`tests/tests/contract/retry.rs`), and against the AWS SDK for Rust's own lists
//! (`aws-runtime`'s `retries::classifiers::THROTTLING_ERRORS` and `TRANSIENT_ERRORS`).

/// Error codes that mean "slow down": botocore `_retry.json` `__default__` (Throttling,
/// ThrottlingException, ThrottledException, RequestThrottledException,
/// ProvisionedThroughputExceededException), `sqs` (RequestThrottled, HTTP 403), `ec2`
/// (RequestLimitExceeded and EC2ThrottledException, HTTP 503), `dynamodb` (TransactionInProgressException);
/// plus the rest of aws-runtime's `THROTTLING_ERRORS` (TooManyRequestsException, BandwidthLimitExceeded,
/// LimitExceededException, SlowDown, PriorRequestNotComplete).
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes of failures on the service's side that may pass: aws-runtime's `TRANSIENT_ERRORS`
/// (RequestTimeout, RequestTimeoutException), botocore `dynamodb`'s ReplicatedWriteConflictException
/// (HTTP 409), and the codes AWS JSON and query services send with a 5xx (InternalFailure in the
/// common errors of every JSON model, InternalError in EC2's and SQS's, InternalServerError in
/// DynamoDB's, ServiceUnavailable in the common errors).
pub const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "ReplicatedWriteConflictException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Error codes that mean the caller's identity or its permissions are the problem (the AWS common
/// errors, EC2's AuthFailure and UnauthorizedOperation).
pub const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
    "UnauthorizedOperation",
];

/// Error codes that mean a write lost to a concurrent one: read again and decide.
pub const CONFLICT_CODES: &[&str] =
    &["ConditionalCheckFailedException", "TransactionConflictException", "TransactionCanceledException"];

/// Endings of error codes that name something missing: `ResourceNotFoundException` (DynamoDB,
/// EventBridge), `…DoesNotExistException` (CodeDeploy), `AWS.SimpleQueueService.NonExistentQueue` and
/// `QueueDoesNotExist` (SQS), `InvalidInstanceID.NotFound` (EC2).
const NOT_FOUND_ENDINGS: &[&str] =
    &["NotFound", "NotFoundException", "DoesNotExist", "DoesNotExistException", "NonExistentQueue"];

/// A failed call as any adapter sees it, without SDK types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed<'a> {
    /// The service answered with an error.
    Answered {
        /// The HTTP status.
        status: u16,
        /// The service's error code, when the answer names one.
        code: Option<&'a str>,
    },
    /// No usable answer.
    NoAnswer(NoAnswer),
}

/// Why a call has no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// No connection was made (DNS, refused, TLS): nothing reached the service.
    Connect,
    /// The request was sent, then the connection broke or timed out: it may have taken effect.
    Interrupted,
    /// An answer came that could not be read.
    Unreadable,
    /// No credentials could be found.
    NoCredentials,
    /// No region is configured.
    NoRegion,
    /// The request could not be built: a bug or a bad setting.
    NotBuilt,
}

/// What a failure means for the caller. Match it without wildcards: a new kind must be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Throttled (HTTP 429, a throttling code): the service did not act; retry after a while.
    Throttled,
    /// A 5xx, an interrupted call or an unreadable answer: may pass, and may have taken effect.
    Transient,
    /// No connection to the endpoint: nothing was sent.
    EndpointUnreachable,
    /// A conditional write lost to another writer (HTTP 409, a conflict code).
    Conflict,
    /// The thing named does not exist (HTTP 404, a not-found code).
    NotFound,
    /// The credentials were refused, or their policy does not allow the call (HTTP 401/403).
    AccessDenied,
    /// No credentials could be found.
    NoCredentials,
    /// No region is configured.
    NoRegion,
    /// The service refused the request as given: retrying the same request will not help.
    Invalid,
}

impl FailureKind {
    /// Whether the same step may succeed later without anyone changing anything: the saga's test.
    #[must_use]
    pub fn is_retryable(self) -> bool {
        match self {
            Self::Throttled | Self::Transient | Self::EndpointUnreachable => true,
            Self::Conflict
            | Self::NotFound
            | Self::AccessDenied
            | Self::NoCredentials
            | Self::NoRegion
            | Self::Invalid => false,
        }
    }

    /// Whether the transport may repeat the HTTP request at once: only when the service surely did
    /// not act on it (throttled, or never reached). See the module doc.
    #[must_use]
    pub fn is_transport_retryable(self) -> bool {
        match self {
            Self::Throttled | Self::EndpointUnreachable => true,
            Self::Transient
            | Self::Conflict
            | Self::NotFound
            | Self::AccessDenied
            | Self::NoCredentials
            | Self::NoRegion
            | Self::Invalid => false,
        }
    }

    /// What is wrong, in a few words: leads a message whose cause chain is the SDK's internals.
    #[must_use]
    pub fn summary(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Transient => "the service failed or did not answer in time",
            Self::EndpointUnreachable => "could not connect to the endpoint",
            Self::Conflict => "a concurrent write came first",
            Self::NotFound => "not found",
            Self::AccessDenied => "access denied",
            Self::NoCredentials => "no AWS credentials found",
            Self::NoRegion => "no AWS region is set",
            Self::Invalid => "refused",
        }
    }

    /// `chain` (a [`cause_chain`]) led by [`Self::summary`] when the chain alone would not say it
    /// plainly: missing credentials or region and unreachable endpoints come out of the SDK as the
    /// internals of its credential chain or HTTP stack.
    #[must_use]
    pub fn describe(self, chain: &str) -> String {
        match self {
            Self::NoCredentials | Self::NoRegion | Self::EndpointUnreachable => {
                format!("{} ({chain})", self.summary())
            }
            Self::Throttled
            | Self::Transient
            | Self::Conflict
            | Self::NotFound
            | Self::AccessDenied
            | Self::Invalid => chain.to_owned(),
        }
    }

    /// What a person should do about it, in a few words (no trailing period).
    #[must_use]
    pub fn advice(self) -> &'static str {
        match self {
            Self::Throttled => "the service is throttling requests; retry in a minute",
            Self::Transient => "the service failed on its side; retry later",
            Self::EndpointUnreachable => {
                "check the network, and AWS_ENDPOINT_URL if you use an emulator (unset it for AWS itself)"
            }
            Self::Conflict => "another writer changed it first; read it again and retry",
            Self::NotFound => "check the name, the account and the region, or run `greenfleet infra up`",
            Self::AccessDenied => "check the AWS credentials and that their policy allows this action",
            Self::NoCredentials => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (see `aws configure`)"
            }
            Self::NoRegion => "set AWS_REGION (or a region in the AWS_PROFILE's config)",
            Self::Invalid => "the request was refused as sent; fix what the message names",
        }
    }
}

/// Whether `code` names something missing (see [`NOT_FOUND_ENDINGS`]).
#[must_use]
pub fn is_not_found_code(code: &str) -> bool {
    NOT_FOUND_ENDINGS.iter().any(|end| code.ends_with(end))
}

/// Sorts a failure: the error code decides first (services disagree on statuses: SQS throttles with
/// 403, EC2 with 503, DynamoDB refuses a missing table with 400), then the HTTP status.
#[must_use]
pub fn classify(observed: Observed<'_>) -> FailureKind {
    let (status, code) = match observed {
        Observed::NoAnswer(n) => {
            return match n {
                NoAnswer::Connect => FailureKind::EndpointUnreachable,
                NoAnswer::Interrupted | NoAnswer::Unreadable => FailureKind::Transient,
                NoAnswer::NoCredentials => FailureKind::NoCredentials,
                NoAnswer::NoRegion => FailureKind::NoRegion,
                NoAnswer::NotBuilt => FailureKind::Invalid,
            };
        }
        Observed::Answered { status, code } => (status, code.unwrap_or_default()),
    };
    if status == 429 || THROTTLING_CODES.contains(&code) {
        FailureKind::Throttled
    } else if TRANSIENT_CODES.contains(&code) {
        FailureKind::Transient
    } else if ACCESS_DENIED_CODES.contains(&code) {
        FailureKind::AccessDenied
    } else if CONFLICT_CODES.contains(&code) {
        FailureKind::Conflict
    } else if is_not_found_code(code) {
        FailureKind::NotFound
    } else {
        match status {
            500..=599 => FailureKind::Transient,
            401 | 403 => FailureKind::AccessDenied,
            404 => FailureKind::NotFound,
            409 => FailureKind::Conflict,
            _ => FailureKind::Invalid,
        }
    }
}

/// Whether an error's text says that no region is configured. The AWS SDK reports a missing region
/// only in words: its endpoint rules' "Invalid Configuration: Missing Region", or the signer's
/// "missing signing region" when `AWS_ENDPOINT_URL` skips the rules.
#[must_use]
pub fn says_region_missing(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("region") && (text.contains("missing") || text.contains("required"))
}

/// Whether `err` or one of its causes satisfies `pred` (e.g. is a given error type, or says something).
pub fn any_cause(
    err: &(dyn std::error::Error + 'static),
    pred: impl Fn(&(dyn std::error::Error + 'static)) -> bool,
) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if pred(e) {
            return true;
        }
        cur = e.source();
    }
    false
}

/// `err` and its causes, each said once, joined with `: `: what a person reads. The AWS SDK's own
/// `DisplayErrorContext` ends with the Debug form of the whole error (raw HTTP responses, headers),
/// and its `Display` alone says only "service error" or "dispatch failure".
#[must_use]
pub fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in std::iter::successors(Some(err), |e| e.source()) {
        let text = e.to_string();
        let text = text.trim();
        // The SDK's wrappers name the layer, not the cause.
        let wrapper = matches!(text, "service error" | "dispatch failure" | "other" | "io" | "unhandled error");
        if !text.is_empty() && !wrapper && !parts.iter().any(|p| p.contains(text)) {
            parts.push(text.to_owned());
        }
    }
    if parts.is_empty() { err.to_string() } else { parts.join(": ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, code: &str) -> FailureKind {
        classify(Observed::Answered { status, code: Some(code).filter(|c| !c.is_empty()) })
    }

    #[test]
    fn every_throttling_code_is_throttled_whatever_the_status() {
        for code in THROTTLING_CODES {
            for status in [400, 403, 503] {
                assert_eq!(answered(status, code), FailureKind::Throttled, "{code} {status}");
            }
        }
        assert_eq!(answered(429, ""), FailureKind::Throttled);
    }

    #[test]
    fn every_transient_code_is_transient_whatever_the_status() {
        for code in TRANSIENT_CODES {
            for status in [400, 409, 500] {
                assert_eq!(answered(status, code), FailureKind::Transient, "{code} {status}");
            }
        }
        for status in [500, 502, 503, 504, 509] {
            assert_eq!(answered(status, ""), FailureKind::Transient, "{status}");
        }
    }

    #[test]
    fn every_access_conflict_and_missing_code_is_placed() {
        for code in ACCESS_DENIED_CODES {
            assert_eq!(answered(400, code), FailureKind::AccessDenied, "{code}");
        }
        for code in CONFLICT_CODES {
            assert_eq!(answered(400, code), FailureKind::Conflict, "{code}");
        }
        for code in [
            "ResourceNotFoundException",
            "DeploymentGroupDoesNotExistException",
            "ApplicationDoesNotExistException",
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
            "InvalidInstanceID.NotFound",
        ] {
            assert_eq!(answered(400, code), FailureKind::NotFound, "{code}");
        }
        assert_eq!(answered(401, ""), FailureKind::AccessDenied);
        assert_eq!(answered(403, "VALIDATION_ERROR"), FailureKind::AccessDenied);
        assert_eq!(answered(404, ""), FailureKind::NotFound);
        assert_eq!(answered(409, ""), FailureKind::Conflict);
        assert_eq!(answered(400, "ValidationException"), FailureKind::Invalid);
        assert_eq!(answered(400, "DeploymentLimitExceededException"), FailureKind::Invalid);
    }

    #[test]
    fn no_answer_is_sorted_by_what_reached_the_service() {
        let no = |n| classify(Observed::NoAnswer(n));
        assert_eq!(no(NoAnswer::Connect), FailureKind::EndpointUnreachable);
        assert_eq!(no(NoAnswer::Interrupted), FailureKind::Transient);
        assert_eq!(no(NoAnswer::Unreadable), FailureKind::Transient);
        assert_eq!(no(NoAnswer::NoCredentials), FailureKind::NoCredentials);
        assert_eq!(no(NoAnswer::NoRegion), FailureKind::NoRegion);
        assert_eq!(no(NoAnswer::NotBuilt), FailureKind::Invalid);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        inner: Option<Box<Layer>>,
    }

    #[test]
    fn the_cause_chain_says_each_cause_once_and_skips_wrappers() {
        let root = Layer { text: "connection refused", inner: None };
        let mid = Layer { text: "error trying to connect: connection refused", inner: Some(Box::new(root)) };
        let top = Layer { text: "dispatch failure", inner: Some(Box::new(mid)) };
        assert_eq!(cause_chain(&top), "error trying to connect: connection refused");
        assert!(says_region_missing("Invalid Configuration: Missing Region"));
        assert!(says_region_missing("a signing region is required"));
        assert!(says_region_missing("missing signing region"));
        assert!(!says_region_missing("no region"));
    }

    #[test]
    fn the_transport_repeats_only_what_surely_did_not_act() {
        use FailureKind::*;
        let all = [
            Throttled,
            Transient,
            EndpointUnreachable,
            Conflict,
            NotFound,
            AccessDenied,
            NoCredentials,
            NoRegion,
            Invalid,
        ];
        let transport: Vec<_> = all.into_iter().filter(|k| k.is_transport_retryable()).collect();
        assert_eq!(transport, [Throttled, EndpointUnreachable]);
        let saga: Vec<_> = all.into_iter().filter(|k| k.is_retryable()).collect();
        assert_eq!(saga, [Throttled, Transient, EndpointUnreachable]);
        for k in all {
            // What the transport repeats, the saga would repeat too: nothing is lost by the budget.
            assert!(!k.is_transport_retryable() || k.is_retryable(), "{k:?}");
            assert!(!k.advice().is_empty() && !k.advice().ends_with('.'), "{k:?}");
            assert!(k.describe("why").contains("why"), "{k:?}");
        }
    }
}
