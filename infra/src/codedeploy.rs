//! AWS CodeDeploy through the SDK, implementing core's `Deployments`: [`CodeDeploySdk`].
//!
//! The SDK repeats only throttled and unreached calls, within [`crate::aws::SDK_MAX_ATTEMPTS`] (a 5xx on
//! CreateDeployment is never repeated blindly: the saga looks the deployment up first, F11); what still
//! fails is sorted into `RemoteError` for the saga, whose attempts are the one retry layer. The translation
//! between SDK and core types lives in pure functions, tested without a network.

use async_trait::async_trait;
use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::config::http::HttpResponse;
use aws_sdk_codedeploy::config::retry::RetryConfig;
use aws_sdk_codedeploy::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codedeploy::primitives::DateTime;
use aws_sdk_codedeploy::types::{
    self as sdk, AutoRollbackConfiguration, DeploymentGroupInfo, DeploymentInfo, DeploymentReadyAction,
    DeploymentWaitType, Ec2TagFilter, Ec2TagFilterType, GitHubLocation, GreenFleetProvisioningAction, InstanceAction,
    RevisionLocation, RevisionLocationType, S3Location, TargetInstances, TimeRange,
};
use tracing::{debug, warn};

use greenfleet_core::cloud::{
    BlueAction, BlueSelector, DeploymentGroupRef, DeploymentGroupView, DeploymentSpec, DeploymentStatus,
    DeploymentType, DeploymentView, GreenProvisioning, InstanceCounts, ReadyAction, TagFilter,
};
use greenfleet_core::failure::{self, FailureKind, Observed};
use greenfleet_core::ids::{DeploymentId, Tag, Timestamp};
use greenfleet_core::ports::{Deployments, RemoteError};
use greenfleet_core::request::Revision;

/// `BatchGetDeployments` takes at most this many ids.
const BATCH: usize = 25;
/// ListDeployments pages read before a lookup gives up: a list bounded by `createTimeRange` to a
/// rollout's lifetime holds a handful of ids, so this only stops a service that never ends its list.
const MAX_PAGES: usize = 1_000;

/// CodeDeploy via `aws_sdk_codedeploy`. Cheap to clone (the SDK client is an `Arc` inside).
#[derive(Debug, Clone)]
pub struct CodeDeploySdk {
    client: Client,
}

impl CodeDeploySdk {
    /// Wraps a configured SDK client.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client from a loaded AWS configuration (which honours `AWS_ENDPOINT_URL_CODEDEPLOY`).
    #[must_use]
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::from_conf(
            aws_sdk_codedeploy::config::Builder::from(config).retry_classifier(crate::aws::transport_only()).build(),
        ))
    }

    /// Every deployment of `group` created at or after `created_after` (epoch 0: all), of any status.
    /// CodeDeploy documents no order for ListDeployments, so every page is read, following `nextToken`
    /// until an answer comes without one (botocore's paginator for the operation does the same).
    async fn deployment_ids_since(
        &self,
        group: &DeploymentGroupRef,
        created_after: Timestamp,
    ) -> Result<Vec<String>, RemoteError> {
        let range = (created_after.0 > 0).then(|| {
            let ms = i64::try_from(created_after.0).unwrap_or(i64::MAX);
            // Open at the end: a deployment created "later" than a skewed clock says is still found.
            TimeRange::builder().start(DateTime::from_millis(ms)).build()
        });
        let mut ids: Vec<String> = Vec::new();
        let mut next_token = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .client
                .list_deployments()
                .application_name(&group.application)
                .deployment_group_name(&group.deployment_group)
                .set_create_time_range(range.clone())
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| remote_error("ListDeployments", &group.to_string(), &e))?;
            for id in page.deployments() {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            next_token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if next_token.is_none() {
                return Ok(ids);
            }
        }
        Err(RemoteError::Rejected {
            code: "ListNeverEnds".to_owned(),
            message: format!(
                "CodeDeploy ListDeployments ({group}) still gave a nextToken after {MAX_PAGES} pages; \
                 check that AWS_ENDPOINT_URL_CODEDEPLOY (if set) points at CodeDeploy"
            ),
        })
    }
}

