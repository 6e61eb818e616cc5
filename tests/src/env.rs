//! [`spawn_env`]: one isolated greenfleet installation per test, end to end.
//!
//! * uniquely named queues, table, bus and rules on the AWS emulator (`infra_up`, redrive after 3
//!   receives, 5 s visibility timeout, CodeDeploy events of this environment's applications only);
//! * the simulated Spot + CodeDeploy served in-process on port 0, on the system clock, publishing
//!   CodeDeploy's events with `PutEvents` to the default bus, so they reach the events queue through
//!   the `<prefix>-codedeploy` rule exactly as on AWS; the [`Cloud`] handle stays with the test;
//! * two real `greenfleet worker` processes sharing the queues ([`spawn_env_with`] starts more), which
//!   a test may kill and restart ([`TestEnv::restart_worker`]).
//!
//! Tests wait by bounded polling of the store, the simulator or a queue — never a fixed sleep — and
//! end with [`TestEnv::shutdown`]. If a test panics first, dropping the environment still kills the
//! workers and deletes the resources.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use greenfleet_core::ports::MessageQueue as _;
use greenfleet_infra::dynamo::DynamoStore;
use greenfleet_infra::eventbridge::EventBridgeBus;
use greenfleet_infra::provision::{self, Names, ProvisionOptions, Provisioned};
use greenfleet_infra::spot::{SpotConfig, SpotHttpClient, SpotToken};
use greenfleet_infra::sqs::SqsQueue;
use greenfleet_sim::Cloud;
use greenfleet_workers::clock::SystemClock;
use greenfleet_workers::scenarios::{self, Scenario};
use greenfleet_workers::simulate::PutEventsSink;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::observer::Observer;
use crate::process::{self, WorkerProcess};

/// Worker processes per environment, unless [`EnvOptions`] says otherwise.
pub const WORKERS: usize = 2;
/// The demo's applications; each environment renames them `<prefix>-<app>` so that CodeDeploy events
/// of one test's simulator never reach another test's queues.
const APPS: [&str; 4] = ["shop", "search", "checkout", "billing"];
/// The Spot account every worker and command names (`SPOTINST_ACCOUNT`): greenfleet refuses to start
/// without one, and the simulator refuses Blue/Green and capacity calls that lack it.
pub const SPOT_ACCOUNT: &str = "act-7e57e57";
/// Lines of each worker's log shown when a wait fails.
const LOG_TAIL: usize = 40;

/// One test's greenfleet installation. See the module documentation.
pub struct TestEnv {
    /// The unique resource prefix.
    pub prefix: String,
    /// Resource names under the prefix.
    pub names: Names,
    /// SDK configuration for the emulator.
    pub sdk: SdkConfig,
    /// What `infra_up` created.
    pub provisioned: Provisioned,
    /// The saga table, as the workers see it.
    pub store: DynamoStore,
    /// The simulated cloud: set faults, read groups and counters.
    pub cloud: Cloud,
    /// `http://127.0.0.1:<port>` of the simulator (Spot REST + CodeDeploy JSON + `/_sim`).
    pub sim_url: String,
    /// The Spot token the simulator accepts (a secret: it must never show in a log).
    pub spot_token: String,
    workers: Vec<WorkerProcess>,
    /// Processes replaced by [`TestEnv::restart_worker`], kept for their logs.
    retired: Vec<WorkerProcess>,
    sim: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    observer: Mutex<Option<Arc<Observer>>>,
    shut_down: bool,
    /// The trigger file the workers run with, if any.
    triggers: Option<std::path::PathBuf>,
}

/// A resource prefix no other test, in this or another process, uses: `gf-e2e-<pid>-<n>-<ms>`.
fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()) % 10_000_000_000;
    format!("gf-e2e-{}-{n}-{ms}", std::process::id())
}

/// The AWS services the end-to-end tests use, each with the variable that points it at an emulator
/// (`AWS_ENDPOINT_URL` serves every service that has none of its own).
pub const EMULATED_SERVICES: [(&str, &str); 3] = [
    ("SQS", "AWS_ENDPOINT_URL_SQS"),
    ("DynamoDB", "AWS_ENDPOINT_URL_DYNAMODB"),
    ("EventBridge", "AWS_ENDPOINT_URL_EVENTBRIDGE"),
];

