//! Event-triggered rollouts: the trigger configuration (`--triggers <file>`, JSON), its validation,
//! and turning a matching EventBridge event into a rollout request.
//!
//! A trigger names an EventBridge event pattern (see [`crate::trigger_pattern`]) and a rollout
//! template. `greenfleet infra up` creates one rule per trigger that sends matching events to the
//! intake queue; the worker matches each event against its triggers again and fills the template
//! from the event. The request id is derived from the trigger's name and the event's id, so an
//! event EventBridge delivers twice starts one rollout.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::layout::ROLLOUT_REQUESTED;
use crate::request::{
    ApprovalMode, BundleType, GitHubRevision, HealthCheck, RequestError, Revision, RolloutRequest, RolloutRequestDoc,
    S3Revision, SCHEMA_VERSION, Strategy, TagDoc, Timeouts,
};
use crate::trigger_pattern::EventPattern;

/// Longest trigger name: keeps `<prefix>-trigger-<name>` within EventBridge's 64 characters for
/// prefixes up to 31 characters (`infra up` checks the real length).
pub const MAX_NAME_LEN: usize = 24;
/// The tag key a template's `versionTag` fills.
pub const VERSION_TAG_KEY: &str = "version";

/// Which bus a trigger's rule listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TriggerBus {
    /// The account's default bus, where AWS services (S3, CodeBuild...) put their events.
    #[default]
    Default,
    /// greenfleet's own bus, for custom events (e.g. a `Build Succeeded` from CI).
    Greenfleet,
}

/// How to take a value from the event: a path (`detail.object.key`) and what part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FromEvent {
    /// Dot-separated path in the event envelope, e.g. `detail.bucket.name`.
    pub from: String,
    /// Which part of the value: the whole (default), its file name, or its file stem.
    #[serde(default)]
    pub take: Take,
}

/// Which part of a value taken from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Take {
    /// The value as is.
    #[default]
    Whole,
    /// After the last `/`: `shop/6.0.zip` → `6.0.zip`.
    FileName,
    /// The file name without its bundle extension (`.zip`, `.tar.gz`, `.tgz`, `.tar`, `.yaml`, `.yml`,
    /// `.json`, else the last `.…`): `shop/6.0.zip` → `6.0`.
    FileStem,
}

/// A template value: a constant string, or taken from the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Field {
    /// Taken from the event.
    From(FromEvent),
    /// Always this.
    Const(String),
}

impl<'de> Deserialize<'de> for Field {
    /// By hand rather than `untagged`, so a typo (`{"form": …}`) is named instead of "no variant matched".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::Const(s)),
            v @ Value::Object(_) => serde_json::from_value(v).map(Self::From).map_err(D::Error::custom),
            other => Err(D::Error::custom(format!("expected a string or {{\"from\": \"detail.…\"}}, found `{other}`"))),
        }
    }
}

/// The revision a trigger deploys, filled from the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RevisionTemplate {
    /// A bundle in S3.
    S3 {
        /// Bucket.
        bucket: Field,
        /// Object key.
        key: Field,
        /// Bundle type (a constant).
        #[serde(rename = "bundleType")]
        bundle_type: BundleType,
        /// Object version, if any.
        #[serde(default)]
        version: Option<Field>,
        /// ETag, if any.
        #[serde(default, rename = "eTag")]
        e_tag: Option<Field>,
    },
    /// A GitHub commit.
    #[serde(rename = "github")]
    GitHub {
        /// `owner/name`.
        repository: Field,
        /// Commit SHA.
        #[serde(rename = "commitId")]
        commit_id: Field,
    },
}

/// What rollout a matching event starts. Fields other than the revision and version tag are constants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutTemplate {
    /// The Elastigroup.
    pub elastigroup_id: String,
    /// CodeDeploy application.
    pub application: String,
    /// CodeDeploy deployment group.
    pub deployment_group: String,
    /// The revision, from the event.
    pub revision: RevisionTemplate,
    /// Tags green instances `version=<this>`.
    #[serde(default)]
    pub version_tag: Option<Field>,
    /// Other green tags.
    #[serde(default)]
    pub green_tags: Vec<TagDoc>,
    /// Deadlines.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Health check.
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// `auto` (default) or `manual`.
    #[serde(default)]
    pub approval: ApprovalMode,
    /// Who asks (default `trigger <name>`).
    #[serde(default)]
    pub requested_by: Option<String>,
}

