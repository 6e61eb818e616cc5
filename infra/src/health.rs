//! [`HttpHealthProbe`]: core's `HealthProbe` as one HTTP GET. The saga counts consecutive successes
//! and decides; this only says whether one request answered the expected status in time, and if
//! not, why, in a few words ("status 503", "timed out after 5000 ms", "connection refused").

use std::time::Duration;

use async_trait::async_trait;
use reqwest::redirect::Policy;

use greenfleet_core::ports::HealthProbe;

/// Health checks over plain HTTP(S). Redirects are not followed: the status seen is the instance's own,
/// as a load balancer's health check would see it.
#[derive(Debug, Clone)]
pub struct HttpHealthProbe {
    http: reqwest::Client,
}

impl HttpHealthProbe {
    /// Builds the probe's HTTP client. Fails only if TLS cannot be set up.
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .user_agent(concat!("greenfleet-health/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http })
    }
}

#[async_trait]
impl HealthProbe for HttpHealthProbe {
    async fn probe(&self, url: &str, expected_status: u16, timeout_ms: u64) -> Result<(), String> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_millis(timeout_ms))
            .send()
            .await
            .map_err(|e| reason(&e, timeout_ms))?;
        let status = response.status().as_u16();
        if status == expected_status { Ok(()) } else { Err(format!("status {status}")) }
    }
}

/// A short reason for a request that got no status.
fn reason(err: &reqwest::Error, timeout_ms: u64) -> String {
    if err.is_timeout() {
        return format!("timed out after {timeout_ms} ms");
    }
    if err.is_builder() {
        return format!("bad URL: {}", innermost(err));
    }
    let io_kind = std::iter::successors(Some(err as &(dyn std::error::Error + 'static)), |e| e.source())
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".to_owned(),
        _ if err.is_connect() => format!("could not connect: {}", innermost(err)),
        _ => innermost(err),
    }
}

fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(err), |e| e.source()).last().map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::SocketAddr;

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    use super::*;

    async fn serve() -> SocketAddr {
        let app = Router::new()
            .route("/ok", get(|| async { "up" }))
            .route("/down", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }))
            .route("/moved", get(|| async { (StatusCode::FOUND, [("location", "/ok")]) }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    "late"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test]
    async fn expected_status_passes_anything_else_says_why() {
        let addr = serve().await;
        let probe = HttpHealthProbe::new().unwrap();
        assert_eq!(probe.probe(&format!("http://{addr}/ok"), 200, 1_000).await, Ok(()));
        assert_eq!(probe.probe(&format!("http://{addr}/down"), 200, 1_000).await, Err("status 503".to_owned()));
        assert_eq!(probe.probe(&format!("http://{addr}/down"), 503, 1_000).await, Ok(()));
        assert_eq!(probe.probe(&format!("http://{addr}/moved"), 200, 1_000).await, Err("status 302".to_owned()));
        assert_eq!(
            probe.probe(&format!("http://{addr}/slow"), 200, 100).await,
            Err("timed out after 100 ms".to_owned())
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_connection_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let probe = HttpHealthProbe::new().unwrap();
        assert_eq!(probe.probe(&format!("http://{addr}/ok"), 200, 1_000).await, Err("connection refused".to_owned()));
        assert!(probe.probe("not a url", 200, 1_000).await.unwrap_err().starts_with("bad URL"));
    }
}
