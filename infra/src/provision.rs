//! `greenfleet infra up` / `down`: the queues, table, bus and rules greenfleet runs on, created
//! idempotently from one name prefix.
//!
//! With the default prefix `greenfleet`:
//!
//! | resource | name |
//! |---|---|
//! | SQS queues, each with a dead-letter queue and a redrive policy | `greenfleet-intake`, `greenfleet-steps`, `greenfleet-events` (+ `-dlq`) |
//! | DynamoDB table (indexes `by-deployment`, `by-status`) | `greenfleet` |
//! | EventBridge bus for lifecycle events and rollout requests | `greenfleet` |
//! | rule on the **default** bus: CodeDeploy state changes → events queue | `greenfleet-codedeploy` |
//! | rule on greenfleet's bus: `Rollout Requested`, `Rollout Approved`, `Rollout Cancel Requested` → intake queue | `greenfleet-requests` |
//! | one rule per trigger (`--triggers`), on the default or greenfleet's bus → intake queue | `greenfleet-trigger-<name>` |
//!
//! The names themselves are defined once, in `greenfleet_core::layout` (re-exported here).
//!
//! Running `infra_up` again changes nothing that is already right and repairs what is not (queue
//! attributes, rule patterns, targets, queue policies).

pub(crate) mod queues;
pub(crate) mod rules;
pub(crate) mod table;

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

use crate::aws::classify;

pub use greenfleet_core::layout::{
    CODEDEPLOY_DETAIL_TYPES, DEFAULT_PREFIX, INTAKE_DETAIL_TYPES, InvalidPrefix, Names, QueueKind, ROLLOUT_APPROVED,
    ROLLOUT_CANCEL_REQUESTED, ROLLOUT_REQUESTED,
};
use greenfleet_core::trigger::{TriggerBus, Triggers};

/// EventBridge's longest rule name.
const MAX_RULE_NAME_LEN: usize = 64;

/// Settings of `infra up` beyond the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionOptions {
    /// Receives before a message moves to its dead-letter queue (SQS `maxReceiveCount`, 1–1000).
    pub max_receive_count: u32,
    /// How long a received message stays hidden before it is redelivered, in seconds.
    pub visibility_timeout_secs: u32,
    /// Only CodeDeploy events of these applications are routed to the events queue (empty = all).
    pub codedeploy_applications: Vec<String>,
    /// How long to wait for a new table and its indexes to become ACTIVE.
    pub table_wait: Duration,
    /// Trigger rules (`--triggers`): one EventBridge rule each, to the intake queue. Rules of
    /// triggers no longer listed are deleted.
    pub triggers: Triggers,
}

impl Default for ProvisionOptions {
    fn default() -> Self {
        Self {
            max_receive_count: 5,
            visibility_timeout_secs: 60,
            codedeploy_applications: Vec::new(),
            table_wait: Duration::from_secs(300),
            triggers: Triggers::default(),
        }
    }
}

/// A queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// Queue name.
    pub name: String,
    /// Queue URL (what `SqsQueue` takes).
    pub url: String,
    /// Queue ARN.
    pub arn: String,
    /// Dead-letter queue URL.
    pub dlq_url: String,
    /// Dead-letter queue ARN.
    pub dlq_arn: String,
}

/// What `infra up` created or found: everything a worker needs to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The intake queue.
    pub intake: QueueInfo,
    /// The steps queue.
    pub steps: QueueInfo,
    /// The events queue.
    pub events: QueueInfo,
    /// The DynamoDB table's name.
    pub table: String,
    /// greenfleet's bus name.
    pub bus_name: String,
    /// greenfleet's bus ARN.
    pub bus_arn: String,
    /// ARN of the default-bus rule for CodeDeploy events.
    pub codedeploy_rule_arn: String,
    /// ARN of the rule for rollout requests on greenfleet's bus.
    pub requests_rule_arn: String,
    /// ARNs of the trigger rules, by trigger name.
    pub trigger_rule_arns: Vec<(String, String)>,
}