/// One trigger as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerDoc {
    /// 1–24 letters, digits, `-` or `_`; names the rule `<prefix>-trigger-<name>`.
    pub name: String,
    /// `default` (default) or `greenfleet`.
    #[serde(default)]
    pub bus: TriggerBus,
    /// The EventBridge event pattern.
    pub pattern: Value,
    /// The rollout it starts.
    pub rollout: RolloutTemplate,
}

/// The trigger file: `{"triggers": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerFile {
    /// The triggers.
    pub triggers: Vec<TriggerDoc>,
}

/// A validated trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// As written.
    pub doc: TriggerDoc,
    pattern: EventPattern,
}

impl Trigger {
    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.doc.name
    }

    /// The bus its rule listens on.
    #[must_use]
    pub fn bus(&self) -> TriggerBus {
        self.doc.bus
    }

    /// The event pattern, as JSON for `PutRule`.
    #[must_use]
    pub fn pattern_json(&self) -> String {
        self.doc.pattern.to_string()
    }

    /// Whether `event` (an EventBridge envelope) matches the pattern.
    #[must_use]
    pub fn matches(&self, event: &Value) -> bool {
        self.pattern.matches(event)
    }
}

/// The validated triggers of one installation (possibly none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Triggers {
    list: Vec<Trigger>,
}

/// One problem in a trigger file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// e.g. `triggers[0].pattern.detail.size` or `triggers[1].rollout.elastigroupId`.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

/// A trigger file that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trigger configuration refused: {}", .problems.iter().map(|p| format!("`{}`: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
pub struct ConfigError {
    /// What is wrong, field by field.
    pub problems: Vec<ConfigProblem>,
}

/// What an event on the intake queue asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum IntakeBody {
    /// A rollout request (sent directly, or the `detail` of a `Rollout Requested` envelope).
    Request(String),
    /// Another EventBridge event, for the triggers.
    Event(Value),
}

/// Sorts an intake message: a request, or an event for the triggers.
#[must_use]
pub fn classify_intake(body: &str) -> IntakeBody {
    let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(body) else {
        return IntakeBody::Request(body.to_owned());
    };
    let envelope = value.get("source").is_some_and(Value::is_string) && value.get("detail").is_some();
    match value.get("detail-type").and_then(Value::as_str) {
        Some(ROLLOUT_REQUESTED) => IntakeBody::Request(match value.get("detail") {
            Some(_) => raw_detail(body).unwrap_or_else(|| body.to_owned()),
            None => Value::Null.to_string(),
        }),
        Some(_) if envelope => IntakeBody::Event(value),
        _ => IntakeBody::Request(body.to_owned()),
    }
}

/// The `detail` of an envelope exactly as it was sent, so that a key given twice in it reaches
/// `parse_request`, which refuses it (the parsed value, written out again, would keep only the last).
/// `None` when `detail` is given twice: then the whole envelope goes to `parse_request`, which names
/// `detail`.
fn raw_detail(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        detail: &'a serde_json::value::RawValue,
    }
    serde_json::from_str::<Envelope<'_>>(body).ok().map(|e| e.detail.get().to_owned())
}

/// A matching event whose template could not be filled, or gave an invalid request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trigger `{trigger}` matched event {event_id} but {message}")]
pub struct FillError {
    /// The trigger.
    pub trigger: String,
    /// The request id the rollout would have had.
    pub request_id: String,
    /// The event's id.
    pub event_id: String,
    /// What is missing or invalid, naming the event field.
    pub message: String,
}