#[async_trait]
impl Deployments for CodeDeploySdk {
    async fn deployment_group(&self, group: &DeploymentGroupRef) -> Result<DeploymentGroupView, RemoteError> {
        let out = self
            .client
            .get_deployment_group()
            .application_name(&group.application)
            .deployment_group_name(&group.deployment_group)
            .send()
            .await
            .map_err(|e| remote_error("GetDeploymentGroup", &group.to_string(), &e))?;
        let info = out.deployment_group_info().ok_or_else(|| {
            RemoteError::NotFound(format!(
                "CodeDeploy returned no deployment group {group}; check the names and region"
            ))
        })?;
        Ok(deployment_group_view(group, info))
    }

    async fn create(&self, spec: &DeploymentSpec) -> Result<DeploymentId, RemoteError> {
        let out = self
            .client
            .create_deployment()
            .application_name(&spec.group.application)
            .deployment_group_name(&spec.group.deployment_group)
            .revision(revision_location(&spec.revision))
            .target_instances(target_instances(&spec.target_tags))
            .description(&spec.description)
            // greenfleet compensates failures itself; CodeDeploy's rollback would start a second deployment.
            .auto_rollback_configuration(AutoRollbackConfiguration::builder().enabled(false).build())
            // Sent once, whatever failed (F11): CreateDeployment takes no idempotency token, and a
            // connection reset after the request went out looks to the SDK like one that never
            // connected. Only the saga repeats it, after `find` has looked for the first one.
            .customize()
            .config_override(aws_sdk_codedeploy::Config::builder().retry_config(RetryConfig::disabled()))
            .send()
            .await
            .map_err(|e| remote_error("CreateDeployment", &spec.group.to_string(), &e))?;
        let raw = out.deployment_id().unwrap_or_default();
        parse_deployment_id(raw, "CreateDeployment")
    }

    async fn find(
        &self,
        group: &DeploymentGroupRef,
        description: &str,
        created_after: Timestamp,
    ) -> Result<Option<DeploymentId>, RemoteError> {
        let ids = self.deployment_ids_since(group, created_after).await?;
        let mut matches = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let out = self
                .client
                .batch_get_deployments()
                .set_deployment_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| remote_error("BatchGetDeployments", &group.to_string(), &e))?;
            matches.extend(out.deployments_info().iter().filter(|d| d.description() == Some(description)).cloned());
        }
        let Some(found) = latest_created(&matches) else { return Ok(None) };
        if matches.len() > 1 {
            let all: Vec<&str> = matches.iter().filter_map(DeploymentInfo::deployment_id).collect();
            warn!(group = %group, description, deployments = ?all, chosen = found,
                "several CodeDeploy deployments carry this rollout's description; following the latest created");
        }
        parse_deployment_id(found, "BatchGetDeployments").map(Some)
    }

    async fn get(&self, id: &DeploymentId) -> Result<DeploymentView, RemoteError> {
        let out = self
            .client
            .get_deployment()
            .deployment_id(id.as_str())
            .send()
            .await
            .map_err(|e| remote_error("GetDeployment", id.as_str(), &e))?;
        let info = out
            .deployment_info()
            .ok_or_else(|| RemoteError::NotFound(format!("CodeDeploy returned no deployment {id}")))?;
        Ok(deployment_view(id, info))
    }

    async fn continue_deployment(&self, id: &DeploymentId) -> Result<(), RemoteError> {
        self.client
            .continue_deployment()
            .deployment_id(id.as_str())
            .deployment_wait_type(DeploymentWaitType::ReadyWait)
            .send()
            .await
            .map_err(|e| remote_error("ContinueDeployment", id.as_str(), &e))?;
        Ok(())
    }

    async fn point_blue(&self, group: &DeploymentGroupRef, blue: &BlueSelector) -> Result<(), RemoteError> {
        let update = self
            .client
            .update_deployment_group()
            .application_name(&group.application)
            .current_deployment_group_name(&group.deployment_group);
        // Only the form in use is sent: both at once is InvalidEC2TagCombinationException.
        let update = match blue {
            BlueSelector::Filters(f) => update.set_ec2_tag_filters(Some(sdk_filters(f))),
            BlueSelector::TagSet(sets) => update.ec2_tag_set(
                sdk::Ec2TagSet::builder()
                    .set_ec2_tag_set_list(Some(sets.iter().map(|s| sdk_filters(s)).collect()))
                    .build(),
            ),
        };
        update.send().await.map_err(|e| remote_error("UpdateDeploymentGroup", &group.to_string(), &e))?;
        Ok(())
    }

    async fn stop(&self, id: &DeploymentId, rollback: bool) -> Result<(), RemoteError> {
        let out = self
            .client
            .stop_deployment()
            .deployment_id(id.as_str())
            .auto_rollback_enabled(rollback)
            .send()
            .await
            .map_err(|e| remote_error("StopDeployment", id.as_str(), &e))?;
        debug!(deployment = %id, status = ?out.status(), message = ?out.status_message(), "StopDeployment answered");
        Ok(())
    }
}

