//! The fingerprint of a rollout request: what a requestId was first used for, so a publication that
//! reuses the id for a *different* request is refused (a conflict) instead of being taken for a
//! duplicate and silently dropped.
//!
//! The fingerprint hashes a canonical, versioned form of the *validated* request ([`Canonical`]):
//! whitespace, key order and defaults were already gone after parsing, green tags are sorted by key
//! (they are a set) and a GitHub commit id is lower-cased (git reads either case). It covers what the
//! rollout would do — target, revision, tags, gates and timeouts — and not `requestedBy`, so the same
//! request published by another hand is still a duplicate. The hash is 128-bit FNV-1a over the
//! canonical JSON, written out as `v1:` and 32 hex digits; a change to [`Canonical`] must bump the
//! version, and fingerprints of different versions never match.
//!
//! A saga written before fingerprints existed has none: it is treated as matching (the behaviour of
//! those sagas before), see [`conflict`].

use serde::Serialize;

use crate::ids::{RequestId, RolloutId};
use crate::request::{ApprovalMode, HealthCheck, Revision, RolloutRequest, Timeouts};
use crate::saga::Saga;

/// The version prefix of fingerprints computed by this build.
pub const FINGERPRINT_VERSION: &str = "v1";

/// The canonical form a `v1` fingerprint hashes. Change it only together with [`FINGERPRINT_VERSION`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Canonical<'a> {
    elastigroup_id: &'a str,
    application: &'a str,
    deployment_group: &'a str,
    revision: Revision,
    green_tags: Vec<(&'a str, &'a str)>,
    timeouts: &'a Timeouts,
    health_check: Option<&'a HealthCheck>,
    approval: ApprovalMode,
}

impl<'a> Canonical<'a> {
    fn of(r: &'a RolloutRequest) -> Self {
        let mut revision = r.revision.clone();
        if let Revision::GitHub(g) = &mut revision {
            g.commit_id.make_ascii_lowercase();
        }
        let mut green_tags: Vec<(&str, &str)> =
            r.green_tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
        green_tags.sort_unstable();
        Self {
            elastigroup_id: r.elastigroup_id.as_str(),
            application: &r.application,
            deployment_group: &r.deployment_group,
            revision,
            green_tags,
            timeouts: &r.timeouts,
            health_check: r.health_check.as_ref(),
            approval: r.approval,
        }
    }
}

/// The fingerprint of `request`, e.g. `v1:6c62272e07bb014262b821756295c58d`.
#[must_use]
pub fn fingerprint(request: &RolloutRequest) -> String {
    // Serialising a struct of strings, numbers and enums cannot fail.
    let bytes = serde_json::to_vec(&Canonical::of(request)).unwrap_or_default();
    format!("{FINGERPRINT_VERSION}:{:032x}", fnv1a_128(&bytes))
}

/// 128-bit FNV-1a: stable across builds and platforms, and needs no dependency. Not a defence against
/// a publisher forging collisions with itself, which would only hurt that publisher.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes.iter().fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

/// A request whose requestId already names a rollout created from a different request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The reused request id.
    pub request_id: RequestId,
    /// The rollout that id already started.
    pub rollout_id: RolloutId,
    /// What differs, each as `field: existing → refused`.
    pub differences: Vec<String>,
    /// The refused request's fingerprint.
    pub fingerprint: String,
}

impl Conflict {
    /// What happened and what to do, for the event's `reason`, the log and the client's error.
    #[must_use]
    pub fn explain(&self) -> String {
        format!(
            "requestId `{}` already started rollout {} from a different request ({}); this request was \
             refused and the rollout left as it is: publish it under a new requestId",
            self.request_id,
            self.rollout_id,
            self.differences.join("; ")
        )
    }
}

/// Whether `request` conflicts with the request `saga` was created from: `None` for the same
/// fingerprint (a duplicate), and for a saga with no fingerprint (written before fingerprints
/// existed: treated as matching, as such sagas always were).
#[must_use]
pub fn conflict(saga: &Saga, request: &RolloutRequest) -> Option<Conflict> {
    conflict_with(&saga.id, saga.fingerprint.as_deref(), &saga.request, request)
}

/// [`conflict`] against what rollout `rollout_id` recorded: its fingerprint (if any) and its request
/// (the publisher client reads both from the status projection, never from the saga).
#[must_use]
pub fn conflict_with(
    rollout_id: &RolloutId,
    stored: Option<&str>,
    stored_request: &RolloutRequest,
    request: &RolloutRequest,
) -> Option<Conflict> {
    let stored = stored?;
    let fresh = fingerprint(request);
    if stored == fresh {
        return None;
    }
    let mut differences = differences(stored_request, request);
    if differences.is_empty() {
        // Same content, fingerprinted by another version of greenfleet: still refused, since which
        // request came first cannot be told apart from here.
        differences.push(format!("fingerprint: {stored} → {fresh}"));
    }
    Some(Conflict {
        request_id: request.request_id.clone(),
        rollout_id: rollout_id.clone(),
        differences,
        fingerprint: fresh,
    })
}

/// The fingerprinted fields that differ between `old` and `new`, each as `field: old → new`.
#[must_use]
pub fn differences(old: &RolloutRequest, new: &RolloutRequest) -> Vec<String> {
    let (a, b) = (Canonical::of(old), Canonical::of(new));
    let mut out = Vec::new();
    let mut differ = |field: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{field}: {x} → {y}"));
        }
    };
    differ("elastigroupId", a.elastigroup_id.into(), b.elastigroup_id.into());
    differ("application", a.application.into(), b.application.into());
    differ("deploymentGroup", a.deployment_group.into(), b.deployment_group.into());
    differ("revision", describe_revision(&a.revision), describe_revision(&b.revision));
    differ("greenTags", describe_tags(&a.green_tags), describe_tags(&b.green_tags));
    differ("timeouts", json(a.timeouts), json(b.timeouts));
    differ("healthCheck", json(&a.health_check), json(&b.health_check));
    differ("approval", json(&a.approval), json(&b.approval));
    out
}

