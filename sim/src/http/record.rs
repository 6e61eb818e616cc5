//! [`Recorder`]: an optional record of every request the HTTP faces served, with its answer, for
//! tests that check both sides of an exchange (the client's request, the simulator's answer)
//! against the services' published definitions. Turned on with [`super::ServeOptions::record`]; a
//! middleware around the whole router buffers each body once and keeps a copy. The Spot token never
//! enters the record: an `Authorization` header is kept as its scheme only (`Bearer ***`).

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Bodies larger than this are not simulated by any face; a bigger one is refused with 413.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// One request the simulator served and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `GET`, `PUT`, `POST`, ….
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any (`accountId=act-1`).
    pub query: Option<String>,
    /// Request headers, lower-case names, in the order received; `authorization` is reduced to its
    /// scheme (`Bearer ***`).
    pub request_headers: Vec<(String, String)>,
    /// The request body as text (lossy UTF-8; every face speaks JSON or form encoding).
    pub request_body: String,
    /// The HTTP status answered.
    pub status: u16,
    /// Response headers, lower-case names.
    pub response_headers: Vec<(String, String)>,
    /// The response body as text.
    pub response_body: String,
}

impl Exchange {
    /// The first request header called `name` (lower case).
    #[must_use]
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first response header called `name` (lower case).
    #[must_use]
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Where the served exchanges go, oldest first. Clones share one record; give one to
/// [`super::ServeOptions::record`] and read it from the test.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl Recorder {
    /// An empty record.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every exchange recorded so far.
    #[must_use]
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every exchange recorded so far, leaving the record empty.
    #[must_use]
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.exchanges.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, exchange: Exchange) {
        self.exchanges.lock().unwrap_or_else(PoisonError::into_inner).push(exchange);
    }
}

fn headers(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = if name == axum::http::header::AUTHORIZATION {
                // Keep the scheme, which the definitions constrain; never the secret.
                format!("{} ***", value.split_whitespace().next().unwrap_or_default())
            } else {
                value.into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// The middleware: buffers the request body, runs the router, buffers the answer, records both.
pub(super) async fn record(State(recorder): State<Recorder>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(request_body) = to_bytes(body, BODY_LIMIT).await else {
        return (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "request body too large or unreadable").into_response();
    };
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let request_headers = headers(&parts.headers);
    let response = next.run(Request::from_parts(parts, Body::from(request_body.clone()))).await;
    let (parts, body) = response.into_parts();
    // Every answer is built in memory by the faces, so reading it back cannot fail for size.
    let response_body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    recorder.push(Exchange {
        method,
        path,
        query,
        request_headers,
        request_body: String::from_utf8_lossy(&request_body).into_owned(),
        status: parts.status.as_u16(),
        response_headers: headers(&parts.headers),
        response_body: String::from_utf8_lossy(&response_body).into_owned(),
    });
    Response::from_parts(parts, Body::from(response_body))
}
