//! Where Spot's published definition is thin or contradicts itself, and what the Spot contract
//! suite checks instead. Each entry names the evidence that overrides the schema, at the commits
//! the references were read at:
//!
//! * OAS  — `spotinst/openapi` @ 553e5ff4 (the definition itself: other schemas, its own examples);
//! * GO   — `spotinst/spotinst-sdk-go` @ d37d59a9 (`service/elastigroup/providers/aws/aws.go`,
//!   `spotinst/client/response.go`);
//! * PY   — `spotinst/spotinst-sdk-python` @ 62b776d3 (`spotinst_sdk2/clients/elastigroup/__init__.py`);
//! * JAVA — `spotinst/spotinst-sdk-java` @ 05a70e3a;
//! * HELP — `spotinst/help` @ 155a2c4e (`src/docs/administration/api/README.md`).
//!
//! Anything not listed here and not in the definition fails the suite. An entry the definition no
//! longer needs (because it was fixed upstream) fails it too (`SpotContract::stale_exceptions`), so
//! the list only ever shrinks to what is true.

use serde_json::{Value, json};

/// The operations greenfleet calls, by the definition's `operationId`.
pub const GET_GROUP: &str = "elastigroupAwsListElastigroup";
/// `GET /aws/ec2/group/{groupId}/status`.
pub const GET_STATUS: &str = "elastigroupAwsStatus";
/// `PUT /aws/ec2/group/{groupId}/capacity`.
pub const PUT_CAPACITY: &str = "elastigroupAwsUpdateCapacity";
/// `PUT /aws/ec2/group/{groupId}/detachInstances`.
pub const PUT_DETACH: &str = "elastigroupAwsDetachInstance";
/// `POST /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment`.
pub const POST_GREEN: &str = "elastigroupAwsCreateCodeDeployB_GDeployment";
/// `GET /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment`.
pub const GET_GREEN: &str = "elastigroupAwsGetCodeDeployB_GDeployment";
/// `PUT …/codeDeploy/blueGreenDeployment/{deploymentId}/stop`: not in the definition (see [`EXCEPTIONS`]).
pub const STOP_GREEN: &str = "stopCodeDeployB_GDeployment (not in the definition)";
/// Every operation greenfleet's Spot client calls.
pub const OPERATIONS: &[&str] = &[GET_GROUP, GET_STATUS, PUT_CAPACITY, PUT_DETACH, POST_GREEN, GET_GREEN, STOP_GREEN];

/// A schema an exception puts in place, built from the derived definition (its `schemas`).
pub type Schema = fn(&Value) -> Value;

/// What an exception changes in the definition before exchanges are checked against it.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// The 200 answer's schema at a place is replaced (or added).
    ResponseField {
        /// Property names separated by dots, `[]` for array items: `response.items[].region`.
        at: &'static str,
        /// What the place holds instead.
        schema: Schema,
    },
    /// The request body's schema at a place is replaced.
    RequestField {
        /// As for `ResponseField`, from the body's root.
        at: &'static str,
        /// What the place holds instead.
        schema: Schema,
    },
    /// Places of the 200 answer that may be `null`.
    Nullable {
        /// As for `ResponseField`.
        at: &'static [&'static str],
    },
    /// The operation is sent without a body, although the definition marks one required.
    NoRequestBody,
    /// An operation the definition lacks.
    Operation {
        /// Its HTTP method.
        method: &'static str,
        /// Its path template.
        path: &'static str,
        /// The operation whose parameters it shares.
        like: &'static str,
        /// The one string path parameter it adds to those.
        extra_path_parameter: &'static str,
        /// Its 200 answer (it takes no body).
        response: Schema,
    },
    /// Answers with these statuses carry a body schema and headers.
    Answers {
        /// Statuses, exact (`429`) or ranges (`4XX`); an exact one wins over a range.
        statuses: &'static [&'static str],
        /// Their body.
        schema: Schema,
        /// Response headers they always carry (lower case).
        headers: &'static [&'static str],
    },
}

/// One departure from the definition, and why.
#[derive(Debug, Clone, Copy)]
pub struct Exception {
    /// A short name for reports.
    pub id: &'static str,
    /// The operations it applies to ([`OPERATIONS`] entries).
    pub operations: &'static [&'static str],
    /// What it changes.
    pub change: Change,
    /// The evidence that overrides the schema.
    pub evidence: &'static str,
    /// Set when the entry tolerates a known disagreement that another change is removing.
    pub temporary: Option<&'static str>,
}

/// A named schema of the derived definition.
///
/// # Panics
/// When the derived file lacks it (regenerate it with `derive_spot_openapi.py`).
#[must_use]
pub fn named(definition: &Value, name: &str) -> Value {
    let mut schema = definition["schemas"].get(name).cloned().unwrap_or_else(|| panic!("no schema `{name}` derived"));
    if let Some(o) = schema.as_object_mut() {
        o.remove("file");
    }
    schema
}

