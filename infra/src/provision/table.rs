//! The DynamoDB table, its two indexes and its TTL on `expiresAt` (layout in [`crate::dynamo`]).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::{ProvisionError, aws_error};
use crate::dynamo::{BY_DEPLOYMENT, BY_STATUS, DEPLOYMENT_ID, EXPIRES_AT, PK, STATUS, SUMMARY, UPDATED_AT};

const POLL: Duration = Duration::from_millis(500);

fn build_err(table: &str, e: &impl std::fmt::Display) -> ProvisionError {
    ProvisionError::Incomplete(format!("could not build the CreateTable request for `{table}`: {e}"))
}

fn key(name: &str, kind: KeyType, table: &str) -> Result<KeySchemaElement, ProvisionError> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| build_err(table, &e))
}

fn attr(name: &str, kind: ScalarAttributeType, table: &str) -> Result<AttributeDefinition, ProvisionError> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().map_err(|e| build_err(table, &e))
}

async fn create(client: &Client, table: &str) -> Result<(), ProvisionError> {
    let by_deployment = GlobalSecondaryIndex::builder()
        .index_name(BY_DEPLOYMENT)
        .key_schema(key(DEPLOYMENT_ID, KeyType::Hash, table)?)
        .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
        .build()
        .map_err(|e| build_err(table, &e))?;
    let by_status = GlobalSecondaryIndex::builder()
        .index_name(BY_STATUS)
        .key_schema(key(STATUS, KeyType::Hash, table)?)
        .key_schema(key(UPDATED_AT, KeyType::Range, table)?)
        .projection(Projection::builder().projection_type(ProjectionType::Include).non_key_attributes(SUMMARY).build())
        .build()
        .map_err(|e| build_err(table, &e))?;
    let res = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash, table)?)
        .attribute_definitions(attr(PK, ScalarAttributeType::S, table)?)
        .attribute_definitions(attr(DEPLOYMENT_ID, ScalarAttributeType::S, table)?)
        .attribute_definitions(attr(STATUS, ScalarAttributeType::S, table)?)
        .attribute_definitions(attr(UPDATED_AT, ScalarAttributeType::N, table)?)
        .global_secondary_indexes(by_deployment)
        .global_secondary_indexes(by_status)
        .send()
        .await;
    match res {
        Ok(_) => {
            tracing::info!(table, "DynamoDB table created");
            Ok(())
        }
        // It exists already: `ensure` checks its shape.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(aws_error("DynamoDB", "CreateTable", table, &e)),
    }
}

/// Why an existing table cannot serve greenfleet, if it cannot.
fn shape_problem(d: &TableDescription) -> Option<String> {
    let pk_ok = d.key_schema().len() == 1
        && d.key_schema().first().is_some_and(|k| k.attribute_name() == PK && *k.key_type() == KeyType::Hash);
    if !pk_ok {
        return Some(format!("its key is not a single partition key `{PK}`"));
    }
    for index in [BY_DEPLOYMENT, BY_STATUS] {
        if !d.global_secondary_indexes().iter().any(|g| g.index_name() == Some(index)) {
            return Some(format!("it has no global secondary index `{index}`"));
        }
    }
    None
}

fn is_active(d: &TableDescription) -> bool {
    d.table_status() == Some(&TableStatus::Active)
        && d.global_secondary_indexes().iter().all(|g| g.index_status().is_none_or(|s| *s == IndexStatus::Active))
}

/// The table's TTL: its status and attribute (`None` when TTL was never turned on).
pub(crate) async fn ttl(client: &Client, table: &str) -> Result<Option<(TimeToLiveStatus, String)>, ProvisionError> {
    let out = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| aws_error("DynamoDB", "DescribeTimeToLive", table, &e))?;
    Ok(out.time_to_live_description().and_then(|d| {
        let status = d.time_to_live_status()?.clone();
        Some((status, d.attribute_name().unwrap_or_default().to_owned()))
    }))
}

/// Turns TTL on for `expiresAt`, so finished rollouts expire; does nothing when it is on (or being
/// turned on) already, since DynamoDB refuses a second UpdateTimeToLive within the hour. TTL on another
/// attribute is refused: greenfleet would never expire anything, or expire what it must keep.
async fn ensure_ttl(client: &Client, table: &str) -> Result<(), ProvisionError> {
    match ttl(client, table).await? {
        Some((TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling, attr)) if attr == EXPIRES_AT => return Ok(()),
        Some((TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling, attr)) => {
            return Err(ProvisionError::TableShape {
                table: table.to_owned(),
                problem: format!(
                    "its TTL is on attribute `{attr}`, not `{EXPIRES_AT}`; turn it off \
                     (aws dynamodb update-time-to-live --table-name {table} --time-to-live-specification \
                     Enabled=false,AttributeName={attr}), wait an hour, and run `greenfleet infra up` again"
                ),
            });
        }
        _ => {}
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .map_err(|e| ProvisionError::Incomplete(format!("could not build the TTL of `{table}`: {e}")))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| aws_error("DynamoDB", "UpdateTimeToLive", table, &e))?;
    tracing::info!(table, attribute = EXPIRES_AT, "DynamoDB TTL turned on");
    Ok(())
}

/// Creates the table if missing, checks its shape, waits until it and its indexes are ACTIVE, and
/// turns its TTL on (`expiresAt`).
pub(crate) async fn ensure(client: &Client, table: &str, wait: Duration) -> Result<(), ProvisionError> {
    create(client, table).await?;
    wait_active(client, table, wait).await?;
    ensure_ttl(client, table).await
}

async fn wait_active(client: &Client, table: &str, wait: Duration) -> Result<(), ProvisionError> {
    let started = Instant::now();
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| aws_error("DynamoDB", "DescribeTable", table, &e))?;
        let d = out
            .table()
            .ok_or_else(|| ProvisionError::Incomplete(format!("DescribeTable returned nothing for `{table}`")))?;
        if let Some(problem) = shape_problem(d) {
            return Err(ProvisionError::TableShape { table: table.to_owned(), problem });
        }
        if is_active(d) {
            return Ok(());
        }
        if started.elapsed() >= wait {
            return Err(ProvisionError::TableNotActive {
                table: table.to_owned(),
                status: d.table_status().map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
                waited_secs: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Deletes the table if it exists (without waiting for the deletion to finish).
pub(crate) async fn delete(client: &Client, table: &str) -> Result<(), ProvisionError> {
    match client.delete_table().table_name(table).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
        Err(e) => Err(aws_error("DynamoDB", "DeleteTable", table, &e)),
    }
}
