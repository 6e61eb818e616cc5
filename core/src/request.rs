//! The rollout request (`schemaVersion` 1): its wire form, its JSON Schema, and the validation
//! that turns untrusted bytes into a [`RolloutRequest`] or a list of specific field problems.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{ElastigroupId, RequestId, RolloutId, Tag};

/// The only schema version this build understands.
pub const SCHEMA_VERSION: u32 = 1;
/// Requests larger than this are refused before parsing (SQS allows 256 KiB; a request needs far less).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// At most this many green tags.
pub const MAX_GREEN_TAGS: usize = 10;
/// The tag key greenfleet puts on every green instance, with the rollout id as value (F4).
pub const ROLLOUT_TAG_KEY: &str = "greenfleet:rollout";
/// JSON Schema pattern of a control character (`char::is_control`, Unicode's Cc: U+0000–U+001F and
/// U+007F–U+009F), which tags, names and other free text must not contain. The schema says
/// `"not": {"type": "string", "pattern": …}` (`null` stays valid) rather than an anchored `^[^…]*$`:
/// Python's `re` lets `$` match before a final newline, the control character most often pasted in.
const CONTROL_CHARACTER: &str = r"[\u0000-\u001F\u007F-\u009F]";
/// JSON Schema pattern of a full commit SHA (with its length fixed at 40, for the same reason).
const FULL_SHA: &str = "^[0-9a-fA-F]{40}$";

/// A validated rollout request. Build it with [`parse_request`] (or [`RolloutRequest::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutRequest {
    /// The publisher's idempotency key.
    pub request_id: RequestId,
    /// The Elastigroup whose instances are replaced.
    pub elastigroup_id: ElastigroupId,
    /// CodeDeploy application name.
    pub application: String,
    /// CodeDeploy deployment group name (must be BLUE_GREEN with DISCOVER_EXISTING).
    pub deployment_group: String,
    /// What to deploy.
    pub revision: Revision,
    /// Extra tags for green instances; greenfleet always adds `greenfleet:rollout=<id>`.
    pub green_tags: Vec<Tag>,
    /// Deadlines of the waits, in minutes.
    pub timeouts: Timeouts,
    /// Optional HTTP check against each green instance before traffic moves.
    pub health_check: Option<HealthCheck>,
    /// Whether a person approves at READY.
    pub approval: ApprovalMode,
    /// Who asked, for the audit trail.
    pub requested_by: String,
}

impl RolloutRequest {
    /// The rollout this request starts.
    #[must_use]
    pub fn rollout_id(&self) -> RolloutId {
        RolloutId::for_request(&self.request_id)
    }

    /// The unique tag of this rollout's green instances, `greenfleet:rollout=<requestId>`: what the
    /// CodeDeploy deployment targets, and after success what the deployment group selects as blue.
    #[must_use]
    pub fn rollout_tag(&self) -> Tag {
        Tag { key: ROLLOUT_TAG_KEY.to_owned(), value: self.request_id.to_string() }
    }

    /// All tags green instances carry: the unique rollout tag first, then the requested ones.
    #[must_use]
    pub fn all_green_tags(&self) -> Vec<Tag> {
        let mut tags = vec![self.rollout_tag()];
        tags.extend(self.green_tags.iter().cloned());
        tags
    }

    /// Validates a wire document. Every problem is reported, not only the first.
    pub fn validate(doc: RolloutRequestDoc) -> Result<Self, RequestError> {
        Validator::default().run(doc)
    }
}

/// Where the revision comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Revision {
    /// A bundle in S3.
    S3(S3Revision),
    /// A commit in a GitHub repository.
    #[serde(rename = "github")]
    GitHub(GitHubRevision),
}

/// A bundle in S3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Revision {
    /// Bucket name.
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub bucket: String,
    /// Object key.
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub key: String,
    /// zip, tar, tgz, YAML or JSON.
    pub bundle_type: BundleType,
    /// Object version, if the bucket is versioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub version: Option<String>,
    /// Expected ETag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub e_tag: Option<String>,
}

/// A commit in a GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitHubRevision {
    /// `owner/name`.
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub repository: String,
    /// The full commit SHA: 40 hex characters, as `git rev-parse HEAD` prints them.
    #[schemars(length(equal = 40), pattern(FULL_SHA))]
    pub commit_id: String,
}

/// CodeDeploy's bundle types (its own spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BundleType {
    /// A zip archive.
    #[serde(rename = "zip")]
    Zip,
    /// A tar archive.
    #[serde(rename = "tar")]
    Tar,
    /// A gzipped tar archive.
    #[serde(rename = "tgz")]
    Tgz,
    /// A YAML AppSpec.
    #[serde(rename = "YAML")]
    Yaml,
    /// A JSON AppSpec.
    #[serde(rename = "JSON")]
    Json,
}

