//! The client against a scripted axum server on 127.0.0.1, port 0: request shapes, retries, errors,
//! and the token staying secret.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use greenfleet_core::cloud::{Capacity, DeploymentGroupRef, GreenSpec, GreenState, InstanceState};
use greenfleet_core::ids::{ElastigroupId, GreenDeploymentId, InstanceId, Tag};
use greenfleet_core::ports::{Elastigroups, RemoteError};

use super::{SpotConfig, SpotHttpClient, SpotSetupError, SpotToken};

const TOKEN: &str = "s3cr3t-T0KEN-never-printed";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    auth: Option<String>,
    content_type: Option<String>,
    body: Value,
}

/// What the server answers.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self { status: 200, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
    }

    fn status(status: u16, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct Shared {
    seen: Mutex<Vec<Seen>>,
    script: Box<Script>,
}

struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// Serves `script(request, n)` where `n` counts requests from 1.
    async fn spawn(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let shared = Arc::new(Shared { seen: Mutex::new(Vec::new()), script: Box::new(script) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, shared }
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    fn config(&self) -> SpotConfig {
        SpotConfig {
            base_url: format!("http://{}/", self.addr),
            account_id: Some("act-12345".into()),
            timeout_ms: 2_000,
            max_retries: 3,
            retry_min_delay_ms: 10,
            ..SpotConfig::new(SpotToken::new(TOKEN))
        }
    }

    fn client(&self) -> SpotHttpClient {
        SpotHttpClient::new(self.config()).unwrap()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let seen = Seen {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        auth: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    };
    let n = {
        let mut all = shared.seen.lock().unwrap();
        all.push(seen.clone());
        all.len()
    };
    let reply = (shared.script)(&seen, n);
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

fn envelope(items: Value) -> Value {
    json!({"request":{"id":"r-1","url":"/","method":"GET","timestamp":"2018-06-20T11:35:01.745Z"},
           "response":{"status":{"code":200,"message":"OK"},"kind":"spotinst:aws:ec2:group","items":items,"count":1}})
}

fn sig() -> ElastigroupId {
    ElastigroupId::parse("sig-1234abcd").unwrap()
}

fn green_item() -> Value {
    json!({"id":"cdbg-3ccf1234","groupId":"sig-1234abcd","state":"STARTING",
           "config":{"timeout":20,"tags":[{"tagKey":"ver","tagValue":"pink"}],
                     "deploymentGroups":[{"applicationName":"app","deploymentGroupName":"dg"}]}})
}

fn pink_spec() -> GreenSpec {
    GreenSpec {
        timeout_minutes: 20,
        tags: vec![Tag::new("ver", "pink").unwrap()],
        deployment_group: DeploymentGroupRef { application: "app".into(), deployment_group: "dg".into() },
    }
}

/// A Spot that knows one group with two instances (one leaving) and answers every documented call.
fn happy_spot(seen: &Seen, _n: usize) -> Reply {
    match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/aws/ec2/group/sig-1234abcd") => Reply::ok(envelope(json!([{
            "id":"sig-1234abcd","name":"web","capacity":{"minimum":1,"maximum":10,"target":2,"unit":"instance"},
            "compute":{"launchSpecification":{"tags":[{"tagKey":"Name","tagValue":"web"}]}},
            "thirdPartiesIntegration":{"codeDeploy":{"deploymentGroups":[{"applicationName":"app","deploymentGroupName":"dg"}]}}
        }]))),
        ("GET", "/aws/ec2/group/sig-1234abcd/status") => Reply::ok(envelope(json!([
            {"instanceId":"i-0aaa","status":"fulfilled","privateIp":"10.0.0.1","tags":[{"tagKey":"ver","tagValue":"pink"}]},
            {"instanceId":"i-0bbb","status":"shutting-down","privateIp":"10.0.0.2"},
            {"instanceId":null,"status":"open","spotInstanceRequestId":"sir-1"}
        ]))),
        ("POST" | "GET", "/aws/ec2/group/sig-1234abcd/codeDeploy/blueGreenDeployment") => {
            Reply::ok(envelope(json!([green_item()])))
        }
        ("PUT", _) => Reply::ok(json!({"response":{"status":{"code":200,"message":"OK"},"kind":"spotinst:aws:ec2:x"}})),
        _ => Reply::status(404, json!({"response":{"errors":[{"code":"NOT_FOUND","message":"no such route"}]}})),
    }
}