/// Checks that the SDK will send every service of [`EMULATED_SERVICES`] to an emulator, as a user's
/// configuration would: through its own `AWS_ENDPOINT_URL_<SERVICE>` or the general
/// `AWS_ENDPOINT_URL`, and not with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`.
///
/// # Panics
/// Naming the services without an endpoint: these tests never skip, and never reach real AWS.
pub fn assert_emulator_configured() {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    let ignored = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let missing: Vec<&str> = EMULATED_SERVICES
        .iter()
        .filter(|(_, var)| ignored || !(set(var) || set("AWS_ENDPOINT_URL")))
        .map(|(service, _)| *service)
        .collect();
    assert!(
        missing.is_empty(),
        "end-to-end tests need an AWS emulator, and {} would reach real AWS: set AWS_ENDPOINT_URL (or \
         AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_EVENTBRIDGE), unset \
         AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, or run ./scripts/test.sh",
        missing.join(", ")
    );
}

/// What [`spawn_env_with`] sets up differently from [`spawn_env`].
#[derive(Debug, Clone)]
pub struct EnvOptions {
    /// Worker processes to start ([`WORKERS`] by default).
    pub workers: usize,
}

impl Default for EnvOptions {
    fn default() -> Self {
        Self { workers: WORKERS }
    }
}

/// Sets up a fresh environment: resources on the emulator, the simulator, two workers (up and
/// answering `/healthz`).
///
/// # Panics
/// Without an emulator endpoint for each service (see [`assert_emulator_configured`]; run
/// `./scripts/test.sh`), or when any part fails to start.
pub async fn spawn_env() -> TestEnv {
    spawn_env_with(EnvOptions::default()).await
}

/// [`spawn_env`] with `opts`, e.g. `EnvOptions { workers: 3, ..Default::default() }`.
///
/// # Panics
/// Without an emulator endpoint for each service (see [`assert_emulator_configured`]; run
/// `./scripts/test.sh`), or when any part fails to start.
pub async fn spawn_env_with(opts: EnvOptions) -> TestEnv {
    spawn(opts, None::<fn(&str) -> std::path::PathBuf>).await
}

/// [`spawn_env`] with trigger rules: `write_file` gets the environment's prefix (to name its
/// applications, see [`TestEnv::app`]) and returns the path of the trigger file it wrote; `infra up`
/// creates a rule per trigger and the workers run with `GREENFLEET_TRIGGERS=<file>`.
///
/// # Panics
/// As [`spawn_env`], and when the trigger file is refused.
pub async fn spawn_env_with_triggers(write_file: impl FnOnce(&str) -> std::path::PathBuf) -> TestEnv {
    spawn(EnvOptions::default(), Some(write_file)).await
}

