//! Leases in the saga table: one item per key, `pk = lease#<key>`, with `holder` and `until` (ms).
//!
//! All keys are taken in one `TransactWriteItems`, so a rollout holds both its Elastigroup and its
//! deployment group, or neither (F12). Each put is conditional: the key is free, already ours, or its
//! lease ended at or before `now` (the same rule as the in-memory leases).

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use greenfleet_core::ids::{RolloutId, Timestamp};
use greenfleet_core::ports::{LeaseKey, LeaseOutcome, Leases, StoreError};

use super::{DynamoStore, PK, n, s, string_attr};

const HOLDER: &str = "holder";
const UNTIL: &str = "until";
/// DynamoDB's limit on actions in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// Times to retry when a conflicting lease vanished between the failed write and the read-back.
const ATTEMPTS: usize = 3;

fn lease_pk(key: &LeaseKey) -> String {
    format!("lease#{}", key.0)
}

/// What a failed transaction tells us.
enum Cancelled {
    /// At least one condition failed: some key is (or was) held by someone else.
    ConditionFailed,
    /// Cancelled for another reason (a concurrent transaction on the same item, throttling).
    Other(String),
}

impl DynamoStore {
    /// Writes every lease item in one transaction.
    async fn put_leases(
        &self,
        keys: &[&LeaseKey],
        holder: &RolloutId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        for key in keys {
            let put = Put::builder()
                .table_name(&self.table)
                .item(PK, s(lease_pk(key)))
                .item(HOLDER, s(holder.as_str()))
                .item(UNTIL, n(until.0))
                .condition_expression("attribute_not_exists(#pk) OR #holder = :me OR #until <= :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#holder", HOLDER)
                .expression_attribute_names("#until", UNTIL)
                .expression_attribute_values(":me", s(holder.as_str()))
                .expression_attribute_values(":now", n(now.0))
                .build()
                .map_err(|e| StoreError::Corrupt(format!("could not build a lease write: {e}")))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
                    let codes: Vec<&str> = t.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
                    // No reasons at all is read as a failed condition; the read-back decides.
                    if codes.is_empty() || codes.contains(&"ConditionalCheckFailed") {
                        Ok(Err(Cancelled::ConditionFailed))
                    } else {
                        Ok(Err(Cancelled::Other(codes.join(", "))))
                    }
                }
                _ => Err(self.error("TransactWriteItems", &e)),
            },
        }
    }

    /// The first key, in the caller's order, held by someone other than `holder` past `now`.
    async fn first_busy(
        &self,
        keys: &[&LeaseKey],
        holder: &RolloutId,
        now: Timestamp,
    ) -> Result<Option<(LeaseKey, RolloutId)>, StoreError> {
        for key in keys {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(PK, s(lease_pk(key)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.error("GetItem", &e))?;
            let Some(item) = out.item() else { continue };
            let pk = string_attr(item, PK);
            let other =
                string_attr(item, HOLDER).ok_or_else(|| super::corrupt(&self.table, pk, "lease without `holder`"))?;
            let until = item
                .get(UNTIL)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| super::corrupt(&self.table, pk, "lease without a numeric `until`"))?;
            if other != holder.as_str() && until > now.0 {
                let other = RolloutId::parse(other).map_err(|e| super::corrupt(&self.table, pk, &e.to_string()))?;
                return Ok(Some(((*key).clone(), other)));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Leases for DynamoStore {
    async fn acquire(
        &self,
        keys: &[LeaseKey],
        holder: &RolloutId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<LeaseOutcome, StoreError> {
        // A transaction may not touch one item twice.
        let mut seen = HashSet::new();
        let keys: Vec<&LeaseKey> = keys.iter().filter(|k| seen.insert(*k)).collect();
        if keys.is_empty() {
            return Ok(LeaseOutcome::Acquired);
        }
        if keys.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Corrupt(format!(
                "{} lease keys asked at once; DynamoDB transactions take at most {MAX_TRANSACTION_ITEMS}",
                keys.len()
            )));
        }
        for _ in 0..ATTEMPTS {
            match self.put_leases(&keys, holder, until, now).await? {
                Ok(()) => return Ok(LeaseOutcome::Acquired),
                Err(Cancelled::Other(reasons)) => {
                    return Err(StoreError::Unavailable(format!(
                        "lease transaction on {} was cancelled ({reasons}); retry",
                        self.table
                    )));
                }
                Err(Cancelled::ConditionFailed) => {
                    if let Some((key, holder)) = self.first_busy(&keys, holder, now).await? {
                        return Ok(LeaseOutcome::Busy { key, holder });
                    }
                    // The lease that stopped us was released meanwhile: try again.
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "leases in {} kept changing while being acquired ({ATTEMPTS} attempts); retry",
            self.table
        )))
    }

    async fn release(&self, keys: &[LeaseKey], holder: &RolloutId) -> Result<(), StoreError> {
        for key in keys {
            let res = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(lease_pk(key)))
                .condition_expression("#holder = :me")
                .expression_attribute_names("#holder", HOLDER)
                .expression_attribute_values(":me", s(holder.as_str()))
                .send()
                .await;
            match res {
                Ok(_) => {}
                // Free already, or someone else's: leave it alone.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.error("DeleteItem", &e)),
            }
        }
        Ok(())
    }
}