/// Every exception, in the order of spot-api.md §8.
pub const EXCEPTIONS: &[Exception] = &[
    Exception {
        id: "group-region",
        operations: &[GET_GROUP],
        change: Change::ResponseField {
            at: "response.items[].region",
            schema: |d| named(d, "elastigroupCreate.group.region"),
        },
        evidence: "The group GET schema (items-list-group.yaml) has no `region`. The definition's full group \
                   model (elastigroupCreate.yaml, `group.region`, required there) and GO `Group.Region` \
                   (json:\"region\") have it.",
        temporary: None,
    },
    Exception {
        id: "group-tags-array",
        operations: &[GET_GROUP],
        change: Change::ResponseField {
            at: "response.items[].compute.launchSpecification.tags",
            schema: |d| named(d, "elastigroupCreate.group.compute.launchSpecification.tags"),
        },
        evidence: "items-list-group.yaml types launchSpecification.tags as one object {tagKey, tagValue}; the \
                   full group model (elastigroupCreate.yaml) and GO `LaunchSpecification.Tags []*Tag` make it \
                   an array of them.",
        temporary: None,
    },
    Exception {
        id: "group-codedeploy-integration",
        operations: &[GET_GROUP],
        change: Change::ResponseField {
            at: "response.items[].thirdPartiesIntegration.codeDeploy",
            schema: |d| named(d, "elastigroupCreate.group.thirdPartiesIntegration.codeDeploy"),
        },
        evidence: "items-list-group.yaml gives thirdPartiesIntegration as an object without properties; the \
                   full group model (elastigroupCreate.yaml) defines `codeDeploy{cleanUpOnFailure, \
                   terminateInstanceOnFailure, deploymentGroups[]}`, as does GO `Integration.CodeDeploy` \
                   (`CodeDeployIntegration`).",
        temporary: None,
    },
    Exception {
        id: "detach-ids-array",
        operations: &[PUT_DETACH],
        change: Change::RequestField {
            at: "instancesToDetach",
            schema: |_| json!({"type": "array", "items": {"type": "string"}}),
        },
        evidence: "detach-instance.yaml types instancesToDetach as `object`, but its own example is an array of \
                   instance ids ([i-123456, i-456798]), and GO `DetachGroupInput.InstanceIDs []string` \
                   (json:\"instancesToDetach\") sends one.",
        temporary: None,
    },
    Exception {
        id: "green-get-without-body",
        operations: &[GET_GREEN],
        change: Change::NoRequestBody,
        evidence: "blueGreenDeployment.yaml marks a required request body on the GET (bGRequest, copied from the \
                   POST). PY `get_blue_green_deployment` sends none (send_get), and a GET body has no meaning.",
        temporary: None,
    },
    Exception {
        id: "green-stop-operation",
        operations: &[STOP_GREEN],
        change: Change::Operation {
            method: "PUT",
            path: "/aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment/{deploymentId}/stop",
            like: GET_GREEN,
            extra_path_parameter: "deploymentId",
            response: |d| {
                // PY reads only `response`; its contents are undocumented. Accepted: the envelope with a
                // `kind` and no items, as the definition documents for detachInstances.
                let mut s = named(d, "responseWrapper");
                s["properties"]["response"]["properties"]["kind"] = json!({"type": "string"});
                s
            },
        },
        evidence: "Not in the definition. PY `stop_blue_green_deployment` sends PUT \
                   /aws/ec2/group/{id}/codeDeploy/blueGreenDeployment/{deploymentId}/stop without a body and \
                   returns `response`; parameters as the documented B/G paths (accountId required).",
        temporary: None,
    },
    Exception {
        id: "status-nulls",
        operations: &[GET_STATUS],
        change: Change::Nullable { at: &["response.items[].protectedUntil", "response.items[].spotInstanceRequestId"] },
        evidence: "items-status-f.yaml has no `nullable`. The definition's own status example \
                   (items-status-example2.yaml, an on-demand instance) gives spotInstanceRequestId as null; \
                   protectedUntil of an unprotected instance is null by the same convention (spot-api.md §4 \
                   example). No source at the pinned commits shows protectedUntil: null verbatim.",
        temporary: None,
    },
    Exception {
        id: "error-answers",
        operations: OPERATIONS,
        change: Change::Answers {
            statuses: &["400", "4XX", "5XX"],
            schema: |d| named(d, "errorResponse"),
            headers: &[],
        },
        evidence: "Only 200 and 400 are listed, 400 without a body. GO `extractError` (client/response.go) reads \
                   every non-200 answer as the error envelope `response.errors[{code, message}]`, which is \
                   the definition's commons/schemas/errorResponse.yaml; its own \
                   ecsInitiateClusterRollResponse400.yaml example has that shape.",
        temporary: None,
    },
    Exception {
        id: "rate-limited",
        operations: OPERATIONS,
        change: Change::Answers {
            statuses: &["429"],
            schema: |d| {
                let mut s = named(d, "responseWrapper");
                s["properties"]["response"]["properties"]["data"] = json!({"type": "string"});
                s
            },
            headers: &["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"],
        },
        evidence: "429 is not in the definition. HELP (administration/api/README.md) documents it: the body is \
                   `response.status {429, Too Many Requests}` plus `data: \"Rate limit exceeded\"` (no \
                   `errors`), and X-RateLimit-Limit, -Remaining and -Reset are always sent.",
        temporary: None,
    },
];
