//! [`SpotHttpClient`]: core's `Elastigroups` over Spot's REST API. Each call is one HTTP request with
//! its own timeout. The client repeats a request only when Spot surely did not act on it: a 429
//! (after at least `X-RateLimit-Reset`, if that is at most [`MAX_TRANSPORT_WAIT`]) or a connection that
//! was never made, within a budget of [`MAX_TRANSPORT_RETRIES`] retries
//! ([`greenfleet_core::failure::FailureKind::is_transport_retryable`]). Everything else (5xx, timeouts,
//! a longer rate-limit reset) goes back to the saga, whose attempts are the one durable retry layer:
//! it reads the group's state before repeating what may have taken effect.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use tracing::{debug, warn};

use greenfleet_core::cloud::{Capacity, GreenDeployment, GreenSpec, GroupInstance, GroupView, InstanceState};
use greenfleet_core::failure::{self, FailureKind, NoAnswer, Observed};
use greenfleet_core::ids::{ElastigroupId, GreenDeploymentId, InstanceId};
use greenfleet_core::ports::{Elastigroups, RemoteError};

use super::config::{SpotAccountId, SpotConfig, SpotToken};
use super::error::{self, Call, SpotSetupError};
use super::wire::{CapacityRequest, DetachRequest, Envelope, GreenItem, GreenRequest, GroupItem, InstanceItem};

/// Most retries after the first attempt, whatever `SpotConfig::max_retries` asks: the saga retries
/// the step later, with the message back on the queue, so a worker never holds a message through a
/// long series of HTTP attempts.
pub const MAX_TRANSPORT_RETRIES: usize = 2;
/// Longest wait between two attempts. A 429 whose `X-RateLimit-Reset` is longer goes back to the saga,
/// which waits at least that long (`RemoteError::Throttled::retry_after_ms`).
pub const MAX_TRANSPORT_WAIT: Duration = Duration::from_secs(5);

/// The Spot Elastigroup API over HTTPS. Build one per process and share it (behind an `Arc`): it pools
/// connections.
#[derive(Debug)]
pub struct SpotHttpClient {
    http: reqwest::Client,
    base_url: String,
    account_id: SpotAccountId,
    token: SpotToken,
    timeout_ms: u64,
    max_retries: usize,
    min_delay: Duration,
    draining_timeout_s: u32,
}

