//! The instances' health face: each instance answers on its own loopback IP and the simulator's port,
//! 200 while healthy, 503 once a fault knob says not; an address no instance holds stops answering.

use reqwest::StatusCode;
use serde_json::json;

use super::{GROUP, Sim, eventually};

/// `http://<ip>:<the simulator's port>/health`.
fn health_url(sim: &Sim, ip: &str) -> String {
    let port = sim.base.rsplit(':').next().unwrap();
    format!("http://{ip}:{port}/health")
}

/// The status an instance's health check gets, or `None` when nothing answers (yet).
async fn check(sim: &Sim, ip: &str) -> Option<StatusCode> {
    sim.http.get(health_url(sim, ip)).send().await.ok().map(|r| r.status())
}

/// Private IPs and ids of the group's instances, oldest first.
async fn instances(sim: &Sim) -> Vec<(String, String)> {
    let (_, state) = sim.admin_get(&format!("/_sim/groups/{GROUP}")).await;
    state["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["privateIp"].as_str().unwrap().to_owned(), i["instanceId"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn healthy_instances_answer_200_and_a_fault_makes_them_answer_503() {
    let sim = Sim::world("STOP_DEPLOYMENT").await;
    let blue = instances(&sim).await;
    assert_eq!(blue.len(), 2);
    for (ip, _) in &blue {
        assert!(ip.starts_with("127.0.0.") && ip != "127.0.0.1", "instances get loopback IPs of their own: {ip}");
        let status = eventually("the instance's health listener is bound", async || check(&sim, ip).await).await;
        assert_eq!(status, StatusCode::OK, "{ip}");
    }
    let response = sim.http.get(health_url(&sim, &blue[0].0)).send().await.unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "ip": blue[0].0, "healthy": true }));

    // One instance marked unhealthy: it alone answers 503.
    let (status, _) = sim.admin_post("/_sim/faults", &json!({ "unhealthy": { "instances": [blue[0].1] } })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check(&sim, &blue[0].0).await, Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(check(&sim, &blue[1].0).await, Some(StatusCode::OK));

    // Every green instance unhealthy: green answers 503, blue keeps answering 200.
    sim.admin_post("/_sim/faults", &json!({ "reset": true })).await;
    sim.admin_post("/_sim/faults", &json!({ "unhealthy": { "allGreen": true } })).await;
    sim.green_up().await;
    let all = instances(&sim).await;
    let green: Vec<_> = all.iter().filter(|i| !blue.contains(i)).collect();
    assert_eq!(green.len(), 2, "{all:?}");
    for (ip, _) in green {
        let status = eventually("the green instance's listener is bound", async || check(&sim, ip).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "green {ip}");
    }
    for (ip, _) in &blue {
        assert_eq!(check(&sim, ip).await, Some(StatusCode::OK), "blue {ip}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_address_no_instance_holds_stops_answering_and_shutdown_closes_every_listener() {
    let sim = Sim::world("STOP_DEPLOYMENT").await;
    let blue = instances(&sim).await;
    let (ip, id) = blue[0].clone();
    eventually("bound", async || check(&sim, &ip).await).await;

    let detach = json!({ "instancesToDetach": [id], "shouldTerminateInstances": true,
        "shouldDecrementTargetCapacity": true, "drainingTimeout": 0 });
    let (status, v) =
        sim.spot(reqwest::Method::PUT, &format!("/aws/ec2/group/{GROUP}/detachInstances"), Some(&detach)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    eventually("the detached instance's address is released", async || check(&sim, &ip).await.is_none().then_some(()))
        .await;

    let other = blue[1].0.clone();
    let http = sim.http.clone();
    let url = health_url(&sim, &other);
    assert_eq!(check(&sim, &other).await, Some(StatusCode::OK));
    sim.shutdown().await;
    assert!(http.get(url).send().await.is_err(), "nothing answers after shutdown");
}
