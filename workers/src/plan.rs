//! `greenfleet plan <request.json>`: validates a request, reads the live Elastigroup and deployment
//! group through the same calls preflight makes (Spot: group, instances, Blue/Green; CodeDeploy:
//! GetDeploymentGroup), runs core's preflight and [`greenfleet_core::plan::plan`], and prints what the
//! rollout would do — or every rule it breaks, with what to change. It only reads: nothing is written
//! to Spot, CodeDeploy or greenfleet's table, and it needs neither the queues nor the table.

use std::fmt::Write as _;
use std::process::ExitCode;

use greenfleet_core::cloud::{BlueAction, ReadyAction};
use greenfleet_core::effect::Inspection;
use greenfleet_core::ids::{ElastigroupId, Tag};
use greenfleet_core::plan::{PlanReport, plan};
use greenfleet_core::ports::{Deployments, Elastigroups, Instances, RemoteError};
use greenfleet_core::request::{ApprovalMode, RolloutRequest, parse_request};
use greenfleet_infra::codedeploy::CodeDeploySdk;
use greenfleet_infra::ec2::Ec2Sdk;
use greenfleet_infra::spot::SpotHttpClient;

use crate::connect::SpotArgs;
use crate::ops::Output;

/// Exit status when the rollout would be rejected (an invalid request, a preflight rule, a blocker).
pub const EXIT_REJECTED: u8 = 2;

/// Runs `greenfleet plan` on the request in `body`: exit 0 accepted, 2 rejected; `Err` (exit 1) when
/// Spot or CodeDeploy could not be read.
pub async fn run(body: &[u8], spot: &SpotArgs, output: Output) -> anyhow::Result<ExitCode> {
    let request = match parse_request(body) {
        Ok(r) => r,
        Err(e) => {
            if output == Output::Json {
                let v =
                    serde_json::json!({ "rolloutId": e.request_id, "accepted": false, "requestErrors": e.problems });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("the request is invalid; fix these fields (`greenfleet validate` checks them alone):");
                for p in &e.problems {
                    println!("  {}: {}", p.field, p.message);
                }
            }
            return Ok(ExitCode::from(EXIT_REJECTED));
        }
    };
    let spot = spot_client(spot)?;
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    let codedeploy = CodeDeploySdk::from_config(&sdk);
    let ec2 = Ec2Sdk::from_config(&sdk);
    let seen = match inspect(&spot, &ec2, &codedeploy, &request).await {
        Ok(seen) => seen,
        Err(RemoteError::NotFound(what)) => {
            // Spot's and CodeDeploy's own messages already say what to check.
            let why = what;
            if output == Output::Json {
                let v = serde_json::json!({ "rolloutId": request.rollout_id(), "accepted": false, "blockers": [why] });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("rollout {} would be REJECTED (nothing was changed): {why}", request.rollout_id());
            }
            return Ok(ExitCode::from(EXIT_REJECTED));
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "could not read Elastigroup {} or deployment group {}/{}: {e}; check GREENFLEET_SPOT_URL, \
                 SPOTINST_TOKEN and the AWS configuration (AWS_REGION, credentials, AWS_ENDPOINT_URL_CODEDEPLOY, \
                 AWS_ENDPOINT_URL_EC2)",
                request.elastigroup_id,
                request.application,
                request.deployment_group
            ));
        }
    };
    let report = plan(&request, &seen);
    if output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.accepted { ExitCode::SUCCESS } else { ExitCode::from(EXIT_REJECTED) })
}

fn spot_client(args: &SpotArgs) -> anyhow::Result<SpotHttpClient> {
    let token = std::env::var("SPOTINST_TOKEN").unwrap_or_default();
    anyhow::ensure!(
        !token.trim().is_empty(),
        "SPOTINST_TOKEN is not set; plan reads the Elastigroup through the Spot API: export the token (it is never a flag)"
    );
    args.client_with_token(token)
}

