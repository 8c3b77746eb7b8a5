//! `triad-engine --config FILE --host NAME`: see docs/engine.md. Start-up, logging, signals and
//! the listeners' supervision are triad-daemon's.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use triad_config::Cluster;
use triad_daemon::{DaemonArgs, Servers};
use triad_engine::{cluster, engine::Engine, http, sql};

#[derive(Parser)]
#[command(name = "triad-engine", version, about = "The Triad in-memory cube engine")]
struct Args {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Overrides [cluster] state_dir; queries spill to <state-dir>/engine/spill.
    #[arg(long)]
    state_dir: Option<std::path::PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    triad_daemon::main("triad-engine", triad_daemon::Role::App, &args.daemon, |cluster| run(cluster, args.daemon.host.clone(), args.state_dir.clone()))
}

async fn run(cluster: Cluster, host: String, state_dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let host = cluster.host(&host).context("--host")?.clone();
    let ports = cluster.file().ports.clone();
    let state_dir = state_dir.unwrap_or_else(|| cluster.cluster.state_dir.clone());
    let engine = Arc::new(Engine::new(cluster.clone(), &host.name, &state_dir)?);
    let departures = Arc::new(cluster::Departures::default());
    let mut servers = Servers::default();

    let http_addr = cluster.addr(&host, ports.engine_http);
    let listener = tokio::net::TcpListener::bind(&http_addr).await.with_context(|| format!("binding HTTP on {http_addr}"))?;
    let api = http::Api { engine: engine.clone(), departures: departures.clone(), loads: Default::default(), verified: Default::default() };
    let app = http::router(api.clone());
    servers.spawn(format!("HTTP API on {http_addr}"), async move { axum::serve(listener, app).await });

    let peer_addr = cluster.addr(&host, ports.engine_peer);
    let peer_listener = tokio::net::TcpListener::bind(&peer_addr).await.with_context(|| format!("binding the peer port on {peer_addr}"))?;
    let peer_app = http::peer_router(api.clone()).with_state(api.clone());
    servers.spawn(format!("peer API on {peer_addr}"), async move { axum::serve(peer_listener, peer_app).await });

    let sql_addr = cluster.addr(&host, ports.engine_sql);
    let sql_listener = tokio::net::TcpListener::bind(&sql_addr).await.with_context(|| format!("binding SQL on {sql_addr}"))?;
    let handlers = Arc::new(sql::Handlers {
        sql: Arc::new(sql::SqlHandler { engine: engine.clone() }),
        startup: Arc::new(triad_engine::auth::PasswordLogin::new(engine.clone())),
    });
    let tls = match &cluster.file().tls {
        Some(t) => Some(pgwire::tokio::TlsAcceptor::from(std::sync::Arc::new(
            triad_daemon::tls::server_config(t, &host.name, "SQL port", triad_daemon::tls::Clients::Anyone).context("setting up TLS on the SQL port ([tls])")?,
        ))),
        None => None,
    };
    servers.spawn(format!("SQL on {sql_addr}"), serve_sql(sql_listener, tls, handlers));
    tracing::info!(sql = %sql_addr, http = %http_addr, "listening");

    tokio::spawn(engine.clone().replicate());
    let dcs = triad_dcs::Dcs::connect(&cluster, Some(&host.name)).await?;
    tokio::select! {
        r = cluster::run(engine.clone(), dcs, departures) => r,
        e = servers.failed() => Err(e),
    }
}

/// Accepts SQL connections, each served in its own task. A failed accept (a client that
/// reset before it was accepted, a full file table for a moment) is logged and the loop goes on.
async fn serve_sql(listener: tokio::net::TcpListener, tls: Option<pgwire::tokio::TlsAcceptor>, handlers: Arc<sql::Handlers>) -> std::io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                let _ = socket.set_nodelay(true);
                let (h, tls) = (handlers.clone(), tls.clone());
                tokio::spawn(async move { pgwire::tokio::process_socket(socket, tls, h).await });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a SQL connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
