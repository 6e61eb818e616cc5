//! CodeDeploy state-change events as the EventBridge envelopes AWS delivers to SQS (codedeploy.md §A),
//! minted deterministically (ids from a counter, time from the model clock) and passed through the
//! event faults (lost, duplicated) on their way to [`crate::Cloud::drain_events`].

use greenfleet_core::cloud::{DeploymentGroupRef, EventState};
use greenfleet_core::ids::{DeploymentId, InstanceId, Timestamp};

use crate::model::Model;

/// Account every simulated ARN and envelope names.
pub const ACCOUNT: &str = "123456789012";
/// Region of the simulated cloud.
pub const REGION: &str = "us-east-1";
/// `detail-type` of deployment events.
pub const DEPLOYMENT_DETAIL_TYPE: &str = "CodeDeploy Deployment State-change Notification";
/// `detail-type` of instance events.
pub const INSTANCE_DETAIL_TYPE: &str = "CodeDeploy Instance State-change Notification";

/// A UUID-shaped (version 4 layout) identifier derived from `seed`, so runs are reproducible.
pub(crate) fn uuid_from(seed: u64) -> String {
    // splitmix64: consecutive seeds give unrelated-looking, still unique, ids.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = mix(seed.wrapping_add(0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((seed >> 48) & 0x3fff),
        seed & 0xffff_ffff_ffff
    )
}

/// `2016-06-30T22:06:31Z`: RFC 3339 in UTC at second precision, as EventBridge writes `time`.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    let secs = t.0 / 1_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}

/// `2018-06-20T11:35:01.745Z`: RFC 3339 in UTC at millisecond precision, as Spot writes timestamps.
pub(crate) fn rfc3339_millis(t: Timestamp) -> String {
    let seconds = rfc3339(t);
    let stem = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{stem}.{:03}Z", t.0 % 1_000)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// What an event is about.
struct Subject<'a> {
    group: &'a DeploymentGroupRef,
    deployment: &'a DeploymentId,
    instance_group_id: &'a str,
}

/// Appends `s` as the inside of a JSON string, escaped exactly as `serde_json` escapes it.
fn push_escaped(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push_str(s);
    } else {
        // A `&str` always serialises; the quotes serde_json adds are trimmed.
        let quoted = serde_json::to_string(s).unwrap_or_default();
        out.push_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default());
    }
}

/// Appends `"key":"value"` (the value escaped) and a comma unless it is the object's last member.
fn push_member(out: &mut String, key: &str, value: &str, last: bool) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":\"");
    push_escaped(out, value);
    out.push_str(if last { "\"" } else { "\"," });
}

/// The envelope JSON, written straight into one buffer (no `serde_json::Value` tree, no map of
/// owned keys): the same bytes a `Value` object prints, keys in sorted order and compact.
fn envelope(
    id: &str,
    time: Timestamp,
    subject: &Subject<'_>,
    state: &EventState,
    instance: Option<&InstanceId>,
) -> String {
    let group = subject.group;
    let mut out = String::with_capacity(768);
    out.push('{');
    push_member(&mut out, "account", ACCOUNT, false);
    out.push_str("\"detail\":{");
    push_member(&mut out, "application", &group.application, false);
    push_member(&mut out, "deploymentGroup", &group.deployment_group, false);
    push_member(&mut out, "deploymentId", subject.deployment.as_str(), false);
    push_member(&mut out, "instanceGroupId", subject.instance_group_id, false);
    if let Some(i) = instance {
        push_member(&mut out, "instanceId", i.as_str(), false);
    }
    push_member(&mut out, "region", REGION, false);
    push_member(&mut out, "state", state.as_str(), true);
    out.push_str("},");
    let detail_type = if instance.is_some() { INSTANCE_DETAIL_TYPE } else { DEPLOYMENT_DETAIL_TYPE };
    push_member(&mut out, "detail-type", detail_type, false);
    push_member(&mut out, "id", id, false);
    push_member(&mut out, "region", REGION, false);
    out.push_str("\"resources\":[");
    let application_arn = |out: &mut String| {
        out.push_str("\"arn:aws:codedeploy:");
        out.push_str(REGION);
        out.push(':');
        out.push_str(ACCOUNT);
        out.push_str(":application:");
        push_escaped(out, &group.application);
        out.push('"');
    };
    let deployment_group_arn = |out: &mut String| {
        out.push_str("\"arn:aws:codedeploy:");
        out.push_str(REGION);
        out.push(':');
        out.push_str(ACCOUNT);
        out.push_str(":deploymentgroup:");
        push_escaped(out, &group.application);
        out.push('/');
        push_escaped(out, &group.deployment_group);
        out.push('"');
    };
    match instance {
        Some(i) => {
            out.push_str("\"arn:aws:ec2:");
            out.push_str(REGION);
            out.push(':');
            out.push_str(ACCOUNT);
            out.push_str(":instance/");
            push_escaped(&mut out, i.as_str());
            out.push_str("\",");
            deployment_group_arn(&mut out);
            out.push(',');
            application_arn(&mut out);
        }
        None => {
            application_arn(&mut out);
            out.push(',');
            deployment_group_arn(&mut out);
        }
    }
    out.push_str("],");
    push_member(&mut out, "source", "aws.codedeploy", false);
    push_member(&mut out, "time", &rfc3339(time), false);
    push_member(&mut out, "version", "0", true);
    out.push('}');
    out
}