impl SpotHttpClient {
    /// Builds a client. Fails on an empty token, a base URL that is not http(s), a missing or malformed
    /// account (each with what to set), or a TLS setup error.
    pub fn new(config: SpotConfig) -> Result<Self, SpotSetupError> {
        if config.token.is_empty() {
            return Err(SpotSetupError::EmptyToken);
        }
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| SpotSetupError::BaseUrl { url: config.base_url.clone(), reason: e.to_string() })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SpotSetupError::BaseUrl {
                url: config.base_url,
                reason: format!("the scheme is `{}`; use https:// (or http:// for a local simulator)", parsed.scheme()),
            });
        }
        let account_id = SpotAccountId::parse(config.account_id.as_deref())?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .user_agent(concat!("greenfleet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SpotSetupError::Http(error::root_cause(&e)))?;
        Ok(Self {
            http,
            base_url,
            account_id,
            token: config.token,
            timeout_ms: config.timeout_ms,
            max_retries: config.max_retries,
            min_delay: Duration::from_millis(config.retry_min_delay_ms),
            draining_timeout_s: config.draining_timeout_s,
        })
    }

    /// Sends one call, retrying retryable failures as `replay` allows; returns the envelope's `items`
    /// and Spot's request id.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: Option<&impl Serialize>,
        replay: Replay,
    ) -> Result<Answered<T>, RemoteError> {
        let call = Call { method, path };
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| RemoteError::Rejected {
                code: "SERIALIZATION".to_owned(),
                message: format!("could not encode the body of {call}: {e}"),
            })?),
            None => None,
        };
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(MAX_TRANSPORT_WAIT)
            .with_max_times(self.max_retries.min(MAX_TRANSPORT_RETRIES));
        let result = (|| self.attempt::<T>(&call, body.as_deref()))
            .retry(backoff)
            .when(|f: &Failure| f.transport_retryable())
            .adjust(|f, next| {
                // Spot says retrying while blocked delays the reset: never come back before it.
                let reset = match &f.error {
                    RemoteError::Throttled { retry_after_ms: Some(ms), .. } => Duration::from_millis(*ms),
                    _ => Duration::ZERO,
                };
                next.map(|d| d.max(reset))
            })
            .notify(|f, wait| {
                warn!(call = %call, error = %f.error, retry_in_ms = wait.as_millis(), "Spot call failed; retrying");
            })
            .await;
        result.map_err(|f| match f.error {
            RemoteError::Unavailable(m) if f.maybe_applied && replay == Replay::IfNotApplied => {
                RemoteError::Unavailable(format!(
                    "{m}; the request may have taken effect, so read the group's state before repeating it"
                ))
            }
            other => other,
        })
    }

    /// One HTTP request.
    async fn attempt<T: DeserializeOwned>(&self, call: &Call, body: Option<&[u8]>) -> Result<Answered<T>, Failure> {
        let mut url = reqwest::Url::parse(&format!("{}{}", self.base_url, call.path))
            .map_err(|e| Failure::unsent(error::malformed(call, &format!("bad URL: {e}"), None)))?;
        url.query_pairs_mut().append_pair("accountId", self.account_id.as_str());
        // bearer_auth marks the header sensitive, so it is redacted from reqwest's Debug output too.
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .bearer_auth(self.token.expose())
            .header(CONTENT_TYPE, "application/json");
        if let Some(body) = body {
            request = request.body(body.to_vec());
        }
        let response = request.send().await.map_err(|e| {
            // A connection that was never made carried no request.
            let no_answer = if e.is_connect() { NoAnswer::Connect } else { NoAnswer::Interrupted };
            Failure {
                maybe_applied: !e.is_connect(),
                kind: failure::classify(Observed::NoAnswer(no_answer)),
                error: error::from_transport(call, self.timeout_ms, &e),
            }
        })?;
        let status = response.status();
        let reset = response.headers().get("x-ratelimit-reset").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = response.bytes().await.map_err(|e| Failure {
            maybe_applied: true,
            kind: FailureKind::Transient,
            error: error::from_transport(call, self.timeout_ms, &e),
        })?;
        let request_id = error::request_id(&bytes);
        let rid = request_id.as_deref().unwrap_or("-");
        debug!(call = %call, status = status.as_u16(), bytes = bytes.len(), request_id = rid, "Spot answered");
        if !status.is_success() {
            let (kind, error) = error::from_status(call, status.as_u16(), reset.as_deref(), &bytes);
            // A 429 is refused before Spot acts; a 5xx may come from a gateway after it acted.
            return Err(Failure { maybe_applied: status.is_server_error(), kind, error });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Answered { items: Vec::new(), request_id });
        }
        match serde_json::from_slice::<Envelope<T>>(&bytes) {
            Ok(e) => Ok(Answered { items: e.response.items, request_id }),
            Err(e) => Err(Failure::unsent(error::malformed(call, &e.to_string(), request_id.as_deref()))),
        }
    }
}

/// A successful answer: the envelope's `items`, and Spot's id for the request (for later errors).
#[derive(Debug)]
struct Answered<T> {
    items: Vec<T>,
    request_id: Option<String>,
}

/// Whether repeating a call whose effect is unknown is harmless. The transport repeats neither kind
/// then (the saga does); this only tells the error message whether to warn that it may have acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Reads and absolute writes (`PUT …/capacity`): repeating them changes nothing.
    Always,
    /// Starting a Blue/Green deployment, detaching, stopping: the caller reads the state before
    /// repeating one whose outcome is unknown, as the saga does (F11).
    IfNotApplied,
}

/// A failed attempt, what it means, and whether Spot may nevertheless have carried it out.
#[derive(Debug)]
struct Failure {
    error: RemoteError,
    kind: FailureKind,
    maybe_applied: bool,
}

impl Failure {
    /// A failure before anything was sent, or an answer that cannot be read: not worth repeating.
    fn unsent(error: RemoteError) -> Self {
        Self { error, kind: FailureKind::Invalid, maybe_applied: false }
    }

    /// Whether the transport may send it again now (see the module doc).
    fn transport_retryable(&self) -> bool {
        let wait = match &self.error {
            RemoteError::Throttled { retry_after_ms: Some(ms), .. } => Duration::from_millis(*ms),
            _ => Duration::ZERO,
        };
        self.kind.is_transport_retryable() && !self.maybe_applied && wait <= MAX_TRANSPORT_WAIT
    }
}

fn group_path(id: &ElastigroupId) -> String {
    format!("/aws/ec2/group/{id}")
}

fn green_path(id: &ElastigroupId) -> String {
    format!("/aws/ec2/group/{id}/codeDeploy/blueGreenDeployment")
}

/// `None` as a body, with a type serde can name.
const NO_BODY: Option<&()> = None;

