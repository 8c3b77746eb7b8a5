//! `triad-keeper --config FILE --host NAME [--state-dir DIR]`: see docs/keeper.md.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use triad_config::Cluster;
use triad_keeper::{api, fence, ha, pg::Postgres};

#[derive(Parser)]
#[command(about = "PostgreSQL high availability for a Triad app host (Patroni-like)")]
struct Args {
    /// The cluster file.
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    config: PathBuf,
    /// This host's name in the cluster file.
    #[arg(long, env = "TRIAD_HOST")]
    host: String,
    /// Overrides [cluster] state_dir.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// One JSON object per log line.
    #[arg(long)]
    log_json: bool,
    /// `fence`: kill PostgreSQL when the keeper's lease deadline passes without renewal (its
    /// own service beside PostgreSQL, so a frozen or dead keeper cannot leave a writable
    /// primary). Without it: the keeper.
    #[arg(value_enum)]
    command: Option<Command>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Command {
    Fence,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if args.log_json {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    } else {
        use std::io::IsTerminal;
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr).init();
    }
    let cluster = match Cluster::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(Command::Fence) = args.command {
        let fenced = (|| {
            let host = cluster.host(&args.host).context("--host")?.clone();
            let state_dir = args.state_dir.clone().unwrap_or_else(|| cluster.file().cluster.state_dir.clone());
            let pg = Postgres::new(&cluster, &host.name, &state_dir)?;
            fence::run(&pg, &state_dir)
        })();
        if let Err(e) = fenced {
            tracing::error!("{e:#}");
            return std::process::ExitCode::FAILURE;
        }
        return std::process::ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cluster, args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cluster: Cluster, args: Args) -> anyhow::Result<()> {
    let host = cluster.host(&args.host).context("--host")?.clone();
    anyhow::ensure!(host.has(triad_config::Role::App), "host {} has no `app` role: no keeper runs there", host.name);
    let state_dir = args.state_dir.unwrap_or_else(|| cluster.file().cluster.state_dir.clone());
    let pg = Postgres::new(&cluster, &host.name, &state_dir)?;
    let dcs = triad_dcs::Dcs::connect(&cluster, Some(&host.name)).await?;
    let shared = Arc::new(ha::Shared::new(fence::path(&state_dir)));
    let addr = cluster.addr(&host, cluster.file().ports.keeper_api);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding the REST API on {addr}"))?;
    tracing::info!(%addr, "REST API listening");
    let app = api::router(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // A keeper that crashes leaves PostgreSQL running (KillMode=process) and the restarted
    // keeper adopts it; a keeper that is stopped stops PostgreSQL and hands over.
    ha::Keeper::new(cluster, &host.name, dcs, pg, shared).run(shutdown()).await
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
}