fn parse_deployment_id(raw: &str, op: &str) -> Result<DeploymentId, RemoteError> {
    DeploymentId::parse(raw).map_err(|e| RemoteError::Rejected {
        code: "MalformedDeploymentId".to_owned(),
        message: format!("CodeDeploy {op} returned deployment id `{raw}` that greenfleet cannot use: {e}"),
    })
}

/// The id of the latest created of `infos`; equal (or missing) create times are broken by the id, so
/// every worker picks the same one.
fn latest_created(infos: &[DeploymentInfo]) -> Option<&str> {
    infos
        .iter()
        .filter_map(|d| d.deployment_id().map(|id| (d.create_time().copied(), id)))
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, id)| id)
}

/// `GetDeploymentGroup`'s answer as core sees it.
pub(crate) fn deployment_group_view(name: &DeploymentGroupRef, info: &DeploymentGroupInfo) -> DeploymentGroupView {
    let deployment_type = match info.deployment_style().and_then(sdk::DeploymentStyle::deployment_type) {
        Some(sdk::DeploymentType::BlueGreen) => DeploymentType::BlueGreen,
        // IN_PLACE is CodeDeploy's default when no style is set.
        _ => DeploymentType::InPlace,
    };
    let bg = info.blue_green_deployment_configuration();
    let green_provisioning = match bg
        .and_then(|b| b.green_fleet_provisioning_option())
        .and_then(sdk::GreenFleetProvisioningOption::action)
    {
        Some(GreenFleetProvisioningAction::DiscoverExisting) => Some(GreenProvisioning::DiscoverExisting),
        Some(GreenFleetProvisioningAction::CopyAutoScalingGroup) => Some(GreenProvisioning::CopyAutoScalingGroup),
        _ => None,
    };
    let blue_action = match bg
        .and_then(|b| b.terminate_blue_instances_on_deployment_success())
        .and_then(sdk::BlueInstanceTerminationOption::action)
    {
        Some(InstanceAction::Terminate) => Some(BlueAction::Terminate),
        Some(InstanceAction::KeepAlive) => Some(BlueAction::KeepAlive),
        _ => None,
    };
    let ready_action =
        match bg.and_then(|b| b.deployment_ready_option()).and_then(sdk::DeploymentReadyOption::action_on_timeout) {
            Some(DeploymentReadyAction::ContinueDeployment) => Some(ReadyAction::ContinueDeployment),
            Some(DeploymentReadyAction::StopDeployment) => Some(ReadyAction::StopDeployment),
            _ => None,
        };
    let filters = |list: &[Ec2TagFilter]| list.iter().filter_map(|f| tag_filter(name, f)).collect::<Vec<_>>();
    // CodeDeploy keeps one form or the other: a group defined with a tag set has no filters.
    let blue = match info.ec2_tag_set().map(sdk::Ec2TagSet::ec2_tag_set_list).filter(|sets| !sets.is_empty()) {
        Some(sets) => BlueSelector::TagSet(sets.iter().map(|set| filters(set)).collect()),
        None => BlueSelector::Filters(filters(info.ec2_tag_filters())),
    };
    let load_balancer = info.load_balancer_info().is_some_and(|lb| {
        !lb.elb_info_list().is_empty()
            || !lb.target_group_info_list().is_empty()
            || !lb.target_group_pair_info_list().is_empty()
    });
    DeploymentGroupView {
        name: name.clone(),
        deployment_type,
        green_provisioning,
        blue_action,
        ready_action,
        blue,
        load_balancer,
    }
}

