//! `triadctl haproxy-config --role external|internal [--host NAME] FILE`

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use triad_config::Cluster;
use triad_ctl::haproxy::{Which, render};

#[derive(Args)]
pub struct HaproxyArgs {
    /// external: the balancer host's config; internal: an app host's database routing.
    #[arg(long, value_enum)]
    role: Which,
    /// The host to render for (required for internal; for external when several balancers).
    #[arg(long)]
    host: Option<String>,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The cluster file.
    file: PathBuf,
}

pub fn run(a: HaproxyArgs) -> anyhow::Result<ExitCode> {
    let cluster = match Cluster::load(&a.file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let text = match render(&cluster, a.role, a.host.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("triadctl haproxy-config: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    match a.output {
        None => print!("{text}"),
        Some(path) => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &text)?;
            std::fs::rename(&tmp, &path)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
