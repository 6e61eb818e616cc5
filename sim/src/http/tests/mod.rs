//! The HTTP faces end to end: [`crate::serve`] on 127.0.0.1:0 with a system clock, driven with reqwest.
//! Each test gets its own server and world; waits poll with a bound, never a fixed sleep.

#![allow(clippy::unwrap_used)]

mod admin;
mod codedeploy;
mod ec2;
mod health;
mod record;
mod spot;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use greenfleet_core::ids::Timestamp;
use greenfleet_core::ports::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Cloud, MemorySink, Recorder, ServeOptions, serve};

const TOKEN: &str = "test-token";
/// The Spot account every Spot call names (`?accountId=`), as greenfleet's client does.
const ACCOUNT: &str = "act-5117e57";
const GROUP: &str = "sig-1234abcd";

/// The system clock, as a host would give the served cloud.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Timestamp(u64::try_from(ms).unwrap())
    }
}

/// A served simulator and a client for it.
struct Sim {
    base: String,
    http: reqwest::Client,
    cloud: Cloud,
    sink: Arc<MemorySink>,
    /// Every exchange served (tests of the record itself read it).
    recorder: Recorder,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Sim {
    /// Serves a fresh cloud whose green instances and deployment steps take 20 ms.
    async fn start(expected_token: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cloud = Cloud::new(Arc::new(SystemClock));
        cloud.faults(|f| {
            f.green_launch_delay_ms = 20;
            f.launch_delay_ms = 20;
            f.tag_delay_ms = 20;
            f.deployment_step_ms = 20;
        });
        let sink = Arc::new(MemorySink::new());
        let (stop, stopped) = oneshot::channel::<()>();
        let recorder = Recorder::new();
        let opts = ServeOptions {
            expected_token: expected_token.map(str::to_owned),
            tick_ms: 10,
            health_port: None,
            record: Some(recorder.clone()),
        };
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(listener, cloud.clone(), opts, sink.clone(), shutdown));
        Self { base, http: reqwest::Client::new(), cloud, sink, recorder, stop: Some(stop), task: Some(task) }
    }

    /// A started simulator with one group (`Name=web` + `env=blue`, 2 instances) wired to `app/dg`, a
    /// Blue/Green deployment group that finds the original fleet by `env=blue`, set up over `/_sim/`.
    async fn world(ready_action: &str) -> Self {
        let sim = Self::start(None).await;
        let (status, _) = sim
            .admin_post(
                "/_sim/deployment-groups",
                &json!({
                    "application": "app",
                    "deploymentGroup": "dg",
                    "deploymentType": "BLUE_GREEN",
                    "greenFleetProvisioning": "DISCOVER_EXISTING",
                    "blueAction": "KEEP_ALIVE",
                    "readyAction": ready_action,
                    "ec2TagFilters": [{ "key": "env", "value": "blue" }],
                    "readyWaitMinutes": 5,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, state) = sim
            .admin_post(
                "/_sim/groups",
                &json!({
                    "id": GROUP,
                    "name": "web",
                    "capacity": { "minimum": 1, "maximum": 3, "target": 2 },
                    "groupTags": [{ "key": "Name", "value": "web" }],
                    "blueTags": [{ "key": "env", "value": "blue" }],
                    "codeDeploy": [{ "application": "app", "deploymentGroup": "dg" }],
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{state}");
        assert_eq!(state["instances"].as_array().unwrap().len(), 2);
        sim
    }

    /// `DescribeInstances` on the EC2 face with `params` (form-encoded filters); the XML answer.
    async fn describe_instances(&self, params: &str) -> String {
        let body = format!("Action=DescribeInstances&Version=2016-11-15&{params}");
        let response = self
            .http
            .post(&self.base)
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    async fn read(response: reqwest::Response) -> (StatusCode, Value) {
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        (status, body)
    }

    /// A Spot call with the Bearer token and, unless `path` names one, `?accountId=` [`ACCOUNT`].
    async fn spot(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let url = match (path.contains("accountId="), path.contains('?')) {
            (true, _) => format!("{}{path}", self.base),
            (false, true) => format!("{}{path}&accountId={ACCOUNT}", self.base),
            (false, false) => format!("{}{path}?accountId={ACCOUNT}", self.base),
        };
        let mut request = self.http.request(method, url).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::read(request.send().await.unwrap()).await
    }

    async fn spot_get(&self, path: &str) -> (StatusCode, Value) {
        self.spot(reqwest::Method::GET, path, None).await
    }

    /// A CodeDeploy JSON 1.1 call.
    async fn codedeploy(&self, operation: &str, input: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/", self.base))
            .header("x-amz-target", format!("CodeDeploy_20141006.{operation}"))
            .header("content-type", "application/x-amz-json-1.1")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/codedeploy/aws4_request")
            .body(input.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], "application/x-amz-json-1.1");
        Self::read(response).await
    }

    async fn admin_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        Self::read(self.http.post(format!("{}{path}", self.base)).json(body).send().await.unwrap()).await
    }

    async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        Self::read(self.http.get(format!("{}{path}", self.base)).send().await.unwrap()).await
    }

    /// Starts Spot Blue/Green with `version=green` and waits until every green instance runs tagged.
    async fn green_up(&self) -> Value {
        let body = json!({ "deployment": {
            "timeout": 30,
            "tags": [{ "tagKey": "version", "tagValue": "green" }],
            "deploymentGroups": [{ "applicationName": "app", "deploymentGroupName": "dg" }],
        }});
        let path = format!("/aws/ec2/group/{GROUP}/codeDeploy/blueGreenDeployment");
        let (status, created) = self.spot(reqwest::Method::POST, &path, Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        eventually("green in progress", async || {
            let (_, v) = self.spot_get(&path).await;
            (v["response"]["items"][0]["state"] == "IN_PROGRESS").then_some(())
        })
        .await;
        created["response"]["items"][0].clone()
    }

    /// CreateDeployment of `s3://bucket/app.zip` targeting `version=green`.
    async fn create_deployment(&self, description: &str) -> (StatusCode, Value) {
        self.codedeploy(
            "CreateDeployment",
            &json!({
                "applicationName": "app",
                "deploymentGroupName": "dg",
                "revision": {
                    "revisionType": "S3",
                    "s3Location": { "bucket": "bucket", "key": "app.zip", "bundleType": "zip", "eTag": "abc" },
                },
                "description": description,
                "targetInstances": { "tagFilters": [{ "Key": "version", "Value": "green", "Type": "KEY_AND_VALUE" }] },
                "autoRollbackConfiguration": { "enabled": false },
            }),
        )
        .await
    }

    async fn deployment_status(&self, id: &str) -> String {
        let (status, v) = self.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["deploymentInfo"]["status"].as_str().unwrap().to_owned()
    }

    async fn await_status(&self, id: &str, wanted: &str) {
        eventually(wanted, async || (self.deployment_status(id).await == wanted).then_some(())).await;
    }

    /// Stops the server and checks it ended cleanly.
    async fn shutdown(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        let served = tokio::time::timeout(Duration::from_secs(10), self.task.take().unwrap()).await;
        served.expect("serve ends after shutdown").unwrap().unwrap();
    }
}

/// Polls `check` every 10 ms until it gives a value; panics after 10 s.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..1_000 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen within 10 s");
}