impl Provisioned {
    /// The queue of `kind`.
    #[must_use]
    pub fn queue(&self, kind: QueueKind) -> &QueueInfo {
        match kind {
            QueueKind::Intake => &self.intake,
            QueueKind::Steps => &self.steps,
            QueueKind::Events => &self.events,
        }
    }
}

/// Why provisioning failed, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionError {
    /// The prefix cannot name AWS resources.
    #[error(transparent)]
    InvalidPrefix(#[from] InvalidPrefix),
    /// The options are out of range.
    #[error("invalid provisioning option: {0}")]
    InvalidOption(String),
    /// An AWS call failed.
    #[error("{service} {op} on `{resource}` failed: {message}")]
    Aws {
        /// `SQS`, `DynamoDB` or `EventBridge`.
        service: &'static str,
        /// The API call.
        op: &'static str,
        /// The resource it was about.
        resource: String,
        /// The error chain, then what to do about it.
        message: String,
        /// Whether retrying may help (throttling, 5xx, network).
        retryable: bool,
    },
    /// A queue of that name was deleted less than 60 seconds ago.
    #[error(
        "queue `{0}` was deleted recently; SQS refuses to re-create it for 60 s: wait a minute and run `greenfleet infra up` again"
    )]
    QueueDeletedRecently(String),
    /// The table exists with a different shape.
    #[error(
        "table `{table}` exists but {problem}; delete it (`greenfleet infra down`) or choose another prefix, then run `greenfleet infra up` again"
    )]
    TableShape {
        /// The table.
        table: String,
        /// What differs.
        problem: String,
    },
    /// The table did not become ACTIVE in time.
    #[error(
        "table `{table}` is still {status} after {waited_secs} s; run `greenfleet infra up` again later, or check the table in the DynamoDB console"
    )]
    TableNotActive {
        /// The table.
        table: String,
        /// Its last status.
        status: String,
        /// How long we waited.
        waited_secs: u64,
    },
    /// EventBridge refused a rule target.
    #[error(
        "EventBridge refused the target of rule `{rule}`: {message}; check the queue ARN and run `greenfleet infra up` again"
    )]
    Target {
        /// The rule.
        rule: String,
        /// EventBridge's reason.
        message: String,
    },
    /// A response lacked a field it should have (an ARN, a URL).
    #[error("{0}; the endpoint answered incompletely: check AWS_ENDPOINT_URL and run `greenfleet infra up` again")]
    Incomplete(String),
}

impl ProvisionError {
    /// Whether running the same provisioning again may succeed without changing anything.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Aws { retryable: true, .. } | Self::QueueDeletedRecently(_) | Self::TableNotActive { .. })
    }
}

/// Wraps a failed SDK call.
fn aws_error<E>(
    service: &'static str,
    op: &'static str,
    resource: &str,
    err: &SdkError<E, HttpResponse>,
) -> ProvisionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let c = classify(err);
    tracing::debug!(service, op, resource, error = %c.message, "provisioning call failed");
    let message = format!("{}; {}", c.message, c.kind.advice());
    ProvisionError::Aws { service, op, resource: resource.to_owned(), message, retryable: c.retryable }
}

fn check_options(names: &Names, opts: &ProvisionOptions) -> Result<(), ProvisionError> {
    for t in opts.triggers.list() {
        let rule = names.trigger_rule(t.name());
        if rule.len() > MAX_RULE_NAME_LEN {
            return Err(ProvisionError::InvalidOption(format!(
                "trigger `{}` would need the rule name `{rule}`, {} characters; EventBridge allows {MAX_RULE_NAME_LEN}: shorten the trigger's name or the prefix",
                t.name(),
                rule.len()
            )));
        }
    }
    if !(1..=1000).contains(&opts.max_receive_count) {
        return Err(ProvisionError::InvalidOption(format!(
            "max_receive_count is {}; SQS accepts 1 to 1000",
            opts.max_receive_count
        )));
    }
    if opts.visibility_timeout_secs > 43_200 {
        return Err(ProvisionError::InvalidOption(format!(
            "visibility_timeout_secs is {}; SQS accepts at most 43200 (12 hours)",
            opts.visibility_timeout_secs
        )));
    }
    Ok(())
}

