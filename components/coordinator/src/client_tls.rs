//! Mutual TLS on the client port (issue 19, `[tls] coordinator = true`). The client port
//! carries everything the cluster decides with: leader keys, switchover requests, engine
//! registrations. With this on, a client must prove itself with a certificate of the cluster
//! CA; one without a certificate, with one of another CA or with an expired one is refused in
//! the TLS handshake, before it can send a request, and the member logs why (etcd's Go client
//! only says "context deadline exceeded"). The Raft peer port is not covered yet.
//!
//! Handshakes run each on its own task, so a client that connects and stalls holds up no one.
//! The member's certificate is read again when its files change (`triad_daemon::tls`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{TlsAcceptor, rustls::ServerConfig};
use tokio_stream::wrappers::ReceiverStream;
use triad_config::Cluster;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// The client port's TLS settings for `host`, or `None` when `[tls] coordinator` is not set.
pub fn server_config(cluster: &Cluster, host: &str) -> anyhow::Result<Option<Arc<ServerConfig>>> {
    let Some(tls) = cluster.tls.as_ref().filter(|t| t.coordinator) else { return Ok(None) };
    let mut config = triad_daemon::tls::server_config(tls, host, "coordinator's client port", triad_daemon::tls::Clients::OfTheClusterCa)?;
    // gRPC runs over HTTP/2, which a TLS client asks for by ALPN.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// The connections of `listener` that completed a handshake under `config`.
pub fn incoming(listener: TcpListener, config: Arc<ServerConfig>) -> ReceiverStream<std::io::Result<TlsStream<TcpStream>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let (socket, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    // A full file table or a reset before accept: not the end of the port.
                    tracing::warn!("accepting a client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let (acceptor, sender) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                if let Some(stream) = handshake(&acceptor, socket, peer).await {
                    let _ = sender.send(Ok(stream)).await;
                }
            });
            if tx.is_closed() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

async fn handshake(acceptor: &TlsAcceptor, socket: TcpStream, peer: SocketAddr) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_WITHIN, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::warn!(client = %peer, "refused a client of the coordinator in the TLS handshake: {e}");
            None
        }
        Err(_) => {
            tracing::warn!(client = %peer, "refused a client of the coordinator: no TLS handshake within {HANDSHAKE_WITHIN:?}");
            None
        }
    }
}
