//! How to reach Spot: base URL, account, token, timeouts and retries. The token is a secret type
//! that never prints, so a `{:?}` of the whole config is safe to log.

use std::fmt;

use serde::Deserialize;

use super::error::SpotSetupError;

/// The production Spot API.
pub const DEFAULT_BASE_URL: &str = "https://api.spotinst.io";

/// A Spot API token (`Authorization: Bearer …`). Debug and Display print `SpotToken(***)`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SpotToken(String);

impl SpotToken {
    /// Wraps a token read from the environment or a secret store.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// Whether the token is empty (a missing `SPOTINST_TOKEN`, typically).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// The secret itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SpotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpotToken(***)")
    }
}

impl fmt::Display for SpotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpotToken(***)")
    }
}

/// A Spot account id (`act-` and letters or digits), sent as `accountId` on every call. Spot's
/// definition requires it on the Blue/Green and capacity endpoints; without it Spot acts on the
/// organization's oldest account, so in a multi-account organization greenfleet would reach the wrong
/// one. greenfleet therefore always requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotAccountId(String);

impl SpotAccountId {
    /// Validates an account id as given (surrounding blanks ignored).
    ///
    /// # Errors
    /// [`SpotSetupError::MissingAccount`] when it is absent or blank, [`SpotSetupError::BadAccount`] when
    /// it is not `act-` followed by letters or digits.
    pub fn parse(raw: Option<&str>) -> Result<Self, SpotSetupError> {
        let given = raw.map(str::trim).filter(|a| !a.is_empty()).ok_or(SpotSetupError::MissingAccount)?;
        let bad = |reason: &str| SpotSetupError::BadAccount { given: given.to_owned(), reason: reason.to_owned() };
        let rest = given.strip_prefix("act-").ok_or_else(|| bad("it does not start with `act-`"))?;
        if rest.is_empty() {
            return Err(bad("nothing follows `act-`"));
        }
        if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) || rest.len() > 64 {
            return Err(bad("after `act-` only letters and digits may follow (at most 64)"));
        }
        Ok(Self(given.to_owned()))
    }

    /// The id, e.g. `act-1a2b3c4d`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SpotAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Configuration of [`super::SpotHttpClient`]. Every field but the token and the account has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpotConfig {
    /// Base URL without a trailing path, e.g. `https://api.spotinst.io` or the simulator's address.
    #[serde(default = "defaults::base_url")]
    pub base_url: String,
    /// The Spot account (`act-…`), sent as `accountId`. Required: [`super::SpotHttpClient::new`] refuses
    /// to start without a valid one (see [`SpotAccountId`]).
    #[serde(default)]
    pub account_id: Option<String>,
    /// The API token.
    pub token: SpotToken,
    /// Timeout of one HTTP call (connect, send, read), in milliseconds.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Retries after the first attempt, only on throttling and connections never made; at most
    /// [`super::MAX_TRANSPORT_RETRIES`] whatever is set (the saga retries the rest).
    #[serde(default = "defaults::max_retries")]
    pub max_retries: usize,
    /// First backoff delay in milliseconds; it doubles (with jitter) up to
    /// [`super::MAX_TRANSPORT_WAIT`].
    #[serde(default = "defaults::retry_min_delay_ms")]
    pub retry_min_delay_ms: u64,
    /// `drainingTimeout` sent with `detachInstances`, in seconds: how long the load balancer drains an
    /// instance before Spot terminates it.
    #[serde(default = "defaults::draining_timeout_s")]
    pub draining_timeout_s: u32,
}

impl SpotConfig {
    /// The defaults with `token`; the account is still to be set.
    #[must_use]
    pub fn new(token: SpotToken) -> Self {
        Self {
            base_url: defaults::base_url(),
            account_id: None,
            token,
            timeout_ms: defaults::timeout_ms(),
            max_retries: defaults::max_retries(),
            retry_min_delay_ms: defaults::retry_min_delay_ms(),
            draining_timeout_s: defaults::draining_timeout_s(),
        }
    }
}

mod defaults {
    pub(super) fn base_url() -> String {
        super::DEFAULT_BASE_URL.to_owned()
    }
    pub(super) fn timeout_ms() -> u64 {
        10_000
    }
    pub(super) fn max_retries() -> usize {
        2
    }
    pub(super) fn retry_min_delay_ms() -> u64 {
        500
    }
    pub(super) fn draining_timeout_s() -> u32 {
        120
    }
}
