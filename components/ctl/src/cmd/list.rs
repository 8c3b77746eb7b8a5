//! `triadctl list`: the database cluster as the keepers report it, in `patronictl list`'s
//! table (Cluster, Member, Host, Role, State, TL, Lag in MB), read from the coordinator.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use triad_config::Cluster;
use triad_dcs::Dcs;
use triad_keeper::client::{read_state, render};

#[derive(Args)]
pub struct ListArgs {
    /// The cluster file.
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    pub config: PathBuf,
}

pub async fn connect(config: &PathBuf) -> anyhow::Result<(Cluster, Dcs)> {
    let cluster = Cluster::load(config)?;
    let dcs = Dcs::connect(&cluster, None).await.context("connecting to the coordinator")?;
    Ok((cluster, dcs))
}

pub fn run(a: ListArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let state = rt.block_on(async {
        let (cluster, dcs) = connect(&a.config).await?;
        read_state(&dcs, &cluster.file().cluster.name).await
    })?;
    print!("{}", render(&state));
    Ok(ExitCode::SUCCESS)
}