impl Triggers {
    /// Parses and validates a trigger file; reports every problem.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let one = |field: &str, message: String| ConfigError {
            problems: vec![ConfigProblem { field: field.into(), message }],
        };
        // As in a rollout request, a key given twice is refused rather than read as its last value.
        let twice = crate::duplicate_keys::find(bytes);
        if !twice.is_empty() {
            let more = twice.more_message().map(|message| ConfigProblem { field: "(file)".into(), message });
            let named = twice
                .paths
                .into_iter()
                .map(|field| ConfigProblem { field, message: crate::duplicate_keys::MESSAGE.into() });
            return Err(ConfigError { problems: named.chain(more).collect() });
        }
        let file: TriggerFile = serde_json::from_slice(bytes).map_err(|e| {
            one("(file)", format!("{e}; expected {{\"triggers\": [{{\"name\", \"pattern\", \"rollout\"}}]}}"))
        })?;
        let mut problems = Vec::new();
        let mut list = Vec::new();
        for (i, doc) in file.triggers.into_iter().enumerate() {
            let at = format!("triggers[{i}]");
            let mut problem = |field: &str, message: String| {
                problems.push(ConfigProblem { field: format!("{at}.{field}"), message });
            };
            let name_ok = !doc.name.is_empty()
                && doc.name.len() <= MAX_NAME_LEN
                && doc.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            if !name_ok {
                problem("name", format!("`{}` must be 1–{MAX_NAME_LEN} letters, digits, `-` or `_`", doc.name));
            } else if list.iter().any(|t: &Trigger| t.doc.name == doc.name) {
                problem("name", format!("`{}` is used twice; names must be unique", doc.name));
            }
            let pattern =
                EventPattern::compile(&doc.pattern).map_err(|e| problem(&format!("pattern.{}", e.at), e.message)).ok();
            // The constants are checked now, with placeholders for what the event fills in.
            let sample = sample_fill(&doc);
            if let Err(e) = fill(&doc, &sample, "sample") {
                for p in e.problems {
                    problem(&format!("rollout.{}", p.field), p.message);
                }
            }
            if let Some(pattern) = pattern {
                list.push(Trigger { doc, pattern });
            }
        }
        if problems.is_empty() { Ok(Self { list }) } else { Err(ConfigError { problems }) }
    }

    /// The triggers.
    #[must_use]
    pub fn list(&self) -> &[Trigger] {
        &self.list
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The rollout requests `event` starts: one per matching trigger (none: the event is not for
    /// greenfleet), or why a matching trigger could not start one.
    #[must_use]
    pub fn requests_for(&self, event: &Value) -> Vec<Result<RolloutRequest, FillError>> {
        let event_id = event.get("id").and_then(Value::as_str).unwrap_or_default();
        self.list
            .iter()
            .filter(|t| t.matches(event))
            .map(|t| {
                let request_id = request_id_for(&t.doc.name, event_id);
                fill(&t.doc, event, &request_id).map_err(|e| FillError {
                    trigger: t.doc.name.clone(),
                    request_id,
                    event_id: event_id.to_owned(),
                    message: e
                        .problems
                        .iter()
                        .map(|p| format!("`{}` {}", p.field, p.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                })
            })
            .collect()
    }
}

/// The request id of the rollout trigger `name` starts for the event `event_id`: `<name>:<event id>`,
/// or `<name>:<hash of the event id>` when that is not a valid request id.
#[must_use]
pub fn request_id_for(name: &str, event_id: &str) -> String {
    let plain = format!("{name}:{event_id}");
    if crate::ids::RequestId::parse(&plain).is_ok() {
        return plain;
    }
    // FNV-1a: stable across versions and platforms, unlike std's hasher.
    let hash =
        event_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{name}:{hash:016x}")
}

/// The value at a dot-separated `path` of `event`, as text (strings as they are, numbers written out).
fn lookup<'a>(event: &'a Value, path: &str) -> Option<String> {
    let v: &'a Value = path.split('.').try_fold(event, |v, k| v.get(k))?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn take(value: &str, how: Take) -> String {
    let name = value.rsplit('/').next().unwrap_or(value);
    match how {
        Take::Whole => value.to_owned(),
        Take::FileName => name.to_owned(),
        Take::FileStem => {
            for ext in [".tar.gz", ".tgz", ".zip", ".tar", ".yaml", ".yml", ".json"] {
                if let Some(stem) = name.strip_suffix(ext).filter(|s| !s.is_empty()) {
                    return stem.to_owned();
                }
            }
            name.rsplit_once('.').map_or(name, |(stem, _)| if stem.is_empty() { name } else { stem }).to_owned()
        }
    }
}

struct Filler<'a> {
    event: &'a Value,
    problems: Vec<crate::request::FieldProblem>,
}

impl Filler<'_> {
    fn get(&mut self, field: &str, f: &Field) -> String {
        match f {
            Field::Const(s) => s.clone(),
            Field::From(from) => match lookup(self.event, &from.from) {
                Some(v) => take(&v, from.take),
                None => {
                    self.problems.push(crate::request::FieldProblem {
                        field: field.to_owned(),
                        message: format!("cannot be filled: the event has no text at `{}`", from.from),
                    });
                    String::new()
                }
            },
        }
    }
}