impl Revision {
    /// A short human description, e.g. `s3://bucket/key (zip)`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::S3(s) => format!("s3://{}/{} ({})", s.bucket, s.key, s.bundle_type.as_str()),
            Self::GitHub(g) => format!("github:{}@{}", g.repository, g.commit_id),
        }
    }
}

impl BundleType {
    /// CodeDeploy's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::Tar => "tar",
            Self::Tgz => "tgz",
            Self::Yaml => "YAML",
            Self::Json => "JSON",
        }
    }
}

/// Deadlines of the saga's waits (F10), in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    /// How long Spot may take to launch and tag the green instances (1–120, default 15).
    #[serde(default = "defaults::green_ready")]
    pub green_ready_minutes: u32,
    /// How long the CodeDeploy deployment may take (1–2880, default 60).
    #[serde(default = "defaults::deployment")]
    pub deployment_minutes: u32,
    /// How long a manual approval may wait at READY (1–2880, default 60).
    #[serde(default = "defaults::approval")]
    pub approval_minutes: u32,
    /// How long to wait for another rollout on the same group to finish; 0 rejects at once (0–1440, default 30).
    #[serde(default = "defaults::lock_wait")]
    pub lock_wait_minutes: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            green_ready_minutes: defaults::green_ready(),
            deployment_minutes: defaults::deployment(),
            approval_minutes: defaults::approval(),
            lock_wait_minutes: defaults::lock_wait(),
        }
    }
}

mod defaults {
    pub(super) fn green_ready() -> u32 {
        15
    }
    pub(super) fn deployment() -> u32 {
        60
    }
    pub(super) fn approval() -> u32 {
        60
    }
    pub(super) fn lock_wait() -> u32 {
        30
    }
    pub(super) fn expected_status() -> u16 {
        200
    }
    pub(super) fn successes() -> u32 {
        3
    }
    pub(super) fn check_timeout() -> u32 {
        5
    }
    pub(super) fn interval() -> u32 {
        10
    }
}

/// An HTTP check against every green instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    /// URL with `{ip}` standing for the instance's private IP, e.g. `http://{ip}:8080/health`.
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub url_template: String,
    /// Status code that counts as healthy (default 200).
    #[serde(default = "defaults::expected_status")]
    pub expected_status: u16,
    /// Consecutive successes needed per instance (1–20, default 3).
    #[serde(default = "defaults::successes")]
    pub consecutive_successes: u32,
    /// Per-request timeout in seconds (1–60, default 5).
    #[serde(default = "defaults::check_timeout")]
    pub timeout_seconds: u32,
    /// Seconds between rounds (1–300, default 10).
    #[serde(default = "defaults::interval")]
    pub interval_seconds: u32,
}

/// Whether a person must approve before traffic moves to green.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalMode {
    /// Continue as soon as CodeDeploy reports READY (and the health check passes).
    #[default]
    Auto,
    /// Wait at READY for `greenfleet approve`.
    Manual,
}

/// The deployment strategy asked for. Only Blue/Green is possible through Elastigroup's CodeDeploy integration (F9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Strategy {
    /// Blue/Green through Elastigroup's CodeDeploy integration.
    #[default]
    BlueGreen,
    /// Elastigroup's batch "roll"; always rejected.
    Roll,
}

/// A green tag as it travels on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagDoc {
    /// Tag key (1–128 characters, not starting with `aws:`, no control characters).
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub key: String,
    /// Tag value (up to 256 characters, no control characters).
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub value: String,
}

/// The wire form of a rollout request, `schemaVersion` 1. Its JSON Schema is committed as
/// `schema/rollout-request.v1.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "greenfleet rollout request", extend("$id" = "https://greenfleet.dev/schema/rollout-request.v1.json"))]
pub struct RolloutRequestDoc {
    /// Always 1.
    pub schema_version: u32,
    /// Idempotency key chosen by the publisher: 1–64 of `A-Z a-z 0-9 - _ . :`.
    pub request_id: String,
    /// `sig-…`.
    pub elastigroup_id: String,
    /// CodeDeploy application.
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub application: String,
    /// CodeDeploy deployment group.
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub deployment_group: String,
    /// Only `blueGreen` is supported (default); `roll` is rejected.
    #[serde(default)]
    pub strategy: Strategy,
    /// What to deploy.
    pub revision: Revision,
    /// Extra tags for the green instances (at most 10).
    #[serde(default)]
    pub green_tags: Vec<TagDoc>,
    /// Deadlines of each wait.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Optional HTTP health check against green instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// `auto` (default) or `manual`.
    #[serde(default)]
    pub approval: ApprovalMode,
    /// Who asked.
    #[schemars(extend("not" = {"type": "string", "pattern": CONTROL_CHARACTER}))]
    pub requested_by: String,
}

