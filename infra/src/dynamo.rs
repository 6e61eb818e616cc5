//! The DynamoDB table: sagas behind `SagaStore`, leases behind `Leases` (in the `leases` submodule).
//!
//! One table, partition key `pk` (S), no sort key:
//!
//! * saga items, `pk = saga#<rollout id>`: `version` (N), `state` (S, the whole [`Saga`] as JSON,
//!   history included, so state and history change in one conditional write), `phase` (S),
//!   `createdAt` / `updatedAt` (N, ms), `deploymentId` (S, once known), `status` (`active` | `done`),
//!   `summary` (S, the [`SagaSummary`] as JSON, so listing never reads whole sagas), `stateVersion`
//!   (N), `rolloutStatus` (S, the [`RolloutStatus`] projection, which readers use instead of `state`)
//!   and, once the rollout is done, `expiresAt` (N, epoch seconds: the table's TTL attribute, set
//!   [`DynamoStore::retention`] after the end);
//! * lease items, `pk = lease#<key>`: `holder` (S), `until` (N, ms).
//!
//! Indexes (see [`crate::provision`]): `by-deployment` (pk `deploymentId`, keys only) answers
//! `find_by_deployment`; `by-status` (pk `status`, sk `updatedAt`, projecting `summary`) answers
//! `list_active` and `list_recent`. Nothing here scans the table.
//!
//! `state` is written and read through [`greenfleet_core::stored`], which puts `stateVersion` in it
//! and refuses state this build cannot read (as `Corrupt`, naming the rollout and what to do), so the
//! message that loaded it is left for redelivery and never overwrites it. Leases and running rollouts
//! carry no `expiresAt`, so DynamoDB never deletes them.
//!
//! The key and attribute names are defined once, in `greenfleet_core::layout::table`, which the
//! publisher client (`greenfleet-client`) reads too.

mod leases;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use greenfleet_core::ids::{DeploymentId, RolloutId};
use greenfleet_core::ports::{SagaStore, StoreError};
use greenfleet_core::saga::{Saga, SagaSummary};
use greenfleet_core::status::RolloutStatus;
use greenfleet_core::stored;

use crate::aws::classify;

pub(crate) use greenfleet_core::layout::table::{
    BY_DEPLOYMENT, BY_STATUS, CREATED_AT, DEPLOYMENT_ID, EXPIRES_AT, PHASE, PK, ROLLOUT_STATUS, SAGA_KEY_PREFIX, STATE,
    STATE_VERSION, STATUS, STATUS_ACTIVE, STATUS_DONE, SUMMARY, UPDATED_AT, VERSION, saga_pk,
};

/// How long a finished rollout stays in the table by default: about 13 months, so a year of history
/// can always be read back (`GREENFLEET_RETENTION_DAYS` changes it).
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

const SECS_PER_DAY: u64 = 86_400;

/// Sagas and leases in one DynamoDB table. Cheap to clone; clones share the SDK client.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention_days: u32,
}

