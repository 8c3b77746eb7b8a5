//! Status probes: one HTTP request, the status code back. Engines ask their peers
//! (`/health`, `/peer/...`) and the designer shows each daemon's health with them; the status
//! code is all that matters, so the body is never read.
//!
//! hyper's client, without a connection pool: each probe opens its own connection, so a peer
//! that vanished (a power cut leaves no FIN) costs one probe its timeout, never a pooled
//! connection that later probes would queue behind.

use std::sync::LazyLock;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

static CLIENT: LazyLock<Client<HttpConnector, Empty<Bytes>>> = LazyLock::new(|| {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector)
});

/// `method path` against `addr` (host:port); the response's status code.
pub async fn status(addr: &str, method: &str, path: &str) -> std::io::Result<u16> {
    let method = hyper::Method::from_bytes(method.as_bytes()).map_err(std::io::Error::other)?;
    let request = hyper::Request::builder().method(method).uri(format!("http://{addr}{path}")).body(Empty::new()).map_err(std::io::Error::other)?;
    let response = CLIENT.request(request).await.map_err(std::io::Error::other)?;
    Ok(response.status().as_u16())
}

/// Like `status` for a GET, bounded by `timeout`; any failure is `None`.
pub async fn status_within(addr: &str, path: &str, timeout: Duration) -> Option<u16> {
    tokio::time::timeout(timeout, status(addr, "GET", path)).await.ok()?.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::{get, post};

    #[tokio::test]
    async fn the_status_code_of_each_method_and_nothing_from_a_closed_port() {
        let app = axum::Router::new().route("/health", get(|| async { "ok" })).route("/peer/leave", post(|| async { StatusCode::CONFLICT }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        assert_eq!(status(&addr, "GET", "/health").await.unwrap(), 200);
        assert_eq!(status(&addr, "POST", "/peer/leave").await.unwrap(), 409);
        assert_eq!(status(&addr, "GET", "/nothing").await.unwrap(), 404);
        assert_eq!(status_within(&addr, "/health", Duration::from_secs(1)).await, Some(200));
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        assert_eq!(status_within(&closed, "/health", Duration::from_secs(1)).await, None);
    }

    #[tokio::test]
    async fn a_peer_that_never_answers_costs_the_timeout_only() {
        // Accepts but never answers, as a host behind a stalled link.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap().to_string();
        let started = std::time::Instant::now();
        assert_eq!(status_within(&addr, "/health", Duration::from_millis(300)).await, None);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(silent);
    }
}