async fn spawn(opts: EnvOptions, write_triggers: Option<impl FnOnce(&str) -> std::path::PathBuf>) -> TestEnv {
    assert_emulator_configured();
    // Build (or find) the binary first, off the async threads.
    tokio::task::spawn_blocking(process::greenfleet_binary).await.expect("building the greenfleet binary");

    let prefix = unique_prefix();
    let names = Names::new(&prefix).expect("a valid resource prefix");
    let triggers = write_triggers.map(|write| write(&prefix));
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    let provision_opts = ProvisionOptions {
        max_receive_count: 3,
        visibility_timeout_secs: 5,
        codedeploy_applications: APPS.iter().map(|a| format!("{prefix}-{a}")).collect(),
        table_wait: Duration::from_secs(60),
        triggers: greenfleet_workers::connect::load_triggers(triggers.as_deref()).expect("a valid trigger file"),
    };
    let provisioned = provision::infra_up(&sdk, &names, &provision_opts).await.expect("infra up on the emulator");
    let store = DynamoStore::from_config(&sdk, &provisioned.table);

    let cloud = Cloud::new(Arc::new(SystemClock));
    cloud.faults(|f| {
        f.green_launch_delay_ms = 300;
        f.launch_delay_ms = 300;
        f.tag_delay_ms = 200;
        f.deployment_step_ms = 300;
    });
    let spot_token =
        format!("spot-secret-{}", SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the simulator");
    let sim_url = format!("http://{}", listener.local_addr().expect("the simulator's address"));
    let sink = Arc::new(PutEventsSink(EventBridgeBus::from_config(&sdk, "default")));
    let serve_opts = greenfleet_sim::ServeOptions { expected_token: Some(spot_token.clone()), ..Default::default() };
    let (stop, stopped) = oneshot::channel::<()>();
    let sim = tokio::spawn(greenfleet_sim::serve(listener, cloud.clone(), serve_opts, sink, async move {
        let _ = stopped.await;
    }));

    let mut env = TestEnv {
        prefix,
        names,
        sdk,
        provisioned,
        store,
        cloud,
        sim_url,
        spot_token,
        workers: Vec::new(),
        retired: Vec::new(),
        sim: Some((stop, sim)),
        observer: Mutex::new(None),
        shut_down: false,
        triggers,
    };
    env.start_workers(opts.workers).await;
    env
}

impl TestEnv {
    /// What a worker process gets on top of the test's own environment (which carries `AWS_*`).
    fn worker_env(&self) -> Vec<(&'static str, String)> {
        let triggers = self.triggers.iter().map(|f| ("GREENFLEET_TRIGGERS", f.display().to_string()));
        let mut vars = vec![
            ("GREENFLEET_PREFIX", self.prefix.clone()),
            ("GREENFLEET_SPOT_URL", self.sim_url.clone()),
            ("AWS_ENDPOINT_URL_CODEDEPLOY", self.sim_url.clone()),
            ("AWS_ENDPOINT_URL_EC2", self.sim_url.clone()),
            ("SPOTINST_TOKEN", self.spot_token.clone()),
            ("SPOTINST_ACCOUNT", SPOT_ACCOUNT.to_owned()),
            // Debug for the worker module: its log then says how each message was handled
            // (redelivered, lost race, duplicate), which is what a failing test needs.
            ("GREENFLEET_LOG", "info,greenfleet_workers::worker=debug".to_owned()),
        ];
        vars.extend(triggers);
        vars
    }

    /// The log file of the next process started as worker `i`: `<prefix>-worker-<i>.log` for the
    /// first, `<prefix>-worker-<i>.<n>.log` for its `n`-th restart, so a killed worker's log stays.
    fn next_log(&self, i: usize) -> std::path::PathBuf {
        let logs = process::log_dir();
        std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("creating {}: {e}", logs.display()));
        // The processes worker `i` has had: those retired, and the one running now, if any.
        let restarts = self.retired.iter().filter(|w| w.index == i).count() + usize::from(i < self.workers.len());
        let name = if restarts == 0 {
            format!("{}-worker-{i}.log", self.prefix)
        } else {
            format!("{}-worker-{i}.{restarts}.log", self.prefix)
        };
        logs.join(name)
    }

    /// Starts `n` worker processes and waits until each answers `/healthz`.
    async fn start_workers(&mut self, n: usize) {
        let vars = self.worker_env();
        for i in 0..n {
            let log = self.next_log(i);
            self.workers.push(WorkerProcess::spawn(i, &vars, log));
        }
        for i in 0..n {
            self.await_started(i).await;
        }
    }

    /// Waits until the just-spawned worker `i` answers `/healthz`, spawning it again when its admin
    /// port was taken meanwhile.
    async fn await_started(&mut self, i: usize) {
        let vars = self.worker_env();
        let mut attempts = 0;
        loop {
            match self.wait_healthy(i, Duration::from_secs(60)).await {
                Ok(()) => break,
                // Another process took the free port between our probe and the worker's bind: retry.
                Err(why) if attempts < 2 && why.contains("binding the admin endpoint") => {
                    attempts += 1;
                    let log = self.workers[i].log.clone();
                    self.workers[i] = WorkerProcess::spawn(i, &vars, log);
                }
                Err(why) => panic!("{why}"),
            }
        }
    }

    /// Replaces worker `i` by a fresh process (killing the old one with SIGKILL if it still runs),
    /// with a log of its own, and waits until the new one answers `/healthz`. The old process's log
    /// stays part of [`Self::logs`].
    ///
    /// # Panics
    /// When the new worker does not start.
    pub async fn restart_worker(&mut self, i: usize) {
        self.workers[i].kill();
        let log = self.next_log(i);
        let fresh = WorkerProcess::spawn(i, &self.worker_env(), log);
        let old = std::mem::replace(&mut self.workers[i], fresh);
        self.retired.push(old);
        self.await_started(i).await;
    }

    /// Waits until worker `i` answers `GET /healthz` with 200; `Err` says why not, with its log.
    async fn wait_healthy(&mut self, i: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.workers[i].exited() {
                return Err(format!(
                    "worker {i} exited during start-up ({status})\n{}",
                    self.workers[i].log_tail(LOG_TAIL)
                ));
            }
            if let Ok((200, _)) = self.try_healthz(i).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "worker {i} did not answer /healthz within {timeout:?}\n{}",
                    self.workers[i].log_tail(LOG_TAIL)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_healthz(&self, i: usize) -> Result<(u16, serde_json::Value), reqwest::Error> {
        let url = format!("http://{}/healthz", self.workers[i].admin);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        let resp = client.get(url).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or_default()))
    }

    /// Worker `i`'s `/healthz`: status code and JSON body (counters).
    ///
    /// # Panics
    /// When the endpoint cannot be reached.
    pub async fn healthz(&self, i: usize) -> (u16, serde_json::Value) {
        self.try_healthz(i).await.unwrap_or_else(|e| panic!("GET /healthz of worker {i}: {e}"))
    }

    /// Runs the `greenfleet` command line against this environment (`GREENFLEET_PREFIX` set), with
    /// `stdin` as its standard input; returns exit code, stdout and stderr.
    ///
    /// # Panics
    /// When the process cannot be run.
    pub async fn cli(&self, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
        let mut cmd = std::process::Command::new(process::greenfleet_binary());
        cmd.args(args)
            .env("GREENFLEET_PREFIX", &self.prefix)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let input = stdin.to_owned();
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("starting the greenfleet command line");
            let mut pipe = child.stdin.take().expect("its standard input");
            std::io::Write::write_all(&mut pipe, input.as_bytes()).expect("writing to its standard input");
            drop(pipe);
            child.wait_with_output().expect("waiting for the greenfleet command line")
        })
        .await
        .expect("the command line's thread");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    }

    /// [`Self::cli`] with the settings that point a command at this environment's simulator as Spot and
    /// CodeDeploy and EC2 (`GREENFLEET_SPOT_URL`, `SPOTINST_TOKEN`, `SPOTINST_ACCOUNT`,
    /// `AWS_ENDPOINT_URL_CODEDEPLOY`, `AWS_ENDPOINT_URL_EC2`), plus `vars` (which win), for commands that
    /// call them themselves (`plan`); returns exit code, stdout, stderr.
    ///
    /// # Panics
    /// When the process cannot be run.
    pub async fn cli_on_sim(&self, args: &[&str], vars: &[(&str, &str)]) -> (Option<i32>, String, String) {
        let mut cmd = std::process::Command::new(process::greenfleet_binary());
        cmd.args(args)
            .env("GREENFLEET_PREFIX", &self.prefix)
            .env("GREENFLEET_SPOT_URL", &self.sim_url)
            .env("AWS_ENDPOINT_URL_CODEDEPLOY", &self.sim_url)
            .env("AWS_ENDPOINT_URL_EC2", &self.sim_url)
            .env("SPOTINST_TOKEN", &self.spot_token)
            .env("SPOTINST_ACCOUNT", SPOT_ACCOUNT)
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("running the greenfleet command line"))
            .await
            .expect("the command line's thread");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    }

    /// Worker process `i`.
    pub fn worker(&mut self, i: usize) -> &mut WorkerProcess {
        &mut self.workers[i]
    }

    /// The last lines of every worker's log.
    #[must_use]
    pub fn log_tails(&self) -> String {
        self.workers.iter().map(|w| w.log_tail(LOG_TAIL)).collect::<Vec<_>>().join("\n")
    }

    /// Every worker's whole log, including those of processes replaced by [`Self::restart_worker`].
    #[must_use]
    pub fn logs(&self) -> String {
        self.retired.iter().chain(&self.workers).map(WorkerProcess::log_text).collect::<Vec<_>>().join("\n")
    }

    /// This environment's name for a demo application (`shop`, `search`, `checkout`, `billing`).
    #[must_use]
    pub fn app(&self, base: &str) -> String {
        format!("{}-{base}", self.prefix)
    }

    /// The demo scenario of application `base`, renamed into this environment (see [`Self::app`]).
    ///
    /// # Panics
    /// For an application the demo does not have.
    #[must_use]
    pub fn scenario(&self, base: &str) -> Scenario {
        let mut s = scenarios::demo()
            .into_iter()
            .find(|s| s.deployment_group.name.application == base)
            .unwrap_or_else(|| panic!("the demo has no application `{base}`"));
        s.deployment_group.name.application = self.app(base);
        s.group.codedeploy = vec![s.deployment_group.name.clone()];
        s
    }

    /// Creates the scenario's Elastigroup, deployment group and fault in the simulator.
    pub fn install(&self, s: &Scenario) {
        s.install(&self.cloud);
    }

    /// The scenario's rollout request with `request_id`.
    #[must_use]
    pub fn request(&self, s: &Scenario, request_id: &str) -> serde_json::Value {
        let mut r = s.request();
        r["requestId"] = serde_json::json!(request_id);
        r
    }

    /// The intake queue.
    #[must_use]
    pub fn intake(&self) -> SqsQueue {
        SqsQueue::from_config(&self.sdk, &self.provisioned.intake.url)
    }

    /// greenfleet's bus of this environment.
    #[must_use]
    pub fn bus(&self) -> EventBridgeBus {
        EventBridgeBus::from_config(&self.sdk, &self.provisioned.bus_name)
    }

    /// Sends a rollout request to the intake queue, as `greenfleet submit` does.
    pub async fn submit(&self, request: &serde_json::Value) {
        self.submit_raw(&request.to_string()).await;
    }

    /// Sends any body to the intake queue.
    ///
    /// # Panics
    /// When SQS refuses.
    pub async fn submit_raw(&self, body: &str) {
        self.intake().send(body, 0).await.expect("sending to the intake queue");
    }

    /// A Spot API client for the simulator (what the workers use), to read groups back through Spot's API.
    ///
    /// # Panics
    /// When the client cannot be built.
    #[must_use]
    pub fn spot(&self) -> SpotHttpClient {
        let mut config = SpotConfig::new(SpotToken::new(self.spot_token.clone()));
        config.base_url.clone_from(&self.sim_url);
        config.account_id = Some(SPOT_ACCOUNT.to_owned());
        SpotHttpClient::new(config).expect("a Spot client for the simulator")
    }

    /// An EC2 client for the simulator's EC2 face (what the workers use), to read instance tags back
    /// where CodeDeploy looks.
    #[must_use]
    pub fn ec2(&self) -> greenfleet_infra::ec2::Ec2Sdk {
        greenfleet_infra::ec2::Ec2Sdk::with_endpoint(&self.sdk, &self.sim_url)
    }

    /// The observer of this environment's lifecycle events, created on first call. Create it before
    /// publishing what you want to observe.
    pub async fn events_observer(&self) -> Arc<Observer> {
        if let Some(o) = self.observer.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return o;
        }
        let o = Arc::new(Observer::create(&self.sdk, &self.prefix, &self.provisioned.bus_name).await);
        *self.observer.lock().unwrap_or_else(PoisonError::into_inner) = Some(o.clone());
        o
    }

    /// Stops everything: SIGTERM to the workers (SIGKILL after 10 s), the simulator, the observer, and
    /// the resources on the emulator. Every test ends with it.
    pub async fn shutdown(mut self) {
        for w in &mut self.workers {
            w.stop(Duration::from_secs(10)).await;
        }
        if let Some((stop, task)) = self.sim.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let observer = self.observer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(o) = observer {
            o.delete(&self.sdk).await;
        }
        // Best effort: the emulator is discarded after the run anyway.
        let _ = provision::infra_down(&self.sdk, &self.names).await;
        self.shut_down = true;
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if self.shut_down {
            return;
        }
        // A test panicked before `shutdown`: kill the workers now (their Drop does), stop the
        // simulator, and delete the resources from a runtime of our own.
        self.workers.clear();
        self.retired.clear();
        if let Some((stop, task)) = self.sim.take() {
            let _ = stop.send(());
            task.abort();
        }
        let sdk = self.sdk.clone();
        let names = self.names.clone();
        let observer = self.observer.lock().unwrap_or_else(PoisonError::into_inner).take();
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                let work = async {
                    if let Some(o) = observer {
                        o.delete(&sdk).await;
                    }
                    let _ = provision::infra_down(&sdk, &names).await;
                };
                let _ = tokio::time::timeout(Duration::from_secs(20), work).await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Polls `probe` every 100 ms until it gives `Ok`; returns the value.
///
/// # Panics
/// After `timeout`, naming `what` and the last `Err`.
pub async fn eventually<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(why) => assert!(Instant::now() < deadline, "not within {timeout:?}: {what}; last: {why}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`eventually`] with an async probe, every 200 ms.
///
/// # Panics
/// After `timeout`, naming `what` and the last `Err`.
pub async fn eventually_async<T, F: Future<Output = Result<T, String>>>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(why) => assert!(Instant::now() < deadline, "not within {timeout:?}: {what}; last: {why}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