/// Fills `doc`'s template from `event` and validates the request exactly as the worker would.
fn fill(doc: &TriggerDoc, event: &Value, request_id: &str) -> Result<RolloutRequest, RequestError> {
    let t = &doc.rollout;
    let mut f = Filler { event, problems: Vec::new() };
    let revision = match &t.revision {
        RevisionTemplate::S3 { bucket, key, bundle_type, version, e_tag } => Revision::S3(S3Revision {
            bucket: f.get("revision.s3.bucket", bucket),
            key: f.get("revision.s3.key", key),
            bundle_type: *bundle_type,
            version: version.as_ref().map(|v| f.get("revision.s3.version", v)),
            e_tag: e_tag.as_ref().map(|v| f.get("revision.s3.eTag", v)),
        }),
        RevisionTemplate::GitHub { repository, commit_id } => Revision::GitHub(GitHubRevision {
            repository: f.get("revision.github.repository", repository),
            commit_id: f.get("revision.github.commitId", commit_id),
        }),
    };
    let mut green_tags = t.green_tags.clone();
    if let Some(v) = &t.version_tag {
        green_tags.push(TagDoc { key: VERSION_TAG_KEY.to_owned(), value: f.get("versionTag", v) });
    }
    if !f.problems.is_empty() {
        return Err(RequestError { request_id: Some(request_id.to_owned()), problems: f.problems });
    }
    RolloutRequest::validate(RolloutRequestDoc {
        schema_version: SCHEMA_VERSION,
        request_id: request_id.to_owned(),
        elastigroup_id: t.elastigroup_id.clone(),
        application: t.application.clone(),
        deployment_group: t.deployment_group.clone(),
        strategy: Strategy::BlueGreen,
        revision,
        green_tags,
        timeouts: t.timeouts,
        health_check: t.health_check.clone(),
        approval: t.approval,
        requested_by: t.requested_by.clone().unwrap_or_else(|| format!("trigger {}", doc.name)),
    })
}

/// An event carrying a plausible value at every path the template reads, to check the constants.
fn sample_fill(doc: &TriggerDoc) -> Value {
    let mut event = serde_json::json!({});
    let mut put = |f: Option<&Field>, sample: &str| {
        let Some(Field::From(from)) = f else { return };
        let mut at = &mut event;
        let parts: Vec<&str> = from.from.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if !at.is_object() {
                return;
            }
            let last = i + 1 == parts.len();
            at = at
                .as_object_mut()
                .map(|o| {
                    o.entry((*part).to_owned())
                        .or_insert_with(|| if last { sample.into() } else { serde_json::json!({}) })
                })
                .unwrap_or_else(|| unreachable!("checked to be an object"));
        }
    };
    let t = &doc.rollout;
    match &t.revision {
        RevisionTemplate::S3 { bucket, key, version, e_tag, .. } => {
            put(Some(bucket), "bucket");
            put(Some(key), "key/sample.zip");
            put(version.as_ref(), "1");
            put(e_tag.as_ref(), "etag");
        }
        RevisionTemplate::GitHub { repository, commit_id } => {
            put(Some(repository), "owner/name");
            put(Some(commit_id), "0123456789abcdef0123456789abcdef01234567");
        }
    }
    put(t.version_tag.as_ref(), "1.0");
    event
}

#[cfg(test)]
#[path = "trigger_tests.rs"]
mod tests;