/// Creates (or repairs) everything greenfleet needs, and returns how to reach it.
///
/// Idempotent: call it on every deploy. Order matters only for ARNs: queues first, then the table,
/// the bus, the rules and their targets, and last the queue policies that name the rules.
pub async fn infra_up(cfg: &SdkConfig, names: &Names, opts: &ProvisionOptions) -> Result<Provisioned, ProvisionError> {
    check_options(names, opts)?;
    let sqs = aws_sdk_sqs::Client::new(cfg);
    let ddb = aws_sdk_dynamodb::Client::new(cfg);
    let eb = aws_sdk_eventbridge::Client::new(cfg);

    let spec = queues::QueueSpec {
        visibility_timeout_secs: opts.visibility_timeout_secs,
        max_receive_count: opts.max_receive_count,
    };
    let intake =
        queues::ensure_pair(&sqs, &names.queue(QueueKind::Intake), &names.dlq(QueueKind::Intake), spec).await?;
    let steps = queues::ensure_pair(&sqs, &names.queue(QueueKind::Steps), &names.dlq(QueueKind::Steps), spec).await?;
    let events =
        queues::ensure_pair(&sqs, &names.queue(QueueKind::Events), &names.dlq(QueueKind::Events), spec).await?;

    let table = names.table();
    table::ensure(&ddb, &table, opts.table_wait).await?;

    let bus_name = names.bus();
    let bus_arn = rules::ensure_bus(&eb, &bus_name).await?;

    let codedeploy_rule_arn = rules::ensure_rule_to_queue(
        &eb,
        None,
        &names.codedeploy_rule(),
        &rules::codedeploy_pattern(&opts.codedeploy_applications),
        "CodeDeploy state changes for greenfleet",
        &events.arn,
    )
    .await?;
    queues::allow_rules(&sqs, &events, std::slice::from_ref(&codedeploy_rule_arn)).await?;

    let requests_rule_arn = rules::ensure_rule_to_queue(
        &eb,
        Some(&bus_name),
        &names.requests_rule(),
        &rules::requests_pattern(),
        "Rollout requests, approvals and cancel requests for greenfleet",
        &intake.arn,
    )
    .await?;
    let trigger_rule_arns = ensure_triggers(&eb, names, &opts.triggers, &intake.arn).await?;
    let mut intake_sources = vec![requests_rule_arn.clone()];
    intake_sources.extend(trigger_rule_arns.iter().map(|(_, arn)| arn.clone()));
    queues::allow_rules(&sqs, &intake, &intake_sources).await?;

    tracing::info!(
        prefix = names.prefix(),
        triggers = trigger_rule_arns.len(),
        "greenfleet infrastructure is in place"
    );
    Ok(Provisioned {
        intake,
        steps,
        events,
        table,
        bus_name,
        bus_arn,
        codedeploy_rule_arn,
        requests_rule_arn,
        trigger_rule_arns,
    })
}

/// The bus a trigger's rule lives on (None: the default bus).
fn trigger_bus(names: &Names, bus: TriggerBus) -> Option<String> {
    match bus {
        TriggerBus::Default => None,
        TriggerBus::Greenfleet => Some(names.bus()),
    }
}

/// Creates or updates one rule per trigger, to the intake queue, and deletes the rules of triggers
/// no longer configured (on both buses). Returns (trigger name, rule ARN).
async fn ensure_triggers(
    eb: &aws_sdk_eventbridge::Client,
    names: &Names,
    triggers: &Triggers,
    intake_arn: &str,
) -> Result<Vec<(String, String)>, ProvisionError> {
    let mut arns = Vec::new();
    let mut wanted = Vec::new();
    for t in triggers.list() {
        let bus = trigger_bus(names, t.bus());
        let rule = names.trigger_rule(t.name());
        let description = format!("greenfleet trigger `{}`: matching events start a rollout", t.name());
        let arn =
            rules::ensure_rule_to_queue(eb, bus.as_deref(), &rule, &t.pattern_json(), &description, intake_arn).await?;
        wanted.push((bus, rule));
        arns.push((t.name().to_owned(), arn));
    }
    for bus in [None, Some(names.bus())] {
        for rule in rules::list_rules(eb, bus.as_deref(), &names.trigger_rule("")).await? {
            if !wanted.iter().any(|(b, r)| *b == bus && *r == rule) {
                tracing::info!(rule, "deleting the rule of a trigger no longer configured");
                rules::delete_rule(eb, bus.as_deref(), &rule).await?;
            }
        }
    }
    Ok(arns)
}