/// The reads of preflight's `Inspect` (with the deployment group): nothing else.
async fn inspect(
    spot: &dyn Elastigroups,
    ec2: &dyn Instances,
    codedeploy: &dyn Deployments,
    request: &RolloutRequest,
) -> Result<Inspection, RemoteError> {
    let id: &ElastigroupId = &request.elastigroup_id;
    let (group, instances, green) =
        tokio::join!(spot.group(id), crate::executor::group_instances(spot, ec2, id), spot.green(id));
    let name = greenfleet_core::cloud::DeploymentGroupRef {
        application: request.application.clone(),
        deployment_group: request.deployment_group.clone(),
    };
    let deployment_group = match codedeploy.deployment_group(&name).await {
        Ok(v) => Some(v),
        Err(RemoteError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(Inspection { group: group?, instances: instances?, green: green?, deployment_group: Some(deployment_group) })
}

fn tags(tags: &[Tag]) -> String {
    tags.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The plan for people: the verdict first, then each stage, or every violation with what to change.
#[must_use]
pub fn render(r: &PlanReport) -> String {
    let mut s = String::new();
    let id = &r.rollout_id;
    if !r.accepted {
        let _ = writeln!(s, "rollout {id} would be REJECTED (nothing was changed); change this first:");
        for v in &r.violations {
            let _ = writeln!(s, "  {v}");
        }
        for b in &r.blockers {
            let _ = writeln!(s, "  [blocked] {b}");
        }
        return s;
    }
    let p = &r.plan;
    let c = &p.capacity;
    let n = p.launch.count;
    let _ = writeln!(s, "rollout {id} would be ACCEPTED (nothing was changed):");
    let _ =
        writeln!(s, "  Elastigroup  {} ({}): {} running", p.elastigroup.id, p.elastigroup.name, p.elastigroup.running);
    let _ = writeln!(s, "  Capacity     before {}", c.before);
    let _ = writeln!(s, "               during {}  Spot launches {n} green next to blue (F5)", c.during);
    let _ = writeln!(s, "               after  {}  the snapshot, restored and read back (F8)", c.after);
    let _ = writeln!(s, "  Launch       {n} green instance(s) tagged {}", tags(&p.launch.tags));
    let blue: Vec<String> = p.remove.instances.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        s,
        "  Remove       {} blue instance(s) after success, by {}: {}",
        blue.len(),
        p.remove.by,
        blue.join(", ")
    );
    let d = &p.deployment;
    let _ = writeln!(s, "  Deployment   CodeDeploy {}: {}", d.deployment_group, d.revision.describe());
    let _ = writeln!(s, "               targets {}; description \"{}\"", tags(&d.target_tags), d.description);
    let ready = match d.ready_action {
        Some(ReadyAction::StopDeployment) => "waits at READY for ContinueDeployment (STOP_DEPLOYMENT)",
        Some(ReadyAction::ContinueDeployment) => "moves traffic at once (CONTINUE_DEPLOYMENT)",
        None => "READY action unknown",
    };
    let blue_action = match d.blue_action {
        Some(BlueAction::Terminate) => "TERMINATE",
        Some(BlueAction::KeepAlive) => "KEEP_ALIVE",
        None => "blue action unknown",
    };
    let _ = writeln!(s, "               {ready}; blue: {blue_action}");
    if let Some(f) = &d.blue_filter {
        let _ = writeln!(
            s,
            "               after success the deployment group's {} select the new blue: {} → {}",
            f.field, f.before, f.after
        );
    }
    let g = &p.gates;
    match &g.health_check {
        Some(h) => {
            let _ = writeln!(
                s,
                "  Gates        health check GET {} → {}, {} passing round(s) {} s apart (timeout {} s); {} failed rounds roll back",
                h.url_template,
                h.expected_status,
                h.consecutive_successes,
                h.interval_seconds,
                h.timeout_seconds,
                g.health_failures_allowed
            );
        }
        None => {
            let _ = writeln!(s, "  Gates        no health check");
        }
    }
    let approval = match g.approval {
        ApprovalMode::Auto => "approval auto: traffic moves as soon as green is READY".to_owned(),
        ApprovalMode::Manual => format!(
            "approval manual: waits at READY for `greenfleet approve {id}` up to {} min, then rolls back",
            p.timeouts.approval_minutes
        ),
    };
    let _ = writeln!(s, "               {approval}");
    let t = &p.timeouts;
    let _ = writeln!(
        s,
        "  Deadlines    green ready {} min, deployment {} min, approval {} min, lock wait {} min",
        t.green_ready_minutes, t.deployment_minutes, t.approval_minutes, t.lock_wait_minutes
    );
    for note in &p.notes {
        let _ = writeln!(s, "  Note         {note}");
    }
    for w in &r.warnings {
        let _ = writeln!(s, "  Warning      {w}");
    }
    s
}