impl From<&RolloutRequest> for RolloutRequestDoc {
    fn from(r: &RolloutRequest) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            request_id: r.request_id.to_string(),
            elastigroup_id: r.elastigroup_id.to_string(),
            application: r.application.clone(),
            deployment_group: r.deployment_group.clone(),
            strategy: Strategy::BlueGreen,
            revision: r.revision.clone(),
            green_tags: r.green_tags.iter().map(|t| TagDoc { key: t.key.clone(), value: t.value.clone() }).collect(),
            timeouts: r.timeouts,
            health_check: r.health_check.clone(),
            approval: r.approval,
            requested_by: r.requested_by.clone(),
        }
    }
}

/// One thing wrong with a request: the field (a JSON path) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// e.g. `timeouts.deploymentMinutes`, or `(document)`.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

/// A request that cannot start a rollout, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RequestError {
    /// The request id, when one could be read, so the publisher can correlate the rejection.
    pub request_id: Option<String>,
    /// What is wrong, field by field.
    pub problems: Vec<FieldProblem>,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rollout request rejected")?;
        if let Some(id) = &self.request_id {
            write!(f, " (requestId `{id}`)")?;
        }
        for (i, p) in self.problems.iter().enumerate() {
            write!(f, "{} `{}`: {}", if i == 0 { ":" } else { ";" }, p.field, p.message)?;
        }
        Ok(())
    }
}

impl RequestError {
    fn document(request_id: Option<String>, message: impl Into<String>) -> Self {
        Self { request_id, problems: vec![FieldProblem { field: "(document)".into(), message: message.into() }] }
    }
}

/// Parses untrusted bytes (a queue message body, a file) into a validated request.
pub fn parse_request(bytes: &[u8]) -> Result<RolloutRequest, RequestError> {
    if bytes.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::document(
            None,
            format!("the request is {} bytes; at most {MAX_REQUEST_BYTES} are accepted", bytes.len()),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| RequestError::document(None, format!("not valid JSON: {e}")))?;
    let serde_json::Value::Object(map) = &value else {
        return Err(RequestError::document(None, "expected a JSON object with schemaVersion 1"));
    };
    let request_id = map.get("requestId").and_then(|v| v.as_str()).map(|s| s.chars().take(64).collect());
    // serde_json keeps the last of a key given twice; which one the publisher meant is anyone's guess,
    // so the document is refused, every such key named, before anything is read from it.
    let twice = crate::duplicate_keys::find(bytes);
    if !twice.is_empty() {
        let mut problems: Vec<FieldProblem> = twice
            .paths
            .iter()
            .map(|path| FieldProblem { field: path.clone(), message: crate::duplicate_keys::MESSAGE.into() })
            .collect();
        problems.extend(twice.more_message().map(|message| FieldProblem { field: "(document)".into(), message }));
        // A request id given twice cannot be trusted to correlate the rejection.
        let request_id = request_id.filter(|_| !twice.paths.iter().any(|p| p == "requestId"));
        return Err(RequestError { request_id, problems });
    }
    match map.get("schemaVersion") {
        None => {
            return Err(RequestError {
                request_id,
                problems: vec![FieldProblem {
                    field: "schemaVersion".into(),
                    message: "is missing; set it to 1".into(),
                }],
            });
        }
        Some(v) if v.as_u64() != Some(u64::from(SCHEMA_VERSION)) => {
            return Err(RequestError {
                request_id,
                problems: vec![FieldProblem {
                    field: "schemaVersion".into(),
                    message: format!("{v} is not supported; this greenfleet understands schemaVersion 1"),
                }],
            });
        }
        Some(_) => {}
    }
    if let Some(field) = array_for_object(map) {
        return Err(RequestError {
            request_id,
            problems: vec![FieldProblem {
                field,
                message: "is an array; write it as a JSON object with named fields".into(),
            }],
        });
    }
    // The path names the field of a wrong type (`revision.s3.bucket`, `greenTags[0].key`), so the
    // publisher knows which one to fix; problems of the whole document (a missing or unknown field)
    // keep `(document)`.
    let doc: RolloutRequestDoc = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." { "(document)".to_owned() } else { path };
        RequestError {
            request_id: request_id.clone(),
            problems: vec![FieldProblem { field, message: e.into_inner().to_string() }],
        }
    })?;
    RolloutRequest::validate(doc)
}

