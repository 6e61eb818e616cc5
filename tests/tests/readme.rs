//! The README's examples are the project's files: every fenced block announced by
//! `<!-- example: examples/<file> -->` must equal that file byte for byte, and the tests that use the
//! file exercise what a reader copies. Here: the blocks match, the example request is valid, and the
//! example IAM policy grants every call the worker makes.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository root").to_path_buf()
}

/// Each marked example: (file named by the marker, the fenced block's content).
fn marked_examples(readme: &str) -> Vec<(String, String)> {
    const MARKER: &str = "<!-- example: ";
    let mut found = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim().strip_prefix(MARKER) else { continue };
        let file = rest.trim_end_matches("-->").trim().to_owned();
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "README: the marker for `{file}` must be followed by a fenced block");
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        found.push((file, body));
    }
    found
}

#[test]
fn every_marked_readme_example_is_the_file_the_tests_use() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let examples = marked_examples(&readme);
    assert!(!examples.is_empty(), "the README marks no examples");
    for (file, block) in &examples {
        let on_disk = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("README names example `{file}`, which cannot be read: {e}"));
        assert_eq!(block, &on_disk, "README's block for `{file}` differs from the file: copy one onto the other");
    }
}

#[test]
fn the_readme_request_example_is_a_valid_request() {
    let bytes = std::fs::read(repo_root().join("examples/request.json")).unwrap();
    let request = greenfleet_core::request::parse_request(&bytes).unwrap();
    assert_eq!(request.request_id.to_string(), "shop-6.0");
    assert_eq!(request.revision.describe(), "s3://releases/shop/6.0.zip (zip)");
}

/// The README's worker policy grants every CodeDeploy operation greenfleet calls (the contract suite's
/// list) on the deployment group, what CreateDeployment also needs, and DescribeInstances on `*`.
#[test]
fn the_iam_example_grants_every_call_the_worker_makes() {
    let bytes = std::fs::read(repo_root().join("examples/iam-worker-policy.json")).unwrap();
    let policy: serde_json::Value = serde_json::from_slice(&bytes).expect("examples/iam-worker-policy.json is JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    let as_list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            other => other.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        }
    };
    let statements = policy["Statement"].as_array().expect("a Statement list");
    let resources_of = |action: &str| -> Vec<String> {
        statements
            .iter()
            .filter(|s| s["Effect"] == "Allow" && as_list(&s["Action"]).iter().any(|a| a == action))
            .flat_map(|s| as_list(&s["Resource"]))
            .collect()
    };
    for op in greenfleet_tests::contract::codedeploy::OPERATIONS {
        let on = resources_of(&format!("codedeploy:{op}"));
        assert!(
            on.iter().any(|r| r.contains(":deploymentgroup:")),
            "codedeploy:{op} is not granted on a deployment group"
        );
    }
    assert!(resources_of("codedeploy:GetDeploymentConfig").iter().any(|r| r.contains(":deploymentconfig:")));
    assert!(resources_of("codedeploy:GetApplicationRevision").iter().any(|r| r.contains(":application:")));
    assert_eq!(resources_of("ec2:DescribeInstances"), ["*"], "DescribeInstances cannot be scoped to resources");
    for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage"] {
        assert!(resources_of(action).iter().any(|r| r.ends_with(":greenfleet-steps")), "{action}");
    }
    for action in ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"] {
        assert!(resources_of(action).iter().any(|r| r.ends_with(":table/greenfleet")), "{action}");
    }
    assert!(resources_of("dynamodb:Query").iter().any(|r| r.ends_with(":table/greenfleet/index/*")));
    assert!(resources_of("events:PutEvents").iter().any(|r| r.ends_with(":event-bus/greenfleet")));
}