impl DynamoStore {
    /// The store in `table` (created by `greenfleet infra up`), reached through `client`.
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), retention_days: DEFAULT_RETENTION_DAYS }
    }

    /// The same store, letting finished rollouts expire `days` after they end (at least 1).
    #[must_use]
    pub fn with_retention_days(mut self, days: u32) -> Self {
        self.retention_days = days.max(1);
        self
    }

    /// Days a finished rollout stays in the table before DynamoDB's TTL deletes it.
    #[must_use]
    pub fn retention(&self) -> u32 {
        self.retention_days
    }

    /// The store in `table` with a new client built from `cfg`.
    #[must_use]
    pub fn from_config(cfg: &SdkConfig, table: impl Into<String>) -> Self {
        Self::new(
            Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(cfg).retry_classifier(crate::aws::transport_only()).build(),
            ),
            table,
        )
    }

    /// The table's name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Maps a failed call. Throttling, 5xx and network failures are retryable (`Unavailable`); so is a
    /// missing table or a permission problem, which the operator fixes while messages wait in the queue.
    /// A refused item (validation: too large, malformed) is `Corrupt`.
    fn error<E>(&self, op: &str, err: &SdkError<E, HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let c = classify(err);
        tracing::warn!(table = %self.table, op, error = %c.message, "DynamoDB call failed");
        match c.code.as_deref() {
            _ if c.retryable => StoreError::Unavailable(format!(
                "DynamoDB {op} on {} failed: {}; {}",
                self.table,
                c.message,
                c.kind.advice()
            )),
            Some("ResourceNotFoundException") => StoreError::Unavailable(format!(
                "table {} (or its index) does not exist; run `greenfleet infra up` ({op}: {})",
                self.table, c.message
            )),
            Some("ValidationException" | "ItemCollectionSizeLimitExceededException") => StoreError::Corrupt(format!(
                "DynamoDB refused {op} on {}: {}; the item is malformed or too large (400 KB limit)",
                self.table, c.message
            )),
            _ => StoreError::Unavailable(format!(
                "DynamoDB {op} on {} failed: {}; {}",
                self.table,
                c.message,
                c.kind.advice()
            )),
        }
    }

    /// Queries one index partition, following pagination until `limit` items (if any) were read.
    async fn query(
        &self,
        index: &str,
        key_attr: &str,
        key_value: &str,
        newest_first: bool,
        limit: Option<usize>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#k = :v")
                .expression_attribute_names("#k", key_attr)
                .expression_attribute_values(":v", AttributeValue::S(key_value.to_owned()))
                .scan_index_forward(!newest_first)
                .set_exclusive_start_key(start.take());
            if let Some(limit) = limit {
                let left = limit.saturating_sub(items.len());
                q = q.limit(i32::try_from(left).unwrap_or(i32::MAX));
            }
            let out = q.send().await.map_err(|e| self.error("Query", &e))?;
            items.extend(out.items().iter().cloned());
            if limit.is_some_and(|l| items.len() >= l) {
                break;
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(items)
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item that stores `saga`; a finished one expires `retention_days` after its end.
fn saga_item(saga: &Saga, retention_days: u32) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let state = stored::encode(saga).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let status = serde_json::to_string(&RolloutStatus::of(saga))
        .map_err(|e| StoreError::Corrupt(format!("status of saga {} could not be encoded: {e}", saga.id)))?;
    let summary = serde_json::to_string(&saga.summary())
        .map_err(|e| StoreError::Corrupt(format!("summary of saga {} could not be encoded: {e}", saga.id)))?;
    let done = saga.phase.is_done();
    let mut item = HashMap::from([
        (PK.to_owned(), s(saga_pk(&saga.id))),
        (VERSION.to_owned(), n(saga.version)),
        (STATE.to_owned(), s(state)),
        (PHASE.to_owned(), s(saga.phase.name())),
        (CREATED_AT.to_owned(), n(saga.created_at.0)),
        (UPDATED_AT.to_owned(), n(saga.updated_at.0)),
        (STATUS.to_owned(), s(if done { STATUS_DONE } else { STATUS_ACTIVE })),
        (SUMMARY.to_owned(), s(summary)),
        (STATE_VERSION.to_owned(), n(u64::from(stored::STATE_VERSION))),
        (ROLLOUT_STATUS.to_owned(), s(status)),
    ]);
    if done {
        let expires = saga.updated_at.0 / 1_000 + u64::from(retention_days) * SECS_PER_DAY;
        item.insert(EXPIRES_AT.to_owned(), n(expires));
    }
    if let Some(d) = &saga.facts.deployment_id {
        item.insert(DEPLOYMENT_ID.to_owned(), s(d.as_str()));
    }
    Ok(item)
}

fn string_attr<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn corrupt(table: &str, pk: Option<&str>, what: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "item {} in table {table}: {what}; it was edited by hand or written by another version; fix or delete it",
        pk.unwrap_or("(no pk)")
    ))
}