#[tokio::test]
async fn every_call_follows_the_documented_paths_and_bodies() {
    let server = Server::spawn(happy_spot).await;
    let spot = server.client();

    let group = spot.group(&sig()).await.unwrap();
    assert_eq!((group.name.as_str(), group.capacity.target), ("web", 2));
    assert_eq!(group.tags, vec![Tag::new("Name", "web").unwrap()]);
    assert_eq!(group.codedeploy[0].to_string(), "app/dg");

    let instances = spot.instances(&sig()).await.unwrap();
    assert_eq!(instances.len(), 2, "the entry without an instance id is skipped");
    assert_eq!(instances[0].state, InstanceState::Running);
    assert_eq!(instances[1].state, InstanceState::Terminating);

    spot.set_capacity(&sig(), Capacity { minimum: 1, maximum: 4, target: 4 }).await.unwrap();
    let gone = InstanceId::parse("i-0gone").unwrap();
    let leaving = InstanceId::parse("i-0bbb").unwrap();
    spot.detach(&sig(), &[InstanceId::parse("i-0aaa").unwrap(), gone, leaving]).await.unwrap();

    let spec = pink_spec();
    let started = spot.start_green(&sig(), &spec).await.unwrap();
    assert_eq!((started.id.as_str(), &started.state), ("cdbg-3ccf1234", &GreenState::Starting));
    assert_eq!(started.tags, spec.tags);
    assert_eq!(spot.green(&sig()).await.unwrap(), Some(started.clone()));
    spot.stop_green(&sig(), &started.id).await.unwrap();

    let seen = server.seen();
    for s in &seen {
        assert_eq!(s.auth.as_deref(), Some(format!("Bearer {TOKEN}").as_str()), "{s:?}");
        assert_eq!(s.query.as_deref(), Some("accountId=act-12345"), "{s:?}");
        assert_eq!(s.content_type.as_deref(), Some("application/json"), "{s:?}");
    }
    let find = |method: &str, suffix: &str| {
        seen.iter()
            .find(|s| s.method == method && s.path.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {method} {suffix}"))
    };
    assert_eq!(find("PUT", "/capacity").body, json!({"capacity":{"minimum":1,"maximum":4,"target":4}}));
    assert_eq!(
        find("PUT", "/detachInstances").body,
        json!({"instancesToDetach":["i-0aaa"],"shouldTerminateInstances":true,
               "shouldDecrementTargetCapacity":true,"drainingTimeout":120})
    );
    assert_eq!(
        find("POST", "/codeDeploy/blueGreenDeployment").body,
        json!({"deployment":{"timeout":20,"tags":[{"tagKey":"ver","tagValue":"pink"}],
               "deploymentGroups":[{"applicationName":"app","deploymentGroupName":"dg"}]}})
    );
    assert_eq!(
        find("PUT", "/stop").path,
        "/aws/ec2/group/sig-1234abcd/codeDeploy/blueGreenDeployment/cdbg-3ccf1234/stop"
    );
}

#[tokio::test]
async fn no_green_deployment_and_nothing_left_to_detach() {
    let server = Server::spawn(|seen, _| match seen.method.as_str() {
        "GET" if seen.path.ends_with("/status") => Reply::ok(envelope(json!([]))),
        "GET" => Reply::ok(envelope(json!([]))),
        _ => Reply::status(500, json!({})),
    })
    .await;
    let spot = server.client();
    assert_eq!(spot.green(&sig()).await.unwrap(), None);
    spot.detach(&sig(), &[InstanceId::parse("i-0gone").unwrap()]).await.unwrap();
    assert!(server.seen().iter().all(|s| s.method == Method::GET), "no detach sent for gone instances");
}

/// Spot documents no error for "no Blue/Green deployment": a refusal is never read as "none".
#[tokio::test]
async fn only_an_empty_200_means_no_green_deployment() {
    let server = Server::spawn(|seen, _| {
        if seen.path.contains("sig-0000null") {
            Reply::ok(json!({"response":{"items":null}}))
        } else if seen.path.contains("sig-00000400") {
            let errors = json!([{"code":"BLUE_GREEN_DEPLOYMENT_NOT_FOUND","message":"no deployment"}]);
            Reply::status(400, json!({"response":{"status":{"code":400,"message":"Bad Request"},"errors":errors}}))
        } else {
            Reply::status(404, json!({}))
        }
    })
    .await;
    let spot = server.client();
    let group = |id: &str| ElastigroupId::parse(id).unwrap();
    assert_eq!(spot.green(&group("sig-0000null")).await.unwrap(), None);
    let refused = spot.green(&group("sig-00000400")).await.unwrap_err();
    assert!(matches!(&refused, RemoteError::Rejected { code, .. } if code == "BLUE_GREEN_DEPLOYMENT_NOT_FOUND"));
    assert!(matches!(spot.green(&group("sig-00000404")).await.unwrap_err(), RemoteError::NotFound(_)));
}

#[tokio::test]
async fn throttling_waits_at_least_the_reset_then_succeeds() {
    let server = Server::spawn(|seen, n| {
        if n == 1 {
            Reply {
                status: 429,
                headers: vec![("x-ratelimit-reset", "1".into()), ("x-ratelimit-remaining", "0".into())],
                body: json!({"response":{"status":{"code":429,"message":"Too Many Requests"}},"data":"Rate limit exceeded"})
                    .to_string(),
                delay: Duration::ZERO,
            }
        } else {
            happy_spot(seen, n)
        }
    })
    .await;
    let started = Instant::now();
    let group = server.client().group(&sig()).await.unwrap();
    assert_eq!(group.id, sig());
    assert!(started.elapsed() >= Duration::from_secs(1), "retried after {:?}", started.elapsed());
    assert_eq!(server.seen().len(), 2);
}

/// A 5xx may come after Spot acted: the transport never repeats it, the saga does (reading first).
#[tokio::test]
async fn server_errors_go_back_to_the_saga_at_once() {
    let server =
        Server::spawn(|seen, n| if n <= 2 { Reply::status(503, json!({})) } else { happy_spot(seen, n) }).await;
    let err = server.client().set_capacity(&sig(), Capacity { minimum: 0, maximum: 2, target: 1 }).await.unwrap_err();
    assert!(matches!(&err, RemoteError::Unavailable(m) if m.contains("503")), "{err:?}");
    assert!(err.is_retryable(), "the saga retries it");
    assert_eq!(server.seen().len(), 1);
}

/// Throttling is retried within the transport's budget, whatever the configuration asks; a reset
/// longer than the transport waits goes back to the saga with the wait it asked for.
#[tokio::test]
async fn throttling_is_retried_within_a_small_budget() {
    let always = Server::spawn(|_, _| Reply {
        headers: vec![("x-ratelimit-reset", "0".into())],
        ..Reply::status(429, json!({}))
    })
    .await;
    let spot = SpotHttpClient::new(SpotConfig { max_retries: 10, retry_min_delay_ms: 1, ..always.config() }).unwrap();
    let err = spot.group(&sig()).await.unwrap_err();
    assert!(matches!(&err, RemoteError::Throttled { .. }), "{err:?}");
    assert_eq!(always.seen().len(), 1 + crate::spot::MAX_TRANSPORT_RETRIES);

    let long = Server::spawn(|_, _| Reply {
        headers: vec![("x-ratelimit-reset", "60".into())],
        ..Reply::status(429, json!({}))
    })
    .await;
    let err = long.client().group(&sig()).await.unwrap_err();
    assert!(matches!(&err, RemoteError::Throttled { retry_after_ms: Some(60_000), .. }), "{err:?}");
    assert_eq!(long.seen().len(), 1, "a minute's wait is the saga's, not the transport's");
}

#[tokio::test]
async fn a_start_is_retried_after_a_429_but_not_after_an_ambiguous_503() {
    let throttled_once = Server::spawn(|seen, n| {
        if n == 1 {
            Reply { headers: vec![("x-ratelimit-reset", "0".into())], ..Reply::status(429, json!({})) }
        } else {
            happy_spot(seen, n)
        }
    })
    .await;
    throttled_once.client().start_green(&sig(), &pink_spec()).await.unwrap();
    assert_eq!(throttled_once.seen().len(), 2);

    let failing = Server::spawn(|_, _| Reply::status(503, json!({}))).await;
    let err = failing.client().start_green(&sig(), &pink_spec()).await.unwrap_err();
    assert!(matches!(&err, RemoteError::Unavailable(m) if m.contains("may have taken effect")), "{err:?}");
    assert_eq!(failing.seen().len(), 1, "a POST whose outcome is unknown is not sent again");
}

#[tokio::test]
async fn timeouts_go_back_to_the_saga_without_a_retry() {
    let server = Server::spawn(|seen, n| Reply { delay: Duration::from_secs(2), ..happy_spot(seen, n) }).await;
    let spot = SpotHttpClient::new(SpotConfig { timeout_ms: 200, max_retries: 2, ..server.config() }).unwrap();
    let started = Instant::now();
    let err = spot.instances(&sig()).await.unwrap_err();
    assert!(matches!(&err, RemoteError::Unavailable(m) if m.contains("timed out after 200 ms")), "{err:?}");
    assert!(err.to_string().contains("GET /aws/ec2/group/sig-1234abcd/status"), "{err}");
    assert_eq!(server.seen().len(), 1, "the request may have reached Spot: not repeated here");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn refusals_surface_code_and_message_without_retrying() {
    let server = Server::spawn(|_, _| {
        Reply::status(
            400,
            json!({"response":{"status":{"code":400,"message":"Bad Request"},"errors":[{"code":"DEPLOYMENT_ALREADY_IN_PROGRESS",
                "message":"a Blue/Green deployment is already running","field":"deployment"}]}}),
        )
    })
    .await;
    let err = server.client().start_green(&sig(), &pink_spec()).await.unwrap_err();
    let RemoteError::Rejected { code, message } = &err else { panic!("{err:?}") };
    assert_eq!(code, "DEPLOYMENT_ALREADY_IN_PROGRESS");
    assert!(message.contains("a Blue/Green deployment is already running (field `deployment`)"), "{message}");
    assert!(!err.is_retryable());
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_refused_token_says_what_to_check_and_never_prints_itself() {
    let server = Server::spawn(|seen, _| {
        if seen.path.ends_with("/status") {
            Reply::status(404, json!({"response":{"errors":[{"code":"GROUP_NOT_FOUND","message":"group not found"}]}}))
        } else {
            Reply::status(401, json!({"response":{"status":{"code":401,"message":"Unauthorized"}}}))
        }
    })
    .await;
    let spot = server.client();
    let err = spot.group(&sig()).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("check SPOTINST_TOKEN"), "{text}");
    assert!(
        matches!(spot.instances(&sig()).await.unwrap_err(), RemoteError::NotFound(m) if m.contains("group not found"))
    );

    let config = server.config();
    for printed in [format!("{err} {err:?}"), format!("{config:?}"), format!("{spot:?}"), config.token.to_string()] {
        assert!(!printed.contains(TOKEN), "token leaked: {printed}");
    }
    assert_eq!(format!("{:?}", SpotToken::new(TOKEN)), "SpotToken(***)");
    assert_eq!(SpotToken::new(TOKEN).to_string(), "SpotToken(***)");
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = SpotConfig {
        base_url: format!("http://{addr}"),
        account_id: Some("act-12345".into()),
        max_retries: 0,
        ..SpotConfig::new(SpotToken::new(TOKEN))
    };
    let err =
        SpotHttpClient::new(config).unwrap().stop_green(&sig(), &GreenDeploymentId::parse("cdbg-1").unwrap()).await;
    assert!(matches!(&err, Err(RemoteError::Unavailable(m)) if m.contains("could not connect")), "{err:?}");
}

#[test]
fn setup_refuses_an_empty_token_and_a_bad_url() {
    let empty = SpotHttpClient::new(SpotConfig::new(SpotToken::new("  ")));
    assert!(matches!(empty, Err(SpotSetupError::EmptyToken)));
    let ftp = SpotHttpClient::new(SpotConfig {
        base_url: "ftp://x".into(),
        account_id: Some("act-12345".into()),
        ..SpotConfig::new(SpotToken::new(TOKEN))
    });
    assert!(matches!(&ftp, Err(SpotSetupError::BaseUrl { .. })), "{ftp:?}");
    let config: SpotConfig = serde_json::from_value(json!({"token": TOKEN})).unwrap();
    assert_eq!(
        (config.base_url.as_str(), config.timeout_ms, config.max_retries),
        ("https://api.spotinst.io", 10_000, 2)
    );
}

/// Without `accountId` Spot acts on the organization's oldest account: a client never starts without
/// one, and the error says which setting to set and what an account id looks like.
#[test]
fn setup_requires_a_well_formed_account() {
    let with = |account: Option<&str>| {
        SpotHttpClient::new(SpotConfig {
            account_id: account.map(str::to_owned),
            ..SpotConfig::new(SpotToken::new(TOKEN))
        })
    };
    for missing in [None, Some(""), Some("   ")] {
        let err = with(missing).unwrap_err();
        assert!(matches!(err, SpotSetupError::MissingAccount), "{missing:?}: {err:?}");
        let text = err.to_string();
        assert!(
            text.contains("SPOTINST_ACCOUNT") && text.contains("--spot-account") && text.contains("act-"),
            "{text}"
        );
    }
    for (bad, why) in [
        ("12345678", "does not start with `act-`"),
        ("act-", "nothing follows"),
        ("act-12 34", "only letters and digits"),
        ("sig-1234abcd", "does not start with `act-`"),
    ] {
        let err = with(Some(bad)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SpotSetupError::BadAccount { .. }), "{bad}: {text}");
        assert!(text.contains(&format!("`{bad}`")) && text.contains(why) && text.contains("act-1a2b3c4d"), "{text}");
    }
    assert!(with(Some(" act-1a2b3c4d ")).is_ok());
}

#[tokio::test]
async fn every_call_names_the_account() {
    let server = Server::spawn(happy_spot).await;
    let spot = SpotHttpClient::new(SpotConfig { account_id: Some(" act-0a1b2c ".into()), ..server.config() }).unwrap();
    spot.group(&sig()).await.unwrap();
    spot.green(&sig()).await.unwrap();
    assert!(server.seen().iter().all(|s| s.query.as_deref() == Some("accountId=act-0a1b2c")), "{:?}", server.seen());
}

/// Regression: Spot answers a missing group 400 GROUP_DOESNT_EXIST, which was taken for a plain
/// refusal; and Spot's request id, which its support asks for, was in no error.
#[tokio::test]
async fn a_missing_group_is_not_found_by_its_code_and_errors_name_spots_request() {
    let server = Server::spawn(|seen, _| {
        if seen.method == Method::POST {
            // Accepted, but without the deployment: the error still names Spot's request.
            Reply::ok(json!({"request":{"id":"0c1d-2e3f"},"response":{"items":[]}}))
        } else {
            Reply::status(
                400,
                json!({"request":{"id":"e593ff58-067d"},"response":{"status":{"code":400,"message":"Bad Request"},
                    "errors":[{"code":"GROUP_DOESNT_EXIST","message":"Group doesn't exist"}]}}),
            )
        }
    })
    .await;
    let spot = server.client();
    let err = spot.group(&sig()).await.unwrap_err();
    let RemoteError::NotFound(message) = &err else { panic!("{err:?}") };
    assert!(message.contains("with 400 GROUP_DOESNT_EXIST (Group doesn't exist): no such Elastigroup"), "{message}");
    assert!(message.contains("SPOTINST_ACCOUNT") && message.ends_with("(Spot request id e593ff58-067d)"), "{message}");
    assert_eq!(server.seen().len(), 1, "not retried");
    let err = spot.start_green(&sig(), &pink_spec()).await.unwrap_err();
    assert!(err.to_string().ends_with("(Spot request id 0c1d-2e3f)"), "{err}");
}
