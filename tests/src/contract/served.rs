//! [`ServedSim`]: the simulator served on 127.0.0.1:0 with a record of every exchange, and
//! greenfleet's real clients pointed at it. Needs no emulator: CodeDeploy events go to memory. The
//! model runs on a manual clock, so a scenario decides when green instances come up and deployments
//! move on ([`ServedSim::run_until`]), whatever the machine's load.

use std::sync::Arc;
use std::time::Duration;

use greenfleet_core::ids::Timestamp;
use greenfleet_core::memory::ManualClock;
use greenfleet_infra::codedeploy::CodeDeploySdk;
use greenfleet_infra::spot::{SpotConfig, SpotHttpClient, SpotToken};
use greenfleet_sim::{Cloud, Exchange, MemorySink, Recorder, ServeOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The Spot token the served simulator expects.
const TOKEN: &str = "contract-token";
/// The Spot account the client sends, as a worker configured with `SPOTINST_ACCOUNT` does.
pub const ACCOUNT: &str = "act-12345678";

/// A simulator on its own port, recording every exchange.
pub struct ServedSim {
    /// The model behind it: set faults, read state.
    pub cloud: Cloud,
    /// The model's clock.
    pub clock: Arc<ManualClock>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    recorder: Recorder,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServedSim {
    /// Serves a fresh cloud, its clock at 2026-01-01T00:00:00Z.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp(1_767_225_600_000)));
        let cloud = Cloud::new(clock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the simulator");
        let url = format!("http://{}", listener.local_addr().expect("the simulator's address"));
        let recorder = Recorder::new();
        let opts = ServeOptions {
            expected_token: Some(TOKEN.to_owned()),
            tick_ms: 10,
            record: Some(recorder.clone()),
            ..ServeOptions::default()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task =
            tokio::spawn(greenfleet_sim::serve(listener, cloud.clone(), opts, Arc::new(MemorySink::new()), async {
                let _ = stopped.await;
            }));
        Self { cloud, clock, url, recorder, stop: Some(stop), task: Some(task) }
    }

    /// greenfleet's Spot client for this simulator, with an account and quick retries.
    ///
    /// # Panics
    /// When the client cannot be built.
    #[must_use]
    pub fn spot(&self) -> SpotHttpClient {
        let config = SpotConfig {
            base_url: self.url.clone(),
            account_id: Some(ACCOUNT.to_owned()),
            timeout_ms: 5_000,
            max_retries: 2,
            retry_min_delay_ms: 10,
            ..SpotConfig::new(SpotToken::new(TOKEN))
        };
        SpotHttpClient::new(config).expect("a Spot client for the simulator")
    }

    /// greenfleet's CodeDeploy client for this simulator: the AWS SDK with test credentials, a region,
    /// the simulator as endpoint and quick retries.
    pub async fn codedeploy(&self) -> CodeDeploySdk {
        let retry = aws_config::retry::RetryConfig::standard()
            .with_initial_backoff(Duration::from_millis(10))
            .with_max_backoff(Duration::from_millis(50));
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .retry_config(retry)
            .load()
            .await;
        CodeDeploySdk::from_config(&sdk)
    }

    /// greenfleet's EC2 client for this simulator, configured as [`Self::codedeploy`]'s.
    pub async fn ec2(&self) -> greenfleet_infra::ec2::Ec2Sdk {
        let retry = aws_config::retry::RetryConfig::standard()
            .with_initial_backoff(Duration::from_millis(10))
            .with_max_backoff(Duration::from_millis(50));
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .retry_config(retry)
            .load()
            .await;
        greenfleet_infra::ec2::Ec2Sdk::with_endpoint(&sdk, &self.url)
    }

    /// Moves the clock from one scheduled happening of the model to the next until `done` holds.
    ///
    /// # Panics
    /// When nothing more is scheduled, or after 1,000 steps, and `done` still does not hold.
    pub fn run_until(&self, what: &str, done: impl Fn(&Cloud) -> bool) {
        for _ in 0..1_000 {
            if done(&self.cloud) {
                return;
            }
            match self.cloud.next_due() {
                Some(t) => {
                    self.clock.set(t);
                    self.cloud.tick();
                }
                None => panic!("{what}: nothing more is scheduled in the simulated cloud"),
            }
        }
        panic!("{what} did not happen within 1,000 scheduled steps");
    }

    /// Every exchange served so far, leaving the record empty.
    #[must_use]
    pub fn take(&self) -> Vec<Exchange> {
        self.recorder.take()
    }

    /// Stops the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}
