//! Validated identifiers and tags: parsed once at the edge, trusted everywhere after.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identifier or tag was refused. The message names the rule, so it can be shown as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(pub String);

fn check_chars(what: &str, s: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), InvalidId> {
    if s.is_empty() {
        return Err(InvalidId(format!("{what} is empty")));
    }
    if s.len() > max {
        return Err(InvalidId(format!("{what} is {} characters long; at most {max} are allowed", s.len())));
    }
    if let Some(c) = s.chars().find(|c| !allowed(*c)) {
        return Err(InvalidId(format!("{what} `{s}` contains `{c}`, which is not allowed")));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The identifier as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// The publisher's `requestId`. Publishing the same id twice starts one rollout.
    RequestId
);
string_id!(
    /// One rollout (one saga). Derived 1:1 from the request id, so a duplicate request finds its rollout.
    RolloutId
);
string_id!(
    /// A Spot Elastigroup id, `sig-` followed by letters and digits.
    ElastigroupId
);
string_id!(
    /// A CodeDeploy deployment id, `d-` followed by letters and digits.
    DeploymentId
);
string_id!(
    /// An EC2 instance id, `i-` followed by letters and digits.
    InstanceId
);
string_id!(
    /// A Spot CodeDeploy Blue/Green deployment id (`cdbg-…`).
    GreenDeploymentId
);

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

fn prefixed(what: &str, prefix: &str, s: &str, max: usize) -> Result<String, InvalidId> {
    check_chars(what, s, max, |c| c.is_ascii_alphanumeric() || c == '-')?;
    match s.strip_prefix(prefix) {
        Some(rest) if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()) => Ok(s.to_owned()),
        _ => Err(InvalidId(format!(
            "{what} `{s}` is malformed: expected `{prefix}` followed by letters and digits (for example `{prefix}1234abcd`)"
        ))),
    }
}

impl RequestId {
    /// Parses a request id: 1–64 characters of letters, digits, `-`, `_`, `.` or `:`.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        check_chars("requestId", s, 64, is_token_char)?;
        Ok(Self(s.to_owned()))
    }
}

impl RolloutId {
    /// The rollout a request starts: the same text as its request id.
    #[must_use]
    pub fn for_request(request: &RequestId) -> Self {
        Self(request.0.clone())
    }

    /// Parses a rollout id given by an operator (same rules as a request id).
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        RequestId::parse(s).map(|r| Self::for_request(&r))
    }
}

impl ElastigroupId {
    /// Parses `sig-…`.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        prefixed("elastigroupId", "sig-", s, 64).map(Self)
    }
}

impl DeploymentId {
    /// Parses `d-…`.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        prefixed("deploymentId", "d-", s, 64).map(Self)
    }
}

impl InstanceId {
    /// Parses `i-…`.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        prefixed("instanceId", "i-", s, 64).map(Self)
    }
}

impl GreenDeploymentId {
    /// Wraps the id Spot returned for a Blue/Green deployment (any non-empty token).
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        check_chars("Spot Blue/Green deployment id", s, 64, is_token_char)?;
        Ok(Self(s.to_owned()))
    }
}

/// An EC2 tag: key 1–128 characters, value up to 256, no `aws:` prefix (AWS reserves it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tag {
    /// The tag key.
    pub key: String,
    /// The tag value.
    pub value: String,
}

impl Tag {
    /// Validates a key/value pair as EC2 would.
    pub fn new(key: &str, value: &str) -> Result<Self, InvalidId> {
        if key.is_empty() {
            return Err(InvalidId("tag key is empty".into()));
        }
        if key.chars().count() > 128 {
            return Err(InvalidId(format!("tag key `{key}` is longer than 128 characters")));
        }
        if value.chars().count() > 256 {
            return Err(InvalidId(format!("tag `{key}` has a value longer than 256 characters")));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(InvalidId(format!("tag key `{key}` starts with `aws:`, which AWS reserves")));
        }
        Ok(Self { key: key.to_owned(), value: value.to_owned() })
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Milliseconds since the Unix epoch. core never reads a clock: time is always an argument.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
#[schemars(description = "Milliseconds since the Unix epoch.")]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This instant plus `ms` milliseconds (saturating).
    #[must_use]
    pub fn plus_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    #[must_use]
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_with_specific_messages() {
        assert!(ElastigroupId::parse("sig-1234abcd").is_ok());
        let e = ElastigroupId::parse("sg-1234").unwrap_err();
        assert!(e.0.contains("expected `sig-`"), "{e}");
        assert!(ElastigroupId::parse("sig-").is_err());
        assert!(DeploymentId::parse("d-ABC123").is_ok());
        assert!(DeploymentId::parse("d-12 3").unwrap_err().0.contains("` `"));
        assert!(RequestId::parse("").unwrap_err().0.contains("empty"));
        assert!(RequestId::parse(&"x".repeat(65)).unwrap_err().0.contains("65 characters"));
        assert!(Tag::new("aws:foo", "x").unwrap_err().0.contains("reserves"));
    }
}