/// Deletes everything `infra_up` created under `names`; what is already gone is skipped.
///
/// Meant for tests and for tearing down a trial installation: queued messages and saga records are lost.
pub async fn infra_down(cfg: &SdkConfig, names: &Names) -> Result<(), ProvisionError> {
    let sqs = aws_sdk_sqs::Client::new(cfg);
    let ddb = aws_sdk_dynamodb::Client::new(cfg);
    let eb = aws_sdk_eventbridge::Client::new(cfg);

    rules::delete_rule(&eb, None, &names.codedeploy_rule()).await?;
    rules::delete_rule(&eb, Some(&names.bus()), &names.requests_rule()).await?;
    for bus in [None, Some(names.bus())] {
        for rule in rules::list_rules(&eb, bus.as_deref(), &names.trigger_rule("")).await? {
            rules::delete_rule(&eb, bus.as_deref(), &rule).await?;
        }
    }
    rules::delete_bus(&eb, &names.bus()).await?;
    table::delete(&ddb, &names.table()).await?;
    for kind in QueueKind::ALL {
        queues::delete(&sqs, &names.queue(kind)).await?;
        queues::delete(&sqs, &names.dlq(kind)).await?;
    }
    tracing::info!(prefix = names.prefix(), "greenfleet infrastructure deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let o = ProvisionOptions { max_receive_count: 0, ..ProvisionOptions::default() };
        let n = Names::default();
        assert!(check_options(&n, &o).expect_err("should be refused").to_string().contains("1 to 1000"));
        assert!(check_options(&n, &ProvisionOptions::default()).is_ok());
        let triggers = Triggers::parse(include_bytes!("../../examples/triggers.json")).expect("valid triggers");
        let o = ProvisionOptions { triggers, ..ProvisionOptions::default() };
        assert!(check_options(&n, &o).is_ok());
        let long = Names::new(&"p".repeat(40)).expect("a valid prefix");
        let renamed =
            include_str!("../../examples/triggers.json").replace("\"shop-bundles\"", "\"shop-bundles-nightly-1\"");
        let triggers = Triggers::parse(renamed.as_bytes()).expect("valid triggers");
        let o = ProvisionOptions { triggers, ..ProvisionOptions::default() };
        let e = check_options(&long, &o).expect_err("rule name too long").to_string();
        assert!(e.contains("shorten the trigger's name or the prefix"), "{e}");
    }
}

/// Where a worker or operator command finds what `infra up` created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Intake queue URL.
    pub intake_url: String,
    /// Steps queue URL.
    pub steps_url: String,
    /// Events queue URL.
    pub events_url: String,
    /// The table.
    pub table: String,
    /// greenfleet's bus.
    pub bus_name: String,
}

/// Finds the queues by name (never creates anything): what a worker does at start-up.
pub async fn locate(cfg: &SdkConfig, names: &Names) -> Result<Located, ProvisionError> {
    let sqs = aws_sdk_sqs::Client::new(cfg);
    let mut urls = Vec::with_capacity(3);
    for kind in [QueueKind::Intake, QueueKind::Steps, QueueKind::Events] {
        let name = names.queue(kind);
        let out = sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .map_err(|e| aws_error("SQS", "GetQueueUrl", &name, &e))?;
        let url = out
            .queue_url()
            .ok_or_else(|| ProvisionError::Incomplete(format!("GetQueueUrl gave no URL for `{name}`")))?;
        urls.push(url.to_owned());
    }
    let [intake_url, steps_url, events_url] =
        <[String; 3]>::try_from(urls).map_err(|_| ProvisionError::Incomplete("three queue URLs expected".into()))?;
    Ok(Located { intake_url, steps_url, events_url, table: names.table(), bus_name: names.bus() })
}
