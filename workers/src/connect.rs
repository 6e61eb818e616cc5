//! Wiring for real endpoints: AWS (or an emulator through `AWS_ENDPOINT_URL`) and the Spot API.
//! Settings come from flags or `GREENFLEET_*` environment variables; the Spot token only from the
//! environment (`SPOTINST_TOKEN`), so it never shows in a process list.

use std::sync::Arc;

use anyhow::Context as _;
use aws_config::SdkConfig;
use clap::Args;
use greenfleet_core::ports::Clock;
use greenfleet_infra::codedeploy::CodeDeploySdk;
use greenfleet_infra::dynamo::DynamoStore;
use greenfleet_infra::ec2::Ec2Sdk;
use greenfleet_infra::eventbridge::EventBridgeBus;
use greenfleet_infra::health::HttpHealthProbe;
use greenfleet_infra::provision::{self, Located, Names};
use greenfleet_infra::spot::{SpotConfig, SpotHttpClient, SpotToken};
use greenfleet_infra::sqs::SqsQueue;

use crate::clock::SystemClock;
use crate::executor::Executor;
use crate::worker::{Deps, Worker};

/// Where greenfleet's AWS resources are.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Prefix of every queue, table, bus and rule greenfleet creates (`greenfleet infra up`).
    #[arg(long, env = "GREENFLEET_PREFIX", default_value = provision::DEFAULT_PREFIX, global = true)]
    pub prefix: String,
    /// Days a finished rollout (and its history) stays in the table before DynamoDB's TTL deletes it
    /// (at least 1). Running rollouts and leases never expire.
    #[arg(
        long,
        env = "GREENFLEET_RETENTION_DAYS",
        default_value_t = greenfleet_infra::dynamo::DEFAULT_RETENTION_DAYS,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub retention_days: u32,
}

/// How to reach the Spot API.
#[derive(Debug, Clone, Args)]
pub struct SpotArgs {
    /// Spot API base URL (a greenfleet simulator in tests).
    #[arg(long, env = "GREENFLEET_SPOT_URL", default_value = greenfleet_infra::spot::DEFAULT_BASE_URL)]
    pub spot_url: String,
    /// Spot account id (`act-…`) that owns the Elastigroups. Required: Spot's Blue/Green and capacity
    /// calls need it, and without it Spot would act on the organization's oldest account.
    #[arg(long, env = "SPOTINST_ACCOUNT")]
    pub spot_account: Option<String>,
}

impl SpotArgs {
    /// The Spot client of these settings and `SPOTINST_TOKEN`. Called before anything else is set up,
    /// so a missing token or a missing or malformed account stops the command at start, naming the
    /// setting to fix.
    pub fn client(&self) -> anyhow::Result<SpotHttpClient> {
        self.client_with_token(std::env::var("SPOTINST_TOKEN").unwrap_or_default())
    }

    /// [`Self::client`] with the token given.
    pub(crate) fn client_with_token(&self, token: String) -> anyhow::Result<SpotHttpClient> {
        let mut config = SpotConfig::new(SpotToken::new(token));
        config.base_url.clone_from(&self.spot_url);
        config.account_id.clone_from(&self.spot_account);
        SpotHttpClient::new(config).context("setting up the Spot client")
    }
}

/// An open connection to greenfleet's resources.
pub struct Connected {
    /// The SDK configuration.
    pub sdk: SdkConfig,
    /// Resource names.
    pub names: Names,
    /// Queue URLs and table.
    pub located: Located,
    /// The table.
    pub store: Arc<DynamoStore>,
}

/// The trigger rules in `path` (`--triggers` / `GREENFLEET_TRIGGERS`), or none.
pub fn load_triggers(path: Option<&std::path::Path>) -> anyhow::Result<greenfleet_core::trigger::Triggers> {
    let Some(path) = path else { return Ok(greenfleet_core::trigger::Triggers::default()) };
    let bytes = std::fs::read(path).with_context(|| format!("reading the trigger file {}", path.display()))?;
    greenfleet_core::trigger::Triggers::parse(&bytes)
        .with_context(|| format!("in {}: fix the trigger file and start again", path.display()))
}

