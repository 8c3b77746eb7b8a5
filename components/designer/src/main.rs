//! `triad-designer --config FILE --host NAME`: the Design Center on `ports.designer`; active
//! while it holds the designer key in the coordinator (docs/designer.md).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use triad_config::Cluster;
use triad_designer::{active, db, web};

#[derive(Parser)]
#[command(about = "The Triad Design Center")]
struct Args {
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    config: PathBuf,
    #[arg(long, env = "TRIAD_HOST")]
    host: String,
    /// Accepted for symmetry with the other daemons; the designer keeps its state in the
    /// cluster database.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
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
    anyhow::ensure!(host.has(triad_config::Role::App), "host {} has no `app` role: no designer runs there", host.name);
    let dsn = triad_engine::log::dsn(&cluster, &host.name, "triad-designer")?;
    let status = Arc::new(active::Status::default());
    let addr = cluster.addr(&host, cluster.file().ports.designer);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;

    // The schema first (retrying: the database may still be electing its primary), then the
    // race for the designer key: an instance never serves an old schema.
    loop {
        match db::connect(&dsn).await {
            Ok(mut c) => match db::migrate(&mut c, &cluster).await {
                Ok(()) => break,
                Err(e) => tracing::warn!(error = format!("{e:#}"), "creating the designer schema: retrying"),
            },
            Err(e) => tracing::warn!(error = format!("{e:#}"), "waiting for the cluster database"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let dcs = triad_dcs::Dcs::connect(&cluster, Some(&host.name)).await?;
    tokio::spawn(active::run(dcs.clone(), host.name.clone(), cluster.file().timings.designer_lease_ttl.get(), status.clone()));
    let app = web::router(web::App { cluster: cluster.clone(), me: host.name.clone(), dsn, status, dcs: Some(dcs) });
    tracing::info!(%addr, "listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
}
