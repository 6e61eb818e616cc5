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

/// A 40-character SHA, as `git rev-parse HEAD` prints it.
const SHA: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

fn github(commit_id: &str) -> serde_json::Value {
    let mut v = valid();
    v["revision"] = serde_json::json!({"github": {"repository": "acme/web", "commitId": commit_id}});
    v
}

#[test]
fn a_commit_id_must_be_a_full_sha() {
    let r = parse_request(github(SHA).to_string().as_bytes()).expect("a full SHA");
    assert_eq!(r.revision.describe(), format!("github:acme/web@{SHA}"));
    // git and GitHub read hex in either case.
    assert!(parse_request(github(&SHA.to_uppercase()).to_string().as_bytes()).is_ok());
    let p = problems(&github("abc1234"));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].field, "revision.github.commitId");
    assert_eq!(
        p[0].message,
        "`abc1234` is not a full commit SHA (7 characters): give all 40 hex characters, as `git rev-parse HEAD` prints them"
    );
    for bad in [&SHA[..39], &format!("{SHA}0"), &format!("{}g", &SHA[..39]), &format!(" {}", &SHA[1..]), ""] {
        let p = problems(&github(bad));
        assert_eq!(p[0].field, "revision.github.commitId", "{bad:?}");
        assert!(p[0].message.contains("give all 40 hex characters"), "{bad:?}: {p:?}");
    }
    let p = problems(&github(&format!("{}g", &SHA[..39])));
    assert!(p[0].message.contains("`g` is not a hex digit"), "{p:?}");
}

#[test]
fn control_characters_in_tags_are_refused_naming_the_field() {
    let mut v = valid();
    v["greenTags"] = serde_json::json!([
        {"key": "version", "value": "6.0"},
        {"key": "team", "value": "café ✓ / web"},
        {"key": "build", "value": "6.0\n"},
        {"key": "tab\tkey", "value": "x"},
        {"key": "del", "value": "a\u{7f}b"},
        {"key": "next-line", "value": "\u{85}"},
    ]);
    let p = problems(&v);
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["greenTags[2].value", "greenTags[3].key", "greenTags[4].value", "greenTags[5].value"]);
    assert_eq!(
        p[0].message,
        "contains the control character U+000A (`\\n`) at character 4; remove it: AWS tags cannot carry control characters"
    );
    assert!(p[1].message.contains("U+0009 (`\\t`) at character 4"), "{p:?}");
    assert!(p[2].message.contains("U+007F (`\\u{7f}`) at character 2"), "{p:?}");
    assert!(p[3].message.contains("U+0085 (`\\u{85}`) at character 1"), "{p:?}");
}

#[test]
fn control_characters_in_free_text_fields_are_refused() {
    let mut v = valid();
    v["application"] = "web\r".into();
    v["deploymentGroup"] = "web\u{0}bg".into();
    v["requestedBy"] = "ci\u{1b}[31m".into();
    v["revision"]["s3"] = serde_json::json!({"bucket": "artifacts\n", "key": "web/6.0.zip\n", "bundleType": "zip",
        "version": "v\u{8}1", "eTag": "\"abc\"\t"});
    v["healthCheck"] = serde_json::json!({"urlTemplate": "http://{ip}:8080/health\n"});
    let f = fields(&v);
    assert_eq!(
        f,
        [
            "application",
            "deploymentGroup",
            "requestedBy",
            "revision.s3.bucket",
            "revision.s3.key",
            "revision.s3.version",
            "revision.s3.eTag",
            "healthCheck.urlTemplate",
        ]
    );
    assert!(problems(&v)[0].message.contains("U+000D (`\\r`) at character 4"));
    let mut v = github(SHA);
    v["revision"]["github"]["repository"] = "acme/web\n".into();
    assert_eq!(fields(&v), ["revision.github.repository"]);
    // Printable Unicode is fine.
    let mut v = valid();
    v["requestedBy"] = "Zoë Ångström <zoe@example.com>".into();
    assert!(parse_request(v.to_string().as_bytes()).is_ok());
}

