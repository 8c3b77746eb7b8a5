//! `triad-engine --config FILE --host NAME [--state-dir DIR]`: see docs/engine.md.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use triad_config::Cluster;
use triad_engine::{cluster, engine::Engine, http, sql};

#[derive(Parser)]
#[command(about = "The Triad in-memory cube engine")]
struct Args {
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    config: PathBuf,
    #[arg(long, env = "TRIAD_HOST")]
    host: String,
    /// Overrides [cluster] state_dir (the engine keeps no state of its own: the change log is
    /// in the cluster database).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    #[arg(long)]
    log_json: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    use std::io::IsTerminal;
    if args.log_json {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr).init();
    }
    let cluster = match Cluster::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(run(cluster, args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cluster: Cluster, args: Args) -> anyhow::Result<()> {
    let host = cluster.host(&args.host).context("--host")?.clone();
    anyhow::ensure!(host.has(triad_config::Role::App), "host {} has no `app` role: no engine runs there", host.name);
    let ports = cluster.file().ports.clone();
    let engine = Arc::new(Engine::new(cluster.clone(), &host.name)?);
    let departures = Arc::new(cluster::Departures::default());

    let http_addr = cluster.addr(&host, ports.engine_http);
    let listener = tokio::net::TcpListener::bind(&http_addr).await.with_context(|| format!("binding HTTP on {http_addr}"))?;
    let api = http::Api { engine: engine.clone(), departures: departures.clone(), loads: Default::default() };
    let app = http::router(api.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let peer_addr = cluster.addr(&host, ports.engine_peer);
    let peer_listener = tokio::net::TcpListener::bind(&peer_addr).await.with_context(|| format!("binding the peer port on {peer_addr}"))?;
    let peer_app = http::peer_router(api.clone()).with_state(api.clone());
    tokio::spawn(async move { axum::serve(peer_listener, peer_app).await });

    let sql_addr = cluster.addr(&host, ports.engine_sql);
    let sql_listener = tokio::net::TcpListener::bind(&sql_addr).await.with_context(|| format!("binding SQL on {sql_addr}"))?;
    let handlers = Arc::new(sql::Handlers {
        sql: Arc::new(sql::SqlHandler { engine: engine.clone() }),
        startup: Arc::new(triad_engine::auth::PasswordLogin::new(engine.clone())),
    });
    tokio::spawn(async move {
        loop {
            match sql_listener.accept().await {
                Ok((socket, _)) => {
                    let _ = socket.set_nodelay(true);
                    let h = handlers.clone();
                    tokio::spawn(async move { pgwire::tokio::process_socket(socket, None, h).await });
                }
                Err(e) => tracing::warn!(error = %e, "accepting a SQL connection"),
            }
        }
    });
    tracing::info!(sql = %sql_addr, http = %http_addr, "listening");

    tokio::spawn(engine.clone().replicate());
    let dcs = triad_dcs::Dcs::connect(&cluster, Some(&host.name)).await?;
    let membership = cluster::run(engine.clone(), dcs, departures);
    tokio::select! {
        r = membership => r,
        _ = shutdown() => {
            tracing::info!("stopping");
            Ok(())
        }
    }
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
}