fn decode_saga(table: &str, item: &HashMap<String, AttributeValue>) -> Result<Saga, StoreError> {
    let pk = string_attr(item, PK);
    let state = string_attr(item, STATE).ok_or_else(|| corrupt(table, pk, "no `state` string"))?;
    let saga = stored::decode(state)
        .map_err(|e| StoreError::Corrupt(format!("item {} in table {table}: {e}", pk.unwrap_or("(no pk)"))))?;
    let version = item.get(VERSION).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u64>().ok());
    if version != Some(saga.version) {
        return Err(corrupt(table, pk, &format!("`version` {version:?} differs from the state's {}", saga.version)));
    }
    Ok(saga)
}

fn decode_status(table: &str, item: &HashMap<String, AttributeValue>) -> Result<RolloutStatus, StoreError> {
    let pk = string_attr(item, PK);
    let status = string_attr(item, ROLLOUT_STATUS).ok_or_else(|| corrupt(table, pk, "no `rolloutStatus` string"))?;
    serde_json::from_str(status)
        .map_err(|e| corrupt(table, pk, &format!("`rolloutStatus` is not a rollout status: {e}")))
}

fn decode_summary(table: &str, item: &HashMap<String, AttributeValue>) -> Result<SagaSummary, StoreError> {
    let pk = string_attr(item, PK);
    let summary = string_attr(item, SUMMARY).ok_or_else(|| corrupt(table, pk, "no `summary` string"))?;
    serde_json::from_str(summary).map_err(|e| corrupt(table, pk, &format!("`summary` is not a saga summary: {e}")))
}

impl DynamoStore {
    /// One conditional PutItem: a new saga (`expected` None) or the next version of one. A lost
    /// condition is `Conflict`.
    async fn put_saga(&self, saga: &Saga, expected: Option<u64>) -> Result<(), StoreError> {
        let put = self.client.put_item().table_name(&self.table).set_item(Some(saga_item(saga, self.retention_days)?));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", PK),
            Some(v) => put
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":expected", n(v)),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(self.error("PutItem", &e)),
        }
    }
}

#[async_trait]
impl SagaStore for DynamoStore {
    async fn create(&self, saga: &Saga) -> Result<(), StoreError> {
        self.put_saga(saga, None).await
    }

    async fn load(&self, id: &RolloutId) -> Result<Option<Saga>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(saga_pk(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", &e))?;
        out.item().map(|item| decode_saga(&self.table, item)).transpose()
    }

    async fn save(&self, saga: &Saga, expected_version: u64) -> Result<(), StoreError> {
        self.put_saga(saga, Some(expected_version)).await
    }

    async fn find_by_deployment(&self, id: &DeploymentId) -> Result<Option<RolloutId>, StoreError> {
        let items = self.query(BY_DEPLOYMENT, DEPLOYMENT_ID, id.as_str(), false, Some(1)).await?;
        let Some(item) = items.first() else { return Ok(None) };
        let pk = string_attr(item, PK);
        let raw = pk
            .and_then(|p| p.strip_prefix(SAGA_KEY_PREFIX))
            .ok_or_else(|| corrupt(&self.table, pk, "not a saga key"))?;
        RolloutId::parse(raw).map(Some).map_err(|e| corrupt(&self.table, pk, &e.to_string()))
    }

    async fn list_active(&self) -> Result<Vec<SagaSummary>, StoreError> {
        let items = self.query(BY_STATUS, STATUS, STATUS_ACTIVE, false, None).await?;
        let mut v = items.iter().map(|i| decode_summary(&self.table, i)).collect::<Result<Vec<_>, _>>()?;
        // Same order as the in-memory store: oldest rollout first.
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(v)
    }

    async fn load_status(&self, id: &RolloutId) -> Result<Option<RolloutStatus>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(saga_pk(id)))
            .projection_expression("#pk, #st")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#st", ROLLOUT_STATUS)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", &e))?;
        out.item().map(|item| decode_status(&self.table, item)).transpose()
    }

    async fn list_recent(&self, limit: usize) -> Result<Vec<SagaSummary>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let items = self.query(BY_STATUS, STATUS, STATUS_DONE, true, Some(limit)).await?;
        items.iter().take(limit).map(|i| decode_summary(&self.table, i)).collect()
    }
}
