//! EC2 through the SDK, implementing core's `Instances`: [`Ec2Sdk`]. CodeDeploy finds instances by
//! their **EC2** tags, and no Spot endpoint returns an instance's tags, so greenfleet reads state and
//! tags here: `DescribeInstances` filtered by `instance-id` (ids EC2 does not know yet are simply
//! absent, where the `InstanceIds` parameter would fail the whole call with
//! `InvalidInstanceID.NotFound`), every page.
//!
//! IAM: `ec2:DescribeInstances` cannot be scoped to resources; it needs `"Resource": "*"`.

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Instance};
use tracing::warn;

use greenfleet_core::cloud::{Ec2Instance, Ec2State};
use greenfleet_core::ids::{InstanceId, Tag};
use greenfleet_core::ports::{Instances, RemoteError};

/// Instance ids per `instance-id` filter: EC2 documents up to 200 values per filter; stay well under.
const IDS_PER_CALL: usize = 100;
/// Instances per page (`MaxResults`, 5 to 1000).
const PAGE: i32 = 500;

/// EC2 via `aws_sdk_ec2`. Cheap to clone (the SDK client is an `Arc` inside).
#[derive(Debug, Clone)]
pub struct Ec2Sdk {
    client: Client,
}

impl Ec2Sdk {
    /// Wraps a configured SDK client.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client from a loaded AWS configuration (which honours `AWS_ENDPOINT_URL_EC2`).
    #[must_use]
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::from_conf(
            aws_sdk_ec2::config::Builder::from(config).retry_classifier(crate::aws::transport_only()).build(),
        ))
    }

    /// A client for an explicit endpoint (a simulator's), which wins over every `AWS_ENDPOINT_URL*`
    /// variable: a test process that points the other services at an emulator can still read EC2 here.
    #[must_use]
    pub fn with_endpoint(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        Self::new(Client::from_conf(
            aws_sdk_ec2::config::Builder::from(config)
                .endpoint_url(endpoint)
                .retry_classifier(crate::aws::transport_only())
                .build(),
        ))
    }
}

#[async_trait]
impl Instances for Ec2Sdk {
    async fn describe(&self, ids: &[InstanceId]) -> Result<Vec<Ec2Instance>, RemoteError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_CALL) {
            let filter = Filter::builder()
                .name("instance-id")
                .set_values(Some(chunk.iter().map(|i| i.as_str().to_owned()).collect()))
                .build();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .describe_instances()
                    .filters(filter.clone())
                    .max_results(PAGE)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| remote_error(chunk.len(), &e))?;
                for r in page.reservations() {
                    out.extend(r.instances().iter().filter_map(instance));
                }
                match page.next_token().filter(|t| !t.is_empty()) {
                    Some(t) => token = Some(t.to_owned()),
                    None => break,
                }
            }
        }
        Ok(out)
    }
}

/// One described instance as core sees it; `None` without a usable id.
pub(crate) fn instance(i: &Instance) -> Option<Ec2Instance> {
    let id = InstanceId::parse(i.instance_id()?).ok()?;
    let state = i
        .state()
        .and_then(|s| s.name())
        .map_or_else(|| Ec2State::Other("(no state)".to_owned()), |n| Ec2State::parse(n.as_str()));
    let tags = i
        .tags()
        .iter()
        .filter_map(|t| {
            // EC2's tags are facts about the world: kept as they are (even `aws:` keys).
            Some(Tag { key: t.key()?.to_owned(), value: t.value().unwrap_or_default().to_owned() })
        })
        .collect();
    Some(Ec2Instance { id, state, private_ip: i.private_ip_address().map(str::to_owned), tags })
}

fn remote_error<E>(count: usize, err: &SdkError<E, HttpResponse>) -> RemoteError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = format!("EC2 DescribeInstances ({count} instances)");
    let full = crate::aws::cause_chain(err);
    let mapped = match err {
        SdkError::ServiceError(e) => {
            let mapped =
                crate::codedeploy::classify(e.raw().status().as_u16(), e.err().code(), e.err().message(), &context);
            match (e.err().code(), mapped) {
                (Some("UnauthorizedOperation" | "AuthFailure"), RemoteError::Rejected { code, message }) => {
                    RemoteError::Rejected {
                        code,
                        message: format!(
                            "{message}; the worker's IAM policy needs ec2:DescribeInstances on Resource \"*\""
                        ),
                    }
                }
                (_, other) => other,
            }
        }
        _ => crate::codedeploy::no_answer(&context, crate::aws::classify(err).kind, &full),
    };
    warn!(error = %full, "EC2 DescribeInstances failed");
    mapped
}