impl Model {
    /// Publishes one event about deployment `idx` at model time, unless an event fault loses it.
    pub(crate) fn emit(&mut self, idx: usize, state: &EventState, instance: Option<&InstanceId>) {
        self.event_counter += 1;
        let faults = &mut self.faults;
        if faults.drop_all_events {
            return;
        }
        if faults.drop_next_events > 0 {
            faults.drop_next_events -= 1;
            return;
        }
        let id = uuid_from(self.event_counter);
        let d = &self.deployments[idx];
        let subject = Subject { group: &d.group, deployment: &d.id, instance_group_id: &d.instance_group_id };
        let body = envelope(&id, self.now, &subject, state, instance);
        if self.faults.duplicate_next_events > 0 {
            self.faults.duplicate_next_events -= 1;
            self.events.push(body.clone());
        }
        self.events.push(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(Timestamp(1_467_324_391_000)), "2016-06-30T22:06:31Z");
        assert_eq!(rfc3339(Timestamp(951_782_400_999)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(Timestamp(1_767_225_599_000)), "2025-12-31T23:59:59Z");
        assert_eq!(rfc3339_millis(Timestamp(1_529_494_501_745)), "2018-06-20T11:35:01.745Z");
    }

    fn application_arn(group: &DeploymentGroupRef) -> String {
        format!("arn:aws:codedeploy:{REGION}:{ACCOUNT}:application:{}", group.application)
    }

    fn deployment_group_arn(group: &DeploymentGroupRef) -> String {
        format!(
            "arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:{}/{}",
            group.application, group.deployment_group
        )
    }

    /// The envelope as a `serde_json::Value` object prints it: what `envelope` must write byte for byte.
    fn envelope_via_value(
        id: &str,
        time: Timestamp,
        subject: &Subject<'_>,
        state: &EventState,
        instance: Option<&InstanceId>,
    ) -> String {
        let mut detail = serde_json::json!({
            "instanceGroupId": subject.instance_group_id,
            "region": REGION,
            "application": subject.group.application,
            "deploymentId": subject.deployment.as_str(),
            "state": state.as_str(),
            "deploymentGroup": subject.group.deployment_group,
        });
        let (detail_type, resources) = match instance {
            Some(i) => {
                detail["instanceId"] = serde_json::json!(i.as_str());
                (
                    INSTANCE_DETAIL_TYPE,
                    vec![
                        format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{i}"),
                        deployment_group_arn(subject.group),
                        application_arn(subject.group),
                    ],
                )
            }
            None => (DEPLOYMENT_DETAIL_TYPE, vec![application_arn(subject.group), deployment_group_arn(subject.group)]),
        };
        serde_json::json!({
            "version": "0", "id": id, "detail-type": detail_type, "source": "aws.codedeploy", "account": ACCOUNT,
            "time": rfc3339(time), "region": REGION, "resources": resources, "detail": detail,
        })
        .to_string()
    }

    #[test]
    fn envelopes_match_the_json_value_rendering_and_decode() {
        let group = DeploymentGroupRef { application: "shop \"web\"".into(), deployment_group: "dg\\1\t".into() };
        let deployment = DeploymentId::parse("d-ABCDEFGH1").unwrap();
        let subject = Subject { group: &group, deployment: &deployment, instance_group_id: "ig-\u{e9}" };
        let instance = InstanceId::parse("i-0123456789abcdef0").unwrap();
        let time = Timestamp(1_467_324_391_000);
        for state in [EventState::Start, EventState::Ready, EventState::Unknown("ODD\n".into())] {
            for inst in [None, Some(&instance)] {
                let body = envelope("c071-id", time, &subject, &state, inst);
                assert_eq!(body, envelope_via_value("c071-id", time, &subject, &state, inst));
                let decoded = greenfleet_core::codedeploy_event::decode(body.as_bytes()).unwrap();
                let greenfleet_core::codedeploy_event::QueuedEvent::CodeDeploy { event, application, .. } = decoded
                else {
                    panic!("not a CodeDeploy event: {body}")
                };
                assert_eq!(
                    (event.state, event.instance.as_ref(), application.as_str()),
                    (state.clone(), inst, "shop \"web\"")
                );
            }
        }
    }

    #[test]
    fn uuids_are_unique_and_shaped() {
        let a = uuid_from(1);
        let b = uuid_from(2);
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(&a[14..15], "4");
    }
}
