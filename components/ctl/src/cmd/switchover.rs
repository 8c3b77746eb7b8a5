//! `triadctl switchover [--candidate HOST]` and `triadctl failover --candidate HOST`: ask the
//! keepers to move the database primary (see `triad_keeper::client::request_leader`) and wait
//! for the outcome.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use triad_keeper::client::{render, request_leader};

use super::list::connect;

#[derive(Args)]
pub struct SwitchoverArgs {
    /// The cluster file.
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    pub config: PathBuf,
    /// The member to become primary (default: the synchronous standby).
    #[arg(long)]
    pub candidate: Option<String>,
    /// Do not ask for confirmation (accepted for patronictl's sake; triadctl never asks).
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for the new primary.
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
}

pub fn run(a: SwitchoverArgs, failover: bool) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let (cluster, dcs) = connect(&a.config).await?;
        let state = request_leader(&dcs, &cluster.file().cluster.name, a.candidate.as_deref(), failover, Duration::from_secs(a.wait)).await?;
        print!("{}", render(&state));
        Ok(ExitCode::SUCCESS)
    })
}
