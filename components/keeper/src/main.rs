//! `triad-keeper --config FILE --host NAME [--state-dir DIR] [fence]`: see docs/keeper.md.
//! Start-up, logging, signals and the REST listener's supervision are triad-daemon's.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use triad_config::Cluster;
use triad_daemon::{DaemonArgs, Role, Servers};
use triad_keeper::{api, fence, ha, pg::Postgres};

#[derive(Parser)]
#[command(name = "triad-keeper", version, about = "PostgreSQL high availability for a Triad app host (Patroni-like)")]
struct Args {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Overrides [cluster] state_dir.
    #[arg(long)]
    state_dir: Option<PathBuf>,
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
    let host = args.daemon.host.clone();
    // The keeper stops itself on a signal: a keeper that is stopped stops PostgreSQL and hands
    // over (a crashed one leaves it running, KillMode=process, and the restarted one adopts it).
    triad_daemon::main_graceful("triad-keeper", Role::App, &args.daemon, move |cluster, stop| async move {
        let state_dir = args.state_dir.unwrap_or_else(|| cluster.file().cluster.state_dir.clone());
        let pg = Postgres::new(&cluster, &host, &state_dir)?;
        match args.command {
            // Blocking by design (a deadline loop that must not depend on a runtime's health);
            // SIGTERM ends it with the default action.
            Some(Command::Fence) => tokio::task::spawn_blocking(move || fence::run(&pg, &state_dir)).await?,
            None => keeper(cluster, host, state_dir, pg, stop).await,
        }
    })
}

async fn keeper(cluster: Cluster, host: String, state_dir: PathBuf, pg: Postgres, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let host = cluster.host(&host).context("--host")?.clone();
    let dcs = triad_dcs::Dcs::connect(&cluster, Some(&host.name)).await?;
    let shared = Arc::new(ha::Shared::new(fence::path(&state_dir)));
    let addr = cluster.addr(&host, cluster.file().ports.keeper_api);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding the REST API on {addr}"))?;
    tracing::info!(%addr, "REST API listening");
    let app = api::router(shared.clone());
    let mut servers = Servers::default();
    servers.spawn(format!("REST API on {addr}"), async move { axum::serve(listener, app).await });
    tokio::select! {
        r = ha::Keeper::new(cluster, &host.name, dcs, pg, shared).run(stop) => r,
        e = servers.failed() => Err(e),
    }
}