/// The `EC2TagFilter`s of a selector's filters (or of one of its sets).
fn sdk_filters(filters: &[TagFilter]) -> Vec<Ec2TagFilter> {
    filters
        .iter()
        .map(|f| {
            if f.key_only {
                Ec2TagFilter::builder().key(&f.key).r#type(Ec2TagFilterType::KeyOnly).build()
            } else {
                Ec2TagFilter::builder().key(&f.key).value(&f.value).r#type(Ec2TagFilterType::KeyAndValue).build()
            }
        })
        .collect()
}

fn tag_filter(group: &DeploymentGroupRef, f: &Ec2TagFilter) -> Option<TagFilter> {
    let key = f.key().unwrap_or_default().to_owned();
    let value = f.value().unwrap_or_default().to_owned();
    match f.r#type() {
        Some(Ec2TagFilterType::KeyOnly) => Some(TagFilter { key, value: String::new(), key_only: true }),
        // A filter without a type but with key and value behaves as KEY_AND_VALUE.
        Some(Ec2TagFilterType::KeyAndValue) | None if !key.is_empty() => {
            Some(TagFilter { key, value, key_only: false })
        }
        other => {
            // core's TagFilter has no VALUE_ONLY form; the preflight rules cannot check such a filter.
            warn!(group = %group, filter_type = ?other, key, value, "ignoring an EC2 tag filter greenfleet cannot represent");
            None
        }
    }
}

/// `GetDeployment`'s answer as core sees it.
pub(crate) fn deployment_view(id: &DeploymentId, info: &DeploymentInfo) -> DeploymentView {
    let status = info
        .status()
        .map_or_else(|| DeploymentStatus::Other("(no status)".to_owned()), |s| DeploymentStatus::parse(s.as_str()));
    let error = info.error_information().and_then(|e| {
        let code = e.code().map(|c| c.as_str().to_owned()).unwrap_or_default();
        let message = e.message().unwrap_or_default().to_owned();
        (!code.is_empty() || !message.is_empty()).then_some((code, message))
    });
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    let overview = info.deployment_overview().map_or_else(InstanceCounts::default, |o| InstanceCounts {
        pending: count(o.pending()),
        in_progress: count(o.in_progress()),
        succeeded: count(o.succeeded()),
        failed: count(o.failed()),
        ready: count(o.ready()),
    });
    // A rollback deployment id greenfleet cannot parse is logged and ignored: nothing to follow.
    let rollback = info.rollback_info().and_then(sdk::RollbackInfo::rollback_deployment_id).and_then(|raw| {
        DeploymentId::parse(raw)
            .map_err(|e| warn!(deployment = %id, rollback = raw, error = %e, "unusable rollback deployment id"))
            .ok()
    });
    DeploymentView { id: id.clone(), status, error, overview, rollback }
}