/// Resource names from the prefix.
pub fn names(args: &AwsArgs) -> anyhow::Result<Names> {
    Names::new(&args.prefix).map_err(anyhow::Error::from)
}

/// What the commands that only read the table (`status`, `history`, `list`, `watch`) need: no queue
/// is looked up, so they work (and fail) on the table alone.
pub struct TableReader {
    /// The SDK configuration.
    pub sdk: SdkConfig,
    /// Resource names.
    pub names: Names,
    /// The table.
    pub store: Arc<DynamoStore>,
}

/// Loads the SDK configuration for reading greenfleet's table; no AWS call is made yet.
pub async fn connect_table(args: &AwsArgs) -> anyhow::Result<TableReader> {
    let names = names(args)?;
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    let store = Arc::new(DynamoStore::from_config(&sdk, names.table()));
    Ok(TableReader { sdk, names, store })
}

/// Loads the SDK configuration and finds the queues (never creates them).
pub async fn connect(args: &AwsArgs) -> anyhow::Result<Connected> {
    let names = names(args)?;
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    let located = provision::locate(&sdk, &names)
        .await
        .with_context(|| format!("finding greenfleet's queues for prefix `{}`", names.prefix()))?;
    let store = Arc::new(DynamoStore::from_config(&sdk, &located.table).with_retention_days(args.retention_days));
    Ok(Connected { sdk, names, located, store })
}

impl Connected {
    /// A queue by URL.
    #[must_use]
    pub fn queue(&self, url: &str) -> Arc<SqsQueue> {
        Arc::new(SqsQueue::from_config(&self.sdk, url))
    }

    /// The shortest visibility timeout of the three queues the worker consumes, in milliseconds: the
    /// worker keeps every message in hand hidden by extending it well before it lapses.
    pub async fn visibility_ms(&self) -> anyhow::Result<u64> {
        let mut shortest = u64::MAX;
        for url in [&self.located.intake_url, &self.located.steps_url, &self.located.events_url] {
            let ms = self
                .queue(url)
                .visibility_timeout_ms()
                .await
                .with_context(|| format!("reading the visibility timeout of {url}"))?;
            shortest = shortest.min(ms);
        }
        Ok(shortest)
    }

    /// greenfleet's bus.
    #[must_use]
    pub fn bus(&self) -> EventBridgeBus {
        EventBridgeBus::from_config(&self.sdk, &self.located.bus_name)
    }

    /// A worker over these resources and the Spot API (from [`SpotArgs::client`]).
    pub fn worker(&self, spot: SpotHttpClient) -> anyhow::Result<Worker> {
        let health = HttpHealthProbe::new().context("setting up the health-check client")?;
        let executor = Executor {
            elastigroups: Arc::new(spot),
            instances: Arc::new(Ec2Sdk::from_config(&self.sdk)),
            deployments: Arc::new(CodeDeploySdk::from_config(&self.sdk)),
            leases: self.store.clone(),
            health: Arc::new(health),
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Ok(Worker::new(Deps {
            store: self.store.clone(),
            intake: self.queue(&self.located.intake_url),
            steps: self.queue(&self.located.steps_url),
            events: self.queue(&self.located.events_url),
            bus: Arc::new(self.bus()),
            executor,
            clock,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::SpotArgs;

    #[test]
    fn a_missing_or_malformed_spot_account_stops_the_command_at_start() {
        let args = |account: Option<&str>| SpotArgs {
            spot_url: "http://127.0.0.1:9".into(),
            spot_account: account.map(str::to_owned),
        };
        let err = |account| format!("{:#}", args(account).client_with_token("t".into()).unwrap_err());
        let missing = err(None);
        assert!(missing.contains("Spot account is not set: set SPOTINST_ACCOUNT (or --spot-account)"), "{missing}");
        assert!(missing.contains("e.g. act-1a2b3c4d"), "{missing}");
        let malformed = err(Some("1a2b3c4d"));
        assert!(
            malformed.contains("`1a2b3c4d` (SPOTINST_ACCOUNT or --spot-account) is not a Spot account id"),
            "{malformed}"
        );
        assert!(args(Some("act-1a2b3c4d")).client_with_token("t".into()).is_ok());
    }
}