#[test]
fn a_key_given_twice_is_refused_naming_its_path() {
    let text = valid().to_string();
    for (from, to, field) in [
        (r#""application":"web""#, r#""application":"web","application":"shop""#, "application"),
        (r#""key":"web/6.0.zip""#, r#""key":"web/6.0.zip","key":"web/5.9.zip""#, "revision.s3.key"),
        (r#""value":"6.0""#, r#""value":"6.0","value":"5.9""#, "greenTags[0].value"),
        (r#""s3":{"#, r#""s3":{"bucket":"other","#, "revision.s3.bucket"),
        // The same key written with an escape is the same key.
        (r#""requestedBy":"ci""#, r#""requestedBy":"ci","requested\u0042y":"ci""#, "requestedBy"),
    ] {
        assert!(text.contains(from), "{from} not in {text}");
        let e = parse_request(text.replacen(from, to, 1).as_bytes()).expect_err("a key given twice");
        assert_eq!(e.problems.len(), 1, "{e}");
        assert_eq!(e.problems[0].field, field);
        assert_eq!(
            e.problems[0].message,
            "is given twice in the same object; give it once (JSON readers disagree on which one counts)"
        );
        assert_eq!(e.request_id.as_deref(), Some("rel-42"), "{e}");
    }
    // Three times is one problem; every key given twice is named, in document order.
    let thrice = text.replacen(r#""application":"web""#, r#""application":"a","application":"b","application":"c""#, 1);
    let both = thrice.replacen(r#""bundleType":"zip""#, r#""bundleType":"zip","bundleType":"tar""#, 1);
    let e = parse_request(both.as_bytes()).expect_err("keys given twice");
    let f: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(f, ["application", "revision.s3.bundleType"]);
    // A request id given twice is not trusted for correlation.
    let id = text.replacen(r#""requestId":"rel-42""#, r#""requestId":"rel-42","requestId":"rel-43""#, 1);
    let e = parse_request(id.as_bytes()).expect_err("requestId given twice");
    assert_eq!((e.request_id, e.problems[0].field.as_str()), (None, "requestId"));
}

/// Every object member of `v`: (its JSON path, its JSON pointer's object, its key).
fn members(v: &serde_json::Value, path: &str, pointer: &str, out: &mut Vec<(String, String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                out.push((at.clone(), pointer.to_owned(), k.clone()));
                members(child, &at, &format!("{pointer}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                members(child, &format!("{path}[{i}]"), &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_key_of_a_valid_request_is_refused_when_given_twice() {
    let mut v = valid();
    v["healthCheck"] = serde_json::json!({"urlTemplate": "http://{ip}/health"});
    v["timeouts"] = serde_json::json!({"deploymentMinutes": 60});
    v["greenTags"] = serde_json::json!([{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]);
    assert!(parse_request(v.to_string().as_bytes()).is_ok());
    let mut all = Vec::new();
    members(&v, "", "", &mut all);
    assert_eq!(all.len(), 20);
    for (path, pointer, key) in all {
        // The object holding `key`, written with `key` given a second time (same value: still refused).
        let object = v.pointer(&pointer).expect("the object");
        let first = serde_json::json!({ key.as_str(): object[key.as_str()] }).to_string();
        let twice = format!("{},{}", &first[..first.len() - 1], &object.to_string()[1..]);
        let mut doc = v.clone();
        *doc.pointer_mut(&pointer).expect("the object") = "@object@".into();
        let text = doc.to_string().replacen("\"@object@\"", &twice, 1);
        let e = parse_request(text.as_bytes()).expect_err("a key given twice");
        assert_eq!(e.problems.len(), 1, "{path}: {e}");
        assert_eq!(e.problems[0].field, path, "{e}");
        assert!(e.problems[0].message.contains("given twice"), "{e}");
    }
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
    let defs = &schema["$defs"];
    assert_eq!(defs["GitHubRevision"]["properties"]["commitId"]["pattern"], "^[0-9a-fA-F]{40}$");
    let no_control = serde_json::json!({"type": "string", "pattern": r"[\u0000-\u001F\u007F-\u009F]"});
    assert_eq!(defs["TagDoc"]["properties"]["value"]["not"], no_control);
    assert_eq!(schema["properties"]["requestedBy"]["not"], no_control);
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
    fn a_key_given_twice_is_named_anywhere_whatever_its_values(
        key in any::<String>(),
        first in crate::arbitrary::json_value(),
        second in crate::arbitrary::json_value(),
        at in proptest::sample::select(vec!["", "revision", "revision.s3", "timeouts", "greenTags[0]", "healthCheck"]),
    ) {
        let mut v = valid();
        v["healthCheck"] = serde_json::json!({"urlTemplate": "http://{ip}/health"});
        v["timeouts"] = serde_json::json!({"deploymentMinutes": 60});
        let pointer = match at {
            "" => String::new(),
            "greenTags[0]" => "/greenTags/0".to_owned(),
            other => format!("/{}", other.replace('.', "/")),
        };
        let object = v.pointer(&pointer).expect("an object").to_string();
        let member = |value: &serde_json::Value| serde_json::json!({ key.as_str(): value }).to_string();
        let (a, b) = (member(&first), member(&second));
        let twice = format!("{},{},{}", &a[..a.len() - 1], &b[1..b.len() - 1], &object[1..]);
        *v.pointer_mut(&pointer).expect("an object") = "@object@".into();
        let text = v.to_string().replacen("\"@object@\"", &twice, 1);
        prop_assume!(text.len() <= MAX_REQUEST_BYTES);
        let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
        let e = parse_request(text.as_bytes()).expect_err("a key given twice");
        prop_assert!(e.problems.iter().any(|p| p.field == path && p.message.contains("given twice")), "{}: {}", path, e);
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
