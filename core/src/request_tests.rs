use super::*;

fn valid() -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": 1,
        "requestId": "rel-42",
        "elastigroupId": "sig-1234abcd",
        "application": "web",
        "deploymentGroup": "web-bg",
        "revision": {"s3": {"bucket": "artifacts", "key": "web/6.0.zip", "bundleType": "zip"}},
        "greenTags": [{"key": "version", "value": "6.0"}],
        "requestedBy": "ci"
    })
}

fn problems(v: &serde_json::Value) -> Vec<FieldProblem> {
    parse_request(v.to_string().as_bytes()).expect_err("should be rejected").problems
}

fn fields(v: &serde_json::Value) -> Vec<String> {
    problems(v).into_iter().map(|p| p.field).collect()
}

#[test]
fn a_valid_request_parses_with_defaults() {
    let r = parse_request(valid().to_string().as_bytes()).expect("valid");
    assert_eq!(r.rollout_id().as_str(), "rel-42");
    assert_eq!(r.timeouts, Timeouts::default());
    assert_eq!(r.approval, ApprovalMode::Auto);
    let tags: Vec<String> = r.all_green_tags().iter().map(ToString::to_string).collect();
    assert_eq!(tags, ["greenfleet:rollout=rel-42", "version=6.0"]);
}

#[test]
fn wire_form_round_trips() {
    let r = parse_request(valid().to_string().as_bytes()).expect("valid");
    let doc = RolloutRequestDoc::from(&r);
    let again = RolloutRequest::validate(doc).expect("still valid");
    assert_eq!(again, r);
}

#[test]
fn schema_version_is_checked_first() {
    let mut v = valid();
    v["schemaVersion"] = 2.into();
    let p = problems(&v);
    assert_eq!(p[0].field, "schemaVersion");
    assert!(p[0].message.contains("understands schemaVersion 1"));
    v.as_object_mut().map(|o| o.remove("schemaVersion"));
    assert!(problems(&v)[0].message.contains("missing"));
}

#[test]
fn each_field_gets_its_own_message() {
    let mut v = valid();
    v["requestId"] = "".into();
    v["elastigroupId"] = "sg-12".into();
    v["application"] = " ".into();
    v["timeouts"] = serde_json::json!({"deploymentMinutes": 0, "greenReadyMinutes": 500});
    let f = fields(&v);
    for want in
        ["requestId", "elastigroupId", "application", "timeouts.deploymentMinutes", "timeouts.greenReadyMinutes"]
    {
        assert!(f.iter().any(|x| x == want), "{want} missing from {f:?}");
    }
    let err = parse_request(v.to_string().as_bytes()).unwrap_err().to_string();
    assert!(err.contains("`elastigroupId`: elastigroupId `sg-12` is malformed"), "{err}");
}

#[test]
fn roll_is_refused_with_the_reason() {
    let mut v = valid();
    v["strategy"] = "roll".into();
    let p = problems(&v);
    assert_eq!(p[0].field, "strategy");
    assert!(p[0].message.contains("Blue/Green only (F9)"));
}

#[test]
fn bundle_type_must_be_one_codedeploy_knows() {
    let mut v = valid();
    v["revision"]["s3"]["bundleType"] = "rar".into();
    let p = problems(&v);
    assert!(p[0].message.contains("unknown variant `rar`"), "{:?}", p);
    assert!(p[0].message.contains("`zip`"));
}

#[test]
fn github_revisions_are_checked() {
    let mut v = valid();
    v["revision"] = serde_json::json!({"github": {"repository": "noslash", "commitId": "xyz"}});
    let f = fields(&v);
    assert_eq!(f, ["revision.github.repository", "revision.github.commitId"]);
}

#[test]
fn green_tags_are_limited_and_checked() {
    let mut v = valid();
    v["greenTags"] = serde_json::json!([{"key": "greenfleet:rollout", "value": "x"}, {"key": "aws:x", "value": "y"}]);
    let p = problems(&v);
    assert!(p[0].message.contains("set by greenfleet"));
    assert!(p[1].message.contains("reserves"));
    let many: Vec<_> = (0..11).map(|i| serde_json::json!({"key": format!("k{i}"), "value": "v"})).collect();
    v["greenTags"] = many.into();
    assert!(problems(&v)[0].message.contains("at most 10"));
}

#[test]
fn unknown_fields_wrong_types_and_junk_are_named() {
    let mut v = valid();
    v["greenTag"] = "x".into();
    assert!(problems(&v)[0].message.contains("unknown field `greenTag`"));
    let mut v = valid();
    v["timeouts"] = serde_json::json!({"deploymentMinutes": "ten"});
    assert!(problems(&v)[0].message.contains("invalid type"));
    assert!(parse_request(b"\xff\xfe").unwrap_err().to_string().contains("not valid JSON"));
    assert!(parse_request(b"[1]").unwrap_err().to_string().contains("JSON object"));
    let big = vec![b' '; MAX_REQUEST_BYTES + 1];
    assert!(parse_request(&big).unwrap_err().to_string().contains("at most 65536"));
}

#[test]
fn health_check_is_validated() {
    let mut v = valid();
    v["healthCheck"] = serde_json::json!({"urlTemplate": "http://x/health", "consecutiveSuccesses": 0});
    let f = fields(&v);
    assert_eq!(f, ["healthCheck.urlTemplate", "healthCheck.consecutiveSuccesses"]);
}

#[test]
fn committed_json_schema_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/rollout-request.v1.json");
    let fresh = request_json_schema();
    if std::env::var_os("GREENFLEET_WRITE_SCHEMA").is_some() {
        std::fs::write(path, &fresh).expect("write schema");
    }
    let committed = std::fs::read_to_string(path).expect("schema/rollout-request.v1.json exists");
    assert_eq!(committed, fresh, "schema is stale: run `GREENFLEET_WRITE_SCHEMA=1 cargo test -p greenfleet-core`");
    let schema: serde_json::Value = serde_json::from_str(&committed).expect("schema is JSON");
    assert_eq!(schema["title"], "greenfleet rollout request");
    let required = schema["required"].as_array().expect("required list");
    assert!(required.iter().any(|r| r == "requestId"));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = parse_request(&bytes);
    }
}
