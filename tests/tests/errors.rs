//! What a new user sees when greenfleet cannot reach its table: `greenfleet status` with no
//! credentials, no region, an unreachable endpoint, or no table (`infra up` never run). Each is one
//! line saying what is wrong and what to do, with the cause once and none of the SDK's Debug output
//! or log lines; read-only commands never look up queues; logs piped elsewhere carry no colour codes.

use std::process::Command;
use std::time::{Duration, Instant};

use greenfleet_tests::process::greenfleet_binary;

/// Runs `greenfleet args` with an empty environment (but `PATH` and a `HOME` without AWS files) plus
/// `vars`; returns the exit code, stderr and how long it took.
fn run(vars: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, Duration) {
    let home = std::env::temp_dir().join(format!("greenfleet-nohome-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("a HOME without AWS configuration");
    let mut cmd = Command::new(greenfleet_binary());
    cmd.args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &home);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().expect("running greenfleet");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), started.elapsed())
}

/// Stderr is one line, `prefix…suffix`, without SDK internals or colour codes.
fn assert_one_line(stderr: &str, prefix: &str, middle: &str, suffix: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{stderr}");
    let line = lines[0];
    assert!(line.starts_with(prefix), "expected to start with {prefix:?}:\n{line}");
    assert!(line.contains(middle), "expected {middle:?} in:\n{line}");
    assert!(line.ends_with(suffix), "expected to end with {suffix:?}:\n{line}");
    for noise in ["\x1b[", "DispatchFailure", "ConnectorError", "Response {", "headers:", "WARN", "retry later"] {
        assert!(!line.contains(noise), "{noise:?} in:\n{line}");
    }
}

const STATUS: &str = "error: reading rollout `shop-6.0` from table `greenfleet`: store unavailable: \
                      DynamoDB GetItem on greenfleet failed: ";

#[test]
fn no_credentials_say_which_variables_to_set_at_once() {
    let (code, stderr, took) = run(&[("AWS_REGION", "us-east-1")], &["status", "shop-6.0"]);
    assert_eq!(code, Some(1));
    assert_one_line(
        &stderr,
        STATUS,
        "no AWS credentials found (",
        "; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (see `aws configure`)",
    );
    // One instance-metadata attempt of at most 500 ms per lookup (region is set: credentials only).
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn no_region_says_to_set_one() {
    let keys = [("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")];
    let (code, stderr, _) = run(&keys, &["status", "shop-6.0"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{STATUS}no AWS region is set (Invalid Configuration: Missing Region); set AWS_REGION (or a region in \
             the AWS_PROFILE's config)"
        )
    );
    // With an emulator's endpoint the SDK says it in other words; the message is the same.
    let (_, stderr, _) = run(&[keys[0], keys[1], ("AWS_ENDPOINT_URL", "http://127.0.0.1:1")], &["history", "shop-6.0"]);
    assert_one_line(
        &stderr,
        "error: reading rollout `shop-6.0` from table `greenfleet`: ",
        "no AWS region is set (",
        "; set AWS_REGION (or a region in the AWS_PROFILE's config)",
    );
}

#[test]
fn an_unreachable_endpoint_names_the_endpoint_setting_and_piped_logs_have_no_colour() {
    let vars = [
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "y"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
    ];
    let (code, stderr, took) = run(&vars, &["status", "shop-6.0"]);
    assert_eq!(code, Some(1));
    assert_one_line(
        &stderr,
        STATUS,
        "could not connect to the endpoint (",
        "; check the network, and AWS_ENDPOINT_URL if you use an emulator (unset it for AWS itself)",
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Asked for, the SDK's and the adapters' logs come back, without colour codes when piped.
    let (_, stderr, _) = run(&[vars[0], vars[1], vars[2], vars[3], ("GREENFLEET_LOG", "debug")], &["list"]);
    assert!(stderr.lines().count() > 1, "debug logs expected:\n{stderr}");
    assert!(stderr.contains("aws_smithy"), "the SDK's own logs are shown when asked:\n{stderr}");
    assert!(!stderr.contains('\x1b'), "colour codes in piped logs:\n{stderr}");
}

/// The emulator of `./scripts/test.sh`, under a prefix no test installs: nothing exists there.
#[test]
fn a_missing_table_says_run_infra_up_and_read_commands_never_look_up_queues() {
    // The emulator as the suite was given it: `AWS_ENDPOINT_URL` (moto) or per-service endpoints
    // (LocalStack for SQS and EventBridge, moto for DynamoDB), passed on as a user's would be.
    greenfleet_tests::env::assert_emulator_configured();
    let endpoints: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("AWS_ENDPOINT_URL")).collect();
    let prefix = format!("gf-none-{}", std::process::id());
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("GREENFLEET_PREFIX", prefix.as_str()),
    ];
    vars.extend(endpoints.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (args, doing, op) in [
        (&["status", "shop-6.0"][..], "reading rollout `shop-6.0` from", "GetItem"),
        (&["history", "shop-6.0"][..], "reading rollout `shop-6.0` from", "GetItem"),
        (&["list"][..], "listing rollouts in", "Query"),
        (&["watch", "shop-6.0"][..], "reading rollout `shop-6.0` from", "GetItem"),
    ] {
        let (code, stderr, _) = run(&vars, args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        // The table is what is missing: had the command looked up queues first, SQS would be named.
        assert_one_line(
            &stderr,
            &format!(
                "error: {doing} table `{prefix}`: store unavailable: table {prefix} (or its index) does not exist; \
                 run `greenfleet infra up` ({op}: "
            ),
            "ResourceNotFoundException",
            ")",
        );
    }
    // A command that sends to a queue does look it up, and says the same thing to do.
    let (code, stderr, _) = run(&vars, &["cancel", "shop-6.0"]);
    assert_eq!(code, Some(1));
    assert_one_line(
        &stderr,
        &format!(
            "error: finding greenfleet's queues for prefix `{prefix}`: SQS GetQueueUrl on `{prefix}-intake` failed: "
        ),
        "QueueDoesNotExist",
        "; check the name, the account and the region, or run `greenfleet infra up`",
    );
}
