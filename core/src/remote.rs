//! How a call to Spot, CodeDeploy or EC2 failed, sorted by what the caller should do about it. Plain
//! data, below the effects and the saga that carry it (re-exported by [`crate::ports`]).

use serde::{Deserialize, Serialize};

/// A failed call to Spot or CodeDeploy, sorted by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RemoteError {
    /// Throttled (429, ThrottlingException): retry later, after `retry_after_ms` if given.
    #[error("throttled: {message}")]
    Throttled {
        /// What the service said.
        message: String,
        /// How long the service asked to wait.
        retry_after_ms: Option<u64>,
    },
    /// Timeout, connection failure or 5xx: retry with backoff.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The service refused the request; retrying the same request will not help.
    #[error("{code}: {message}")]
    Rejected {
        /// The service's error code, e.g. `DeploymentLimitExceededException`.
        code: String,
        /// Its message.
        message: String,
    },
}

impl RemoteError {
    /// Throttling and unavailability are worth retrying; the rest are not.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable(_))
    }
}