/// core's revision as CodeDeploy's `RevisionLocation`.
pub(crate) fn revision_location(revision: &Revision) -> RevisionLocation {
    match revision {
        Revision::S3(s3) => RevisionLocation::builder()
            .revision_type(RevisionLocationType::S3)
            .s3_location(
                S3Location::builder()
                    .bucket(&s3.bucket)
                    .key(&s3.key)
                    .bundle_type(sdk::BundleType::from(s3.bundle_type.as_str()))
                    .set_version(s3.version.clone())
                    .set_e_tag(s3.e_tag.clone())
                    .build(),
            )
            .build(),
        Revision::GitHub(gh) => RevisionLocation::builder()
            .revision_type(RevisionLocationType::GitHub)
            .git_hub_location(GitHubLocation::builder().repository(&gh.repository).commit_id(&gh.commit_id).build())
            .build(),
    }
}

/// Green instances: those carrying *any* of `tags` (CodeDeploy ORs the filters of one list; greenfleet
/// passes only the unique rollout tag).
pub(crate) fn target_instances(tags: &[Tag]) -> TargetInstances {
    let filters = tags
        .iter()
        .map(|t| Ec2TagFilter::builder().key(&t.key).value(&t.value).r#type(Ec2TagFilterType::KeyAndValue).build())
        .collect();
    TargetInstances::builder().set_tag_filters(Some(filters)).build()
}

/// Sorts a CodeDeploy (or EC2) service error by what the caller should do, through core's one
/// classification ([`greenfleet_core::failure`]); `context` names the call.
pub(crate) fn classify(status: u16, code: Option<&str>, message: Option<&str>, context: &str) -> RemoteError {
    let kind = failure::classify(Observed::Answered { status, code });
    let code = code.unwrap_or_default();
    let said = match (code, message.unwrap_or_default()) {
        ("", "") => format!("HTTP {status}"),
        ("", m) | (m, "") => m.to_owned(),
        (c, m) => format!("{c}: {m}"),
    };
    let hint = match kind {
        FailureKind::Throttled => {
            return RemoteError::Throttled { message: format!("{context}: {said}"), retry_after_ms: None };
        }
        FailureKind::NotFound => {
            return RemoteError::NotFound(format!("{context}: {said}; check the names, the account and the region"));
        }
        FailureKind::Transient | FailureKind::EndpointUnreachable => {
            return RemoteError::Unavailable(format!("{context}: {said}"));
        }
        FailureKind::AccessDenied | FailureKind::NoCredentials | FailureKind::NoRegion => {
            "; check the AWS credentials and that their policy allows this CodeDeploy action"
        }
        FailureKind::Invalid | FailureKind::Conflict if code == "DeploymentLimitExceededException" => {
            "; another deployment of this group is running: wait for it to end or stop it"
        }
        FailureKind::Invalid | FailureKind::Conflict => "",
    };
    let message = format!("{context}: {}{hint}", message.filter(|m| !m.is_empty()).unwrap_or(&said));
    RemoteError::Rejected { code: if code.is_empty() { format!("HTTP_{status}") } else { code.to_owned() }, message }
}

/// A call without a usable answer as a `RemoteError`: unreached endpoints, timeouts and unreadable
/// answers are retried by the saga; missing credentials, region or a request that cannot be built are
/// not (they need a person), each with what to do.
pub(crate) fn no_answer(context: &str, kind: FailureKind, full: &str) -> RemoteError {
    match kind {
        FailureKind::Throttled | FailureKind::Transient | FailureKind::EndpointUnreachable => {
            RemoteError::Unavailable(format!("{context} got no answer: {full}"))
        }
        FailureKind::NotFound => RemoteError::NotFound(format!("{context}: {full}")),
        FailureKind::NoCredentials | FailureKind::NoRegion | FailureKind::AccessDenied => RemoteError::Rejected {
            code: format!("{kind:?}"),
            message: format!("{context}: {full}; {}", kind.advice()),
        },
        FailureKind::Invalid | FailureKind::Conflict => RemoteError::Rejected {
            code: "RequestConstructionFailed".to_owned(),
            message: format!("{context} could not be built: {full}; check the AWS region and configuration"),
        },
    }
}

/// Any SDK failure as a `RemoteError`, logged with its full cause chain.
fn remote_error<E>(op: &str, subject: &str, err: &SdkError<E, HttpResponse>) -> RemoteError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = format!("CodeDeploy {op} ({subject})");
    let full = crate::aws::cause_chain(err);
    let mapped = match err {
        SdkError::ServiceError(e) => classify(e.raw().status().as_u16(), e.err().code(), e.err().message(), &context),
        _ => no_answer(&context, crate::aws::classify(err).kind, &full),
    };
    if matches!(mapped, RemoteError::NotFound(_)) {
        debug!(operation = op, subject, error = %full, "CodeDeploy: not found");
    } else {
        warn!(operation = op, subject, error = %full, "CodeDeploy call failed");
    }
    mapped
}

