//! The demo's rollouts: each sets up its own Elastigroup and deployment group in the simulated
//! cloud, publishes one request, and says what must come of it. Tests reuse them.

use greenfleet_core::cloud::{
    BlueAction, BlueSelector, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentType, GreenProvisioning,
    ReadyAction, TagFilter,
};
use greenfleet_core::ids::{ElastigroupId, Tag};
use greenfleet_sim::{Cloud, GroupSetup};

/// One scripted rollout.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name, also the request id.
    pub name: &'static str,
    /// What it shows.
    pub about: &'static str,
    /// The Elastigroup.
    pub group: GroupSetup,
    /// The deployment group.
    pub deployment_group: DeploymentGroupView,
    /// Green tags asked for.
    pub green_tags: Vec<(&'static str, &'static str)>,
    /// CodeDeploy fails the deployment with this error code.
    pub fails_with: Option<&'static str>,
    /// The outcome it must reach.
    pub expect: &'static str,
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.to_owned(), value: v.to_owned() }
}

fn setup(
    n: u32,
    app: &'static str,
    capacity: Capacity,
    blue: BlueAction,
    ready: ReadyAction,
) -> (GroupSetup, DeploymentGroupView) {
    let dg = DeploymentGroupRef { application: app.to_owned(), deployment_group: format!("{app}-bg") };
    let group = GroupSetup {
        id: ElastigroupId::parse(&format!("sig-{n:08x}")).unwrap_or_else(|_| unreachable!("sig- and hex digits")),
        name: app.to_owned(),
        capacity,
        group_tags: vec![tag("Name", app), tag("Owner", "platform")],
        blue_tags: vec![tag("release", &format!("{app}-5.0"))],
        codedeploy: vec![dg.clone()],
    };
    let view = DeploymentGroupView {
        name: dg,
        deployment_type: DeploymentType::BlueGreen,
        green_provisioning: Some(GreenProvisioning::DiscoverExisting),
        blue_action: Some(blue),
        ready_action: Some(ready),
        blue: BlueSelector::Filters(vec![TagFilter {
            key: "release".into(),
            value: format!("{app}-5.0"),
            key_only: false,
        }]),
        load_balancer: true,
    };
    (group, view)
}

const fn cap(target: u32, minimum: u32, maximum: u32) -> Capacity {
    Capacity { minimum, maximum, target }
}

/// The four rollouts `greenfleet demo` runs.
#[must_use]
pub fn demo() -> Vec<Scenario> {
    let (g1, d1) = setup(0x5b0b_0001, "shop", cap(2, 1, 4), BlueAction::Terminate, ReadyAction::ContinueDeployment);
    let (g2, d2) = setup(0x5b0b_0002, "search", cap(1, 1, 1), BlueAction::KeepAlive, ReadyAction::StopDeployment);
    let (g3, d3) = setup(0x5b0b_0003, "checkout", cap(2, 2, 2), BlueAction::KeepAlive, ReadyAction::StopDeployment);
    let (mut g4, mut d4) =
        setup(0x5b0b_0004, "billing", cap(2, 1, 2), BlueAction::KeepAlive, ReadyAction::StopDeployment);
    // The F3 mistake: the deployment group's filter is one of the Elastigroup's own tags.
    g4.group_tags.push(tag("version", "6.0"));
    d4.blue = BlueSelector::Filters(vec![TagFilter { key: "version".into(), value: "6.0".into(), key_only: false }]);
    vec![
        Scenario {
            name: "shop-6.0",
            about: "succeeds; CodeDeploy terminates blue (TERMINATE) and Spot restores capacity",
            group: g1,
            deployment_group: d1,
            green_tags: vec![("version", "6.0")],
            fails_with: None,
            expect: "Succeeded",
        },
        Scenario {
            name: "search-6.0",
            about: "succeeds under KEEP_ALIVE: Spot leaves [Target 2, Min 1, Max 2]; greenfleet removes blue and restores [Target 1, Min 1, Max 1]",
            group: g2,
            deployment_group: d2,
            green_tags: vec![("version", "6.0")],
            fails_with: None,
            expect: "Succeeded",
        },
        Scenario {
            name: "checkout-6.0",
            about: "CodeDeploy fails (HOOK_EXECUTION_FAILURE); greenfleet deletes green and restores Max",
            group: g3,
            deployment_group: d3,
            green_tags: vec![("version", "6.0")],
            fails_with: Some("HOOK_EXECUTION_FAILURE"),
            expect: "RolledBack",
        },
        Scenario {
            name: "billing-6.0",
            about: "rejected at preflight: the deployment group's tag filter is also an Elastigroup tag (F3)",
            group: g4,
            deployment_group: d4,
            green_tags: vec![("build", "6.0.1")],
            fails_with: None,
            expect: "Rejected",
        },
    ]
}

impl Scenario {
    /// Creates the scenario's group and deployment group (and its fault) in `cloud`.
    pub fn install(&self, cloud: &Cloud) {
        cloud.add_group(self.group.clone());
        cloud.add_deployment_group(self.deployment_group.clone(), 60);
        if let Some(code) = self.fails_with {
            cloud.faults(|f| {
                f.fail_deployments(
                    &self.deployment_group.name,
                    code,
                    "Script at specified location: scripts/start.sh failed with exit code 1",
                );
            });
        }
    }

    /// The rollout request it publishes.
    #[must_use]
    pub fn request(&self) -> serde_json::Value {
        let tags: Vec<_> = self.green_tags.iter().map(|(k, v)| serde_json::json!({"key": k, "value": v})).collect();
        serde_json::json!({
            "schemaVersion": 1,
            "requestId": self.name,
            "elastigroupId": self.group.id.as_str(),
            "application": self.deployment_group.name.application,
            "deploymentGroup": self.deployment_group.name.deployment_group,
            "revision": {"s3": {"bucket": "releases", "key": format!("{}/{}.zip", self.group.name, self.name), "bundleType": "zip"}},
            "greenTags": tags,
            "requestedBy": "greenfleet demo"
        })
    }
}
