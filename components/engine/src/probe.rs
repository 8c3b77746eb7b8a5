//! The smallest HTTP/1.0 client: one request, the status code back. Used for liveness probes
//! (engine peers, the designer's cluster view), where a status code is all that matters and a
//! full client library would add nothing.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `method path` against `addr` (host:port); the response's status code (0 if unreadable).
pub async fn status(addr: &str, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let body = if method == "GET" { "" } else { "Content-Length: 0\r\n" };
    s.write_all(format!("{method} {path} HTTP/1.0\r\n{body}\r\n").as_bytes()).await?;
    let mut buf = vec![0u8; 64];
    let n = s.read(&mut buf).await?;
    let line = String::from_utf8_lossy(&buf[..n]);
    Ok(line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
}

/// Like `status`, bounded by `timeout`; any failure is `None`.
pub async fn status_within(addr: &str, path: &str, timeout: std::time::Duration) -> Option<u16> {
    tokio::time::timeout(timeout, status(addr, "GET", path)).await.ok()?.ok()
}
