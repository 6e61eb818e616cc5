//! The contract suites: greenfleet's real clients drive the simulator through every operation they
//! use, errors included, and every recorded exchange — the request sent and the answer served — is
//! checked against what the services publish: Spot's OpenAPI definition (`spot`), botocore's
//! CodeDeploy model (`codedeploy`), and botocore's EC2 model for XML answers (`ec2`); greenfleet's
//! error classification is checked against botocore's retry policies (`retry`). The CodeDeploy
//! and EC2 suites read the models through `GREENFLEET_BOTOCORE_DATA` (set by ./scripts/test.sh) and
//! fail when it is missing.

mod codedeploy;
mod ec2;
mod retry;
mod spot;

use greenfleet_core::cloud::GreenState;
use greenfleet_core::ids::{ElastigroupId, Tag};
use greenfleet_sim::Exchange;
use greenfleet_tests::contract::served::ServedSim;
use greenfleet_tests::contract::{Problem, report};
use greenfleet_workers::scenarios::{self, Scenario};

/// A demo scenario whose deployment group waits at READY for ContinueDeployment (KEEP_ALIVE).
fn waiting_scenario() -> Scenario {
    scenarios::demo().into_iter().find(|s| s.name == "search-6.0").expect("the search-6.0 demo scenario")
}

/// The unique green tag a rollout would give.
fn rollout_tag() -> Tag {
    Tag::new("greenfleet:rollout", "contract-1").expect("a valid tag")
}

/// Runs the model until the group's Blue/Green deployment has every green instance running and tagged.
fn green_up(sim: &ServedSim, group: &ElastigroupId) {
    sim.run_until("green running and tagged", |cloud| {
        cloud.group_state(group).and_then(|g| g.green).is_some_and(|g| g.state == GreenState::InProgress)
    });
}

/// Checks every exchange with `check`; panics with the full report when any disagrees.
fn assert_conform(what: &str, exchanges: &[Exchange], check: impl Fn(&Exchange) -> Vec<Problem>) {
    let checked: Vec<(Exchange, Vec<Problem>)> = exchanges.iter().map(|e| (e.clone(), check(e))).collect();
    let failing = checked.iter().filter(|(_, p)| !p.is_empty()).count();
    assert!(failing == 0, "{failing} of {} exchanges disagree with {what}:\n{}", checked.len(), report(&checked));
}