#[cfg(test)]
mod find_tests;

#[cfg(test)]
mod retry_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use aws_sdk_codedeploy::error::ConnectorError;
    use aws_sdk_codedeploy::operation::get_deployment::GetDeploymentError;
    use aws_sdk_codedeploy::primitives::DateTime;
    use aws_sdk_codedeploy::types::{
        BlueGreenDeploymentConfiguration, BlueInstanceTerminationOption, DeploymentOverview, DeploymentReadyOption,
        DeploymentStyle, ErrorCode, ErrorInformation, GreenFleetProvisioningOption,
    };
    use greenfleet_core::request::{BundleType, GitHubRevision, S3Revision};

    use super::*;

    fn dg() -> DeploymentGroupRef {
        DeploymentGroupRef { application: "web-app".into(), deployment_group: "web-bg".into() }
    }

    fn filter(key: &str, value: &str, ty: Ec2TagFilterType) -> Ec2TagFilter {
        Ec2TagFilter::builder().key(key).value(value).r#type(ty).build()
    }

    #[test]
    fn a_blue_green_group_maps_every_setting() {
        let info = DeploymentGroupInfo::builder()
            .application_name("web-app")
            .deployment_group_name("web-bg")
            .deployment_style(
                DeploymentStyle::builder()
                    .deployment_type(sdk::DeploymentType::BlueGreen)
                    .deployment_option(sdk::DeploymentOption::WithTrafficControl)
                    .build(),
            )
            .blue_green_deployment_configuration(
                BlueGreenDeploymentConfiguration::builder()
                    .green_fleet_provisioning_option(
                        GreenFleetProvisioningOption::builder()
                            .action(GreenFleetProvisioningAction::DiscoverExisting)
                            .build(),
                    )
                    .terminate_blue_instances_on_deployment_success(
                        BlueInstanceTerminationOption::builder().action(InstanceAction::KeepAlive).build(),
                    )
                    .deployment_ready_option(
                        DeploymentReadyOption::builder()
                            .action_on_timeout(DeploymentReadyAction::StopDeployment)
                            .wait_time_in_minutes(60)
                            .build(),
                    )
                    .build(),
            )
            .ec2_tag_filters(filter("color", "blue", Ec2TagFilterType::KeyAndValue))
            .ec2_tag_filters(filter("fleet", "", Ec2TagFilterType::KeyOnly))
            .ec2_tag_filters(filter("", "orphan", Ec2TagFilterType::ValueOnly))
            .build();
        let view = deployment_group_view(&dg(), &info);
        assert_eq!(view.name, dg());
        assert_eq!(view.deployment_type, DeploymentType::BlueGreen);
        assert_eq!(view.green_provisioning, Some(GreenProvisioning::DiscoverExisting));
        assert_eq!(view.blue_action, Some(BlueAction::KeepAlive));
        assert_eq!(view.ready_action, Some(ReadyAction::StopDeployment));
        assert_eq!(
            view.blue,
            BlueSelector::Filters(vec![
                TagFilter { key: "color".into(), value: "blue".into(), key_only: false },
                TagFilter { key: "fleet".into(), value: String::new(), key_only: true },
            ])
        );
        assert!(!view.load_balancer, "no loadBalancerInfo: preflight's F1 refuses it");
    }

    #[test]
    fn a_group_with_a_tag_set_and_a_target_group_is_read_as_such() {
        let set = |k: &str, v: &str| vec![filter(k, v, Ec2TagFilterType::KeyAndValue)];
        let info = DeploymentGroupInfo::builder()
            .ec2_tag_set(
                sdk::Ec2TagSet::builder()
                    .ec2_tag_set_list(set("Name", "web"))
                    .ec2_tag_set_list(set("fleet", "blue"))
                    .build(),
            )
            .load_balancer_info(
                sdk::LoadBalancerInfo::builder()
                    .target_group_info_list(sdk::TargetGroupInfo::builder().name("web-tg").build())
                    .build(),
            )
            .build();
        let view = deployment_group_view(&dg(), &info);
        let f = |k: &str, v: &str| vec![TagFilter { key: k.into(), value: v.into(), key_only: false }];
        assert_eq!(view.blue, BlueSelector::TagSet(vec![f("Name", "web"), f("fleet", "blue")]));
        assert!(view.load_balancer);
        assert_eq!(view.blue.to_string(), "(Name=web) and (fleet=blue)");
    }

    #[test]
    fn a_bare_group_is_in_place_without_blue_green_settings() {
        let view = deployment_group_view(&dg(), &DeploymentGroupInfo::builder().build());
        assert_eq!(view.deployment_type, DeploymentType::InPlace);
        assert_eq!((view.green_provisioning, view.blue_action, view.ready_action), (None, None, None));
        assert!(view.blue.is_empty());
    }

    #[test]
    fn a_deployment_maps_status_error_and_counts() {
        let id = DeploymentId::parse("d-ABCDEF123").unwrap();
        let info = DeploymentInfo::builder()
            .deployment_id("d-ABCDEF123")
            .status(sdk::DeploymentStatus::Failed)
            .error_information(
                ErrorInformation::builder().code(ErrorCode::NoInstances).message("no instances matched").build(),
            )
            .deployment_overview(
                DeploymentOverview::builder().pending(1).in_progress(2).succeeded(3).failed(4).ready(5).build(),
            )
            .build();
        let view = deployment_view(&id, &info);
        assert_eq!(view.status, DeploymentStatus::Failed);
        assert_eq!(view.error, Some(("NO_INSTANCES".to_owned(), "no instances matched".to_owned())));
        assert_eq!(view.overview, InstanceCounts { pending: 1, in_progress: 2, succeeded: 3, failed: 4, ready: 5 });

        let ready = DeploymentInfo::builder().status(sdk::DeploymentStatus::Ready).build();
        let view = deployment_view(&id, &ready);
        assert_eq!(
            (view.status, view.error, view.overview),
            (DeploymentStatus::Ready, None, InstanceCounts::default())
        );
    }

    #[test]
    fn revisions_and_targets_are_built_as_codedeploy_expects() {
        let s3 = revision_location(&Revision::S3(S3Revision {
            bucket: "bundles".into(),
            key: "web/1.2.3.zip".into(),
            bundle_type: BundleType::Zip,
            version: Some("v7".into()),
            e_tag: None,
        }));
        assert_eq!(s3.revision_type(), Some(&RevisionLocationType::S3));
        let loc = s3.s3_location().unwrap();
        assert_eq!(
            (loc.bucket(), loc.key(), loc.version(), loc.e_tag()),
            (Some("bundles"), Some("web/1.2.3.zip"), Some("v7"), None)
        );
        assert_eq!(loc.bundle_type(), Some(&sdk::BundleType::Zip));
        let yaml = revision_location(&Revision::S3(S3Revision {
            bucket: "b".into(),
            key: "k".into(),
            bundle_type: BundleType::Yaml,
            version: None,
            e_tag: Some("etag".into()),
        }));
        assert_eq!(yaml.s3_location().unwrap().bundle_type(), Some(&sdk::BundleType::Yaml));

        let gh = revision_location(&Revision::GitHub(GitHubRevision {
            repository: "acme/web".into(),
            commit_id: "abc123".into(),
        }));
        assert_eq!(gh.revision_type(), Some(&RevisionLocationType::GitHub));
        let loc = gh.git_hub_location().unwrap();
        assert_eq!((loc.repository(), loc.commit_id()), (Some("acme/web"), Some("abc123")));

        let targets =
            target_instances(&[Tag::new("greenfleet:rollout", "r-1").unwrap(), Tag::new("color", "green").unwrap()]);
        let filters: Vec<_> =
            targets.tag_filters().iter().map(|f| (f.key().unwrap(), f.value().unwrap(), f.r#type().cloned())).collect();
        assert_eq!(
            filters,
            vec![
                ("greenfleet:rollout", "r-1", Some(Ec2TagFilterType::KeyAndValue)),
                ("color", "green", Some(Ec2TagFilterType::KeyAndValue)),
            ]
        );
    }

    #[test]
    fn the_latest_created_match_wins_and_ties_break_on_the_id() {
        let d = |id: &str, secs: Option<i64>| {
            DeploymentInfo::builder()
                .deployment_id(id)
                .description("greenfleet rollout r-1")
                .set_create_time(secs.map(DateTime::from_secs))
                .build()
        };
        assert_eq!(latest_created(&[d("d-OLD", Some(100)), d("d-NEW", Some(200)), d("d-NONE", None)]), Some("d-NEW"));
        assert_eq!(latest_created(&[d("d-B", Some(100)), d("d-A", Some(100))]), Some("d-B"));
        assert_eq!(latest_created(&[d("d-A", Some(100)), d("d-B", Some(100))]), Some("d-B"));
        assert_eq!(latest_created(&[]), None);
        assert!(
            parse_deployment_id("8f0c2f8e-uuid", "CreateDeployment").unwrap_err().to_string().contains("cannot use")
        );
    }

    #[test]
    fn service_errors_are_sorted_by_what_to_do() {
        let ctx = "CodeDeploy CreateDeployment (web-app/web-bg)";
        let e = classify(400, Some("DeploymentLimitExceededException"), Some("limit"), ctx);
        assert!(
            matches!(&e, RemoteError::Rejected { code, message } if code == "DeploymentLimitExceededException" && message.contains("wait for it")),
            "{e:?}"
        );
        let e = classify(400, Some("DeploymentGroupDoesNotExistException"), Some("No Deployment Group found"), ctx);
        assert!(matches!(&e, RemoteError::NotFound(m) if m.contains("No Deployment Group found")), "{e:?}");
        assert!(matches!(classify(400, Some("ThrottlingException"), None, ctx), RemoteError::Throttled { .. }));
        assert!(matches!(classify(429, None, None, ctx), RemoteError::Throttled { .. }));
        assert!(matches!(classify(503, Some("ServiceUnavailable"), None, ctx), RemoteError::Unavailable(_)));
        assert!(matches!(classify(500, None, None, ctx), RemoteError::Unavailable(m) if m.contains("HTTP 500")));
        let e = classify(400, Some("AccessDeniedException"), Some("not authorized"), ctx);
        assert!(e.to_string().contains("check the AWS credentials"), "{e}");
        assert!(!e.is_retryable());
    }

    #[test]
    fn transport_failures_are_retryable() {
        let timeout: SdkError<GetDeploymentError, HttpResponse> = SdkError::timeout_error("read timed out");
        assert!(
            matches!(remote_error("GetDeployment", "d-1", &timeout), RemoteError::Unavailable(m) if m.contains("timed out"))
        );
        let refused: SdkError<GetDeploymentError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        let e = remote_error("GetDeployment", "d-1", &refused);
        assert!(matches!(&e, RemoteError::Unavailable(m) if m.contains("connection refused")), "{e:?}");
        let built: SdkError<GetDeploymentError, HttpResponse> = SdkError::construction_failure("no region");
        assert!(matches!(remote_error("GetDeployment", "d-1", &built), RemoteError::Rejected { .. }));
    }
}
