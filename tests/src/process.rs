//! The real `greenfleet` binary for end-to-end tests: built once per test run (same profile as the
//! test executable), and worker processes that never outlive their test — dropping a
//! [`WorkerProcess`] kills and reaps it, even when the test panicked.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `greenfleet` binary next to this test executable, built (`cargo build -p greenfleet --bin
/// greenfleet`, same profile) on first use; later calls return the same path.
///
/// # Panics
/// When the build fails (with cargo's output) or the binary is not where cargo puts it.
pub fn greenfleet_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build)
}

/// `target/<profile>`: the test executable lives in its `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test executable");
    exe.parent().and_then(Path::parent).expect("the test executable sits in <target>/<profile>/deps").to_path_buf()
}

/// Where end-to-end logs go: `<target>/e2e-logs`.
#[must_use]
pub fn log_dir() -> PathBuf {
    let profile = profile_dir();
    profile.parent().unwrap_or(&profile).join("e2e-logs")
}

fn build() -> PathBuf {
    let dir = profile_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(["build", "--quiet", "-p", "greenfleet", "--bin", "greenfleet"]);
    // `cargo test` builds into target/debug (dev/test) or target/release (release/bench); a custom
    // profile has a directory of its own name.
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
        None => panic!("cannot tell the build profile from {}", dir.display()),
    }
    if let Some(target) = dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let out = cmd.output().expect("running cargo to build the greenfleet binary");
    assert!(
        out.status.success(),
        "building the greenfleet binary failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = dir.join(format!("greenfleet{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "cargo built greenfleet but {} does not exist", bin.display());
    bin
}

/// A free loopback port (bound and released: the worker binds it a moment later).
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free loopback port");
    l.local_addr().expect("its address").port()
}

/// One `greenfleet worker` process, its admin address and its log file. Dropping it kills the
/// process (SIGKILL) if it still runs, and waits for it.
#[derive(Debug)]
pub struct WorkerProcess {
    child: Child,
    /// Which worker of its environment (0, 1, …).
    pub index: usize,
    /// Where `GET /healthz` answers.
    pub admin: SocketAddr,
    /// stdout and stderr, together.
    pub log: PathBuf,
}

impl WorkerProcess {
    /// Starts `greenfleet worker` with `env` added to this process's environment and its output in `log`.
    ///
    /// # Panics
    /// When the log file cannot be created or the process cannot be started.
    #[must_use]
    pub fn spawn(index: usize, env: &[(&str, String)], log: PathBuf) -> Self {
        let admin: SocketAddr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let out = File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err = out.try_clone().expect("a second handle on the log file");
        let mut cmd = Command::new(greenfleet_binary());
        cmd.args(["worker", "--admin-addr", &admin.to_string(), "--wait-ms", "1000"])
            // Flags win over these, but a stray setting in the caller's environment must not leak in.
            .env_remove("GREENFLEET_ADMIN_ADDR")
            .env_remove("GREENFLEET_CONCURRENCY")
            .env_remove("GREENFLEET_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", greenfleet_binary().display()));
        Self { child, index, admin, log }
    }

    /// The OS process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as an orchestrator does to stop a worker gracefully.
    ///
    /// # Panics
    /// When `kill` cannot be run.
    pub fn terminate(&self) {
        let status =
            Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("running `kill -TERM`");
        assert!(status.success(), "kill -TERM {} failed: {status}", self.pid());
    }

    /// Kills the process with SIGKILL, as a crash or an OOM killer would: no shutdown path runs, the
    /// messages in hand stay unacknowledged. Waits for it and returns how it exited (`None` if it
    /// could not be reaped).
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        // std's `Child::kill` sends SIGKILL on Unix.
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// The exit status, if the process has exited.
    ///
    /// # Panics
    /// When the process cannot be queried.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("querying the worker process")
    }

    /// Waits up to `timeout` for the process to exit (polling, so the async runtime keeps running).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then up to `grace` to exit, then SIGKILL. Returns how it exited.
    pub async fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        self.terminate();
        if let Some(status) = self.wait_exit(grace).await {
            return Some(status);
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// The whole log so far.
    #[must_use]
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log, headed by the worker's number and file.
    #[must_use]
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(n)..].join("\n");
        format!("── worker {} ({}) last {n} lines ──\n{tail}", self.index, self.log.display())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
