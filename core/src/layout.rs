//! Where greenfleet keeps things: the names of its queues, table, bus and rules (all derived from
//! one prefix), and the layout of its DynamoDB table. One definition, shared by the provisioning
//! code in `greenfleet-infra`, the workers and the publisher client `greenfleet-client`.

/// The default prefix of every resource name.
pub const DEFAULT_PREFIX: &str = "greenfleet";
/// The detail-type of a rollout request published on greenfleet's bus.
pub const ROLLOUT_REQUESTED: &str = "Rollout Requested";
/// The detail-type of an approval published on greenfleet's bus (see [`crate::operator_event`]).
pub const ROLLOUT_APPROVED: &str = "Rollout Approved";
/// The detail-type of a cancel request published on greenfleet's bus (see [`crate::operator_event`]).
pub const ROLLOUT_CANCEL_REQUESTED: &str = "Rollout Cancel Requested";
/// Every detail-type the `<prefix>-requests` rule routes from greenfleet's bus to the intake queue.
pub const INTAKE_DETAIL_TYPES: [&str; 3] = [ROLLOUT_REQUESTED, ROLLOUT_APPROVED, ROLLOUT_CANCEL_REQUESTED];
/// The EventBridge `source` the publisher client puts on rollout requests.
pub const PUBLISHER_SOURCE: &str = "greenfleet.publisher";
/// The detail-types of the CodeDeploy events greenfleet follows.
pub const CODEDEPLOY_DETAIL_TYPES: [&str; 2] =
    ["CodeDeploy Deployment State-change Notification", "CodeDeploy Instance State-change Notification"];

/// Longest prefix: keeps `<prefix>-events-dlq` within SQS's 80 characters and rule names within 64
/// (`<prefix>-trigger-` leaves 15 characters for a trigger's name).
const MAX_PREFIX_LEN: usize = 40;

/// greenfleet's three queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueKind {
    /// Rollout requests, sent directly or routed from greenfleet's bus (and trigger events).
    Intake,
    /// Step and timer messages (delayed), internal to the saga.
    Steps,
    /// CodeDeploy state-change events routed from the default bus.
    Events,
}

impl QueueKind {
    /// Every queue, in provisioning order.
    pub const ALL: [Self; 3] = [Self::Intake, Self::Steps, Self::Events];

    /// The suffix in the queue's name.
    #[must_use]
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Intake => "intake",
            Self::Steps => "steps",
            Self::Events => "events",
        }
    }
}

/// A prefix that cannot name AWS resources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource prefix `{prefix}`: {reason}")]
pub struct InvalidPrefix {
    /// The prefix given.
    pub prefix: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Every resource name, derived from one prefix so that several installations (or tests) can share
/// an account without clashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Default for Names {
    fn default() -> Self {
        Self { prefix: DEFAULT_PREFIX.to_owned() }
    }
}

impl Names {
    /// Names under `prefix`: 3–40 letters, digits, `-` or `_`, starting with a letter or digit.
    pub fn new(prefix: &str) -> Result<Self, InvalidPrefix> {
        let invalid = |reason: String| InvalidPrefix { prefix: prefix.to_owned(), reason };
        if prefix.len() < 3 || prefix.len() > MAX_PREFIX_LEN {
            return Err(invalid(format!("it must be 3 to {MAX_PREFIX_LEN} characters long")));
        }
        if let Some(c) = prefix.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))) {
            return Err(invalid(format!("`{c}` is not allowed; use letters, digits, `-` and `_`")));
        }
        if !prefix.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(invalid("it must start with a letter or a digit".into()));
        }
        if prefix == "default" {
            return Err(invalid("`default` is the name of EventBridge's default bus; choose another".into()));
        }
        Ok(Self { prefix: prefix.to_owned() })
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A queue's name, e.g. `greenfleet-steps`.
    #[must_use]
    pub fn queue(&self, kind: QueueKind) -> String {
        format!("{}-{}", self.prefix, kind.suffix())
    }

    /// A queue's dead-letter queue, e.g. `greenfleet-steps-dlq`.
    #[must_use]
    pub fn dlq(&self, kind: QueueKind) -> String {
        format!("{}-{}-dlq", self.prefix, kind.suffix())
    }

    /// The DynamoDB table.
    #[must_use]
    pub fn table(&self) -> String {
        self.prefix.clone()
    }

    /// greenfleet's EventBridge bus.
    #[must_use]
    pub fn bus(&self) -> String {
        self.prefix.clone()
    }

    /// The rule on the default bus that sends CodeDeploy events to the events queue.
    #[must_use]
    pub fn codedeploy_rule(&self) -> String {
        format!("{}-codedeploy", self.prefix)
    }

    /// The rule on greenfleet's bus that sends rollout requests, approvals and cancel requests
    /// ([`INTAKE_DETAIL_TYPES`]) to the intake queue.
    #[must_use]
    pub fn requests_rule(&self) -> String {
        format!("{}-requests", self.prefix)
    }

    /// The rule that sends the events of trigger `name` to the intake queue.
    #[must_use]
    pub fn trigger_rule(&self, name: &str) -> String {
        format!("{}-trigger-{name}", self.prefix)
    }
}