/// The revision in full: [`Revision::describe`] leaves out an S3 object's version and ETag.
fn describe_revision(r: &Revision) -> String {
    match r {
        Revision::S3(s) => {
            let mut d = r.describe();
            if let Some(v) = &s.version {
                d.push_str(&format!(" version {v}"));
            }
            if let Some(e) = &s.e_tag {
                d.push_str(&format!(" eTag {e}"));
            }
            d
        }
        Revision::GitHub(_) => r.describe(),
    }
}

fn describe_tags(tags: &[(&str, &str)]) -> String {
    if tags.is_empty() {
        return "(none)".into();
    }
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_request;

    const BASE: &str = r#"{"schemaVersion":1,"requestId":"shop-6.0","elastigroupId":"sig-1234abcd",
        "application":"shop","deploymentGroup":"shop-bg",
        "revision":{"s3":{"bucket":"b","key":"shop/6.0.zip","bundleType":"zip"}},
        "greenTags":[{"key":"version","value":"6.0"},{"key":"team","value":"web"}],
        "requestedBy":"ci"}"#;

    fn fp(body: &str) -> String {
        fingerprint(&parse_request(body.as_bytes()).expect("valid"))
    }

    fn edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(BASE).expect("json");
        f(&mut v);
        v.to_string()
    }

    #[test]
    fn is_versioned_and_stable() {
        let f = fp(BASE);
        assert!(f.starts_with("v1:") && f.len() == 3 + 32, "{f}");
        // Pinned: a change to the canonical form changes every stored fingerprint, and needs a new version.
        assert_eq!(f, "v1:2c62694785aa2193b950a90cac06309f");
        assert_eq!(fnv1a_128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn key_order_whitespace_defaults_tag_order_and_requested_by_do_not_matter() {
        let base = fp(BASE);
        let reordered = r#"{ "requestedBy" : "someone else",
            "greenTags" : [ {"value":"web","key":"team"}, {"key":"version","value":"6.0"} ],
            "revision" : {"s3":{"bundleType":"zip","key":"shop/6.0.zip","bucket":"b"}},
            "deploymentGroup":"shop-bg", "application":"shop", "elastigroupId":"sig-1234abcd",
            "requestId":"shop-6.0", "schemaVersion":1,
            "strategy":"blueGreen", "approval":"auto",
            "timeouts":{"greenReadyMinutes":15,"deploymentMinutes":60,"approvalMinutes":60,"lockWaitMinutes":30}
        }"#;
        assert_eq!(fp(reordered), base);
    }

    #[test]
    fn what_the_rollout_would_do_changes_it() {
        let base = fp(BASE);
        let changes = [
            edit(|v| v["revision"]["s3"]["key"] = "shop/6.1.zip".into()),
            edit(|v| v["revision"]["s3"]["version"] = "3".into()),
            edit(|v| v["greenTags"][0]["value"] = "6.1".into()),
            edit(|v| v["greenTags"].as_array_mut().expect("tags").pop().map(drop).unwrap_or_default()),
            edit(|v| v["timeouts"] = serde_json::json!({"deploymentMinutes": 61})),
            edit(|v| v["approval"] = "manual".into()),
            edit(|v| v["deploymentGroup"] = "shop-bg2".into()),
            edit(|v| v["elastigroupId"] = "sig-1234abce".into()),
            edit(|v| v["healthCheck"] = serde_json::json!({"urlTemplate": "http://{ip}/h"})),
        ];
        for body in changes {
            assert_ne!(fp(&body), base, "{body}");
        }
    }

    #[test]
    fn a_commit_id_in_either_case_is_the_same_commit() {
        let lower = edit(|v| {
            v["revision"] = serde_json::json!({"github": {"repository": "o/shop", "commitId": "ab".repeat(20)}})
        });
        let upper = edit(|v| {
            v["revision"] = serde_json::json!({"github": {"repository": "o/shop", "commitId": "AB".repeat(20)}})
        });
        assert_eq!(fp(&lower), fp(&upper));
    }

    #[test]
    fn a_conflict_names_what_differs_and_what_to_do() {
        let first = parse_request(BASE.as_bytes()).expect("valid");
        let saga = crate::accept(first, crate::ids::Timestamp(0)).next;
        let same_by_another = parse_request(edit(|v| v["requestedBy"] = "ops".into()).as_bytes()).expect("valid");
        assert_eq!(conflict(&saga, &same_by_another), None);
        let other = edit(|v| {
            v["revision"]["s3"]["key"] = "shop/6.1.zip".into();
            v["greenTags"][0]["value"] = "6.1".into();
        });
        let c = conflict(&saga, &parse_request(other.as_bytes()).expect("valid")).expect("a conflict");
        assert_eq!(
            c.differences,
            vec![
                "revision: s3://b/shop/6.0.zip (zip) → s3://b/shop/6.1.zip (zip)".to_owned(),
                "greenTags: team=web, version=6.0 → team=web, version=6.1".to_owned(),
            ]
        );
        let why = c.explain();
        assert!(why.contains("requestId `shop-6.0`") && why.contains("publish it under a new requestId"), "{why}");
        // A saga stored before fingerprints existed matches anything.
        let mut old = saga;
        old.fingerprint = None;
        assert_eq!(conflict(&old, &parse_request(other.as_bytes()).expect("valid")), None);
    }
}
