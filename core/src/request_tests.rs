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
fn an_array_where_an_object_belongs_is_refused_not_read_by_position() {
    for (field, value) in [
        ("timeouts", serde_json::json!([5, 60])),
        ("healthCheck", serde_json::json!(["http://{ip}/health", 200])),
        ("greenTags", serde_json::json!([["version", "6.0"]])),
        ("revision", serde_json::json!({"s3": ["artifacts", "web/6.0.zip", "zip"]})),
    ] {
        let mut v = valid();
        v[field] = value;
        let p = problems(&v);
        assert!(p[0].field.starts_with(field), "{field}: {p:?}");
        assert!(p[0].message.contains("is an array; write it as a JSON object"), "{field}: {p:?}");
    }
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

// Bad input, fuzzed: whatever arrives, `parse_request` never panics and every rejection names a field
// (or `(document)`) and says what is wrong.

use proptest::prelude::{TestCaseError, any, prop_assert, prop_assert_eq, prop_assume, prop_oneof, proptest};
use proptest::sample::Index;
use proptest::strategy::Strategy as _;

/// Top-level fields of a request (`RolloutRequestDoc`).
const FIELDS: [&str; 12] = [
    "schemaVersion",
    "requestId",
    "elastigroupId",
    "application",
    "deploymentGroup",
    "strategy",
    "revision",
    "greenTags",
    "timeouts",
    "healthCheck",
    "approval",
    "requestedBy",
];

/// Any JSON value, a few levels deep.
fn json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    crate::arbitrary::json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whether `v` has the JSON type field `field` expects (see `RolloutRequestDoc`).
fn right_type(field: &str, v: &serde_json::Value) -> bool {
    match field {
        "schemaVersion" => v.is_u64(),
        "revision" | "timeouts" => v.is_object(),
        "healthCheck" => v.is_object() || v.is_null(),
        "greenTags" => v.is_array(),
        _ => v.is_string(),
    }
}

/// Every rejection is specific: at least one problem, each naming a field and saying what is wrong.
fn assert_specific(r: &Result<RolloutRequest, RequestError>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert!(!e.problems.is_empty(), "a rejection without a problem");
        for p in &e.problems {
            prop_assert!(!p.field.is_empty() && !p.message.trim().is_empty(), "a vague problem: {:?}", p);
        }
        prop_assert!(e.to_string().starts_with("rollout request rejected"));
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_every_rejection_is_specific(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
    ) {
        assert_specific(&parse_request(&bytes))?;
    }

    #[test]
    fn a_valid_request_with_bytes_changed_never_panics_and_explains(
        changes in proptest::collection::vec((any::<Index>(), proptest::num::u8::ANY), 1..8),
    ) {
        let mut bytes = valid().to_string().into_bytes();
        for (at, b) in changes {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        assert_specific(&parse_request(&bytes))?;
    }

    #[test]
    fn every_truncation_is_invalid_json(at in any::<Index>()) {
        let full = valid().to_string();
        let cut = at.index(full.len());
        let e = parse_request(&full.as_bytes()[..cut]).expect_err("a cut request");
        prop_assert_eq!(e.problems[0].field.as_str(), "(document)");
        prop_assert!(e.problems[0].message.contains("not valid JSON"), "{}", e);
    }

    #[test]
    fn oversized_requests_are_refused_by_size_before_parsing(extra in 1usize..4096, in_a_field in any::<bool>()) {
        let mut v = valid();
        let target = MAX_REQUEST_BYTES + extra;
        let text = if in_a_field {
            let base = v.to_string().len();
            v["requestedBy"] = "x".repeat(target - base + 2).into();
            v.to_string()
        } else {
            let mut t = v.to_string();
            t.push_str(&" ".repeat(target - t.len()));
            t
        };
        prop_assert!(text.len() > MAX_REQUEST_BYTES);
        let e = parse_request(text.as_bytes()).expect_err("oversized");
        prop_assert!(e.to_string().contains("at most 65536 are accepted"), "{}", e);
    }

    #[test]
    fn long_strings_under_the_size_limit_name_their_field(len in 257usize..60_000) {
        let mut v = valid();
        v["requestedBy"] = "y".repeat(len).into();
        let p = problems(&v);
        prop_assert_eq!(p[0].field.as_str(), "requestedBy");
        prop_assert!(p[0].message.contains("at most 256"), "{:?}", p);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named(field in proptest::sample::select(FIELDS.to_vec()), value in json()) {
        prop_assume!(!right_type(field, &value));
        let mut v = valid();
        v[field] = value.clone();
        let e = parse_request(v.to_string().as_bytes()).expect_err("a mistyped field");
        prop_assert!(
            e.problems.iter().any(|p| p.field == field),
            "no problem names `{}` (set to {}): {}", field, value, e
        );
    }

    #[test]
    fn a_nested_field_of_the_wrong_type_is_named(
        path in proptest::sample::select(vec![
            ("revision", "s3", "bucket"),
            ("revision", "s3", "bundleType"),
            ("timeouts", "deploymentMinutes", ""),
            ("greenTags", "0", "key"),
        ]),
        value in json(),
    ) {
        let mut v = valid();
        v["timeouts"] = serde_json::json!({"deploymentMinutes": 60});
        let (a, b, c) = path;
        let slot = match (b.parse::<usize>(), c) {
            (Ok(i), c) => &mut v[a][i][c],
            (Err(_), "") => &mut v[a][b],
            (Err(_), c) => &mut v[a][b][c],
        };
        prop_assume!(if c.is_empty() { !value.is_u64() } else { !value.is_string() });
        *slot = value.clone();
        let name = match (b.parse::<usize>(), c) {
            (Ok(i), c) => format!("{a}[{i}].{c}"),
            (Err(_), "") => format!("{a}.{b}"),
            (Err(_), c) => format!("{a}.{b}.{c}"),
        };
        let e = parse_request(v.to_string().as_bytes()).expect_err("a mistyped field");
        prop_assert!(e.problems.iter().any(|p| p.field == name), "no problem names `{}` (set to {}): {}", name, value, e);
    }

    #[test]
    fn unknown_fields_are_named_anywhere(
        key in any::<String>(),
        value in crate::arbitrary::json_leaf(),
        at in proptest::sample::select(vec!["", "revision.s3", "timeouts", "greenTags[0]", "healthCheck"]),
    ) {
        let known = ["schemaVersion", "requestId", "elastigroupId", "application", "deploymentGroup", "strategy",
            "revision", "greenTags", "timeouts", "healthCheck", "approval", "requestedBy", "bucket", "key",
            "bundleType", "version", "eTag", "value", "greenReadyMinutes", "deploymentMinutes", "approvalMinutes",
            "lockWaitMinutes", "urlTemplate", "consecutiveSuccesses", "intervalSeconds", "timeoutSeconds", "expectedStatus"];
        prop_assume!(!known.contains(&key.as_str()));
        let mut v = valid();
        v["healthCheck"] = serde_json::json!({"urlTemplate": "http://{ip}/health"});
        let target = match at {
            "" => &mut v,
            "revision.s3" => &mut v["revision"]["s3"],
            "greenTags[0]" => &mut v["greenTags"][0],
            other => &mut v[other],
        };
        target[key.as_str()] = value;
        let e = parse_request(v.to_string().as_bytes()).expect_err("an unknown field");
        prop_assert!(e.to_string().contains(&format!("unknown field `{key}`")), "{}", e);
    }

    #[test]
    fn tag_lists_of_any_length_are_accepted_up_to_ten_and_refused_beyond(n in 0usize..3000) {
        let mut v = valid();
        v["greenTags"] = (0..n).map(|i| serde_json::json!({"key": format!("k{i}"), "value": "v"})).collect();
        match parse_request(v.to_string().as_bytes()) {
            Ok(r) => {
                prop_assert!(n <= MAX_GREEN_TAGS);
                prop_assert_eq!(r.all_green_tags().len(), n + 1);
            }
            Err(e) => {
                prop_assert!(n > MAX_GREEN_TAGS);
                let by_size = e.to_string().contains("at most 65536");
                let by_count = e.problems.iter().any(|p| p.field == "greenTags" && p.message.contains("at most 10"));
                prop_assert!(by_size || by_count, "{}", e);
            }
        }
    }

    #[test]
    fn non_utf8_anywhere_is_invalid_json(at in any::<Index>(), b in 0x80u8..=0xff) {
        let mut bytes = valid().to_string().into_bytes();
        bytes.insert(at.index(bytes.len()), b);
        prop_assert!(std::str::from_utf8(&bytes).is_err());
        let e = parse_request(&bytes).expect_err("not UTF-8");
        prop_assert!(e.problems[0].message.contains("not valid JSON"), "{}", e);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack(depth in 129usize..20_000, at_top in any::<bool>()) {
        let nest = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let text = if at_top {
            nest
        } else {
            let t = valid().to_string();
            t.replacen(r#""requestedBy":"ci""#, &format!(r#""requestedBy":{nest}"#), 1)
        };
        let e = parse_request(text.as_bytes()).expect_err("deeply nested");
        prop_assert!(e.to_string().contains("recursion limit") || e.to_string().contains("at most 65536"), "{}", e);
    }
}