/// The DynamoDB table's layout: one table, partition key `pk` (S), no sort key.
///
/// * saga items, `pk = saga#<rollout id>`: `version` (N), `state` (S, the whole saga as JSON,
///   history included), `phase` (S), `createdAt` / `updatedAt` (N, ms), `deploymentId` (S, once
///   known), `status` (`active` | `done`), `summary` (S, the saga summary as JSON), `stateVersion`
///   (N), `rolloutStatus` (S, the status projection as JSON) and, once finished, `expiresAt` (N,
///   epoch seconds: the table's TTL attribute);
/// * lease items, `pk = lease#<key>`: `holder` (S), `until` (N, ms).
///
/// Indexes: `by-deployment` (pk `deploymentId`, keys only); `by-status` (pk `status`, sk
/// `updatedAt`, projecting `summary`).
pub mod table {
    use crate::ids::RolloutId;

    /// The table's partition key.
    pub const PK: &str = "pk";
    /// The index from a CodeDeploy deployment id to its saga.
    pub const BY_DEPLOYMENT: &str = "by-deployment";
    /// The index of sagas by `status`, sorted by `updatedAt`.
    pub const BY_STATUS: &str = "by-status";
    /// Saga attribute: the CodeDeploy deployment id (key of [`BY_DEPLOYMENT`]).
    pub const DEPLOYMENT_ID: &str = "deploymentId";
    /// Saga attribute: `active` or `done` (key of [`BY_STATUS`]).
    pub const STATUS: &str = "status";
    /// Saga attribute: last change in ms (sort key of [`BY_STATUS`]).
    pub const UPDATED_AT: &str = "updatedAt";
    /// Saga attribute: the list view as JSON (projected into [`BY_STATUS`]).
    pub const SUMMARY: &str = "summary";
    /// Saga attribute: the version the conditional writes check.
    pub const VERSION: &str = "version";
    /// Saga attribute: the whole saga as JSON.
    pub const STATE: &str = "state";
    /// Saga attribute: the phase's name.
    pub const PHASE: &str = "phase";
    /// Saga attribute: when the rollout was accepted, in ms.
    pub const CREATED_AT: &str = "createdAt";
    /// `status` of a saga still running.
    pub const STATUS_ACTIVE: &str = "active";
    /// `status` of a finished saga.
    pub const STATUS_DONE: &str = "done";
    /// Saga attribute: the `stateVersion` of `state` (also inside it), so operators can find old items.
    pub const STATE_VERSION: &str = "stateVersion";
    /// Saga attribute: the status projection as JSON (`schema/rollout-status.v1.json`), which the CLI
    /// and the publisher client read instead of `state`.
    pub const ROLLOUT_STATUS: &str = "rolloutStatus";
    /// Saga attribute: when a finished rollout's item expires (epoch seconds, DynamoDB TTL); absent
    /// on running rollouts and on leases, which never expire.
    pub const EXPIRES_AT: &str = "expiresAt";
    /// Prefix of a saga item's key.
    pub const SAGA_KEY_PREFIX: &str = "saga#";

    /// The key of rollout `id`'s saga item.
    #[must_use]
    pub fn saga_pk(id: &RolloutId) -> String {
        format!("{SAGA_KEY_PREFIX}{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_prefix() {
        let n = Names::default();
        assert_eq!(n.queue(QueueKind::Intake), "greenfleet-intake");
        assert_eq!(n.dlq(QueueKind::Events), "greenfleet-events-dlq");
        assert_eq!(n.table(), "greenfleet");
        assert_eq!(n.bus(), "greenfleet");
        assert_eq!(n.codedeploy_rule(), "greenfleet-codedeploy");
        assert_eq!(n.requests_rule(), "greenfleet-requests");
        assert_eq!(n.trigger_rule("bundles"), "greenfleet-trigger-bundles");
    }

    #[test]
    fn bad_prefixes_are_refused_with_the_rule() {
        for (p, why) in [("ab", "3 to 40"), ("a.b.c", "`.`"), ("-abc", "start with"), ("default", "default bus")] {
            let e = Names::new(p).expect_err("should be refused").to_string();
            assert!(e.contains(why), "{p}: {e}");
        }
        assert!(Names::new(&"x".repeat(41)).is_err());
        assert!(Names::new("gf_test-1").is_ok());
    }
}