#[async_trait]
impl Elastigroups for SpotHttpClient {
    async fn group(&self, id: &ElastigroupId) -> Result<GroupView, RemoteError> {
        let answer: Answered<GroupItem> = self.call(Method::GET, group_path(id), NO_BODY, Replay::Always).await?;
        let rid = error::cite(answer.request_id.as_deref());
        let item = answer.items.into_iter().next().ok_or_else(|| {
            RemoteError::NotFound(format!("Spot returned no Elastigroup {id}; check the id and SPOTINST_ACCOUNT{rid}"))
        })?;
        Ok(item.into_core(id))
    }

    async fn instances(&self, id: &ElastigroupId) -> Result<Vec<GroupInstance>, RemoteError> {
        let answer: Answered<InstanceItem> =
            self.call(Method::GET, format!("{}/status", group_path(id)), NO_BODY, Replay::Always).await?;
        Ok(answer.items.into_iter().filter_map(InstanceItem::into_core).collect())
    }

    async fn set_capacity(&self, id: &ElastigroupId, capacity: Capacity) -> Result<(), RemoteError> {
        let body = CapacityRequest { capacity: capacity.into() };
        let _: Answered<IgnoredAny> =
            self.call(Method::PUT, format!("{}/capacity", group_path(id)), Some(&body), Replay::Always).await?;
        Ok(())
    }

    async fn detach(&self, id: &ElastigroupId, instances: &[InstanceId]) -> Result<(), RemoteError> {
        if instances.is_empty() {
            return Ok(());
        }
        // Spot does not document what detaching an instance that is gone does; the port promises it is
        // not an error, so only instances still in the group (and not already leaving) are sent.
        let present: HashSet<InstanceId> = self
            .instances(id)
            .await?
            .into_iter()
            .filter(|i| i.state != InstanceState::Terminating)
            .map(|i| i.id)
            .collect();
        let to_detach: Vec<String> =
            instances.iter().filter(|i| present.contains(*i)).map(|i| i.as_str().to_owned()).collect();
        if to_detach.is_empty() {
            debug!(group = %id, "nothing to detach: every instance is already gone");
            return Ok(());
        }
        let body = DetachRequest {
            instances_to_detach: to_detach,
            should_terminate_instances: true,
            should_decrement_target_capacity: true,
            draining_timeout: self.draining_timeout_s,
        };
        let _: Answered<IgnoredAny> = self
            .call(Method::PUT, format!("{}/detachInstances", group_path(id)), Some(&body), Replay::IfNotApplied)
            .await?;
        Ok(())
    }

    async fn start_green(&self, id: &ElastigroupId, spec: &GreenSpec) -> Result<GreenDeployment, RemoteError> {
        let call = Call { method: Method::POST, path: green_path(id) };
        let answer: Answered<GreenItem> =
            self.call(Method::POST, green_path(id), Some(&GreenRequest::from(spec)), Replay::IfNotApplied).await?;
        let rid = answer.request_id.as_deref();
        let item =
            answer.items.into_iter().next().ok_or_else(|| error::malformed(&call, "no item in the response", rid))?;
        item.into_core().map_err(|why| error::malformed(&call, &why, rid))
    }

    async fn green(&self, id: &ElastigroupId) -> Result<Option<GreenDeployment>, RemoteError> {
        // What "no deployment" looks like is not documented: the definition lists only 200 and 400 for
        // this GET (spotinst/openapi `api/services/elastigroup/aws/paths/blueGreenDeployment.yaml`), and
        // neither it nor the SDKs name an error code for "none" (spotinst-sdk-python reads `items[0]`).
        // So only a 200 whose `items` are empty or null is "none". Every refusal stays an error whatever
        // its status: GROUP_DOESNT_EXIST is the group missing, and a 400 may as well be a bad request or
        // the wrong account, which compensation must never take for "nothing to stop".
        let call = Call { method: Method::GET, path: green_path(id) };
        let answer: Answered<GreenItem> = self.call(Method::GET, green_path(id), NO_BODY, Replay::Always).await?;
        let rid = answer.request_id.as_deref();
        answer
            .items
            .into_iter()
            .next()
            .map(|item| item.into_core().map_err(|why| error::malformed(&call, &why, rid)))
            .transpose()
    }

    async fn stop_green(&self, id: &ElastigroupId, deployment: &GreenDeploymentId) -> Result<(), RemoteError> {
        let path = format!("{}/{deployment}/stop", green_path(id));
        let _: Answered<IgnoredAny> = self.call(Method::PUT, path, NO_BODY, Replay::IfNotApplied).await?;
        Ok(())
    }
}