/// The committed JSON Schema of [`RolloutRequestDoc`], pretty-printed with a trailing newline.
#[must_use]
pub fn request_json_schema() -> String {
    let schema = schemars::schema_for!(RolloutRequestDoc);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// serde reads a struct from an array too, taking its fields by position: `"timeouts": [5, 60]` would
/// quietly mean 5 minutes for green and 60 for the deployment. A request names its fields, so an array
/// where an object belongs is refused; returns the first such field.
fn array_for_object(map: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let mut objects: Vec<(String, &serde_json::Value)> = Vec::new();
    for key in ["timeouts", "healthCheck"] {
        objects.extend(map.get(key).map(|v| (key.to_owned(), v)));
    }
    if let Some(serde_json::Value::Object(revision)) = map.get("revision") {
        objects.extend(revision.iter().map(|(k, v)| (format!("revision.{k}"), v)));
    }
    if let Some(serde_json::Value::Array(tags)) = map.get("greenTags") {
        objects.extend(tags.iter().enumerate().map(|(i, t)| (format!("greenTags[{i}]"), t)));
    }
    objects.into_iter().find(|(_, v)| v.is_array()).map(|(field, _)| field)
}

/// Why control characters are refused in tags.
const TAGS_PRINTABLE: &str = "AWS tags cannot carry control characters";
/// Why control characters are refused in other text.
const TEXT_ONLY: &str = "only printable text is accepted here";

#[derive(Default)]
struct Validator {
    problems: Vec<FieldProblem>,
}

impl Validator {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(FieldProblem { field: field.to_owned(), message: message.into() });
    }

    fn name(&mut self, field: &str, s: &str, max: usize) -> String {
        if s.trim().is_empty() {
            self.problem(field, "is empty");
        } else if s.len() > max {
            self.problem(field, format!("is {} characters; at most {max}", s.len()));
        } else {
            self.printable(field, s, TEXT_ONLY);
        }
        s.to_owned()
    }

    /// Refuses control characters in text greenfleet passes on (to CodeDeploy, Spot, EC2 tags, its
    /// events and logs): there they are at best invisible and at worst refused later, mid-rollout, or
    /// used to forge a log line. Returns whether `s` is clean.
    fn printable(&mut self, field: &str, s: &str, why: &str) -> bool {
        let Some((at, c)) = s.chars().enumerate().find(|(_, c)| c.is_control()) else { return true };
        self.problem(
            field,
            format!(
                "contains the control character U+{:04X} (`{}`) at character {}; remove it: {why}",
                u32::from(c),
                c.escape_default(),
                at + 1
            ),
        );
        false
    }

    fn range(&mut self, field: &str, v: u32, lo: u32, hi: u32) {
        if v < lo || v > hi {
            self.problem(field, format!("{v} is out of range; use {lo} to {hi}"));
        }
    }

    fn run(mut self, doc: RolloutRequestDoc) -> Result<RolloutRequest, RequestError> {
        if doc.schema_version != SCHEMA_VERSION {
            self.problem("schemaVersion", format!("{} is not supported; use 1", doc.schema_version));
        }
        if doc.strategy == Strategy::Roll {
            self.problem(
                "strategy",
                "`roll` is not possible: Elastigroup's CodeDeploy integration supports Blue/Green only (F9); \
                 use `blueGreen` or start a roll from the Spot console",
            );
        }
        let request_id = RequestId::parse(&doc.request_id).map_err(|e| self.problem("requestId", e.0)).ok();
        let group = ElastigroupId::parse(&doc.elastigroup_id).map_err(|e| self.problem("elastigroupId", e.0)).ok();
        let application = self.name("application", &doc.application, 100);
        let deployment_group = self.name("deploymentGroup", &doc.deployment_group, 100);
        let requested_by = self.name("requestedBy", &doc.requested_by, 256);
        self.revision(&doc.revision);
        let green_tags = self.green_tags(&doc.green_tags);
        let t = doc.timeouts;
        self.range("timeouts.greenReadyMinutes", t.green_ready_minutes, 1, 120);
        self.range("timeouts.deploymentMinutes", t.deployment_minutes, 1, 2880);
        self.range("timeouts.approvalMinutes", t.approval_minutes, 1, 2880);
        self.range("timeouts.lockWaitMinutes", t.lock_wait_minutes, 0, 1440);
        if let Some(h) = &doc.health_check {
            self.health_check(h);
        }
        match (request_id, group) {
            (Some(request_id), Some(elastigroup_id)) if self.problems.is_empty() => Ok(RolloutRequest {
                request_id,
                elastigroup_id,
                application,
                deployment_group,
                revision: doc.revision,
                green_tags,
                timeouts: t,
                health_check: doc.health_check,
                approval: doc.approval,
                requested_by,
            }),
            _ => Err(RequestError { request_id: Some(doc.request_id), problems: self.problems }),
        }
    }

    fn revision(&mut self, r: &Revision) {
        match r {
            Revision::S3(s) => {
                self.name("revision.s3.bucket", &s.bucket, 63);
                self.name("revision.s3.key", &s.key, 1024);
                if let Some(v) = &s.version {
                    self.printable("revision.s3.version", v, TEXT_ONLY);
                }
                if let Some(e) = &s.e_tag {
                    self.printable("revision.s3.eTag", e, TEXT_ONLY);
                }
            }
            Revision::GitHub(g) => {
                let ok = g.repository.split('/').filter(|p| !p.is_empty()).count() == 2;
                if self.printable("revision.github.repository", &g.repository, TEXT_ONLY) && !ok {
                    self.problem("revision.github.repository", format!("`{}` is not `owner/name`", g.repository));
                }
                self.commit_id(&g.commit_id);
            }
        }
    }

    /// CodeDeploy's `GitHubLocation.commitId` is a full SHA-1; an abbreviated one (or a branch name)
    /// passes CreateDeployment and fails only later, when CodeDeploy fetches the commit from GitHub.
    /// Upper-case hex is accepted: git and GitHub read object names in either case, so both spell
    /// the same commit.
    fn commit_id(&mut self, c: &str) {
        let field = "revision.github.commitId";
        let how = "give all 40 hex characters, as `git rev-parse HEAD` prints them";
        if c.is_empty() {
            self.problem(field, format!("is empty; {how}"));
        } else if let Some(bad) = c.chars().find(|ch| !ch.is_ascii_hexdigit()) {
            let (c, bad) = (c.escape_debug(), bad.escape_debug());
            self.problem(field, format!("`{c}` is not a full commit SHA: `{bad}` is not a hex digit; {how}"));
        } else if c.len() != 40 {
            self.problem(field, format!("`{c}` is not a full commit SHA ({} characters): {how}", c.len()));
        }
    }

    fn green_tags(&mut self, tags: &[TagDoc]) -> Vec<Tag> {
        if tags.len() > MAX_GREEN_TAGS {
            self.problem("greenTags", format!("{} tags given; at most {MAX_GREEN_TAGS}", tags.len()));
            return Vec::new();
        }
        let mut out: Vec<Tag> = Vec::new();
        for (i, t) in tags.iter().enumerate() {
            let field = format!("greenTags[{i}]");
            if t.key == ROLLOUT_TAG_KEY {
                self.problem(&field, format!("`{ROLLOUT_TAG_KEY}` is set by greenfleet itself; choose another key"));
                continue;
            }
            // Here and not in `Tag::new`: tags read back from Spot and EC2 are facts, kept as they are.
            let key_ok = self.printable(&format!("{field}.key"), &t.key, TAGS_PRINTABLE);
            let value_ok = self.printable(&format!("{field}.value"), &t.value, TAGS_PRINTABLE);
            match Tag::new(&t.key, &t.value) {
                Ok(_) if !(key_ok && value_ok) => {}
                Ok(tag) if out.iter().any(|o| o.key == tag.key) => {
                    self.problem(&field, format!("key `{}` appears twice", tag.key));
                }
                Ok(tag) => out.push(tag),
                Err(e) => self.problem(&field, e.0),
            }
        }
        out
    }

    fn health_check(&mut self, h: &HealthCheck) {
        let url = &h.url_template;
        let http = (url.starts_with("http://") || url.starts_with("https://")) && url.contains("{ip}");
        if self.printable("healthCheck.urlTemplate", url, TEXT_ONLY) && !http {
            self.problem(
                "healthCheck.urlTemplate",
                format!("`{url}` must be an http(s) URL containing `{{ip}}`, e.g. `http://{{ip}}:8080/health`"),
            );
        }
        if !(100..=599).contains(&h.expected_status) {
            self.problem("healthCheck.expectedStatus", format!("{} is not an HTTP status", h.expected_status));
        }
        self.range("healthCheck.consecutiveSuccesses", h.consecutive_successes, 1, 20);
        self.range("healthCheck.timeoutSeconds", h.timeout_seconds, 1, 60);
        self.range("healthCheck.intervalSeconds", h.interval_seconds, 1, 300);
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
