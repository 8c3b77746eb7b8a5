//! `triad-designer --config FILE --host NAME`: the Design Center on `ports.designer`; active
//! while it holds the designer key in the coordinator (docs/designer.md). Start-up, logging,
//! signals and the listener's supervision are triad-daemon's.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use triad_config::Cluster;
use triad_daemon::{DaemonArgs, Servers};
use triad_designer::{active, db, web};

#[derive(Parser)]
#[command(name = "triad-designer", version, about = "The Triad Design Center")]
struct Args {
    #[command(flatten)]
    daemon: DaemonArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    triad_daemon::main("triad-designer", triad_daemon::Role::App, &args.daemon, |cluster| run(cluster, args.daemon.host.clone()))
}

async fn run(cluster: Cluster, host: String) -> anyhow::Result<()> {
    let host = cluster.host(&host).context("--host")?.clone();
    let db = triad_changelog::db::config(&cluster, &host.name, "triad-designer")?;
    let status = Arc::new(active::Status::default());
    let addr = cluster.addr(&host, cluster.file().ports.designer);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;

    // The schema first (retrying: the database may still be electing its primary), then the
    // race for the designer key: an instance never serves an old schema.
    loop {
        match db::connect(&db).await {
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
    let pool = db::pool(db);
    let app = web::router(web::App { cluster: cluster.clone(), me: host.name.clone(), db: pool, status, dcs: Some(dcs) });
    tracing::info!(%addr, "listening");
    let mut servers = Servers::default();
    servers.spawn(format!("Design Center on {addr}"), async move { axum::serve(listener, app).await });
    Err(servers.failed().await)
}
